import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assembleSession } from '../../src/core/analysis/calls';
import { summarizeSession } from '../../src/core/analysis/summary';
import { credentialFingerprint, credentialsOf } from '../../src/core/audit/credentials';
import { credentialInputsOf } from '../../src/core/config/servers';
import { Redactor } from '../../src/core/audit/redaction';
import { declaredEffectsFrom } from '../../src/core/effects/attribution';
import { checkPolicy } from '../../src/core/policy/policy';
import { SideEffectLedger } from '../../src/core/effects/ledger';
import { pathsNamedIn } from '../../src/core/effects/paths';
import { exportSessionJsonlToString } from '../../src/core/export/jsonl';
import { exportSessionToString } from '../../src/core/export/session-json';
import type { Call } from '../../src/core/model/calls';
import type { JournalRecord, SideEffectRecord } from '../../src/core/model/records';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter } from '../../src/core/store/journal';
import { openStore } from '../../src/core/store/store';
import { readStore } from '../helpers/journal';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';

// A deterministic session, record by record, with fixed clocks.
type Stamp = 'session_id' | 'seq' | 'ts' | 'mono';
type Unstamped = JournalRecord extends infer R ? (R extends unknown ? Omit<R, Stamp> : never) : never;

class Session {
  readonly records: JournalRecord[] = [];
  private seq = 0;
  private t = Date.parse('2025-04-01T09:00:00.000Z');
  private mono = 1000;

  add(rec: Unstamped, ms = 5): JournalRecord {
    this.t += ms;
    this.mono += ms;
    const record = { ...rec, session_id: 'fx-0001', seq: ++this.seq, ts: new Date(this.t).toISOString(), mono: this.mono } as JournalRecord;
    this.records.push(record);
    return record;
  }
  request(conn: string, id: number, name: string, args: unknown, ms = 5): void {
    this.add({ type: 'message', connection_id: conn, dir: 'client_to_server', size: 1, message: { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } } }, ms);
  }
  result(conn: string, id: number, ms = 5, isError = false): void {
    this.add({ type: 'message', connection_id: conn, dir: 'server_to_client', size: 1, message: { jsonrpc: '2.0', id, result: { content: [], ...(isError ? { isError: true } : {}) } } }, ms);
  }
  notify(conn: string, method: string, params: unknown, ms = 5): void {
    this.add({ type: 'message', connection_id: conn, dir: 'server_to_client', size: 1, message: { jsonrpc: '2.0', method, params } }, ms);
  }
  file(effect: SideEffectRecord['effect'], p: string, ms = 1, watcher: SideEffectRecord['watcher'] = 'fs.watch'): void {
    this.add({ type: 'side_effect', effect, path: p, root: '/ws', watcher }, ms);
  }
  get items() {
    return this.records.map((record) => ({ record }));
  }
}

const WS = '/ws';

function opened(s: Session, conn = 'c1', name = 'fs'): void {
  s.add({ type: 'connection_open', connection_id: conn, server: { name, transport: 'stdio', command: 'node', args: ['server.js'] }, upstream: 'stdio' });
  s.add({ type: 'credentials', connection_id: conn, set_id: `${conn}/1`, mode: 'env', entries: [{ name: 'API_TOKEN', mode: 'env', fingerprint: 'a1b2c3', origin: 'configured' }], reason: 'connection_open' });
  s.add({ type: 'message', connection_id: conn, dir: 'client_to_server', size: 1, message: { jsonrpc: '2.0', id: 0, method: 'tools/list' } });
  s.add({
    type: 'message',
    connection_id: conn,
    dir: 'server_to_client',
    size: 1,
    message: { jsonrpc: '2.0', id: 0, result: { tools: [{ name: 'read', annotations: { readOnlyHint: true, openWorldHint: false } }, { name: 'write' }, { name: 'edit' }, { name: 'move' }, { name: 'subscribe_and_touch' }, { name: 'wait' }, { name: 'create_issue', annotations: { openWorldHint: true } }] } },
  });
}

function byTool(calls: Iterable<Call>, tool: string, n = 0): Call {
  const c = [...calls].filter((x) => x.tool === tool)[n];
  assert.ok(c, `call ${tool}#${n}`);
  return c;
}

