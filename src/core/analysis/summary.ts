import type { Call, ConnectionInfo, ErrorClass, SessionInfo, TerminalState } from '../model/calls';
import type { AlertKind, AlertSeverity } from '../model/records';
import type { CallAssembler } from './calls';
import { agentId } from './calls';
import { ERROR_CLASS_RULES } from './errors';
import { spendOf, type SpendSummary } from './spend';
import { analyzeFailures, recoveryStatus, type LaterCompletion, type RecoveryStatus } from './recovery';
import { CREDENTIAL_MODE_ORDER } from '../audit/credentials';
import type { CredentialMode } from '../model/records';

/**
 * One session at a glance: the counts operators ask for first (how many tool calls, how many
 * failed and why), who talked to whom, and how the session ended. Derived only from an assembled
 * session, so the CLI, the views and the exports all report the same numbers.
 *
 * Counting rules (documented in docs/export-format.md):
 * - `tool_calls` counts every `tools/call` request, in either direction:
 *   `tool_calls = successful_calls + failed_calls + cancelled_calls + pending_calls`.
 * - `failed_calls` counts tool calls whose outcome is `error` (JSON-RPC error or `isError`
 *   result) or `timeout`.
 * - `other_requests` counts every other request (initialize, tools/list, server→client
 *   requests such as roots/list…), whatever its outcome.
 * - `errors_by_class` counts every call carrying an error, of any method, cancellations included.
 * - `failures` lists calls of any method that ended in `error` or `timeout`, in request order.
 */

export interface SessionSummaryFacts {
  /** Whether the process that writes this session is still running (decides in_progress vs interrupted). */
  writerAlive: boolean;
  /** The timestamp of the session's last record, for the duration of a session that has not ended. */
  lastRecordTs?: string;
  /** At most this many entries in `failures` (default 100); the rest are counted in `failures_omitted`. */
  maxFailures?: number;
  /** Failed or in-flight calls whose work a later session completed (recovery.ts findLaterCompletions): they make `recovery_status` `resumed`. */
  completedLater?: ReadonlyMap<string, LaterCompletion>;
}

export interface ServerSummary {
  /** The name the user configured for the server. */
  name: string;
  /** From the server's `serverInfo`, once the handshake completed. */
  version: string | null;
  connections: number;
  /** tools/call requests to this server. */
  calls: number;
  /** Of those, the ones that ended in error or timeout. */
  failures: number;
}

export interface AgentSummary {
  /** `clientInfo` as `name/version`. */
  agent_id: string;
  name: string;
  version: string | null;
  connections: number;
  /** tools/call requests made over this agent's connections. */
  calls: number;
}

export interface FailureSummary {
  call_id: string;
  timestamp: string;
  server: string;
  method: string;
  tool: string;
  outcome: 'error' | 'timeout';
  error_class: ErrorClass;
  error_code: number | string | null;
  /** One line, at most 300 characters. */
  message: string;
}

export interface SessionEventCounts {
  stderr_lines: number;
  non_json_frames: number;
  opaque_frames: number;
  transport_errors: number;
  /** Calls (any method) that ended in a timeout. */
  timeouts: number;
  /** Server processes that exited with a non-zero code or were killed by a signal. */
  abnormal_exits: number;
  spawn_errors: number;
}

/**
 * What the session changed (docs/side-effects.md). Files count `side_effect` records (each once,
 * however many calls it was attributed to). `api_calls_made` counts the tools/call requests that
 * reached the server (not refused by the recorder's gate) to tools that may act on the world: any
 * tool whose latest tools/list annotations do not say both `readOnlyHint: true` and
 * `openWorldHint: false` (MCP's defaults are not read-only and open world, so a tool without
 * annotations counts). `spend_incurred_usd` sums the calls' `cost_usd`.
 */
export interface SideEffectsSummary {
  /** The file counts are null when the session holds no file effect at all: not observed (no watcher), never a claimed zero. */
  files_created: number | null;
  files_modified: number | null;
  files_deleted: number | null;
  api_calls_made: number;
  /** Null when no call was priced (no cost model). */
  spend_incurred_usd: number | null;
  resources_updated: number;
  resource_lists_changed: number;
  declared: number;
  /** Files a call created and deleted again (temporary files): in no other count. */
  transient_files: number;
  /** Effects seen while no tool call was in flight (counted above, attached to no call). */
  unattributed: number;
}

