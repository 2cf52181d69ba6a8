import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportSessionOtlp, SessionTraceBuilder, spanIdOf, traceIdOf } from '../../src/core/export/otlp';
import { endpointForRecord, OtlpLivePush, tracesUrl } from '../../src/core/export/otlp-push';
import type { Direction, JournalRecord, OtlpPushRecord } from '../../src/core/model/records';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter } from '../../src/core/store/journal';
import { tempDir } from '../helpers/env';
import { readStore } from '../helpers/journal';
import { decodeTraces, type DecodedSpan } from '../helpers/otlp';

// A deterministic session (fixed clocks): an HTTP server with a transport session id, a tool call
// with progress, a log line and a nested server→client request, and a call still open at the end.

type Stamp = 'session_id' | 'seq' | 'ts' | 'mono';
type Unstamped = JournalRecord extends infer R ? (R extends unknown ? Omit<R, Stamp> : never) : never;

function fixture(opts: { end?: boolean } = {}): JournalRecord[] {
  const records: JournalRecord[] = [];
  let seq = 0;
  let t = Date.parse('2025-03-01T10:00:00.000Z');
  let mono = 1000;
  const add = (r: Unstamped, ms = 5, monoMs = ms) => {
    t += ms;
    mono = Math.round((mono + monoMs) * 1000) / 1000;
    records.push({ ...r, session_id: 'sess-otlp', seq: ++seq, ts: new Date(t).toISOString(), mono } as JournalRecord);
  };
  const msg = (dir: Direction, message: Record<string, unknown>, ms = 5, monoMs = ms, extra: { mcp_session_id?: string } = {}) => add({ type: 'message', connection_id: 'c1', dir, size: 10, ...extra, message: { jsonrpc: '2.0', ...message } }, ms, monoMs);
  add({ type: 'session_start', recorder: { kind: 'extension', version: '9.9.9', pid: 42, hostname: 'box', user: 'ana' } }, 0);
  add({ type: 'connection_open', connection_id: 'c1', server: { name: 'remote', transport: 'http', url: 'https://api.example.com:8443/mcp', header_names: ['Authorization'] }, upstream: 'http' });
  msg('client_to_server', { id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'agent', version: '2.1' } } });
  msg('server_to_client', { id: 0, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 'remote-srv', version: '3.0' } } }, 20, 20, { mcp_session_id: 'mcp-sess-7' });
  // The tool call: 0.25 s on the monotonic clock, 1 ms more on the wall clock (a clock step).
  msg('client_to_server', { id: 1, method: 'tools/call', params: { name: 'build', arguments: { target: 'all' }, _meta: { progressToken: 'p1' } } }, 5, 5, { mcp_session_id: 'mcp-sess-7' });
  msg('server_to_client', { method: 'notifications/progress', params: { progressToken: 'p1', progress: 1, total: 2, message: 'compiling secret-project' } }, 50, 50);
  msg('server_to_client', { method: 'notifications/message', params: { level: 'info', logger: 'build', data: { file: 'a.c' } } }, 10, 10);
  msg('server_to_client', { id: 'r1', method: 'roots/list' }, 10, 10);
  msg('client_to_server', { id: 'r1', result: { roots: [] } }, 5, 5);
  msg('server_to_client', { id: 1, result: { content: [{ type: 'text', text: 'built' }] } }, 176, 175.123);
  msg('client_to_server', { id: 2, method: 'tools/call', params: { name: 'deploy', arguments: {} } });
  if (opts.end !== false) add({ type: 'session_end', reason: 'shutdown' }, 100);
  return records;
}

function spansOf(records: JournalRecord[], includePayloads = false, writerAlive = false): { text: string; spans: DecodedSpan[] } {
  let text = '';
  exportSessionOtlp(records.map((record) => ({ record })), (c) => (text += c), { includePayloads, writerAlive });
  return { text, spans: decodeTraces(text.split('\n').filter(Boolean)) };
}

function byName(spans: DecodedSpan[], name: string): DecodedSpan {
  const s = spans.filter((x) => x.name === name);
  assert.equal(s.length, 1, name);
  return s[0]!;
}

