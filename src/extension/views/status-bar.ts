import * as vscode from 'vscode';
import type { Flight } from '../flight';
import { Commands } from '../ids';

/**
 * The live count of calls, failures and alerts in this window's time (sessions still running or
 * started since activation), in the status bar; a click opens the timeline.
 */
export class FlightStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('mcpFlight.status', vscode.StatusBarAlignment.Left, 50);
  private readonly since = new Date().toISOString();
  private timer?: NodeJS.Timeout;
  private readonly subscription: vscode.Disposable;
  paused = false;

  constructor(private readonly flight: Flight) {
    this.item.name = 'MCP Flight Recorder';
    this.item.command = Commands.openTimeline;
    this.subscription = flight.onDidChange(() => this.schedule());
    this.render(0, 0, 0);
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.update();
    }, 200);
  }

  private async update(): Promise<void> {
    const store = await this.flight.store().catch(() => undefined);
    if (!store) return;
    let calls = 0;
    let failed = 0;
    for (const s of store.sessions()) {
      if (s.ended && s.started_at < this.since) continue;
      calls += s.tool_calls;
      failed += s.failed;
    }
    this.render(calls, failed, store.alerts().filter((a) => (a.ts ?? '') >= this.since).length);
  }

  private render(calls: number, failed: number, alerts: number): void {
    this.item.text = `$(${this.paused ? 'debug-pause' : 'record'}) ${calls}${failed ? `  $(error) ${failed}` : ''}${alerts ? `  $(shield) ${alerts}` : ''}`;
    this.item.tooltip = `MCP Flight Recorder${this.paused ? ' (paused: metadata only)' : ''}\n${calls} tool calls, ${failed} failed, ${alerts} alerts in this window's time\nClick to open the timeline`;
    this.item.backgroundColor = failed ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription.dispose();
    this.item.dispose();
  }
}
