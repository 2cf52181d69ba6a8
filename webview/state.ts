/**
 * The webview's model: every call the host sent, kept for 100k+ calls in flat arrays — the rows
 * themselves, typed arrays of start/end/outcome/lane/track, a start-ordered index, per-server
 * lanes, and the filtered ("visible") order that both views draw from.
 *
 * Pure: no DOM, no timers. Time ("now") is passed in, so everything here is unit-tested in Node.
 */
import type { CallRow, Outcome, SessionView } from '../src/shared/protocol';

export const OUTCOMES: readonly Outcome[] = ['success', 'error', 'timeout', 'cancelled', 'pending'];
export const OUTCOME_CODE: Readonly<Record<Outcome, number>> = { success: 0, error: 1, timeout: 2, cancelled: 3, pending: 4 };
export const CODE_OUTCOME: readonly Outcome[] = ['success', 'error', 'timeout', 'cancelled', 'pending'];

/** A failure is what `n` jumps to: an error or a timeout. */
export function isFailure(o: Outcome): boolean {
  return o === 'error' || o === 'timeout';
}

/** Calls longer than this (and pending ones) are kept in a lane's `spanning` set for range queries. */
export const LONG_MS = 10_000;
/** Concurrent calls in one lane stack on at most this many tracks (more overlap on the last ones). */
export const MAX_TRACKS = 6;
/** Upserts with more new calls than this are added in bulk (append, sort once). */
const BULK_UPSERT = 512;

export function callKey(session_id: string, call_id: string): string {
  return `${session_id}\u0000${call_id}`;
}

export interface Filters {
  /** Servers shown; empty = all. */
  servers: ReadonlySet<string>;
  /** Tools shown; empty = all. */
  tools: ReadonlySet<string>;
  /** Outcomes shown; empty = all. */
  outcomes: ReadonlySet<Outcome>;
  /** Case-insensitive substring of tool, server, input summary or error message. */
  text: string;
}

export function emptyFilters(): Filters {
  return { servers: new Set(), tools: new Set(), outcomes: new Set(), text: '' };
}

export function filtersActive(f: Filters): boolean {
  return f.servers.size > 0 || f.tools.size > 0 || f.outcomes.size > 0 || f.text.trim() !== '';
}

export interface Lane {
  server: string;
  /** Position among lanes (alphabetical by server). */
  index: number;
  /** Call indices sorted by (start, index). */
  calls: number[];
  /** Pending calls and calls longer than LONG_MS: a range query checks them separately. */
  spanning: Set<number>;
  /** The last call placed on each track, for packing new calls. */
  trackLast: number[];
  failures: number;
  alerts: number;
}

export class CallStore {
  rows: CallRow[] = [];
  /** Start (epoch ms) by call index. */
  start: Float64Array = new Float64Array(1024);
  /** End (epoch ms) by call index; NaN while pending. */
  end: Float64Array = new Float64Array(1024);
  outcome: Uint8Array = new Uint8Array(1024);
  lane: Uint16Array = new Uint16Array(1024);
  track: Uint8Array = new Uint8Array(1024);
  /** 1 when the call raised security alerts. */
  alert: Uint8Array = new Uint8Array(1024);
  /** 1 when the call passes the filters. */
  pass: Uint8Array = new Uint8Array(1024);
  /** All call indices ordered by (start, index). */
  order: number[] = [];
  /** The calls that pass the filters, ordered by (start, index): what the views draw. */
  visible: number[] = [];
  lanes: Lane[] = [];
  /** Bumped on every change; views compare it to skip work. */
  version = 0;
  failures = 0;
  visibleFailures = 0;
  /** Session id → end (epoch ms) for sessions that ended: their pending calls stop growing there. */
  sessionEnd = new Map<string, number>();
  sessions: SessionView[] = [];
  /**
   * Calls announced by `init` (its `total`) that have not arrived yet. They are all older than
   * every call here (history comes newest first): the list draws them as placeholders above.
   */
  historyMissing = 0;

