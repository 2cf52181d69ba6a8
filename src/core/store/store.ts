import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SqlJsStatic } from 'sql.js';
import { CallAssembler, failuresRepairedBy } from '../analysis/calls';
import { chainPrefixSkip } from '../audit/chain';
import type { Call, JournalLocation, Outcome } from '../model/calls';
import { type Disposable, Emitter, type Event } from '../model/events';
import { type Direction, JOURNAL_VERSION, type JournalRecord, type SegmentHeader } from '../model/records';
import {
  type AlertRow,
  type CallRow,
  type ConnectionRow,
  type EventRow,
  IndexDb,
  IndexImageError,
  loadSqlJs,
  type ProblemKind,
  type RowResolvers,
  type SegmentState,
  type SessionCounts,
  type SessionState,
  type StoreProblem,
} from './index-db';
import { listSegments, readRecordAt } from './journal';
import { openExistingStore, type StoreLayout } from './layout';
import { IndexLock, isProcessAlive, type LockOwner } from './lock';

export type { AlertRow, CallRow, ConnectionRow, EventRow, ProblemKind, StoreProblem } from './index-db';
export { SCHEMA_VERSION } from './index-db';

/**
 * The store as the product reads it: the journal (the evidence) plus the sql.js index (a cache
 * of it for queries). Any number of processes may open one store while recorders keep writing;
 * the one holding `index.lock` saves the index image, the others keep their catch-up in memory.
 *
 * Catch-up reads only what is new in each segment past the offsets the index has recorded, feeds
 * each session's records in order to a CallAssembler, and upserts what changed. Assemblers are
 * kept only for sessions that may still grow, and are never persisted: a session that receives
 * records after a reopen is re-assembled from its first record (the calls are upserted by their
 * key, so nothing is duplicated).
 */

export interface OpenStoreOptions {
  /** Try to take the index lock, to save the index image. Without it (or when another process holds it) the index lives in memory only. */
  writeIndex?: boolean;
  /** Where sql-wasm.wasm is, when not inside the sql.js package or beside the bundle. */
  wasmPath?: string;
  /** Catch up with the journal before returning (default true). */
  catchUp?: boolean;
}

export interface CatchUpResult {
  /** Journal records read for the first time. */
  records: number;
  /** Journal bytes read. */
  bytes: number;
  /** Calls created or changed. */
  calls: number;
  /** Sessions created or changed. */
  sessions: string[];
  /** Problems found in this catch-up (each is reported once, and kept in the index). */
  problems: StoreProblem[];
  /** Set when the index was rebuilt from the journal, with why. */
  rebuilt?: string;
  /** The time budget ran out before the journal's end: call again for the rest (only with `budgetMs`). */
  more?: true;
}

export interface CatchUpOptions {
  /**
   * Stop reading new journal lines once this many milliseconds have passed (at a line boundary;
   * what was read is committed and reported), and set `more` in the result. Live views use it to
   * keep every slice of work short and yield to the event loop between slices. A rebuild of the
   * whole index ignores it (it is rare, and its listeners expect the whole picture).
   */
  budgetMs?: number;
}

export interface StoreChange {
  sessions: string[];
  /** Calls created or changed by the catch-up (re-assembly of known calls is not a change). */
  calls: Array<{ session_id: string; call_id: string }>;
  /** The index was rebuilt: everything may have changed. */
  rebuilt: boolean;
}

export interface SessionRow extends SessionCounts {
  session_id: string;
  started_at: string;
  ended_at?: string;
  end_reason?: string;
  /** A session_end record was seen. */
  ended: boolean;
  /**
   * Whether the recording process still runs: false when its pid is dead (or reused) on this
   * host, null when it ran on another host and cannot be probed. Not ended and not alive means
   * the recording was interrupted.
   */
  writer_alive: boolean | null;
  /** Time of the session's latest record. */
  last_activity?: string;
  recorder_kind: string;
  recorder?: { kind: string; version: string; pid: number; hostname: string; user: string };
  replay_of?: { session_id: string; call_id: string };
  servers: string[];
  /** Journal records of the session. */
  records: number;
  writer_id: string;
}

export interface CallFilter {
  sessionId?: string;
  server?: string;
  tool?: string;
  method?: string;
  direction?: Direction;
  outcome?: Outcome | Outcome[];
  /** Case-insensitive substring of the tool name, the input and output previews, or the error message. */
  text?: string;
  /** Default 1000. */
  limit?: number;
  offset?: number;
  /** Default: request order within a session (`sessionId`), newest first across sessions. */
  order?: 'asc' | 'desc';
}

export interface ServerRow {
  server: string;
  sessions: number;
  calls: number;
  failed: number;
  last_call?: string;
}

export interface SessionRecord {
  record: JournalRecord;
  location: JournalLocation;
  /** The record's JSON text as stored (chain members stripped): exports pass it through instead of serialising the record again. */
  text: string;
}

/** Segments are read sequentially in chunks of this size (a longer line grows the buffer). */
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
/** Chunk size of a catch-up slice with a time budget (see CatchUpOptions.budgetMs): small, as what a slice reads past its deadline is read again by the next one. */
const SLICE_READ_CHUNK_BYTES = 64 * 1024;
/** Catch-up commits to the index after this many bytes of journal: bounds what is held in memory between writes. */
const FLUSH_EVERY_BYTES = 4 * 1024 * 1024;
/** Non-call records kept as events per session; beyond this they are still in the journal and counted on the connection. */
const MAX_EVENTS_PER_SESSION = 10_000;
const DEFAULT_CALL_LIMIT = 1000;
/** While recording never pauses, the watcher saves the image at most this often (its export blocks the event loop). */
const DEFAULT_AUTOSAVE_MS = 60_000;
/** Once no record came for this long, the watcher saves (if the last save is at least this old, and see EXPORT_DUTY_FACTOR). */
const DEFAULT_IDLE_SAVE_MS = 5_000;
/** Idle saves are spaced so that exports take at most 1 % of the event loop. */
const EXPORT_DUTY_FACTOR = 100;
/** A watcher's catch-up slice: journal is read for this long, then the event loop gets a turn. */
const DEFAULT_SLICE_MS = 20;

interface SegRuntime extends SegmentState {
  file: string;
  dirty: boolean;
  /** Fully read and its writer has moved on or is gone: not even stat'ed any more. */
  complete: boolean;
}

interface LiveSession {
  assembler: CallAssembler;
  /** The outcome each call was last counted with; weak, so finished calls cost nothing once written. */
  counted: WeakMap<Call, Outcome>;
  dirtyConnections: Set<string>;
  events: number;
}

interface SessRuntime extends SessionState {
  live?: LiveSession;
}

