import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { NonJsonRecord, OpaqueRecord, JournalRecord } from '../../src/core/model/records';
import { CLI, EVERYTHING, fixture, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';
import { RawRecordClient } from '../helpers/raw-client';
import { RecordingHttpEndpoint, type EndpointServerHandle } from '../../src/core/recording/upstream/http-endpoint';
import { INITIALIZE, rawRequest, tempStore } from './helpers-http';

/**
 * Misbehaving servers (small fixture programs) behind the real `mcp-flight record` process.
 * Each case: the recorder does not crash, the misbehaviour is a clear record, and the client
 * gets a proper JSON-RPC answer wherever a call cannot complete.
 */

const stores: string[] = [];
function store(): string {
  const dir = tempDir();
  stores.push(dir);
  return dir;
}

function ofType<T extends JournalRecord['type']>(records: JournalRecord[], type: T): Array<Extract<JournalRecord, { type: T }>> {
  return records.filter((r): r is Extract<JournalRecord, { type: T }> => r.type === type);
}

before(requireBuiltCli);
after(() => {
  for (const s of stores) fs.rmSync(s, { recursive: true, force: true });
});

describe('garbage on a server\'s stdout', () => {
  test('banner and log lines, and JSON that is not JSON-RPC, are recorded and forwarded; calls still pair', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('banner-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'echo', { message: 'through the noise' });
    const res = await client.json(1);
    assert.deepEqual(res.result?.content, [{ type: 'text', text: 'through the noise' }]);
    assert.ok(client.lines.some((l) => l.toString() === 'Server starting...'), 'stdio→stdio forwards the banner as the server wrote it');
    assert.equal((await client.close()).code, 0);

    const { records, calls } = onlySession(dir);
    const nonJson = ofType(records, 'non_json');
    assert.ok(nonJson.some((r) => r.reason === 'not_json' && r.text === 'Server starting...'));
    assert.ok(nonJson.some((r) => r.reason === 'not_json' && r.text === '[info] ready'));
    assert.ok(nonJson.some((r) => r.reason === 'not_json' && r.text?.includes('\u001b[')), 'the ANSI line is kept verbatim');
    assert.ok(nonJson.some((r) => r.reason === 'not_jsonrpc' && r.text === '{"hello":"world"}'));
    assert.ok(nonJson.every((r) => r.dir === 'server_to_client' && r.forwarded));
    assert.equal(toolCalls(calls, 'echo')[0]!.outcome, 'success');
  });

  test('invalid UTF-8 is kept as base64 and forwarded untouched', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('invalid-utf8-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'bad');
    assert.ok((await client.json(1)).result);
    assert.ok(client.lines.some((l) => l.equals(Buffer.from([0xff, 0xfe, 0x41]))), 'the same bytes reach the client');
    await client.close();
    const bad = ofType(onlySession(dir).records, 'non_json').filter((r) => r.reason === 'invalid_utf8');
    assert.equal(bad.length, 1);
    assert.equal(Buffer.from(bad[0]!.base64!, 'base64').toString('hex'), 'fffe41');
  });

  test('messages split across chunks, inside a UTF-8 character, and many in one chunk', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('chunked-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'echo', { message: 'ignored' });
    assert.deepEqual((await client.json(1)).result?.content, [{ type: 'text', text: 'héllo wörld ✓ 😀' }]);
    client.callTool(2, 'burst');
    assert.ok((await client.json(2)).result);
    await client.close();
    const { calls, records } = onlySession(dir);
    const echo = toolCalls(calls, 'echo')[0]!;
    assert.deepEqual((echo.output as { content: unknown }).content, [{ type: 'text', text: 'héllo wörld ✓ 😀' }]);
    assert.equal(ofType(records, 'non_json').length, 0, 'no frame was broken by chunking');
    const logs = records.filter((r) => r.type === 'message' && (r.message as { method?: string }).method === 'notifications/message');
    assert.equal(logs.length, 50);
  });

  test('a response with an unknown id is recorded, not paired, and the real answer still pairs', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('unknown-id-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'echo', { message: 'x' });
    assert.ok((await client.json(1)).result);
    await client.close();
    const { records, calls } = onlySession(dir);
    assert.ok(records.some((r) => r.type === 'message' && (r.message as { id?: unknown }).id === 987654));
    const call = toolCalls(calls)[0]!;
    assert.equal(call.outcome, 'success');
    assert.equal(call.request_id, 1);
  });
});

describe('huge and deep messages', () => {
  test('a 20 MB message is forwarded byte for byte and recorded as opaque with a size_limit', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('huge-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'huge');
    const line = await client.response(1, 60_000);
    assert.ok(line.length > 20 * 1024 * 1024);
    await client.close();
    const { records, calls } = onlySession(dir);
    const opaque = ofType(records, 'opaque');
    assert.equal(opaque.length, 1);
    const rec: OpaqueRecord = opaque[0]!;
    assert.equal(rec.reason, 'size_limit');
    assert.equal(rec.size, line.length);
    assert.equal(rec.sha256, crypto.createHash('sha256').update(line).digest('hex'), 'the record holds exactly the forwarded bytes');
    assert.equal(rec.text?.length, line.length);
    assert.deepEqual(rec.envelope, { kind: 'response', id: 1 });
    const call = toolCalls(calls, 'huge')[0]!;
    assert.equal(call.outcome, 'success', 'the opaque response still pairs with its call');
    assert.deepEqual(call.opaque, ['response']);
  });

  test('100,000-deep nesting is forwarded untouched and recorded as opaque with a depth_limit', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('deep-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'deep');
    const line = await client.response(1);
    assert.ok(line.includes(Buffer.from('['.repeat(1000))));
    client.callTool(2, 'deep', { depth: 3 });
    assert.ok((await client.json(2)).result, 'the recorder keeps working after a deep message');
    await client.close();
    const { records, calls } = onlySession(dir);
    const opaque = ofType(records, 'opaque');
    assert.equal(opaque.length, 1);
    assert.equal(opaque[0]!.reason, 'depth_limit');
    assert.equal(opaque[0]!.text, line.toString('utf8'));
    const [deep, shallow] = toolCalls(calls, 'deep');
    assert.equal(deep!.outcome, 'success');
    assert.equal(shallow!.outcome, 'success');
    assert.equal(shallow!.opaque, undefined);
  });
});

describe('servers that die, hang, or flood', () => {
  test('a server that exits mid-call: the client gets a JSON-RPC error, the crash is recorded, the recorder exits with its code', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('crash-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'echo', { message: 'before' });
    assert.ok((await client.json(1)).result);
    client.callTool(2, 'crash');
    const res = await client.json(2);
    assert.equal(res.error?.code, -32000);
    assert.match(res.error!.message, /closed before answering tools\/call.*code 3/);
    const exit = await client.exited;
    assert.equal(exit.code, 3, 'the recorder mirrors the server\'s exit code');
    const { records, calls, assembler } = onlySession(dir);
    assert.deepEqual(ofType(records, 'process_exit').map((r) => [r.code, r.signal]), [[3, null]]);
    const crash = toolCalls(calls, 'crash')[0]!;
    assert.equal(crash.outcome, 'error');
    assert.equal(crash.answered_by_recorder, true);
    assert.equal(crash.error?.error_class, 'server_crash');
    assert.equal(crash.error?.recovery_action, 'restart_server');
    assert.ok(assembler.session?.ended_at);
  });

  test('a server that never answers: the recorder\'s timeout answers the client and is recorded', async () => {
    const dir = store();
    // The timeout covers initialize too, which waits for the child's start: 400 ms was too short on a loaded CI machine.
    const client = new RawRecordClient(dir, [NODE, fixture('hang-server.mjs')], ['--timeout-ms', '3000']);
    await client.initialize();
    client.callTool(1, 'anything');
    const res = await client.json(1);
    assert.equal(res.error?.code, -32001);
    client.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.deepEqual((await client.json(2)).result, {}, 'the session stays up');
    await client.close();
    const { records, calls } = onlySession(dir);
    const timeouts = ofType(records, 'timeout');
    assert.equal(timeouts.length, 1);
    assert.equal(timeouts[0]!.request_id, 1);
    assert.equal(timeouts[0]!.after_ms, 3000);
    const call = toolCalls(calls)[0]!;
    assert.equal(call.outcome, 'timeout');
    assert.equal(call.error?.error_class, 'timeout');
  });

  test('a server that floods stderr: every line is recorded and calls still work', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('stderr-flood-server.mjs')]);
    await client.initialize();
    client.callTool(1, 'echo', { message: 'after the flood' });
    assert.ok((await client.json(1)).result);
    await client.close();
    const { records, calls } = onlySession(dir);
    assert.equal(ofType(records, 'stderr').length, 10_000);
    assert.equal(toolCalls(calls)[0]!.outcome, 'success');
  });

  test('spawn failure (ENOENT): recorded, the client\'s initialize gets an error, non-zero exit', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, ['/nonexistent/mcp-server-binary', '--flag']);
    client.send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const res = await client.json(0).catch(() => undefined);
    const exit = await client.exited;
    assert.notEqual(exit.code, 0);
    const { records } = onlySession(dir);
    const spawnErrors = ofType(records, 'spawn_error');
    assert.equal(spawnErrors.length, 1);
    assert.equal(spawnErrors[0]!.code, 'ENOENT');
    if (res) assert.equal(res.error?.code, -32000, 'a request that raced the failure is answered with an error');
    assert.ok(records.some((r) => r.type === 'session_end'));
  });
});

