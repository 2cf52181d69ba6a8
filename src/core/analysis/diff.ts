import { canonicalize } from '../audit/canonical';
import { MARKER_PATTERN } from '../audit/redaction';
import type { ExportedCall } from '../export/session-json';
import type { Outcome } from '../model/calls';

/**
 * Diff of two calls (arguments and results compared structurally, outcome, error, duration) and
 * of two sessions (calls added, missing, changed, slower; per-tool counts). Pure: the callers
 * load the calls (src/core/analysis/diff-input.ts from a store's journal or an export file).
 *
 * Values are compared as JSON: object members by name (member order is ignored), arrays by index,
 * numbers by value, strings exactly. Differences are listed as JSON Pointers (RFC 6901) into the
 * compared value. Redaction markers (`[REDACTED:<kind>:<fingerprint>]`) are compared as the
 * strings they are — the secret behind them was never recorded — and every path holding one is
 * flagged, so an "equal" that rests on fingerprints alone is visible as such.
 *
 * Session matching, in this order (deterministic: it depends on the calls' request order only):
 *   1. same server, direction, method, tool and canonical arguments (RFC 8785, a top-level
 *      `_meta` left out: progress tokens differ run to run) — the i-th such call of A with the
 *      i-th of B (order of occurrence, for repeated identical calls);
 *   2. the calls left, by server, direction, method and tool — again by order of occurrence
 *      (these pairs changed their arguments);
 *   3. what is still left is missing (in A only) or added (in B only).
 * A call whose arguments were not recorded (opaque, metadata-only) can only match by rule 2.
 *
 * Slower: both durations known, B ≥ 2 × A and B − A ≥ 100 ms (both thresholds, boundaries
 * included). The format of the reports is documented in docs/diff.md.
 */

export const DIFF_FORMAT = 'mcp-flight.diff/v1';
export const SLOWER_RATIO = 2;
export const SLOWER_MIN_MS = 100;
/** At most this many differences are listed per compared value; the rest are counted. */
export const MAX_CHANGES = 200;
/** At most this many redacted paths are listed per compared value. */
const MAX_REDACTED = 100;
/** Values longer than this (as JSON) are shown as a preview in a change entry. */
const PREVIEW_CHARS = 300;

/** What the diff needs of a call: an exported call (every source can produce one), plus what the capture level left out. */
export type DiffableCall = Pick<
  ExportedCall,
  'call_id' | 'session_id' | 'server' | 'tool' | 'method' | 'direction' | 'timestamp' | 'duration_ms' | 'outcome' | 'error' | 'input' | 'input_summary' | 'output' | 'output_summary' | 'opaque' | 'request_seq' | 'response_seq'
> & {
  /** Sides recorded at capture level "metadata" (payload left out). */
  not_recorded?: Array<'request' | 'response'>;
};

export interface DiffSession {
  session_id: string;
  /** Where it was read from: `store:<dir>` or `file:<path>`. */
  source: string;
  started_at: string | null;
  terminal_state: string | null;
  tool_calls: number | null;
  failed_calls: number | null;
  /** In request order. */
  calls: DiffableCall[];
}

export type NotComparedReason = 'opaque' | 'not_recorded' | 'pending' | 'cancelled';

export const NOT_COMPARED_TEXT: Record<NotComparedReason, string> = {
  opaque: 'too large or too deep to keep structured (only its size and SHA-256 were recorded)',
  not_recorded: 'recorded at capture level "metadata" (payload left out)',
  pending: 'no answer (still pending)',
  cancelled: 'cancelled before an answer',
};

export interface ValueChange {
  /** JSON Pointer into the compared value ("" is the whole value). */
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** The value in A (absent for `added`); a string preview when `truncated`. */
  before?: unknown;
  /** The value in B (absent for `removed`); a string preview when `truncated`. */
  after?: unknown;
  /** Either side holds a redaction marker: compared by marker (kind and fingerprint), never by secret. */
  redacted?: true;
  truncated?: true;
}

export interface RedactedPath {
  path: string;
  a: string[];
  b: string[];
  /** The same markers on both sides: the same secret, as far as a 24-bit keyed fingerprint tells. */
  same: boolean;
}

export interface PartDiff {
  /** False when a side's value was not recorded in a comparable form (see `not_compared`). */
  compared: boolean;
  equal: boolean;
  changes: ValueChange[];
  changes_omitted: number;
  /** Paths where either side holds a redaction marker (equal or not), at most 100. */
  redacted: RedactedPath[];
  not_compared: { a: NotComparedReason | null; b: NotComparedReason | null } | null;
}