describe('OTLP spans from a recorded session', () => {
  it('ids are derived from the session and call ids: fixed, distinct, valid', () => {
    assert.equal(traceIdOf('sess-otlp'), traceIdOf('sess-otlp'));
    assert.match(traceIdOf('sess-otlp'), /^[0-9a-f]{32}$/);
    assert.notEqual(traceIdOf('sess-otlp'), traceIdOf('sess-other'));
    const ids = new Set([spanIdOf('s'), spanIdOf('s', 'c1:3'), spanIdOf('s', 'c1:4'), spanIdOf('t', 'c1:3')]);
    assert.equal(ids.size, 4);
    for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
  });

  it('an HTTP server: network, server address, MCP session id and protocol version', () => {
    const { spans } = spansOf(fixture());
    const build = byName(spans, 'tools/call build');
    assert.equal(build.attributes['network.transport'], 'tcp');
    assert.equal(build.attributes['network.protocol.name'], 'http');
    assert.equal(build.attributes['server.address'], 'api.example.com');
    assert.equal(build.attributes['server.port'], 8443);
    assert.equal(build.attributes['mcp.session.id'], 'mcp-sess-7');
    assert.equal(build.attributes['mcp.protocol.version'], '2025-06-18');
    assert.equal(build.attributes['mcp_flight.server.reported_name'], 'remote-srv');
    assert.equal(build.attributes['mcp_flight.server.version'], '3.0');
    assert.equal(build.attributes['mcp_flight.agent.id'], 'agent/2.1');
    assert.deepEqual(build.resource, { 'service.name': 'mcp-flight', 'service.version': '9.9.9', 'host.name': 'box', 'user.name': 'ana', 'mcp_flight.recorder.kind': 'extension' });
  });

  it('times: wall-clock start, monotonic duration to the microsecond', () => {
    const { spans } = spansOf(fixture());
    const build = byName(spans, 'tools/call build');
    const start = BigInt(Date.parse('2025-03-01T10:00:00.035Z')) * 1_000_000n;
    assert.equal(build.start, start);
    assert.equal(build.end - build.start, 250_123_000n);
  });

  it('progress and logging are span events; their texts and data only with the opt-in', () => {
    const plain = byName(spansOf(fixture()).spans, 'tools/call build');
    assert.deepEqual(
      plain.events.map((e) => [e.name, e.attributes]),
      [
        ['notifications/progress', { progress: 1, total: 2 }],
        ['notifications/message', { level: 'info', logger: 'build' }],
      ],
    );
    assert.equal(plain.events[0]!.time, BigInt(Date.parse('2025-03-01T10:00:00.085Z')) * 1_000_000n);
    const full = byName(spansOf(fixture(), true).spans, 'tools/call build');
    assert.equal(full.events[0]!.attributes.message, 'compiling secret-project');
    assert.equal(full.events[1]!.attributes.data, '{"file":"a.c"}');
    assert.equal(full.attributes['gen_ai.tool.call.arguments'], '{"target":"all"}');
    assert.equal(full.attributes['gen_ai.tool.call.result'], '{"content":[{"type":"text","text":"built"}]}');
  });

  it('a server→client request is a SERVER span under the call it was nested in', () => {
    const { spans } = spansOf(fixture());
    const build = byName(spans, 'tools/call build');
    const roots = byName(spans, 'roots/list');
    assert.equal(roots.kind, 2);
    assert.equal(roots.parentSpanId, build.spanId);
    assert.equal(roots.attributes['mcp_flight.call.direction'], 'server_to_client');
    assert.equal(roots.attributes['jsonrpc.request.id'], 'r1');
  });

  it('a call still open at session_end ends with the session, outcome pending, no error', () => {
    const { spans } = spansOf(fixture());
    const deploy = byName(spans, 'tools/call deploy');
    const root = byName(spans, 'mcp-flight session');
    assert.equal(deploy.attributes['mcp_flight.call.outcome'], 'pending');
    assert.equal(deploy.attributes['error.type'], undefined);
    assert.equal(deploy.status.code, 0);
    assert.equal(deploy.end, root.end);
  });

  it('a session without session_end: the root ends at the last record, in_progress or interrupted', () => {
    const open = byName(spansOf(fixture({ end: false }), false, true).spans, 'mcp-flight session');
    assert.equal(open.attributes['mcp_flight.session.state'], 'in_progress');
    assert.equal(open.status.code, 0);
    const dead = byName(spansOf(fixture({ end: false }), false, false).spans, 'mcp-flight session');
    assert.equal(dead.attributes['mcp_flight.session.state'], 'interrupted');
    assert.equal(dead.status.code, 2);
    assert.equal(dead.end, BigInt(Date.parse(fixture({ end: false }).at(-1)!.ts)) * 1_000_000n);
  });

  it('record by record (the live push) gives the very spans of the one-pass export, and re-exports are byte-identical', () => {
    const records = fixture();
    const b = new SessionTraceBuilder();
    const live = records.flatMap((r) => b.add(r));
    const a = spansOf(records);
    assert.equal(spansOf(records).text, a.text);
    assert.deepEqual(live.map((s) => s.spanContext().spanId).sort(), a.spans.map((s) => s.spanId).sort());
    // Spans leave as their calls finish: initialize first, the root last.
    assert.equal(live[0]!.name, 'initialize');
    assert.equal(live.at(-1)!.name, 'mcp-flight session');
  });
});