/** Every attribution rule on one session. */
function fixture(): Session {
  const s = new Session();
  s.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } }, 0);
  opened(s);
  // A write named by an absolute path; the creation and the write that follows coalesce.
  s.request('c1', 1, 'write', { path: '/ws/notes/a.txt', content: 'x' });
  s.file('file_created', '/ws/notes/a.txt');
  s.file('file_modified', '/ws/notes/a.txt');
  s.result('c1', 1);
  // An edit named by a relative path, through a temporary file renamed over it (transient).
  s.request('c1', 2, 'edit', { file: 'src/main.ts' }, 400);
  s.file('file_created', '/ws/src/.main.ts.tmp');
  s.file('file_deleted', '/ws/src/.main.ts.tmp');
  s.file('file_modified', '/ws/src/main.ts');
  s.result('c1', 2);
  // A move named by file:// URIs, and the watcher reports late (after the answer, within the settle window).
  s.request('c1', 3, 'move', { from: 'file:///ws/old%20name.txt', to: 'file:///ws/new%20name.txt' }, 400);
  s.result('c1', 3);
  s.file('file_deleted', '/ws/old name.txt', 20);
  s.file('file_created', '/ws/new name.txt', 1);
  // Two calls in flight; a change neither names: observed during both.
  s.request('c1', 4, 'wait', { seconds: 1 }, 400);
  s.request('c1', 5, 'wait', { seconds: 2 }, 1);
  s.file('file_created', '/ws/build/out.js', 10);
  // The store is never an effect, even if a watcher reports it.
  s.file('file_modified', '/ws/.mcp-flight/journal/x.jsonl', 1);
  s.result('c1', 4);
  s.result('c1', 5);
  // A resource notification naming a URI in the arguments of a call on that connection.
  s.request('c1', 6, 'subscribe_and_touch', { uri: 'memo://inbox' }, 400);
  s.notify('c1', 'notifications/resources/updated', { uri: 'memo://inbox' });
  s.notify('c1', 'notifications/resources/list_changed', {});
  s.result('c1', 6);
  // A change long after every call: counted, attributed to none.
  s.file('file_deleted', '/ws/stray.log', 5000);
  // A declared effect on a successful call; the failed one gets none. A read-only, closed-world tool is no API call.
  s.request('c1', 7, 'create_issue', { title: 't' }, 400);
  s.result('c1', 7);
  s.request('c1', 8, 'create_issue', { title: '' }, 400);
  s.result('c1', 8, 5, true);
  s.request('c1', 9, 'read', { path: '/ws/notes/a.txt' }, 400);
  s.result('c1', 9);
  s.add({ type: 'connection_close', connection_id: 'c1', reason: 'done' });
  s.add({ type: 'session_end', reason: 'shutdown' });
  return s;
}

// The policy's glob matching is the governor's (picomatch); a prefix glob stands in for it here.
const declared = declaredEffectsFrom(
  [
    { server: 'fs', tool: 'create_*', sideEffects: ['issue_created'] },
    { server: 'other', tool: '*', sideEffects: ['never'] },
    { tool: 'create_issue' },
  ],
  (pattern, value) => (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value),
);