  /** session_id → call_id → index (nested maps: no key strings built per call). */
  private keyIndex = new Map<string, Map<string, number>>();
  /**
   * Rows [0, indexed) are in `keyIndex`. `reset` leaves it empty: 100k map insertions were a third
   * of the time to the first paint, and nothing on it needs them. `indexSome` builds it in slices
   * afterwards; `indexOf` and `upsert` finish it first when they come earlier.
   */
  private indexed = 0;
  private laneByServer = new Map<string, Lane>();
  private hay: (string | undefined)[] = [];
  private filters: Filters = emptyFilters();
  private textLower = '';
  private toolCounts = new Map<string, Map<string, number>>();
  private maxEnd = -Infinity;
  private sessionsKey = '\u0002';

  get size(): number {
    return this.rows.length;
  }

  getFilters(): Filters {
    return this.filters;
  }

  /**
   * Replaces everything with `rows` (the `init` message). Duplicate keys: the later row wins, in
   * the earlier one's place, as with upserts. With `lazyIndex`, the key index (and so the duplicate
   * check) is left to `indexSome`/`indexOf`/`upsert`; a duplicate found then rebuilds the store.
   */
  reset(rows: readonly CallRow[], lazyIndex = false): void {
    const n = rows.length;
    this.rows = [];
    this.keyIndex = new Map();
    this.indexed = 0;
    this.laneByServer = new Map();
    this.lanes = [];
    this.hay = [];
    this.toolCounts = new Map();
    this.failures = 0;
    this.maxEnd = -Infinity;
    this.historyMissing = 0;
    this.ensureCapacity(Math.max(1024, n));
    for (const r of rows) {
      if (!validRow(r)) continue;
      if (lazyIndex) {
        this.writeRow(this.rows.length, r);
        this.rows.push(r);
        continue;
      }
      const calls = this.sessionCalls(r.session_id);
      const at = calls.get(r.call_id);
      if (at !== undefined) {
        this.uncount(at);
        this.rows[at] = r;
        this.writeRow(at, r);
      } else {
        const i = this.rows.length;
        this.rows.push(r);
        calls.set(r.call_id, i);
        this.writeRow(i, r);
      }
    }
    const m = this.rows.length;
    if (!lazyIndex) this.indexed = m;
    const order = new Array<number>(m);
    let sorted = true;
    for (let i = 0; i < m; i++) {
      order[i] = i;
      if (i > 0 && this.start[i]! < this.start[i - 1]!) sorted = false;
    }
    if (!sorted) {
      const s = this.start;
      order.sort((a, b) => s[a]! - s[b]! || a - b);
    }
    this.order = order;
    for (const i of order) this.placeInLane(i, true);
    this.lanes.sort((a, b) => compareServers(a.server, b.server));
    this.lanes.forEach((l, k) => (l.index = k));
    for (const l of this.lanes) for (const i of l.calls) this.lane[i] = l.index;
    this.refilter(true);
    this.version++;
  }

  /** Adds or replaces calls (the `calls` message), keyed by session_id + call_id. */
  upsert(rows: readonly CallRow[]): { added: number; changed: number } {
    this.indexSome(Infinity);
    let added = 0;
    let changed = 0;
    // Many new calls at once (e.g. history sent in chunks after `init`): append, then sort once.
    const bulk = rows.length > BULK_UPSERT;
    const fresh: number[] = [];
    for (const r of rows) {
      if (!validRow(r)) continue;
      const calls = this.sessionCalls(r.session_id);
      const at = calls.get(r.call_id);
      if (at === undefined) {
        const i = this.append(r, calls);
        if (bulk) {
          fresh.push(i);
        } else {
          insertSorted(this.order, i, this.start);
          this.placeInLane(i, false);
          const p = this.matches(i);
          this.pass[i] = p ? 1 : 0;
          if (p) {
            insertSorted(this.visible, i, this.start);
            if (this.outcome[i] === 1 || this.outcome[i] === 2) this.visibleFailures++;
          }
        }
        added++;
      } else {
        this.replaceRow(at, r);
        changed++;
      }
    }
    if (fresh.length) this.addBulk(fresh);
    if (added || changed) this.version++;
    return { added, changed };
  }

