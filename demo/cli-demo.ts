import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parseMcpConfig } from '../src/core/config/mcp-json';
import type { StdioServerSpec } from '../src/core/config/servers';
import { runDemoAgent } from './agent';

/** The CLI demo: the demo agent's calls go through `mcp-flight record`, as any stdio client's would. */
const root = path.resolve(__dirname, '..');
const workspace = path.join(root, 'demo', 'workspace');
const store = path.join(workspace, '.mcp-flight');
const cli = path.join(root, 'dist', 'cli.js');
const config = parseMcpConfig(fs.readFileSync(path.join(workspace, '.vscode', 'mcp.json'), 'utf8'), 'mcp.json', { workspaceFolder: workspace });
const spec = (name: string) => config.servers.find((s) => s.name === name) as StdioServerSpec;
const recorded = (name: string) => () => {
  const s = spec(name);
  const command = s.command === 'node' ? process.execPath : s.command;
  return new StdioClientTransport({ command: process.execPath, args: [cli, 'record', '--store', store, '--name', name, '--', command, ...(s.args ?? [])], stderr: 'ignore' });
};

(async () => {
  console.error(`Recording the demo agent into ${store}\n`);
  await runDemoAgent({ everything: recorded('everything'), filesystem: recorded('filesystem'), workspace });
  await new Promise((r) => setTimeout(r, 300));
  console.error('\nSessions in the store:');
  spawnSync(process.execPath, [cli, 'sessions', '--store', store], { stdio: 'inherit' });
  console.error('\nSummary of the latest session:');
  spawnSync(process.execPath, [cli, 'summary', '--store', store, '--session', 'latest'], { stdio: 'inherit' });
  console.error(`\nExport it: node dist/cli.js export --store ${path.relative(process.cwd(), store)} --session latest --out session.json`);
})();
