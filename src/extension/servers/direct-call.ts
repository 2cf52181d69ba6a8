import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import * as vscode from 'vscode';
import type { ServerSpec } from '../../core/config/servers';
import { targetOf } from '../../core/config/servers';
import type { ConnectionInfo } from '../../core/model/calls';
import { openDownstream } from '../../core/recording/downstream';
import type { Recorder } from '../../core/recording/recorder';
import { RecordingTransport } from '../../core/recording/transport';
import { VERSION } from '../../core/version';
import type { CommandContext } from '../commands/context';
import { allKnownServers, resolveInputs } from './configured-servers';

/**
 * Calls a server from the extension itself (Replay, Call Tool…) through the same recording
 * transport as every other client, so these calls are recorded like the agent's.
 */

/** The spec to reach a server by name: its configuration, or else how it was launched when recorded. */
export async function specForServer(ctx: CommandContext, name: string, recorded?: ConnectionInfo): Promise<ServerSpec | undefined> {
  const configured = allKnownServers(ctx.extension).find((s) => s.spec.name === name);
  let spec: ServerSpec | undefined;
  if (configured) {
    spec = await resolveInputs(configured, ctx.extension.secrets, true);
  } else if (recorded) {
    const t = recorded.server;
    if (t.transport === 'stdio' && t.command) spec = { name, type: 'stdio', command: t.command, args: t.args ?? [], ...(t.cwd ? { cwd: t.cwd } : {}) };
    else if (t.url) spec = { name, type: t.transport === 'sse' ? 'sse' : 'http', url: t.url };
    const missing = [...(t.env_names ?? []), ...(t.header_names ?? [])];
    if (spec && missing.length) {
      const go = 'Run Without Them';
      const answer = await vscode.window.showWarningMessage(`"${name}" is not configured in this workspace. It was recorded with ${missing.join(', ')}, whose values are never recorded.`, { modal: true }, go);
      if (answer !== go) return undefined;
    }
  }
  if (!spec) {
    void vscode.window.showErrorMessage(`MCP Flight Recorder cannot reach "${name}": it is not configured in this workspace.`);
    return undefined;
  }
  if (spec.type === 'stdio' && !(await ctx.consent.ensure(spec))) return undefined;
  return spec;
}

export interface DirectSession {
  client: Client;
  close(): Promise<void>;
}

export async function connect(spec: ServerSpec, recorder: Recorder): Promise<DirectSession> {
  const transport = new RecordingTransport({ recorder, server: targetOf(spec), downstream: (connection) => openDownstream(spec, connection) });
  const client = new Client({ name: 'mcp-flight-recorder', version: VERSION });
  await client.connect(transport);
  return { client, close: () => client.close() };
}

export async function listTools(session: DirectSession): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await session.client.listTools(cursor ? { cursor } : undefined);
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

export async function callTool(session: DirectSession, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await session.client.callTool({ name, arguments: args })) as CallToolResult;
}