describe('non-JSON written by the client', () => {
  test('is recorded with the client side as its direction', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, fixture('slow-echo-server.mjs')]);
    await client.initialize();
    client.child.stdin.write('this is not json\n');
    client.callTool(1, 'echo', { message: 'ok' });
    assert.ok((await client.json(1)).result);
    await client.close();
    const nonJson: NonJsonRecord[] = ofType(onlySession(dir).records, 'non_json');
    assert.equal(nonJson.length, 1);
    assert.equal(nonJson[0]!.dir, 'client_to_server');
  });
});

describe('a batch over HTTP with an element nested too deep to walk', () => {
  const deepRequest = (id: number) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`;
  const headers = (h: EndpointServerHandle, sid?: string) => ({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h.headers, ...(sid ? { 'mcp-session-id': sid } : {}) });

  test('reverse-proxied remote: forwarded both ways untouched; the deep elements are recorded opaque, the others verbatim', async () => {
    const s = tempStore();
    const endpoint = new RecordingHttpEndpoint({ recorder: s.recorder });
    await endpoint.start();
    const answer = `[{"jsonrpc":"2.0","id":1,"result":{"content":[]}}, ${`{"jsonrpc":"2.0","id":2,"result":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`}]`;
    let received = '';
    const remote = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received = body;
        res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      });
    });
    await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
    try {
      const h = endpoint.addServer({ name: 'remote', type: 'http', url: `http://127.0.0.1:${(remote.address() as { port: number }).port}/mcp` });
      const first = '{"jsonrpc":"2.0", "id":1, "method":"tools/call","params":{"name":"echo","arguments":{"message":"[x]"}}}';
      const batch = `[${first} , ${deepRequest(2)}]`;
      const res = await rawRequest(h.url, { method: 'POST', headers: headers(h), body: batch });
      assert.equal(res.status, 200);
      assert.equal(res.body, answer, 'the remote\'s answer reaches the client untouched');
      assert.equal(received, batch, 'the batch reaches the remote untouched');
      const frames = s.records().filter((r) => r.type === 'message' || r.type === 'opaque');
      assert.deepEqual(frames.map((r) => [r.type, (r as { dir: string }).dir, r.type === 'opaque' ? r.reason : '']), [
        ['message', 'client_to_server', ''],
        ['opaque', 'client_to_server', 'depth_limit'],
        ['message', 'server_to_client', ''],
        ['opaque', 'server_to_client', 'depth_limit'],
      ]);
      assert.equal((frames[1] as OpaqueRecord).sha256, crypto.createHash('sha256').update(deepRequest(2)).digest('hex'), 'the element as it was in the batch');
      assert.deepEqual((frames[1] as OpaqueRecord).envelope, { kind: 'request', id: 2, method: 'tools/call' });
    } finally {
      await endpoint.close();
      await new Promise((r) => remote.close(r));
      s.close();
    }
  });

  test('stdio server behind the endpoint: the deep element is recorded opaque and forwarded; the batch is answered', async () => {
    const s = tempStore();
    const endpoint = new RecordingHttpEndpoint({ recorder: s.recorder });
    await endpoint.start();
    try {
      const h = endpoint.addServer({ name: 'slow', type: 'stdio', command: NODE, args: [fixture('slow-echo-server.mjs')] });
      const init = await rawRequest(h.url, { method: 'POST', headers: headers(h), body: INITIALIZE() });
      assert.equal(init.status, 200);
      const sid = init.headers['mcp-session-id'] as string;
      await rawRequest(h.url, { method: 'POST', headers: headers(h, sid), body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' });
      const batch = `[{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"message":"shallow"}}},${deepRequest(6)}]`;
      const res = await rawRequest(h.url, { method: 'POST', headers: { ...headers(h, sid), accept: 'application/json' }, body: batch, timeoutMs: 20_000 });
      assert.equal(res.status, 200, res.body.slice(0, 300));
      const answers = JSON.parse(res.body) as Array<{ id: number; result?: { content: unknown } }>;
      assert.deepEqual(answers.find((a) => a.id === 5)?.result?.content, [{ type: 'text', text: 'shallow' }]);
      assert.ok(answers.some((a) => a.id === 6), 'the deep call is answered too');
      const opaque = s.records().filter((r): r is OpaqueRecord => r.type === 'opaque');
      assert.deepEqual(opaque.map((r) => [r.dir, r.reason, r.sha256]), [['client_to_server', 'depth_limit', crypto.createHash('sha256').update(deepRequest(6)).digest('hex')]]);
    } finally {
      await endpoint.close();
      s.close();
    }
  });
});

