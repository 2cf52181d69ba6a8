import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import initSqlJs from 'sql.js';
import { type ConnectionRecorder, Recorder } from '../../src/core/recording/recorder';
import { SCHEMA_VERSION } from '../../src/core/store/index-db';
import { JournalWriter, listSegments } from '../../src/core/store/journal';
import { StoreMissingError, storeLayout } from '../../src/core/store/layout';
import { IndexLock } from '../../src/core/store/lock';
import { type CallRow, openStore, type Store, type StoreChange } from '../../src/core/store/store';
import { storeSnapshot } from '../helpers/store-snapshot';

/**
 * The store over real journal files written by the real Recorder and JournalWriter, and by real
 * child processes recording at the same time. No mocks: every assertion reads what is on disk.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const temps: string[] = [];
const children: ChildProcess[] = [];

function tempStore(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-store-'));
  temps.push(dir);
  return path.join(dir, 'store');
}

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

const up = 'client_to_server' as const;
const down = 'server_to_client' as const;
const rpc = (o: Record<string, unknown>): string => JSON.stringify({ jsonrpc: '2.0', ...o });

/** The handshake a real client and server go through. */
function handshake(conn: ConnectionRecorder, server: string): void {
  conn.message(up, rpc({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { roots: {} }, clientInfo: { name: 'test-agent', version: '3.1.0' } } }));
  conn.message(down, rpc({ id: 0, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: server, version: '1.2.3' } } }));
  conn.message(up, rpc({ method: 'notifications/initialized' }));
  conn.message(up, rpc({ id: 1, method: 'tools/list' }));
  conn.message(
    down,
    rpc({
      id: 1,
      result: {
        tools: [
          { name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
          { name: 'write_file', inputSchema: { type: 'object' }, annotations: { destructiveHint: true } },
        ],
      },
    }),
  );
}

interface Traffic {
  /** Successful tools/call calls. */
  ok: number;
  /** isError results. */
  toolErrors: number;
  /** JSON-RPC errors. */
  rpcErrors: number;
  /** Requests left without an answer. */
  pending: number;
  /** Raw frames written, in order, for body comparisons. */
  frames: string[];
}

/** A realistic mix of tools/call traffic: results, isError results, JSON-RPC errors, progress. */
function traffic(conn: ConnectionRecorder, n: number, firstId: number, tag: string, opts: { leavePending?: number } = {}): Traffic {
  const t: Traffic = { ok: 0, toolErrors: 0, rpcErrors: 0, pending: 0, frames: [] };
  const send = (dir: typeof up | typeof down, frame: string): void => {
    t.frames.push(frame);
    conn.message(dir, frame);
  };
  for (let i = 0; i < n; i++) {
    const id = firstId + i;
    const kind = i % 5;
    if (kind === 3) {
      send(up, rpc({ id, method: 'tools/call', params: { name: 'write_file', arguments: { path: `/tmp/${tag}-${i}.txt`, content: `${tag} body ${i}` } } }));
      send(down, rpc({ id, result: { content: [{ type: 'text', text: `EACCES: permission denied, open '/tmp/${tag}-${i}.txt'` }], isError: true } }));
      t.toolErrors++;
    } else if (kind === 4) {
      send(up, rpc({ id, method: 'tools/call', params: { name: 'echo', arguments: { message: 42 } } }));
      send(down, rpc({ id, error: { code: -32602, message: `Invalid params: message must be a string (${tag})` } }));
      t.rpcErrors++;
    } else {
      send(up, rpc({ id, method: 'tools/call', params: { name: 'echo', arguments: { message: `${tag} hello ${i}` }, _meta: { progressToken: `${tag}-p${i}` } } }));
      if (kind === 1) send(down, rpc({ method: 'notifications/progress', params: { progressToken: `${tag}-p${i}`, progress: 1, total: 2 } }));
      send(down, rpc({ id, result: { content: [{ type: 'text', text: `Echo: ${tag} hello ${i}` }] } }));
      t.ok++;
    }
  }
  for (let i = 0; i < (opts.leavePending ?? 0); i++) {
    send(up, rpc({ id: firstId + n + i, method: 'tools/call', params: { name: 'echo', arguments: { message: `${tag} never answered ${i}` } } }));
    t.pending++;
  }
  return t;
}

interface Written {
  root: string;
  sessionId: string;
  traffic: Traffic;
  segment: string;
}

