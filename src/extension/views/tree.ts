import * as vscode from 'vscode';
import { formatDuration, terminalStateOfCounts } from '../../core/analysis/summary';
import type { AlertRow, CallRow, SessionRow, Store } from '../../core/store/store';
import { plain } from '../../core/alerts/text';
import type { Flight } from '../flight';
import { Commands } from '../ids';
import { relativeTime } from './format';

/**
 * Sessions → Servers → Calls, newest first, from the store's index. Refreshes are batched: the
 * store may change hundreds of times a second while an agent works, the tree at most ~10.
 */

export type FlightNode = SessionNode | ServerNode | CallNode | MoreNode;

export interface SessionNode {
  kind: 'session';
  session: SessionRow;
  /** Security alerts of the session (badge and tooltip). */
  alerts?: AlertBadge;
}
export interface ServerNode {
  kind: 'server';
  session: SessionRow;
  server: string;
  alerts?: AlertBadge;
}
export interface CallNode {
  kind: 'call';
  call: CallRow;
  alerts?: AlertBadge;
}

/** Alert counts by severity and the latest titles, for a tree item. */
export interface AlertBadge {
  total: number;
  high: number;
  medium: number;
  low: number;
  titles: string[];
}

export function alertBadge(rows: readonly AlertRow[]): AlertBadge | undefined {
  if (!rows.length) return undefined;
  const b: AlertBadge = { total: rows.length, high: 0, medium: 0, low: 0, titles: [] };
  for (const r of rows) {
    if (r.severity === 'high') b.high++;
    else if (r.severity === 'medium') b.medium++;
    else b.low++;
  }
  b.titles = rows.slice(-5).map((r) => `${r.severity}: ${plain(r.title ?? r.kind).slice(0, 160)}`);
  return b;
}
export interface MoreNode {
  kind: 'more';
  session: SessionRow;
  server: string;
  shown: number;
  total: number;
}

const PAGE = 500;
const REFRESH_MS = 100;

export class FlightTree implements vscode.TreeDataProvider<FlightNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<FlightNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private pending?: NodeJS.Timeout;
  /** How many calls each server node shows; grows by a page with "more". */
  private readonly limits = new Map<string, number>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private store?: Store;

  constructor(private readonly flight: Flight) {
    this.subscriptions.push(flight.onDidChange(() => this.schedule()));
  }

  schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.changed.fire(undefined);
    }, REFRESH_MS);
  }

  showMore(node: MoreNode): void {
    const key = `${node.session.session_id}/${node.server}`;
    this.limits.set(key, (this.limits.get(key) ?? PAGE) + PAGE);
    this.changed.fire(undefined);
  }

  async getChildren(node?: FlightNode): Promise<FlightNode[]> {
    if (!this.flight.storeRoot) return [];
    try {
      this.store ??= await this.flight.store();
    } catch {
      return [];
    }
    const store = this.store;
    if (!node) {
      const bySession = groupBy(store.alerts(), (a) => a.session_id);
      return store.sessions().map((session) => ({ kind: 'session', session, ...badge(bySession.get(session.session_id)) }));
    }
    if (node.kind === 'session') {
      const servers = node.session.servers.length ? node.session.servers : [...new Set(store.connections(node.session.session_id).map((c) => c.server))];
      const byServer = groupBy(store.alerts(node.session.session_id), (a) => a.server ?? '');
      return servers.map((server) => ({ kind: 'server', session: node.session, server, ...badge(byServer.get(server)) }));
    }
    if (node.kind === 'server') {
      const key = `${node.session.session_id}/${node.server}`;
      const limit = this.limits.get(key) ?? PAGE;
      const calls = store.calls({ sessionId: node.session.session_id, server: node.server, limit, order: 'desc' });
      const byCall = groupBy(store.alerts(node.session.session_id), (a) => a.call_id ?? '');
      const items: FlightNode[] = calls.map((call) => ({ kind: 'call', call, ...badge(byCall.get(call.call_id)) }));
      if (calls.length === limit) {
        const total = store.countCalls({ sessionId: node.session.session_id, server: node.server });
        if (total > limit) items.push({ kind: 'more', session: node.session, server: node.server, shown: limit, total });
      }
      return items;
    }
    return [];
  }

  getTreeItem(node: FlightNode): vscode.TreeItem {
    switch (node.kind) {
      case 'session':
        return withAlerts(sessionItem(node.session), node.alerts);
      case 'server':
        return withAlerts(serverItem(node, this.store), node.alerts);
      case 'call':
        return withAlerts(callItem(node.call), node.alerts);
      case 'more': {
        const item = new vscode.TreeItem(`Show ${Math.min(PAGE, node.total - node.shown)} more of ${node.total - node.shown} older calls…`);
        item.command = { command: Commands.showMore, title: 'Show More', arguments: [node] };
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.contextValue = 'more';
        return item;
      }
    }
  }

  getParent(node: FlightNode): FlightNode | undefined {
    if (node.kind === 'server' || node.kind === 'more') return { kind: 'session', session: node.session };
    if (node.kind === 'call' && this.store) {
      const session = this.store.session(node.call.session_id);
      if (session) return { kind: 'server', session, server: node.call.server };
    }
    return undefined;
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.changed.dispose();
    for (const s of this.subscriptions) s.dispose();
  }
}