/** One server's credentials over the session: the strongest mode, and the fingerprints seen per name (docs/credentials.md). */
export interface CredentialsUsed {
  server: string;
  mode: CredentialMode;
  names: string[];
  fingerprints: Record<string, string[]>;
}

export interface SessionSummary {
  session_id: string;
  /** Null only for a damaged journal that lost the session_start record. */
  started_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  /** Wall-clock span from start to end (or to the last record while the session has not ended). */
  duration_ms: number | null;
  terminal_state: TerminalState;
  tool_calls: number;
  successful_calls: number;
  failed_calls: number;
  cancelled_calls: number;
  pending_calls: number;
  other_requests: number;
  servers: ServerSummary[];
  agents: AgentSummary[];
  /** Non-zero counts only, keys in the order of the ErrorClass table. */
  errors_by_class: Partial<Record<ErrorClass, number>>;
  failures: FailureSummary[];
  failures_omitted: number;
  events: SessionEventCounts;
  recorder: SessionInfo['recorder'] | null;
  replay_of: { session_id: string; call_id: string } | null;
  /** Money spent, per call, tool, server and agent, the limit and the policy that priced it (src/core/analysis/spend.ts). */
  spend: SpendSummary;
  /** Tool calls that are agent retries of a failed identical call (`retry_of`). */
  retries: number;
  /** Failed tool calls whose retry chain in the session ended in success. */
  recovered_failures: number;
  /** See recovery.ts recoveryStatus and docs/recovery.md. */
  recovery_status: RecoveryStatus;
  side_effects_summary: SideEffectsSummary;
  /** Null when no connection was recorded with credential attribution. */
  credentials_used: CredentialsUsed[] | null;
  /** Security alerts (src/core/alerts): how many, by severity (all three keys) and by kind (non-zero only). */
  alerts: AlertCounts;
}

export interface AlertCounts {
  total: number;
  by_severity: Record<AlertSeverity, number>;
  by_kind: Partial<Record<AlertKind, number>>;
}

const DEFAULT_MAX_FAILURES = 100;
const FAILURE_MESSAGE_CHARS = 300;

