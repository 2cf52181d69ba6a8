import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { exportSessionJsonl, exportSessionJsonlToString, SESSION_JSONL_FORMAT, sessionJsonlChunks } from '../../src/core/export/jsonl';
import {
  exportSessionJson,
  exportSessionToString,
  type ExportedCall,
  type ExportedConnection,
  type ExportRecord,
  SESSION_EXPORT_FORMAT,
  sessionJsonChunks,
  stringPieces,
} from '../../src/core/export/session-json';
import type { SessionSummary } from '../../src/core/analysis/summary';
import type { Direction, JournalRecord } from '../../src/core/model/records';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';

// ---------------------------------------------------------------------------------------------
// A deterministic session, written record by record with fixed timestamps (no wall clock).

type Stamp = 'session_id' | 'seq' | 'ts' | 'mono';
type Unstamped = JournalRecord extends infer R ? (R extends unknown ? Omit<R, Stamp> : never) : never;

class SessionBuilder {
  readonly records: JournalRecord[] = [];
  private seq = 0;
  private t: number;
  private mono = 1000;

  constructor(
    readonly sessionId = 'sess-0001',
    start = '2025-03-01T10:00:00.000Z',
  ) {
    this.t = Date.parse(start);
  }

  /** Appends a record `ms` milliseconds after the previous one. */
  add(rec: Unstamped, ms = 5): JournalRecord {
    this.t += ms;
    this.mono = Math.round((this.mono + ms) * 1000) / 1000;
    const { type, ...rest } = rec;
    const record = { type, session_id: this.sessionId, seq: ++this.seq, ts: new Date(this.t).toISOString(), mono: this.mono, ...rest } as JournalRecord;
    this.records.push(record);
    return record;
  }

  msg(conn: string, dir: Direction, message: Record<string, unknown>, ms = 5, extra: { origin?: 'recorder'; mcp_session_id?: string } = {}): JournalRecord {
    const full = { jsonrpc: '2.0', ...message };
    return this.add({ type: 'message', connection_id: conn, dir, size: Buffer.byteLength(JSON.stringify(full)), ...extra, message: full }, ms);
  }

  request(conn: string, id: number | string, method: string, params?: unknown, ms = 5): JournalRecord {
    return this.msg(conn, 'client_to_server', { id, method, ...(params !== undefined ? { params } : {}) }, ms);
  }

  result(conn: string, id: number | string, result: unknown, ms = 5): JournalRecord {
    return this.msg(conn, 'server_to_client', { id, result }, ms);
  }

  error(conn: string, id: number | string, code: number, message: string, ms = 5, data?: unknown): JournalRecord {
    return this.msg(conn, 'server_to_client', { id, error: { code, message, ...(data !== undefined ? { data } : {}) } }, ms);
  }

  get items(): ExportRecord[] {
    return this.records.map((record) => ({ record }));
  }
}

const text = (t: string): { content: Array<{ type: 'text'; text: string }> } => ({ content: [{ type: 'text', text: t }] });