  /** Stores a new call at the end of the columns and indexes it under its session; returns its index. */
  private append(r: CallRow, calls: Map<string, number>): number {
    const i = this.rows.length;
    this.ensureCapacity(i + 1);
    this.rows.push(r);
    calls.set(r.call_id, i);
    this.indexed = i + 1;
    this.writeRow(i, r);
    return i;
  }

  /**
   * Adds a chunk of the initial load's history (the `history` message). A call already here is
   * kept: it came in a live update, which is newer than the load's copy. Returns the calls added.
   */
  addHistory(rows: readonly CallRow[], done: boolean): number {
    this.indexSome(Infinity);
    const fresh: number[] = [];
    for (const r of rows) {
      if (!validRow(r)) continue;
      const calls = this.sessionCalls(r.session_id);
      if (calls.has(r.call_id)) continue;
      fresh.push(this.append(r, calls));
    }
    this.historyMissing = done ? 0 : Math.max(0, this.historyMissing - rows.length);
    if (fresh.length) this.addBulk(fresh);
    this.version++;
    return fresh.length;
  }

  /**
   * Places many new calls at once. They are sorted, then merged into `order`, the lanes and
   * `visible` (linear, not a re-sort of 100k indices); only a lane that got calls before its last
   * one re-packs its tracks; only the new calls are matched against the filters.
   */
  private addBulk(fresh: number[]): void {
    const s = this.start;
    fresh.sort((a, b) => s[a]! - s[b]! || a - b);
    this.order = mergeSorted(this.order, fresh, s);
    const byLane = new Map<Lane, number[]>();
    let newLane = false;
    for (const i of fresh) {
      const r = this.rows[i]!;
      let lane = this.laneByServer.get(r.server);
      if (!lane) {
        lane = { server: r.server, index: this.lanes.length, calls: [], spanning: new Set(), trackLast: [], failures: 0, alerts: 0 };
        this.laneByServer.set(r.server, lane);
        this.lanes.push(lane);
        newLane = true;
      }
      let add = byLane.get(lane);
      if (!add) byLane.set(lane, (add = []));
      add.push(i);
      if (this.isSpanning(i)) lane.spanning.add(i);
      if (isFailure(r.outcome)) lane.failures++;
      lane.alerts += r.alerts > 0 ? 1 : 0;
    }
    for (const [lane, add] of byLane) {
      const calls = lane.calls;
      const last = calls[calls.length - 1];
      if (last === undefined || s[last]! < s[add[0]!]! || (s[last] === s[add[0]!] && last < add[0]!)) {
        for (const i of add) {
          calls.push(i);
          this.track[i] = this.pickTrack(lane, i);
        }
      } else {
        lane.calls = mergeSorted(calls, add, s);
        lane.trackLast = [];
        for (const i of lane.calls) this.track[i] = this.pickTrack(lane, i);
      }
    }
    if (newLane) {
      this.lanes.sort((a, b) => compareServers(a.server, b.server));
      this.lanes.forEach((l, k) => (l.index = k));
      for (const l of this.lanes) for (const i of l.calls) this.lane[i] = l.index;
    } else {
      for (const [lane, add] of byLane) for (const i of add) this.lane[i] = lane.index;
    }
    const shown: number[] = [];
    for (const i of fresh) {
      const p = this.matches(i);
      this.pass[i] = p ? 1 : 0;
      if (p) {
        shown.push(i);
        if (this.outcome[i] === 1 || this.outcome[i] === 2) this.visibleFailures++;
      }
    }
    if (shown.length) this.visible = mergeSorted(this.visible, shown, s);
  }

  /** Session list and ends. Sent often while recording: a no-op when nothing the views show changed. */
  setSessions(sessions: readonly SessionView[]): void {
    this.sessions = sessions.slice();
    let key = '';
    for (const s of sessions) key += `${s.session_id}\u0000${s.ended_at ?? ''}\u0001`;
    if (key === this.sessionsKey) return;
    this.sessionsKey = key;
    this.sessionEnd = new Map();
    for (const s of sessions) {
      if (s.ended_at) {
        const t = Date.parse(s.ended_at);
        if (Number.isFinite(t)) this.sessionEnd.set(s.session_id, t);
      }
    }
    this.version++;
  }

