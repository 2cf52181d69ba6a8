import * as vscode from 'vscode';
import type { ServerSpec } from '../../core/config/servers';
import type { ConnectionInfo } from '../../core/model/calls';
import type { CommandContext } from '../commands/context';
import { allKnownServers, resolveInputs } from './configured-servers';

/** Which server a call from the extension itself (Replay, Call Tool…) goes to, with consent. */

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