function sessionItem(s: SessionRow): vscode.TreeItem {
  const state = terminalStateOfCounts(s);
  const started = new Date(s.started_at);
  const item = new vscode.TreeItem(`${started.toLocaleString()} · ${s.recorder_kind}`, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `session:${s.session_id}`;
  item.description = `${s.tool_calls} calls${s.failed ? ` · ${s.failed} failed` : ''}${s.repaired ? ` (${s.repaired} retried ok)` : ''} · ${state.replace('_', ' ')}`;
  item.iconPath = new vscode.ThemeIcon(state === 'in_progress' ? 'record' : state === 'interrupted' ? 'debug-disconnect' : s.failed ? 'warning' : 'history', s.failed ? new vscode.ThemeColor('list.warningForeground') : undefined);
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**Session** \`${s.session_id}\`\n\n`);
  md.appendText(`Recorder: ${s.recorder_kind}${s.recorder ? ` ${s.recorder.version} (pid ${s.recorder.pid} on ${s.recorder.hostname})` : ''}\n`);
  md.appendText(`State: ${state}\nStarted: ${s.started_at}\n${s.ended_at ? `Ended: ${s.ended_at} (${s.end_reason ?? ''})` : 'Not ended'}\n`);
  md.appendText(`Tool calls: ${s.tool_calls} (ok ${s.successful}, failed ${s.failed}${s.repaired ? ` of which ${s.repaired} repaired by an agent retry` : ''}, cancelled ${s.cancelled}, pending ${s.pending})`);
  if (s.replay_of) md.appendText(`\nReplay of ${s.replay_of.call_id} in session ${s.replay_of.session_id}`);
  item.tooltip = md;
  item.contextValue = `session.${state}`;
  return item;
}