/** One whole recorded session through the real Recorder and JournalWriter. */
function recordSession(root: string, server: string, n: number, opts: { end?: boolean; leavePending?: number; maxSegmentBytes?: number } = {}): Written {
  const journal = JournalWriter.open(root, opts.maxSegmentBytes ? { maxSegmentBytes: opts.maxSegmentBytes } : {});
  const recorder = new Recorder({ kind: 'test', journal });
  const conn = recorder.openConnection({ name: server, transport: 'stdio', command: 'node', args: [`${server}.js`] }, 'stdio');
  handshake(conn, server);
  const t = traffic(conn, n, 10, server, opts.leavePending !== undefined ? { leavePending: opts.leavePending } : {});
  const segment = journal.currentSegment;
  if (opts.end !== false) {
    conn.event({ type: 'process_exit', code: 0, signal: null });
    conn.event({ type: 'connection_close', reason: 'client closed' });
    recorder.end();
  }
  journal.close();
  return { root, sessionId: recorder.sessionId, traffic: t, segment };
}

function toolCalls(rows: CallRow[]): CallRow[] {
  return rows.filter((c) => c.method === 'tools/call');
}

/** A small recorder program run as a real child process. */
function writerScript(dir: string): string {
  const file = path.join(dir, 'writer.ts');
  const src = (p: string): string => JSON.stringify(path.join(ROOT, 'src', p));
  fs.writeFileSync(
    file,
    `import { JournalWriter } from ${src('core/store/journal')};
import { Recorder } from ${src('core/recording/recorder')};
const [root, server, count, mode] = process.argv.slice(2);
const journal = JournalWriter.open(root!, { maxSegmentBytes: 32 * 1024 });
const recorder = new Recorder({ kind: 'test', journal });
const conn = recorder.openConnection({ name: server!, transport: 'stdio', command: 'node' }, 'stdio');
const rpc = (o: object) => JSON.stringify({ jsonrpc: '2.0', ...o });
conn.message('client_to_server', rpc({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'child-agent', version: '1' } } }));
conn.message('server_to_client', rpc({ id: 0, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: server, version: '9' } } }));
(async () => {
  const n = Number(count);
  for (let i = 0; i < n; i++) {
    const id = 100 + i;
    conn.message('client_to_server', rpc({ id, method: 'tools/call', params: { name: 'echo', arguments: { message: server + ' ' + i + ' ' + 'x'.repeat(200) } } }));
    conn.message('server_to_client', rpc({ id, result: { content: [{ type: 'text', text: 'Echo: ' + server + ' ' + i } ] } }));
    // Yield now and then so both writers really interleave with each other and with the reader.
    if (i % 25 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  if (mode === 'hang') {
    conn.message('client_to_server', rpc({ id: 99999, method: 'tools/call', params: { name: 'slow', arguments: {} } }));
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);
    return;
  }
  recorder.end();
  journal.close();
  process.stdout.write(recorder.sessionId + '\\n');
})();
`,
  );
  return file;
}

