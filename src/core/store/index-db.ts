import * as fs from 'node:fs';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';
import type { Call, CallCredentials, CallError, ConnectionInfo, JournalLocation, Outcome, SideEffect } from '../model/calls';
import type { AlertRecord, Direction, JsonRpcId, RecorderKind } from '../model/records';

/**
 * The sql.js index: a rebuildable cache of the journal for queries. It holds previews and
 * journal locations, never full payloads — bodies are read back from the journal on demand — so
 * the image stays small (well under 1 KB per call) and cheap to load and save.
 *
 * There are no migrations: when SCHEMA_VERSION differs from the one stored in an image, the image
 * is discarded and the index rebuilt from the journal, which is the only source of truth.
 */

/** Bump on any change to the tables below or to what the index derives from records. */
export const SCHEMA_VERSION = 3;

/** Longest text kept for an error message in the index (the journal has the whole of it). */
export const INDEX_TEXT_CHARS = 200;

const PAGE_SIZE = 8192;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- One row per journal segment: how far it has been indexed. read_offset is always a line boundary.
CREATE TABLE segments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  writer_id TEXT NOT NULL,
  segment_no INTEGER NOT NULL,
  read_offset INTEGER NOT NULL,
  last_type TEXT,
  pid INTEGER,
  hostname TEXT,
  writer_started TEXT
);

CREATE TABLE sessions (
  sid INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL UNIQUE,
  started_at TEXT,
  ended_at TEXT,
  end_reason TEXT,
  recorder_kind TEXT,
  recorder_version TEXT,
  pid INTEGER,
  hostname TEXT,
  user TEXT,
  replay_of TEXT,
  writer_id TEXT NOT NULL,
  first_segment INTEGER NOT NULL,
  first_offset INTEGER NOT NULL,
  last_segment INTEGER NOT NULL,
  last_ts TEXT,
  last_seq INTEGER,
  records INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  tool_calls INTEGER NOT NULL,
  successful INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  cancelled INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  -- Failed tool calls a successful agent retry repaired (retry_of chains).
  repaired INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE connections (
  sid INTEGER NOT NULL,
  connection_id TEXT NOT NULL,
  server TEXT NOT NULL,
  info TEXT NOT NULL,
  PRIMARY KEY (sid, connection_id)
) WITHOUT ROWID;
CREATE INDEX connections_server ON connections(server);

-- Names that repeat on every call (servers, tools, methods, agents, outcomes, error classes) are
-- stored once here and referenced by id: a call row and its index entries stay small.
CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);

-- method, tool, server, server_version, agent_id, outcome, error_class and recovery_action hold names(id).
CREATE TABLE calls (
  id INTEGER PRIMARY KEY,
  sid INTEGER NOT NULL,
  request_seq INTEGER NOT NULL,
  -- NULL when it is the usual '<connection_id>:<request_seq>'.
  call_id TEXT,
  connection_id TEXT NOT NULL,
  direction INTEGER NOT NULL,
  method INTEGER NOT NULL,
  tool INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  server INTEGER NOT NULL,
  server_version INTEGER,
  agent_id INTEGER,
  -- Times as epoch ms; the text only when the record's timestamp is not what toISOString gives back.
  ts_ms INTEGER,
  ts_text TEXT,
  end_ms INTEGER,
  end_text TEXT,
  duration_us INTEGER,
  outcome INTEGER NOT NULL,
  error_class INTEGER,
  error_code,
  error_message TEXT,
  error_flags INTEGER,
  recovery_action INTEGER,
  input_summary TEXT NOT NULL,
  output_summary TEXT,
  response_seq INTEGER,
  flags INTEGER NOT NULL,
  progress INTEGER NOT NULL,
  logs INTEGER NOT NULL,
  parent_call_id TEXT,
  nested TEXT,
  req_seg INTEGER,
  req_off INTEGER,
  req_len INTEGER,
  res_seg INTEGER,
  res_off INTEGER,
  res_len INTEGER,
  -- The call_id of the failed call this one retries (an agent retry), or NULL.
  retry_of TEXT,
  -- JSON of Call.side_effects (and side_effects_omitted) and Call.credentials; NULL when absent.
  side_effects TEXT,
  credentials TEXT
);
-- request_seq is unique within a session, so (sid, request_seq) is the call's key and its session order.
CREATE UNIQUE INDEX calls_key ON calls(sid, request_seq);
CREATE INDEX calls_time ON calls(ts_ms);
CREATE INDEX calls_server ON calls(server, ts_ms);
-- "Errors of server X" is the commonest filter: served exactly, in time order, without a sort.
CREATE INDEX calls_server_outcome ON calls(server, outcome, ts_ms);
CREATE INDEX calls_tool ON calls(tool, ts_ms);
CREATE INDEX calls_outcome ON calls(outcome, ts_ms);

-- Records that are not calls but matter when reading a session (crashes, timeouts, gate decisions…).
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  sid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts TEXT,
  type TEXT NOT NULL,
  connection_id TEXT,
  summary TEXT,
  seg INTEGER NOT NULL,
  off INTEGER NOT NULL,
  len INTEGER NOT NULL,
  UNIQUE (sid, seq)
);

-- Damage found in the journal: never silently skipped.
CREATE TABLE problems (
  id INTEGER PRIMARY KEY,
  seg INTEGER NOT NULL,
  off INTEGER NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  session_id TEXT,
  found_at TEXT NOT NULL,
  UNIQUE (seg, off, kind)
);

CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  sid INTEGER NOT NULL,
  call_id TEXT,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  ts TEXT,
  detail TEXT
);
CREATE INDEX alerts_session ON alerts(sid);
`;

// ---------------------------------------------------------------------------------------------
// Rows as the rest of the product sees them.

export interface CallRow {
  session_id: string;
  call_id: string;
  connection_id: string;
  direction: Direction;
  method: string;
  tool: string;
  request_id: JsonRpcId;
  server: string;
  server_version?: string;
  agent_id?: string;
  timestamp: string;
  ended_at?: string;
  duration_ms?: number;
  outcome: Outcome;
  /** The message is cut to INDEX_TEXT_CHARS; the response in the journal has all of it. */
  error?: CallError;
  input_summary: string;
  output_summary?: string;
  request_seq: number;
  response_seq?: number;
  answered_by_recorder: boolean;
  opaque?: Array<'request' | 'response'>;
  progress_count: number;
  log_count: number;
  cancelled: boolean;
  parent_call_id?: string;
  nested_call_ids: string[];
  /** The failed call this one retries (an agent retry). */
  retry_of?: string;
  request_location?: JournalLocation;
  response_location?: JournalLocation;
  side_effects?: SideEffect[];
  side_effects_omitted?: number;
  credentials?: CallCredentials;
}

export interface ConnectionRow {
  session_id: string;
  connection_id: string;
  server: string;
  info: ConnectionInfo;
}

export type ProblemKind = 'torn_tail' | 'corrupt_line' | 'unknown_version' | 'invalid_record' | 'assembly_error';

export interface StoreProblem {
  file: string;
  offset: number;
  kind: ProblemKind;
  detail: string;
  session_id?: string;
  found_at: string;
}

export interface EventRow {
  session_id: string;
  seq: number;
  ts?: string;
  type: string;
  connection_id?: string;
  summary: string;
  location: JournalLocation;
}

export interface AlertRow {
  session_id: string;
  call_id?: string;
  kind: string;
  severity: string;
  ts?: string;
  detail?: string;
  /** From the alert record (kept as JSON in the `detail` column, so the index schema stays as it was). */
  alert_id?: string;
  title?: string;
  server?: string;
  tool?: string;
  connection_id?: string;
  /** The alert record's journal seq. */
  seq?: number;
}

/** What the `detail` column holds for an alert record. */
interface AlertDetailColumn {
  v: 1;
  alert_id: string;
  title: string;
  detail: string;
  server: string;
  tool?: string;
  connection_id: string;
  seq: number;
}

/** What the store keeps per segment (mirrored in memory by the store). */
export interface SegmentState {
  id: number;
  name: string;
  writer_id: string;
  segment_no: number;
  read_offset: number;
  last_type?: string;
  pid?: number;
  hostname?: string;
  writer_started?: string;
}

export interface SessionCounts {
  calls: number;
  tool_calls: number;
  successful: number;
  failed: number;
  cancelled: number;
  pending: number;
  /** Failed tool calls repaired by a successful agent retry (they still count in `failed`). */
  repaired: number;
}

/** What the store keeps per session (mirrored in memory by the store). */
export interface SessionState {
  sid: number;
  session_id: string;
  started_at?: string;
  ended_at?: string;
  end_reason?: string;
  recorder?: { kind: RecorderKind | string; version: string; pid: number; hostname: string; user: string };
  replay_of?: { session_id: string; call_id: string };
  writer_id: string;
  first_segment: number;
  first_offset: number;
  last_segment: number;
  last_ts?: string;
  last_seq?: number;
  records: number;
  counts: SessionCounts;
}

/** A resolved calls query: the store turns names into ids before asking. */
export interface CallQuery {
  sid?: number;
  server?: string;
  tool?: string;
  method?: string;
  outcomes?: Outcome[];
  direction?: Direction;
  text?: string;
  limit: number;
  offset: number;
  order: 'asc' | 'desc';
}

export interface RowResolvers {
  sessionIdOf(sid: number): string;
  segmentFile(segId: number): string | undefined;
  segmentIdOf(file: string): number | undefined;
}

// ---------------------------------------------------------------------------------------------

const sqlJsByWasm = new Map<string, Promise<SqlJsStatic>>();

/** The wasm file: an explicit path, the one inside the sql.js package, or the one copied beside the bundle. */
export function resolveWasmPath(wasmPath?: string): string {
  if (wasmPath) return wasmPath;
  try {
    return require.resolve('sql.js/dist/sql-wasm.wasm');
  } catch {
    // Bundled without node_modules: esbuild's build copies the wasm beside the bundle.
    return path.join(typeof __dirname === 'string' ? __dirname : process.cwd(), 'sql-wasm.wasm');
  }
}

/** One sql.js instance per wasm file and process: each instance owns a wasm heap that never shrinks. */
export function loadSqlJs(wasmPath?: string): Promise<SqlJsStatic> {
  const file = resolveWasmPath(wasmPath);
  let p = sqlJsByWasm.get(file);
  if (!p) {
    // Given the bytes, sql.js never goes looking for the file beside its own script.
    p = Promise.resolve().then(() => {
      const bytes = fs.readFileSync(file);
      return initSqlJs({ wasmBinary: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    });
    p.catch(() => sqlJsByWasm.delete(file));
    sqlJsByWasm.set(file, p);
  }
  return p;
}

export class IndexImageError extends Error {}

const CALL_COLUMNS = [
  'sid',
  'request_seq',
  'call_id',
  'connection_id',
  'direction',
  'method',
  'tool',
  'request_id',
  'server',
  'server_version',
  'agent_id',
  'ts_ms',
  'ts_text',
  'end_ms',
  'end_text',
  'duration_us',
  'outcome',
  'error_class',
  'error_code',
  'error_message',
  'error_flags',
  'recovery_action',
  'input_summary',
  'output_summary',
  'response_seq',
  'flags',
  'progress',
  'logs',
  'parent_call_id',
  'nested',
  'req_seg',
  'req_off',
  'req_len',
  'res_seg',
  'res_off',
  'res_len',
  'retry_of',
  'side_effects',
  'credentials',
] as const;
type CallColumn = (typeof CALL_COLUMNS)[number];
const COL = Object.fromEntries(CALL_COLUMNS.map((c, i) => [c, i])) as Record<CallColumn, number>;

/** Long texts are bound as UTF-8 bytes and cast back to TEXT: sql.js encodes string parameters with a JavaScript loop, several times slower than Buffer.from. */
const BYTES_AS_TEXT = new Set<CallColumn>(['input_summary', 'output_summary', 'error_message']);

const UPSERT_CALL =
  `INSERT INTO calls (${CALL_COLUMNS.join(', ')}) VALUES (${CALL_COLUMNS.map((c) => (BYTES_AS_TEXT.has(c) ? 'CAST(? AS TEXT)' : '?')).join(', ')}) ` +
  `ON CONFLICT (sid, request_seq) DO UPDATE SET ${CALL_COLUMNS.filter((c) => c !== 'sid' && c !== 'request_seq')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`;
const SELECT_CALL = `SELECT ${CALL_COLUMNS.join(', ')} FROM calls`;

const FLAG_BY_RECORDER = 1;
const FLAG_OPAQUE_REQUEST = 2;
const FLAG_OPAQUE_RESPONSE = 4;
const FLAG_CANCELLED = 8;

/** Epoch ms, and the text only when the ms do not give it back exactly. */
function timeParts(ts: string | undefined): [number | null, string | null] {
  if (ts === undefined) return [null, null];
  const fast = canonicalIsoMs(ts);
  if (fast !== undefined) return [fast, null];
  const ms = Date.parse(ts);
  if (!Number.isFinite(ms)) return [null, ts];
  return new Date(ms).toISOString() === ts ? [ms, null] : [ms, ts];
}

/**
 * Epoch ms of a timestamp exactly as toISOString writes it (`YYYY-MM-DDTHH:mm:ss.sssZ`, a real
 * date), else undefined. Date.parse plus a toISOString round trip cost more than the rest of a
 * call's row; every timestamp the recorder writes takes this path.
 */
function canonicalIsoMs(ts: string): number | undefined {
  if (ts.length !== 24 || ts.charCodeAt(4) !== 45 || ts.charCodeAt(7) !== 45 || ts.charCodeAt(10) !== 84 || ts.charCodeAt(13) !== 58 || ts.charCodeAt(16) !== 58 || ts.charCodeAt(19) !== 46 || ts.charCodeAt(23) !== 90) return undefined;
  const year = digits(ts, 0, 4);
  const month = digits(ts, 5, 7);
  const day = digits(ts, 8, 10);
  const hour = digits(ts, 11, 13);
  const minute = digits(ts, 14, 16);
  const second = digits(ts, 17, 19);
  const milli = digits(ts, 20, 23);
  // Date.UTC maps years below 100 to 19xx: leave those to the slow path.
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || milli < 0) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > days) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, milli);
}

/** The decimal number in s[from, to), or -1 when a character is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function timeText(ms: SqlValue, text: SqlValue): string | undefined {
  if (typeof text === 'string') return text;
  if (typeof ms === 'number') return new Date(ms).toISOString();
  return undefined;
}

export class IndexDb {
  private statements = new Map<string, Statement>();
  private inTransaction = false;
  /** names(id) mirrored: id → name, and back. */
  private names: string[] = [];
  private nameIds = new Map<string, number>();
  private readonly nameOf = (id: SqlValue): string => (typeof id === 'number' ? (this.names[id] ?? '') : '');

  private constructor(private db: Database) {
    this.applyPragmas();
    this.loadNames();
  }

  private loadNames(): void {
    this.names = [];
    this.nameIds.clear();
    for (const [id, name] of this.all('SELECT id, name FROM names')) {
      this.names[id as number] = name as string;
      this.nameIds.set(name as string, id as number);
    }
  }

  private intern(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = Math.max(this.names.length, 1);
      this.run('INSERT INTO names (id, name) VALUES (?, ?)', [id, name]);
      this.names[id] = name;
      this.nameIds.set(name, id);
    }
    return id;
  }

  private internOrNull(name: string | undefined): number | null {
    return name === undefined ? null : this.intern(name);
  }

  /** An empty index with the current schema. */
  static create(SQL: SqlJsStatic): IndexDb {
    const db = new SQL.Database();
    // Call rows are several hundred bytes: 8 KB pages leave less of each page unused than 4 KB ones.
    db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
    db.exec(SCHEMA);
    const index = new IndexDb(db);
    index.setMeta('schema_version', String(SCHEMA_VERSION));
    index.setMeta('created_at', new Date().toISOString());
    return index;
  }

  /** Opens a saved image; throws IndexImageError when it is unreadable or of another schema version. */
  static load(SQL: SqlJsStatic, bytes: Uint8Array): IndexDb {
    let db: Database;
    try {
      db = new SQL.Database(bytes);
    } catch (err) {
      throw new IndexImageError(`index image unreadable: ${(err as Error).message}`);
    }
    let version: string | undefined;
    try {
      const r = db.exec("SELECT value FROM meta WHERE key = 'schema_version'");
      version = r[0]?.values[0]?.[0] as string | undefined;
    } catch (err) {
      db.close();
      throw new IndexImageError(`index image unreadable: ${(err as Error).message}`);
    }
    if (version !== String(SCHEMA_VERSION)) {
      db.close();
      throw new IndexImageError(`index schema version ${version ?? 'missing'}, this version uses ${SCHEMA_VERSION}`);
    }
    try {
      return new IndexDb(db);
    } catch (err) {
      // The image claims our version but does not hold what it should (a damaged or hand-edited
      // file): the index is a cache, so it is rebuilt from the journal rather than trusted.
      db.close();
      throw new IndexImageError(`index image inconsistent: ${(err as Error).message}`);
    }
  }

  private applyPragmas(): void {
    // The database lives in sql.js's in-memory file system: durability comes from the atomic save
    // of the whole image, so the rollback journal only has to serve ROLLBACK.
    this.db.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY;');
  }

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private run(sql: string, params: SqlValue[]): void {
    const s = this.stmt(sql);
    try {
      s.bind(params);
      s.step();
    } finally {
      s.reset();
    }
  }

  private all(sql: string, params: SqlValue[] = []): SqlValue[][] {
    const s = this.stmt(sql);
    const rows: SqlValue[][] = [];
    try {
      s.bind(params);
      while (s.step()) rows.push(s.get());
    } finally {
      s.reset();
    }
    return rows;
  }

  begin(): void {
    if (this.inTransaction) return;
    this.db.exec('BEGIN');
    this.inTransaction = true;
  }

  commit(): void {
    if (!this.inTransaction) return;
    this.db.exec('COMMIT');
    this.inTransaction = false;
  }

  rollback(): void {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    try {
      this.db.exec('ROLLBACK');
    } catch {
      // SQLite may already have rolled back on the error that brought us here
    }
    // Names interned in the rolled-back transaction are gone again.
    this.loadNames();
  }

  /** The whole image. sql.js closes and reopens the database to do it, freeing statements and resetting PRAGMAs. */
  export(): Uint8Array {
    if (this.inTransaction) throw new Error('index export inside a transaction');
    this.statements.clear();
    const bytes = this.db.export();
    this.applyPragmas();
    return bytes;
  }

  close(): void {
    for (const s of this.statements.values()) {
      try {
        s.free();
      } catch {
        // freed with the database
      }
    }
    this.statements.clear();
    this.db.close();
  }

  getMeta(key: string): string | undefined {
    return this.all('SELECT value FROM meta WHERE key = ?', [key])[0]?.[0] as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.run('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', [key, value]);
  }

  // -- segments and sessions: the store keeps these in memory and writes them through ----------

  loadSegments(): SegmentState[] {
    return this.all('SELECT id, name, writer_id, segment_no, read_offset, last_type, pid, hostname, writer_started FROM segments ORDER BY id').map((r) => ({
      id: r[0] as number,
      name: r[1] as string,
      writer_id: r[2] as string,
      segment_no: r[3] as number,
      read_offset: r[4] as number,
      ...(r[5] !== null ? { last_type: r[5] as string } : {}),
      ...(r[6] !== null ? { pid: r[6] as number } : {}),
      ...(r[7] !== null ? { hostname: r[7] as string } : {}),
      ...(r[8] !== null ? { writer_started: r[8] as string } : {}),
    }));
  }

  saveSegment(s: SegmentState): void {
    this.run('INSERT OR REPLACE INTO segments (id, name, writer_id, segment_no, read_offset, last_type, pid, hostname, writer_started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      s.id,
      s.name,
      s.writer_id,
      s.segment_no,
      s.read_offset,
      s.last_type ?? null,
      s.pid ?? null,
      s.hostname ?? null,
      s.writer_started ?? null,
    ]);
  }

  loadSessions(): SessionState[] {
    return this.all(
      'SELECT sid, session_id, started_at, ended_at, end_reason, recorder_kind, recorder_version, pid, hostname, user, replay_of, writer_id, first_segment, first_offset, last_segment, last_ts, last_seq, records, calls, tool_calls, successful, failed, cancelled, pending, repaired FROM sessions ORDER BY sid',
    ).map((r) => {
      const s: SessionState = {
        sid: r[0] as number,
        session_id: r[1] as string,
        writer_id: r[11] as string,
        first_segment: r[12] as number,
        first_offset: r[13] as number,
        last_segment: r[14] as number,
        records: r[17] as number,
        counts: { calls: r[18] as number, tool_calls: r[19] as number, successful: r[20] as number, failed: r[21] as number, cancelled: r[22] as number, pending: r[23] as number, repaired: r[24] as number },
      };
      if (r[2] !== null) s.started_at = r[2] as string;
      if (r[3] !== null) s.ended_at = r[3] as string;
      if (r[4] !== null) s.end_reason = r[4] as string;
      if (r[5] !== null) s.recorder = { kind: r[5] as string, version: (r[6] as string) ?? '', pid: (r[7] as number) ?? 0, hostname: (r[8] as string) ?? '', user: (r[9] as string) ?? '' };
      if (r[10] !== null) s.replay_of = JSON.parse(r[10] as string) as SessionState['replay_of'];
      if (r[15] !== null) s.last_ts = r[15] as string;
      if (r[16] !== null) s.last_seq = r[16] as number;
      return s;
    });
  }

  saveSession(s: SessionState): void {
    const c = s.counts;
    this.run(
      'INSERT OR REPLACE INTO sessions (sid, session_id, started_at, ended_at, end_reason, recorder_kind, recorder_version, pid, hostname, user, replay_of, writer_id, first_segment, first_offset, last_segment, last_ts, last_seq, records, calls, tool_calls, successful, failed, cancelled, pending, repaired) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [
        s.sid,
        s.session_id,
        s.started_at ?? null,
        s.ended_at ?? null,
        s.end_reason ?? null,
        s.recorder?.kind ?? null,
        s.recorder?.version ?? null,
        s.recorder?.pid ?? null,
        s.recorder?.hostname ?? null,
        s.recorder?.user ?? null,
        s.replay_of ? JSON.stringify(s.replay_of) : null,
        s.writer_id,
        s.first_segment,
        s.first_offset,
        s.last_segment,
        s.last_ts ?? null,
        s.last_seq ?? null,
        s.records,
        c.calls,
        c.tool_calls,
        c.successful,
        c.failed,
        c.cancelled,
        c.pending,
        c.repaired,
      ],
    );
  }

  // -- connections ---------------------------------------------------------------------------

  saveConnection(sid: number, info: ConnectionInfo): void {
    this.run('INSERT OR REPLACE INTO connections (sid, connection_id, server, info) VALUES (?, ?, ?, ?)', [sid, info.connection_id, info.server.name, JSON.stringify(info)]);
  }

  connections(sid: number | undefined, sessionIdOf: (sid: number) => string): ConnectionRow[] {
    const rows = sid === undefined ? this.all('SELECT sid, connection_id, server, info FROM connections') : this.all('SELECT sid, connection_id, server, info FROM connections WHERE sid = ?', [sid]);
    return rows.map((r) => ({ session_id: sessionIdOf(r[0] as number), connection_id: r[1] as string, server: r[2] as string, info: JSON.parse(r[3] as string) as ConnectionInfo }));
  }

  /** Server names per session, without parsing each connection's JSON. */
  serversBySession(): Map<number, string[]> {
    const out = new Map<number, string[]>();
    for (const r of this.all('SELECT sid, server FROM connections ORDER BY sid, connection_id')) {
      const sid = r[0] as number;
      const name = r[1] as string;
      let list = out.get(sid);
      if (!list) out.set(sid, (list = []));
      if (!list.includes(name)) list.push(name);
    }
    return out;
  }

  // -- calls ---------------------------------------------------------------------------------

  upsertCall(sid: number, call: Call, segmentIdOf: (file: string) => number | undefined): void {
    const e = call.error;
    const n: NameIds = {
      method: this.intern(call.method),
      tool: this.intern(call.tool),
      server: this.intern(call.server.name),
      server_version: this.internOrNull(call.server.version),
      agent_id: this.internOrNull(call.agent_id),
      outcome: this.intern(call.outcome),
      error_class: this.internOrNull(e?.error_class),
      recovery_action: this.internOrNull(e?.recovery_action),
    };
    this.run(UPSERT_CALL, callRow(sid, call, n, segmentIdOf));
  }

  call(sid: number, callId: string, r: RowResolvers): CallRow | undefined {
    // call_id is normally `<connection>:<request seq>`: the seq reaches the row through the unique key.
    const seq = Number(callId.slice(callId.lastIndexOf(':') + 1));
    const bySeq = Number.isInteger(seq) ? this.all(`${SELECT_CALL} WHERE sid = ? AND request_seq = ?`, [sid, seq])[0] : undefined;
    const row = bySeq ? toCallRow(bySeq, r, this.nameOf) : undefined;
    if (row?.call_id === callId) return row;
    const stored = this.all(`${SELECT_CALL} WHERE sid = ? AND call_id = ?`, [sid, callId])[0];
    return stored ? toCallRow(stored, r, this.nameOf) : undefined;
  }

  /**
   * Calls of one session by id, in a few queries instead of one per call (a live batch): by the
   * request seq in their ids, in groups padded to a power of two so only a handful of statements
   * are ever prepared; an id whose seq finds another call is looked up as `call` does.
   */
  callsOf(sid: number, callIds: readonly string[], r: RowResolvers): Map<string, CallRow> {
    const wanted = new Set(callIds);
    const found = new Map<string, CallRow>();
    const seqs = [...new Set(callIds.map((id) => Number(id.slice(id.lastIndexOf(':') + 1))).filter((n) => Number.isInteger(n)))];
    for (let k = 0; k < seqs.length; k += 256) {
      const group = seqs.slice(k, k + 256);
      let size = 1;
      while (size < group.length) size *= 2;
      const params: SqlValue[] = [sid, ...group];
      while (params.length < size + 1) params.push(group[0]!);
      for (const row of this.all(`${SELECT_CALL} WHERE sid = ? AND request_seq IN (${new Array(size).fill('?').join(', ')})`, params)) {
        const c = toCallRow(row, r, this.nameOf);
        if (wanted.has(c.call_id)) found.set(c.call_id, c);
      }
    }
    for (const id of wanted) {
      if (found.has(id)) continue;
      const c = this.call(sid, id, r);
      if (c) found.set(id, c);
    }
    return found;
  }

  calls(q: CallQuery, r: RowResolvers): CallRow[] {
    const w = this.callWhere(q);
    if (!w) return [];
    const { where, params } = w;
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    // Within one session the request order is the natural one; across sessions, time. Each order
    // is served by an index ending in the sort key, so a LIMIT stops the scan early.
    const order = q.sid !== undefined ? `ORDER BY request_seq ${dir}` : `ORDER BY ts_ms ${dir}, id ${dir}`;
    // With several outcomes SQLite would rather walk the server's calls in time order, testing each
    // one (and its text); reading the few matching ranges and sorting them is far cheaper.
    const hint = q.sid === undefined && q.server !== undefined && q.outcomes && q.outcomes.length > 1 ? ' INDEXED BY calls_server_outcome' : '';
    const rows = this.all(`${SELECT_CALL}${hint} ${where} ${order} LIMIT ? OFFSET ?`, [...params, q.limit, q.offset]);
    return rows.map((row) => toCallRow(row, r, this.nameOf));
  }

  countCalls(q: Omit<CallQuery, 'limit' | 'offset' | 'order'>): number {
    const w = this.callWhere(q);
    if (!w) return 0;
    const { where, params } = w;
    return (this.all(`SELECT count(*) FROM calls ${where}`, params)[0]?.[0] as number) ?? 0;
  }

  /** Per-server totals, for a servers view. */
  serverStats(): Array<{ server: string; sessions: number; calls: number; failed: number; last_call?: string }> {
    const sessions = new Map<string, number>();
    for (const r of this.all('SELECT server, count(DISTINCT sid) FROM connections GROUP BY server')) sessions.set(r[0] as string, r[1] as number);
    const out = new Map<string, { server: string; sessions: number; calls: number; failed: number; last_call?: string }>();
    for (const [server, n] of sessions) out.set(server, { server, sessions: n, calls: 0, failed: 0 });
    const failed = ['error', 'timeout'].map((o) => this.nameIds.get(o) ?? -1);
    for (const r of this.all('SELECT server, count(*), sum(outcome IN (?, ?)), max(ts_ms) FROM calls GROUP BY server', failed)) {
      const server = this.nameOf(r[0] ?? null);
      const s = out.get(server) ?? { server, sessions: 0, calls: 0, failed: 0 };
      s.calls = r[1] as number;
      s.failed = (r[2] as number) ?? 0;
      if (typeof r[3] === 'number') s.last_call = new Date(r[3]).toISOString();
      out.set(server, s);
    }
    return [...out.values()].sort((a, b) => a.server.localeCompare(b.server));
  }

  /**
   * The WHERE clause of a calls query, with names turned into their ids; undefined when a name
   * the filter asks for was never seen (nothing can match).
   */
  private callWhere(q: Omit<CallQuery, 'limit' | 'offset' | 'order'>): { where: string; params: SqlValue[] } | undefined {
    const cond: string[] = [];
    const params: SqlValue[] = [];
    const byName = (column: string, name: string | undefined): boolean => {
      if (name === undefined) return true;
      const id = this.nameIds.get(name);
      if (id === undefined) return false;
      cond.push(`${column} = ?`);
      params.push(id);
      return true;
    };
    if (q.sid !== undefined) {
      cond.push('sid = ?');
      params.push(q.sid);
    }
    if (!byName('server', q.server) || !byName('tool', q.tool) || !byName('method', q.method)) return undefined;
    if (q.direction !== undefined) {
      cond.push('direction = ?');
      params.push(q.direction === 'client_to_server' ? 0 : 1);
    }
    if (q.outcomes && q.outcomes.length) {
      const ids = q.outcomes.map((o) => this.nameIds.get(o)).filter((id): id is number => id !== undefined);
      if (!ids.length) return undefined;
      cond.push(`outcome IN (${ids.map(() => '?').join(', ')})`);
      params.push(...ids);
    }
    if (q.text) {
      const p = likePattern(q.text);
      // Tool names live in names(): the matching ones are found here, case-insensitively like LIKE.
      const needle = q.text.toLowerCase();
      const tools: number[] = [];
      this.names.forEach((name, id) => {
        if (name.toLowerCase().includes(needle)) tools.push(id);
      });
      const toolCond = tools.length ? `tool IN (${tools.join(', ')}) OR ` : '';
      cond.push(`(${toolCond}input_summary LIKE ? ESCAPE '\\' OR output_summary LIKE ? ESCAPE '\\' OR error_message LIKE ? ESCAPE '\\')`);
      params.push(p, p, p);
    }
    return { where: cond.length ? `WHERE ${cond.join(' AND ')}` : '', params };
  }

  // -- events, problems, alerts --------------------------------------------------------------

  insertEvent(sid: number, seq: number, ts: string | undefined, type: string, connectionId: string | undefined, summary: string, seg: number, off: number, len: number): void {
    this.run('INSERT OR IGNORE INTO events (sid, seq, ts, type, connection_id, summary, seg, off, len) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [sid, seq, ts ?? null, type, connectionId ?? null, clip(summary), seg, off, len]);
  }

  events(sid: number, r: RowResolvers): EventRow[] {
    return this.all('SELECT sid, seq, ts, type, connection_id, summary, seg, off, len FROM events WHERE sid = ? ORDER BY seq', [sid]).map((row) => ({
      session_id: r.sessionIdOf(row[0] as number),
      seq: row[1] as number,
      ...(row[2] !== null ? { ts: row[2] as string } : {}),
      type: row[3] as string,
      ...(row[4] !== null ? { connection_id: row[4] as string } : {}),
      summary: (row[5] as string) ?? '',
      location: { file: r.segmentFile(row[6] as number) ?? '', offset: row[7] as number, length: row[8] as number },
    }));
  }

  /** Records a problem once; returns false when it was already known. */
  insertProblem(seg: number, p: Omit<StoreProblem, 'file'>): boolean {
    this.run('INSERT OR IGNORE INTO problems (seg, off, kind, detail, session_id, found_at) VALUES (?, ?, ?, ?, ?, ?)', [seg, p.offset, p.kind, p.detail, p.session_id ?? null, p.found_at]);
    return this.db.getRowsModified() > 0;
  }

  hasProblem(seg: number, offset: number, kind: ProblemKind): boolean {
    return this.all('SELECT 1 FROM problems WHERE seg = ? AND off = ? AND kind = ?', [seg, offset, kind]).length > 0;
  }

  problems(r: RowResolvers): StoreProblem[] {
    return this.all('SELECT seg, off, kind, detail, session_id, found_at FROM problems ORDER BY seg, off').map((row) => ({
      file: r.segmentFile(row[0] as number) ?? '',
      offset: row[1] as number,
      kind: row[2] as ProblemKind,
      detail: row[3] as string,
      ...(row[4] !== null ? { session_id: row[4] as string } : {}),
      found_at: row[5] as string,
    }));
  }

  /** Indexes one alert record (once: the same record seen again, e.g. by a session revived after a restart, is skipped). */
  insertAlert(sid: number, a: AlertRecord): void {
    const detail: AlertDetailColumn = { v: 1, alert_id: a.alert_id, title: clip(a.title), detail: clip(a.detail), server: a.server, ...(a.tool !== undefined ? { tool: a.tool } : {}), connection_id: a.connection_id, seq: a.seq };
    const callId = a.request_seq !== undefined ? `${a.connection_id}:${a.request_seq}` : null;
    const text = JSON.stringify(detail);
    if (this.all('SELECT 1 FROM alerts WHERE sid = ? AND detail = ?', [sid, text]).length) return;
    this.run('INSERT INTO alerts (sid, call_id, kind, severity, ts, detail) VALUES (?, ?, ?, ?, ?, ?)', [sid, callId, a.alert_kind, a.severity, a.ts, text]);
  }

  alerts(sid: number | undefined, sessionIdOf: (sid: number) => string): AlertRow[] {
    const rows = sid === undefined ? this.all('SELECT sid, call_id, kind, severity, ts, detail FROM alerts ORDER BY id') : this.all('SELECT sid, call_id, kind, severity, ts, detail FROM alerts WHERE sid = ? ORDER BY id', [sid]);
    return rows.map((row) => {
      const base: AlertRow = {
        session_id: sessionIdOf(row[0] as number),
        ...(row[1] !== null ? { call_id: row[1] as string } : {}),
        kind: row[2] as string,
        severity: row[3] as string,
        ...(row[4] !== null ? { ts: row[4] as string } : {}),
      };
      const raw = row[5];
      if (typeof raw !== 'string') return base;
      const d = parseAlertDetail(raw);
      if (!d) return { ...base, detail: raw };
      return { ...base, detail: d.detail, alert_id: d.alert_id, title: d.title, server: d.server, ...(d.tool !== undefined ? { tool: d.tool } : {}), connection_id: d.connection_id, seq: d.seq };
    });
  }
}

function parseAlertDetail(text: string): AlertDetailColumn | undefined {
  try {
    const d = JSON.parse(text) as Partial<AlertDetailColumn>;
    return d && d.v === 1 && typeof d.alert_id === 'string' && typeof d.title === 'string' ? (d as AlertDetailColumn) : undefined;
  } catch {
    return undefined;
  }
}

function clip(s: string): string {
  return s.length > INDEX_TEXT_CHARS ? `${s.slice(0, INDEX_TEXT_CHARS - 1)}…` : s;
}

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

interface NameIds {
  method: number;
  tool: number;
  server: number;
  server_version: number | null;
  agent_id: number | null;
  outcome: number;
  error_class: number | null;
  recovery_action: number | null;
}

function callRow(sid: number, call: Call, n: NameIds, segmentIdOf: (file: string) => number | undefined): SqlValue[] {
  const req = call.request_location;
  const res = call.response_location;
  const e = call.error;
  let flags = 0;
  if (call.answered_by_recorder) flags |= FLAG_BY_RECORDER;
  if (call.opaque?.includes('request')) flags |= FLAG_OPAQUE_REQUEST;
  if (call.opaque?.includes('response')) flags |= FLAG_OPAQUE_RESPONSE;
  if (call.cancelled) flags |= FLAG_CANCELLED;
  const [tsMs, tsText] = timeParts(call.timestamp);
  const [endMs, endText] = timeParts(call.ended_at);
  const row = new Array<SqlValue>(CALL_COLUMNS.length);
  row[COL.sid] = sid;
  row[COL.request_seq] = call.request_seq;
  row[COL.call_id] = call.call_id === `${call.connection_id}:${call.request_seq}` ? null : call.call_id;
  row[COL.connection_id] = call.connection_id;
  row[COL.direction] = call.direction === 'client_to_server' ? 0 : 1;
  row[COL.method] = n.method;
  row[COL.tool] = n.tool;
  row[COL.request_id] = JSON.stringify(call.request_id);
  row[COL.server] = n.server;
  row[COL.server_version] = n.server_version;
  row[COL.agent_id] = n.agent_id;
  row[COL.ts_ms] = tsMs;
  row[COL.ts_text] = tsText;
  row[COL.end_ms] = endMs;
  row[COL.end_text] = endText;
  // Durations have microsecond resolution: as an integer they take half the room of a float.
  row[COL.duration_us] = call.duration_ms !== undefined ? Math.round(call.duration_ms * 1000) : null;
  row[COL.outcome] = n.outcome;
  row[COL.error_class] = n.error_class;
  row[COL.error_code] = e ? (e.error_code ?? null) : null;
  row[COL.error_message] = e ? Buffer.from(clip(e.message)) : null;
  row[COL.error_flags] = e ? (e.recoverable ? 1 : 0) | (e.retry_safe ? 2 : 0) : null;
  row[COL.recovery_action] = n.recovery_action;
  row[COL.input_summary] = Buffer.from(call.input_summary);
  row[COL.output_summary] = call.output_summary !== undefined ? Buffer.from(call.output_summary) : null;
  row[COL.response_seq] = call.response_seq ?? null;
  row[COL.flags] = flags;
  row[COL.progress] = call.progress.length;
  row[COL.logs] = call.logs.length;
  row[COL.parent_call_id] = call.parent_call_id ?? null;
  row[COL.nested] = call.nested_call_ids.length ? JSON.stringify(call.nested_call_ids) : null;
  row[COL.req_seg] = req ? (segmentIdOf(req.file) ?? null) : null;
  row[COL.req_off] = req?.offset ?? null;
  row[COL.req_len] = req?.length ?? null;
  row[COL.res_seg] = res ? (segmentIdOf(res.file) ?? null) : null;
  row[COL.res_off] = res?.offset ?? null;
  row[COL.res_len] = res?.length ?? null;
  row[COL.retry_of] = call.retry_of ?? null;
  row[COL.side_effects] = call.side_effects ? JSON.stringify({ list: call.side_effects, omitted: call.side_effects_omitted ?? 0 }) : null;
  row[COL.credentials] = call.credentials ? JSON.stringify(call.credentials) : null;
  return row;
}

function toCallRow(row: SqlValue[], r: RowResolvers, name: (id: SqlValue) => string): CallRow {
  const v = (c: CallColumn): SqlValue => row[COL[c]] ?? null;
  const flags = v('flags') as number;
  const opaque: Array<'request' | 'response'> = [];
  if (flags & FLAG_OPAQUE_REQUEST) opaque.push('request');
  if (flags & FLAG_OPAQUE_RESPONSE) opaque.push('response');
  const connectionId = v('connection_id') as string;
  const seq = v('request_seq') as number;
  const out: CallRow = {
    session_id: r.sessionIdOf(v('sid') as number),
    call_id: (v('call_id') as string | null) ?? `${connectionId}:${seq}`,
    connection_id: connectionId,
    direction: v('direction') === 0 ? 'client_to_server' : 'server_to_client',
    method: name(v('method')),
    tool: name(v('tool')),
    request_id: JSON.parse(v('request_id') as string) as JsonRpcId,
    server: name(v('server')),
    timestamp: timeText(v('ts_ms'), v('ts_text')) ?? '',
    outcome: name(v('outcome')) as Outcome,
    input_summary: v('input_summary') as string,
    request_seq: seq,
    answered_by_recorder: (flags & FLAG_BY_RECORDER) !== 0,
    progress_count: v('progress') as number,
    log_count: v('logs') as number,
    cancelled: (flags & FLAG_CANCELLED) !== 0,
    nested_call_ids: v('nested') !== null ? (JSON.parse(v('nested') as string) as string[]) : [],
  };
  if (v('server_version') !== null) out.server_version = name(v('server_version'));
  if (v('agent_id') !== null) out.agent_id = name(v('agent_id'));
  const ended = timeText(v('end_ms'), v('end_text'));
  if (ended !== undefined) out.ended_at = ended;
  if (v('duration_us') !== null) out.duration_ms = (v('duration_us') as number) / 1000;
  if (v('error_class') !== null) {
    const ef = (v('error_flags') as number) ?? 0;
    out.error = {
      error_class: name(v('error_class')) as CallError['error_class'],
      error_code: v('error_code') as number | string | null,
      message: (v('error_message') as string) ?? '',
      recoverable: (ef & 1) !== 0,
      recovery_action: name(v('recovery_action')) as CallError['recovery_action'],
      retry_safe: (ef & 2) !== 0,
    };
  }
  if (v('output_summary') !== null) out.output_summary = v('output_summary') as string;
  if (v('response_seq') !== null) out.response_seq = v('response_seq') as number;
  if (opaque.length) out.opaque = opaque;
  if (v('parent_call_id') !== null) out.parent_call_id = v('parent_call_id') as string;
  if (v('retry_of') !== null) out.retry_of = v('retry_of') as string;
  const reqFile = v('req_seg') !== null ? r.segmentFile(v('req_seg') as number) : undefined;
  if (reqFile !== undefined) out.request_location = { file: reqFile, offset: v('req_off') as number, length: v('req_len') as number };
  const resFile = v('res_seg') !== null ? r.segmentFile(v('res_seg') as number) : undefined;
  if (resFile !== undefined) out.response_location = { file: resFile, offset: v('res_off') as number, length: v('res_len') as number };
  if (v('side_effects') !== null) {
    const fx = JSON.parse(v('side_effects') as string) as { list: SideEffect[]; omitted: number };
    out.side_effects = fx.list;
    if (fx.omitted) out.side_effects_omitted = fx.omitted;
  }
  if (v('credentials') !== null) out.credentials = JSON.parse(v('credentials') as string) as CallCredentials;
  return out;
}