export function summarizeSession(assembler: CallAssembler, facts: SessionSummaryFacts): SessionSummary {
  const session = assembler.session;
  const connections = sessionConnections(assembler);
  const maxFailures = facts.maxFailures ?? DEFAULT_MAX_FAILURES;

  let tool_calls = 0;
  let successful_calls = 0;
  let failed_calls = 0;
  let cancelled_calls = 0;
  let pending_calls = 0;
  let other_requests = 0;
  let pendingAny = 0;
  let timeouts = 0;
  let latest = '';
  const errorCounts = new Map<ErrorClass, number>();
  const failures: FailureSummary[] = [];
  let failures_omitted = 0;
  const perConnection = new Map<string, { calls: number; failures: number }>();

  for (const call of assembler.calls.values()) {
    if (call.timestamp > latest) latest = call.timestamp;
    if (call.ended_at !== undefined && call.ended_at > latest) latest = call.ended_at;
    if (call.outcome === 'pending') pendingAny++;
    if (call.outcome === 'timeout') timeouts++;
    if (call.error) errorCounts.set(call.error.error_class, (errorCounts.get(call.error.error_class) ?? 0) + 1);
    const failed = call.outcome === 'error' || call.outcome === 'timeout';
    if (failed) {
      if (failures.length < maxFailures) failures.push(failureOf(call, assembler.connection(call.connection_id)));
      else failures_omitted++;
    }
    if (call.method !== 'tools/call') {
      other_requests++;
      continue;
    }
    tool_calls++;
    if (call.outcome === 'success') successful_calls++;
    else if (failed) failed_calls++;
    else if (call.outcome === 'cancelled') cancelled_calls++;
    else pending_calls++;
    let pc = perConnection.get(call.connection_id);
    if (!pc) perConnection.set(call.connection_id, (pc = { calls: 0, failures: 0 }));
    pc.calls++;
    if (failed) pc.failures++;
  }

  const servers = new Map<string, ServerSummary>();
  const agents = new Map<string, AgentSummary>();
  const events: SessionEventCounts = { stderr_lines: 0, non_json_frames: 0, opaque_frames: 0, transport_errors: 0, timeouts, abnormal_exits: 0, spawn_errors: 0 };
  for (const c of connections) {
    for (const t of [c.opened_at, c.closed_at]) if (t !== undefined && t > latest) latest = t;
    const pc = perConnection.get(c.connection_id) ?? { calls: 0, failures: 0 };
    const version = c.server.version ?? null;
    const serverKey = JSON.stringify([c.server.name, version]);
    let s = servers.get(serverKey);
    if (!s) servers.set(serverKey, (s = { name: c.server.name, version, connections: 0, calls: 0, failures: 0 }));
    s.connections++;
    s.calls += pc.calls;
    s.failures += pc.failures;
    if (c.agent) {
      const id = agentId(c.agent);
      let a = agents.get(id);
      if (!a) agents.set(id, (a = { agent_id: id, name: c.agent.name, version: c.agent.version ?? null, connections: 0, calls: 0 }));
      a.connections++;
      a.calls += pc.calls;
    }
    events.stderr_lines += c.stderr_lines;
    events.non_json_frames += c.non_json_frames;
    events.opaque_frames += c.opaque_frames;
    events.transport_errors += c.transport_errors;
    const p = c.process;
    // process_exit sets both: a non-zero code, or a null code with a signal, is abnormal.
    if (p && p.exit_code !== undefined && (p.exit_code !== 0 || (p.signal !== null && p.signal !== undefined))) events.abnormal_exits++;
    if (p?.spawn_error !== undefined) events.spawn_errors++;
  }

  const errors_by_class: Partial<Record<ErrorClass, number>> = {};
  for (const cls of Object.keys(ERROR_CLASS_RULES) as ErrorClass[]) {
    const n = errorCounts.get(cls);
    if (n) errors_by_class[cls] = n;
  }

  const started_at = session?.started_at ?? null;
  const ended_at = session?.ended_at ?? null;
  const endTs = ended_at ?? facts.lastRecordTs ?? (latest || null);
  const duration_ms = started_at !== null && endTs !== null ? durationBetween(started_at, endTs) : null;

  const analysis = analyzeFailures(assembler.calls.values());
  const terminal_state = terminalState({ ended: ended_at !== null, writerAlive: facts.writerAlive, pendingCalls: pendingAny, failedCalls: analysis.unrecovered.length, successfulCalls: successful_calls });
  const later = facts.completedLater;
  const interrupted = terminal_state === 'interrupted';
  const inFlightTools = interrupted ? analysis.inFlight.filter((c) => c.direction === 'client_to_server') : [];
  const undone = [...analysis.unrecovered, ...inFlightTools].filter((c) => !later?.has(c.call_id)).length;

  return {
    session_id: session?.session_id ?? firstValue(assembler.calls)?.session_id ?? connections[0]?.session_id ?? '',
    started_at,
    ended_at,
    end_reason: session?.end_reason ?? null,
    duration_ms,
    terminal_state,
    tool_calls,
    successful_calls,
    failed_calls,
    cancelled_calls,
    pending_calls,
    other_requests,
    servers: [...servers.values()],
    agents: [...agents.values()],
    errors_by_class,
    failures,
    failures_omitted,
    events,
    recorder: session?.recorder ?? null,
    replay_of: session?.replay_of ?? null,
    spend: spendOf(assembler),
    retries: analysis.retries,
    recovered_failures: analysis.recovered.size,
    recovery_status: recoveryStatus({ terminal: terminal_state, failures: failed_calls + inFlightTools.length, undone }),
    side_effects_summary: sideEffectsSummary(assembler),
    credentials_used: credentialsUsed(connections),
    alerts: alertCounts(assembler),
  };
}