  indexOf(session_id: string, call_id: string): number {
    this.indexSome(Infinity);
    return this.keyIndex.get(session_id)?.get(call_id) ?? -1;
  }

  /**
   * Adds rows to the key index until `clock()` passes `deadline` (checked every 1,024 rows).
   * Returns `done` once every row is indexed, and `rebuilt` when a duplicate key made it rebuild
   * the store (indices changed: selections held by index must be looked up again by key).
   */
  indexSome(deadline: number, clock: () => number = Date.now): { done: boolean; rebuilt: boolean } {
    const rows = this.rows;
    const n = rows.length;
    let i = this.indexed;
    let dup = false;
    while (i < n) {
      const end = deadline === Infinity ? n : Math.min(n, i + 1024);
      for (; i < end; i++) {
        const r = rows[i]!;
        const calls = this.sessionCalls(r.session_id);
        if (calls.has(r.call_id)) dup = true;
        else calls.set(r.call_id, i);
      }
      if (dup || clock() >= deadline) break;
    }
    this.indexed = i;
    if (dup) {
      const missing = this.historyMissing;
      this.reset(rows.slice());
      this.historyMissing = missing;
      return { done: true, rebuilt: true };
    }
    return { done: i >= n, rebuilt: false };
  }

  laneOf(server: string): Lane | undefined {
    return this.laneByServer.get(server);
  }

  /** The end of call `i` for drawing: its real end, or `now` (or its session's end) while pending. */
  endOf(i: number, now: number): number {
    const e = this.end[i]!;
    if (!Number.isNaN(e)) return e;
    const row = this.rows[i];
    const se = row ? this.sessionEnd.get(row.session_id) : undefined;
    const s = this.start[i]!;
    return Math.max(s, se !== undefined ? Math.min(se, now) : now);
  }

  /** Earliest start and latest end over all calls (pending ones end at `now`). */
  bounds(now: number): { min: number; max: number } | undefined {
    if (this.order.length === 0) return undefined;
    const min = this.start[this.order[0]!]!;
    let max = this.maxEnd;
    for (const l of this.lanes) for (const i of l.spanning) max = Math.max(max, this.endOf(i, now));
    return { min, max: Math.max(max, min) };
  }

  hasPending(): boolean {
    for (const l of this.lanes) for (const i of l.spanning) if (Number.isNaN(this.end[i]!)) return true;
    return false;
  }

  /**
   * Calls the callback for every call of `lane` overlapping [t0, t1], in start order.
   * Visits only the lane's calls starting in [t0 − LONG_MS, t1] plus its spanning set.
   */
  forEachInRange(lane: Lane, t0: number, t1: number, now: number, cb: (i: number) => void): void {
    const s = this.start;
    const lo = t0 - LONG_MS;
    if (lane.spanning.size) {
      let early: number[] | undefined;
      for (const i of lane.spanning) if (s[i]! < lo && this.endOf(i, now) >= t0) (early ??= []).push(i);
      if (early) {
        early.sort((a, b) => s[a]! - s[b]! || a - b);
        for (const i of early) cb(i);
      }
    }
    const calls = lane.calls;
    let k = lowerBound(calls, lo, s);
    for (; k < calls.length; k++) {
      const i = calls[k]!;
      if (s[i]! > t1) break;
      const e = Number.isNaN(this.end[i]!) ? this.endOf(i, now) : this.end[i]!;
      if (e >= t0) cb(i);
    }
  }

  // ---- filters -------------------------------------------------------------------------------

  setFilters(f: Filters): void {
    const prev = this.filters;
    this.filters = { servers: new Set(f.servers), tools: new Set(f.tools), outcomes: new Set(f.outcomes), text: f.text };
    const newText = f.text.trim().toLowerCase();
    // Narrowing only (same sets, longer text containing the old): re-check just the visible calls.
    const narrowing = sameSet(prev.servers, f.servers) && sameSet(prev.tools, f.tools) && sameSet(prev.outcomes, f.outcomes) && newText.includes(this.textLower);
    this.textLower = newText;
    this.refilter(!narrowing);
    this.version++;
  }

  /** Servers, alphabetical. */
  servers(): string[] {
    return this.lanes.map((l) => l.server);
  }

