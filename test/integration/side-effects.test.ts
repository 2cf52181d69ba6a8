import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { summarizeSession } from '../../src/core/analysis/summary';
import { defaultRedactorInstance } from '../../src/core/audit/redaction';
import type { Call, SideEffect } from '../../src/core/model/calls';
import type { CredentialsRecord, SideEffectRecord } from '../../src/core/model/records';
import { CLI, FILESYSTEM, NODE, fixture, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';
import { bytesUnder } from '../helpers/files';

/**
 * The side-effect ledger and credential attribution end to end: the SDK's real Client, through
 * the real `mcp-flight record --watch DIR` process, to the real server-filesystem changing files
 * in a temporary workspace. Every assertion is on what the recorder wrote.
 */

const GITHUB_TOKEN = 'ghp_' + 'Zq8'.repeat(12); // 40 characters, a GitHub token's shape; made up.

async function waitForSessionEnd(store: string): Promise<void> {
  const dir = path.join(store, 'journal');
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => fs.readFileSync(path.join(dir, f), 'utf8').includes('"session_end"'))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the recorder did not end its session');
}

function effectsOf(call: Call): SideEffect[] {
  return call.side_effects ?? [];
}

describe('side effects: server-filesystem through mcp-flight record --watch', () => {
  const ws = fs.realpathSync(tempDir('mcpf-ws-'));
  const trash = fs.realpathSync(tempDir('mcpf-trash-'));
  const store = path.join(ws, '.mcp-flight');
  let calls: Call[] = [];
  let effectRecords: SideEffectRecord[] = [];
  let summary: ReturnType<typeof summarizeSession>;
  let credentials: CredentialsRecord[] = [];

  before(async () => {
    requireBuiltCli();
    fs.writeFileSync(path.join(ws, 'existing.txt'), 'line one\nline two\n');
    const client = new Client({ name: 'effects-test-agent', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: NODE,
        args: [CLI, 'record', '--store', store, '--name', 'filesystem', '--watch', ws, '--', NODE, FILESYSTEM, ws, trash],
        env: { ...getDefaultEnvironment(), MCP_FLIGHT_HOME: process.env.MCP_FLIGHT_HOME ?? '', GITHUB_TOKEN },
        stderr: 'pipe',
      }),
    );
    await client.listTools();
    const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });
    await call('create_directory', { path: path.join(ws, 'notes') });
    // Relative to the allowed directory would be refused by the server: it takes absolute paths; file:// and relative forms are covered in the unit tests.
    await call('write_file', { path: path.join(ws, 'notes', 'a.txt'), content: `token for later: ${GITHUB_TOKEN}\n` });
    await call('edit_file', { path: path.join(ws, 'existing.txt'), edits: [{ oldText: 'line two', newText: 'line 2' }] });
    await call('move_file', { source: path.join(ws, 'notes', 'a.txt'), destination: path.join(ws, 'notes', 'b.txt') });
    // server-filesystem has no delete tool: moving a file out of the workspace deletes it there.
    await call('move_file', { source: path.join(ws, 'notes', 'b.txt'), destination: path.join(trash, 'b.txt') });
    // The recorder's own store is never an effect, even when a tool writes into it.
    await call('write_file', { path: path.join(store, 'planted.txt'), content: 'not an effect' });
    await call('read_text_file', { path: path.join(ws, 'existing.txt') });
    await client.close();
    await waitForSessionEnd(store);
    const session = onlySession(store);
    calls = session.calls;
    effectRecords = session.records.filter((r): r is SideEffectRecord => r.type === 'side_effect');
    credentials = session.records.filter((r): r is CredentialsRecord => r.type === 'credentials');
    summary = summarizeSession(session.assembler, { writerAlive: false });
  });

  after(() => {
    if (process.env.KEEP_STORE) console.log(ws);
    else for (const d of [ws, trash]) fs.rmSync(d, { recursive: true, force: true });
  });

  test('create_directory: the folder, named in the arguments', () => {
    const c = toolCalls(calls, 'create_directory')[0]!;
    assert.deepEqual(
      effectsOf(c).map((e) => [e.kind, e.path, e.directory, e.attribution]),
      [['file_created', path.join(ws, 'notes'), true, 'named_in_arguments']],
    );
  });

  test('write_file: file_created, named in the arguments', () => {
    const c = toolCalls(calls, 'write_file')[0]!;
    const fx = effectsOf(c);
    assert.equal(fx.length, 1, JSON.stringify(fx));
    assert.equal(fx[0]!.kind, 'file_created');
    assert.equal(fx[0]!.path, path.join(ws, 'notes', 'a.txt'));
    assert.equal(fx[0]!.attribution, 'named_in_arguments');
    assert.ok(fx[0]!.in_flight?.includes(c.call_id));
  });

  test('edit_file: file_modified, named in the arguments', () => {
    const c = toolCalls(calls, 'edit_file')[0]!;
    assert.deepEqual(
      effectsOf(c).map((e) => [e.kind, e.path, e.attribution]),
      [['file_modified', path.join(ws, 'existing.txt'), 'named_in_arguments']],
    );
  });

  test('move_file inside the workspace: the source deleted and the destination created', () => {
    const c = toolCalls(calls, 'move_file')[0]!;
    const got = effectsOf(c)
      .map((e) => `${e.kind} ${path.relative(ws, e.path!)} ${e.attribution}`)
      .sort();
    assert.deepEqual(got, ['file_created notes/b.txt named_in_arguments', 'file_deleted notes/a.txt named_in_arguments']);
  });

  test('move_file out of the workspace: a deletion', () => {
    const c = toolCalls(calls, 'move_file')[1]!;
    assert.deepEqual(
      effectsOf(c).map((e) => [e.kind, e.path, e.attribution]),
      [['file_deleted', path.join(ws, 'notes', 'b.txt'), 'named_in_arguments']],
    );
  });

  test('read-only calls have no effects', () => {
    assert.equal(toolCalls(calls, 'read_text_file')[0]!.side_effects, undefined);
  });

  test('nothing in the store (.mcp-flight/) is ever an effect', () => {
    assert.ok(effectRecords.length >= 6, `effects recorded: ${effectRecords.length}`);
    for (const r of effectRecords) assert.ok(!r.path.includes('.mcp-flight'), r.path);
    assert.ok(fs.existsSync(path.join(store, 'planted.txt')), 'the tool did write into the store');
    assert.equal(toolCalls(calls, 'write_file')[1]!.side_effects, undefined);
    for (const r of effectRecords) assert.equal(r.watcher, 'fs.watch');
  });

  test('the summary counts files created, modified and deleted, and API calls', () => {
    const fx = summary.side_effects_summary;
    assert.equal(fx.files_created, 3); // notes/, notes/a.txt, notes/b.txt
    assert.equal(fx.files_modified, 1);
    assert.equal(fx.files_deleted, 2);
    assert.equal(fx.unattributed, 0);
    // Every tools/call except read_text_file (readOnlyHint: true, openWorldHint: false in server-filesystem's annotations).
    const fsTools = new Map((onlySession(store).assembler.connection('c1')?.tools ?? []).map((t) => [t.name, t.annotations]));
    assert.equal(fsTools.get('read_text_file')?.readOnlyHint, true);
    const expected = toolCalls(calls).filter((c) => !(fsTools.get(c.tool)?.readOnlyHint === true && fsTools.get(c.tool)?.openWorldHint === false)).length;
    assert.equal(fx.api_calls_made, expected);
    assert.equal(fx.api_calls_made, 6);
    assert.equal(fx.spend_incurred_usd, null, "no cost model: not observed");
  });

  test('credentials: the inherited GITHUB_TOKEN by name and fingerprint, matching its redaction marker', () => {
    assert.equal(credentials.length, 1);
    const set = credentials[0]!;
    assert.equal(set.mode, 'env');
    const gh = set.entries.find((e) => e.name === 'GITHUB_TOKEN');
    assert.ok(gh, JSON.stringify(set.entries));
    assert.equal(gh.origin, 'inherited');
    assert.equal(gh.fingerprint, defaultRedactorInstance().fingerprint(GITHUB_TOKEN));
    // The token went through write_file's arguments: its marker carries the same fingerprint.
    const session = onlySession(store);
    assert.match(JSON.stringify(session.records), new RegExp(`\\[REDACTED:[a-z_]+:${gh.fingerprint}\\]`));
    for (const c of toolCalls(calls)) assert.deepEqual(c.credentials, { set_id: set.set_id, mode: 'env', names: set.entries.map((e) => e.name), fingerprints: set.entries.map((e) => e.fingerprint) });
    assert.deepEqual(
      (summary.credentials_used ?? []).map((u) => [u.server, u.mode, u.fingerprints.GITHUB_TOKEN]),
      [['filesystem', 'env', [gh.fingerprint]]],
    );
  });

  test('the raw token is nowhere in the store, in any file', () => {
    assert.equal(bytesUnder(store).includes(Buffer.from(GITHUB_TOKEN)), false);
  });
});