function runChild(script: string, args: string[]): { child: ChildProcess; output: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const output = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      if (out.endsWith('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`writer exited ${code}: ${err}`))));
  });
  return { child, output, exited };
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

// -------------------------------------------------------------------------------------------------

describe('store: calls from the journal', () => {
  const root = tempStore();
  const a = recordSession(root, 'alpha', 20, { leavePending: 1 });
  const b = recordSession(root, 'beta', 7);
  let store: Store;

  test('sessions are listed newest first, with counts and servers', async () => {
    store = await openStore(root, { writeIndex: true });
    const sessions = store.sessions();
    assert.deepEqual(
      sessions.map((s) => s.session_id),
      [b.sessionId, a.sessionId],
    );
    const sa = sessions[1]!;
    assert.equal(sa.recorder_kind, 'test');
    assert.deepEqual(sa.servers, ['alpha']);
    assert.equal(sa.ended, true);
    assert.equal(sa.writer_alive, true, 'the writer is this very process');
    assert.equal(sa.tool_calls, 21);
    assert.equal(sa.successful, a.traffic.ok);
    assert.equal(sa.failed, a.traffic.toolErrors + a.traffic.rpcErrors);
    assert.equal(sa.pending, 1);
    assert.equal(sa.calls, 23, 'initialize + tools/list + 21 tool calls');
    assert.equal(store.latestSessionId(), b.sessionId);
  });

  test('calls are paired, classified and located in the journal', () => {
    const calls = store.calls({ sessionId: a.sessionId });
    assert.equal(calls.length, 23);
    assert.deepEqual(
      calls.map((c) => c.request_seq),
      [...calls.map((c) => c.request_seq)].sort((x, y) => x - y),
      'request order within a session',
    );
    const init = calls[0]!;
    assert.equal(init.method, 'initialize');
    assert.equal(init.outcome, 'success');
    assert.equal(init.agent_id, 'test-agent/3.1.0');
    const tools = toolCalls(calls);
    const ok = tools.find((c) => c.request_id === 11)!;
    assert.equal(ok.outcome, 'success');
    assert.equal(ok.tool, 'echo');
    assert.equal(ok.server, 'alpha');
    assert.equal(ok.server_version, '1.2.3');
    assert.equal(ok.progress_count, 1);
    assert.match(ok.input_summary, /alpha hello 1/);
    assert.match(ok.output_summary!, /Echo: alpha hello 1/);
    assert.ok(ok.duration_ms !== undefined && ok.duration_ms >= 0);
    assert.ok(ok.ended_at! >= ok.timestamp);
    const toolError = tools.find((c) => c.request_id === 13)!;
    assert.equal(toolError.outcome, 'error');
    assert.equal(toolError.error?.error_class, 'tool_error');
    assert.match(toolError.error!.message, /EACCES/);
    const rpcError = tools.find((c) => c.request_id === 14)!;
    assert.equal(rpcError.outcome, 'error');
    assert.equal(rpcError.error?.error_class, 'invalid_params');
    assert.equal(rpcError.error?.error_code, -32602);
    const pending = tools.find((c) => c.outcome === 'pending')!;
    assert.equal(pending.response_location, undefined);
    assert.equal(store.call(a.sessionId, ok.call_id)?.request_id, 11);
    assert.equal(store.call(a.sessionId, 'c1:999999'), undefined);
  });

  test('bodies are read from the journal by location, exactly as written', () => {
    const call = toolCalls(store.calls({ sessionId: a.sessionId }))[0]!;
    const { request, response } = store.callBodies(call);
    assert.equal(request?.type, 'message');
    assert.equal(response?.type, 'message');
    const frames = a.traffic.frames.map((f) => JSON.parse(f) as { id?: unknown });
    assert.deepEqual((request as { message: unknown }).message, frames.find((f) => f.id === call.request_id));
    assert.deepEqual((response as { message: unknown }).message, frames.filter((f) => f.id === call.request_id)[1]);
    assert.deepEqual(store.readBody(call.request_location!), request);
  });

  test('filters: server, tool, outcome, text, paging, order', () => {
    assert.equal(store.calls({ server: 'beta' }).length, 9);
    assert.equal(store.calls({ server: 'beta', tool: 'write_file' }).length, 1);
    assert.equal(store.calls({ outcome: 'error' }).length, a.traffic.toolErrors + a.traffic.rpcErrors + b.traffic.toolErrors + b.traffic.rpcErrors);
    assert.equal(store.calls({ outcome: ['pending'] }).length, 1);
    assert.equal(store.calls({ server: 'alpha', outcome: 'error', text: 'eacces' }).length, a.traffic.toolErrors, 'text search is case-insensitive');
    assert.equal(store.calls({ text: '100%_' }).length, 0, 'LIKE wildcards in the text are literal');
    assert.equal(store.countCalls({ server: 'alpha' }), 23);
    const newest = store.calls({ limit: 3 });
    assert.equal(newest.length, 3);
    assert.ok(newest[0]!.timestamp >= newest[2]!.timestamp, 'newest first across sessions');
    const page2 = store.calls({ sessionId: a.sessionId, limit: 5, offset: 5 });
    assert.deepEqual(
      page2.map((c) => c.call_id),
      store
        .calls({ sessionId: a.sessionId })
        .slice(5, 10)
        .map((c) => c.call_id),
    );
    assert.deepEqual(store.calls({ sessionId: 'no-such-session' }), []);
  });

  test('readSessionRecords streams exactly the session, in order', () => {
    const records = [...store.readSessionRecords(a.sessionId)];
    assert.equal(records[0]!.record.type, 'session_start');
    assert.equal(records.at(-1)!.record.type, 'session_end');
    assert.ok(records.every((r) => r.record.session_id === a.sessionId));
    const seqs = records.map((r) => r.record.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
    );
    for (const r of records.slice(0, 5)) assert.deepEqual(store.readBody(r.location), r.record);
  });

  test('connections and events', () => {
    const conns = store.connections(a.sessionId);
    assert.equal(conns.length, 1);
    assert.equal(conns[0]!.info.server.version, '1.2.3');
    assert.equal(conns[0]!.info.agent?.name, 'test-agent');
    assert.deepEqual(
      conns[0]!.info.tools?.map((t) => t.name),
      ['echo', 'write_file'],
    );
    assert.equal(conns[0]!.info.close_reason, 'client closed');
    const events = store.events(a.sessionId);
    assert.deepEqual(
      events.map((e) => [e.type, e.summary]),
      [
        ['process_exit', 'process exited with code 0'],
        ['connection_close', 'connection closed: client closed'],
      ],
    );
    assert.deepEqual(store.readBody(events[0]!.location).type, 'process_exit');
    assert.deepEqual(store.alerts(), []);
    const servers = store.servers();
    assert.deepEqual(
      servers.map((s) => s.server),
      ['alpha', 'beta'],
    );
    store.close();
  });
});

describe('store: live tailing and re-assembly', () => {
  test('a live session is tailed; a reopen re-assembles unfinished sessions without duplicates, across rotated segments', async () => {
    const root = tempStore();
    const journal = JournalWriter.open(root, { maxSegmentBytes: 4 * 1024 });
    const recorder = new Recorder({ kind: 'test', journal });
    const conn = recorder.openConnection({ name: 'live', transport: 'stdio', command: 'node' }, 'stdio');
    handshake(conn, 'live');
    traffic(conn, 10, 10, 'live');
    conn.message(up, rpc({ id: 500, method: 'tools/call', params: { name: 'echo', arguments: { message: 'slow one' } } }));

    let store = await openStore(root, { writeIndex: true });
    const changes: StoreChange[] = [];
    store.onDidChange((e) => changes.push(e));
    let s = store.session(recorder.sessionId)!;
    assert.equal(s.ended, false);
    assert.equal(s.writer_alive, true);
    assert.equal(s.tool_calls, 11);
    assert.equal(s.pending, 1);

    traffic(conn, 5, 100, 'live2');
    const r = store.catchUp();
    assert.ok(r.records > 0);
    assert.equal(r.problems.length, 0);
    assert.equal(store.session(recorder.sessionId)!.tool_calls, 16);
    assert.equal(changes.length, 1);
    assert.ok(changes[0]!.calls.some((c) => c.session_id === recorder.sessionId));
    assert.equal(store.catchUp().records, 0, 'nothing new: nothing read');
    store.close();

    // Closed and reopened: the assembler state is gone; the pending call's answer arrives now.
    conn.message(down, rpc({ id: 500, result: { content: [{ type: 'text', text: 'finally' }] } }));
    traffic(conn, 5, 200, 'live3');
    recorder.end();
    journal.close();
    assert.ok(listSegments(storeLayout(root)).length > 3, 'the session spans several segments');

    store = await openStore(root, { writeIndex: true });
    s = store.session(recorder.sessionId)!;
    assert.equal(s.ended, true);
    assert.equal(s.tool_calls, 21);
    assert.equal(s.pending, 0);
    const calls = store.calls({ sessionId: recorder.sessionId });
    assert.equal(calls.length, 23);
    assert.equal(new Set(calls.map((c) => c.call_id)).size, 23, 'no duplicates');
    assert.equal(calls.find((c) => c.request_id === 500)?.outcome, 'success');
    assert.equal(calls.find((c) => c.request_id === 500)?.output_summary?.includes('finally'), true);
    const records = [...store.readSessionRecords(recorder.sessionId)];
    assert.equal(records.length, s.records);
    store.close();
  });

  test('watch() polls and fires onDidChange with the touched calls', async () => {
    const root = tempStore();
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const conn = recorder.openConnection({ name: 'watched', transport: 'stdio', command: 'node' }, 'stdio');
    handshake(conn, 'watched');
    const store = await openStore(root);
    const seen = new Promise<StoreChange>((resolve) => store.onDidChange((e) => e.calls.length && resolve(e)));
    const w = store.watch(20);
    conn.message(up, rpc({ id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'watch me' } } }));
    // watch()'s timer does not keep a process alive by itself (a CLI must be able to exit): this test does.
    const keepAlive = setTimeout(() => {}, 10_000);
    const e = await seen;
    clearTimeout(keepAlive);
    assert.equal(e.calls.length, 1);
    assert.equal(e.calls[0]!.session_id, recorder.sessionId);
    const call = store.call(recorder.sessionId, e.calls[0]!.call_id);
    assert.equal(call?.request_id, 7);
    assert.equal(call?.outcome, 'pending');
    w.dispose();
    recorder.end();
    journal.close();
    store.close();
  });

  test('an incomplete last line of a live writer is left for later, then read once complete', async () => {
    const root = tempStore();
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const conn = recorder.openConnection({ name: 'partial', transport: 'stdio', command: 'node' }, 'stdio');
    handshake(conn, 'partial');
    const segment = journal.currentSegment;
    journal.close(); // the writer's file stays open-ended: we continue it by hand, as a slow write would
    const line = JSON.stringify({ type: 'message', session_id: recorder.sessionId, seq: 999, ts: new Date().toISOString(), mono: 1, connection_id: 'c1', dir: up, size: 10, message: { jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'echo', arguments: {} } } });
    fs.appendFileSync(segment, line.slice(0, 40));
    const store = await openStore(root);
    assert.deepEqual(store.initialCatchUp!.problems, [], 'a live writer mid-line is not a torn tail');
    fs.appendFileSync(segment, line.slice(40) + '\n');
    const r = store.catchUp();
    assert.equal(r.records, 1);
    assert.equal(store.calls({ sessionId: recorder.sessionId, tool: 'echo' })[0]?.request_id, 77);
    store.close();
  });
});