  /** Tools seen (on the given servers, or all), alphabetical, with counts. */
  tools(servers?: ReadonlySet<string>): Array<{ tool: string; count: number }> {
    const acc = new Map<string, number>();
    for (const [server, m] of this.toolCounts) {
      if (servers && servers.size && !servers.has(server)) continue;
      for (const [t, c] of m) acc.set(t, (acc.get(t) ?? 0) + c);
    }
    return [...acc].filter(([, c]) => c > 0).map(([tool, c]) => ({ tool, count: c })).sort((a, b) => compareServers(a.tool, b.tool));
  }

  /** Position of call `i` in `visible`, or −1. */
  visiblePos(i: number): number {
    if (i < 0 || i >= this.rows.length || !this.pass[i]) return -1;
    const k = lowerBoundCall(this.visible, i, this.start);
    return this.visible[k] === i ? k : -1;
  }

  /** The visible call nearest in time to `t` (for keeping a selection when the filter hides it). */
  nearestVisible(t: number): number {
    const v = this.visible;
    if (!v.length) return -1;
    const k = lowerBound(v, t, this.start);
    if (k >= v.length) return v[v.length - 1]!;
    if (k === 0) return v[0]!;
    const a = v[k - 1]!;
    const b = v[k]!;
    return t - this.start[a]! <= this.start[b]! - t ? a : b;
  }

  /** The next (dir 1) or previous (dir −1) visible failure after call `from` (−1: from the edge), wrapping. */
  nextFailure(from: number, dir: 1 | -1): { index: number; wrapped: boolean } | undefined {
    const v = this.visible;
    const n = v.length;
    if (!n) return undefined;
    let pos: number;
    if (from >= 0 && from < this.rows.length) {
      const p = this.visiblePos(from);
      // A filtered-out selection counts as sitting between its visible neighbours.
      pos = p >= 0 ? p : lowerBoundCall(v, from, this.start) - (dir > 0 ? 1 : 0);
    } else {
      pos = dir > 0 ? -1 : n;
    }
    for (let step = 1; step <= n; step++) {
      const raw = pos + dir * step;
      const k = ((raw % n) + n) % n;
      const i = v[k]!;
      const o = this.outcome[i];
      if (o === 1 || o === 2) return { index: i, wrapped: raw >= n || raw < 0 };
    }
    return undefined;
  }

  matches(i: number): boolean {
    const f = this.filters;
    const r = this.rows[i]!;
    if (f.servers.size && !f.servers.has(r.server)) return false;
    if (f.tools.size && !f.tools.has(r.tool)) return false;
    if (f.outcomes.size && !f.outcomes.has(r.outcome)) return false;
    if (this.textLower) {
      let h = this.hay[i];
      if (h === undefined) h = this.hay[i] = haystack(r);
      if (!h.includes(this.textLower)) return false;
    }
    return true;
  }

  // ---- internals -----------------------------------------------------------------------------

  private sessionCalls(session_id: string): Map<string, number> {
    let m = this.keyIndex.get(session_id);
    if (!m) this.keyIndex.set(session_id, (m = new Map()));
    return m;
  }