describe('OTLP golden file', () => {
  // The fixture's trace with payloads, pretty-printed (test/golden/session.otlp.json): any change
  // to names, ids, attributes or encoding shows up as a diff. UPDATE_GOLDEN=1 accepts a change.
  it('the export of the fixture session matches test/golden/session.otlp.json', () => {
    const { text } = spansOf(fixture(), true);
    const lines = text.split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    const actual = JSON.stringify(JSON.parse(lines[0]!), null, 1) + '\n';
    const file = path.join(__dirname, '..', 'golden', 'session.otlp.json');
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, actual);
    assert.ok(fs.existsSync(file), `${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
    assert.equal(actual, fs.readFileSync(file, 'utf8'));
  });
});

describe('OTLP live push: queue, outage, recovery', () => {
  let server: http.Server;
  let url: string;
  let failNext = 0;
  const bodies: string[] = [];
  const saved = process.env.OTEL_EXPORTER_OTLP_TIMEOUT;

  before(async () => {
    // The exporter's own retries give up at once; the push's backoff is what is under test.
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '200';
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end();
          return;
        }
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
    else process.env.OTEL_EXPORTER_OTLP_TIMEOUT = saved;
    await new Promise((r) => server.close(r));
  });

  function session(store: string): { recorder: Recorder; journal: JournalWriter; call: (id: number) => void } {
    const journal = JournalWriter.open(store);
    const recorder = new Recorder({ kind: 'test', journal });
    const conn = recorder.openConnection({ name: 'srv', transport: 'stdio', command: 'srv' }, 'in_process');
    return {
      recorder,
      journal,
      call: (id) => {
        conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 't', arguments: {} } }));
        conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id, result: { content: [] } }));
      },
    };
  }

  async function until(what: string, cond: () => boolean): Promise<void> {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(cond(), `gave up waiting for ${what}`);
  }

  const pushRecords = (store: string) => readStore(store).records.filter((r): r is OtlpPushRecord => r.type === 'otlp_push');

  it('an outage is journaled, the spans wait, and go out when the collector is back', async () => {
    const store = tempDir();
    bodies.length = 0;
    failNext = 2;
    const s = session(store);
    const push = new OtlpLivePush({ endpoint: url, flushDelayMs: 10, initialBackoffMs: 50, maxBackoffMs: 100 });
    push.attach(s.recorder);
    for (let i = 1; i <= 3; i++) s.call(i);
    await until('recovery', () => pushRecords(store).some((r) => r.status === 'recovered'));
    assert.deepEqual(
      pushRecords(store).map((r) => r.status),
      ['failing', 'recovered'],
    );
    assert.match(pushRecords(store)[0]!.error ?? '', /retryable|Unavailable|503/);
    push.beforeEnd();
    s.recorder.end('done');
    s.journal.close();
    const stats = await push.shutdown(2000);
    assert.deepEqual([stats.exported, stats.dropped, stats.queued], [4, 0, 0]);
    const spans = decodeTraces(bodies);
    assert.equal(spans.filter((x) => x.name === 'tools/call t').length, 3);
    assert.equal(spans.filter((x) => x.parentSpanId === undefined).length, 1);
    fs.rmSync(store, { recursive: true, force: true });
  });

  it('past the bounded queue the oldest spans are dropped, counted and journaled; recording goes on', async () => {
    const store = tempDir();
    bodies.length = 0;
    failNext = 1_000_000;
    const s = session(store);
    const lines: string[] = [];
    const push = new OtlpLivePush({ endpoint: url, flushDelayMs: 10, initialBackoffMs: 10_000, maxQueueSpans: 4, maxBatchSpans: 2, log: (l) => lines.push(l) });
    push.attach(s.recorder);
    s.call(1);
    await until('the first failure', () => pushRecords(store).some((r) => r.status === 'failing'));
    for (let i = 2; i <= 7; i++) s.call(i);
    await until('the drops', () => push.getStats().dropped === 3);
    // The six calls reached the push in one turn: one event for the three oldest spans.
    const dropped = pushRecords(store).filter((r) => r.status === 'dropped');
    assert.deepEqual(dropped.map((r) => [r.dropped_spans, r.total_dropped]), [[3, 3]]);
    assert.match(dropped[0]!.error ?? '', /queue full \(4 spans\)/);
    push.beforeEnd();
    const given = pushRecords(store).filter((r) => r.status === 'dropped').at(-1)!;
    assert.deepEqual([given.dropped_spans, given.total_dropped], [4, 7]);
    s.recorder.end('done');
    s.journal.close();
    const stats = await push.shutdown(500);
    assert.equal(stats.exported, 0);
    assert.equal(stats.dropped, 8, 'the root span too');
    assert.ok(lines.some((l) => /1 spans could not be delivered/.test(l)), lines.join('\n'));
    // Every call is in the journal regardless.
    assert.equal(readStore(store).records.filter((r) => r.type === 'message').length, 14);
    failNext = 0;
    fs.rmSync(store, { recursive: true, force: true });
  });

  it('endpoint URLs: a base gets /v1/traces, a full URL is kept, the journal sees no credentials', () => {
    assert.equal(tracesUrl('http://collector:4318'), 'http://collector:4318/v1/traces');
    assert.equal(tracesUrl('https://otel.example.com/custom/traces'), 'https://otel.example.com/custom/traces');
    assert.throws(() => tracesUrl('ftp://x'), /http or https/);
    assert.equal(endpointForRecord('https://user:pw@otel.example.com/v1/traces?api_key=k'), 'https://otel.example.com/v1/traces');
  });
});
