import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { storeLayout } from '../../src/core/store/layout';
import { clearHistory } from '../../src/core/store/retention';
import { CLI, EVERYTHING, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { RawRecordClient } from '../helpers/raw-client';

/**
 * The store and the keys are user-only on disk, and the store stays out of commits: a session
 * recorded by the real `mcp-flight record`, indexed by `mcp-flight sessions`, pruned by Clear
 * History — then every file and folder under the workspace store and under the user-level home
 * (keys, checkpoint logs) is checked for its mode, under the usual umask 022 (so the modes are
 * ours, not the umask's), and real git is asked what it would commit.
 */

const dirs: string[] = [];
before(requireBuiltCli);
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function walk(dir: string): Array<{ file: string; dir: boolean; mode: number }> {
  const out: Array<{ file: string; dir: boolean; mode: number }> = [{ file: dir, dir: true, mode: fs.statSync(dir).mode & 0o777 }];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push({ file: p, dir: false, mode: fs.statSync(p).mode & 0o777 });
  }
  return out;
}

test('store files 0600 and folders 0700, keys and checkpoint logs too; .mcp-flight/.gitignore keeps it out of git', { skip: process.platform === 'win32' ? 'POSIX modes' : false }, async () => {
  const workspace = tempDir('mcpf-perm-ws-');
  dirs.push(workspace);
  const home = path.join(tempDir('mcpf-perm-home-'), 'not-yet-there');
  dirs.push(path.dirname(home));
  const store = path.join(workspace, '.mcp-flight');
  const previousUmask = process.umask(0o022);
  const savedHome = process.env.MCP_FLIGHT_HOME;
  process.env.MCP_FLIGHT_HOME = home; // inherited by the CLI children
  try {
    const client = new RawRecordClient(store, [NODE, EVERYTHING]);
    await client.initialize();
    client.callTool(1, 'echo', { message: 'modes' });
    await client.response(1);
    assert.equal((await client.close()).code, 0, client.stderr);
    // Reading the store writes its index (index.sqlite, index.lock).
    const sessions = spawnSync(NODE, [CLI, 'sessions', '--store', store], { encoding: 'utf8' });
    assert.equal(sessions.status, 0, sessions.stderr);
    // A second session, then Clear History: the signed pruned record (journal/_pruned.log, and its copy outside).
    const second = new RawRecordClient(store, [NODE, EVERYTHING]);
    await second.initialize();
    assert.equal((await second.close()).code, 0);
    const cleared = clearHistory(storeLayout(store));
    assert.ok(cleared.removed.length > 0);
  } finally {
    process.umask(previousUmask);
    if (savedHome === undefined) delete process.env.MCP_FLIGHT_HOME;
    else process.env.MCP_FLIGHT_HOME = savedHome;
  }

  const storeEntries = walk(store);
  const names = storeEntries.map((e) => path.relative(store, e.file)).sort();
  for (const expected of ['.gitignore', 'store.json', 'audit.json', 'index.sqlite', path.join('journal', '_pruned.log')]) assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
  const homeEntries = walk(home);
  const homeNames = homeEntries.map((e) => path.relative(home, e.file));
  assert.ok(homeNames.includes(path.join('keys', 'audit.secret')), homeNames.join(', '));
  assert.ok(homeNames.some((n) => n.startsWith('checkpoints' + path.sep) && n.endsWith('.jsonl')), homeNames.join(', '));
  for (const e of [...storeEntries, ...homeEntries]) {
    assert.equal(e.mode, e.dir ? 0o700 : 0o600, `${e.file}: ${e.mode.toString(8)}`);
  }

  // .gitignore: everything in the store is ignored.
  assert.match(fs.readFileSync(path.join(store, '.gitignore'), 'utf8'), /^\*$/m);
  fs.writeFileSync(path.join(workspace, 'README.md'), 'a project\n');
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-C', workspace, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  git('init', '-q');
  git('add', '-A');
  assert.deepEqual(git('diff', '--cached', '--name-only').split('\n').filter(Boolean), ['README.md'], 'git add -A takes nothing from .mcp-flight');
  assert.equal(git('status', '--porcelain', '--untracked-files=all').split('\n').filter((l) => l.includes('.mcp-flight')).length, 0);
});
