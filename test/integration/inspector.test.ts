import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { CLI, EVERYTHING, FILESYSTEM, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { sessionsIn, toolCalls } from '../helpers/journal';
import { assembleSession } from '../../src/core/analysis/calls';

/**
 * The MCP Inspector's CLI — a third-party client we did not write — through `mcp-flight record`.
 * It runs under Node 24 from tools/ (the Inspector needs Node ≥ 22).
 */

const run = promisify(execFile);
const store = tempDir();
let node24 = '';
let inspector = '';

before(async () => {
  requireBuiltCli();
  const { ensureTools } = await import('../../scripts/setup-tools.mjs');
  const paths = ensureTools({ quiet: true });
  node24 = paths.node24;
  inspector = paths.inspectorCli;
});
after(() => fs.rmSync(store, { recursive: true, force: true }));

async function inspect(name: string, server: string[], method: string[]): Promise<unknown> {
  // The Inspector drops a literal "--", so the server command follows record's own options directly.
  const { stdout } = await run(node24, [inspector, '--cli', NODE, CLI, 'record', '--store', store, '--name', name, ...server, ...method], { timeout: 60_000 });
  return JSON.parse(stdout);
}

test('the MCP Inspector CLI lists tools and calls one through mcp-flight record', async () => {
  const list = (await inspect('everything', [NODE, EVERYTHING], ['--method', 'tools/list'])) as { tools: Array<{ name: string }> };
  assert.ok(list.tools.some((t) => t.name === 'echo'));
  const echo = await inspect('everything', [NODE, EVERYTHING], ['--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=inspected']);
  assert.deepEqual(echo, { content: [{ type: 'text', text: 'Echo: inspected' }] });
  const dir = tempDir('mcpf-insp-fs-');
  const fsList = (await inspect('filesystem', [NODE, FILESYSTEM, dir], ['--method', 'tools/call', '--tool-name', 'list_allowed_directories'])) as { content: Array<{ text: string }> };
  assert.match(fsList.content[0]!.text, new RegExp(fs.realpathSync(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  fs.rmSync(dir, { recursive: true, force: true });

  const sessions = [...sessionsIn(store).values()].map((records) => assembleSession(records.map((record) => ({ record }))));
  assert.equal(sessions.length, 3, 'one session per record process');
  for (const s of sessions) {
    const conn = s.session!.connections[0]!;
    assert.ok(conn.agent?.name, 'the Inspector\'s clientInfo is recorded');
    assert.notEqual(conn.agent?.name, 'flight-test-agent');
  }
  const calls = sessions.flatMap((s) => [...s.calls.values()]);
  const echoCall = toolCalls(calls, 'echo')[0]!;
  assert.equal(echoCall.outcome, 'success');
  assert.deepEqual(echoCall.input, { message: 'inspected' });
  assert.equal(echoCall.server.name, 'everything');
  assert.equal(toolCalls(calls, 'list_allowed_directories')[0]!.server.name, 'filesystem');
  assert.ok(calls.some((c) => c.method === 'tools/list' && c.outcome === 'success'));
});