interface WriterInfo {
  pid: number;
  hostname: string;
  started?: string;
}

/** Accumulates one catch-up. */
class Acc {
  constructor(
    readonly collectIds: boolean,
    /** performance.now() past which no new line is read; undefined: read to the end. */
    public deadline?: number,
  ) {}
  /** The deadline passed with journal left to read. */
  stopped = false;
  records = 0;
  bytes = 0;
  readonly sessions = new Set<string>();
  /** Calls created or changed; their ids are collected only when someone listens. */
  callCount = 0;
  readonly calls = new Map<string, { session_id: string; call_id: string }>();
  readonly problems: StoreProblem[] = [];
  rebuilt?: string;
  /** Calls touched since the last flush; `notify` false for re-assembly of calls already indexed. */
  readonly pending = new Map<Call, { s: SessRuntime; notify: boolean }>();
  readonly dirtySessions = new Set<SessRuntime>();
}

export async function openStore(root: string, options: OpenStoreOptions = {}): Promise<Store> {
  const { layout, writable, warning } = openExistingStore(root);
  const SQL = await loadSqlJs(options.wasmPath);
  const warnings: string[] = warning ? [warning] : [];
  let lock: IndexLock | undefined;
  if (options.writeIndex && writable) {
    const attempt = IndexLock.tryAcquire(layout.lockFile);
    if (attempt.acquired) {
      lock = attempt.lock;
      removeTempImages(layout);
    } else {
      warnings.push(`${attempt.reason}; this process keeps its index in memory only.`);
    }
  }
  try {
    let db: IndexDb | undefined;
    let reason: string | undefined;
    let bytes: Buffer | undefined;
    try {
      bytes = fs.readFileSync(layout.indexFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') reason = `index image unreadable: ${(err as Error).message}`;
    }
    if (bytes) {
      try {
        db = IndexDb.load(SQL, bytes);
      } catch (err) {
        if (!(err instanceof IndexImageError)) throw err;
        reason = err.message;
      }
    }
    const store = new Store(layout, SQL, db ?? IndexDb.create(SQL), { readOnly: !writable, lock, wantsLock: !!options.writeIndex && writable, warnings, rebuiltReason: reason, hadImage: !!db });
    if (options.catchUp !== false) {
      store.initialCatchUp = store.catchUp();
      if (store.holdsIndexLock && store.isDirty) store.save();
    }
    return store;
  } catch (err) {
    lock?.release();
    throw err;
  }
}

export class Store {
  readonly root: string;
  readonly readOnly: boolean;
  /** Things the user should know: a newer store opened read-only, another process writing the index. */
  readonly warnings: string[];
  /** The catch-up done by openStore. */
  initialCatchUp?: CatchUpResult;
  /** The index image was loaded (rather than built from the journal). */
  readonly loadedImage: boolean;

  private db: IndexDb;
  private lock?: IndexLock;
  private readonly wantsLock: boolean;
  private segments = new Map<string, SegRuntime>();
  private segById = new Map<number, SegRuntime>();
  private segIdByFile = new Map<string, number>();
  private sessionsById = new Map<string, SessRuntime>();
  private sessionsBySid = new Map<number, SessRuntime>();
  private writers = new Map<string, WriterInfo>();
  private nextSegId = 1;
  private nextSid = 1;
  private dirty = false;
  private pendingRebuild?: string;
  private closed = false;
  private catchingUp = false;
  private lastSave = Date.now();
  /** Bumped by every save; a background save renames its image only if it is still the newest. */
  private saveGen = 0;
  /** How long the last export of the image blocked the event loop. */
  private lastExportMs = 0;
  private saving?: Promise<void>;
  /** The running watch: its next poll, a timeout (between polls) or an immediate (between slices). */
  private watching?: { next?: { timeout: NodeJS.Timeout } | { immediate: NodeJS.Immediate } };
  private readonly changeEmitter = new Emitter<StoreChange>();
  /** Fired after a catch-up that created or changed sessions or calls. */
  readonly onDidChange: Event<StoreChange> = this.changeEmitter.event;
  private readonly resolvers: RowResolvers;

  /** @internal use openStore */
  constructor(
    readonly layout: StoreLayout,
    private readonly SQL: SqlJsStatic,
    db: IndexDb,
    opts: { readOnly: boolean; lock?: IndexLock; wantsLock: boolean; warnings: string[]; rebuiltReason?: string; hadImage: boolean },
  ) {
    this.root = layout.root;
    this.db = db;
    this.readOnly = opts.readOnly;
    this.lock = opts.lock;
    this.wantsLock = opts.wantsLock;
    this.warnings = opts.warnings;
    this.loadedImage = opts.hadImage;
    if (opts.rebuiltReason) this.pendingRebuild = opts.rebuiltReason;
    if (!opts.hadImage) this.dirty = true;
    this.resolvers = {
      sessionIdOf: (sid) => this.sessionsBySid.get(sid)?.session_id ?? '',
      segmentFile: (id) => this.segById.get(id)?.file,
      segmentIdOf: (file) => this.segIdByFile.get(file),
    };
    this.loadRuntime();
  }

  get holdsIndexLock(): boolean {
    return !!this.lock?.isHeld;
  }

  /** Who writes the index when this process does not. */
  get indexLockHolder(): LockOwner | undefined {
    return this.lock ? this.lock.owner : IndexLock.holder(this.layout.lockFile);
  }

  /** Changes not yet in the saved image. */
  get isDirty(): boolean {
    return this.dirty;
  }

  // ---------------------------------------------------------------------------------------------
  // Catch-up

  /** Reads what is new in the journal into the index. Cheap when nothing is: a directory listing and a stat per open segment. */
  catchUp(options: CatchUpOptions = {}): CatchUpResult {
    this.assertOpen();
    if (this.catchingUp) return { records: 0, bytes: 0, calls: 0, sessions: [], problems: [] };
    this.catchingUp = true;
    // Reading stops at half the budget: writing what was read to the index costs about as much again.
    const acc = new Acc(this.changeEmitter.hasListeners, options.budgetMs === undefined ? undefined : performance.now() + options.budgetMs / 2);
    try {
      if (this.pendingRebuild) {
        this.rebuild(this.pendingRebuild, acc);
        this.pendingRebuild = undefined;
      }
      this.catchUpInner(acc, 0);
      this.flush(acc);
    } catch (err) {
      this.db.rollback();
      // Memory may be ahead of the index now: start again from what the index holds.
      this.loadRuntime();
      throw err;
    } finally {
      this.catchingUp = false;
    }
    const result: CatchUpResult = {
      records: acc.records,
      bytes: acc.bytes,
      calls: acc.callCount,
      sessions: [...acc.sessions],
      problems: acc.problems,
      ...(acc.rebuilt ? { rebuilt: acc.rebuilt } : {}),
      ...(acc.stopped ? { more: true as const } : {}),
    };
    if ((acc.callCount || acc.sessions.size || acc.rebuilt) && this.changeEmitter.hasListeners) {
      this.changeEmitter.fire({ sessions: result.sessions, calls: [...acc.calls.values()], rebuilt: !!acc.rebuilt });
    }
    return result;
  }

  private catchUpInner(acc: Acc, depth: number): void {
    const files = listSegments(this.layout);
    const onDisk = new Set(files.map((f) => path.basename(f)));
    for (const seg of this.segments.values()) {
      if (!onDisk.has(seg.name)) return this.restart(`segment ${seg.name} disappeared from the journal`, acc, depth);
    }
    const newest = new Map<string, number>();
    const ordered: SegRuntime[] = [];
    for (const file of files) {
      const name = path.basename(file);
      let seg = this.segments.get(name);
      if (!seg) seg = this.addSegment(name, file);
      ordered.push(seg);
      newest.set(seg.writer_id, Math.max(newest.get(seg.writer_id) ?? -1, seg.segment_no));
    }
    // A writer's records must be read in its own order; names sort wrongly past segment 9999.
    ordered.sort((a, b) => (a.writer_id < b.writer_id ? -1 : a.writer_id > b.writer_id ? 1 : a.segment_no - b.segment_no));
    for (const seg of ordered) {
      if (seg.complete) continue;
      let size: number;
      try {
        size = fs.statSync(seg.file).size;
      } catch {
        continue; // removed since the listing: handled by the next catch-up
      }
      if (size < seg.read_offset) return this.restart(`segment ${seg.name} shrank below what was indexed`, acc, depth);
      if (size > seg.read_offset) this.readNew(seg, size, acc);
      // Out of time: the rest of this segment (and the others) is the next slice's.
      if (acc.stopped) return;
      const isNewest = newest.get(seg.writer_id) === seg.segment_no;
      if (seg.read_offset < size) {
        if (this.writerFinished(seg, isNewest)) this.reportTornTail(seg, size, acc);
      } else if (!isNewest || this.writerAlive(seg) === false) {
        seg.complete = true;
      }
    }
  }

  private restart(reason: string, acc: Acc, depth: number): void {
    if (depth > 0) throw new Error(`index rebuild did not settle: ${reason}`);
    this.rebuild(reason, acc);
    this.catchUpInner(acc, depth + 1);
  }

  private readNew(seg: SegRuntime, size: number, acc: Acc): void {
    const from = seg.read_offset;
    const pos = { next: from };
    let flushedAt = from;
    this.db.begin();
    // A budgeted slice reads smaller chunks: what it does not get to is read again by the next one.
    const chunk = acc.deadline === undefined ? READ_CHUNK_BYTES : SLICE_READ_CHUNK_BYTES;
    for (const line of segmentLines(seg.file, from, size, pos, chunk)) {
      const parsed = parseLine(line);
      if (parsed.problem) this.problem(seg, line.offset, parsed.problem.kind, parsed.problem.detail, undefined, acc);
      else if (parsed.header) this.applyHeader(seg, parsed.header, line.offset, acc);
      else if (!parsed.checkpoint) this.ingest(seg, parsed.value, line, acc);
      seg.read_offset = pos.next;
      if (pos.next - flushedAt >= FLUSH_EVERY_BYTES) {
        seg.dirty = true;
        this.flush(acc);
        flushedAt = pos.next;
        this.db.begin();
      }
      if (acc.deadline !== undefined && performance.now() >= acc.deadline && pos.next < size) {
        acc.stopped = true;
        break;
      }
    }
    acc.bytes += pos.next - from;
    seg.read_offset = pos.next;
    if (pos.next !== from) seg.dirty = true;
    this.flush(acc);
  }

  private applyHeader(seg: SegRuntime, header: SegmentHeader, offset: number, acc: Acc): void {
    if (typeof header.writer_id === 'string' && header.writer_id !== seg.writer_id) {
      seg.writer_id = header.writer_id;
      seg.dirty = true;
    }
    if (typeof header.version === 'number' && header.version > JOURNAL_VERSION) {
      this.problem(seg, offset, 'unknown_version', `segment written in journal format v${header.version}; this version understands v${JOURNAL_VERSION}`, undefined, acc);
    }
  }

  private ingest(seg: SegRuntime, value: unknown, rr: RawLine, acc: Acc): void {
    if (!isRecordShaped(value)) {
      this.problem(seg, rr.offset, 'invalid_record', 'JSON line that is not a journal record (no type, session_id or seq)', undefined, acc);
      return;
    }
    const rec = value;
    acc.records++;
    seg.last_type = rec.type;
    seg.dirty = true;
    let s = this.sessionsById.get(rec.session_id);
    if (!s) s = this.addSession(rec.session_id, seg, rr.offset);
    else if (!s.live) this.revive(s, seg, rr.offset, acc);
    this.apply(s, rec, { file: seg.file, offset: rr.offset, length: rr.length }, seg, acc, false);
  }

  /** Re-assembles a session known to the index from its first record up to (not including) the given position. */
  private revive(s: SessRuntime, upTo: SegRuntime, upToOffset: number, acc: Acc): void {
    s.live = newLive();
    s.counts = zeroCounts();
    s.records = 0;
    delete s.ended_at;
    delete s.end_reason;
    const first = this.segById.get(s.first_segment);
    if (!first) return;
    const segs = [...this.segments.values()].filter((x) => x.writer_id === s.writer_id && x.segment_no >= first.segment_no && x.segment_no <= upTo.segment_no).sort((a, b) => a.segment_no - b.segment_no);
    for (const seg of segs) {
      const start = seg === first ? s.first_offset : 0;
      const end = seg === upTo ? upToOffset : seg.read_offset;
      if (end <= start) continue;
      const needle = this.soleSessionOfWriter(s) ? '' : sessionNeedle(s.session_id);
      for (const line of segmentLines(seg.file, start, end, { next: start })) {
        // Other sessions of the same writer are skipped without parsing them.
        if (!line.text.includes(needle)) continue;
        const rec = parseLine(line).value;
        if (!isRecordShaped(rec) || rec.session_id !== s.session_id) continue;
        this.apply(s, rec, { file: seg.file, offset: line.offset, length: line.length }, seg, acc, true);
      }
      // Keep memory bounded on huge sessions: write what was re-assembled so far.
      this.writePending(acc);
    }
  }

  private apply(s: SessRuntime, rec: JournalRecord, loc: JournalLocation, seg: SegRuntime, acc: Acc, replay: boolean): void {
    const live = (s.live ??= newLive());
    s.records++;
    s.last_ts = rec.ts;
    s.last_seq = rec.seq;
    if (seg.id !== s.last_segment && (this.segById.get(s.last_segment)?.segment_no ?? -1) < seg.segment_no) s.last_segment = seg.id;
    if (s.started_at === undefined) s.started_at = rec.ts;
    if (rec.type === 'session_start') {
      s.started_at = rec.ts;
      if (rec.recorder) {
        s.recorder = { ...rec.recorder };
        const w: WriterInfo = { pid: rec.recorder.pid, hostname: rec.recorder.hostname, started: rec.ts };
        this.writers.set(seg.writer_id, w);
        if (seg.pid === undefined) {
          seg.pid = w.pid;
          seg.hostname = w.hostname;
          seg.writer_started = rec.ts;
          seg.dirty = true;
        }
      }
      if (rec.replay_of) s.replay_of = rec.replay_of;
    } else if (rec.type === 'session_end') {
      s.ended_at = rec.ts;
      s.end_reason = rec.reason;
    }
    let touched: Call[] = [];
    try {
      touched = live.assembler.add(rec, loc);
    } catch (err) {
      if (!replay) this.problem(seg, loc.offset, 'assembly_error', `record could not be assembled: ${(err as Error).message}`, s.session_id, acc);
    }
    for (const call of touched) {
      const p = acc.pending.get(call);
      if (p) p.notify ||= !replay;
      else acc.pending.set(call, { s, notify: !replay });
      count(s.counts, live, call);
    }
    if (rec.type === 'alert' && !replay) {
      this.db.insertAlert(s.sid, rec);
      // The call the alert concerns changed for the views (its alert count), even if its row did not.
      if (rec.request_seq !== undefined) {
        const callId = `${rec.connection_id}:${rec.request_seq}`;
        acc.callCount++;
        if (acc.collectIds) acc.calls.set(`${s.session_id}\u0000${callId}`, { session_id: s.session_id, call_id: callId });
      }
    }
    const connectionId = (rec as { connection_id?: unknown }).connection_id;
    if (typeof connectionId === 'string') live.dirtyConnections.add(connectionId);
    const summary = eventSummary(rec);
    if (summary !== undefined && live.events < MAX_EVENTS_PER_SESSION) {
      live.events++;
      this.db.insertEvent(s.sid, rec.seq, rec.ts, rec.type, typeof connectionId === 'string' ? connectionId : undefined, summary, seg.id, loc.offset, loc.length);
    }
    acc.dirtySessions.add(s);
    if (!replay) acc.sessions.add(s.session_id);
  }

  private writePending(acc: Acc): void {
    if (!acc.pending.size) return;
    for (const [call, { s, notify }] of acc.pending) {
      this.db.upsertCall(s.sid, call, this.resolvers.segmentIdOf);
      if (notify) {
        acc.callCount++;
        if (acc.collectIds) acc.calls.set(`${s.session_id}\u0000${call.call_id}`, { session_id: s.session_id, call_id: call.call_id });
      }
      // A finished call never changes again: the assembler need not keep it once it is written.
      if (call.outcome !== 'pending') s.live?.assembler.calls.delete(call.call_id);
    }
    acc.pending.clear();
  }

  /** Writes everything touched since the last flush, and commits. */
  private flush(acc: Acc): void {
    this.db.begin();
    const changed = acc.pending.size > 0 || acc.dirtySessions.size > 0 || [...this.segments.values()].some((s) => s.dirty);
    this.writePending(acc);
    for (const s of acc.dirtySessions) {
      const live = s.live;
      if (live) {
        for (const id of live.dirtyConnections) {
          const info = live.assembler.connection(id);
          if (info) this.db.saveConnection(s.sid, info);
        }
        live.dirtyConnections.clear();
        // An ended session gets no more records: its assembler can go.
        if (s.ended_at !== undefined) delete s.live;
      }
      this.db.saveSession(s);
    }
    acc.dirtySessions.clear();
    for (const seg of this.segments.values()) {
      if (!seg.dirty) continue;
      this.db.saveSegment(seg);
      seg.dirty = false;
    }
    this.db.commit();
    if (changed) this.dirty = true;
  }

  private problem(seg: SegRuntime, offset: number, kind: ProblemKind, detail: string, sessionId: string | undefined, acc: Acc): void {
    const p: Omit<StoreProblem, 'file'> = { offset, kind, detail, found_at: new Date().toISOString(), ...(sessionId ? { session_id: sessionId } : {}) };
    if (this.db.insertProblem(seg.id, p)) {
      acc.problems.push({ file: seg.file, ...p });
      this.dirty = true;
    }
  }

  private reportTornTail(seg: SegRuntime, seenSize: number, acc: Acc): void {
    if (this.db.hasProblem(seg.id, seg.read_offset, 'torn_tail')) return;
    let size: number;
    try {
      size = fs.statSync(seg.file).size;
    } catch {
      return;
    }
    // Still growing: a writer is at work after all (a new session after a session_end); look again next time.
    if (size !== seenSize) return;
    this.db.begin();
    this.problem(seg, seg.read_offset, 'torn_tail', `${size - seg.read_offset} bytes without a closing newline at the end of a segment whose writer has finished (stopped mid-record); not indexed`, undefined, acc);
    this.db.commit();
  }

  /** A segment's writer is finished: it moved on to a newer segment, ended its session last, or its process is gone. */
  private writerFinished(seg: SegRuntime, isNewest: boolean): boolean {
    if (!isNewest) return true;
    if (seg.last_type === 'session_end') return true;
    return this.writerAlive(seg) === false;
  }

  /** Most writers record one session: then every line is the session's and the text filter is wasted work. */
  private soleSessionOfWriter(s: SessRuntime): boolean {
    for (const other of this.sessionsById.values()) if (other !== s && other.writer_id === s.writer_id) return false;
    return true;
  }

  private writerAlive(seg: SegRuntime): boolean | null {
    const w = this.writers.get(seg.writer_id);
    if (!w) return null;
    return isProcessAlive(w.pid, w.hostname, w.started ? Date.parse(w.started) : undefined);
  }

  private addSegment(name: string, file: string): SegRuntime {
    const { writerId, segmentNo } = parseSegmentName(name);
    const seg: SegRuntime = { id: this.nextSegId++, name, file, writer_id: writerId, segment_no: segmentNo, read_offset: 0, dirty: true, complete: false };
    this.segments.set(name, seg);
    this.segById.set(seg.id, seg);
    this.segIdByFile.set(file, seg.id);
    return seg;
  }

  private addSession(sessionId: string, seg: SegRuntime, offset: number): SessRuntime {
    const s: SessRuntime = { sid: this.nextSid++, session_id: sessionId, writer_id: seg.writer_id, first_segment: seg.id, first_offset: offset, last_segment: seg.id, records: 0, counts: zeroCounts(), live: newLive() };
    this.sessionsById.set(sessionId, s);
    this.sessionsBySid.set(s.sid, s);
    return s;
  }

  /** Throws the index away and starts again from an empty one (the journal is read from the start). */
  private rebuild(reason: string, acc: Acc): void {
    this.db.rollback();
    this.db.close();
    this.db = IndexDb.create(this.SQL);
    this.loadRuntime();
    this.dirty = true;
    acc.rebuilt = reason;
    acc.deadline = undefined;
  }

  /** Mirrors the index's segments and sessions in memory; assemblers start empty (sessions revive on demand). */
  private loadRuntime(): void {
    this.segments.clear();
    this.segById.clear();
    this.segIdByFile.clear();
    this.sessionsById.clear();
    this.sessionsBySid.clear();
    this.writers.clear();
    this.nextSegId = 1;
    this.nextSid = 1;
    for (const st of this.db.loadSegments()) {
      const file = path.join(this.layout.journalDir, st.name);
      const seg: SegRuntime = { ...st, file, dirty: false, complete: false };
      this.segments.set(seg.name, seg);
      this.segById.set(seg.id, seg);
      this.segIdByFile.set(file, seg.id);
      this.nextSegId = Math.max(this.nextSegId, seg.id + 1);
      if (seg.pid !== undefined && seg.hostname !== undefined) {
        const known = this.writers.get(seg.writer_id);
        if (!known || (seg.writer_started ?? '') < (known.started ?? '')) this.writers.set(seg.writer_id, { pid: seg.pid, hostname: seg.hostname, ...(seg.writer_started ? { started: seg.writer_started } : {}) });
      }
    }
    for (const st of this.db.loadSessions()) {
      const s: SessRuntime = { ...st };
      this.sessionsById.set(s.session_id, s);
      this.sessionsBySid.set(s.sid, s);
      this.nextSid = Math.max(this.nextSid, s.sid + 1);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Queries

  /** Sessions, newest first. */
  sessions(): SessionRow[] {
    this.assertOpen();
    const servers = this.db.serversBySession();
    const alive = new Map<string, boolean | null>();
    return [...this.sessionsById.values()]
      .map((s) => this.sessionRow(s, servers.get(s.sid) ?? [], alive))
      .sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.session_id < b.session_id ? 1 : a.session_id > b.session_id ? -1 : 0));
  }

  session(sessionId: string): SessionRow | undefined {
    this.assertOpen();
    const s = this.sessionsById.get(sessionId);
    if (!s) return undefined;
    return this.sessionRow(s, this.db.serversBySession().get(s.sid) ?? [], new Map());
  }

  latestSessionId(): string | undefined {
    let best: SessRuntime | undefined;
    for (const s of this.sessionsById.values()) {
      if (!best || (s.started_at ?? '') > (best.started_at ?? '') || ((s.started_at ?? '') === (best.started_at ?? '') && s.sid > best.sid)) best = s;
    }
    return best?.session_id;
  }

  private sessionRow(s: SessRuntime, servers: string[], aliveCache: Map<string, boolean | null>): SessionRow {
    let writerAlive: boolean | null = null;
    if (s.recorder) {
      const key = `${s.recorder.hostname}\u0000${s.recorder.pid}\u0000${s.started_at ?? ''}`;
      const cached = aliveCache.get(key);
      if (cached !== undefined) writerAlive = cached;
      else {
        writerAlive = isProcessAlive(s.recorder.pid, s.recorder.hostname, s.started_at ? Date.parse(s.started_at) : undefined);
        aliveCache.set(key, writerAlive);
      }
    } else {
      const w = this.writers.get(s.writer_id);
      if (w) writerAlive = isProcessAlive(w.pid, w.hostname, w.started ? Date.parse(w.started) : undefined);
    }
    return {
      session_id: s.session_id,
      started_at: s.started_at ?? '',
      ...(s.ended_at !== undefined ? { ended_at: s.ended_at } : {}),
      ...(s.end_reason !== undefined ? { end_reason: s.end_reason } : {}),
      ended: s.ended_at !== undefined,
      writer_alive: writerAlive,
      ...(s.last_ts !== undefined ? { last_activity: s.last_ts } : {}),
      recorder_kind: s.recorder?.kind ?? 'unknown',
      ...(s.recorder ? { recorder: { ...s.recorder } } : {}),
      ...(s.replay_of ? { replay_of: { ...s.replay_of } } : {}),
      servers,
      records: s.records,
      ...s.counts,
      writer_id: s.writer_id,
    };
  }

  connections(sessionId?: string): ConnectionRow[] {
    this.assertOpen();
    if (sessionId === undefined) return this.db.connections(undefined, this.resolvers.sessionIdOf);
    const s = this.sessionsById.get(sessionId);
    return s ? this.db.connections(s.sid, this.resolvers.sessionIdOf) : [];
  }

  servers(): ServerRow[] {
    this.assertOpen();
    return this.db.serverStats();
  }

  calls(filter: CallFilter = {}): CallRow[] {
    this.assertOpen();
    let sid: number | undefined;
    if (filter.sessionId !== undefined) {
      sid = this.sessionsById.get(filter.sessionId)?.sid;
      if (sid === undefined) return [];
    }
    return this.db.calls(
      {
        ...baseQuery(filter, sid),
        limit: Math.max(0, filter.limit ?? DEFAULT_CALL_LIMIT),
        offset: Math.max(0, filter.offset ?? 0),
        order: filter.order ?? (sid !== undefined ? 'asc' : 'desc'),
      },
      this.resolvers,
    );
  }

  countCalls(filter: Omit<CallFilter, 'limit' | 'offset' | 'order'> = {}): number {
    this.assertOpen();
    let sid: number | undefined;
    if (filter.sessionId !== undefined) {
      sid = this.sessionsById.get(filter.sessionId)?.sid;
      if (sid === undefined) return 0;
    }
    return this.db.countCalls(baseQuery(filter, sid));
  }

  call(sessionId: string, callId: string): CallRow | undefined {
    this.assertOpen();
    const s = this.sessionsById.get(sessionId);
    return s ? this.db.call(s.sid, callId, this.resolvers) : undefined;
  }

  /** Calls of one session by id, in a few index queries (a live batch); ids not found are left out. */
  callsOf(sessionId: string, callIds: readonly string[]): Map<string, CallRow> {
    this.assertOpen();
    const s = this.sessionsById.get(sessionId);
    return s ? this.db.callsOf(s.sid, callIds, this.resolvers) : new Map();
  }

  /** Non-call records worth showing (process exits, timeouts, gate decisions, transport errors, non-JSON frames…). */
  events(sessionId: string): EventRow[] {
    this.assertOpen();
    const s = this.sessionsById.get(sessionId);
    return s ? this.db.events(s.sid, this.resolvers) : [];
  }

  /** Every problem found in the journal so far. */
  problems(): StoreProblem[] {
    this.assertOpen();
    return this.db.problems(this.resolvers);
  }

  /** Security alerts (of one session, or of all), in the order they were indexed. */
  alerts(sessionId?: string): AlertRow[] {
    this.assertOpen();
    if (sessionId === undefined) return this.db.alerts(undefined, this.resolvers.sessionIdOf);
    const s = this.sessionsById.get(sessionId);
    return s ? this.db.alerts(s.sid, this.resolvers.sessionIdOf) : [];
  }

  /** A record read back from the journal (request and response bodies are not in the index). */
  readBody(location: JournalLocation): JournalRecord {
    const file = path.isAbsolute(location.file) ? location.file : path.join(this.layout.journalDir, location.file);
    return readRecordAt(file, location.offset, location.length);
  }

  /** A call's request and response records, from the journal. */
  callBodies(call: Pick<CallRow, 'request_location' | 'response_location'>): { request?: JournalRecord; response?: JournalRecord } {
    return {
      ...(call.request_location ? { request: this.readBody(call.request_location) } : {}),
      ...(call.response_location ? { response: this.readBody(call.response_location) } : {}),
    };
  }

  /**
   * The session's records in journal order, streamed from its own segments in large sequential
   * reads. Damaged lines are skipped here (catchUp reports them); pass `onProblem` to see them.
   */
  *readSessionRecords(sessionId: string, options: { onProblem?: (p: StoreProblem) => void } = {}): Generator<SessionRecord> {
    this.assertOpen();
    const s = this.sessionsById.get(sessionId);
    if (!s) return;
    const first = this.segById.get(s.first_segment);
    if (!first) return;
    const ended = s.ended_at !== undefined;
    const lastNo = ended ? (this.segById.get(s.last_segment)?.segment_no ?? first.segment_no) : Infinity;
    // List the journal again: a live session may have rotated into a segment not indexed yet.
    const prefix = `${s.writer_id}-`;
    const segs = listSegments(this.layout)
      .map((file) => ({ file, ...parseSegmentName(path.basename(file)) }))
      .filter((x) => path.basename(x.file).startsWith(prefix) && x.writerId === s.writer_id && x.segmentNo >= first.segment_no && x.segmentNo <= lastNo)
      .sort((a, b) => a.segmentNo - b.segmentNo);
    const needle = this.soleSessionOfWriter(s) ? '' : sessionNeedle(sessionId);
    for (const seg of segs) {
      const from = seg.segmentNo === first.segment_no ? s.first_offset : 0;
      for (const line of segmentLines(seg.file, from, Infinity, { next: from })) {
        // Lines of other sessions sharing the writer are skipped without parsing them.
        if (!line.text.includes(needle)) continue;
        const parsed = parseLine(line);
        if (parsed.problem) {
          options.onProblem?.({ file: seg.file, offset: line.offset, kind: parsed.problem.kind, detail: parsed.problem.detail, found_at: new Date().toISOString() });
          continue;
        }
        const rec = parsed.value;
        if (!isRecordShaped(rec) || rec.session_id !== sessionId) continue;
        yield { record: rec, location: { file: seg.file, offset: line.offset, length: line.length }, text: 'text' in parsed ? parsed.text : line.text };
        if (rec.type === 'session_end') return;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Saving, watching, closing

  /**
   * Saves the index image atomically (temporary file, fsync, rename) when this process holds the
   * index lock and something changed. Returns whether it wrote.
   */
  save(): boolean {
    this.assertOpen();
    if (!this.mayWriteImage()) return false;
    const bytes = this.exportImage();
    // Newer than any image a background save is still writing: that one must not be renamed over this.
    this.saveGen++;
    writeFileAtomic(this.layout.indexFile, bytes);
    this.dirty = false;
    this.lastSave = Date.now();
    return true;
  }

  /**
   * The watcher's save: the image is taken now (sql.js's export, on the event loop), and written,
   * fsync'ed and renamed into place off it. One at a time; the rename happens only if no newer
   * save happened meanwhile and this process still holds the lock, so the image on disk is always
   * a whole one and never an older one than a save that completed.
   */
  private saveInBackground(): void {
    if (this.saving || !this.mayWriteImage()) return;
    const bytes = this.exportImage();
    const gen = ++this.saveGen;
    this.dirty = false;
    const started = Date.now();
    this.saving = writeFileAtomicAsync(this.layout.indexFile, bytes, () => gen === this.saveGen && !this.closed && !!this.lock?.verify())
      .then((written) => {
        if (written) this.lastSave = started;
        else if (gen === this.saveGen && !this.closed) this.dirty = true;
      })
      .catch((err: unknown) => {
        // Nothing is lost (the journal has it all); the next watcher tick tries again.
        if (gen === this.saveGen) this.dirty = true;
        console.error('mcp-flight: saving the index failed:', err);
      })
      .finally(() => {
        this.saving = undefined;
      });
  }

  /** Resolves when no background save is in flight (tests, and callers that want the image on disk). */
  async flushSaves(): Promise<void> {
    while (this.saving) await this.saving;
  }

  private mayWriteImage(): boolean {
    if (!this.lock || this.readOnly || !this.dirty) return false;
    if (!this.lock.verify()) {
      // Someone judged our lock stale and took it: from now on the index is theirs to write.
      this.lock = undefined;
      this.warnings.push('the index lock was taken over by another process; this process keeps its index in memory only.');
      return false;
    }
    return true;
  }

  private exportImage(): Uint8Array {
    this.db.setMeta('saved_at', new Date().toISOString());
    const t0 = performance.now();
    const bytes = this.db.export();
    this.lastExportMs = performance.now() - t0;
    return bytes;
  }

  /**
   * Polls the journal for live views: a catch-up every `intervalMs` (fs.watch is unreliable on
   * network and container mounts; an idle catch-up is a listing and a few stats). The work is cut
   * in slices of `sliceMs` that yield to the event loop in between (a burst of journal never
   * blocks the host for long), and the next poll is `intervalMs` after the journal's end is reached.
   *
   * The lock holder saves the image in the background (see saveInBackground) once no record came
   * for `idleSaveMs` (saves spaced by at least 100 × the last export's time), and, while recording
   * never pauses, every `autoSaveMs`. The image may so lag the journal by up to `autoSaveMs`: a
   * crash then costs a longer catch-up on the next open (the index is derived from the journal),
   * never a record. A process that wanted the lock retries taking it.
   */
  watch(intervalMs = 500, options: { autoSaveMs?: number; idleSaveMs?: number; sliceMs?: number } = {}): Disposable {
    this.assertOpen();
    this.stopWatch();
    const autoSaveMs = options.autoSaveMs ?? DEFAULT_AUTOSAVE_MS;
    const idleSaveMs = options.idleSaveMs ?? DEFAULT_IDLE_SAVE_MS;
    const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
    const watching: NonNullable<Store['watching']> = {};
    this.watching = watching;
    const schedule = (delayMs: number): void => {
      watching.next = delayMs > 0 ? { timeout: setTimeout(poll, delayMs).unref() } : { immediate: setImmediate(poll).unref() };
    };
    let lastActivity = 0;
    const poll = (): void => {
      watching.next = undefined;
      if (this.closed || this.watching !== watching) return;
      let more = false;
      try {
        if (this.wantsLock && !this.lock) {
          const attempt = IndexLock.tryAcquire(this.layout.lockFile);
          if (attempt.acquired) {
            this.lock = attempt.lock;
            removeTempImages(this.layout);
            this.dirty = true;
          }
        }
        const r = this.catchUp({ budgetMs: sliceMs });
        more = !!r.more;
        const now = Date.now();
        if (r.records > 0 || r.rebuilt) lastActivity = now;
        if (this.lock && this.dirty) {
          const sinceSave = now - this.lastSave;
          // The export blocks the event loop for a time that grows with the index: between idle
          // saves, at least EXPORT_DUTY_FACTOR times as long as the last one took.
          const idleGap = Math.max(idleSaveMs, this.lastExportMs * EXPORT_DUTY_FACTOR);
          if (sinceSave >= autoSaveMs || (!more && now - lastActivity >= idleSaveMs && sinceSave >= idleGap)) this.saveInBackground();
        }
      } catch (err) {
        // stderr, never stdout: a stdio recorder's stdout carries protocol bytes only.
        console.error('mcp-flight: store catch-up failed:', err);
      }
      if (this.watching === watching && !this.closed) schedule(more ? 0 : intervalMs);
    };
    schedule(intervalMs);
    return { dispose: () => this.stopWatch(watching) };
  }

  private stopWatch(watching?: Store['watching']): void {
    const w = this.watching;
    if (!w || (watching && watching !== w)) return;
    if (w.next && 'timeout' in w.next) clearTimeout(w.next.timeout);
    else if (w.next) clearImmediate(w.next.immediate);
    this.watching = undefined;
  }

  /** Saves (when holding the lock), releases the lock and frees the index. */
  close(): void {
    if (this.closed) return;
    this.stopWatch();
    try {
      // A background save not yet renamed is superseded by this one (it then drops its temporary file).
      if (this.saving) this.dirty = true;
      if (this.lock) this.save();
    } finally {
      this.closed = true;
      this.lock?.release();
      this.lock = undefined;
      this.db.close();
      this.changeEmitter.dispose();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('store is closed');
  }
}

// -------------------------------------------------------------------------------------------------

function newLive(): LiveSession {
  return { assembler: new CallAssembler({ keepBodies: false }), counted: new WeakMap(), dirtyConnections: new Set(), events: 0 };
}

function zeroCounts(): SessionCounts {
  return { calls: 0, tool_calls: 0, successful: 0, failed: 0, cancelled: 0, pending: 0, repaired: 0 };
}

function bucket(o: Outcome): 'successful' | 'failed' | 'cancelled' | 'pending' {
  return o === 'success' ? 'successful' : o === 'pending' ? 'pending' : o === 'cancelled' ? 'cancelled' : 'failed';
}

/** Counts a touched call once, and moves it between outcome buckets when its outcome changes. */
function count(k: SessionCounts, live: LiveSession, call: Call): void {
  const prev = live.counted.get(call);
  if (prev === call.outcome) return;
  const isTool = call.method === 'tools/call';
  if (prev === undefined) {
    k.calls++;
    if (isTool) k.tool_calls++;
  }
  if (isTool) {
    if (prev !== undefined) k[bucket(prev)]--;
    k[bucket(call.outcome)]++;
    // A call's outcome is final once it leaves pending: its repairs are counted once.
    k.repaired += failuresRepairedBy(call);
  }
  live.counted.set(call, call.outcome);
}

function baseQuery(filter: CallFilter, sid: number | undefined): { sid?: number; server?: string; tool?: string; method?: string; direction?: Direction; outcomes?: Outcome[]; text?: string } {
  return {
    ...(sid !== undefined ? { sid } : {}),
    ...(filter.server !== undefined ? { server: filter.server } : {}),
    ...(filter.tool !== undefined ? { tool: filter.tool } : {}),
    ...(filter.method !== undefined ? { method: filter.method } : {}),
    ...(filter.direction !== undefined ? { direction: filter.direction } : {}),
    ...(filter.outcome !== undefined ? { outcomes: Array.isArray(filter.outcome) ? filter.outcome : [filter.outcome] } : {}),
    ...(filter.text ? { text: filter.text } : {}),
  };
}

function isRecordShaped(v: unknown): v is JournalRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as { type?: unknown; session_id?: unknown; seq?: unknown };
  return typeof r.type === 'string' && typeof r.session_id === 'string' && typeof r.seq === 'number';
}

/** `<writer id>-<NNNN>.jsonl`, as JournalWriter names them. */
function parseSegmentName(name: string): { writerId: string; segmentNo: number } {
  const m = /^(.*)-(\d+)\.jsonl$/.exec(name);
  if (!m) return { writerId: name, segmentNo: 0 };
  return { writerId: m[1] ?? name, segmentNo: Number(m[2]) };
}

interface RawLine {
  offset: number;
  /** Bytes, with the newline. */
  length: number;
  /** The record's text: the line without its chain members (as stripChain gives it). */
  text: string;
}

/**
 * The complete lines of a segment in [from, end), streamed from large sequential reads. An
 * incomplete last line is not yielded (a writer may be finishing it); `pos.next` is always the
 * offset just after the last line yielded. Lines are handed out one at a time so that what the
 * consumer does not keep dies young — accumulating a window of parsed records made the garbage
 * collector the largest cost of reading a big session.
 */
function* segmentLines(file: string, from: number, end: number, pos: { next: number }, chunkBytes = READ_CHUNK_BYTES): Generator<RawLine> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return;
  }
  try {
    const stop = Math.min(end, fs.fstatSync(fd).size);
    let buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(64 * 1024, stop - from)));
    let filled = 0;
    let bufOffset = from;
    let readPos = from;
    pos.next = from;
    while (readPos < stop) {
      if (filled === buf.length) {
        // A line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, filled, Math.min(buf.length - filled, stop - readPos), readPos);
      if (n <= 0) break;
      readPos += n;
      filled += n;
      const view = buf.subarray(0, filled);
      let start = 0;
      for (let nl = view.indexOf(0x0a, start); nl !== -1; nl = view.indexOf(0x0a, start)) {
        // The chain members are skipped while decoding (the record's `{` written over the prefix's
        // last byte): decoding the whole line and cutting the prefix off would copy every line twice.
        const skip = chainPrefixSkip(view, start, nl);
        if (skip) view[start + skip] = 0x7b;
        const line: RawLine = { offset: bufOffset + start, length: nl - start + 1, text: view.toString('utf8', start + skip, nl) };
        start = nl + 1;
        pos.next = bufOffset + start;
        yield line;
      }
      if (start > 0) {
        buf.copy(buf, 0, start, filled);
        filled -= start;
        bufOffset += start;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

type ParsedLine =
  | { value: unknown; text: string; header?: undefined; problem?: undefined; checkpoint?: undefined }
  | { header: SegmentHeader; value?: undefined; problem?: undefined; checkpoint?: undefined }
  | { checkpoint: true; value?: undefined; header?: undefined; problem?: undefined }
  | { problem: { kind: ProblemKind; detail: string }; value?: undefined; header?: undefined; checkpoint?: undefined };

/**
 * Same reading of a line as journal.ts's readSegment: JSON or a reported problem, never silently
 * dropped. The audit trail's chain members are stripped and its checkpoints skipped: the index
 * is about sessions; `mcp-flight verify` checks the trail.
 */
function parseLine(line: RawLine): ParsedLine {
  let value: unknown;
  const text = line.text;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: { kind: 'corrupt_line', detail: `not JSON: ${(err as Error).message}` } };
  }
  const type = (value as { type?: unknown } | null)?.type;
  if (type === 'segment') return { header: value as SegmentHeader };
  if (type === 'checkpoint') return { checkpoint: true };
  return { value, text };
}

/**
 * Text every line of the session contains, to skip other sessions' lines without parsing them:
 * the id itself, as JSON writes it (a line of another session that merely mentions it is parsed
 * and then rejected). Empty — no filtering — for an id JSON would escape.
 */
function sessionNeedle(sessionId: string): string {
  return JSON.stringify(sessionId) === `"${sessionId}"` ? sessionId : '';
}

/** A one-line description of a non-call record worth listing; undefined for records that are not events. */
function eventSummary(r: JournalRecord): string | undefined {
  switch (r.type) {
    case 'process_spawn':
      return `process ${r.pid} started`;
    case 'process_exit':
      return r.signal ? `process exited on ${r.signal}` : `process exited with code ${r.code}`;
    case 'spawn_error':
      return `could not start: ${r.code}: ${r.message}`;
    case 'transport_error':
      return `${r.side} transport error${r.http_status !== undefined ? ` (HTTP ${r.http_status})` : ''}: ${r.message}`;
    case 'timeout':
      return `no answer to request ${JSON.stringify(r.request_id)} after ${r.after_ms} ms`;
    case 'gate_decision':
      return `${r.decision} request ${JSON.stringify(r.request_id)}${r.reason ? `: ${r.reason}` : ''} (held ${r.held_ms} ms)`;
    case 'non_json':
      return `${r.reason} frame, ${r.size} bytes${r.text !== undefined ? `: ${r.text}` : ''}`;
    case 'opaque':
      return `${r.envelope?.method ?? r.envelope?.kind ?? 'message'} kept opaque (${r.reason}, ${r.size} bytes)`;
    case 'http_exchange':
      return r.status >= 400 ? `${r.method} ${r.path} → HTTP ${r.status}` : undefined;
    case 'connection_close':
      return `connection closed: ${r.reason}`;
    case 'otlp_push':
      return r.status === 'failing' ? `OTLP push to ${r.endpoint} failing${r.error ? `: ${r.error}` : ''} (retrying)` : r.status === 'dropped' ? `OTLP push dropped ${r.dropped_spans ?? 0} spans (${r.total_dropped} in all)${r.error ? `: ${r.error}` : ''}` : `OTLP push to ${r.endpoint} delivering again`;
    case 'policy':
      return `policy ${r.status}: ${r.path ?? r.source} (sha256 ${r.sha256.slice(0, 12)})${r.reason ? `: ${r.reason}` : ''}`;
    case 'spend':
      return r.event === 'warning' ? `spend warning: $${r.spent_usd} of the $${r.limit_usd} limit (80 %)` : `spend limit of $${r.limit_usd} reached: metered calls are refused`;
    case 'alert':
      return `${r.severity} alert ${r.alert_id} (${r.alert_kind}): ${r.title}`;
    case 'side_effect':
      return `${r.effect.replace('_', ' ')}${r.directory ? ' (folder)' : ''}: ${r.path}`;
    case 'credentials':
      return `credentials ${r.set_id}: ${r.mode}${r.entries.length ? ` (${r.entries.map((e) => `${e.name} ${e.fingerprint}`).join(', ')})` : ''}`;
    default:
      return undefined;
  }
}

/** Where a save writes before its rename (removeTempImages knows the prefix). */
function tempNameFor(file: string): string {
  return `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

/** The atomic step of a save: the temporary file takes the image's name, or is removed. */
function renameOver(tmp: string, file: string): void {
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Temporary file, fsync, rename, fsync of the folder: a reader sees the old image or the new one, never part of one. */
function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const tmp = tempNameFor(file);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    let written = 0;
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  renameOver(tmp, file);
  try {
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch {
    // Not every platform can fsync a directory (Windows); the rename itself is still atomic.
  }
}

/**
 * writeFileAtomic with the write and the fsyncs on libuv's thread pool. The rename is synchronous
 * and follows `stillWanted()` in the same turn of the event loop, so no other save of this process
 * can rename between the check and the rename; when not wanted, the temporary file is removed.
 */
async function writeFileAtomicAsync(file: string, bytes: Uint8Array, stillWanted: () => boolean): Promise<boolean> {
  const tmp = tempNameFor(file);
  const fh = await fs.promises.open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  if (!stillWanted()) {
    await fs.promises.rm(tmp, { force: true });
    return false;
  }
  renameOver(tmp, file);
  try {
    const dir = await fs.promises.open(path.dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // As in writeFileAtomic: not every platform can fsync a directory.
  }
  return true;
}

/** Only the lock holder writes images, so any temporary image left when it takes the lock is from a crashed save. */
function removeTempImages(layout: StoreLayout): void {
  const base = `${path.basename(layout.indexFile)}.tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(layout.root);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(base)) fs.rmSync(path.join(layout.root, n), { force: true });
}