export function sideEffectsSummary(assembler: CallAssembler): SideEffectsSummary {
  const k = assembler.effects.counts;
  let api_calls_made = 0;
  let spend = 0;
  let priced = false;
  for (const call of assembler.calls.values()) {
    if (call.cost_usd !== undefined && Number.isFinite(call.cost_usd)) {
      spend += call.cost_usd;
      priced = true;
    }
    if (call.method !== 'tools/call' || call.direction !== 'client_to_server') continue;
    if (call.answered_by_recorder && (call.error?.error_class === 'policy_denied' || call.error?.error_class === 'spend_limit')) continue;
    const a = assembler.connection(call.connection_id)?.tools?.find((t) => t.name === call.tool)?.annotations;
    if (a?.readOnlyHint === true && a?.openWorldHint === false) continue;
    api_calls_made++;
  }
  const observed = k.files_created + k.files_modified + k.files_deleted + k.transient_files > 0;
  return {
    files_created: observed ? k.files_created : null,
    files_modified: observed ? k.files_modified : null,
    files_deleted: observed ? k.files_deleted : null,
    api_calls_made,
    spend_incurred_usd: priced ? Math.round(spend * 1e6) / 1e6 : null,
    resources_updated: k.resources_updated,
    resource_lists_changed: k.resource_lists_changed,
    declared: k.declared,
    transient_files: k.transient_files,
    unattributed: k.unattributed,
  };
}

/** Per server name, in order of first connection; connections recorded without credentials are left out. */
export function credentialsUsed(connections: ConnectionInfo[]): CredentialsUsed[] | null {
  const byServer = new Map<string, CredentialsUsed>();
  for (const c of connections) {
    if (!c.credentials) continue;
    let u = byServer.get(c.server.name);
    if (!u) byServer.set(c.server.name, (u = { server: c.server.name, mode: 'none', names: [], fingerprints: {} }));
    for (const set of c.credentials) {
      for (const e of set.entries) {
        if (!u.names.includes(e.name)) u.names.push(e.name);
        const fps = (u.fingerprints[e.name] ??= []);
        if (!fps.includes(e.fingerprint)) fps.push(e.fingerprint);
      }
      const modes: CredentialMode[] = [u.mode, set.mode];
      u.mode = CREDENTIAL_MODE_ORDER.find((m) => modes.includes(m)) ?? 'none';
    }
  }
  return connections.some((c) => c.credentials) ? [...byServer.values()] : null;
}