  private refilter(full: boolean): void {
    const src = full ? this.order : this.visible;
    const noFilter = !filtersActive(this.filters);
    if (noFilter && full) {
      // Everything passes: `order` as it is (one copy, no 100k pushes after an init).
      const n = this.rows.length;
      this.pass.fill(1, 0, n);
      this.visible = src.slice();
      this.visibleFailures = this.failures;
      return;
    }
    const out: number[] = [];
    let vf = 0;
    if (full) this.pass.fill(0, 0, this.rows.length);
    else for (const i of src) this.pass[i] = 0;
    for (const i of src) {
      if (noFilter || this.matches(i)) {
        out.push(i);
        this.pass[i] = 1;
        const o = this.outcome[i];
        if (o === 1 || o === 2) vf++;
      }
    }
    this.visible = out;
    this.visibleFailures = vf;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.start.length) return;
    let cap = this.start.length;
    while (cap < n) cap *= 2;
    this.start = growF64(this.start, cap);
    this.end = growF64(this.end, cap);
    this.outcome = growU8(this.outcome, cap);
    this.lane = growU16(this.lane, cap);
    this.track = growU8(this.track, cap);
    this.alert = growU8(this.alert, cap);
    this.pass = growU8(this.pass, cap);
  }

  private writeRow(i: number, r: CallRow): void {
    const s = r.start_ms;
    this.start[i] = s;
    const pending = r.outcome === 'pending' || r.duration_ms === undefined || !Number.isFinite(r.duration_ms);
    const e = pending ? NaN : s + Math.max(0, r.duration_ms!);
    this.end[i] = e;
    if (!Number.isNaN(e) && e > this.maxEnd) this.maxEnd = e;
    this.outcome[i] = outcomeCode(r.outcome);
    this.alert[i] = r.alerts > 0 ? 1 : 0;
    if (isFailure(r.outcome)) this.failures++;
    if (i < this.hay.length) this.hay[i] = undefined;
    let m = this.toolCounts.get(r.server);
    if (!m) this.toolCounts.set(r.server, (m = new Map()));
    m.set(r.tool, (m.get(r.tool) ?? 0) + 1);
  }

  /** Undoes the counters `writeRow` added for call `i`. */
  private uncount(i: number): void {
    const r = this.rows[i]!;
    if (isFailure(r.outcome)) this.failures--;
    const m = this.toolCounts.get(r.server);
    if (m) m.set(r.tool, (m.get(r.tool) ?? 1) - 1);
  }

  private isSpanning(i: number): boolean {
    const e = this.end[i]!;
    return Number.isNaN(e) || e - this.start[i]! > LONG_MS;
  }

  private placeInLane(i: number, bulk: boolean): void {
    const r = this.rows[i]!;
    let lane = this.laneByServer.get(r.server);
    if (!lane) {
      lane = { server: r.server, index: 0, calls: [], spanning: new Set(), trackLast: [], failures: 0, alerts: 0 };
      this.laneByServer.set(r.server, lane);
      this.lanes.push(lane);
      if (!bulk) {
        this.lanes.sort((a, b) => compareServers(a.server, b.server));
        this.lanes.forEach((l, k) => (l.index = k));
        for (const l of this.lanes) for (const c of l.calls) this.lane[c] = l.index;
      }
    }
    if (bulk) lane.calls.push(i);
    else insertSorted(lane.calls, i, this.start);
    this.lane[i] = lane.index;
    if (this.isSpanning(i)) lane.spanning.add(i);
    if (isFailure(r.outcome)) lane.failures++;
    lane.alerts += r.alerts > 0 ? 1 : 0;
    this.track[i] = this.pickTrack(lane, i);
  }

  private pickTrack(lane: Lane, i: number): number {
    const s = this.start[i]!;
    let best = 0;
    let bestEnd = Infinity;
    for (let t = 0; t < lane.trackLast.length; t++) {
      const last = lane.trackLast[t]!;
      const e = Number.isNaN(this.end[last]!) ? Infinity : this.end[last]!;
      if (e <= s) {
        lane.trackLast[t] = i;
        return t;
      }
      if (e < bestEnd) {
        bestEnd = e;
        best = t;
      }
    }
    if (lane.trackLast.length < MAX_TRACKS) {
      lane.trackLast.push(i);
      return lane.trackLast.length - 1;
    }
    lane.trackLast[best] = i;
    return best;
  }

  private replaceRow(i: number, r: CallRow): void {
    const old = this.rows[i]!;
    const oldPass = this.pass[i] === 1;
    const oldFailure = isFailure(old.outcome);
    const moved = old.start_ms !== r.start_ms || old.server !== r.server;
    if (moved) {
      removeSorted(this.order, i, this.start);
      if (oldPass) removeSorted(this.visible, i, this.start);
      const lane = this.laneByServer.get(old.server);
      if (lane) {
        removeSorted(lane.calls, i, this.start);
        lane.spanning.delete(i);
        if (oldFailure) lane.failures--;
        if (old.alerts > 0) lane.alerts--;
      }
    }
    this.uncount(i);
    this.rows[i] = r;
    this.writeRow(i, r);
    const lane = this.laneByServer.get(r.server);
    if (moved || !lane) {
      insertSorted(this.order, i, this.start);
      this.placeInLane(i, false);
    } else {
      if (this.isSpanning(i)) lane.spanning.add(i);
      else lane.spanning.delete(i);
      lane.failures += (isFailure(r.outcome) ? 1 : 0) - (oldFailure ? 1 : 0);
      lane.alerts += (r.alerts > 0 ? 1 : 0) - (old.alerts > 0 ? 1 : 0);
    }
    const p = this.matches(i);
    this.pass[i] = p ? 1 : 0;
    if (oldPass && oldFailure) this.visibleFailures--;
    if (p && isFailure(r.outcome)) this.visibleFailures++;
    if (moved) {
      if (p) insertSorted(this.visible, i, this.start);
    } else if (p !== oldPass) {
      if (p) insertSorted(this.visible, i, this.start);
      else removeSorted(this.visible, i, this.start);
    }
  }
}

