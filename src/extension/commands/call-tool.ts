import * as vscode from 'vscode';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { Commands } from '../ids';
import { allKnownServers } from '../servers/configured-servers';
import { runtime } from '../lazy';
import { specForServer } from '../servers/direct-call';
import type { CommandContext } from './context';

/**
 * Call Tool…: pick a server and a tool, fill the arguments from the tool's inputSchema, run it —
 * recorded like any other call, in the window's session.
 */
export function registerCallTool(ctx: CommandContext): vscode.Disposable {
  return vscode.commands.registerCommand(Commands.callTool, async (arg?: { server?: string }) => {
    const servers = allKnownServers(ctx.extension);
    if (!servers.length) {
      void vscode.window.showInformationMessage('No MCP servers are configured in this workspace.');
      return;
    }
    const name = arg?.server ?? (await vscode.window.showQuickPick(servers.map((s) => ({ label: s.spec.name, description: s.source })), { title: 'Call Tool: pick a server' }))?.label;
    if (!name) return;
    const spec = await specForServer(ctx, name);
    if (!spec) return;
    const session = await runtime().connect(spec, ctx.flight.recorder());
    try {
      const tools = await runtime().listTools(session);
      const pick = await vscode.window.showQuickPick(
        tools.map((t) => ({ label: t.name, description: t.annotations?.readOnlyHint ? 'read-only' : '', detail: t.description, tool: t })),
        { title: `Call Tool on ${name}: pick a tool`, matchOnDetail: true },
      );
      if (!pick) return;
      const args = await argumentsFor(pick.tool);
      if (!args) return;
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Calling ${pick.tool.name} on ${name}…` }, () => session.client.callTool({ name: pick.tool.name, arguments: args }));
      await ctx.documents.open(['call-tool', `${pick.tool.name} result.json`], result, { preview: false });
    } catch (err) {
      void vscode.window.showErrorMessage(`Call Tool failed: ${(err as Error).message}`);
    } finally {
      await session.close();
      void ctx.flight.refresh();
    }
  });
}

interface PropertySchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
}

/** Asks for each property of the input schema, required ones first; undefined when cancelled. */
export async function argumentsFor(tool: Tool): Promise<Record<string, unknown> | undefined> {
  const schema = tool.inputSchema as { properties?: Record<string, PropertySchema>; required?: string[] };
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  props.sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
  const args: Record<string, unknown> = {};
  for (const [key, prop] of props) {
    const type = Array.isArray(prop.type) ? prop.type[0] : prop.type;
    if (prop.enum) {
      const pick = await vscode.window.showQuickPick(prop.enum.map((v) => ({ label: JSON.stringify(v), value: v })), { title: `${tool.name}: ${key}`, placeHolder: prop.description });
      if (!pick) return undefined;
      args[key] = pick.value;
      continue;
    }
    const text = await vscode.window.showInputBox({
      title: `${tool.name}: ${key}${required.has(key) ? '' : ' (optional — leave empty to omit)'}`,
      prompt: `${prop.description ?? ''} [${type ?? 'any'}]`,
      value: prop.default !== undefined ? (typeof prop.default === 'string' ? prop.default : JSON.stringify(prop.default)) : '',
      ignoreFocusOut: true,
      validateInput: (v) => (v === '' && !required.has(key) ? undefined : validate(v, type)),
    });
    if (text === undefined) return undefined;
    if (text === '' && !required.has(key)) continue;
    args[key] = convert(text, type);
  }
  return args;
}

function validate(text: string, type: string | undefined): string | undefined {
  try {
    convert(text, type);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function convert(text: string, type: string | undefined): unknown {
  switch (type) {
    case 'number':
    case 'integer': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n) || (type === 'integer' && !Number.isInteger(n))) throw new Error(`expected ${type === 'integer' ? 'an integer' : 'a number'}`);
      return n;
    }
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw new Error('expected true or false');
      return text === 'true';
    case 'object':
    case 'array':
    case undefined: {
      if (type === undefined && !/^[[{"\d-]|^(true|false|null)$/.test(text.trim())) return text;
      const v = JSON.parse(text) as unknown;
      if (type === 'array' && !Array.isArray(v)) throw new Error('expected a JSON array');
      if (type === 'object' && (typeof v !== 'object' || v === null || Array.isArray(v))) throw new Error('expected a JSON object');
      return v;
    }
    default:
      return text;
  }
}