function deepText(id: number, depth: number): string {
  return `{"jsonrpc":"2.0","id":${id},"result":{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

/** Every behaviour the export must represent, on two connections. */
function fixtureSession(): SessionBuilder {
  const s = new SessionBuilder();
  s.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 4242, hostname: 'build-host', user: 'tester' } }, 0);
  s.add({ type: 'connection_open', connection_id: 'c1', server: { name: 'everything', transport: 'stdio', command: 'node', args: ['server.js', '--stdio'], cwd: '/srv/everything', env_names: ['API_KEY'] }, upstream: 'stdio' });
  s.add({ type: 'process_spawn', connection_id: 'c1', pid: 777 });
  s.add({ type: 'non_json', connection_id: 'c1', dir: 'server_to_client', size: 18, reason: 'not_json', forwarded: true, text: 'Server starting...' });
  s.add({ type: 'stderr', connection_id: 'c1', text: 'everything: booting' });
  // seq 6..8: the handshake.
  s.request('c1', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: { roots: { listChanged: true } }, clientInfo: { name: 'claude-code', version: '1.2.3' } });
  s.result('c1', 0, { protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'mcp-servers/everything', version: '2.0.1' }, instructions: 'Use echo to test.' }, 12);
  s.msg('c1', 'client_to_server', { method: 'notifications/initialized' });
  // seq 9..10: tools/list with annotations.
  s.request('c1', 1, 'tools/list', {});
  s.result('c1', 1, {
    tools: [
      { name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
      { name: 'divide', inputSchema: { type: 'object' } },
      { name: 'longRunning', inputSchema: { type: 'object' }, annotations: { idempotentHint: true } },
      { name: 'writeFile', inputSchema: { type: 'object' }, annotations: { destructiveHint: true } },
      { name: 'slow', inputSchema: { type: 'object' } },
      { name: 'deep', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
      { name: 'crash', inputSchema: { type: 'object' } },
    ],
  });
  // seq 11..12: success.
  s.request('c1', 2, 'tools/call', { name: 'echo', arguments: { message: 'hello' } });
  s.result('c1', 2, text('Echo: hello'), 20);
  // seq 13..14: isError result.
  s.request('c1', 3, 'tools/call', { name: 'divide', arguments: { a: 1, b: 0 } });
  s.result('c1', 3, { ...text('Division by zero'), isError: true }, 7);
  // seq 15..16: invalid params.
  s.request('c1', 4, 'tools/call', { name: 'echo', arguments: {} });
  s.error('c1', 4, -32602, 'Invalid arguments: message is required', 3);
  // seq 17..18: method not found.
  s.request('c1', 5, 'resources/list', {});
  s.error('c1', 5, -32601, 'Method not found', 2);
  // seq 19..23: progress and logging attached to a tool call.
  s.request('c1', 6, 'tools/call', { name: 'longRunning', arguments: { duration: 2, steps: 2 }, _meta: { progressToken: 'p-6' } });
  s.msg('c1', 'server_to_client', { method: 'notifications/progress', params: { progressToken: 'p-6', progress: 1, total: 2 } }, 100);
  s.msg('c1', 'server_to_client', { method: 'notifications/message', params: { level: 'info', logger: 'longRunning', data: 'step 1 done' } }, 1);
  s.msg('c1', 'server_to_client', { method: 'notifications/progress', params: { progressToken: 'p-6', progress: 2, total: 2 } }, 100);
  s.result('c1', 6, text('Long running operation completed'), 10);
  // seq 24..27: a server→client roots/list nested under a tool call.
  s.request('c1', 7, 'tools/call', { name: 'writeFile', arguments: { path: 'notes.txt', content: 'hi' } });
  s.msg('c1', 'server_to_client', { id: 0, method: 'roots/list' });
  s.msg('c1', 'client_to_server', { id: 0, result: { roots: [{ uri: 'file:///work', name: 'work' }] } }, 4);
  s.result('c1', 7, text('wrote notes.txt'), 6);
  // seq 28..30: a cancellation, then the server's late answer (journaled, not paired).
  s.request('c1', 8, 'tools/call', { name: 'slow', arguments: { delayMs: 60000 } });
  s.msg('c1', 'client_to_server', { method: 'notifications/cancelled', params: { requestId: 8, reason: 'user pressed stop' } }, 1500);
  s.result('c1', 8, text('too late'), 50);
  // seq 31..32: a response too deep to keep structured.
  s.request('c1', 9, 'tools/call', { name: 'deep', arguments: { depth: 80 } });
  const deep = deepText(9, 80);
  s.add({ type: 'opaque', connection_id: 'c1', dir: 'server_to_client', size: Buffer.byteLength(deep), reason: 'depth_limit', sha256: crypto.createHash('sha256').update(deep).digest('hex'), envelope: { kind: 'response', id: 9 }, text: deep }, 30);
  // seq 33..35: a timeout, answered by the recorder.
  s.request('c1', 10, 'tools/call', { name: 'echo', arguments: { message: 'anyone there?' } });
  s.add({ type: 'timeout', connection_id: 'c1', request_id: 10, after_ms: 30000 }, 30000);
  s.msg('c1', 'server_to_client', { id: 10, error: { code: -32001, message: 'Request timed out after 30000 ms' } }, 0, { origin: 'recorder' });
  // seq 36..40: a crash, answered by the recorder.
  s.request('c1', 11, 'tools/call', { name: 'crash', arguments: {} });
  s.add({ type: 'stderr', connection_id: 'c1', text: 'fatal: out of memory' }, 15);
  s.add({ type: 'process_exit', connection_id: 'c1', code: 3, signal: null }, 5);
  s.msg('c1', 'server_to_client', { id: 11, error: { code: -32000, message: 'Connection closed: server process exited with code 3' } }, 0, { origin: 'recorder' });
  s.add({ type: 'connection_close', connection_id: 'c1', reason: 'server exited' }, 1);
  // seq 41..: a second, HTTP connection: mcp session id, auth failure, transport error.
  s.add({ type: 'connection_open', connection_id: 'c2', server: { name: 'remote', transport: 'http', url: 'https://mcp.example.com/mcp', header_names: ['Authorization'] }, upstream: 'http' });
  s.request('c2', 1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cursor', version: '0.50' } });
  s.add({ type: 'http_exchange', connection_id: 'c2', method: 'POST', path: '/mcp', status: 200, content_type: 'application/json' }, 40);
  s.msg('c2', 'server_to_client', { id: 1, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'remote', version: '1.4.0' } } }, 0, { mcp_session_id: 'mcp-abc' });
  s.request('c2', 2, 'tools/call', { name: 'search', arguments: { q: 'flight' } });
  s.add({ type: 'http_exchange', connection_id: 'c2', method: 'POST', path: '/mcp', status: 401, www_authenticate: 'Bearer realm="mcp"' }, 25);
  s.msg('c2', 'server_to_client', { id: 2, error: { code: -32000, message: 'Unauthorized', data: { http_status: 401 } } }, 0, { origin: 'recorder' });
  s.add({ type: 'transport_error', connection_id: 'c2', side: 'downstream', message: 'socket hang up' }, 10);
  s.request('c2', 3, 'tools/call', { name: 'search', arguments: { q: 'recorder' } });
  s.add({ type: 'gate_decision', connection_id: 'c2', request_id: 3, decision: 'allow', held_ms: 2 }, 2);
  s.result('c2', 3, text('3 results'), 80);
  s.add({ type: 'connection_close', connection_id: 'c2', reason: 'client closed' }, 5);
  s.add({ type: 'session_end', reason: 'shutdown' }, 2);
  return s;
}

// ---------------------------------------------------------------------------------------------

const GOLDEN_DIR = path.join(__dirname, '..', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE || !fs.existsSync(file)) {
    if (!UPDATE) assert.fail(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  const expected = fs.readFileSync(file, 'utf8');
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const i = a.findIndex((line, n) => line !== e[n]);
    assert.fail(`${name} differs from the golden file at line ${i + 1} (run with UPDATE_GOLDEN=1 to accept):\n  expected: ${(e[i] ?? '<end of file>').slice(0, 300)}\n  actual:   ${(a[i] ?? '<end of file>').slice(0, 300)}`);
  }
}

type Doc = { format: string; session: SessionSummary; connections: ExportedConnection[]; calls: ExportedCall[]; events: Array<Record<string, unknown>> };

function exportBoth(items: ExportRecord[], opts = {}): { json: string; jsonl: string; doc: Doc; lines: Array<Record<string, unknown>> } {
  const json = exportSessionToString(items, opts);
  const jsonl = exportSessionJsonlToString(items, opts);
  return { json, jsonl, doc: assertValidJsonExport(json) as unknown as Doc, lines: assertValidJsonlExport(jsonl) };
}

function byId(doc: Doc): Map<string, ExportedCall> {
  return new Map(doc.calls.map((c) => [c.call_id, c]));
}

function call(doc: Doc, id: string): ExportedCall {
  const c = byId(doc).get(id);
  assert.ok(c, `call ${id} is exported`);
  return c;
}

describe('session export: golden files', () => {
  const s = fixtureSession();
  const { json, jsonl } = exportBoth(s.items);

  it('JSON export matches test/golden/session.json byte for byte', () => {
    golden('session.json', json);
  });

  it('JSONL export matches test/golden/session.jsonl byte for byte', () => {
    golden('session.jsonl', jsonl);
  });

  it('the golden files themselves validate against the schema', () => {
    assertValidJsonExport(fs.readFileSync(path.join(GOLDEN_DIR, 'session.json'), 'utf8'));
    assertValidJsonlExport(fs.readFileSync(path.join(GOLDEN_DIR, 'session.jsonl'), 'utf8'));
  });
});

describe('session export: the schema has teeth', () => {
  const s = fixtureSession();
  const json = exportSessionToString(s.items);
  const jsonl = exportSessionJsonlToString(s.items);
  const mutated = (f: (d: Doc) => void): Doc => {
    const d = JSON.parse(json) as Doc;
    f(d);
    return d;
  };

  it('rejects documents that break the format', () => {
    const bad: Array<[string, (d: Doc) => void]> = [
      ['wrong format', (d) => void (d.format = 'mcp-flight.session/v2')],
      ['a call without outcome', (d) => void delete (d.calls[0] as Partial<ExportedCall>).outcome],
      ['a call with an unknown field', (d) => void ((d.calls[0] as unknown as Record<string, unknown>).extra = 1)],
      ['an unknown error class', (d) => void (d.calls[3]!.error!.error_class = 'oops' as never)],
      ['a failed call without error', (d) => void (d.calls[3]!.error = null)],
      ['a successful call with an error', (d) => void (d.calls[0]!.error = d.calls[3]!.error)],
      ['a non-ISO timestamp', (d) => void (d.calls[0]!.timestamp = 'yesterday')],
      ['an unknown terminal state', (d) => void ((d.session as unknown as Record<string, unknown>).terminal_state = 'fine')],
      ['a missing session count', (d) => void delete (d.session as Partial<SessionSummary>).tool_calls],
      ['an event of an unknown type', (d) => void (d.events[0]!.type = 'mystery')],
      ['a message event without dir', (d) => void delete d.events[5]!.dir],
      ['an event with a field of another type', (d) => void (d.events[4]!.message = {})],
      ['a connection without server version key', (d) => void delete (d.connections[0]!.server as Partial<ExportedConnection['server']>).version],
    ];
    for (const [what, f] of bad) assert.throws(() => assertValidJsonExport(JSON.stringify(mutated(f))), /does not match/, what);
  });

  it('rejects JSONL lines that break the format', () => {
    const lines = jsonl.trimEnd().split('\n');
    const swap = (i: number, f: (l: Record<string, unknown>) => void): string => {
      const copy = [...lines];
      const l = JSON.parse(copy[i]!) as Record<string, unknown>;
      f(l);
      copy[i] = JSON.stringify(l);
      return `${copy.join('\n')}\n`;
    };
    assert.throws(() => assertValidJsonlExport(swap(1, (l) => void (l.kind = 'record'))), /does not match/);
    assert.throws(() => assertValidJsonlExport(swap(0, (l) => void (l.format = 'mcp-flight.session/v1'))), /does not match/);
    assert.throws(() => assertValidJsonlExport(swap(lines.length - 1, (l) => void delete l.kind)), /does not match/);
    assert.throws(() => assertValidJsonlExport(swap(8, (l) => void (l.kind = 'event'))), /does not match/, 'a call line is not an event');
    assert.throws(() => assertValidJsonlExport(`${lines.slice(0, -1).join('\n')}\n`), /summary/);
    assert.throws(() => assertValidJsonlExport(`${[lines[0], lines[lines.length - 1], ...lines.slice(1, -1)].join('\n')}\n`), /after a later section/);
  });
});

describe('session export: JSON content', () => {
  const s = fixtureSession();
  const { doc } = exportBoth(s.items);

  it('has the format, the session summary and every part', () => {
    assert.equal(doc.format, SESSION_EXPORT_FORMAT);
    assert.equal(doc.format, 'mcp-flight.session/v1');
    assert.deepEqual(Object.keys(doc), ['format', 'session', 'connections', 'calls', 'alerts', 'events']);
    const ss = doc.session;
    assert.equal(ss.session_id, 'sess-0001');
    assert.equal(ss.started_at, '2025-03-01T10:00:00.000Z');
    assert.equal(ss.ended_at, s.records[s.records.length - 1]!.ts);
    assert.equal(ss.end_reason, 'shutdown');
    assert.equal(ss.duration_ms, Date.parse(ss.ended_at!) - Date.parse(ss.started_at!));
    assert.equal(ss.terminal_state, 'partial_success');
    assert.deepEqual(
      { tool_calls: ss.tool_calls, successful_calls: ss.successful_calls, failed_calls: ss.failed_calls, cancelled_calls: ss.cancelled_calls, pending_calls: ss.pending_calls, other_requests: ss.other_requests },
      { tool_calls: 11, successful_calls: 5, failed_calls: 5, cancelled_calls: 1, pending_calls: 0, other_requests: 5 },
    );
    assert.deepEqual(ss.errors_by_class, { invalid_params: 1, method_not_found: 1, tool_error: 1, auth_expired: 1, timeout: 1, cancelled: 1, server_crash: 1 });
    assert.deepEqual(ss.servers, [
      { name: 'everything', version: '2.0.1', connections: 1, calls: 9, failures: 4 },
      { name: 'remote', version: '1.4.0', connections: 1, calls: 2, failures: 1 },
    ]);
    assert.deepEqual(ss.agents.map((a) => a.agent_id), ['claude-code/1.2.3', 'cursor/0.50']);
    assert.deepEqual(ss.events, { stderr_lines: 2, non_json_frames: 1, opaque_frames: 1, transport_errors: 1, timeouts: 1, abnormal_exits: 1, spawn_errors: 0 });
    assert.deepEqual(ss.recorder, { kind: 'test', version: '0.1.0', pid: 4242, hostname: 'build-host', user: 'tester' });
  });

  it('pairs every request with its response, with the right outcome and error', () => {
    const expected: Array<[string, string, string, string | null, number | string | null, number | null]> = [
      // call_id, tool, outcome, error_class, error_code, response_seq
      ['c1:6', 'initialize', 'success', null, null, 7],
      ['c1:9', 'tools/list', 'success', null, null, 10],
      ['c1:11', 'echo', 'success', null, null, 12],
      ['c1:13', 'divide', 'error', 'tool_error', 'TOOL_ERROR', 14],
      ['c1:15', 'echo', 'error', 'invalid_params', -32602, 16],
      ['c1:17', 'resources/list', 'error', 'method_not_found', -32601, 18],
      ['c1:19', 'longRunning', 'success', null, null, 23],
      ['c1:24', 'writeFile', 'success', null, null, 27],
      ['c1:25', 'roots/list', 'success', null, null, 26],
      ['c1:28', 'slow', 'cancelled', 'cancelled', 'CANCELLED', null],
      ['c1:31', 'deep', 'success', null, null, 32],
      ['c1:33', 'echo', 'timeout', 'timeout', -32001, 35],
      ['c1:36', 'crash', 'error', 'server_crash', -32000, 39],
      ['c2:42', 'initialize', 'success', null, null, 44],
      ['c2:45', 'search', 'error', 'auth_expired', 401, 47],
      ['c2:49', 'search', 'success', null, null, 51],
    ];
    assert.deepEqual(
      doc.calls.map((c) => [c.call_id, c.tool, c.outcome, c.error?.error_class ?? null, c.error?.error_code ?? null, c.response_seq]),
      expected,
    );
    for (const c of doc.calls) {
      assert.equal(c.call_id, `${c.connection_id}:${c.request_seq}`);
      assert.equal(c.session_id, 'sess-0001');
      if (c.outcome !== 'pending') assert.ok(c.ended_at && c.duration_ms !== null && c.duration_ms >= 0, `${c.call_id} has an end and a duration`);
    }
  });

  it('carries the operator-facing fields of a tool call', () => {
    const c = call(doc, 'c1:11');
    assert.equal(c.method, 'tools/call');
    assert.equal(c.direction, 'client_to_server');
    assert.deepEqual(c.server, { name: 'everything', version: '2.0.1' });
    assert.equal(c.agent_id, 'claude-code/1.2.3');
    assert.equal(c.request_id, 2);
    assert.equal(c.timestamp, '2025-03-01T10:00:00.057Z');
    assert.equal(c.duration_ms, 20);
    assert.deepEqual(c.input, { message: 'hello' });
    assert.equal(c.input_summary, '{"message":"hello"}');
    assert.deepEqual(c.output, text('Echo: hello'));
    assert.equal(c.output_summary, JSON.stringify(text('Echo: hello')));
    assert.equal(c.error, null);
    assert.equal(c.answered_by_recorder, false);
    assert.deepEqual(c.opaque, []);
  });

  it('classifies failures with recovery hints', () => {
    assert.deepEqual(call(doc, 'c1:13').error, { error_class: 'tool_error', error_code: 'TOOL_ERROR', message: 'Division by zero', recoverable: true, recovery_action: 'manual', retry_safe: false });
    assert.deepEqual(call(doc, 'c1:15').error, { error_class: 'invalid_params', error_code: -32602, message: 'Invalid arguments: message is required', recoverable: true, recovery_action: 'fix_arguments', retry_safe: false });
    assert.deepEqual(call(doc, 'c1:17').error, { error_class: 'method_not_found', error_code: -32601, message: 'Method not found', recoverable: false, recovery_action: 'manual', retry_safe: false });
    // echo is read-only by its annotations: retrying the timed-out call is safe.
    assert.deepEqual(call(doc, 'c1:33').error, { error_class: 'timeout', error_code: -32001, message: 'Request timed out after 30000 ms', recoverable: true, recovery_action: 'retry_with_backoff', retry_safe: true });
    assert.deepEqual(call(doc, 'c1:36').error, { error_class: 'server_crash', error_code: -32000, message: 'Connection closed: server process exited with code 3', recoverable: true, recovery_action: 'restart_server', retry_safe: false });
    // A 401 refuses the call before the tool runs: once re-authenticated, repeating it is safe.
    assert.deepEqual(call(doc, 'c2:45').error, { error_class: 'auth_expired', error_code: 401, message: 'Unauthorized', recoverable: true, recovery_action: 'reauth', retry_safe: true });
  });

  it('attaches progress and logging to the call they belong to, and nowhere else', () => {
    const c = call(doc, 'c1:19');
    assert.deepEqual(c.progress, [
      { seq: 20, ts: '2025-03-01T10:00:00.209Z', method: 'notifications/progress', params: { progressToken: 'p-6', progress: 1, total: 2 } },
      { seq: 22, ts: '2025-03-01T10:00:00.310Z', method: 'notifications/progress', params: { progressToken: 'p-6', progress: 2, total: 2 } },
    ]);
    assert.deepEqual(c.logs, [{ seq: 21, ts: '2025-03-01T10:00:00.210Z', method: 'notifications/message', params: { level: 'info', logger: 'longRunning', data: 'step 1 done' } }]);
    // _meta (with the progress token) is not part of a tool call's input.
    assert.deepEqual(c.input, { duration: 2, steps: 2 });
    for (const other of doc.calls) if (other.call_id !== 'c1:19') assert.deepEqual([other.progress.length, other.logs.length], [0, 0], other.call_id);
  });

  it('nests a server→client request under the tool call that was open', () => {
    const parent = call(doc, 'c1:24');
    const child = call(doc, 'c1:25');
    assert.deepEqual(parent.nested_call_ids, ['c1:25']);
    assert.equal(child.parent_call_id, 'c1:24');
    assert.equal(child.direction, 'server_to_client');
    assert.equal(child.method, 'roots/list');
    assert.deepEqual(child.output, { roots: [{ uri: 'file:///work', name: 'work' }] });
    assert.equal(parent.parent_call_id, null);
  });

  it('records a cancellation and leaves the late answer unpaired', () => {
    const c = call(doc, 'c1:28');
    assert.equal(c.outcome, 'cancelled');
    assert.deepEqual(c.cancelled, { seq: 29, ts: '2025-03-01T10:00:01.845Z', method: 'notifications/cancelled', params: { requestId: 8, reason: 'user pressed stop' } });
    assert.equal(c.duration_ms, 1500);
    assert.equal(c.response_seq, null);
    assert.equal(c.output, null);
    assert.ok(doc.calls.every((x) => x.response_seq !== 30), 'the late response (seq 30) pairs with nothing');
  });

  it('marks recorder-answered calls (timeout, crash, HTTP auth)', () => {
    assert.deepEqual(doc.calls.filter((c) => c.answered_by_recorder).map((c) => c.call_id), ['c1:33', 'c1:36', 'c2:45']);
    assert.equal(call(doc, 'c1:33').duration_ms, 30000);
  });

  it('keeps an opaque response as an event, with only a summary on the call', () => {
    const c = call(doc, 'c1:31');
    assert.deepEqual(c.opaque, ['response']);
    assert.equal(c.output, null);
    assert.equal(c.output_summary, '[opaque: too large or too deep to keep structured]');
    const ev = doc.events.find((e) => e.seq === 32)!;
    assert.equal(ev.type, 'opaque');
    assert.equal(ev.reason, 'depth_limit');
    assert.equal(ev.text, deepText(9, 80));
  });

  it('describes each connection: server identity, launch, agent, process, counters', () => {
    assert.equal(doc.connections.length, 2);
    const [c1, c2] = doc.connections as [ExportedConnection, ExportedConnection];
    assert.deepEqual(c1.server, {
      name: 'everything', version: '2.0.1', title: null, protocol_version: '2025-06-18', capabilities: { tools: {}, logging: {} }, instructions: 'Use echo to test.',
      transport: 'stdio', command: 'node', args: ['server.js', '--stdio'], cwd: '/srv/everything', url: null, env_names: ['API_KEY'], header_names: null,
    });
    assert.equal(c1.agent_id, 'claude-code/1.2.3');
    assert.deepEqual(c1.agent, { name: 'claude-code', version: '1.2.3', title: null, protocol_version: '2025-06-18', capabilities: { roots: { listChanged: true } } });
    assert.deepEqual(c1.process, { pid: 777, exit_code: 3, signal: null, spawn_error: null });
    assert.deepEqual([c1.stderr_lines, c1.non_json_frames, c1.opaque_frames, c1.transport_errors], [2, 1, 1, 0]);
    assert.deepEqual([c1.opened_at, c1.closed_at, c1.close_reason], ['2025-03-01T10:00:00.005Z', '2025-03-01T10:00:31.961Z', 'server exited']);
    assert.deepEqual(c1.tools?.find((t) => t.name === 'echo'), { name: 'echo', annotations: { readOnlyHint: true } });
    assert.deepEqual(c1.tools?.find((t) => t.name === 'divide'), { name: 'divide', annotations: null });
    assert.equal(c2.upstream, 'http');
    assert.equal(c2.server.url, 'https://mcp.example.com/mcp');
    assert.deepEqual(c2.server.header_names, ['Authorization']);
    assert.equal(c2.mcp_session_id, 'mcp-abc');
    assert.equal(c2.transport_errors, 1);
    assert.equal(c2.process, null);
  });

  it('includes every journal record as an event, in order, unchanged', () => {
    assert.equal(doc.events.length, s.records.length);
    doc.events.forEach((e, i) => {
      assert.deepEqual(e, s.records[i], `event ${i + 1}`);
      assert.deepEqual(Object.keys(e).slice(0, 3), ['type', 'session_id', 'seq']);
    });
    const nonJson = doc.events.find((e) => e.type === 'non_json')!;
    assert.equal(nonJson.text, 'Server starting...');
    assert.deepEqual(doc.events.filter((e) => e.type === 'stderr').map((e) => e.text), ['everything: booting', 'fatal: out of memory']);
  });

  it('writes canonical key order even for records written in another order', () => {
    const rec = { type: 'stderr', text: 'x', connection_id: 'c1', session_id: 's', seq: 3, ts: '2025-03-01T10:00:00.000Z', mono: 1 } as unknown as JournalRecord;
    const start = { type: 'session_start', session_id: 's', seq: 1, ts: '2025-03-01T10:00:00.000Z', mono: 0, recorder: { kind: 'test', version: '0', pid: 1, hostname: 'h', user: 'u' } } as JournalRecord;
    const d = JSON.parse(exportSessionToString([{ record: start }, { record: rec }])) as Doc;
    assert.equal(JSON.stringify(d.events[1]), '{"type":"stderr","session_id":"s","seq":3,"ts":"2025-03-01T10:00:00.000Z","mono":1,"connection_id":"c1","text":"x"}');
  });
});

describe('session export: JSONL content', () => {
  const s = fixtureSession();
  const { doc, lines } = exportBoth(s.items);
  const strip = (l: Record<string, unknown>): Record<string, unknown> => {
    const { kind: _kind, ...rest } = l;
    return rest;
  };

  it('has one session line, an event per record, a call per call, a line per connection and a summary', () => {
    const count = (k: string): number => lines.filter((l) => l.kind === k).length;
    assert.deepEqual([count('session'), count('event'), count('call'), count('connection'), count('summary')], [1, s.records.length, 16, 2, 1]);
    assert.deepEqual(lines[0], {
      kind: 'session', format: SESSION_JSONL_FORMAT, session_id: 'sess-0001', started_at: '2025-03-01T10:00:00.000Z',
      recorder: { kind: 'test', version: '0.1.0', pid: 4242, hostname: 'build-host', user: 'tester' }, replay_of: null,
    });
  });

  it('carries the same calls, connections, summary and events as the JSON export', () => {
    const calls = lines.filter((l) => l.kind === 'call').map(strip);
    assert.deepEqual(
      [...calls].sort((a, b) => (a.request_seq as number) - (b.request_seq as number)),
      doc.calls,
    );
    assert.deepEqual(lines.filter((l) => l.kind === 'connection').map(strip), doc.connections);
    assert.deepEqual(strip(lines[lines.length - 1]!), doc.session);
    assert.deepEqual(lines.filter((l) => l.kind === 'event').map(strip), doc.events);
  });

  it('writes each call right after the event that completed it', () => {
    lines.forEach((l, i) => {
      if (l.kind !== 'call') return;
      const c = l as unknown as ExportedCall;
      const completedBy = c.response_seq ?? c.cancelled?.seq;
      let j = i - 1;
      while (lines[j]?.kind === 'call') j--;
      assert.equal(lines[j]?.seq, completedBy, `${c.call_id} follows the event seq ${completedBy}`);
    });
  });

  it('writes pending calls at the end, before the connections', () => {
    const b = new SessionBuilder('sess-pending');
    b.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } }, 0);
    b.add({ type: 'connection_open', connection_id: 'c1', server: { name: 'hang', transport: 'stdio', command: 'node' }, upstream: 'stdio' });
    b.request('c1', 1, 'tools/call', { name: 'hang', arguments: {} });
    b.request('c1', 2, 'tools/call', { name: 'echo', arguments: { message: 'x' } });
    b.result('c1', 2, text('x'));
    const { lines: l, doc: d } = exportBoth(b.items, { writerAlive: true });
    assert.deepEqual(l.map((x) => `${x.kind as string}${x.kind === 'call' ? `:${x.call_id as string}:${x.outcome as string}` : ''}`), [
      'session', 'event', 'event', 'event', 'event', 'event', 'call:c1:4:success', 'call:c1:3:pending', 'connection', 'summary',
    ]);
    const pending = call(d, 'c1:3');
    assert.deepEqual([pending.ended_at, pending.duration_ms, pending.error, pending.output, pending.response_seq], [null, null, null, null, null]);
    assert.equal(d.session.terminal_state, 'in_progress');
    assert.equal(d.session.ended_at, null);
    assert.equal(d.session.duration_ms, 20);
  });
});

describe('session export: streaming', () => {
  const s = fixtureSession();
  const whole = exportSessionToString(s.items);
  const wholeL = exportSessionJsonlToString(s.items);

  it('writes in chunks of about chunkSize, identical once joined', () => {
    for (const [fn, expected] of [[exportSessionJson, whole], [exportSessionJsonl, wholeL]] as const) {
      const chunks: string[] = [];
      const r = fn(s.items, (c) => chunks.push(c), { chunkSize: 1024 });
      assert.equal(chunks.join(''), expected);
      assert.ok(chunks.length > 10, `${chunks.length} chunks`);
      // A chunk closes at the first piece that reaches the size: at most one piece (the summary line is the largest, ≈ 3 KB) past it.
      for (const c of chunks.slice(0, -1)) assert.ok(c.length >= 1024 && c.length < 1024 + 4096, `chunk of ${c.length}`);
      assert.equal(r.calls, 16);
      assert.equal(r.events, s.records.length);
      assert.equal(r.summary.terminal_state, 'partial_success');
    }
  });

  it('accepts a writable-like object, a one-shot generator and a function returning records', () => {
    const written: string[] = [];
    exportSessionJson(s.items, { write: (c: string) => written.push(c) });
    assert.equal(written.join(''), whole);
    function* once(): Generator<ExportRecord> {
      yield* s.items;
    }
    assert.equal(exportSessionToString(once()), whole);
    assert.equal(exportSessionToString(() => once()), whole);
    assert.equal(exportSessionJsonlToString(once()), wholeL);
    assert.equal(exportSessionJsonlToString(() => once()), wholeL);
  });

  it('pipes through Readable.from with backpressure', async () => {
    for (const [gen, expected] of [[sessionJsonChunks(s.items), whole], [sessionJsonlChunks(s.items), wholeL]] as const) {
      const parts: string[] = [];
      for await (const chunk of Readable.from(gen)) parts.push(chunk as string);
      assert.equal(parts.join(''), expected);
    }
  });

  it('can leave the raw events out', () => {
    const json = exportSessionToString(s.items, { includeEvents: false });
    const d = assertValidJsonExport(json) as unknown as Doc;
    assert.equal(d.events, undefined);
    assert.equal(d.calls.length, 16);
    const l = assertValidJsonlExport(exportSessionJsonlToString(s.items, { includeEvents: false }));
    assert.equal(l.filter((x) => x.kind === 'event').length, 0);
    assert.equal(l.length, 1 + 16 + 2 + 1);
  });

  it('refuses mixed sessions unless told which one, and empty input', () => {
    const other = new SessionBuilder('sess-other', '2025-03-02T00:00:00.000Z');
    other.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } }, 0);
    other.add({ type: 'session_end', reason: 'shutdown' });
    const mixed = [...s.items.slice(0, 3), ...other.items, ...s.items.slice(3)];
    assert.throws(() => exportSessionToString(mixed), /belongs to session sess-other/);
    assert.throws(() => exportSessionJsonlToString(mixed), /belongs to session sess-other/);
    assert.equal(exportSessionToString(mixed, { sessionId: 'sess-0001' }), whole);
    assert.equal(exportSessionJsonlToString(mixed, { sessionId: 'sess-0001' }), wholeL);
    assert.equal(exportSessionToString(() => mixed, { sessionId: 'sess-0001' }), whole);
    const only = assertValidJsonExport(exportSessionToString(mixed, { sessionId: 'sess-other' })) as unknown as Doc;
    assert.equal(only.events.length, 2);
    assert.throws(() => exportSessionToString([]), /no records/);
    assert.throws(() => exportSessionJsonlToString([]), /no records/);
    assert.throws(() => exportSessionToString(s.items, { sessionId: 'nope' }), /no records for session nope/);
  });
});

describe('session export: hostile sizes', () => {
  function withOpaque(textBody: string): SessionBuilder {
    const b = new SessionBuilder('sess-big');
    b.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } }, 0);
    b.add({ type: 'connection_open', connection_id: 'c1', server: { name: 'huge', transport: 'stdio', command: 'node' }, upstream: 'stdio' });
    b.request('c1', 1, 'tools/call', { name: 'huge', arguments: {} });
    b.add({ type: 'opaque', connection_id: 'c1', dir: 'server_to_client', size: Buffer.byteLength(textBody), reason: 'size_limit', sha256: crypto.createHash('sha256').update(textBody).digest('hex'), envelope: { kind: 'response', id: 1 }, text: textBody });
    b.add({ type: 'session_end', reason: 'shutdown' });
    return b;
  }

  it('streams a 20 MB opaque frame in bounded chunks', () => {
    const body = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"${'x'.repeat(20 * 1024 * 1024)}"}]}}`;
    const b = withOpaque(body);
    for (const fn of [exportSessionJson, exportSessionJsonl]) {
      const chunks: string[] = [];
      fn(b.items, (c) => chunks.push(c));
      const max = Math.max(...chunks.map((c) => c.length));
      assert.ok(max < 1024 * 1024, `largest chunk ${max} chars`);
      const joined = chunks.join('');
      const textOut = fn === exportSessionJson
        ? ((JSON.parse(joined) as Doc).events[3]!.text as string)
        : ((JSON.parse(joined.split('\n')[4]!) as Record<string, unknown>).text as string);
      assert.equal(textOut.length, body.length);
      assert.equal(crypto.createHash('sha256').update(textOut).digest('hex'), (b.records[3] as { sha256: string }).sha256);
    }
    const d = assertValidJsonExport(exportSessionToString(b.items, { includeEvents: false })) as unknown as Doc;
    assert.deepEqual([d.calls[0]!.outcome, d.calls[0]!.opaque, d.calls[0]!.output], ['success', ['response'], null]);
  });

  it('keeps a 100,000-deep message as opaque text', () => {
    const body = deepText(1, 100_000);
    const b = withOpaque(body);
    const d = assertValidJsonExport(exportSessionToString(b.items)) as unknown as Doc;
    assert.equal(d.events[3]!.text, body);
    assertValidJsonlExport(exportSessionJsonlToString(b.items));
  });

  it('escapes long strings in slices exactly like JSON.stringify, surrogate pairs and all', () => {
    const emoji = '😀';
    const cases = [
      'a'.repeat(64 * 1024 - 1) + emoji + 'b'.repeat(10), // a pair straddling the slice boundary
      ('"\\\n\u0001' + emoji).repeat(40_000),
      'x'.repeat(64 * 1024 - 1) + '\ud800' + 'y'.repeat(70_000), // a lone high surrogate at the boundary
      'z'.repeat(200_000) + '\udc00',
    ];
    for (const str of cases) assert.equal([...stringPieces(str)].join(''), JSON.stringify(str));
  });

  it('exports a journal that lost its session_start and session_end', () => {
    const items = fixtureSession().items.slice(1, -1);
    const { doc: d, lines } = exportBoth(items);
    assert.deepEqual([d.session.started_at, d.session.recorder, d.session.ended_at, d.session.terminal_state], [null, null, null, 'interrupted']);
    assert.deepEqual(d.connections.map((c) => c.connection_id), ['c1', 'c2']);
    assert.equal(d.calls.length, 16);
    assert.deepEqual([lines[0]!.started_at, lines[0]!.recorder], [null, null]);
  });

  it('survives a damaged journal holding a value JSON.stringify cannot handle', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const b = new SessionBuilder('sess-damaged');
    b.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } }, 0);
    b.add({ type: 'connection_open', connection_id: 'c1', server: { name: 's', transport: 'stdio' }, upstream: 'stdio' });
    b.request('c1', 1, 'tools/call', { name: 'deep', arguments: {} });
    b.add({ type: 'message', connection_id: 'c1', dir: 'server_to_client', size: 1, message: { jsonrpc: '2.0', id: 1, result: { deep } } });
    b.add({ type: 'session_end', reason: 'shutdown' });
    const d = assertValidJsonExport(exportSessionToString(b.items)) as unknown as Doc;
    assert.match(JSON.stringify(d.calls[0]!.output), /\$unserializable/);
    assert.match(JSON.stringify(d.events[3]!.message), /\$unserializable/);
    assertValidJsonlExport(exportSessionJsonlToString(b.items));
  });
});
