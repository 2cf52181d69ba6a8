import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { targetOf, type StdioServerSpec } from '../../src/core/config/servers';
import { openDownstream } from '../../src/core/recording/downstream';
import type { Gate, GateDecision, GateRequest } from '../../src/core/recording/gate';
import { Recorder } from '../../src/core/recording/recorder';
import { RecordingTransport } from '../../src/core/recording/transport';
import { JournalWriter } from '../../src/core/store/journal';
import { EVERYTHING, NODE, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';

/**
 * The gate on the call path, with the SDK's client on the in-process recording transport and
 * server-everything behind it: allow passes at once, deny answers with a JSON-RPC error the
 * client sees, hold keeps the call until a decision arrives — and every decision is recorded.
 */

const store = tempDir();
after(() => fs.rmSync(store, { recursive: true, force: true }));

test('the gate allows, denies with a JSON-RPC error, and holds a call until decided', async () => {
  const journal = JournalWriter.open(store);
  const recorder = new Recorder({ kind: 'test', journal });
  const spec: StdioServerSpec = { name: 'everything', type: 'stdio', command: NODE, args: [EVERYTHING] };
  let release: ((d: GateDecision) => void) | undefined;
  const seen: GateRequest[] = [];
  const gate: Gate = {
    check(req) {
      seen.push(req);
      const name = (req.message as { params?: { name?: string; arguments?: { message?: string } } }).params?.name;
      const message = (req.message as { params?: { arguments?: { message?: string } } }).params?.arguments?.message;
      if (req.method !== 'tools/call') return { action: 'allow' };
      if (name === 'get-env') return { action: 'deny', message: 'get-env is not allowed by policy', code: -32003, data: { rule: 'no-env' } };
      if (message === 'hold me') return new Promise<GateDecision>((resolve) => (release = resolve));
      return { action: 'allow' };
    },
  };
  const client = new Client({ name: 'gate-test', version: '1' });
  await client.connect(new RecordingTransport({ recorder, server: targetOf(spec), downstream: (c) => openDownstream(spec, c), gate }));

  const ok = await client.callTool({ name: 'echo', arguments: { message: 'through' } });
  assert.deepEqual(ok.content, [{ type: 'text', text: 'Echo: through' }]);

  await assert.rejects(client.callTool({ name: 'get-env', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32003 && /not allowed by policy/.test(e.message));

  let settled = false;
  const held = client.callTool({ name: 'echo', arguments: { message: 'hold me' } }).then((r) => {
    settled = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(settled, false, 'a held call does not reach the server');
  assert.ok(release);
  release({ action: 'allow' });
  assert.deepEqual((await held).content, [{ type: 'text', text: 'Echo: hold me' }]);

  await client.close();
  recorder.end();
  journal.close();

  assert.ok(seen.every((r) => r.server.name === 'everything' && r.sessionId === recorder.sessionId));
  const { records, calls } = onlySession(store);
  const decisions = records.filter((r) => r.type === 'gate_decision');
  assert.deepEqual(
    decisions.map((d) => (d.type === 'gate_decision' ? [d.decision, d.reason ?? null] : [])),
    [
      ['deny', 'get-env is not allowed by policy'],
      ['allow', null],
    ],
    'denials and holds are recorded; instant allows cost nothing',
  );
  const held_ms = decisions[1]!.type === 'gate_decision' ? decisions[1]!.held_ms : 0;
  assert.ok(held_ms >= 250, `the hold is recorded with its duration (${held_ms} ms)`);
  const denied = toolCalls(calls, 'get-env')[0]!;
  assert.equal(denied.outcome, 'error');
  assert.equal(denied.answered_by_recorder, true);
  assert.equal(denied.error?.error_class, 'policy_denied');
  assert.ok(!records.some((r) => r.type === 'message' && r.dir === 'server_to_client' && JSON.stringify(r.message).includes('get-env') && JSON.stringify(r.message).includes('"result"')), 'the denied call never reached the server');
});

test('a gate that throws refuses the call (recorded with why) and the session goes on', async () => {
  const root = tempDir();
  try {
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const spec: StdioServerSpec = { name: 'everything', type: 'stdio', command: NODE, args: [EVERYTHING] };
    const gate: Gate = {
      check(req) {
        if (req.method === 'tools/call' && (req.message as { params?: { arguments?: { message?: string } } }).params?.arguments?.message === 'boom') throw new Error('policy table unreadable');
        return { action: 'allow' };
      },
    };
    const client = new Client({ name: 'gate-test', version: '1' });
    await client.connect(new RecordingTransport({ recorder, server: targetOf(spec), downstream: (c) => openDownstream(spec, c), gate }));
    await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'boom' } }), (e: unknown) => e instanceof McpError && /gate failed: policy table unreadable/.test(e.message));
    const after = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
    assert.deepEqual(after.content, [{ type: 'text', text: 'Echo: still here' }]);
    await client.close();
    recorder.end();
    journal.close();

    const { records, calls } = onlySession(root);
    const decisions = records.filter((r) => r.type === 'gate_decision');
    assert.deepEqual(
      decisions.map((d) => (d.type === 'gate_decision' ? [d.decision, d.reason ?? null] : [])),
      [['deny', 'gate failed: policy table unreadable']],
    );
    const echoes = toolCalls(calls, 'echo');
    assert.deepEqual(
      echoes.map((c) => [c.outcome, c.answered_by_recorder ?? false]),
      [
        ['error', true],
        ['success', false],
      ],
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
