import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { type ConnectionRecorder, Recorder } from '../../src/core/recording/recorder';
import { JournalWriter } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';
import { openStore, type Store } from '../../src/core/store/store';
import { storeSnapshot } from '../helpers/store-snapshot';

/**
 * The store's live path as the extension host runs it: catch-up in time-budgeted slices, and the
 * index image saved in the background (export on the event loop, write + fsync + rename off it).
 * Real journals, real sql.js images on disk, read back by a second opener as another process would.
 */

const temps: string[] = [];
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

function tempStore(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-slices-'));
  temps.push(dir);
  return path.join(dir, 'store');
}

const rpc = (o: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...o }));

class Agent {
  readonly journal: JournalWriter;
  readonly recorder: Recorder;
  readonly conn: ConnectionRecorder;
  private next = 1;
  constructor(root: string, server: string, opts: { maxSegmentBytes?: number } = {}) {
    this.journal = JournalWriter.open(root, opts);
    this.recorder = new Recorder({ kind: 'test', journal: this.journal });
    this.conn = this.recorder.openConnection({ name: server, transport: 'stdio', command: 'node' }, 'stdio');
  }
  calls(n: number, opts: { fail?: boolean } = {}): void {
    for (let i = 0; i < n; i++) {
      const id = this.next++;
      this.conn.message('client_to_server', rpc({ id, method: 'tools/call', params: { name: 'echo', arguments: { n: id, text: 'x'.repeat(200) } } }));
      this.conn.message('server_to_client', opts.fail && i % 3 === 0 ? rpc({ id, error: { code: -32603, message: `boom ${id}` } }) : rpc({ id, result: { content: [{ type: 'text', text: `echo ${id}` }] } }));
    }
  }
  end(): void {
    this.conn.event({ type: 'connection_close', reason: 'client closed' });
    this.recorder.end();
    this.journal.close();
  }
}

/** What another process sees: the saved image alone, no catch-up of its own. */
async function imageCalls(root: string): Promise<number> {
  const reader = await openStore(root, { catchUp: false });
  try {
    return reader.countCalls({});
  } finally {
    reader.close();
  }
}

function tempImages(root: string): string[] {
  const layout = storeLayout(root);
  return fs.readdirSync(layout.root).filter((n) => n.startsWith(`${path.basename(layout.indexFile)}.tmp-`));
}

describe('store: catch-up in slices', () => {
  test('slices with a budget end where a single catch-up ends: same index, every call reported once', async () => {
    const root = tempStore();
    // Two writers, one of them rotating segments, one session ended and one still live.
    const a = new Agent(root, 'alpha', { maxSegmentBytes: 8 * 1024 });
    a.calls(40, { fail: true });
    a.end();
    const b = new Agent(root, 'beta');
    b.calls(25);

    const sliced = await openStore(root, { catchUp: false });
    const reported = new Map<string, number>();
    sliced.onDidChange((e) => {
      for (const c of e.calls) reported.set(`${c.session_id}/${c.call_id}`, (reported.get(`${c.session_id}/${c.call_id}`) ?? 0) + 1);
    });
    let slices = 0;
    let records = 0;
    for (;;) {
      // A budget of 0: each slice reads one line per segment at most, the harshest cut.
      const r = sliced.catchUp({ budgetMs: 0 });
      slices++;
      records += r.records;
      if (!r.more) break;
      assert.ok(slices < 10_000, 'slices make progress');
    }
    assert.ok(slices > 50, `the work was cut in slices (${slices})`);

    const whole = await openStore(root);
    assert.equal(records, whole.initialCatchUp?.records);
    assert.deepEqual(storeSnapshot(sliced), storeSnapshot(whole));
    const calls = whole.calls({ limit: 100_000 });
    assert.equal(calls.filter((c) => c.method === 'tools/call').length, 65);
    assert.equal(calls.filter((c) => c.outcome === 'error').length, 14);
    assert.equal(reported.size, calls.length, 'every call reported');
    // A call reported twice is one reported pending, then again when its response came in a later slice.
    for (const c of calls) assert.ok((reported.get(`${c.session_id}/${c.call_id}`) ?? 0) <= 2);

    // Once caught up, a budgeted catch-up of what is new reads it whole when it fits.
    b.calls(3);
    const r = sliced.catchUp({ budgetMs: 10_000 });
    assert.equal(r.more, undefined);
    assert.equal(r.calls, 3);
    assert.equal(sliced.countCalls({}), whole.countCalls({}) + 3);
    b.end();
    sliced.close();
    whole.close();
  });

  test('the watcher catches up a burst in slices and reports every call', async () => {
    const root = tempStore();
    const a = new Agent(root, 'burst');
    const store = await openStore(root);
    const seen = new Set<string>();
    let events = 0;
    store.onDidChange((e) => {
      events++;
      for (const c of e.calls) seen.add(c.call_id);
    });
    a.calls(300);
    const w = store.watch(10, { sliceMs: 2 });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const deadline = Date.now() + 30_000;
      while (seen.size < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      clearInterval(keepAlive);
    }
    w.dispose();
    assert.equal(seen.size, 300);
    assert.ok(events > 1, `a burst is reported slice by slice (${events} events)`);
    assert.equal(store.countCalls({ outcome: 'success' }), 300);
    a.end();
    store.close();
  });
});