describe('store: several writers at once', () => {
  test('two in-process writers interleaving: nothing lost, the index sees all', async () => {
    const root = tempStore();
    const j1 = JournalWriter.open(root);
    const j2 = JournalWriter.open(root);
    const r1 = new Recorder({ kind: 'test', journal: j1 });
    const r2 = new Recorder({ kind: 'test', journal: j2 });
    const c1 = r1.openConnection({ name: 'one', transport: 'stdio', command: 'node' }, 'stdio');
    const c2 = r2.openConnection({ name: 'two', transport: 'stdio', command: 'node' }, 'stdio');
    handshake(c1, 'one');
    handshake(c2, 'two');
    const store = await openStore(root, { writeIndex: true });
    for (let round = 0; round < 10; round++) {
      traffic(c1, 10, 1000 + round * 10, 'one');
      traffic(c2, 10, 1000 + round * 10, 'two');
      store.catchUp();
    }
    r1.end();
    r2.end();
    j1.close();
    j2.close();
    store.catchUp();
    const sessions = store.sessions();
    assert.equal(sessions.length, 2);
    for (const s of sessions) {
      assert.equal(s.tool_calls, 100);
      assert.equal(s.successful, 60);
      assert.equal(s.failed, 40);
      assert.equal(s.pending, 0);
    }
    store.close();
  });

  test('two real recorder processes writing concurrently, tailed live by a third', { timeout: 60_000 }, async () => {
    const root = tempStore();
    fs.mkdirSync(path.dirname(root), { recursive: true });
    const script = writerScript(path.dirname(root));
    JournalWriter.open(root).close(); // create the store before the children race for it
    const store = await openStore(root, { writeIndex: true });
    const w = store.watch(10);
    const a = runChild(script, [root, 'proc-a', '400']);
    const b = runChild(script, [root, 'proc-b', '400']);
    const [ida, idb] = await Promise.all([a.output, b.output]);
    w.dispose();
    store.catchUp();
    for (const id of [ida, idb]) {
      const s = store.session(id)!;
      assert.ok(s, `session ${id} indexed`);
      assert.equal(s.ended, true);
      assert.equal(s.tool_calls, 400);
      assert.equal(s.successful, 400);
      assert.equal(store.countCalls({ sessionId: id, tool: 'echo' }), 400);
    }
    assert.deepEqual(store.problems(), []);
    assert.ok(listSegments(storeLayout(root)).length > 4, 'writers rotated segments while being read');
    store.close();

    // The same store rebuilt from nothing agrees with the live-tailed one.
    const live = await openStore(root);
    const liveView = storeSnapshot(live);
    live.close();
    fs.rmSync(storeLayout(root).indexFile);
    const rebuilt = await openStore(root);
    assert.deepEqual(storeSnapshot(rebuilt), liveView);
    rebuilt.close();
  });

  test('a recorder killed mid-session: not ended, writer gone, call left pending', { timeout: 60_000 }, async () => {
    const root = tempStore();
    const script = writerScript(path.dirname(root));
    JournalWriter.open(root).close();
    const c = runChild(script, [root, 'doomed', '30', 'hang']);
    await c.output;
    c.child.kill('SIGKILL');
    await c.exited;
    const store = await openStore(root);
    const s = store.sessions().find((x) => x.servers.includes('doomed'))!;
    assert.equal(s.ended, false);
    assert.equal(s.writer_alive, false, 'interrupted: no session_end and its process is gone');
    assert.equal(s.pending, 1);
    assert.equal(s.successful, 30);
    store.close();
  });
});

