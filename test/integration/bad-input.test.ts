import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { NonJsonRecord, OpaqueRecord, JournalRecord } from '../../src/core/model/records';
import { fixture, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';
import { RawRecordClient } from '../helpers/raw-client';

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