describe('side-effect attribution (CallAssembler)', () => {
  const a = assembleSession(fixture().items, { keepBodies: true, declaredEffects: declared });
  const calls = [...a.calls.values()];
  const fx = (tool: string, n = 0) => (byTool(calls, tool, n).side_effects ?? []).map((e) => [e.kind, e.path ?? e.uri ?? e.name, e.attribution, e.in_flight?.length ?? 0]);

  it('named by an absolute path: a creation, the write right after it coalesced', () => {
    assert.deepEqual(fx('write'), [['file_created', '/ws/notes/a.txt', 'named_in_arguments', 1]]);
  });

  it('named by a relative path; a temporary file created and deleted by the call is no effect', () => {
    assert.deepEqual(fx('edit'), [['file_modified', '/ws/src/main.ts', 'named_in_arguments', 1]]);
  });

  it('named by file:// URIs, reported after the answer within the settle window', () => {
    assert.deepEqual(fx('move'), [
      ['file_deleted', '/ws/old name.txt', 'named_in_arguments', 1],
      ['file_created', '/ws/new name.txt', 'named_in_arguments', 1],
    ]);
  });

  it('named by none of the calls in flight: observed during each, listing both', () => {
    const ids = [byTool(calls, 'wait', 0).call_id, byTool(calls, 'wait', 1).call_id];
    for (const n of [0, 1]) {
      assert.deepEqual(byTool(calls, 'wait', n).side_effects?.map((e) => [e.kind, e.path, e.attribution, e.in_flight]), [['file_created', '/ws/build/out.js', 'observed_during', ids]]);
    }
  });

  it('resource notifications: updated named by URI, list_changed observed', () => {
    assert.deepEqual(fx('subscribe_and_touch'), [
      ['resource_updated', 'memo://inbox', 'named_in_arguments', 1],
      ['resource_list_changed', undefined, 'observed_during', 1],
    ]);
  });

  it('declared effects on successful calls only', () => {
    assert.deepEqual(fx('create_issue', 0), [['declared', 'issue_created', 'declared', 0]]);
    assert.equal(byTool(calls, 'create_issue', 1).side_effects, undefined);
  });

  it('declared effects come from the policy file\'s sideEffects (server/tool globs) when no list is given', () => {
    const policy = { document: checkPolicy({ tools: [{ server: 'f*', tool: 'create_*', sideEffects: ['issue_created', 'email_sent'] }] }, 'test policy'), sha256: '0'.repeat(64), source: 'file' as const };
    const viaPolicy = assembleSession(fixture().items, { keepBodies: true, policy });
    assert.deepEqual((byTool(viaPolicy.calls.values(), 'create_issue').side_effects ?? []).map((e) => [e.kind, e.name, e.attribution]), [
      ['declared', 'issue_created', 'declared'],
      ['declared', 'email_sent', 'declared'],
    ]);
    assert.equal(byTool(viaPolicy.calls.values(), 'create_issue', 1).side_effects, undefined);
  });

  it('never the store, and the read-only call has none', () => {
    assert.ok(!JSON.stringify(calls).includes('.mcp-flight'));
    assert.equal(byTool(calls, 'read').side_effects, undefined);
  });

  it('calls carry the credential set of their connection', () => {
    assert.deepEqual(byTool(calls, 'write').credentials, { set_id: 'c1/1', mode: 'env', names: ['API_TOKEN'], fingerprints: ['a1b2c3'] });
  });

  it('the summary counts each effect once, and API calls by annotations', () => {
    const s = summarizeSession(a, { writerAlive: false });
    assert.deepEqual(s.side_effects_summary, {
      files_created: 3, // notes/a.txt, new name.txt, build/out.js
      files_modified: 1,
      files_deleted: 2, // old name.txt, stray.log
      // Every tools/call but `read` (readOnlyHint and not open-world), failed calls included: they reached the server.
      api_calls_made: 8,
      spend_incurred_usd: null, // no cost model
      resources_updated: 1,
      resource_lists_changed: 1,
      declared: 1,
      transient_files: 1,
      unattributed: 1,
    });
    assert.deepEqual(s.credentials_used, [{ server: 'fs', mode: 'env', names: ['API_TOKEN'], fingerprints: { API_TOKEN: ['a1b2c3'] } }]);
  });

  it('the index assembler (bodies not kept) attributes the same', () => {
    const lean = assembleSession(fixture().items, { keepBodies: false, declaredEffects: declared });
    const strip = (c: Call) => [c.call_id, c.side_effects];
    assert.deepEqual([...lean.calls.values()].map(strip), calls.map(strip));
  });

  it('a write by an ended call loses to a running call naming the same path', () => {
    const s = new Session();
    s.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } }, 0);
    opened(s);
    s.request('c1', 1, 'write', { path: '/ws/a.txt' });
    s.result('c1', 1);
    s.request('c1', 2, 'move', { source: '/ws/a.txt', destination: '/ws/b.txt' }, 2);
    s.file('file_deleted', '/ws/a.txt');
    s.result('c1', 2);
    const got = assembleSession(s.items);
    assert.deepEqual(byTool(got.calls.values(), 'move').side_effects?.map((e) => [e.kind, e.attribution, e.in_flight]), [['file_deleted', 'named_in_arguments', ['c1:6', 'c1:8']]]);
    assert.equal(byTool(got.calls.values(), 'write').side_effects, undefined);
  });
});