describe('side effects: concurrent calls in flight', () => {
  const ws = fs.realpathSync(tempDir('mcpf-ws-'));
  const store = tempDir('mcpf-store-');
  let calls: Call[] = [];

  before(async () => {
    requireBuiltCli();
    const client = new Client({ name: 'effects-test-agent', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: NODE,
        args: [CLI, 'record', '--store', store, '--name', 'slow', '--watch', ws, '--', NODE, fixture('slow-echo-server.mjs')],
        env: { ...getDefaultEnvironment(), MCP_FLIGHT_HOME: process.env.MCP_FLIGHT_HOME ?? '' },
        stderr: 'pipe',
      }),
    );
    const abort = new AbortController();
    const first = client.callTool({ name: 'echo', arguments: { message: 'one', delayMs: 60_000 } }, undefined, { signal: abort.signal });
    const second = client.callTool({ name: 'echo', arguments: { message: 'two', delayMs: 60_000 } }, undefined, { signal: abort.signal });
    // Once both requests are in the journal, something else changes a file: neither call names it.
    const journalText = () => {
      const dir = path.join(store, 'journal');
      return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('') : '';
    };
    for (let i = 0; i < 200 && (journalText().match(/"tools\/call"/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    fs.writeFileSync(path.join(ws, 'written-meanwhile.txt'), 'x');
    for (let i = 0; i < 200 && !journalText().includes('"side_effect"'); i++) await new Promise((r) => setTimeout(r, 25));
    abort.abort('test done');
    await Promise.allSettled([first, second]);
    await client.close();
    await waitForSessionEnd(store);
    calls = toolCalls(onlySession(store).calls);
  });

  after(() => {
    fs.rmSync(ws, { recursive: true, force: true });
    fs.rmSync(store, { recursive: true, force: true });
  });

  test('the effect is observed_during both calls, each listing both', () => {
    assert.equal(calls.length, 2);
    const ids = calls.map((c) => c.call_id);
    for (const c of calls) {
      assert.deepEqual(
        effectsOf(c).map((e) => [e.kind, e.path, e.attribution, e.in_flight]),
        [['file_created', path.join(ws, 'written-meanwhile.txt'), 'observed_during', ids]],
      );
    }
  });

  test('the summary counts it once', () => {
    const s = summarizeSession(onlySession(store).assembler, { writerAlive: false });
    assert.equal(s.side_effects_summary.files_created, 1);
  });

  test('a stdio server launched without credentials: mode none', () => {
    const s = summarizeSession(onlySession(store).assembler, { writerAlive: false });
    assert.deepEqual(s.credentials_used, [{ server: 'slow', mode: 'none', names: [], fingerprints: {} }]);
  });
});
