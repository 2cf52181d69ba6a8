import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ServerSpec } from '../../core/config/servers';
import { targetOf } from '../../core/config/servers';
import { openDownstream } from '../../core/recording/downstream';
import type { Recorder } from '../../core/recording/recorder';
import { RecordingTransport } from '../../core/recording/transport';
import { VERSION } from '../../core/version';

/**
 * The extension's own MCP client (Replay, Call Tool…): the SDK's Client over the same recording
 * transport as every other client, so these calls are recorded like the agent's.
 */

export interface DirectSession {
  client: Client;
  close(): Promise<void>;
}

export async function connect(spec: ServerSpec, recorder: Recorder): Promise<DirectSession> {
  const transport = new RecordingTransport({ recorder, server: targetOf(spec), spec, downstream: (connection) => openDownstream(spec, connection) });
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