describe('store: saving the index in the background', () => {
  test('the watcher saves once the journal is quiet; another process reads a whole image', async () => {
    const root = tempStore();
    const a = new Agent(root, 'quiet');
    const store = await openStore(root, { writeIndex: true });
    assert.equal(await imageCalls(root), 0);
    a.calls(30);
    const w = store.watch(10, { idleSaveMs: 0 });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const deadline = Date.now() + 30_000;
      while ((await imageCalls(root)) < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      clearInterval(keepAlive);
    }
    w.dispose();
    await store.flushSaves();
    assert.equal(await imageCalls(root), 30);
    assert.equal(store.isDirty, false);
    assert.deepEqual(tempImages(root), []);
    a.end();
    store.close();
  });

  test('while recording never pauses, the watcher still saves every autoSaveMs', async () => {
    const root = tempStore();
    const a = new Agent(root, 'busy');
    const store = await openStore(root, { writeIndex: true });
    // idleSaveMs far away: only the busy path can save.
    const w = store.watch(5, { autoSaveMs: 0, idleSaveMs: 3_600_000 });
    const keepAlive = setInterval(() => {}, 1000);
    let saved = 0;
    try {
      const deadline = Date.now() + 30_000;
      while (saved === 0 && Date.now() < deadline) {
        a.calls(2);
        await new Promise((r) => setTimeout(r, 10));
        saved = await imageCalls(root);
      }
    } finally {
      clearInterval(keepAlive);
    }
    w.dispose();
    await store.flushSaves();
    assert.ok(saved > 0, 'an image was saved while calls kept coming');
    a.end();
    store.close();
  });

  test('a synchronous save during a background one wins: the older image is never renamed over it', async () => {
    const root = tempStore();
    const a = new Agent(root, 'race');
    const store = await openStore(root, { writeIndex: true });
    a.calls(10);
    store.catchUp();
    // The watcher's save, started by hand so the test knows it is in flight.
    (store as unknown as { saveInBackground(): void }).saveInBackground();
    a.calls(5);
    store.catchUp();
    assert.equal(store.save(), true);
    await store.flushSaves();
    assert.equal(await imageCalls(root), 15, 'the newer image stays');
    assert.deepEqual(tempImages(root), [], 'the superseded temporary image is removed');
    a.end();
    store.close();
  });

  test('closing during a background save saves everything and leaves no temporary image', async () => {
    const root = tempStore();
    const a = new Agent(root, 'closing');
    const store = await openStore(root, { writeIndex: true });
    a.calls(10);
    store.catchUp();
    (store as unknown as { saveInBackground(): void }).saveInBackground();
    assert.equal(store.isDirty, false, 'the exported image is on its way');
    a.calls(4);
    store.catchUp();
    store.close();
    await store.flushSaves();
    assert.equal(await imageCalls(root), 14);
    assert.deepEqual(tempImages(root), []);
    assert.equal(fs.existsSync(storeLayout(root).lockFile), false, 'lock released');

    // Closed right after the export, with nothing new: the close's own save still puts the image in place.
    const again = await openStore(root, { writeIndex: true });
    const b = new Agent(root, 'closing2');
    b.calls(3);
    again.catchUp();
    (again as unknown as { saveInBackground(): void }).saveInBackground();
    again.close();
    await again.flushSaves();
    assert.equal(await imageCalls(root), 17);
    assert.deepEqual(tempImages(root), []);
    b.end();
    a.end();
  });
});
