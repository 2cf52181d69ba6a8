import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseMcpConfig, resolveVariables, type InputDefinition } from '../../core/config/mcp-json';
import { credentialInputsOf, type ServerSpec } from '../../core/config/servers';
import { Settings } from '../ids';

/**
 * The servers MCP Flight Recorder offers to VS Code: the `mcpFlight.servers` setting of every
 * workspace folder (and of the workspace file and the user), in the `.vscode/mcp.json` format.
 * Also reads, for import, routing and replay, the servers VS Code itself is configured with:
 * `.vscode/mcp.json` of every folder, the user's `mcp.json`, and `mcp.servers` in settings.
 */

export interface ConfiguredServer {
  /** The spec with predefined variables resolved; `${input:…}` are still in place. */
  spec: ServerSpec;
  folder?: vscode.WorkspaceFolder;
  /** Where it is configured, for messages. */
  source: string;
  inputs: InputDefinition[];
}

/** Servers configured for recording, unique by name (a folder's setting wins over the workspace's and user's). */
export function recordedServers(): { servers: ConfiguredServer[]; problems: string[] } {
  const servers = new Map<string, ConfiguredServer>();
  const problems: string[] = [];
  const folders = vscode.workspace.workspaceFolders ?? [];
  const scopes: Array<vscode.WorkspaceFolder | undefined> = folders.length ? [...folders] : [undefined];
  for (const folder of scopes) {
    const value = vscode.workspace.getConfiguration(Settings.section, folder?.uri).get<Record<string, unknown>>(Settings.servers) ?? {};
    const inputs = vscode.workspace.getConfiguration(Settings.section, folder?.uri).get<InputDefinition[]>(Settings.inputs) ?? [];
    const parsed = parseMcpConfig(JSON.stringify({ servers: value }), `${Settings.section}.${Settings.servers}`, { workspaceFolder: folder?.uri.fsPath, input: keepInput });
    problems.push(...parsed.problems);
    for (const spec of parsed.servers) if (!servers.has(spec.name)) servers.set(spec.name, { spec, folder, source: folder ? `${folder.name}: settings` : 'settings', inputs });
  }
  return { servers: [...servers.values()], problems };
}

/** The servers VS Code itself runs from `.vscode/mcp.json` files (one per folder) and the user's `mcp.json`. */
export function vscodeMcpConfigFiles(context: vscode.ExtensionContext): Array<{ file: string; folder?: vscode.WorkspaceFolder }> {
  const files: Array<{ file: string; folder?: vscode.WorkspaceFolder }> = (vscode.workspace.workspaceFolders ?? []).map((folder) => ({ file: path.join(folder.uri.fsPath, '.vscode', 'mcp.json'), folder }));
  // The user's mcp.json sits in the User folder, two levels above this extension's global storage.
  files.push({ file: path.join(context.globalStorageUri.fsPath, '..', '..', 'mcp.json') });
  return files;
}

export function readVscodeMcpConfig(file: string, folder: vscode.WorkspaceFolder | undefined): { servers: ConfiguredServer[]; problems: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { servers: [], problems: [] };
  }
  try {
    const parsed = parseMcpConfig(text, file, { workspaceFolder: folder?.uri.fsPath, input: keepInput });
    return { servers: parsed.servers.map((spec) => ({ spec, folder, source: file, inputs: parsed.inputs })), problems: parsed.problems };
  } catch (err) {
    return { servers: [], problems: [(err as Error).message] };
  }
}

/** Servers in `mcp.servers` of the workspace file (`.code-workspace`) and user settings. */
export function settingsMcpServers(): ConfiguredServer[] {
  const mcp = vscode.workspace.getConfiguration('mcp');
  const servers = mcp.get<Record<string, unknown>>('servers') ?? {};
  const inputs = mcp.get<InputDefinition[]>('inputs') ?? [];
  const folder = vscode.workspace.workspaceFolders?.[0];
  const parsed = parseMcpConfig(JSON.stringify({ servers }), 'settings: mcp.servers', { workspaceFolder: folder?.uri.fsPath, input: keepInput });
  return parsed.servers.map((spec) => ({ spec, folder, source: vscode.workspace.workspaceFile ? path.basename(vscode.workspace.workspaceFile.fsPath) : 'settings', inputs }));
}

/** Every server VS Code or we know about, for replay and Call Tool on servers recorded elsewhere. */
export function allKnownServers(context: vscode.ExtensionContext): ConfiguredServer[] {
  const byName = new Map<string, ConfiguredServer>();
  for (const s of recordedServers().servers) byName.set(s.spec.name, s);
  for (const { file, folder } of vscodeMcpConfigFiles(context)) for (const s of readVscodeMcpConfig(file, folder).servers) if (!byName.has(s.spec.name)) byName.set(s.spec.name, s);
  for (const s of settingsMcpServers()) if (!byName.has(s.spec.name)) byName.set(s.spec.name, s);
  return [...byName.values()];
}

/** `${input:…}` are resolved when the server starts (prompting is allowed only then), so they are kept as they are here. */
function keepInput(id: string): string {
  return `\${input:${id}}`;
}

const INPUT = /\$\{input:([^}]+)\}/g;

export function inputIdsOf(spec: ServerSpec): string[] {
  const ids = new Set<string>();
  for (const m of JSON.stringify(spec).matchAll(INPUT)) ids.add(m[1]!);
  return [...ids];
}

/**
 * Resolves `${input:…}` from SecretStorage, prompting once for each value that is missing
 * (VS Code holds its own inputs where extensions cannot read them).
 */
export async function resolveInputs(server: ConfiguredServer, secrets: vscode.SecretStorage, prompt: boolean): Promise<ServerSpec | undefined> {
  const values = new Map<string, string>();
  for (const id of inputIdsOf(server.spec)) {
    const key = `mcpFlight.input.${id}`;
    let value = await secrets.get(key);
    if (value === undefined) {
      if (!prompt) return undefined;
      const def = server.inputs.find((i) => i.id === id);
      value = await vscode.window.showInputBox({
        title: `MCP server "${server.spec.name}" needs a value`,
        prompt: def?.description ?? `Value for \${input:${id}}`,
        password: def?.password ?? true,
        ignoreFocusOut: true,
      });
      if (value === undefined) return undefined;
      await secrets.store(key, value);
    }
    values.set(id, value);
  }
  const resolved = resolveVariables(server.spec, { workspaceFolder: server.folder?.uri.fsPath, userHome: os.homedir(), input: (id) => values.get(id) });
  const fromInputs = credentialInputsOf(server.spec);
  return fromInputs.length ? { ...resolved, credentialInputs: fromInputs } : resolved;
}


/** The exact command line shown when asking for consent, and hashed to ask again when it changes. */
export function launchLine(spec: ServerSpec): string {
  if (spec.type !== 'stdio') return `${spec.type.toUpperCase()} ${spec.url}`;
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => (v === null ? `-u ${k}` : `${k}=${quote(String(v))}`));
  return [...(env.length ? ['env', ...env] : []), quote(spec.command), ...(spec.args ?? []).map(quote)].join(' ') + (spec.cwd ? `   (in ${spec.cwd})` : '');
}