describe('side effects in the exports', () => {
  const s = fixture();
  const json = exportSessionToString(s.items);
  const jsonl = exportSessionJsonlToString(s.items);

  it('validate against the schema', () => {
    assertValidJsonExport(json);
    assertValidJsonlExport(jsonl);
  });

  it('match test/golden/effects-session.json', () => {
    const file = path.join(__dirname, '..', 'golden', 'effects-session.json');
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(file, json);
    assert.equal(json, fs.readFileSync(file, 'utf8'), 'run with UPDATE_GOLDEN=1 to accept');
  });

  it('carry side effects, credentials and the summary', () => {
    const doc = JSON.parse(json) as { calls: Array<{ tool: string; side_effects: unknown[]; credentials: unknown }>; connections: Array<{ credentials: unknown }>; session: { side_effects_summary: { files_created: number }; credentials_used: unknown[] } };
    assert.equal(doc.calls.find((c) => c.tool === 'write')?.side_effects.length, 1);
    assert.deepEqual(doc.connections[0]?.credentials, [{ set_id: 'c1/1', mode: 'env', entries: [{ name: 'API_TOKEN', mode: 'env', fingerprint: 'a1b2c3', origin: 'configured' }], since: s.records[2]!.ts }]);
    assert.equal(doc.session.side_effects_summary.files_created, 3);
    assert.equal(doc.session.credentials_used.length, 1);
  });
});

describe('pathsNamedIn', () => {
  it('absolute, relative and file:// forms; not URLs, not the folder itself', () => {
    const named = pathsNamedIn({ a: '/ws/x.txt', b: ['sub/y.txt', { c: 'file:///ws/z%20z.txt' }], d: 'https://example.com/a', e: '.', f: './', g: 'mailto:x@y' }, WS);
    assert.deepEqual([...named].sort(), ['/ws/sub/y.txt', '/ws/x.txt', '/ws/z z.txt']);
  });
});

describe('SideEffectLedger', () => {
  it('drops the store and the user\'s own saves, passes the rest', () => {
    const written: string[] = [];
    let now = 1000;
    const ledger = new SideEffectLedger({ sink: { sideEffect: (e) => written.push(`${e.effect} ${e.path}`) }, exclude: ['/ws/custom-store'], userSaveGraceMs: 500, now: () => now });
    ledger.observe('file_modified', '/ws/.mcp-flight/index.db', WS, 'vscode');
    ledger.observe('file_modified', '/ws/custom-store/journal/a.jsonl', WS, 'vscode');
    ledger.userSaveStarting('/ws/mine.ts');
    ledger.observe('file_modified', '/ws/mine.ts', WS, 'vscode');
    ledger.userSaveDone('/ws/mine.ts');
    now += 400;
    ledger.observe('file_modified', '/ws/mine.ts', WS, 'vscode');
    ledger.observe('file_modified', '/ws/tool.ts', WS, 'vscode');
    now += 200;
    ledger.observe('file_modified', '/ws/mine.ts', WS, 'vscode');
    assert.deepEqual(written, ['file_modified /ws/tool.ts', 'file_modified /ws/mine.ts']);
    assert.deepEqual(ledger.dropped, { store: 2, user_save: 2 });
  });
});

