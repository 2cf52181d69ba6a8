import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * A scripted demo agent: the SDK's real client running a realistic little workflow against the
 * reference servers, with a few failures on purpose, so a recording has something to show.
 * The caller decides the path (through `mcp-flight record`, or the recorder's HTTP endpoint).
 */

export interface DemoServers {
  everything: () => Transport;
  filesystem: () => Transport;
  workspace: string;
}

export async function runDemoAgent(servers: DemoServers, log: (line: string) => void = (l) => console.error(l)): Promise<void> {
  const everything = new Client({ name: 'demo-agent', version: '1.0.0' }, { capabilities: { roots: {} } });
  everything.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file://${servers.workspace}`, name: 'demo workspace' }] }));
  const fsClient = new Client({ name: 'demo-agent', version: '1.0.0' });
  await everything.connect(servers.everything());
  await fsClient.connect(servers.filesystem());

  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      const r = (await fn()) as { isError?: boolean } | undefined;
      log(`${r?.isError ? '✗' : '✓'} ${what}${r?.isError ? ' (tool reported an error)' : ''}`);
    } catch (err) {
      log(`✗ ${what}: ${(err as Error).message}`);
    }
  };

  const notes = path.join(servers.workspace, 'notes');
  await step('list tools (everything)', () => everything.listTools());
  await step('list tools (filesystem)', () => fsClient.listTools());
  await step('echo a greeting', () => everything.callTool({ name: 'echo', arguments: { message: 'Good morning from the demo agent' } }));
  await step('add two numbers', () => everything.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } }));
  await step('run a long operation with progress', () => everything.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } }, undefined, { onprogress: () => undefined }));
  await step('create the notes folder', () => fsClient.callTool({ name: 'create_directory', arguments: { path: notes } }));
  await step('write a plan', () => fsClient.callTool({ name: 'write_file', arguments: { path: path.join(notes, 'plan.md'), content: '# Plan\n\n1. Read the logs\n2. Fix the bug\n' } }));
  await step('read the plan back', () => fsClient.callTool({ name: 'read_text_file', arguments: { path: path.join(notes, 'plan.md') } }));
  await step('read a file outside the workspace (refused)', () => fsClient.callTool({ name: 'read_text_file', arguments: { path: '/etc/passwd' } }));
  await step('add numbers with a wrong argument (refused)', () => everything.callTool({ name: 'get-sum', arguments: { a: 'nineteen', b: 23 } }));
  await step('call a tool that does not exist', () => everything.callTool({ name: 'deploy-to-production', arguments: {} }));
  await step('ask the server for the client roots', () => everything.callTool({ name: 'get-roots-list', arguments: {} }));
  await step('list the notes folder', () => fsClient.callTool({ name: 'list_directory', arguments: { path: notes } }));
  await everything.close();
  await fsClient.close();
}
