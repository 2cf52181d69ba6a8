import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EVERYTHING, FILESYSTEM, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';
import { startServe, type Served, type ServedEndpoint } from '../helpers/serve';

/** `mcp-flight serve`: every server of an mcp.json over Streamable HTTP on 127.0.0.1, one session. */

const store = tempDir();
const work = tempDir('mcpf-serve-ws-');
let serve: Served;
let servers: ServedEndpoint[] = [];

before(async () => {
  requireBuiltCli();
  fs.mkdirSync(path.join(work, '.vscode'));
  fs.writeFileSync(
    path.join(work, '.vscode', 'mcp.json'),
    `{
  // comments are fine here, as in VS Code
  "servers": {
    "everything": { "type": "stdio", "command": ${JSON.stringify(NODE)}, "args": [${JSON.stringify(EVERYTHING)}] },
    "filesystem": { "type": "stdio", "command": ${JSON.stringify(NODE)}, "args": [${JSON.stringify(FILESYSTEM)}, "\${workspaceFolder}"] }
  }
}`,
  );
  serve = await startServe(['--store', store, '--config', path.join(work, '.vscode', 'mcp.json')]);
  servers = serve.servers;
});

after(async () => {
  await serve.stop();
  fs.rmSync(store, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

function connect(name: string, headers?: Record<string, string>): StreamableHTTPClientTransport {
  const s = servers.find((x) => x.name === name)!;
  return new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: headers ?? { Authorization: `Bearer ${s.token}` } } });
}

test('serves every configured server on 127.0.0.1 and records both in one session', async () => {
  assert.deepEqual(servers.map((s) => s.name).sort(), ['everything', 'filesystem']);
  for (const s of servers) assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp\//);

  const a = new Client({ name: 'serve-agent', version: '1' });
  await a.connect(connect('everything'));
  await a.callTool({ name: 'echo', arguments: { message: 'over http' } });
  await a.close();

  const b = new Client({ name: 'serve-agent', version: '1' });
  await b.connect(connect('filesystem'));
  await b.callTool({ name: 'write_file', arguments: { path: path.join(work, 'out.txt'), content: 'served' } });
  await b.close();
  assert.equal(fs.readFileSync(path.join(work, 'out.txt'), 'utf8'), 'served', '${workspaceFolder} resolved to the config\'s workspace');

  const refused = new Client({ name: 'intruder', version: '1' });
  await assert.rejects(refused.connect(connect('everything', { Authorization: 'Bearer wrong' })));

  await serve.stop();
  const { calls, assembler } = onlySession(store);
  assert.equal(assembler.session?.recorder.kind, 'cli-serve');
  assert.ok(assembler.session?.ended_at, 'a clean stop ends the session');
  assert.equal(toolCalls(calls, 'echo')[0]!.outcome, 'success');
  assert.equal(toolCalls(calls, 'write_file')[0]!.outcome, 'success');
  const conns = assembler.session!.connections;
  assert.deepEqual(conns.map((c) => [c.server.name, c.upstream]).sort(), [['everything', 'http'], ['filesystem', 'http']]);
  assert.ok(conns.every((c) => c.mcp_session_id && c.agent?.name === 'serve-agent'));
  assert.ok(!calls.some((c) => c.agent_id?.startsWith('intruder')), 'a refused client reaches nothing');
});
