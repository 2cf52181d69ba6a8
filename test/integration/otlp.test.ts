import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { spanIdOf, traceIdOf } from '../../src/core/export/otlp';
import { openStore } from '../../src/core/store/store';
import type { Call } from '../../src/core/model/calls';
import type { JournalRecord, OtlpPushRecord } from '../../src/core/model/records';
import { CLI, EVERYTHING, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, readStore } from '../helpers/journal';
import { assertValidJsonExport } from '../helpers/schema';
import { checkOtlpDefinitions, deadEndpoint, decodeTraces, type DecodedSpan, type Receiver, startReceiver } from '../helpers/otlp';
import { startServe } from '../helpers/serve';

/**
 * The SDK's real Client → `mcp-flight record --otlp-endpoint` → server-everything, with a local
 * OTLP/HTTP receiver taking the live push; then `mcp-flight export --format otlp` POSTed to it.
 * Bodies are checked against the OTLP definitions of @opentelemetry/otlp-transformer, then
 * attribute by attribute against what the journal holds.
 */

const GITHUB_TOKEN = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 };
const STATUS = { UNSET: 0, ERROR: 2 };

interface Recorded {
  store: string;
  stderr: string;
  records: JournalRecord[];
  calls: Call[];
  sessionId: string;
}

/** One recorded session: a successful call, an isError call, a -32602 error. */
async function recordSession(extraArgs: string[], env: Record<string, string> = {}, beforeClose?: (store: string) => Promise<void>): Promise<Recorded> {
  const store = tempDir();
  const transport = new StdioClientTransport({
    command: NODE,
    args: [CLI, 'record', '--store', store, '--name', 'everything', ...extraArgs, '--', NODE, EVERYTHING],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const client = new Client({ name: 'otlp-test-agent', version: '1.0.0' });
  await client.connect(transport);
  const ok = await client.callTool({ name: 'echo', arguments: { message: `deploy with ${GITHUB_TOKEN}` } });
  assert.notEqual(ok.isError, true);
  const bad = await client.callTool({ name: 'get-sum', arguments: { a: 'two' } });
  assert.equal(bad.isError, true);
  await assert.rejects(client.getPrompt({ name: 'no-such-prompt' }), (e: unknown) => e instanceof McpError && e.code === -32602);
  if (beforeClose) await beforeClose(store);
  const exited = new Promise<void>((resolve) => {
    const proc = (transport as unknown as { _process?: { exitCode: number | null; once(e: 'exit', l: () => void): void } })._process;
    if (!proc || proc.exitCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  await client.close();
  // The recorder writes session_end, then gives the push its last chance, then exits.
  await exited;
  const { records, calls } = onlySession(store);
  return { store, stderr, records, calls, sessionId: records[0]!.session_id };
}

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`gave up waiting for ${what}`);
}

function callOf(r: Recorded, pred: (c: Call) => boolean, what: string): Call {
  const found = r.calls.filter(pred);
  assert.equal(found.length, 1, `exactly one ${what}`);
  return found[0]!;
}

function spanOf(spans: DecodedSpan[], r: Recorded, call: Call): DecodedSpan {
  const s = spans.filter((x) => x.spanId === spanIdOf(r.sessionId, call.call_id));
  assert.equal(s.length, 1, `one span for ${call.call_id} (${call.method})`);
  return s[0]!;
}

function nanosOf(iso: string, plusMs = 0): bigint {
  return BigInt(Date.parse(iso)) * 1_000_000n + BigInt(Math.round(plusMs * 1e6));
}

describe('OTLP: live push from mcp-flight record, and export --format otlp', () => {
  let receiver: Receiver;
  let rec: Recorded;
  let pushed: DecodedSpan[];
  let exported: DecodedSpan[];
  let exportFile: string;

  before(async () => {
    requireBuiltCli();
    receiver = await startReceiver();
    rec = await recordSession(['--otlp-endpoint', receiver.url, '--otlp-header', 'Authorization=Bearer collector-token']);
    await waitFor('the root span', () => decodeTraces(receiver.requests.map((q) => q.body)).some((s) => s.parentSpanId === undefined));
    pushed = decodeTraces(receiver.requests.map((q) => q.body));

    exportFile = path.join(rec.store, 'session.otlp.jsonl');
    const r = cli('export', '--store', rec.store, '--format', 'otlp', '--out', exportFile);
    assert.equal(r.code, 0, r.stderr);
    const pushedRequests = receiver.requests.length;
    for (const line of fs.readFileSync(exportFile, 'utf8').split('\n').filter(Boolean)) {
      const res = await fetch(`${receiver.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: line });
      assert.equal(res.status, 200);
    }
    exported = decodeTraces(receiver.requests.slice(pushedRequests).map((q) => q.body));
  });

  after(async () => {
    await receiver?.close();
    if (rec) fs.rmSync(rec.store, { recursive: true, force: true });
  });

  test('the push is OTLP/HTTP JSON to /v1/traces, with the collector header', () => {
    assert.ok(receiver.requests.length >= 2);
    for (const q of receiver.requests) {
      assert.equal(q.method, 'POST');
      assert.equal(q.path, '/v1/traces');
      assert.equal(q.headers['content-type'], 'application/json');
    }
    assert.equal(receiver.requests[0]!.headers.authorization, 'Bearer collector-token');
  });

  test('every body, pushed and exported, is an ExportTraceServiceRequest by the OTLP definitions', () => {
    // The check has teeth: a body with an invalid span kind, an unknown field and a wrong type is refused, on each count.
    const tampered = JSON.parse(receiver.requests[0]!.body);
    tampered.resourceSpans[0].scopeSpans[0].spans[0].kind = 9;
    tampered.resourceSpans[0].resource.atributes = [];
    tampered.resourceSpans[0].scopeSpans[0].scope.version = 1;
    const bodies = receiver.requests.map((q) => q.body);
    const problems = checkOtlpDefinitions([...bodies, JSON.stringify(tampered)]);
    assert.deepEqual(problems.slice(0, bodies.length), bodies.map(() => []));
    const refused = problems[bodies.length]!;
    assert.equal(refused.length, 3, refused.join('\n'));
    assert.ok(refused.some((p) => /ESpanKind/.test(p)) && refused.some((p) => /atributes/.test(p)) && refused.some((p) => /number.*not assignable to type 'string'/.test(p)), refused.join('\n'));
  });

  test('one trace per session: the session is the root span, every call a child with the deterministic ids', () => {
    const traceId = traceIdOf(rec.sessionId);
    assert.ok(pushed.every((s) => s.traceId === traceId));
    const roots = pushed.filter((s) => s.parentSpanId === undefined);
    assert.equal(roots.length, 1);
    const root = roots[0]!;
    assert.equal(root.spanId, spanIdOf(rec.sessionId));
    assert.equal(root.name, 'mcp-flight session');
    assert.equal(root.kind, SPAN_KIND.INTERNAL);
    const start = rec.records.find((r) => r.type === 'session_start')!;
    const end = rec.records.find((r) => r.type === 'session_end')!;
    assert.equal(root.start, nanosOf(start.ts));
    assert.equal(root.end, nanosOf(end.ts));
    assert.equal(root.attributes['mcp_flight.session.id'], rec.sessionId);
    assert.equal(root.attributes['mcp_flight.session.state'], 'ended');
    assert.equal(root.attributes['mcp_flight.session.calls'], rec.calls.length);
    assert.equal(root.attributes['mcp_flight.session.tool_calls'], 2);
    assert.equal(root.attributes['mcp_flight.session.failed_calls'], 2);
    assert.deepEqual(root.attributes['mcp_flight.session.servers'], ['everything']);
    assert.equal(root.status.code, STATUS.UNSET);
    // Every call of the journal, exactly once, under the root.
    assert.equal(pushed.length, rec.calls.length + 1);
    for (const call of rec.calls) assert.equal(spanOf(pushed, rec, call).parentSpanId, root.spanId);
    // Who recorded it: the resource.
    assert.equal(root.resource['service.name'], 'mcp-flight');
    assert.equal(root.resource['mcp_flight.recorder.kind'], 'cli-record');
    assert.equal(typeof root.resource['host.name'], 'string');
    assert.deepEqual(root.scope, { name: 'mcp-flight', version: root.resource['service.version'] as string });
  });

  test('a successful tools/call: the MCP semantic-convention attributes, times from the record, no payload', () => {
    const call = callOf(rec, (c) => c.tool === 'echo', 'echo call');
    const s = spanOf(pushed, rec, call);
    const conn = onlySession(rec.store).assembler.connection(call.connection_id)!;
    assert.equal(s.name, 'tools/call echo');
    assert.equal(s.kind, SPAN_KIND.CLIENT);
    assert.equal(s.start, nanosOf(call.timestamp));
    assert.equal(s.end, nanosOf(call.timestamp, call.duration_ms!));
    assert.equal(s.status.code, STATUS.UNSET);
    assert.deepEqual(s.attributes, {
      'mcp.method.name': 'tools/call',
      'jsonrpc.request.id': String(call.request_id),
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.protocol.version': conn.server.protocol_version,
      'network.transport': 'pipe',
      'mcp_flight.session.id': rec.sessionId,
      'mcp_flight.call.id': call.call_id,
      'mcp_flight.connection.id': call.connection_id,
      'mcp_flight.call.direction': 'client_to_server',
      'mcp_flight.call.outcome': 'success',
      'mcp_flight.server.name': 'everything',
      'mcp_flight.server.reported_name': conn.server.reported_name,
      'mcp_flight.server.version': conn.server.version,
      'mcp_flight.server.transport': 'stdio',
      'mcp_flight.agent.id': 'otlp-test-agent/1.0.0',
    });
    // stdio has no transport session: no mcp.session.id.
    assert.equal(conn.mcp_session_id, undefined);
    assert.ok(!JSON.stringify(receiver.requests.map((q) => q.body)).includes('deploy with'), 'no argument text without the opt-in');
  });

  test('an isError result: error.type its error class, status ERROR, the tool text kept out', () => {
    const call = callOf(rec, (c) => c.tool === 'get-sum', 'get-sum call');
    const s = spanOf(pushed, rec, call);
    // The SDK reports bad arguments as an isError result carrying "MCP error -32602": invalid_params (docs/error-taxonomy.md).
    assert.equal(call.error!.error_class, 'invalid_params');
    assert.equal(s.attributes['error.type'], 'invalid_params');
    assert.equal(s.attributes['mcp_flight.error.code'], String(call.error!.error_code));
    assert.equal(s.attributes['mcp_flight.error.recovery_action'], call.error!.recovery_action);
    assert.equal(s.attributes['mcp_flight.error.recoverable'], call.error!.recoverable);
    assert.equal(s.attributes['mcp_flight.error.retry_safe'], call.error!.retry_safe);
    assert.equal(s.attributes['mcp_flight.call.outcome'], 'error');
    assert.equal(s.attributes['rpc.response.status_code'], undefined);
    assert.deepEqual(s.status, { code: STATUS.ERROR, message: 'invalid_params' });
  });

  test('a -32602 error: error.type invalid_params, rpc.response.status_code, the JSON-RPC message as status', () => {
    const call = callOf(rec, (c) => c.method === 'prompts/get', 'prompts/get call');
    const s = spanOf(pushed, rec, call);
    assert.equal(s.name, 'prompts/get no-such-prompt');
    assert.equal(s.attributes['mcp.method.name'], 'prompts/get');
    assert.equal(s.attributes['gen_ai.prompt.name'], 'no-such-prompt');
    assert.equal(s.attributes['gen_ai.tool.name'], undefined);
    assert.equal(s.attributes['gen_ai.operation.name'], undefined);
    assert.equal(s.attributes['error.type'], 'invalid_params');
    assert.equal(s.attributes['rpc.response.status_code'], '-32602');
    assert.equal(s.attributes['mcp_flight.error.code'], '-32602');
    assert.equal(s.status.code, STATUS.ERROR);
    assert.equal(s.status.message, call.error!.message);
  });

  test('the exported file holds the very spans pushed live: same ids, times, attributes and events', () => {
    const key = (s: DecodedSpan) => s.spanId;
    const norm = (list: DecodedSpan[]) => [...list].sort((a, b) => key(a).localeCompare(key(b))).map((s) => JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    assert.deepEqual(norm(exported), norm(pushed));
  });
});

describe('OTLP: payloads only with the opt-in, and then redacted', () => {
  let receiver: Receiver;
  let rec: Recorded;

  before(async () => {
    requireBuiltCli();
    receiver = await startReceiver();
    rec = await recordSession(['--otlp-endpoint', `${receiver.url}/v1/traces`, '--otlp-include-payloads']);
    await waitFor('the root span', () => decodeTraces(receiver.requests.map((q) => q.body)).some((s) => s.parentSpanId === undefined));
  });
  after(async () => {
    await receiver?.close();
    if (rec) fs.rmSync(rec.store, { recursive: true, force: true });
  });

  test('arguments and results of the live push are the recorded, redacted ones', () => {
    const spans = decodeTraces(receiver.requests.map((q) => q.body));
    const echo = spanOf(spans, rec, callOf(rec, (c) => c.tool === 'echo', 'echo call'));
    const args = JSON.parse(echo.attributes['gen_ai.tool.call.arguments'] as string) as { message: string };
    assert.match(args.message, /^deploy with \[REDACTED:github_pat:[0-9a-f]{6}\]$/);
    const result = echo.attributes['gen_ai.tool.call.result'] as string;
    assert.match(result, /Echo: deploy with \[REDACTED:github_pat:[0-9a-f]{6}\]/);
    for (const q of receiver.requests) assert.ok(!q.body.includes(GITHUB_TOKEN), 'the secret never leaves');
    // The isError text is the tool's output: with the opt-in it is the status message and the result.
    const bad = spanOf(spans, rec, callOf(rec, (c) => c.tool === 'get-sum', 'get-sum call'));
    assert.notEqual(bad.status.message, 'tool_error');
    assert.ok(typeof bad.attributes['mcp_flight.response.result'] === 'string');
    assert.equal(bad.attributes['gen_ai.tool.call.result'], undefined, 'gen_ai.tool.call.result is for successful executions');
  });

  test('export --format otlp leaves payloads out unless --include-payloads', () => {
    const without = cli('export', '--store', rec.store, '--format', 'otlp');
    assert.equal(without.code, 0, without.stderr);
    assert.ok(!without.stdout.includes('gen_ai.tool.call.arguments'));
    assert.ok(!without.stdout.includes('deploy with'));
    const withPayloads = cli('export', '--store', rec.store, '--format', 'otlp', '--include-payloads');
    assert.equal(withPayloads.code, 0, withPayloads.stderr);
    const spans = decodeTraces(withPayloads.stdout.split('\n').filter(Boolean));
    const echo = spanOf(spans, rec, callOf(rec, (c) => c.tool === 'echo', 'echo call'));
    assert.match(echo.attributes['gen_ai.tool.call.arguments'] as string, /\[REDACTED:github_pat:[0-9a-f]{6}\]/);
    assert.ok(!withPayloads.stdout.includes(GITHUB_TOKEN));
  });
});

describe('OTLP: the collector down', () => {
  let rec: Recorded;
  let endpoint: string;

  before(async () => {
    requireBuiltCli();
    endpoint = await deadEndpoint();
    // The exporter's own retries give up within this (a standard OpenTelemetry variable).
    const journalText = (store: string) => JSON.stringify(readStore(store).records);
    rec = await recordSession(['--otlp-endpoint', `${endpoint.replace('http://', 'http://user:pw@')}/v1/traces?key=secret`], { OTEL_EXPORTER_OTLP_TIMEOUT: '300' }, async (store) => {
      // Keep the session open until the push has failed once and said so in the journal.
      await waitFor('the otlp_push failing record', () => journalText(store).includes('"otlp_push"'));
    });
  });
  after(() => {
    if (rec) fs.rmSync(rec.store, { recursive: true, force: true });
  });

  test('the recording is complete: every call and the session end', () => {
    assert.ok(rec.records.some((r) => r.type === 'session_end'));
    assert.equal(rec.calls.filter((c) => c.method === 'tools/call').length, 2);
    assert.ok(rec.calls.every((c) => c.outcome !== 'pending'));
    assert.ok(rec.calls.some((c) => c.method === 'prompts/get' && c.error?.error_class === 'invalid_params'));
  });

  test('the outage and the drop are journaled in the session, without the endpoint credentials', () => {
    const push = rec.records.filter((r): r is OtlpPushRecord => r.type === 'otlp_push');
    const failing = push.find((r) => r.status === 'failing');
    assert.ok(failing, JSON.stringify(push));
    assert.equal(failing.endpoint, `${endpoint}/v1/traces`);
    assert.match(failing.error ?? '', /ECONNREFUSED|connect|fetch|socket/i);
    const dropped = push.filter((r) => r.status === 'dropped');
    assert.equal(dropped.length, 1, JSON.stringify(push));
    // Every call span still queued when the session ended was given up, and counted.
    assert.equal(dropped[0]!.dropped_spans, rec.calls.length);
    assert.equal(dropped[0]!.total_dropped, rec.calls.length);
    const end = rec.records.findIndex((r) => r.type === 'session_end');
    assert.ok(rec.records.indexOf(dropped[0]!) < end, 'recorded while the session was open');
    assert.ok(!JSON.stringify(push).includes('secret') && !JSON.stringify(push).includes('pw@'));
    // The root span, produced by session_end, is reported lost on stderr.
    assert.match(rec.stderr, /1 spans could not be delivered/);
  });

  test('the events list shows the push problems', async () => {
    const r = cli('export', '--store', rec.store, '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    const doc = assertValidJsonExport(r.stdout) as { events: Array<{ type: string }> };
    assert.ok(doc.events.some((e) => e.type === 'otlp_push'));
    // And the store's event list, which the views show.
    const store = await openStore(rec.store, { writeIndex: true });
    try {
      const events = store.events(rec.sessionId).filter((e) => e.type === 'otlp_push');
      assert.equal(events.length, 2, JSON.stringify(events));
      assert.ok(events[0]!.summary.startsWith(`OTLP push to ${endpoint}/v1/traces failing: `), events[0]!.summary);
      assert.ok(events[1]!.summary.startsWith(`OTLP push dropped ${rec.calls.length} spans (${rec.calls.length} in all): `), events[1]!.summary);
    } finally {
      store.close();
    }
  });
});

describe('OTLP: live push from mcp-flight serve (Streamable HTTP to the client)', () => {
  let receiver: Receiver;
  const store = tempDir();
  const work = tempDir('mcpf-otlp-serve-');
  let records: JournalRecord[] = [];
  let calls: Call[] = [];
  let spans: DecodedSpan[] = [];

  before(async () => {
    requireBuiltCli();
    receiver = await startReceiver();
    const config = path.join(work, 'mcp.json');
    fs.writeFileSync(config, JSON.stringify({ servers: { everything: { type: 'stdio', command: NODE, args: [EVERYTHING] } } }));
    const serve = await startServe(['--store', store, '--config', config, '--otlp-endpoint', receiver.url]);
    const s = serve.servers[0]!;
    const client = new Client({ name: 'serve-otlp-agent', version: '3' });
    await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { Authorization: `Bearer ${s.token}` } } }));
    await client.callTool({ name: 'echo', arguments: { message: 'over http' } });
    await client.close();
    await serve.stop('SIGINT');
    ({ records, calls } = onlySession(store));
    spans = decodeTraces(receiver.requests.map((q) => q.body));
  });
  after(async () => {
    await receiver?.close();
    fs.rmSync(store, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('the calls and the root span arrive; mcp.session.id is the transport session the client used', () => {
    const sessionId = records[0]!.session_id;
    const root = spans.find((x) => x.parentSpanId === undefined);
    assert.ok(root, 'the root span was pushed before serve exited');
    assert.equal(root.spanId, spanIdOf(sessionId));
    assert.equal(root.resource['mcp_flight.recorder.kind'], 'cli-serve');
    assert.match(String(root.attributes['mcp_flight.session.end_reason']), /SIGINT/);
    const echo = calls.find((c) => c.tool === 'echo')!;
    const span = spanOf(spans, { store, stderr: '', records, calls, sessionId }, echo);
    const mcpSession = records.find((r): r is Extract<JournalRecord, { type: 'message' }> => r.type === 'message' && r.mcp_session_id !== undefined)?.mcp_session_id;
    assert.ok(mcpSession);
    assert.equal(span.attributes['mcp.session.id'], mcpSession);
    assert.equal(span.attributes['mcp_flight.agent.id'], 'serve-otlp-agent/3');
    // The server itself is launched over stdio behind the endpoint.
    assert.equal(span.attributes['network.transport'], 'pipe');
  });
});