describe('a journal that cannot be written (file size limit reached)', () => {
  test('calls are refused with -32004, never forwarded unrecorded; the session stays up; every answer the client got is in the store', async () => {
    requireBuiltCli();
    const dir = store();
    // A real write failure: RLIMIT_FSIZE (ulimit -f, in 512-byte blocks) makes write(2) fail with EFBIG past 128 KB.
    const transport = new StdioClientTransport({
      command: 'sh',
      args: ['-c', 'ulimit -f 256 && exec "$0" "$@"', NODE, CLI, 'record', '--store', dir, '--name', 'everything', '--', NODE, EVERYTHING],
      stderr: 'pipe',
      env: { ...process.env } as Record<string, string>,
    });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let closed = false;
    const client = new Client({ name: 'full-disk', version: '1' });
    client.onclose = () => (closed = true);
    await client.connect(transport);
    let answered = 0;
    let refusal: McpError | undefined;
    for (let i = 0; i < 400 && !refusal; i++) {
      try {
        await client.callTool({ name: 'echo', arguments: { message: `${i} ${'x'.repeat(1000)}` } });
        answered++;
      } catch (err) {
        refusal = err as McpError;
      }
    }
    assert.ok(refusal instanceof McpError, `a call is refused once the journal is full (${answered} answered)`);
    assert.equal(refusal.code, -32004);
    // Whichever record hit the limit: the request (not forwarded) or the server's answer (not passed on).
    assert.match(refusal.message, /cannot write its journal \(.*EFBIG.*\): the (call|server's answer) was not forwarded/);
    await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'still refused' } }), (e: unknown) => e instanceof McpError && e.code === -32004 && /the call was not forwarded/.test(e.message));
    assert.equal(closed, false, 'the recorder is still up');
    await client.close();
    assert.match(stderr, /mcp-flight: cannot write the journal \(.*EFBIG.*\): messages are refused from now on, never forwarded unrecorded/);
    const { calls } = onlySession(dir);
    const echoes = toolCalls(calls, 'echo');
    assert.equal(echoes.filter((c) => c.outcome === 'success').length, answered, 'every answer the client received is in the store');
    assert.ok(answered > 10);
  });
});