function alertCounts(assembler: CallAssembler): AlertCounts {
  const counts: AlertCounts = { total: 0, by_severity: { low: 0, medium: 0, high: 0 }, by_kind: {} };
  for (const a of assembler.alerts) {
    counts.total++;
    if (a.severity in counts.by_severity) counts.by_severity[a.severity]++;
    counts.by_kind[a.alert_kind] = (counts.by_kind[a.alert_kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * How a session ended, by these rules, first match wins:
 * 1. no session_end record and the writer is alive → `in_progress`;
 * 2. no session_end record and the writer is gone (killed, crashed) → `interrupted`;
 * 3. the session ended with any call (any method, either direction) still pending → `interrupted`;
 * 4. failed tool calls not repaired by a successful agent retry, and successful tool calls → `partial_success`;
 * 5. such failed tool calls only → `failure`;
 * 6. otherwise (all succeeded or were retried successfully, only cancellations, or no tool calls) → `success`.
 * `failedCalls` is the count of unrepaired failures (recovery.ts analyzeFailures); callers that
 * only have outcome counts (the index) pass every failure.
 */
export function terminalState(f: { ended: boolean; writerAlive: boolean; pendingCalls: number; failedCalls: number; successfulCalls: number }): TerminalState {
  if (!f.ended) return f.writerAlive ? 'in_progress' : 'interrupted';
  if (f.pendingCalls > 0) return 'interrupted';
  if (f.failedCalls > 0) return f.successfulCalls > 0 ? 'partial_success' : 'failure';
  return 'success';
}

/** terminalState from an index row's counts (the tree, the session lists): unrepaired failures are `failed - repaired`. */
export function terminalStateOfCounts(s: { ended: boolean; writer_alive: boolean | null; pending: number; failed: number; repaired: number; successful: number }): TerminalState {
  return terminalState({ ended: s.ended, writerAlive: s.writer_alive !== false, pendingCalls: s.pending, failedCalls: s.failed - s.repaired, successfulCalls: s.successful });
}

/** The session's connections in opening order (for a journal without session_start: those its calls went through). */
export function sessionConnections(assembler: CallAssembler): ConnectionInfo[] {
  if (assembler.session) return assembler.session.connections;
  // No session_start (a damaged journal): recover the connections the calls went through.
  const seen = new Map<string, ConnectionInfo>();
  for (const call of assembler.calls.values()) {
    const info = assembler.connection(call.connection_id);
    if (info && !seen.has(call.connection_id)) seen.set(call.connection_id, info);
  }
  return [...seen.values()];
}

function failureOf(call: Call, conn: ConnectionInfo | undefined): FailureSummary {
  const e = call.error;
  return {
    call_id: call.call_id,
    timestamp: call.timestamp,
    server: conn?.server.name ?? call.server.name,
    method: call.method,
    tool: call.tool,
    outcome: call.outcome === 'timeout' ? 'timeout' : 'error',
    error_class: e?.error_class ?? (call.outcome === 'timeout' ? 'timeout' : 'internal_error'),
    error_code: e?.error_code ?? null,
    message: oneLine(e?.message ?? '', FAILURE_MESSAGE_CHARS),
  };
}

function firstValue<V>(m: Map<string, V>): V | undefined {
  for (const v of m.values()) return v;
  return undefined;
}

function durationBetween(from: string, to: string): number | null {
  const a = Date.parse(from);
  const b = Date.parse(to);
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.max(0, b - a);
}

function oneLine(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

// ---------------------------------------------------------------------------------------------
// Human-readable text for the CLI.

const LABEL = 12;

/**
 * The summary as compact, aligned plain text (no colour, no trailing spaces, ends with a newline):
 * one line per topic, then the failures — call id, tool, error class, code, message — in columns.
 */
export function formatSummaryText(s: SessionSummary, options: { width?: number } = {}): string {
  const width = options.width ?? 120;
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`${label.padEnd(LABEL)}${value}`.trimEnd());
  };

  const rec = s.recorder ? ` (${s.recorder.kind} ${s.recorder.version}${s.recorder.hostname ? ` on ${s.recorder.hostname}` : ''})` : '';
  row('Session', `${s.session_id}${rec}`);
  if (s.replay_of) row('Replay of', `${s.replay_of.session_id} ${s.replay_of.call_id}`);
  row('State', `${s.terminal_state}  recovery ${s.recovery_status}`);
  const span = [s.started_at ?? '?', '→', s.ended_at ?? (s.terminal_state === 'in_progress' ? '(running)' : '(no end)')];
  if (s.duration_ms !== null) span.push(`(${formatDuration(s.duration_ms)})`);
  if (s.end_reason) span.push(`reason: ${s.end_reason}`);
  row('Time', span.join(' '));
  row('Tool calls', `${s.tool_calls}  ok ${s.successful_calls}  failed ${s.failed_calls}  cancelled ${s.cancelled_calls}  pending ${s.pending_calls}`);
  if (s.retries) row('Retries', `${s.retries} agent retr${s.retries === 1 ? 'y' : 'ies'}, ${s.recovered_failures} failure${s.recovered_failures === 1 ? '' : 's'} repaired`);
  row('Other', `${s.other_requests} request${s.other_requests === 1 ? '' : 's'}`);

  if (s.servers.length) {
    const nameW = Math.max(...s.servers.map((v) => serverLabel(v).length));
    s.servers.forEach((v, i) => {
      const conns = v.connections > 1 ? `  connections ${v.connections}` : '';
      row(i === 0 ? 'Servers' : '', `${serverLabel(v).padEnd(nameW)}  calls ${v.calls}  failures ${v.failures}${conns}`);
    });
  }
  if (s.agents.length) row('Agents', s.agents.map((a) => a.agent_id).join(', '));
  const errs = Object.entries(s.errors_by_class);
  if (errs.length) row('Errors', errs.map(([k, n]) => `${k} ${n}`).join('  '));
  const e = s.events;
  const ev: Array<[string, number]> = [
    ['stderr lines', e.stderr_lines],
    ['non-JSON', e.non_json_frames],
    ['opaque', e.opaque_frames],
    ['transport errors', e.transport_errors],
    ['timeouts', e.timeouts],
    ['abnormal exits', e.abnormal_exits],
    ['spawn errors', e.spawn_errors],
  ];
  const nonZero = ev.filter(([, n]) => n > 0);
  row('Events', nonZero.length ? nonZero.map(([k, n]) => `${k} ${n}`).join('  ') : 'none');
  for (const line of formatSpendLines(s.spend)) row(line[0], line[1]);
  const al = s.alerts;
  if (al && al.total) {
    const sev = (['high', 'medium', 'low'] as const).filter((k) => al.by_severity[k] > 0).map((k) => `${k} ${al.by_severity[k]}`);
    const kinds = Object.entries(al.by_kind).map(([k, n]) => `${k} ${n}`);
    row('Alerts', `${al.total}  ${sev.join('  ')}  (${kinds.join(', ')})`);
  }
  const fx = s.side_effects_summary;
  const effects: Array<[string, number]> = [
    ['created', fx.files_created ?? 0],
    ['modified', fx.files_modified ?? 0],
    ['deleted', fx.files_deleted ?? 0],
    ['resource updates', fx.resources_updated + fx.resource_lists_changed],
    ['declared', fx.declared],
  ];
  // Only when something was observed: without a watcher there is nothing to say about files.
  if (effects.some(([, n]) => n > 0)) row('Effects', `files ${effects.slice(0, 3).map(([k, n]) => `${k} ${n}`).join('  ')}${effects.slice(3).filter(([, n]) => n > 0).map(([k, n]) => `  ${k} ${n}`).join('')}  api calls ${fx.api_calls_made}${fx.spend_incurred_usd ? `  spend $${fx.spend_incurred_usd}` : ''}`);
  (s.credentials_used ?? []).forEach((u, i) => {
    const names = u.names.map((n) => `${n} (${(u.fingerprints[n] ?? []).join(', ')})`).join(', ');
    row(i === 0 ? 'Credentials' : '', `${u.server}: ${u.mode}${names ? ` ${names}` : ''}`);
  });

  if (s.failures.length) {
    lines.push(`Failures (${s.failures.length + s.failures_omitted})`);
    const multiServer = s.servers.length > 1;
    const cells = s.failures.map((f) => [f.call_id, multiServer ? `${f.server}/${f.tool}` : f.tool, f.error_class, f.error_code === null ? '-' : String(f.error_code)]);
    const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
    s.failures.forEach((f, i) => {
      const c = cells[i] ?? [];
      const head = `  ${c.map((v, j) => v.padEnd(widths[j] ?? 0)).join('  ')}  `;
      const room = Math.max(20, width - head.length);
      const msg = f.message.length > room ? `${f.message.slice(0, room - 1)}…` : f.message;
      lines.push(`${head}${msg}`.trimEnd());
    });
    if (s.failures_omitted) lines.push(`  … and ${s.failures_omitted} more`);
  }
  return lines.join('\n') + '\n';
}

function formatSpendLines(sp: SpendSummary): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (sp.policy) out.push(['Policy', `${sp.policy.source}${sp.policy.path ? ` ${sp.policy.path}` : ''} sha256 ${sp.policy.sha256.slice(0, 12)}${sp.policy.explicit ? ' (given for this summary)' : ''}`]);
  for (const i of sp.ignored_policies) out.push(['Policy', `ignored ${i.path ?? i.source}: ${i.reason}`]);
  if (sp.priced_calls === 0 && sp.limit_usd === null) return out;
  const limit = sp.limit_usd !== null ? ` of $${sp.limit_usd} limit${sp.warning ? ' — warned at 80 %' : ''}${sp.limit_reached ? ', limit reached' : ''}` : '';
  const refused = sp.refused_calls ? `, ${sp.refused_calls} call${sp.refused_calls === 1 ? '' : 's'} refused` : '';
  out.push(['Spend', `$${sp.total_usd}${limit} (${sp.priced_calls} priced call${sp.priced_calls === 1 ? '' : 's'}${refused})`]);
  const top = sp.by_tool.slice(0, 5).map((t) => `${t.server}/${t.tool} $${t.usd} (${t.calls})`);
  if (top.length) out.push(['', top.join('  ')]);
  return out;
}

function serverLabel(v: ServerSummary): string {
  return v.version ? `${v.name} ${v.version}` : v.name;
}

/** 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const totalS = Math.round(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${m} min ${String(totalS % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
