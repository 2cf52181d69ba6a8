import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { encodeColumns, splitLoad } from '../../shared/call-columns';
import { isFromWebview, type CallRow, type FromWebview, type ToWebview } from '../../shared/protocol';
import type { Flight } from '../flight';
import { Commands } from '../ids';
import { overviewOf, StoreTimelineSource, type TimelineSource } from './timeline-data';

/** Calls in the `init` message: the newest screenful, so the first paint need not wait for the rest. */
export const INIT_ROWS = 200;
/** Calls per `history` message after it: small enough that the webview adds one within a frame. */
export const HISTORY_CHUNK = 2_000;

/**
 * Hosts the timeline webview. The page is built by webview/main.ts from messages alone; the
 * HTML here is only the strict-CSP shell (no inline script or style, scripts by nonce). Live
 * changes are batched to at most ~10 messages a second.
 */
export class TimelinePanel implements vscode.Disposable {
  private static live?: TimelinePanel;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private queued: ToWebview[] = [];
  private pendingCalls = new Map<string, { session_id: string; call_id: string }>();
  private flushTimer?: NodeJS.Timeout;
  private overviewTimer?: NodeJS.Timeout;
  private readonly overviewCost = new Map<string, { at: number; tookMs: number }>();
  /** The current initial load; a newer one (or dispose) stops the older one's history. */
  private load = 0;