describe('store: the index lock', () => {
  test('only the holder writes index.sqlite; a second opener catches up in memory', async () => {
    const root = tempStore();
    recordSession(root, 'locked', 5);
    const layout = storeLayout(root);
    const first = await openStore(root, { writeIndex: true });
    assert.equal(first.holdsIndexLock, true);
    const lockOwner = JSON.parse(fs.readFileSync(layout.lockFile, 'utf8')) as { pid: number; hostname: string; time: string };
    assert.equal(lockOwner.pid, process.pid);
    assert.equal(lockOwner.hostname, os.hostname());
    assert.ok(Date.parse(lockOwner.time) > 0);

    const before = fs.statSync(layout.indexFile);
    const beforeBytes = fs.readFileSync(layout.indexFile);
    const second = await openStore(root, { writeIndex: true });
    assert.equal(second.holdsIndexLock, false);
    assert.match(second.warnings.join('\n'), /in memory only/);
    assert.equal(second.indexLockHolder?.pid, process.pid);
    recordSession(root, 'more', 3);
    second.catchUp();
    assert.equal(second.sessions().length, 2);
    assert.equal(second.save(), false);
    second.close();
    const afterSecond = fs.statSync(layout.indexFile);
    assert.equal(afterSecond.ino, before.ino);
    assert.equal(afterSecond.mtimeMs, before.mtimeMs);
    assert.deepEqual(fs.readFileSync(layout.indexFile), beforeBytes);

    first.catchUp();
    first.close();
    assert.equal(fs.existsSync(layout.lockFile), false, 'released on close');
    assert.notEqual(fs.statSync(layout.indexFile).ino, before.ino, 'the holder saved on close');
  });

  test('a stale lock from a dead process is taken over; live and foreign-host locks are not', async () => {
    const root = tempStore();
    recordSession(root, 'stale', 2);
    const layout = storeLayout(root);
    const lockOf = (pid: number, hostname = os.hostname()): string => JSON.stringify({ pid, hostname, time: new Date().toISOString(), token: crypto.randomBytes(8).toString('hex') });

    fs.writeFileSync(layout.lockFile, lockOf(deadPid()));
    const s1 = await openStore(root, { writeIndex: true });
    assert.equal(s1.holdsIndexLock, true);
    assert.equal((JSON.parse(fs.readFileSync(layout.lockFile, 'utf8')) as { pid: number }).pid, process.pid);
    s1.close();

    // A live process (the parent of this test runner) holds it.
    fs.writeFileSync(layout.lockFile, lockOf(process.ppid));
    const s2 = await openStore(root, { writeIndex: true });
    assert.equal(s2.holdsIndexLock, false);
    s2.close();
    assert.equal(fs.existsSync(layout.lockFile), true, 'not ours: left alone');

    // Another host's fresh lock cannot be probed: it is respected.
    fs.writeFileSync(layout.lockFile, lockOf(deadPid(), 'some-other-host.example'));
    const s3 = await openStore(root, { writeIndex: true });
    assert.equal(s3.holdsIndexLock, false);
    s3.close();
    fs.rmSync(layout.lockFile);
  });

  test('processes racing for the same stale lock: exactly one wins', { timeout: 60_000 }, async () => {
    const root = tempStore();
    recordSession(root, 'race', 1);
    const layout = storeLayout(root);
    fs.writeFileSync(layout.lockFile, JSON.stringify({ pid: deadPid(), hostname: os.hostname(), time: new Date().toISOString(), token: 'dead' }));
    const dir = path.dirname(root);
    const go = path.join(dir, 'go');
    const script = path.join(dir, 'racer.ts');
    // Each racer waits at a barrier, tries once, and holds what it got until told to stop, so a
    // slow starter can never arrive after the winner let go.
    fs.writeFileSync(
      script,
      `import * as fs from 'node:fs';
import { IndexLock } from ${JSON.stringify(path.join(ROOT, 'src', 'core', 'store', 'lock'))};
const [lockFile, go] = process.argv.slice(2);
process.stdout.write('ready\\n');
while (!fs.existsSync(go!)) {}
const r = IndexLock.tryAcquire(lockFile!);
process.stdout.write(r.acquired ? 'won\\n' : 'lost\\n');
process.stdin.on('end', () => {
  if (r.acquired) r.lock.release();
  process.exit(0);
});
process.stdin.resume();
`,
    );
    const racers = Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, layout.lockFile, go], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      const lines: string[] = [];
      const waiters: Array<() => void> = [];
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          waiters.splice(0).forEach((w) => w());
        }
      });
      const line = async (n: number): Promise<string> => {
        while (lines.length <= n) await new Promise<void>((r) => waiters.push(r));
        return lines[n]!;
      };
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      return { child, line, exited };
    });
    assert.deepEqual(await Promise.all(racers.map((r) => r.line(0))), ['ready', 'ready', 'ready', 'ready']);
    fs.writeFileSync(go, '');
    const results = await Promise.all(racers.map((r) => r.line(1)));
    assert.equal(results.filter((r) => r === 'won').length, 1, `results: ${results.join(',')}`);
    for (const r of racers) r.child.stdin!.end();
    await Promise.all(racers.map((r) => r.exited));
    assert.equal(fs.existsSync(layout.lockFile), false);
    assert.equal(fs.existsSync(`${layout.lockFile}.break`), false);
  });

  test('IndexLock.verify notices a lost lock, and release leaves a foreign lock alone', () => {
    const root = tempStore();
    recordSession(root, 'verify', 1);
    const layout = storeLayout(root);
    const attempt = IndexLock.tryAcquire(layout.lockFile);
    assert.ok(attempt.acquired);
    assert.equal(attempt.lock.verify(), true);
    fs.writeFileSync(layout.lockFile, JSON.stringify({ pid: process.pid, hostname: os.hostname(), time: new Date().toISOString(), token: 'someone-else' }));
    assert.equal(attempt.lock.verify(), false);
    attempt.lock.release();
    assert.equal(fs.existsSync(layout.lockFile), true);
    fs.rmSync(layout.lockFile);
  });
});

