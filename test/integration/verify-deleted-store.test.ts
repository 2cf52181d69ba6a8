import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { verifyStore } from '../../src/core/audit/verify';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter } from '../../src/core/store/journal';
import { CLI, NODE, requireBuiltCli, tempDir } from '../helpers/env';

/**
 * Deleting the whole store is tampering too: the registration kept outside the workspace says a
 * store was recorded at this path, so `verify` reports it gone (exit 1) rather than "nothing
 * recorded yet" (exit 3) — which is what a path that never held a store still gets.
 */

const dirs: string[] = [];
const HOME = tempDir('mcpf-deleted-home-');
dirs.push(HOME);
process.env.MCP_FLIGHT_HOME = HOME; // the Recorder's default Redactor loads its key from here too
before(requireBuiltCli);
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('a deleted store: tampered, the store named as gone; a path that never held one: not verifiable', () => {
  const workspace = tempDir('mcpf-deleted-ws-');
  dirs.push(workspace);
  const root = path.join(workspace, '.mcp-flight');
  const journal = JournalWriter.open(root, { audit: { home: HOME } });
  const recorder = new Recorder({ kind: 'test', journal });
  const conn = recorder.openConnection({ name: 'srv', transport: 'stdio' } as never, 'stdio');
  conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
  recorder.end('done');
  journal.close();
  assert.equal(verifyStore(root, { home: HOME }).verdict, 'intact');

  fs.rmSync(root, { recursive: true, force: true });
  const r = verifyStore(root, { home: HOME });
  assert.equal(r.verdict, 'tampered', r.summary);
  assert.equal(r.first?.kind, 'missing');
  assert.match(r.first?.detail ?? '', /earlier store at this path .* is gone/);

  const cli = spawnSync(NODE, [CLI, 'verify', '--store', root], { encoding: 'utf8', env: { ...process.env, MCP_FLIGHT_HOME: HOME } });
  assert.equal(cli.status, 1, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /is gone/);

  const never = path.join(workspace, 'never-a-store');
  const none = verifyStore(never, { home: HOME });
  assert.equal(none.verdict, 'unverifiable');
  assert.match(none.summary, /no MCP Flight Recorder store/);
  assert.equal(spawnSync(NODE, [CLI, 'verify', '--store', never], { encoding: 'utf8', env: { ...process.env, MCP_FLIGHT_HOME: HOME } }).status, 3);
});
