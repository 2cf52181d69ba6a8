import * as vscode from 'vscode';
import { plain } from '../../core/alerts/text';
import type { AlertRow } from '../../core/store/store';
import type { Flight } from '../flight';
import { Commands } from '../ids';
import { readSecuritySettings } from '../settings';
import { NoticeThrottle } from './notice-throttle';

const RANK: Record<string, number> = { low: 0, medium: 1, high: 2 };

/**
 * Tells the user about security alerts as they are recorded — by this window or by any recorder
 * writing into the store (`mcp-flight record`) — at or above `mcpFlight.security.notifyMinSeverity`,
 * as an error, warning or information message by the worst severity since the last one.
 * Rate-limited like failures: at most one notification every 30 s, counting what happened in between.
 */
export class AlertNotifier implements vscode.Disposable {
  private readonly since = new Date().toISOString();
  private readonly seen = new Set<string>();
  private unreported: AlertRow[] = [];
  private readonly throttle = new NoticeThrottle(() => this.show());
  private readonly subscription: vscode.Disposable;

  constructor(private readonly flight: Flight) {
    this.subscription = flight.onDidChange(async (change) => {
      const min = readSecuritySettings().notifyMinSeverity;
      if (min === 'off' || !change.sessions.length) return;
      const store = await flight.store();
      for (const sessionId of change.sessions) {
        for (const a of store.alerts(sessionId)) {
          const key = `${a.session_id}/${a.alert_id ?? a.ts}/${a.kind}`;
          if (this.seen.has(key) || (a.ts ?? '') < this.since) continue;
          this.seen.add(key);
          if ((RANK[a.severity] ?? 0) >= RANK[min]!) this.unreported.push(a);
        }
      }
      this.maybeShow();
    });
  }

  private maybeShow(): void {
    if (!this.unreported.length) return;
    this.throttle.request();
  }

  private async show(): Promise<void> {
    const batch = this.unreported;
    if (!batch.length) return;
    this.unreported = [];
    const worst = batch.reduce((w, a) => ((RANK[a.severity] ?? 0) > (RANK[w.severity] ?? 0) ? a : w));
    const where = plain([worst.server, worst.tool].filter(Boolean).join('/')).slice(0, 120);
    const title = plain(worst.title ?? worst.kind).slice(0, 200);
    const text = batch.length === 1 ? `MCP security alert (${worst.severity}) on ${where}: ${title}` : `${batch.length} MCP security alerts; the most severe (${worst.severity}) on ${where}: ${title}`;
    const showCall = 'Show Call';
    const timeline = 'Open Timeline';
    const actions = worst.call_id ? [showCall, timeline] : [timeline];
    const show = worst.severity === 'high' ? vscode.window.showErrorMessage : worst.severity === 'medium' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    const answer = await show(text, ...actions);
    if (answer === showCall && worst.call_id) await vscode.commands.executeCommand(Commands.revealInTimeline, { session_id: worst.session_id, call_id: worst.call_id });
    if (answer === timeline) await vscode.commands.executeCommand(Commands.openTimeline);
  }

  dispose(): void {
    this.throttle.dispose();
    this.subscription.dispose();
  }
}
