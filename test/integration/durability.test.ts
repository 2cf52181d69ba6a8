import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { listSegments, readSegment } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';
import { fixture, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { sessionsIn, toolCalls } from '../helpers/journal';
import { RawRecordClient } from '../helpers/raw-client';
import { assembleSession } from '../../src/core/analysis/calls';

/**
 * The journal's promise: a message is in the journal before its peer has it. Killing the
 * recorder with SIGKILL at arbitrary moments in a stream of concurrent calls must never leave a
 * response the client received missing from the store, and the store must reopen cleanly.
 */

const KILLS = Number(process.env.MCPF_KILL_ITERATIONS ?? 25);
let seed = 20261125;
function random(): number {
  // Deterministic (mulberry32) so a failing iteration can be reproduced.
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function journalText(store: string): string {
  return listSegments(storeLayout(store))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('');
}

describe('kill -9 of the recorder', () => {
  const store = tempDir();
  before(requireBuiltCli);
  after(() => fs.rmSync(store, { recursive: true, force: true }));

  test(`loses no forwarded message over ${KILLS} kills mid-stream`, async () => {
    let received = 0;
    for (let i = 0; i < KILLS; i++) {
      const client = new RawRecordClient(store, [NODE, fixture('slow-echo-server.mjs')]);
      await client.initialize();
      let id = 1;
      const pump = setInterval(() => {
        for (let k = 0; k < 8; k++) client.callTool(id++, 'echo', { message: `iteration ${i} call ${id}`, delayMs: Math.floor(random() * 15) });
      }, 5);
      await new Promise((r) => setTimeout(r, 40 + random() * 200));
      client.child.kill('SIGKILL');
      clearInterval(pump);
      await client.exited;

      // Every response the client got must be in the journal, byte for byte.
      const text = journalText(store);
      for (const line of client.lines) {
        const s = line.toString('utf8');
        if (!s.includes('"result"')) continue;
        received++;
        assert.ok(text.includes(`"message":${s}}`), `iteration ${i}: a response the client received is missing from the journal: ${s}`);
      }
    }
    assert.ok(received > KILLS * 5, `the kills landed mid-stream (${received} responses received)`);

    // The store reopens cleanly: every complete line parses; only torn tails are reported, and dropped.
    let records = 0;
    for (const file of listSegments(storeLayout(store))) {
      const r = readSegment(file, 0, { final: true });
      assert.deepEqual(r.problems.filter((p) => p.kind !== 'torn_tail'), [], `${file} has no corrupt lines`);
      assert.ok(r.header, `${file} starts with its segment header`);
      records += r.records.length;
    }
    assert.ok(records > 0);
    const sessions = sessionsIn(store);
    assert.equal(sessions.size, KILLS, 'one session per recorder process');
    for (const recs of sessions.values()) {
      assert.equal(recs.filter((r) => r.type === 'session_end').length, 0, 'a killed recorder never wrote session_end');
    }
  });
});

describe('two recorders writing into one store at once', () => {
  const store = tempDir();
  before(requireBuiltCli);
  after(() => fs.rmSync(store, { recursive: true, force: true }));

  test('lose nothing', async () => {
    const CALLS = 300;
    const run = async (name: string) => {
      const client = new RawRecordClient(store, [NODE, fixture('slow-echo-server.mjs')], ['--name', name]);
      await client.initialize();
      for (let id = 1; id <= CALLS; id++) client.callTool(id, 'echo', { message: `${name} ${id}` });
      for (let id = 1; id <= CALLS; id++) await client.response(id);
      assert.equal((await client.close()).code, 0);
    };
    await Promise.all([run('alpha'), run('beta')]);

    const sessions = sessionsIn(store);
    assert.equal(sessions.size, 2);
    const names = new Set<string>();
    for (const recs of sessions.values()) {
      const a = assembleSession(recs.map((record) => ({ record })));
      const calls = toolCalls([...a.calls.values()]);
      assert.equal(calls.length, CALLS);
      assert.ok(calls.every((c) => c.outcome === 'success'));
      const name = a.session!.connections[0]!.server.name;
      names.add(name);
      assert.deepEqual(
        calls.map((c) => (c.input as { message: string }).message),
        Array.from({ length: CALLS }, (_, k) => `${name} ${k + 1}`),
      );
      const seqs = recs.map((r) => r.seq);
      assert.deepEqual(seqs, seqs.map((_, k) => k + 1));
    }
    assert.deepEqual([...names].sort(), ['alpha', 'beta']);
  });
});