function serverItem(node: ServerNode, store: Store | undefined): vscode.TreeItem {
  const item = new vscode.TreeItem(node.server, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `server:${node.session.session_id}/${node.server}`;
  if (store) {
    const total = store.countCalls({ sessionId: node.session.session_id, server: node.server, method: 'tools/call' });
    const failed = store.countCalls({ sessionId: node.session.session_id, server: node.server, method: 'tools/call', outcome: ['error', 'timeout'] });
    item.description = `${total} tool calls${failed ? ` · ${failed} failed` : ''}`;
    if (failed) item.iconPath = new vscode.ThemeIcon('server', new vscode.ThemeColor('list.warningForeground'));
  }
  item.iconPath ??= new vscode.ThemeIcon('server');
  item.contextValue = node.session.ended ? 'server.recorded' : 'server.live.running';
  return item;
}

const OUTCOME_ICON: Record<CallRow['outcome'], [string, string | undefined]> = {
  success: ['pass', 'testing.iconPassed'],
  error: ['error', 'testing.iconFailed'],
  timeout: ['watch', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
  pending: ['loading~spin', undefined],
};

export function callItem(call: CallRow): vscode.TreeItem {
  const failed = call.outcome === 'error' || call.outcome === 'timeout';
  const label: vscode.TreeItemLabel = { label: call.tool, ...(failed ? { highlights: [[0, call.tool.length]] as [number, number][] } : {}) };
  const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.None);
  item.id = `call:${call.session_id}/${call.call_id}`;
  const [icon, color] = OUTCOME_ICON[call.outcome];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  const duration = call.duration_ms !== undefined ? formatDuration(call.duration_ms) : 'pending';
  const effects = (call.side_effects?.length ?? 0) + (call.side_effects_omitted ?? 0);
  item.description = `${failed && call.error ? `${call.error.error_class} · ` : ''}${duration} · ${relativeTime(call.timestamp)}${effects ? ` · ${effects} effect${effects === 1 ? '' : 's'}` : ''}${call.direction === 'server_to_client' ? ' · from server' : ''}`;
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${escapeMd(call.tool)}** — ${call.outcome}\n\n`);
  md.appendText(`${call.method} on ${call.server}${call.agent_id ? ` by ${call.agent_id}` : ''}\n${call.timestamp} · ${duration}\n\nInput: ${call.input_summary}\n`);
  if (call.error) md.appendText(`\nError (${call.error.error_class}, ${call.error.error_code ?? '—'}): ${call.error.message}\nRecovery: ${call.error.recovery_action}${call.error.retry_safe ? ', safe to retry' : ''}`);
  else if (call.output_summary) md.appendText(`\nResult: ${call.output_summary}`);
  if (call.answered_by_recorder) md.appendText('\n\nAnswered by the recorder (the server could not).');
  if (call.side_effects?.length) {
    const shown = call.side_effects.slice(0, 5).map((e) => `${e.kind.replace('file_', '')} ${e.path ?? e.uri ?? e.name ?? ''} (${e.attribution.replace(/_/g, ' ')})`);
    md.appendText(`\n\nSide effects (${effects}):\n${shown.join('\n')}${effects > shown.length ? `\n… ${effects - shown.length} more` : ''}`);
  }
  if (call.credentials) md.appendText(`\n\nCredentials: ${call.credentials.mode}${call.credentials.names.length ? ` (${call.credentials.names.map((n, i) => `${n} ${call.credentials!.fingerprints[i] ?? ''}`).join(', ')})` : ''}`);
  item.tooltip = md;
  item.contextValue = `call.${failed ? 'failed' : call.outcome}`;
  item.command = { command: Commands.showInputs, title: 'Show Inputs', arguments: [{ kind: 'call', call }] };
  return item;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    let list = m.get(k);
    if (!list) m.set(k, (list = []));
    list.push(t);
  }
  return m;
}

function badge(rows: AlertRow[] | undefined): { alerts?: AlertBadge } {
  const b = rows && alertBadge(rows);
  return b ? { alerts: b } : {};
}

/**
 * The alert badge on an item: `⚠ N` leading the description, a shield icon (red for high,
 * yellow otherwise) in place of the usual one, and the counts and latest titles in the tooltip.
 */
export function withAlerts(item: vscode.TreeItem, b: AlertBadge | undefined): vscode.TreeItem {
  if (!b) return item;
  item.description = `⚠ ${b.total}${typeof item.description === 'string' && item.description ? ` · ${item.description}` : ''}`;
  item.iconPath = new vscode.ThemeIcon('shield', new vscode.ThemeColor(b.high ? 'list.errorForeground' : 'list.warningForeground'));
  const md = item.tooltip instanceof vscode.MarkdownString ? item.tooltip : new vscode.MarkdownString(typeof item.tooltip === 'string' ? item.tooltip : '');
  md.appendText(`\n\nSecurity alerts: ${b.total} (high ${b.high}, medium ${b.medium}, low ${b.low})\n${b.titles.join('\n')}`);
  item.tooltip = md;
  return item;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
