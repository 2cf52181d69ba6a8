import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { otherClientConfigFiles, readOtherClientConfig, type OtherClient } from '../../core/config/other-clients';
import { installLauncher, readWrappedList, unwrapAll, writeWrappedList } from '../../core/config/launcher';
import { wrapConfig } from '../../core/config/wrap';
import type { CommandContext } from '../commands/context';
import { Commands, Settings } from '../ids';

/**
 * Other agents (Claude Code, Cursor, Claude Desktop) record into the same workspace store when
 * their servers are wrapped in `mcp-flight record` (see core/config/launcher.ts), and their
 * servers can be imported into the extension's own configuration.
 */

const CLIENT_NAMES: Record<OtherClient, string> = { 'claude-code': 'Claude Code', cursor: 'Cursor', 'claude-desktop': 'Claude Desktop' };

function existingConfigs(): Array<{ client: OtherClient; file: string; servers: string[] }> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return otherClientConfigFiles(folder)
    .map(({ client, file }) => ({ client, file, config: readOtherClientConfig(client, file, { workspaceFolder: folder }) }))
    .filter((x) => x.config && x.config.servers.length)
    .map((x) => ({ client: x.client, file: x.file, servers: x.config!.servers.map((s) => s.name) }));
}

export function registerOtherClients(ctx: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Commands.wrapOtherClients, async () => {
      const store = ctx.flight.storeRoot;
      if (!store) return;
      const configs = existingConfigs();
      if (!configs.length) {
        void vscode.window.showInformationMessage('No Claude Code, Cursor or Claude Desktop MCP configuration found.');
        return;
      }
      const picked = await vscode.window.showQuickPick(
        configs.map((c) => ({ label: CLIENT_NAMES[c.client], description: c.file, detail: c.servers.join(', '), picked: true, c })),
        { canPickMany: true, title: "Record these clients' servers into this workspace's store" },
      );
      if (!picked?.length) return;
      const ok = 'Wrap in mcp-flight record';
      const answer = await vscode.window.showWarningMessage(`Change ${picked.length} configuration file${picked.length === 1 ? '' : 's'}?`, { modal: true, detail: `Each server's command is wrapped in "mcp-flight record", which launches the same command and records its traffic into ${store}. A backup of every file is written beside it; "Stop Recording Other Clients' Servers" undoes this, as does uninstalling the extension. Restart those clients to apply.` }, ok);
      if (answer !== ok) return;
      const launcher = installLauncher(ctx.extension.extensionPath);
      const files: string[] = [];
      for (const { c } of picked) {
        const text = fs.readFileSync(c.file, 'utf8');
        const r = wrapConfig(text, { launcher, store });
        if (!r.wrapped.length) continue;
        fs.writeFileSync(`${c.file}.mcp-flight-backup-${Date.now()}`, text);
        fs.writeFileSync(c.file, r.text);
        files.push(c.file);
      }
      writeWrappedList([...readWrappedList(), ...files]);
      void vscode.window.showInformationMessage(`Wrapped the servers of ${files.length} configuration file${files.length === 1 ? '' : 's'}. Restart those clients; their calls will appear here live.`);
    }),
    vscode.commands.registerCommand(Commands.unwrapOtherClients, () => {
      const done = unwrapAll().filter((d) => d.servers.length);
      void vscode.window.showInformationMessage(done.length ? `Restored ${done.map((d) => `${path.basename(d.file)} (${d.servers.join(', ')})`).join('; ')}.` : 'No wrapped configuration to restore.');
    }),
    vscode.commands.registerCommand(Commands.importServers, async () => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) return;
      const items = [];
      for (const { client, file } of otherClientConfigFiles(folder.uri.fsPath)) {
        const config = readOtherClientConfig(client, file, { workspaceFolder: folder.uri.fsPath });
        for (const spec of config?.servers ?? []) items.push({ label: spec.name, description: CLIENT_NAMES[client], detail: spec.type === 'stdio' ? [spec.command, ...(spec.args ?? [])].join(' ') : spec.url, spec });
      }
      if (!items.length) {
        void vscode.window.showInformationMessage('No servers found in Claude Code, Cursor or Claude Desktop configurations.');
        return;
      }
      const picked = await vscode.window.showQuickPick(items, { canPickMany: true, title: 'Import into MCP Flight Recorder (mcpFlight.servers)' });
      if (!picked?.length) return;
      const config = vscode.workspace.getConfiguration(Settings.section, folder.uri);
      const servers = { ...(config.inspect<Record<string, unknown>>(Settings.servers)?.workspaceFolderValue ?? {}) };
      for (const { spec } of picked) {
        const { name, ...entry } = spec;
        servers[name] = entry;
      }
      await config.update(Settings.servers, servers, vscode.ConfigurationTarget.WorkspaceFolder);
      void vscode.window.showInformationMessage(`Imported ${picked.map((p) => p.label).join(', ')}. VS Code's agent reaches them through the recorder.`);
    }),
  ];
}
