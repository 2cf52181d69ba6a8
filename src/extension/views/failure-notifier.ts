import * as vscode from 'vscode';
import type { Flight } from '../flight';
import { Commands } from '../ids';
import { readSettings } from '../settings';
import { NoticeThrottle } from './notice-throttle';

/**
 * Tells the user when a recorded call fails, with one action to open its inputs. Rate-limited:
 * an agent that fails in a loop must not bury the editor in toasts.
 */
export class FailureNotifier implements vscode.Disposable {
  private readonly since = new Date().toISOString();
  private readonly seen = new Set<string>();
  private unreported = 0;
  private latest?: { session_id: string; call_id: string; tool: string; server: string; message: string };
  private readonly throttle = new NoticeThrottle(() => this.show());
  private readonly subscription: vscode.Disposable;

  constructor(private readonly flight: Flight) {
    this.subscription = flight.onDidChange(async (change) => {
      if (!readSettings().notifyOnFailure || !change.calls.length) return;
      const store = await flight.store();
      for (const ref of change.calls) {
        const key = `${ref.session_id}/${ref.call_id}`;
        if (this.seen.has(key)) continue;
        const call = store.call(ref.session_id, ref.call_id);
        if (!call || call.timestamp < this.since || call.method !== 'tools/call' || (call.outcome !== 'error' && call.outcome !== 'timeout')) continue;
        this.seen.add(key);
        this.unreported++;
        this.latest = { session_id: call.session_id, call_id: call.call_id, tool: call.tool, server: call.server, message: call.error?.message ?? call.outcome };
      }
      this.maybeShow();
    });
  }

  private maybeShow(): void {
    if (!this.unreported) return;
    this.throttle.request();
  }

  private async show(): Promise<void> {
    const latest = this.latest;
    const count = this.unreported;
    if (!latest || !count) return;
    this.unreported = 0;
    const text = count === 1 ? `MCP call failed: ${latest.tool} on ${latest.server} — ${latest.message.slice(0, 200)}` : `${count} MCP calls failed; the latest: ${latest.tool} on ${latest.server} — ${latest.message.slice(0, 160)}`;
    const inputs = 'Show Inputs';
    const timeline = 'Open Timeline';
    const answer = await vscode.window.showWarningMessage(text, inputs, timeline);
    if (answer === inputs) await vscode.commands.executeCommand(Commands.showInputs, { session_id: latest.session_id, call_id: latest.call_id });
    if (answer === timeline) await vscode.commands.executeCommand(Commands.revealInTimeline, { session_id: latest.session_id, call_id: latest.call_id });
  }

  dispose(): void {
    this.throttle.dispose();
    this.subscription.dispose();
  }
}