  private constructor(
    private readonly flight: Flight,
    private readonly source: TimelineSource,
    column: vscode.ViewColumn,
  ) {
    this.panel = vscode.window.createWebviewPanel('mcpFlight.timeline', source.title, column, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(flight.context.extensionUri, 'dist'), vscode.Uri.joinPath(flight.context.extensionUri, 'media')],
    });
    this.panel.iconPath = vscode.Uri.joinPath(flight.context.extensionUri, 'media', 'flight.svg');
    this.panel.webview.html = this.html();
    this.disposables.push(
      this.panel.webview.onDidReceiveMessage((m: unknown) => {
        if (isFromWebview(m)) void this.onMessage(m);
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
    if (!source.readOnly) {
      this.disposables.push(
        flight.onDidChange((change) => {
          if (change.rebuilt) {
            this.sendInit(true);
            return;
          }
          for (const c of change.calls) this.pendingCalls.set(`${c.session_id}/${c.call_id}`, c);
          this.scheduleFlush();
        }),
      );
    }
  }

  /** Opens (or focuses) the live timeline of the workspace store. */
  static async showLive(flight: Flight): Promise<TimelinePanel> {
    if (TimelinePanel.live) {
      TimelinePanel.live.panel.reveal();
      return TimelinePanel.live;
    }
    const store = await flight.store();
    const panel = new TimelinePanel(flight, new StoreTimelineSource(store), vscode.ViewColumn.Active);
    TimelinePanel.live = panel;
    return panel;
  }

  /** Opens a read-only timeline over an exported session. */
  static showExported(flight: Flight, source: TimelineSource): TimelinePanel {
    return new TimelinePanel(flight, source, vscode.ViewColumn.Active);
  }

  reveal(sessionId: string, callId: string): void {
    this.panel.reveal();
    this.post({ type: 'reveal', session_id: sessionId, call_id: callId });
  }

  private async onMessage(m: FromWebview): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.sendInit(!this.source.readOnly);
        for (const q of this.queued.splice(0)) void this.panel.webview.postMessage(q);
        return;
      case 'requestDetail': {
        try {
          this.post({ type: 'detail', requestId: m.requestId, detail: this.source.detail(m.session_id, m.call_id) });
        } catch (err) {
          this.post({ type: 'detail', requestId: m.requestId, detail: undefined, error: (err as Error).message });
        }
        return;
      }
      case 'openInputs':
        await vscode.commands.executeCommand(Commands.showInputs, { session_id: m.session_id, call_id: m.call_id, source: this.source });
        return;
      case 'openFull':
        await vscode.commands.executeCommand(m.part === 'input' ? Commands.showInputs : Commands.showResult, { session_id: m.session_id, call_id: m.call_id, source: this.source });
        return;
      case 'replay':
        await vscode.commands.executeCommand(Commands.replay, { session_id: m.session_id, call_id: m.call_id });
        return;
      case 'copyJson':
        await vscode.commands.executeCommand(Commands.copyAsJson, { session_id: m.session_id, call_id: m.call_id, source: this.source });
        return;
      case 'requestOverview':
        this.answerOverview(m);
        return;
      case 'showPlan':
        await vscode.commands.executeCommand(Commands.showRecoveryPlan, { session_id: m.session_id, source: this.source });
        return;
    }
  }

  /**
   * The overview re-reads the session from the journal (seconds for a 100k-call session), and a
   * live session asks again as it grows: answers for a session are spaced by at least ten times
   * what the last one cost (and 2 s), the latest request only, so it never takes more than a
   * tenth of the extension host.
   */
  private answerOverview(m: Extract<FromWebview, { type: 'requestOverview' }>): void {
    clearTimeout(this.overviewTimer);
    const last = this.overviewCost.get(m.session_id);
    const wait = last ? Math.max(0, last.at + Math.max(2000, last.tookMs * 10) - Date.now()) : 0;
    this.overviewTimer = setTimeout(() => {
      const t0 = Date.now();
      try {
        const report = this.source.report(m.session_id);
        this.post({ type: 'overview', requestId: m.requestId, session_id: m.session_id, overview: report && overviewOf(report.summary, report.plan) });
      } catch (err) {
        this.post({ type: 'overview', requestId: m.requestId, session_id: m.session_id, overview: undefined, error: (err as Error).message });
      }
      this.overviewCost.set(m.session_id, { at: Date.now(), tookMs: Date.now() - t0 });
    }, wait);
  }

  /**
   * The initial state: the newest INIT_ROWS calls in `init` (with the total), then the older ones
   * newest first in `history` chunks, each posted once the previous one was delivered — a 100k
   * call session used to be one message whose structured clone alone took about a second.
   */
  private sendInit(follow: boolean): void {
    if (!this.ready) return;
    const load = ++this.load;
    const rows = byStart(this.source.calls());
    const { head, chunks } = splitLoad(rows, INIT_ROWS, HISTORY_CHUNK);
    this.post({ type: 'init', readOnly: this.source.readOnly, title: this.source.title, sessions: this.source.sessions(), calls: rows.slice(head), follow, total: rows.length, load });
    if (chunks.length) void this.sendHistory(load, rows, chunks);
  }

  private async sendHistory(load: number, rows: CallRow[], chunks: Array<[number, number]>): Promise<void> {
    for (let k = 0; k < chunks.length && load === this.load; k++) {
      const [start, end] = chunks[k]!;
      const columns = encodeColumns(rows.slice(start, end));
      try {
        await this.panel.webview.postMessage({ type: 'history', load, columns, done: k === chunks.length - 1 } satisfies ToWebview);
      } catch {
        return; // disposed
      }
      // Let the extension host's other work (live batches, detail answers) in between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const source = this.source as StoreTimelineSource;
      const rows = source.rows(this.pendingCalls.values());
      this.pendingCalls.clear();
      if (rows.length) this.post({ type: 'calls', calls: rows });
      this.post({ type: 'sessions', sessions: this.source.sessions() });
    }, 100);
  }

  private post(message: ToWebview): void {
    if (!this.ready) {
      if (message.type !== 'init') this.queued.push(message);
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = crypto.randomBytes(18).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.flight.context.extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.flight.context.extensionUri, 'media', 'timeline.css'));
    const csp = [`default-src 'none'`, `img-src blob: ${webview.cspSource}`, `style-src ${webview.cspSource}`, `font-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>MCP Flight Recorder</title>
</head>
<body>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  dispose(): void {
    if (TimelinePanel.live === this) TimelinePanel.live = undefined;
    this.load = -1;
    clearTimeout(this.flushTimer);
    clearTimeout(this.overviewTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

/** `rows` in start order (stable), as the webview orders them; unchanged when already sorted. */
function byStart(rows: CallRow[]): CallRow[] {
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.start_ms < rows[i - 1]!.start_ms) return rows.slice().sort((a, b) => a.start_ms - b.start_ms);
  }
  return rows;
}