describe('store: damaged journals', () => {
  test('a torn tail on a finished segment is reported once, with file and offset; the rest reads fine', async () => {
    const root = tempStore();
    const w = recordSession(root, 'torn', 6);
    const size = fs.statSync(w.segment).size;
    fs.appendFileSync(w.segment, '{"type":"message","session_id":"' + w.sessionId + '","seq":9999,"ts":"2026-');
    const store = await openStore(root, { writeIndex: true });
    const problems = store.initialCatchUp!.problems;
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.kind, 'torn_tail');
    assert.equal(problems[0]!.file, w.segment);
    assert.equal(problems[0]!.offset, size);
    assert.equal(store.session(w.sessionId)!.tool_calls, 6);
    assert.equal(store.catchUp().problems.length, 0, 'reported once');
    store.close();
    const again = await openStore(root);
    assert.equal(again.initialCatchUp!.problems.length, 0, 'still known after a reopen, not reported anew');
    assert.equal(again.problems().length, 1, 'kept in the index');
    assert.equal(again.problems()[0]!.kind, 'torn_tail');
    again.close();
  });

  test('a corrupt line in the middle is reported and skipped; the records around it are indexed', async () => {
    const root = tempStore();
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const conn = recorder.openConnection({ name: 'corrupt', transport: 'stdio', command: 'node' }, 'stdio');
    handshake(conn, 'corrupt');
    traffic(conn, 3, 10, 'before');
    const bad = journal.appendLine('{"type":"message", this is not json');
    const notRecord = journal.appendLine('{"hello":"world"}');
    traffic(conn, 3, 20, 'after');
    recorder.end();
    journal.close();
    const store = await openStore(root);
    const problems = store.initialCatchUp!.problems;
    assert.deepEqual(
      problems.map((p) => [p.kind, p.offset, p.file]),
      [
        ['corrupt_line', bad.offset, bad.file],
        ['invalid_record', notRecord.offset, notRecord.file],
      ],
    );
    assert.equal(store.session(recorder.sessionId)!.tool_calls, 6);
    store.close();
  });
});