describe('credentialsOf', () => {
  const redactor = new Redactor({ fingerprintKey: Buffer.from('unit-test-key') });

  it('stdio: configured entries that look like credentials, inherited ones by name only, input secrets', () => {
    const set = credentialsOf(
      { name: 'gh', type: 'stdio', command: 'node', env: { GITHUB_TOKEN: 'ghp_' + 'a'.repeat(36), LOG_LEVEL: 'debug', DB_PASSWORD: 'hunter2hunter2', REMOVED_SECRET: null, OPENAI_API_KEY: 'from-input' }, credentialInputs: ['OPENAI_API_KEY'] },
      redactor,
      { PATH: '/usr/bin', HOME: '/home/u', PWD: '/home/u/src', AWS_SECRET_ACCESS_KEY: 'inherited-secret', GITHUB_TOKEN: 'shadowed' },
    );
    assert.deepEqual(
      set.entries.map((e) => [e.name, e.mode, e.origin]),
      [
        ['AWS_SECRET_ACCESS_KEY', 'env', 'inherited'],
        ['DB_PASSWORD', 'env', 'configured'],
        ['GITHUB_TOKEN', 'env', 'configured'],
        ['OPENAI_API_KEY', 'input_secret', 'configured'],
      ],
    );
    assert.equal(set.mode, 'input_secret');
    assert.equal(set.entries.find((e) => e.name === 'GITHUB_TOKEN')?.fingerprint, redactor.fingerprint('ghp_' + 'a'.repeat(36)));
  });

  it('headers: an Authorization header is fingerprinted like its redaction marker (the token, not "Bearer ")', () => {
    const token = 'abcdefghijklmnopqrstuvwxyz012345';
    const set = credentialsOf({ name: 'remote', type: 'http', url: 'https://x.example/mcp', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } }, redactor);
    assert.deepEqual(set, { mode: 'headers', entries: [{ name: 'Authorization', mode: 'headers', fingerprint: redactor.fingerprint(token), origin: 'configured' }] });
    const marker = redactor.redactValue({ headers: { authorization: `Bearer ${token}` } }).value as { headers: { authorization: string } };
    assert.ok(marker.headers.authorization.includes(`:${set.entries[0]!.fingerprint}]`), marker.headers.authorization);
    assert.equal(credentialFingerprint(redactor, 'X-Api-Key', 'k-123'), redactor.fingerprint('k-123'));
  });

  it('input secrets: the entries configured with ${input:…} (before the extension resolves them)', () => {
    assert.deepEqual(credentialInputsOf({ name: 's', type: 'stdio', command: 'node', env: { GITHUB_TOKEN: '${input:gh-token}', LOG: 'x', N: 3 } }), ['GITHUB_TOKEN']);
    assert.deepEqual(credentialInputsOf({ name: 'r', type: 'http', url: 'https://x', headers: { Authorization: 'Bearer ${input:tok}', Accept: '*/*' } }), ['Authorization']);
    const set = credentialsOf({ name: 'r', type: 'http', url: 'https://x', headers: { Authorization: 'Bearer resolved-value-1234' }, credentialInputs: ['Authorization'] }, redactor);
    assert.deepEqual(set.entries.map((e) => [e.name, e.mode]), [['Authorization', 'input_secret']]);
    assert.equal(set.mode, 'input_secret');
  });

  it('no credentials: mode none', () => {
    assert.deepEqual(credentialsOf({ name: 'plain', type: 'stdio', command: 'node', env: { LOG_LEVEL: 'debug' } }, redactor, { PATH: '/bin' }), { mode: 'none', entries: [] });
  });
});

describe('side effects and credentials in the index (store)', () => {
  it('a late effect updates a call the index already wrote and let go; reopening rebuilds the same', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-fx-'));
    try {
      const journal = JournalWriter.open(root);
      const recorder = new Recorder({ kind: 'test', journal, redactor: new Redactor({ fingerprintKey: Buffer.from('k') }) });
      const conn = recorder.openConnection({ name: 'fs', transport: 'stdio', command: 'node' }, 'stdio', { name: 'fs', type: 'stdio', command: 'node', env: { API_TOKEN: 'tok-123456' } });
      conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'write', arguments: { path: '/ws/a.txt' } } }));
      conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [] } }));
      journal.sync();
      const store = await openStore(root, { writeIndex: true });
      const id = store.calls().find((c) => c.tool === 'write')?.call_id;
      assert.ok(id, 'the call is indexed');
      assert.equal(store.call(recorder.sessionId, id)?.side_effects, undefined);
      // The watcher reports after the answer, and after the index caught up with it (the mono
      // clock is set 20 ms after the answer's: opening the store took longer than the window).
      const lastMono = readStore(root).records.at(-1)!.mono;
      recorder.write({ type: 'side_effect', ...recorder.stamp(), mono: lastMono + 20, effect: 'file_created', path: '/ws/a.txt', root: '/ws', watcher: 'fs.watch' });
      journal.sync();
      store.catchUp();
      const call = store.call(recorder.sessionId, id);
      assert.ok(call);
      assert.deepEqual(call.side_effects?.map((e) => [e.kind, e.path, e.attribution]), [['file_created', '/ws/a.txt', 'named_in_arguments']]);
      // The test runner's own environment may add inherited credentials (never PWD): only API_TOKEN is checked.
      assert.equal(call.credentials?.set_id, 'c1/1');
      assert.ok(!call.credentials?.names.includes('PWD'));
      const i = call.credentials?.names.indexOf('API_TOKEN') ?? -1;
      assert.equal(call.credentials?.fingerprints[i], new Redactor({ fingerprintKey: Buffer.from('k') }).fingerprint('tok-123456'));
      recorder.end();
      journal.close();
      store.close();
      const again = await openStore(root, { writeIndex: true });
      assert.deepEqual(again.call(recorder.sessionId, id)?.side_effects, call.side_effects);
      again.close();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