export interface CallRef {
  call_id: string;
  session_id: string;
  server: string;
  tool: string;
  method: string;
  direction: DiffableCall['direction'];
  timestamp: string;
  outcome: Outcome;
  error_class: string | null;
  error_code: number | string | null;
  duration_ms: number | null;
  input_summary: string;
}

export type CallChange = 'identity' | 'arguments' | 'outcome' | 'error' | 'result';

export interface CallComparison {
  identical: boolean;
  /** Every part was compared (nothing opaque, metadata-only or unanswered on one side only). */
  complete: boolean;
  a: CallRef;
  b: CallRef;
  /** What differs, in this order: identity (server/method/tool/direction), arguments, outcome, error, result. */
  changes: CallChange[];
  identity: Array<{ field: 'server' | 'method' | 'tool' | 'direction'; a: string; b: string }>;
  arguments: PartDiff;
  result: PartDiff;
  outcome: { a: Outcome; b: Outcome } | null;
  /** Error class or code differ (messages are part of `result`). */
  error: { a: { error_class: string; error_code: number | string | null } | null; b: { error_class: string; error_code: number | string | null } | null } | null;
  duration: { a_ms: number | null; b_ms: number | null; delta_ms: number | null; ratio: number | null; slower: boolean };
}

export interface CallDiffReport extends CallComparison {
  format: typeof DIFF_FORMAT;
  kind: 'calls';
  /** The thresholds `duration.slower` was decided by. */
  rules: SlowerRules;
}

export interface MatchedPair extends CallComparison {
  /** How the pair was matched: rule 1 (same canonical arguments) or rule 2 (same tool, by position). */
  match: 'arguments' | 'position';
}

export interface ToolCounts {
  server: string;
  method: string;
  tool: string;
  a_calls: number;
  b_calls: number;
  matched: number;
  unchanged: number;
  changed: number;
  added: number;
  missing: number;
  slower: number;
}

/** A compared session as the report names it: its identity, and how many calls it had. */
export type SessionRef = Omit<DiffSession, 'calls'> & { calls: number };

export interface SessionDiffReport {
  format: typeof DIFF_FORMAT;
  kind: 'sessions';
  /** Nothing added, missing, changed or slower. */
  identical: boolean;
  /** Every matched pair was compared in full. */
  complete: boolean;
  a: SessionRef;
  b: SessionRef;
  rules: { matching: string } & SlowerRules;
  counts: { matched: number; unchanged: number; changed: number; added: number; missing: number; slower: number; not_fully_compared: number };
  /** Calls of B without a counterpart in A, in B's order. */
  added: CallRef[];
  /** Calls of A without a counterpart in B, in A's order. */
  missing: CallRef[];
  /** Matched pairs that differ in identity, arguments, outcome, error or result, in A's order. */
  changed: MatchedPair[];
  /** Matched pairs where B is slower (≥ 2× and ≥ 100 ms), in A's order; a pair may also be in `changed`. */
  slower: Array<{ a: CallRef; b: CallRef; a_ms: number; b_ms: number; delta_ms: number; ratio: number | null }>;
  /** Matched pairs with a part not compared, in A's order. */
  not_compared: Array<{ a_call_id: string; b_call_id: string; part: 'arguments' | 'result'; a: NotComparedReason | null; b: NotComparedReason | null }>;
  tools: ToolCounts[];
}

export interface DiffOptions {
  /** JSON Pointers (`*` matches one segment) left out of the comparison of arguments and results. */
  ignore?: string[];
  /** B is slower when B ≥ ratio × A and B − A ≥ minMs (defaults SLOWER_RATIO, SLOWER_MIN_MS). */
  slower?: { ratio?: number; minMs?: number };
}

/** What "slower" means in a report: the options' thresholds, or the defaults. */
export interface SlowerRules {
  slower_ratio: number;
  slower_min_ms: number;
}

export function slowerRules(options: DiffOptions = {}): SlowerRules {
  return { slower_ratio: options.slower?.ratio ?? SLOWER_RATIO, slower_min_ms: options.slower?.minMs ?? SLOWER_MIN_MS };
}

// ---------------------------------------------------------------------------------------------
// Values

const MARKER = new RegExp(MARKER_PATTERN.source);
const MARKERS = new RegExp(MARKER_PATTERN.source, 'g');

