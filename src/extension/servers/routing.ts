import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits, modify, parse as parseJsonc } from 'jsonc-parser';
import * as vscode from 'vscode';
import type { InputDefinition } from '../../core/config/mcp-json';
import type { CommandContext } from '../commands/context';
import { Commands, Settings } from '../ids';

/**
 * VS Code cannot let an extension intercept the servers it runs itself, so recording a
 * workspace's servers means moving them: out of `.vscode/mcp.json`, into `mcpFlight.servers`,
 * from where the extension offers them through the recorder. Tools never appear twice. The move
 * is consented, backed up first, keeps the file's comments (jsonc-parser edits), and reversible.
 */

const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' } };

interface McpJson {
  servers?: Record<string, unknown>;
  inputs?: InputDefinition[];
}

export function registerRouting(ctx: CommandContext): vscode.Disposable[] {
  return [vscode.commands.registerCommand(Commands.routeWorkspaceServers, () => route(ctx)), vscode.commands.registerCommand(Commands.restoreWorkspaceServers, () => restore(ctx))];
}

async function route(ctx: CommandContext): Promise<string[] | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Trust this workspace first: routing its servers lets MCP Flight Recorder start them.');
    return undefined;
  }
  const candidates: Array<vscode.QuickPickItem & { folder: vscode.WorkspaceFolder; name: string; file: string }> = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const file = path.join(folder.uri.fsPath, '.vscode', 'mcp.json');
    const json = readJsonc(file);
    for (const [name, entry] of Object.entries(json?.servers ?? {})) {
      const e = entry as { command?: string; args?: string[]; url?: string };
      candidates.push({ label: name, description: folder.name, detail: e.url ?? [e.command, ...(e.args ?? [])].join(' '), picked: true, folder, name, file });
    }
  }
  if (!candidates.length) {
    void vscode.window.showInformationMessage('No servers in .vscode/mcp.json to route through the recorder.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(candidates, { canPickMany: true, title: 'Route these servers through MCP Flight Recorder', placeHolder: 'They move from .vscode/mcp.json to the mcpFlight.servers setting (a backup is made first)' });
  if (!picked?.length) return undefined;
  const ok = 'Route Through the Recorder';
  const answer = await vscode.window.showWarningMessage(
    `Move ${picked.length} server${picked.length === 1 ? '' : 's'} from .vscode/mcp.json into MCP Flight Recorder?`,
    { modal: true, detail: 'VS Code will then reach them through the recorder, which records every call. A backup of each mcp.json is written beside it, and "Restore Workspace Servers" moves them back.' },
    ok,
  );
  if (answer !== ok) return undefined;

  const moved: string[] = [];
  for (const [file, items] of groupBy(picked, (p) => p.file)) {
    const folder = items[0]!.folder;
    let text = fs.readFileSync(file, 'utf8');
    backup(file, text);
    const json = parseJsonc(text) as McpJson;
    const config = vscode.workspace.getConfiguration(Settings.section, folder.uri);
    const servers = { ...(config.inspect<Record<string, unknown>>(Settings.servers)?.workspaceFolderValue ?? {}) };
    for (const item of items) {
      servers[item.name] = json.servers?.[item.name];
      text = applyEdits(text, modify(text, ['servers', item.name], undefined, FORMAT));
      moved.push(item.name);
    }
    // Settings first: if writing them fails, mcp.json is still untouched and nothing is lost.
    await config.update(Settings.servers, servers, vscode.ConfigurationTarget.WorkspaceFolder);
    if (json.inputs?.length) {
      const inputs = [...(config.inspect<InputDefinition[]>(Settings.inputs)?.workspaceFolderValue ?? [])];
      for (const i of json.inputs) if (!inputs.some((x) => x.id === i.id)) inputs.push(i);
      await config.update(Settings.inputs, inputs, vscode.ConfigurationTarget.WorkspaceFolder);
    }
    fs.writeFileSync(file, text);
  }
  void vscode.window.showInformationMessage(`Routed ${moved.join(', ')} through MCP Flight Recorder. Their tools now come from "MCP Flight Recorder" in VS Code's MCP server list.`);
  ctx.tree.schedule();
  return moved;
}

async function restore(ctx: CommandContext): Promise<string[] | undefined> {
  const candidates: Array<vscode.QuickPickItem & { folder: vscode.WorkspaceFolder; name: string }> = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const servers = vscode.workspace.getConfiguration(Settings.section, folder.uri).inspect<Record<string, unknown>>(Settings.servers)?.workspaceFolderValue ?? {};
    for (const name of Object.keys(servers)) candidates.push({ label: name, description: folder.name, picked: true, folder, name });
  }
  if (!candidates.length) {
    void vscode.window.showInformationMessage('No routed servers to restore.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(candidates, { canPickMany: true, title: 'Move these servers back to .vscode/mcp.json' });
  if (!picked?.length) return undefined;
  const restored: string[] = [];
  for (const [folderPath, items] of groupBy(picked, (p) => p.folder.uri.fsPath)) {
    const folder = items[0]!.folder;
    const file = path.join(folderPath, '.vscode', 'mcp.json');
    let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '{\n  "servers": {}\n}\n';
    if (fs.existsSync(file)) backup(file, text);
    const config = vscode.workspace.getConfiguration(Settings.section, folder.uri);
    const servers = { ...(config.inspect<Record<string, unknown>>(Settings.servers)?.workspaceFolderValue ?? {}) };
    for (const item of items) {
      text = applyEdits(text, modify(text, ['servers', item.name], servers[item.name], FORMAT));
      delete servers[item.name];
      restored.push(item.name);
    }
    const inputs = config.inspect<InputDefinition[]>(Settings.inputs)?.workspaceFolderValue ?? [];
    const existing = (parseJsonc(text) as McpJson).inputs ?? [];
    for (const i of inputs) if (!existing.some((x) => x.id === i.id)) text = applyEdits(text, modify(text, ['inputs', -1], i, { ...FORMAT, isArrayInsertion: true }));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // mcp.json first: if that fails, the servers are still in the settings and nothing is lost.
    fs.writeFileSync(file, text);
    await config.update(Settings.servers, Object.keys(servers).length ? servers : undefined, vscode.ConfigurationTarget.WorkspaceFolder);
    if (!Object.keys(servers).length) await config.update(Settings.inputs, undefined, vscode.ConfigurationTarget.WorkspaceFolder);
  }
  void vscode.window.showInformationMessage(`Moved ${restored.join(', ')} back to .vscode/mcp.json; VS Code runs them directly again.`);
  ctx.tree.schedule();
  return restored;
}

function readJsonc(file: string): McpJson | undefined {
  try {
    return parseJsonc(fs.readFileSync(file, 'utf8')) as McpJson;
  } catch {
    return undefined;
  }
}

function backup(file: string, text: string): void {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(`${file}.mcp-flight-backup-${stamp}`, text);
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    m.set(k, [...(m.get(k) ?? []), i]);
  }
  return m;
}
