import { MARKER_PATTERN } from '../audit/redaction';
import type { Call, ConnectionInfo, ErrorClass, RecoveryAction, TerminalState } from '../model/calls';
import type { JournalRecord } from '../model/records';
import { callIdentity, type CallAssembler } from './calls';
import type { SessionSummary } from './summary';

/**
 * Partial failure and recovery: which failed tool calls an agent retry repaired, where a session
 * broke, what the calls before the break did to the world (no effect, reversible, permanent), and
 * which calls to send again, with which arguments. The rules are documented in
 * docs/recovery.md; the summary's `terminal_state` and `recovery_status` come from here.
 *
 * A **resume point** is the state right after a successful tool call: everything up to it is
 * done and need not be repeated.
 */

export type Reversibility = 'no_effect' | 'reversible' | 'permanent';
export type TagSource = 'annotation' | 'override' | 'default';

export interface ReversibilityTag {
  value: Reversibility;
  source: TagSource;
}

export type RecoveryStatus = 'none_needed' | 'pending' | 'resumed' | 'abandoned';

/** Methods that read without effect (the protocol's own requests other than tools/call). */
const NO_EFFECT_METHODS = new Set(['initialize', 'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'resources/read', 'prompts/list', 'prompts/get', 'completion/complete', 'roots/list']);

/**
 * A call's reversibility and idempotency: the tags the assembler put on tool calls (from the
 * tool's MCP annotations or a policy override, src/core/analysis/reversibility.ts), as they are.
 * Other methods than tools/call carry no tags: they are `no_effect`, and idempotent when they
 * only read (NO_EFFECT_METHODS); server→client requests (sampling, elicitation, roots) act on
 * the client, not on the world the server reaches.
 */
export function effectOf(call: Call): { reversibility: ReversibilityTag; idempotent: boolean } {
  if (call.reversibility !== undefined) return { reversibility: { value: call.reversibility, source: call.reversibility_source ?? 'default' }, idempotent: call.idempotent === true };
  if (call.method !== 'tools/call' || call.direction !== 'client_to_server') {
    return { reversibility: { value: 'no_effect', source: 'default' }, idempotent: NO_EFFECT_METHODS.has(call.method) || call.direction === 'server_to_client' };
  }
  // A tool call the assembler did not tag (it should not happen): MCP's defaults, destructive and not idempotent.
  return { reversibility: { value: 'permanent', source: 'default' }, idempotent: false };
}

// ---------------------------------------------------------------------------------------------
// Retries and what they repaired.

/** Another session's call that completed a failed call's work (same server, tool and canonical arguments, or a replay of it). */
export interface LaterCompletion {
  session_id: string;
  call_id: string;
  /** `replay` when the session replayed this very call; `same_call` when an identical call succeeded. */
  how: 'replay' | 'same_call';
}

export interface FailureAnalysis {
  /** Failed tool calls (error or timeout) whose retry chain ended in success: failed call_id → the successful retry. */
  recovered: Map<string, Call>;
  /** Failed tool calls not repaired within the session, in request order. */
  unrecovered: Call[];
  /** Tool calls still pending (in flight when the session ended or died, or running now). */
  inFlight: Call[];
  /** Tool calls that are agent retries (carry retry_of). */
  retries: number;
}

export function isFailed(call: Call): boolean {
  return call.outcome === 'error' || call.outcome === 'timeout';
}

export function isClientToolCall(call: Call): boolean {
  return call.method === 'tools/call' && call.direction === 'client_to_server';
}

/** Follows each failed tool call's retry chain: repaired when the chain ends in a success. */
export function analyzeFailures(calls: Iterable<Call>): FailureAnalysis {
  const retriedBy = new Map<string, Call>();
  const tools: Call[] = [];
  let retries = 0;
  for (const c of calls) {
    if (c.method !== 'tools/call') continue;
    tools.push(c);
    if (c.retry_of !== undefined) {
      retries++;
      retriedBy.set(c.retry_of, c);
    }
  }
  const recovered = new Map<string, Call>();
  const unrecovered: Call[] = [];
  const inFlight: Call[] = [];
  for (const c of tools) {
    if (c.outcome === 'pending') inFlight.push(c);
    if (!isFailed(c)) continue;
    let next = retriedBy.get(c.call_id);
    // A chain is at most as long as the session's calls; the guard only protects against a damaged journal.
    for (let hops = 0; next && next.outcome !== 'success' && hops < tools.length; hops++) next = retriedBy.get(next.call_id);
    if (next?.outcome === 'success') recovered.set(c.call_id, next);
    else unrecovered.push(c);
  }
  return { recovered, unrecovered, inFlight, retries };
}

/**
 * `recovery_status`, first match wins:
 * 1. nothing failed and nothing was left in flight → `none_needed`;
 * 2. every failed (or interrupted in-flight) tool call was completed later — by an agent retry in
 *    the session, or by an identical successful call or a replay in a later session → `resumed`;
 * 3. the session is still running → `pending` (the agent may still retry);
 * 4. otherwise the session ended (or died) with work undone → `abandoned`.
 * In-flight calls count as undone work only when the session was interrupted.
 */
export function recoveryStatus(f: { terminal: TerminalState; failures: number; undone: number }): RecoveryStatus {
  if (f.failures === 0) return 'none_needed';
  if (f.undone === 0) return 'resumed';
  if (f.terminal === 'in_progress') return 'pending';
  return 'abandoned';
}

// ---------------------------------------------------------------------------------------------
// The plan.

export interface ResumePoint {
  /** The successful tool call this point follows. */
  after_call_id: string;
  server: string;
  tool: string;
  /** When the call completed. */
  at: string;
  /** Successful tool calls up to and including this one. */
  completed_tool_calls: number;
}

export interface PlannedCall {
  call_id: string;
  server: string;
  tool: string;
  timestamp: string;
  outcome: Call['outcome'];
  reversibility: Reversibility;
  reversibility_source: TagSource;
  idempotent: boolean;
}

export interface ResumeStep {
  call_id: string;
  server: string;
  tool: string;
  timestamp: string;
  /** Why it needs doing again: it failed, or it was in flight when the session died. */
  reason: 'failed' | 'in_flight';
  outcome: Call['outcome'];
  error_class: ErrorClass | null;
  error_code: number | string | null;
  message: string | null;
  recovery_action: RecoveryAction;
  /**
   * Repeating the call as recorded is safe: a failure of a retryable class on an idempotent or
   * read-only tool, or an in-flight call to a tool without effect or idempotent (an in-flight call
   * may have taken effect before the recorder or server died).
   */
  retry_safe: boolean;
  /** Why it is or is not retry-safe, in one sentence. */
  retry_note: string;
  reversibility: Reversibility;
  reversibility_source: TagSource;
  idempotent: boolean;
  /** The exact recorded arguments; null when the request was too large or deep to keep structured. */
  arguments: unknown;
  /** JSON paths (`$.a.b[0]`) of values recorded as redaction markers: they must be supplied again. */
  redacted: string[];
  /** The agent retries of this call inside the session, all failed, in order. */
  failed_retries: string[];
}

export interface RecoveryPlan {
  session_id: string;
  terminal_state: TerminalState;
  recovery_status: RecoveryStatus;
  /** Where the session broke: its first unrecovered failure or the first call in flight when it died; null when nothing broke. */
  broke_at: { call_id: string; server: string; tool: string; timestamp: string; reason: 'failed' | 'in_flight' } | null;
  /** The last resume point before the break (or of the whole session when nothing broke). */
  last_resume_point: ResumePoint | null;
  /** A resume point after each successful tool call, in request order (the latest RESUME_POINT_LIMIT). */
  resume_points: ResumePoint[];
  resume_points_omitted: number;
  /** Tool calls requested before the break, with what they did to the world. */
  before_break: { permanent: PlannedCall[]; reversible: PlannedCall[]; no_effect: PlannedCall[] };
  /** Successful tool calls after the break: the agent went on regardless. */
  after_break: PlannedCall[];
  /** What to do again, in request order: unrecovered failures, then (interrupted sessions) calls in flight. */
  resume: ResumeStep[];
  /** Failures repaired by an agent retry in the session: failed call_id → the retry that succeeded. */
  recovered_by_retry: Array<{ call_id: string; retry_call_id: string }>;
  /** Failures whose work a later session completed. */
  completed_later: Array<{ call_id: string; by_session_id: string; by_call_id: string; how: LaterCompletion['how'] }>;
}

export const RESUME_POINT_LIMIT = 1000;

export interface PlanOptions {
  /** The arguments of a call, when the assembler did not keep bodies (read from the journal). */
  argumentsOf?: (call: Call) => unknown;
  /** Later sessions' completions of failed calls (see findLaterCompletions). */
  completedLater?: ReadonlyMap<string, LaterCompletion>;
}

/** The recovery plan of an assembled session and its summary. */
export function buildRecoveryPlan(assembler: CallAssembler, summary: SessionSummary, options: PlanOptions = {}): RecoveryPlan {
  const calls = [...assembler.calls.values()].sort((a, b) => a.request_seq - b.request_seq);
  const analysis = analyzeFailures(calls);
  const later = options.completedLater ?? new Map<string, LaterCompletion>();
  const interrupted = summary.terminal_state === 'interrupted';
  const argumentsOf = options.argumentsOf ?? ((c: Call) => c.input);

  const byId = new Map(calls.map((c) => [c.call_id, c]));
  const retryChain = new Map<string, string[]>();
  const retriedBy = new Map<string, Call>();
  for (const c of calls) if (c.retry_of !== undefined) retriedBy.set(c.retry_of, c);
  const undone: Array<{ call: Call; reason: 'failed' | 'in_flight' }> = [];
  for (const c of analysis.unrecovered) {
    if (later.has(c.call_id)) continue;
    // A failed call whose own retries also failed: plan the chain once, from its first attempt.
    const previous = c.retry_of !== undefined ? byId.get(c.retry_of) : undefined;
    if (previous && isFailed(previous)) continue;
    const chain: string[] = [];
    let last = c;
    for (let n = retriedBy.get(c.call_id); n && chain.length < calls.length; n = retriedBy.get(n.call_id)) {
      chain.push(n.call_id);
      last = n;
    }
    retryChain.set(c.call_id, chain);
    // An in-flight retry is the attempt that matters in an interrupted session.
    undone.push(last.outcome === 'pending' ? { call: last, reason: 'in_flight' } : { call: c, reason: 'failed' });
  }
  if (interrupted) {
    const planned = new Set(undone.map((u) => u.call.call_id));
    for (const c of analysis.inFlight) if (!planned.has(c.call_id) && !later.has(c.call_id) && isClientToolCall(c)) undone.push({ call: c, reason: 'in_flight' });
  }
  undone.sort((a, b) => a.call.request_seq - b.call.request_seq);
  const brokeCall = undone[0]?.call;
  const breakSeq = brokeCall?.request_seq ?? Infinity;

  const planned = (c: Call): PlannedCall => {
    const e = effectOf(c);
    return { call_id: c.call_id, server: c.server.name, tool: c.tool, timestamp: c.timestamp, outcome: c.outcome, reversibility: e.reversibility.value, reversibility_source: e.reversibility.source, idempotent: e.idempotent };
  };

  const points: ResumePoint[] = [];
  let completed = 0;
  let lastBefore: ResumePoint | null = null;
  const before_break: RecoveryPlan['before_break'] = { permanent: [], reversible: [], no_effect: [] };
  const after_break: PlannedCall[] = [];
  for (const c of calls) {
    if (!isClientToolCall(c)) continue;
    if (c.outcome === 'success') {
      completed++;
      const p: ResumePoint = { after_call_id: c.call_id, server: c.server.name, tool: c.tool, at: c.ended_at ?? c.timestamp, completed_tool_calls: completed };
      points.push(p);
      if (points.length > RESUME_POINT_LIMIT * 2) points.splice(0, points.length - RESUME_POINT_LIMIT);
      if (c.request_seq < breakSeq) lastBefore = p;
    }
    if (c.request_seq < breakSeq) {
      const p = planned(c);
      before_break[p.reversibility].push(p);
    } else if (c.outcome === 'success') after_break.push(planned(c));
  }
  const resume_points = points.slice(-RESUME_POINT_LIMIT);

  const resume = undone.map(({ call, reason }) => resumeStep(call, reason, assembler.connection(call.connection_id), argumentsOf, retryChain.get(call.call_id) ?? []));
  return {
    session_id: summary.session_id,
    terminal_state: summary.terminal_state,
    recovery_status: summary.recovery_status,
    broke_at: brokeCall ? { call_id: brokeCall.call_id, server: brokeCall.server.name, tool: brokeCall.tool, timestamp: brokeCall.timestamp, reason: undone[0]!.reason } : null,
    last_resume_point: brokeCall ? lastBefore : (points[points.length - 1] ?? null),
    resume_points,
    resume_points_omitted: completed - resume_points.length,
    before_break,
    after_break,
    resume,
    recovered_by_retry: [...analysis.recovered].map(([call_id, by]) => ({ call_id, retry_call_id: by.call_id })),
    completed_later: [...later].map(([call_id, l]) => ({ call_id, by_session_id: l.session_id, by_call_id: l.call_id, how: l.how })),
  };
}

function resumeStep(call: Call, reason: 'failed' | 'in_flight', connection: ConnectionInfo | undefined, argumentsOf: (c: Call) => unknown, failedRetries: string[]): ResumeStep {
  const e = effectOf(call);
  const err = call.error;
  let retry_safe: boolean;
  let retry_note: string;
  if (reason === 'in_flight') {
    retry_safe = e.reversibility.value === 'no_effect' || e.idempotent;
    retry_note = retry_safe
      ? 'It was in flight when the session died; the tool is read-only or idempotent, so sending it again is safe.'
      : `It was in flight when the session died and may have taken effect (${e.reversibility.value}, not idempotent): check before sending it again.`;
  } else {
    retry_safe = err?.retry_safe === true;
    retry_note = retry_safe
      ? `A ${err?.error_class} failure of a read-only or idempotent tool: sending it again is safe.`
      : err && !err.recoverable
        ? `A ${err.error_class} failure: repeating it unchanged will not help (${err.recovery_action}).`
        : e.idempotent
          ? `A ${err?.error_class ?? 'failed'} call: ${err?.recovery_action ?? 'manual'} first, then send it again.`
          : `The tool is not marked idempotent (${e.reversibility.value}): the failed attempt may have done part of its work; check before sending it again.`;
  }
  const opaque = call.opaque?.includes('request') === true;
  const args = opaque ? null : (argumentsOf(call) ?? null);
  return {
    call_id: call.call_id,
    server: call.server.name,
    tool: call.tool,
    timestamp: call.timestamp,
    reason,
    outcome: call.outcome,
    error_class: err?.error_class ?? null,
    error_code: err?.error_code ?? null,
    message: err?.message ?? null,
    recovery_action: err?.recovery_action ?? (retry_safe ? 'retry' : 'manual'),
    retry_safe,
    retry_note,
    reversibility: e.reversibility.value,
    reversibility_source: e.reversibility.source,
    idempotent: e.idempotent,
    arguments: args,
    redacted: redactedPaths(args),
    failed_retries: failedRetries,
  };
}

/** JSON paths of every string holding a redaction marker, in document order. */
export function redactedPaths(value: unknown, path = '$', out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (new RegExp(MARKER_PATTERN.source).test(value)) out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => redactedPaths(v, `${path}[${i}]`, out));
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) redactedPaths(v, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Later sessions.

/** What findLaterCompletions needs of a store (src/core/store/store.ts's Store has it). */
export interface LaterSessionSource {
  sessions(): Array<{ session_id: string; started_at: string; replay_of?: { session_id: string; call_id: string } }>;
  calls(filter: { sessionId?: string; server?: string; tool?: string; outcome?: 'success'; limit?: number; order?: 'asc' | 'desc' }): Array<{ session_id: string; call_id: string; timestamp: string; method: string; direction: string; request_location?: { file: string; offset: number; length: number } }>;
  readBody(location: { file: string; offset: number; length: number }): JournalRecord;
}

/**
 * For each failed or in-flight tool call, a later session that did its work: a replay of that
 * very call that succeeded, or a successful call with the same server, tool and canonical
 * arguments requested after it (any time later — the 60 s retry window is for agent retries
 * within a session). Reads only the candidate calls' requests from the journal.
 */
export function findLaterCompletions(source: LaterSessionSource, sessionId: string, undone: Array<{ call: Call; args: unknown }>, limitPerCall = 200): Map<string, LaterCompletion> {
  const out = new Map<string, LaterCompletion>();
  if (!undone.length) return out;
  const sessions = source.sessions();
  for (const s of sessions) {
    if (s.replay_of?.session_id !== sessionId) continue;
    const target = undone.find((u) => u.call.call_id === s.replay_of!.call_id);
    if (!target || out.has(target.call.call_id)) continue;
    const done = source.calls({ sessionId: s.session_id, outcome: 'success', limit: 10, order: 'asc' }).find((c) => c.method === target.call.method && c.direction === 'client_to_server');
    if (done) out.set(target.call.call_id, { session_id: s.session_id, call_id: done.call_id, how: 'replay' });
  }
  for (const { call, args } of undone) {
    if (out.has(call.call_id)) continue;
    const identity = callIdentity(call.server.name, call.tool, args);
    if (identity === undefined) continue;
    const candidates = source.calls({ server: call.server.name, tool: call.tool, outcome: 'success', limit: limitPerCall, order: 'desc' });
    for (const c of candidates) {
      if (c.session_id === sessionId || c.timestamp <= call.timestamp || c.direction !== 'client_to_server' || !c.request_location) continue;
      let rec: JournalRecord;
      try {
        rec = source.readBody(c.request_location);
      } catch {
        continue;
      }
      const params = rec.type === 'message' ? (rec.message as { params?: { arguments?: unknown } }).params : undefined;
      if (callIdentity(call.server.name, call.tool, params?.arguments) === identity) {
        out.set(call.call_id, { session_id: c.session_id, call_id: c.call_id, how: 'same_call' });
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Human-readable text for the CLI and the extension's read-only document.

/** The plan as plain text (no colour, ends with a newline). Arguments are printed as JSON, markers included. */
export function formatPlanText(plan: RecoveryPlan): string {
  const lines: string[] = [];
  // Server-supplied names and messages may carry terminal escapes or bidi overrides: shown escaped.
  const ref = (c: { call_id: string; server: string; tool: string }) => printable(`${c.call_id}  ${c.server}/${c.tool}`);
  lines.push(`Recovery plan for session ${plan.session_id}`);
  lines.push(`State       ${plan.terminal_state}, recovery ${plan.recovery_status}`);
  if (!plan.broke_at) {
    lines.push(plan.resume.length ? 'Broke at    -' : 'Broke at    nothing broke: no unrecovered failure, no call left in flight');
  } else {
    lines.push(`Broke at    ${ref(plan.broke_at)}  ${plan.broke_at.reason === 'in_flight' ? 'in flight when the session died' : 'failed'}  (${plan.broke_at.timestamp})`);
  }
  const rp = plan.last_resume_point;
  lines.push(`Resume from ${rp ? `after ${ref({ call_id: rp.after_call_id, server: rp.server, tool: rp.tool })}  (${rp.completed_tool_calls} tool call${rp.completed_tool_calls === 1 ? '' : 's'} done, ${rp.at})` : 'the start: no tool call completed before the break'}`);

  const b = plan.before_break;
  lines.push('');
  lines.push(`Before the break: ${b.permanent.length} permanent, ${b.reversible.length} reversible, ${b.no_effect.length} without effect`);
  const group = (title: string, list: PlannedCall[]) => {
    if (!list.length) return;
    lines.push(`  ${title}`);
    for (const c of list.slice(0, 50)) lines.push(`    ${ref(c)}  ${c.outcome}${c.idempotent ? '  idempotent' : ''}  [${c.reversibility_source}]`);
    if (list.length > 50) lines.push(`    … and ${list.length - 50} more (--json lists them all)`);
  };
  group('Permanent (cannot be undone):', b.permanent);
  group('Reversible:', b.reversible);
  group('Without effect:', b.no_effect);
  if (plan.after_break.length) lines.push(`After the break the agent went on: ${plan.after_break.length} more successful tool call${plan.after_break.length === 1 ? '' : 's'}.`);
  if (plan.recovered_by_retry.length) lines.push(`Repaired by an agent retry: ${plan.recovered_by_retry.map((r) => `${r.call_id} → ${r.retry_call_id}`).join(', ')}`);
  if (plan.completed_later.length) lines.push(`Completed by a later session: ${plan.completed_later.map((r) => `${r.call_id} → ${r.by_session_id} ${r.by_call_id} (${r.how === 'replay' ? 'replay' : 'same call'})`).join(', ')}`);

  lines.push('');
  if (!plan.resume.length) {
    lines.push('Nothing to resume.');
  } else {
    lines.push(`To resume (${plan.resume.length}):`);
    plan.resume.forEach((s, i) => {
      lines.push(`  ${i + 1}. ${ref(s)}  ${s.reason === 'in_flight' ? 'in flight' : `${s.error_class ?? s.outcome}${s.error_code !== null ? ` ${s.error_code}` : ''}`}  ${s.retry_safe ? 'RETRY-SAFE' : 'NOT retry-safe'}  (${s.reversibility}${s.idempotent ? ', idempotent' : ''})`);
      if (s.message) lines.push(`     error: ${printable(oneLine(s.message, 200))}`);
      lines.push(`     ${s.retry_note}`);
      if (s.failed_retries.length) lines.push(`     the agent retried it ${s.failed_retries.length} time${s.failed_retries.length === 1 ? '' : 's'}, in vain: ${s.failed_retries.join(', ')}`);
      lines.push(`     arguments: ${s.arguments === null ? '(not kept: the request was too large or too deep)' : printable(oneLine(JSON.stringify(s.arguments), 2000))}`);
      if (s.redacted.length) lines.push(`     redacted, supply again: ${s.redacted.join(', ')}`);
    });
  }
  return lines.join('\n') + '\n';
}

/** Control, bidi and invisible characters as `\u{…}` escapes, so a terminal shows them instead of obeying them. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (ch) => `\\u{${ch.charCodeAt(0).toString(16)}}`);
}

function oneLine(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