function markersIn(s: string): string[] {
  return s.includes('[REDACTED:') ? (s.match(MARKERS) ?? []) : [];
}

function holdsMarker(v: unknown): boolean {
  if (typeof v === 'string') return MARKER.test(v);
  if (typeof v !== 'object' || v === null) return false;
  try {
    return MARKER.test(JSON.stringify(v));
  } catch {
    return false;
  }
}

function pointerSegment(key: string | number): string {
  return typeof key === 'number' ? String(key) : key.replace(/~/g, '~0').replace(/\//g, '~1');
}

type IgnoreMatcher = (path: string) => boolean;

function ignoreMatcher(patterns: string[] | undefined): IgnoreMatcher {
  if (!patterns?.length) return () => false;
  const compiled = patterns.map((p) => (p === '' ? [] : p.replace(/^\//, '').split('/')));
  return (path) => {
    const segs = path === '' ? [] : path.slice(1).split('/');
    return compiled.some((p) => p.length === segs.length && p.every((s, i) => s === '*' || s === segs[i]));
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function preview(v: unknown): { value: unknown; truncated: boolean } {
  if (typeof v === 'string') return v.length > PREVIEW_CHARS ? { value: `${v.slice(0, PREVIEW_CHARS - 1)}…`, truncated: true } : { value: v, truncated: false };
  if (typeof v !== 'object' || v === null) return { value: v, truncated: false };
  let text: string;
  try {
    text = JSON.stringify(v);
  } catch {
    return { value: '[unprintable]', truncated: true };
  }
  return text.length > PREVIEW_CHARS ? { value: `${text.slice(0, PREVIEW_CHARS - 1)}…`, truncated: true } : { value: v, truncated: false };
}

class ValueWalker {
  readonly changes: ValueChange[] = [];
  omitted = 0;
  readonly redacted: RedactedPath[] = [];
  constructor(private readonly ignored: IgnoreMatcher) {}

  private push(path: string, change: ValueChange['change'], a: unknown, b: unknown): void {
    if (this.changes.length >= MAX_CHANGES) {
      this.omitted++;
      return;
    }
    const entry: ValueChange = { path, change };
    let truncated = false;
    if (change !== 'added') {
      const p = preview(a);
      entry.before = p.value;
      truncated ||= p.truncated;
    }
    if (change !== 'removed') {
      const p = preview(b);
      entry.after = p.value;
      truncated ||= p.truncated;
    }
    if ((change !== 'added' && holdsMarker(a)) || (change !== 'removed' && holdsMarker(b))) entry.redacted = true;
    if (truncated) entry.truncated = true;
    this.changes.push(entry);
  }

  private noteRedacted(path: string, a: string[], b: string[]): void {
    if (this.redacted.length >= MAX_REDACTED) return;
    this.redacted.push({ path, a, b, same: a.length === b.length && a.every((m, i) => m === b[i]) });
  }

  walk(a: unknown, b: unknown, path: string): void {
    if (this.ignored(path)) return;
    if (typeof a === 'string' && typeof b === 'string') {
      const ma = markersIn(a);
      const mb = markersIn(b);
      if (ma.length || mb.length) this.noteRedacted(path, ma, mb);
      if (a !== b) this.push(path, 'changed', a, b);
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) this.walk(a[i], b[i], `${path}/${i}`);
      for (let i = n; i < a.length; i++) if (!this.ignored(`${path}/${i}`)) this.push(`${path}/${i}`, 'removed', a[i], undefined);
      for (let i = n; i < b.length; i++) if (!this.ignored(`${path}/${i}`)) this.push(`${path}/${i}`, 'added', undefined, b[i]);
      return;
    }
    if (isObject(a) && isObject(b)) {
      for (const k of Object.keys(a)) {
        const p = `${path}/${pointerSegment(k)}`;
        if (Object.prototype.hasOwnProperty.call(b, k)) this.walk(a[k], b[k], p);
        else if (!this.ignored(p)) this.push(p, 'removed', a[k], undefined);
      }
      for (const k of Object.keys(b)) {
        const p = `${path}/${pointerSegment(k)}`;
        if (!Object.prototype.hasOwnProperty.call(a, k) && !this.ignored(p)) this.push(p, 'added', undefined, b[k]);
      }
      return;
    }
    // Containers of different kinds, or scalars: JSON scalars are equal exactly when ===.
    if (a !== b) this.push(path, 'changed', a, b);
  }
}

/** Structural diff of two JSON values (both present). */
export function diffValues(a: unknown, b: unknown, options: DiffOptions = {}): PartDiff {
  const w = new ValueWalker(ignoreMatcher(options.ignore));
  w.walk(a, b, '');
  return { compared: true, equal: w.changes.length === 0 && w.omitted === 0, changes: w.changes, changes_omitted: w.omitted, redacted: w.redacted, not_compared: null };
}

// ---------------------------------------------------------------------------------------------
// Calls

function unavailable(c: DiffableCall, part: 'input' | 'output'): NotComparedReason | null {
  const side = part === 'input' ? 'request' : 'response';
  if (c.opaque.includes(side)) return 'opaque';
  if (c.not_recorded?.includes(side)) return 'not_recorded';
  if (part === 'output') {
    if (c.outcome === 'pending') return 'pending';
    if (c.outcome === 'cancelled' && c.response_seq === null) return 'cancelled';
  }
  return null;
}

/** The compared arguments: for methods other than tools/call (whose input is its params) without a top-level `_meta`. */
function argumentsOf(c: DiffableCall): unknown {
  const input = c.input ?? null;
  if (c.method !== 'tools/call' && isObject(input) && '_meta' in input) {
    const { _meta: _, ...rest } = input;
    return rest;
  }
  return input;
}

function comparePart(a: DiffableCall, b: DiffableCall, part: 'input' | 'output', options: DiffOptions): PartDiff {
  const ra = unavailable(a, part);
  const rb = unavailable(b, part);
  if (ra || rb) {
    // Both unanswered the same way: there is nothing on either side, which is the same.
    const nothingBoth = ra === rb && (ra === 'pending' || ra === 'cancelled');
    return { compared: nothingBoth, equal: nothingBoth, changes: [], changes_omitted: 0, redacted: [], not_compared: nothingBoth ? null : { a: ra, b: rb } };
  }
  return part === 'input' ? diffValues(argumentsOf(a), argumentsOf(b), options) : diffValues(a.output ?? null, b.output ?? null, options);
}

export function callRef(c: DiffableCall): CallRef {
  return {
    call_id: c.call_id,
    session_id: c.session_id,
    server: c.server.name,
    tool: c.tool,
    method: c.method,
    direction: c.direction,
    timestamp: c.timestamp,
    outcome: c.outcome,
    error_class: c.error?.error_class ?? null,
    error_code: c.error?.error_code ?? null,
    duration_ms: c.duration_ms,
    input_summary: c.input_summary,
  };
}

/** B is slower than A: both thresholds met (by default ≥ 2× and ≥ 100 ms), boundaries included. */
export function isSlower(aMs: number | null, bMs: number | null, rules: SlowerRules = slowerRules()): boolean {
  if (aMs === null || bMs === null) return false;
  return bMs >= rules.slower_ratio * aMs && bMs - aMs >= rules.slower_min_ms;
}

/** Compares two calls (from the same session or not). */
export function compareCalls(a: DiffableCall, b: DiffableCall, options: DiffOptions = {}): CallComparison {
  const identity: CallComparison['identity'] = [];
  if (a.server.name !== b.server.name) identity.push({ field: 'server', a: a.server.name, b: b.server.name });
  if (a.method !== b.method) identity.push({ field: 'method', a: a.method, b: b.method });
  if (a.tool !== b.tool) identity.push({ field: 'tool', a: a.tool, b: b.tool });
  if (a.direction !== b.direction) identity.push({ field: 'direction', a: a.direction, b: b.direction });
  const args = comparePart(a, b, 'input', options);
  const result = comparePart(a, b, 'output', options);
  const outcome = a.outcome !== b.outcome ? { a: a.outcome, b: b.outcome } : null;
  const ea = a.error ? { error_class: a.error.error_class, error_code: a.error.error_code } : null;
  const eb = b.error ? { error_class: b.error.error_class, error_code: b.error.error_code } : null;
  const error = ea?.error_class !== eb?.error_class || ea?.error_code !== eb?.error_code ? { a: ea, b: eb } : null;
  const aMs = a.duration_ms;
  const bMs = b.duration_ms;
  const duration = {
    a_ms: aMs,
    b_ms: bMs,
    delta_ms: aMs !== null && bMs !== null ? round3(bMs - aMs) : null,
    ratio: aMs !== null && bMs !== null && aMs > 0 ? round3(bMs / aMs) : null,
    slower: isSlower(aMs, bMs, slowerRules(options)),
  };
  const changes: CallChange[] = [];
  if (identity.length) changes.push('identity');
  if (args.compared && !args.equal) changes.push('arguments');
  if (outcome) changes.push('outcome');
  if (error) changes.push('error');
  if (result.compared && !result.equal) changes.push('result');
  return { identical: changes.length === 0, complete: args.compared && result.compared, a: callRef(a), b: callRef(b), changes, identity, arguments: args, result, outcome, error, duration };
}

export function diffCalls(a: DiffableCall, b: DiffableCall, options: DiffOptions = {}): CallDiffReport {
  return { format: DIFF_FORMAT, kind: 'calls', rules: slowerRules(options), ...compareCalls(a, b, options) };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Sessions

export const MATCHING_RULE =
  'same server, direction, method, tool and canonical arguments (RFC 8785, top-level _meta left out), i-th occurrence with i-th; then the rest by server, direction, method and tool, in order of occurrence';

function toolKey(c: DiffableCall): string {
  return `${c.server.name}\u0000${c.direction}\u0000${c.method}\u0000${c.tool}`;
}

function argumentKey(c: DiffableCall): string | undefined {
  if (unavailable(c, 'input')) return undefined;
  try {
    return canonicalize(argumentsOf(c));
  } catch {
    return undefined;
  }
}

/** Pairs calls of A and B (see the matching rules above): indexes into A and B. */
export function matchCalls(a: DiffableCall[], b: DiffableCall[]): { pairs: Array<{ a: number; b: number; match: MatchedPair['match'] }>; missing: number[]; added: number[] } {
  const pairOfA = new Array<number | undefined>(a.length);
  const how = new Array<MatchedPair['match'] | undefined>(a.length);
  const takenB = new Array<boolean>(b.length).fill(false);

  // Queues of B's calls (indexes, in order) with a cursor: the i-th occurrence in A takes the i-th in B.
  type Queue = { items: number[]; next: number };
  const take = (q: Queue | undefined): number | undefined => (q && q.next < q.items.length ? q.items[q.next++] : undefined);
  const enqueue = <K>(m: Map<K, Queue>, k: K, i: number) => {
    const q = m.get(k);
    if (q) q.items.push(i);
    else m.set(k, { items: [i], next: 0 });
  };

  // Rule 1. Keyed by tool, then by canonical arguments: no long concatenated keys to hash.
  const exact = new Map<string, Map<string, Queue>>();
  b.forEach((c, i) => {
    const k = argumentKey(c);
    if (k === undefined) return;
    const t = toolKey(c);
    let byArgs = exact.get(t);
    if (!byArgs) exact.set(t, (byArgs = new Map()));
    enqueue(byArgs, k, i);
  });
  a.forEach((c, i) => {
    const byArgs = exact.get(toolKey(c));
    const k = byArgs && argumentKey(c);
    const j = k === undefined ? undefined : take(byArgs!.get(k));
    if (j !== undefined) {
      pairOfA[i] = j;
      how[i] = 'arguments';
      takenB[j] = true;
    }
  });

  // Rule 2.
  const byTool = new Map<string, Queue>();
  b.forEach((c, i) => {
    if (!takenB[i]) enqueue(byTool, toolKey(c), i);
  });
  a.forEach((c, i) => {
    if (pairOfA[i] !== undefined) return;
    const j = take(byTool.get(toolKey(c)));
    if (j !== undefined) {
      pairOfA[i] = j;
      how[i] = 'position';
      takenB[j] = true;
    }
  });

  const pairs: Array<{ a: number; b: number; match: MatchedPair['match'] }> = [];
  const missing: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const j = pairOfA[i];
    if (j === undefined) missing.push(i);
    else pairs.push({ a: i, b: j, match: how[i]! });
  }
  const added: number[] = [];
  for (let j = 0; j < b.length; j++) if (!takenB[j]) added.push(j);
  return { pairs, missing, added };
}

function sessionRef(s: DiffSession): SessionRef {
  return { session_id: s.session_id, source: s.source, started_at: s.started_at, terminal_state: s.terminal_state, tool_calls: s.tool_calls, failed_calls: s.failed_calls, calls: s.calls.length };
}

export function diffSessions(a: DiffSession, b: DiffSession, options: DiffOptions = {}): SessionDiffReport {
  const { pairs, missing, added } = matchCalls(a.calls, b.calls);
  const tools = new Map<string, ToolCounts>();
  const countsOf = (c: DiffableCall): ToolCounts => {
    const key = toolKey(c);
    let t = tools.get(key);
    if (!t) tools.set(key, (t = { server: c.server.name, method: c.method, tool: c.tool, a_calls: 0, b_calls: 0, matched: 0, unchanged: 0, changed: 0, added: 0, missing: 0, slower: 0 }));
    return t;
  };
  for (const c of a.calls) countsOf(c).a_calls++;
  for (const c of b.calls) countsOf(c).b_calls++;

  const report: SessionDiffReport = {
    format: DIFF_FORMAT,
    kind: 'sessions',
    identical: true,
    complete: true,
    a: sessionRef(a),
    b: sessionRef(b),
    rules: { matching: MATCHING_RULE, ...slowerRules(options) },
    counts: { matched: pairs.length, unchanged: 0, changed: 0, added: added.length, missing: missing.length, slower: 0, not_fully_compared: 0 },
    added: added.map((j) => callRef(b.calls[j]!)),
    missing: missing.map((i) => callRef(a.calls[i]!)),
    changed: [],
    slower: [],
    not_compared: [],
    tools: [],
  };
  for (const j of added) countsOf(b.calls[j]!).added++;
  for (const i of missing) countsOf(a.calls[i]!).missing++;

  for (const p of pairs) {
    const ca = a.calls[p.a]!;
    const cb = b.calls[p.b]!;
    const cmp = compareCalls(ca, cb, options);
    const t = countsOf(ca);
    t.matched++;
    if (cmp.identical) {
      t.unchanged++;
      report.counts.unchanged++;
    } else {
      t.changed++;
      report.counts.changed++;
      report.changed.push({ ...cmp, match: p.match });
    }
    if (cmp.duration.slower) {
      t.slower++;
      report.counts.slower++;
      report.slower.push({ a: cmp.a, b: cmp.b, a_ms: ca.duration_ms!, b_ms: cb.duration_ms!, delta_ms: cmp.duration.delta_ms!, ratio: cmp.duration.ratio });
    }
    if (!cmp.complete) {
      report.counts.not_fully_compared++;
      for (const [part, d] of [['arguments', cmp.arguments], ['result', cmp.result]] as const) {
        if (d.not_compared) report.not_compared.push({ a_call_id: ca.call_id, b_call_id: cb.call_id, part, a: d.not_compared.a, b: d.not_compared.b });
      }
    }
  }
  report.tools = [...tools.values()].sort((x, y) => cmpStr(x.server, y.server) || cmpStr(x.method, y.method) || cmpStr(x.tool, y.tool));
  report.identical = report.counts.added === 0 && report.counts.missing === 0 && report.counts.changed === 0 && report.counts.slower === 0;
  report.complete = report.counts.not_fully_compared === 0;
  return report;
}

function cmpStr(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// One call as a document, for a side-by-side view (VS Code's diff editor)

/**
 * A call as a JSON value for a side-by-side diff: identity, outcome, error, duration, then
 * arguments and result. Object members are sorted (RFC 8785 order) on both sides so a text diff
 * shows only real differences; what was not recorded in a comparable form says so in place.
 */
export function callDocument(c: DiffableCall): Record<string, unknown> {
  const part = (p: 'input' | 'output', value: unknown): unknown => {
    const why = unavailable(c, p);
    return why && why !== 'cancelled' && why !== 'pending' ? `[not compared: ${NOT_COMPARED_TEXT[why]}]` : why ? `[none: ${NOT_COMPARED_TEXT[why]}]` : sortedJson(value ?? null);
  };
  return {
    server: c.server.name,
    method: c.method,
    tool: c.tool,
    direction: c.direction,
    outcome: c.outcome,
    error: c.error ? { error_class: c.error.error_class, error_code: c.error.error_code, message: c.error.message } : null,
    duration_ms: c.duration_ms,
    arguments: part('input', argumentsOf(c)),
    result: part('output', c.output),
    session_id: c.session_id,
    call_id: c.call_id,
    timestamp: c.timestamp,
  };
}

function sortedJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedJson);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  // defineProperty: a recorded "__proto__" member stays a member, not a prototype.
  for (const k of Object.keys(v).sort()) Object.defineProperty(out, k, { value: sortedJson(v[k]), enumerable: true, writable: true, configurable: true });
  return out;
}