test('a segment from a newer journal format is reported', async () => {
  const root = tempStore();
  recordSession(root, 'present', 1);
  const layout = storeLayout(root);
  const file = path.join(layout.journalDir, '29991231T000000-1-abcdef01-0000.jsonl');
  const header = JSON.stringify({ type: 'segment', format: 'mcp-flight.journal', version: 99, writer_id: '29991231T000000-1-abcdef01', segment: 0, created_at: new Date().toISOString() });
  fs.writeFileSync(file, header + '\n');
  const store = await openStore(root);
  assert.deepEqual(
    store.initialCatchUp!.problems.map((p) => [p.kind, p.file, p.offset]),
    [['unknown_version', file, 0]],
  );
  store.close();
});

describe('store: the index image', () => {
  test('index deleted: rebuilt from the journal, identical', async () => {
    const root = tempStore();
    recordSession(root, 'one', 12, { leavePending: 2 });
    recordSession(root, 'two', 4);
    const s1 = await openStore(root, { writeIndex: true });
    const view = storeSnapshot(s1);
    s1.close();
    fs.rmSync(storeLayout(root).indexFile);
    const s2 = await openStore(root, { writeIndex: true });
    assert.equal(s2.loadedImage, false);
    assert.deepEqual(storeSnapshot(s2), view);
    s2.close();
    assert.ok(fs.existsSync(storeLayout(root).indexFile));
    const s3 = await openStore(root);
    assert.equal(s3.loadedImage, true);
    assert.equal(s3.initialCatchUp!.records, 0, 'the saved offsets cover everything');
    assert.deepEqual(storeSnapshot(s3), view);
    s3.close();
  });

  test('SCHEMA_VERSION mismatch or an unreadable image: rebuilt', async () => {
    const root = tempStore();
    recordSession(root, 'schema', 8);
    const layout = storeLayout(root);
    const s1 = await openStore(root, { writeIndex: true });
    const view = storeSnapshot(s1);
    s1.close();

    const SQL = await initSqlJs({ wasmBinary: fs.readFileSync(require.resolve('sql.js/dist/sql-wasm.wasm')).buffer as ArrayBuffer });
    const db = new SQL.Database(fs.readFileSync(layout.indexFile));
    assert.equal(db.exec("SELECT value FROM meta WHERE key = 'schema_version'")[0]?.values[0]?.[0], String(SCHEMA_VERSION));
    db.exec(`UPDATE meta SET value = '${SCHEMA_VERSION + 1000}' WHERE key = 'schema_version'`);
    fs.writeFileSync(layout.indexFile, db.export());
    db.close();
    const s2 = await openStore(root, { writeIndex: true });
    assert.match(s2.initialCatchUp!.rebuilt ?? '', /schema version/);
    assert.deepEqual(storeSnapshot(s2), view);
    s2.close();

    fs.writeFileSync(layout.indexFile, 'this is not a database');
    const s3 = await openStore(root, { writeIndex: true });
    assert.match(s3.initialCatchUp!.rebuilt ?? '', /unreadable/);
    assert.deepEqual(storeSnapshot(s3), view);
    s3.close();
  });

  test('saves are atomic: temporary file and rename, no partial image left', async () => {
    const root = tempStore();
    recordSession(root, 'atomic', 5);
    const layout = storeLayout(root);
    // The trace of a save that crashed halfway: only the lock holder cleans it up.
    const leftover = `${layout.indexFile}.tmp-12345-deadbeef`;
    fs.writeFileSync(leftover, 'half an image');
    const s = await openStore(root, { writeIndex: true });
    assert.equal(fs.existsSync(leftover), false);
    const ino = fs.statSync(layout.indexFile).ino;
    recordSession(root, 'atomic2', 2);
    s.catchUp();
    assert.equal(s.save(), true);
    assert.notEqual(fs.statSync(layout.indexFile).ino, ino, 'replaced by rename, never rewritten in place');
    assert.deepEqual(
      fs.readdirSync(layout.root).filter((n) => n.includes('.tmp-')),
      [],
    );
    assert.equal(s.save(), false, 'nothing changed: nothing written');
    s.close();
    const check = await openStore(root);
    assert.equal(check.loadedImage, true);
    assert.equal(check.sessions().length, 2);
    check.close();
  });

  test('a store written by a newer version opens read-only with a clear message; a missing one is an error', async () => {
    const root = tempStore();
    recordSession(root, 'future', 3);
    const layout = storeLayout(root);
    const marker = JSON.parse(fs.readFileSync(layout.markerFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(layout.markerFile, JSON.stringify({ ...marker, version: 99 }));
    const s = await openStore(root, { writeIndex: true });
    assert.equal(s.readOnly, true);
    assert.equal(s.holdsIndexLock, false);
    assert.match(s.warnings[0]!, /newer MCP Flight Recorder \(journal format v99/);
    assert.match(s.warnings[0]!, /read-only/);
    assert.equal(s.sessions().length, 1, 'still readable');
    assert.equal(s.save(), false);
    s.close();
    assert.equal(fs.existsSync(layout.indexFile), false, 'nothing written into a newer store');
    assert.equal(fs.existsSync(layout.lockFile), false);

    await assert.rejects(openStore(path.join(path.dirname(root), 'nowhere')), (e: unknown) => e instanceof StoreMissingError);
  });
});

test('an index image that claims the current schema but lacks a table is rebuilt, not fatal', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-damaged-'));
  const journal = JournalWriter.open(dir);
  const rec = new Recorder({ kind: 'test', journal });
  const conn = rec.openConnection({ name: 's', transport: 'stdio' }, 'stdio');
  conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }));
  conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [] } }));
  rec.end();
  journal.close();
  let store = await openStore(dir, { writeIndex: true });
  store.close();
  // Drop a table from the saved image, keeping its schema_version.
  const SQL = await initSqlJs();
  const db = new SQL.Database(fs.readFileSync(path.join(dir, 'index.sqlite')));
  db.exec('DROP TABLE names');
  fs.writeFileSync(path.join(dir, 'index.sqlite'), Buffer.from(db.export()));
  db.close();
  store = await openStore(dir, { writeIndex: true });
  assert.match(store.initialCatchUp?.rebuilt ?? '', /inconsistent/);
  assert.equal(store.calls({}).length, 1);
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
