import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { targetOf, type StdioServerSpec } from '../../src/core/config/servers';
import type { JournalRecord } from '../../src/core/model/records';
import { openDownstream } from '../../src/core/recording/downstream';
import type { Gate } from '../../src/core/recording/gate';
import { Recorder } from '../../src/core/recording/recorder';
import { RecordingTransport } from '../../src/core/recording/transport';
import { JournalWriter } from '../../src/core/store/journal';
import { fixture, NODE, tempDir } from '../helpers/env';
import { readStore } from '../helpers/journal';

/**
 * The proxy forwards a frame and then shows it to the inspectors (the alert engine), or shows a
 * request first when the gate decides with the alerts. Whatever the path — a recorder timeout
 * and the late answer after it, a server gone, frames that are not JSON-RPC, cancellations, held
 * and denied calls — each journaled frame is inspected exactly once, in journal order.
 */

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const spec = (file: string, name: string): StdioServerSpec => ({ name, type: 'stdio', command: NODE, args: [fixture(file)] });
const FRAME_TYPES = new Set(['message', 'non_json', 'opaque']);

async function session(server: StdioServerSpec, run: (client: Client) => Promise<void>, options: { gate?: Gate; requestTimeoutMs?: number } = {}): Promise<{ frames: JournalRecord[]; inspected: Array<{ dir: string; seq?: number; kind: string }> }> {
  const store = tempDir('mcpf-inspect-');
  dirs.push(store);
  const journal = JournalWriter.open(store);
  const recorder = new Recorder({ kind: 'test', journal });
  const inspected: Array<{ dir: string; seq?: number; kind: string }> = [];
  recorder.inspect((_c, dir, t) => inspected.push({ dir, ...(t.seq !== undefined ? { seq: t.seq } : {}), kind: t.envelope.kind }));
  const client = new Client({ name: 'inspect-order', version: '1' });
  await client.connect(new RecordingTransport({ recorder, server: targetOf(server), downstream: (c) => openDownstream(server, c), ...options }));
  await run(client);
  await client.close();
  recorder.end();
  journal.close();
  const frames = readStore(store).records.filter((r) => r.session_id === recorder.sessionId && FRAME_TYPES.has(r.type));
  return { frames, inspected };
}

/** Every frame record inspected once, in journal order (non-JSON frames carry no seq: matched by direction and place). */
function assertInspectedInOrder(frames: JournalRecord[], inspected: Array<{ dir: string; seq?: number }>): void {
  const expected = frames.map((r) => ({ dir: (r as { dir: string }).dir, ...(r.type === 'non_json' ? {} : { seq: r.seq }) }));
  assert.deepEqual(inspected.map(({ dir, seq }) => ({ dir, ...(seq !== undefined ? { seq } : {}) })), expected);
}

describe('inspection order', () => {
  test('a recorder timeout, then the late answer: both inspected once, the request before the timeout error', async () => {
    const { frames, inspected } = await session(
      spec('slow-echo-server.mjs', 'slow'),
      async (client) => {
        await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'late', delayMs: 3600 } }), (e: unknown) => e instanceof McpError && /did not answer/.test(e.message));
        // The late answer arrives: recorded and inspected, not forwarded.
        await new Promise((r) => setTimeout(r, 900));
        assert.deepEqual(((await client.callTool({ name: 'echo', arguments: { message: 'quick' } })) as { content: unknown }).content, [{ type: 'text', text: 'quick' }]);
      },
      // Long enough for initialize while the child starts under load.
      { requestTimeoutMs: 3000 },
    );
    const late = frames.filter((r) => r.type === 'message' && (r as { message: { result?: { content?: Array<{ text?: string }> } } }).message.result?.content?.[0]?.text === 'late');
    assert.equal(late.length, 1, 'the late answer is recorded');
    assertInspectedInOrder(frames, inspected);
  });

  test('frames that are not JSON-RPC; a server that dies mid-call', async () => {
    const banner = await session(spec('banner-server.mjs', 'banner'), async (client) => {
      await client.listTools();
      await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    });
    assert.ok(banner.frames.some((r) => r.type === 'non_json'));
    assertInspectedInOrder(banner.frames, banner.inspected);

    const crash = await session(spec('crash-server.mjs', 'crash'), async (client) => {
      await assert.rejects(client.callTool({ name: 'crash', arguments: {} }), /closed before answering/);
    });
    assertInspectedInOrder(crash.frames, crash.inspected);
  });

  test('a cancelled call, a held call denied by a policy gate, and a call an inspecting gate denies', async () => {
    const heldDeny: Gate = { check: (r) => (r.method === 'tools/call' ? new Promise((resolve) => setTimeout(() => resolve({ action: 'deny', message: 'no' }), 50)) : { action: 'allow' }) };
    const policy = await session(
      spec('slow-echo-server.mjs', 'slow'),
      async (client) => {
        const ac = new AbortController();
        const call = client.callTool({ name: 'echo', arguments: { message: 'x' } }, undefined, { signal: ac.signal });
        ac.abort();
        await assert.rejects(call);
        await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'y' } }), /no/);
      },
      { gate: heldDeny },
    );
    assert.ok(policy.frames.some((r) => r.type === 'message' && (r as { message: { method?: string } }).message.method === 'notifications/cancelled'));
    assertInspectedInOrder(policy.frames, policy.inspected);

    const inspecting: Gate = { inspectsFirst: true, check: (r) => (r.method === 'tools/call' ? { action: 'deny', message: 'denied first' } : { action: 'allow' }) };
    const first = await session(
      spec('slow-echo-server.mjs', 'slow'),
      async (client) => {
        await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'y' } }), /denied first/);
      },
      { gate: inspecting },
    );
    assertInspectedInOrder(first.frames, first.inspected);
  });
});
