/**
 * The timeline's initial load over the webview channel: how a session's rows are split (the
 * newest screenful in `init`, then the history newest first) and CallRow[] ⇄ CallColumns
 * (src/shared/protocol.ts). The history travels in columns because a structured clone of 100k
 * row objects took a second, while typed arrays and string arrays clone in milliseconds. Shared
 * by the host (split, encode) and the webview (decode); no imports but types, like protocol.ts.
 */
import type { CallColumns, CallRow, Outcome } from './protocol';

const OUTCOMES: readonly Outcome[] = ['success', 'error', 'timeout', 'cancelled', 'pending'];

function outcomeCode(o: Outcome): number {
  const k = OUTCOMES.indexOf(o);
  return k < 0 ? 255 : k;
}

/**
 * The parts of `rows` (in start order) as sent: `head` is the start of the rows that go in
 * `init` (about the last `headRows`), `chunks` the [start, end) ranges of the history, newest
 * first (about `chunkRows` each). No boundary splits calls with equal starts, so the webview
 * orders ties as it would from a single message (by arrival).
 */
export function splitLoad(rows: readonly CallRow[], headRows: number, chunkRows: number): { head: number; chunks: Array<[number, number]> } {
  const boundary = (b: number): number => {
    while (b > 0 && rows[b - 1]!.start_ms === rows[b]!.start_ms) b--;
    return b;
  };
  const head = boundary(Math.max(0, rows.length - headRows));
  const chunks: Array<[number, number]> = [];
  for (let end = head; end > 0; ) {
    const start = boundary(Math.max(0, end - chunkRows));
    chunks.push([start, end]);
    end = start;
  }
  return { head, chunks };
}

export function encodeColumns(rows: readonly CallRow[]): CallColumns {
  const n = rows.length;
  const dict: string[] = [];
  const refs = new Map<string, number>();
  const ref = (s: string | undefined): number => {
    if (s === undefined) return -1;
    let k = refs.get(s);
    if (k === undefined) {
      k = dict.length;
      dict.push(s);
      refs.set(s, k);
    }
    return k;
  };
  const c: CallColumns = {
    n,
    dict,
    sessionRef: new Int32Array(n),
    serverRef: new Int32Array(n),
    toolRef: new Int32Array(n),
    methodRef: new Int32Array(n),
    agentRef: new Int32Array(n),
    errorClassRef: new Int32Array(n),
    call_id: new Array<string>(n),
    direction: new Uint8Array(n),
    outcome: new Uint8Array(n),
    start_ms: new Float64Array(n),
    duration_ms: new Float64Array(n),
    alerts: new Uint32Array(n),
    input_summary: new Array<string>(n),
    output_summary: new Array<string | null>(n),
    error_message: new Array<string | null>(n),
    replay_of: new Array<string | null>(n),
    retry_of: new Array<string | null>(n),
  };
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    c.sessionRef[i] = ref(r.session_id);
    c.serverRef[i] = ref(r.server);
    c.toolRef[i] = ref(r.tool);
    c.methodRef[i] = ref(r.method);
    c.agentRef[i] = ref(r.agent_id);
    c.errorClassRef[i] = ref(r.error_class);
    c.call_id[i] = r.call_id;
    c.direction[i] = r.direction === 'server_to_client' ? 1 : 0;
    c.outcome[i] = outcomeCode(r.outcome);
    c.start_ms[i] = r.start_ms;
    c.duration_ms[i] = r.duration_ms ?? NaN;
    c.alerts[i] = r.alerts;
    c.input_summary[i] = r.input_summary;
    c.output_summary[i] = r.output_summary ?? null;
    c.error_message[i] = r.error_message ?? null;
    c.replay_of[i] = r.replay_of ?? null;
    c.retry_of[i] = r.retry_of ?? null;
  }
  return c;
}

/**
 * The rows of `c`. Malformed columns (wrong types, short arrays, refs out of range) yield the rows
 * that are whole; a row with a missing field is dropped here rather than drawn half.
 */
export function decodeColumns(c: CallColumns): CallRow[] {
  if (!c || typeof c !== 'object' || !Array.isArray(c.dict)) return [];
  const need = [c.sessionRef, c.serverRef, c.toolRef, c.methodRef, c.agentRef, c.errorClassRef, c.direction, c.outcome, c.start_ms, c.duration_ms, c.alerts, c.call_id, c.input_summary, c.output_summary, c.error_message, c.replay_of, c.retry_of];
  let n = Number.isInteger(c.n) && c.n > 0 ? c.n : 0;
  for (const a of need) n = Math.min(n, a && typeof (a as { length?: unknown }).length === 'number' ? (a as ArrayLike<unknown>).length : 0);
  const dict = c.dict;
  const str = (k: number): string | undefined => (k >= 0 && k < dict.length && typeof dict[k] === 'string' ? dict[k] : undefined);
  const opt = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const out: CallRow[] = [];
  for (let i = 0; i < n; i++) {
    const session_id = str(c.sessionRef[i]!);
    const server = str(c.serverRef[i]!);
    const tool = str(c.toolRef[i]!);
    const method = str(c.methodRef[i]!);
    const outcome = OUTCOMES[c.outcome[i]!];
    const call_id = c.call_id[i];
    if (session_id === undefined || server === undefined || tool === undefined || method === undefined || outcome === undefined || typeof call_id !== 'string') continue;
    const row: CallRow = {
      session_id,
      call_id,
      server,
      tool,
      method,
      direction: c.direction[i] === 1 ? 'server_to_client' : 'client_to_server',
      outcome,
      start_ms: c.start_ms[i]!,
      input_summary: typeof c.input_summary[i] === 'string' ? c.input_summary[i]! : '',
      alerts: c.alerts[i]!,
    };
    const agent = str(c.agentRef[i]!);
    if (agent !== undefined) row.agent_id = agent;
    const ec = str(c.errorClassRef[i]!);
    if (ec !== undefined) row.error_class = ec;
    const d = c.duration_ms[i]!;
    if (!Number.isNaN(d)) row.duration_ms = d;
    const os = opt(c.output_summary[i]);
    if (os !== undefined) row.output_summary = os;
    const em = opt(c.error_message[i]);
    if (em !== undefined) row.error_message = em;
    const ro = opt(c.replay_of[i]);
    if (ro !== undefined) row.replay_of = ro;
    const rt = opt(c.retry_of[i]);
    if (rt !== undefined) row.retry_of = rt;
    out.push(row);
  }
  return out;
}
