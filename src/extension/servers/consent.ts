import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { ServerSpec } from '../../core/config/servers';
import { launchLine } from './configured-servers';

/**
 * Launching a command is a trust decision, as it is when VS Code starts a server itself: the
 * workspace must be trusted, and the user allows each server once, seeing the exact command
 * line. The consent is tied to that command line and asked again when it changes.
 */
export class ServerConsent {
  constructor(private readonly state: vscode.Memento) {}

  private key(name: string): string {
    return `mcpFlight.consent.${name}`;
  }

  private fingerprint(spec: ServerSpec): string {
    return crypto.createHash('sha256').update(launchLine(spec)).digest('hex');
  }

  isGranted(spec: ServerSpec): boolean {
    return this.state.get<string>(this.key(spec.name)) === this.fingerprint(spec);
  }

  /** For the extension's API (tests, and extensions that manage their own consent UI). */
  async grant(spec: ServerSpec): Promise<void> {
    await this.state.update(this.key(spec.name), this.fingerprint(spec));
  }

  async revoke(name: string): Promise<void> {
    await this.state.update(this.key(name), undefined);
  }

  /** Asks when needed; false when the workspace is untrusted or the user declines. */
  async ensure(spec: ServerSpec): Promise<boolean> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(`MCP Flight Recorder does not start "${spec.name}": this workspace is not trusted.`);
      return false;
    }
    if (this.isGranted(spec)) return true;
    const changed = this.state.get<string>(this.key(spec.name)) !== undefined;
    const allow = 'Allow and Start';
    const answer = await vscode.window.showWarningMessage(
      changed ? `The command of MCP server "${spec.name}" changed. Start it through MCP Flight Recorder?` : `Start MCP server "${spec.name}" through MCP Flight Recorder?`,
      { modal: true, detail: `It runs:\n\n${launchLine(spec)}\n\nOnly allow servers you trust: the command runs with your permissions.` },
      allow,
    );
    if (answer !== allow) return false;
    await this.grant(spec);
    return true;
  }
}
