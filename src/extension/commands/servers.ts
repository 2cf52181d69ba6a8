import * as vscode from 'vscode';
import { Commands, ContextKeys } from '../ids';
import { recordedServers } from '../servers/configured-servers';
import type { FlightStatusBar } from '../views/status-bar';
import type { FlightNode } from '../views/tree';
import type { CommandContext } from './context';

/**
 * Server lifecycle (start, stop, restart, output) and Pause/Resume. Servers offered to VS Code
 * are started and stopped through VS Code's own MCP commands, so its view of them stays true.
 */
export function registerServerCommands(ctx: CommandContext, statusBar: FlightStatusBar): vscode.Disposable[] {
  const serverName = async (arg: unknown): Promise<string | undefined> => {
    const node = arg as FlightNode | { server?: string } | undefined;
    if (node && 'kind' in node && node.kind === 'server') return node.server;
    if (node && 'server' in node && typeof node.server === 'string') return node.server;
    const names = recordedServers().servers.map((s) => s.spec.name);
    return vscode.window.showQuickPick(names, { title: 'Which server?' });
  };
  const vscodeId = (name: string) => `${ctx.extension.extension.id}/${name}`;
  const setPaused = async (paused: boolean) => {
    ctx.flight.setPaused(paused);
    statusBar.paused = paused;
    statusBar.schedule();
    await vscode.commands.executeCommand('setContext', ContextKeys.paused, paused);
    vscode.window.setStatusBarMessage(paused ? 'MCP Flight Recorder paused: calls are listed, their arguments and results are not recorded.' : 'MCP Flight Recorder records in full again.', 4000);
  };
  return [
    vscode.commands.registerCommand(Commands.startServer, async (arg: unknown) => {
      const name = await serverName(arg);
      if (name) await vscode.commands.executeCommand('workbench.mcp.startServer', vscodeId(name), { waitForLiveTools: true });
    }),
    vscode.commands.registerCommand(Commands.stopServer, async (arg: unknown) => {
      const name = await serverName(arg);
      if (!name) return;
      await vscode.commands.executeCommand('workbench.mcp.stopServer', vscodeId(name)).then(undefined, () => undefined);
      await ctx.flight.stopServer(name);
    }),
    vscode.commands.registerCommand(Commands.restartServer, async (arg: unknown) => {
      const name = await serverName(arg);
      if (!name) return;
      await ctx.flight.stopServer(name);
      await vscode.commands.executeCommand('workbench.mcp.restartServer', vscodeId(name)).then(undefined, () => vscode.commands.executeCommand('workbench.mcp.startServer', vscodeId(name)));
    }),
    vscode.commands.registerCommand(Commands.showServerOutput, async (arg: unknown) => {
      const name = await serverName(arg);
      if (name) ctx.flight.serverOutput(name).show(true);
    }),
    vscode.commands.registerCommand(Commands.pauseRecording, () => setPaused(true)),
    vscode.commands.registerCommand(Commands.resumeRecording, () => setPaused(false)),
    vscode.commands.registerCommand(Commands.refresh, async () => {
      await ctx.flight.refresh();
      ctx.tree.schedule();
    }),
    vscode.commands.registerCommand(Commands.showMore, (node: FlightNode) => {
      if (node?.kind === 'more') ctx.tree.showMore(node);
    }),
  ];
}