// ---- helpers (exported for tests) ------------------------------------------------------------

function validRow(r: CallRow | undefined | null): r is CallRow {
  return !!r && typeof r.session_id === 'string' && typeof r.call_id === 'string' && typeof r.server === 'string' && typeof r.tool === 'string' && Number.isFinite(r.start_ms) && outcomeCode(r.outcome) >= 0;
}

/**
 * OUTCOME_CODE[o] by comparisons: the strings of a received message are not internalized, and a
 * keyed property load with such a string goes through the string table, per row.
 */
function outcomeCode(o: unknown): number {
  return o === 'success' ? 0 : o === 'error' ? 1 : o === 'timeout' ? 2 : o === 'cancelled' ? 3 : o === 'pending' ? 4 : -1;
}

function haystack(r: CallRow): string {
  return `${r.tool}\u0001${r.server}\u0001${r.input_summary ?? ''}\u0001${r.error_message ?? ''}`.toLowerCase();
}

export function compareServers(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** First position in `arr` (call indices sorted by start) whose start is ≥ t. */
export function lowerBound(arr: readonly number[], t: number, start: Float64Array): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (start[arr[mid]!]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position in `arr` whose (start, index) is ≥ that of call `i`. */
export function lowerBoundCall(arr: readonly number[], i: number, start: Float64Array): number {
  const t = start[i]!;
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const j = arr[mid]!;
    const sj = start[j]!;
    if (sj < t || (sj === t && j < i)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `a` and `b` (each ordered by (start, index)) merged into a new array; `a` itself when `b` is empty. */
export function mergeSorted(a: readonly number[], b: readonly number[], start: Float64Array): number[] {
  if (!b.length) return a as number[];
  const before = (x: number, y: number): boolean => start[x]! < start[y]! || (start[x] === start[y] && x < y);
  // History arrives newest first: each chunk goes wholly before what is there (a block copy).
  if (!a.length || before(b[b.length - 1]!, a[0]!)) return b.concat(a);
  if (before(a[a.length - 1]!, b[0]!)) return a.concat(b);
  const out = new Array<number>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const sx = start[x]!;
    const sy = start[y]!;
    if (sx < sy || (sx === sy && x < y)) {
      out[k++] = x;
      i++;
    } else {
      out[k++] = y;
      j++;
    }
  }
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

export function insertSorted(arr: number[], i: number, start: Float64Array): void {
  const n = arr.length;
  if (n === 0) {
    arr.push(i);
    return;
  }
  const last = arr[n - 1]!;
  if (start[last]! < start[i]! || (start[last] === start[i] && last < i)) {
    arr.push(i);
    return;
  }
  arr.splice(lowerBoundCall(arr, i, start), 0, i);
}

export function removeSorted(arr: number[], i: number, start: Float64Array): void {
  const k = lowerBoundCall(arr, i, start);
  if (arr[k] === i) arr.splice(k, 1);
  else {
    const j = arr.indexOf(i);
    if (j >= 0) arr.splice(j, 1);
  }
}

function growF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}
function growU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}
function growU16(a: Uint16Array, n: number): Uint16Array {
  const b = new Uint16Array(n);
  b.set(a);
  return b;
}
