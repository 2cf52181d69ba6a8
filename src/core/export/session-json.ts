import { isUtf8 } from 'node:buffer';
import * as path from 'node:path';
import { agentId, bodyJson, CallAssembler } from '../analysis/calls';
import { buildExportAudit, readExportEvents, type BuildAuditOptions, type ExportAudit } from '../audit/export-audit';
import { sessionConnections, summarizeSession, type SessionSummary } from '../analysis/summary';
import type { AttachedMessage, Call, CallCredentials, CallError, ConnectionInfo, JournalLocation, Outcome, Reversibility, SideEffect, TagSource } from '../model/calls';
import type { LoadedPolicy } from '../policy/policy';
import type { AlertKind, AlertRecord, AlertSeverity, Direction, JournalRecord, JsonRpcId, UpstreamKind, DownstreamKind } from '../model/records';

/**
 * Session export as one JSON document (`mcp-flight.session/v1`), written incrementally.
 *
 *   {"format":"mcp-flight.session/v1",
 *   "session":{…summary, recorder…},
 *   "connections":[
 *   {…},
 *   …],
 *   "calls":[
 *   {…},
 *   …],
 *   "alerts":[
 *   {…},
 *   …],
 *   "events":[
 *   {…},
 *   …],
 *   "audit":{…}}
 *
 * One array item per line (for diffs, `head` and `grep`; not part of the contract). The session
 * header comes first and needs every record, so the records are read twice: once to assemble
 * calls and the summary, once to write the raw events. Nothing is ever built as one big string:
 * output leaves in chunks of about `chunkSize` characters, long strings (20 MB opaque frames) are
 * escaped slice by slice, and only values the journal holds structured (nesting ≤ 64) are passed
 * to JSON.stringify — a 100,000-deep message is in the journal as an `opaque` record's text.
 *
 * The format is documented in docs/export-format.md, with a JSON Schema in
 * docs/export-format.schema.json.
 */

export const SESSION_EXPORT_FORMAT = 'mcp-flight.session/v1';

export interface ExportRecord {
  record: JournalRecord;
  location?: JournalLocation;
  /** The record's JSON text as stored, when it came from a journal: written as the event when its keys are already in event order, instead of serialising the record again. */
  text?: string;
}

/**
 * One session's records in journal order. An array (or a function returning a fresh iterable
 * each time, e.g. a journal reader) is read twice without copying; a one-shot iterable (a
 * generator) is buffered by reference during the first pass.
 */
export type ExportInput = Iterable<ExportRecord> | (() => Iterable<ExportRecord>);

export interface WritableLike {
  write(chunk: string): unknown;
}

/** Where chunks go. A Node stream given here is written without waiting for 'drain'; for backpressure pipe `Readable.from(sessionJsonChunks(…))` instead. */
export type ExportSink = WritableLike | ((chunk: string) => void);

export interface ExportOptions {
  /** Whether the process that writes the session is still running: a session without session_end is then `in_progress`, otherwise `interrupted`. Default false. */
  writerAlive?: boolean;
  /** Write the raw journal records (default true). */
  includeEvents?: boolean;
  /** Export only this session's records (others are skipped). Without it, every record must belong to the session of the first one. */
  sessionId?: string;
  /** Approximate size of each chunk handed to the sink, in characters (default 256 KiB). */
  chunkSize?: number;
  /**
   * Carry the audit trail (`audit`: the events' hash chain and signed checkpoints, signed by the
   * exporter; docs/audit-trail.md) — default true. It is written only with events, and only when
   * every record has its journal location and the journal was written with the trail.
   */
  audit?: boolean | BuildAuditOptions;
  /** Classify, tag and price calls with this policy instead of the one the session recorded (`export --policy`). */
  policy?: LoadedPolicy;
}

/** The audit section for the exported records, or undefined (see ExportOptions.audit). */
export function exportAuditFor(sessionId: string, locations: ReadonlyArray<JournalLocation | undefined>, opts: ExportOptions): ExportAudit | undefined {
  if (opts.audit === false || opts.includeEvents === false) return undefined;
  return buildExportAudit(sessionId, locations, typeof opts.audit === 'object' ? opts.audit : {});
}

export interface ExportResult {
  summary: SessionSummary;
  calls: number;
  events: number;
}

// ---------------------------------------------------------------------------------------------
// The exported shapes. Every field is always present; null means unknown or not applicable.
// (Raw events are the exception: they are journal records as written, optional fields absent.)

export interface ExportedAttachedMessage {
  seq: number;
  ts: string;
  method: string;
  params: unknown;
}

export interface ExportedCall {
  call_id: string;
  /** The tool name for tools/call; the method otherwise. */
  tool: string;
  method: string;
  direction: Direction;
  server: { name: string; version: string | null };
  session_id: string;
  connection_id: string;
  agent_id: string | null;
  request_id: JsonRpcId;
  /** ISO 8601, when the request was journaled. */
  timestamp: string;
  ended_at: string | null;
  duration_ms: number | null;
  outcome: Outcome;
  error: CallError | null;
  /** tools/call arguments; the request's params for other methods; null when absent or opaque. */
  input: unknown;
  input_summary: string;
  /** The result, or the JSON-RPC error object; null while pending, when cancelled, or when opaque. */
  output: unknown;
  output_summary: string | null;
  progress: ExportedAttachedMessage[];
  logs: ExportedAttachedMessage[];
  cancelled: ExportedAttachedMessage | null;
  parent_call_id: string | null;
  nested_call_ids: string[];
  /** The failed call this one retries (an agent retry: same server, tool and canonical arguments within 60 s), or null. */
  retry_of: string | null;
  request_seq: number;
  response_seq: number | null;
  answered_by_recorder: boolean;
  opaque: Array<'request' | 'response'>;
  /** tools/call only (null otherwise): idempotency and reversibility with their sources, and the cost. */
  idempotent: boolean | null;
  idempotent_source: TagSource | null;
  reversibility: Reversibility | null;
  reversibility_source: TagSource | null;
  cost_usd: number | null;
  cost_source: 'reported' | 'policy' | null;
  /** Ids of the security alerts raised on this call (see ExportedAlert). */
  alerts: string[];
  side_effects: ExportedSideEffect[];
  side_effects_omitted: number;
  credentials: CallCredentials | null;
}

export interface ExportedSideEffect {
  kind: SideEffect['kind'];
  path: string | null;
  uri: string | null;
  name: string | null;
  directory: boolean;
  attribution: SideEffect['attribution'];
  in_flight: string[];
  seq: number | null;
  ts: string;
}

/** A security alert (an `alert` record), with the call it concerns. */
export interface ExportedAlert {
  alert_id: string;
  alert_kind: AlertKind;
  severity: AlertSeverity;
  title: string;
  detail: string;
  server: string;
  tool: string | null;
  session_id: string;
  connection_id: string;
  /** `<connection_id>:<request_seq>` of the call it concerns; null when it concerns no request (a tools/list result). */
  call_id: string | null;
  request_id: JsonRpcId | null;
  request_seq: number | null;
  /** The message that raised it when that is not a request. */
  message_seq: number | null;
  seq: number;
  ts: string;
  evidence: Record<string, unknown> | null;
}

export function toExportedAlert(a: AlertRecord): ExportedAlert {
  return {
    alert_id: a.alert_id,
    alert_kind: a.alert_kind,
    severity: a.severity,
    title: a.title,
    detail: a.detail,
    server: a.server,
    tool: a.tool ?? null,
    session_id: a.session_id,
    connection_id: a.connection_id,
    call_id: a.request_seq !== undefined ? `${a.connection_id}:${a.request_seq}` : null,
    request_id: a.request_id ?? null,
    request_seq: a.request_seq ?? null,
    message_seq: a.message_seq ?? null,
    seq: a.seq,
    ts: a.ts,
    evidence: a.evidence ?? null,
  };
}

export interface ExportedConnection {
  connection_id: string;
  session_id: string;
  upstream: UpstreamKind;
  server: {
    name: string;
    version: string | null;
    title: string | null;
    protocol_version: string | null;
    capabilities: unknown;
    instructions: string | null;
    transport: DownstreamKind;
    command: string | null;
    args: string[] | null;
    cwd: string | null;
    url: string | null;
    env_names: string[] | null;
    header_names: string[] | null;
  };
  agent_id: string | null;
  agent: { name: string; version: string | null; title: string | null; protocol_version: string | null; capabilities: unknown } | null;
  mcp_session_id: string | null;
  opened_at: string | null;
  closed_at: string | null;
  close_reason: string | null;
  process: { pid: number | null; exit_code: number | null; signal: string | null; spawn_error: string | null } | null;
  stderr_lines: number;
  non_json_frames: number;
  opaque_frames: number;
  transport_errors: number;
  tools: Array<{ name: string; annotations: Record<string, unknown> | null }> | null;
  credentials: NonNullable<ConnectionInfo['credentials']> | null;
}

export function toExportedCall(c: Call): ExportedCall {
  return {
    call_id: c.call_id,
    tool: c.tool,
    method: c.method,
    direction: c.direction,
    server: { name: c.server.name, version: c.server.version ?? null },
    session_id: c.session_id,
    connection_id: c.connection_id,
    agent_id: c.agent_id ?? null,
    request_id: c.request_id,
    timestamp: c.timestamp,
    ended_at: c.ended_at ?? null,
    duration_ms: c.duration_ms ?? null,
    outcome: c.outcome,
    error: c.error ? { error_class: c.error.error_class, error_code: c.error.error_code, message: c.error.message, recoverable: c.error.recoverable, recovery_action: c.error.recovery_action, retry_safe: c.error.retry_safe } : null,
    input: c.input ?? null,
    input_summary: c.input_summary,
    output: c.output ?? null,
    output_summary: c.output_summary ?? null,
    progress: c.progress.length ? c.progress.map(toExportedAttached) : [],
    logs: c.logs.length ? c.logs.map(toExportedAttached) : [],
    cancelled: c.cancelled ? toExportedAttached(c.cancelled) : null,
    parent_call_id: c.parent_call_id ?? null,
    nested_call_ids: c.nested_call_ids,
    retry_of: c.retry_of ?? null,
    request_seq: c.request_seq,
    response_seq: c.response_seq ?? null,
    answered_by_recorder: c.answered_by_recorder === true,
    opaque: c.opaque ?? [],
    idempotent: c.idempotent ?? null,
    idempotent_source: c.idempotent_source ?? null,
    reversibility: c.reversibility ?? null,
    reversibility_source: c.reversibility_source ?? null,
    cost_usd: c.cost_usd ?? null,
    cost_source: c.cost_source ?? null,
    alerts: c.alerts ? [...c.alerts] : [],
    side_effects: (c.side_effects ?? []).map(toExportedSideEffect),
    side_effects_omitted: c.side_effects_omitted ?? 0,
    credentials: c.credentials ? { set_id: c.credentials.set_id, mode: c.credentials.mode, names: [...c.credentials.names], fingerprints: [...c.credentials.fingerprints] } : null,
  };
}

function toExportedSideEffect(e: SideEffect): ExportedSideEffect {
  return { kind: e.kind, path: e.path ?? null, uri: e.uri ?? null, name: e.name ?? null, directory: e.directory === true, attribution: e.attribution, in_flight: e.in_flight ? [...e.in_flight] : [], seq: e.seq ?? null, ts: e.ts };
}

function toExportedAttached(m: AttachedMessage): ExportedAttachedMessage {
  return { seq: m.seq, ts: m.ts, method: m.method, params: m.params ?? null };
}

export function toExportedConnection(c: ConnectionInfo): ExportedConnection {
  const s = c.server;
  const a = c.agent;
  const p = c.process;
  return {
    connection_id: c.connection_id,
    session_id: c.session_id,
    upstream: c.upstream,
    server: {
      name: s.name,
      version: s.version ?? null,
      title: s.title ?? null,
      protocol_version: s.protocol_version ?? null,
      capabilities: s.capabilities ?? null,
      instructions: s.instructions ?? null,
      transport: s.transport,
      command: s.command ?? null,
      args: s.args ? [...s.args] : null,
      cwd: s.cwd ?? null,
      url: s.url ?? null,
      env_names: s.env_names ? [...s.env_names] : null,
      header_names: s.header_names ? [...s.header_names] : null,
    },
    agent_id: a ? agentId(a) : null,
    agent: a ? { name: a.name, version: a.version ?? null, title: a.title ?? null, protocol_version: a.protocol_version ?? null, capabilities: a.capabilities ?? null } : null,
    mcp_session_id: c.mcp_session_id ?? null,
    opened_at: c.opened_at || null,
    closed_at: c.closed_at ?? null,
    close_reason: c.close_reason ?? null,
    process: p ? { pid: p.pid ?? null, exit_code: p.exit_code ?? null, signal: p.signal ?? null, spawn_error: p.spawn_error ?? null } : null,
    stderr_lines: c.stderr_lines,
    non_json_frames: c.non_json_frames,
    opaque_frames: c.opaque_frames,
    transport_errors: c.transport_errors,
    tools: c.tools ? c.tools.map((t) => ({ name: t.name, annotations: t.annotations ?? null })) : null,
    credentials: c.credentials ? c.credentials.map((s) => ({ set_id: s.set_id, mode: s.mode, entries: s.entries.map((e) => ({ name: e.name, mode: e.mode, fingerprint: e.fingerprint, origin: e.origin })), since: s.since })) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Serialisation helpers shared with the JSONL exporter.

/** Strings longer than this are escaped in slices rather than in one JSON.stringify call. */
const LONG_STRING = 64 * 1024;
const DEFAULT_CHUNK = 256 * 1024;

/**
 * JSON text of a value the journal held structured (so bounded in depth). Should a damaged or
 * foreign journal still hold something JSON.stringify cannot handle, the value is replaced by a
 * marker object rather than failing the whole export.
 */
export function jsonOf(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    return JSON.stringify({ $unserializable: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
}

/**
 * JSON text of a flat object whose field values came from the journal. Should one field defeat
 * JSON.stringify (see jsonOf), only that field is replaced by the marker.
 */
export function objectJson(obj: object): string {
  try {
    return JSON.stringify(obj);
  } catch {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(obj)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${jsonOf(v)}`);
    return `{${parts.join(',')}}`;
  }
}

/** A JSON string literal, produced in pieces; identical to JSON.stringify(s). */
export function* stringPieces(s: string): Generator<string> {
  if (s.length <= LONG_STRING) {
    yield JSON.stringify(s);
    return;
  }
  yield '"';
  for (let i = 0; i < s.length; ) {
    let end = Math.min(s.length, i + LONG_STRING);
    // Never split a surrogate pair: its halves would be escaped as lone surrogates.
    if (end < s.length) {
      const last = s.charCodeAt(end - 1);
      if (last >= 0xd800 && last <= 0xdbff) end--;
    }
    const lit = JSON.stringify(s.slice(i, end));
    yield lit.slice(1, -1);
    i = end;
  }
  yield '"';
}

/**
 * Keys written first in every event, in this order (the order the recorder writes message
 * records in); the rest follow in record order.
 */
const EVENT_LEAD_KEYS = ['type', 'session_id', 'seq', 'ts', 'mono', 'connection_id', 'dir', 'size'] as const;
const EVENT_LEAD_RANK = new Map<string, number>(EVENT_LEAD_KEYS.map((k, i) => [k, i]));

/** The record's keys in canonical order: itself when already so (message records as the recorder writes them), else a reordered copy. */
function canonicalEvent(r: Record<string, unknown>): { ordered: Record<string, unknown>; long: boolean } {
  let long = false;
  let inOrder = true;
  let rank = -1;
  let pastLead = false;
  for (const k in r) {
    const v = r[k];
    if (typeof v === 'string' && v.length > LONG_STRING) long = true;
    const kr = EVENT_LEAD_RANK.get(k);
    if (kr === undefined) pastLead = true;
    else if (pastLead || kr < rank) inOrder = false;
    else rank = kr;
  }
  if (inOrder) return { ordered: r, long };
  const ordered: Record<string, unknown> = {};
  for (const k of EVENT_LEAD_KEYS) if (r[k] !== undefined) ordered[k] = r[k];
  for (const k in r) if (!EVENT_LEAD_RANK.has(k)) ordered[k] = r[k];
  return { ordered, long };
}

/**
 * One journal record as one JSON object text, `prefix` inserted right after the opening brace
 * (the JSONL exporter's `"kind":"event",`) — or undefined when the record holds a long string and
 * must go out in pieces (eventPieces). Nearly every record takes this path: one JSON.stringify.
 */
export function eventJson(record: JournalRecord, prefix = '', text?: string): string | undefined {
  const { ordered, long } = canonicalEvent(record as unknown as Record<string, unknown>);
  if (text !== undefined && (ordered as unknown) === record) return prefix ? `{${prefix}${text.slice(1)}` : text;
  if (long) return undefined;
  const json = objectJson(ordered);
  return prefix ? `{${prefix}${json.slice(1)}` : json;
}

/** Whether a record's stored text can stand as its event as it is (its keys are in event order). */
function storedTextIsEvent(record: JournalRecord): boolean {
  return (canonicalEvent(record as unknown as Record<string, unknown>).ordered as unknown) === record;
}

/** One journal record as a JSON object, in pieces; long strings (a 20 MB opaque frame) are escaped slice by slice. */
export function* eventPieces(record: JournalRecord, prefix = ''): Generator<string> {
  const { ordered, long } = canonicalEvent(record as unknown as Record<string, unknown>);
  if (!long) {
    const json = objectJson(ordered);
    yield prefix ? `{${prefix}${json.slice(1)}` : json;
    return;
  }
  let head = `{${prefix}`;
  let first = true;
  for (const k in ordered) {
    const v = ordered[k];
    if (v === undefined) continue;
    head += `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    if (typeof v === 'string' && v.length > LONG_STRING) {
      yield head;
      head = '';
      yield* stringPieces(v);
    } else {
      head += jsonOf(v);
    }
  }
  yield `${head}}`;
}

/** Gathers small pieces into chunks of about `size` characters. */
export class ChunkBatcher {
  private buf = '';
  constructor(private readonly size: number = DEFAULT_CHUNK) {}
  /** Adds a piece; returns a chunk when one is full. */
  add(piece: string): string | undefined {
    this.buf += piece;
    if (this.buf.length < this.size) return undefined;
    const out = this.buf;
    this.buf = '';
    return out;
  }
  end(): string | undefined {
    const out = this.buf;
    this.buf = '';
    return out.length ? out : undefined;
  }
}

export function sinkOf(out: ExportSink): (chunk: string) => void {
  return typeof out === 'function' ? out : (chunk) => void out.write(chunk);
}

/** Runs a chunk generator into a sink and returns the generator's result. */
export function drain<R>(gen: Generator<string, R>, out: ExportSink): R {
  const write = sinkOf(out);
  for (;;) {
    const step = gen.next();
    if (step.done) return step.value;
    write(step.value);
  }
}

/**
 * Filters records to one session: `sessionId` when given, otherwise the first record's session,
 * and then any record of another session is an error (the caller mixed sessions).
 */
export function* sessionRecords(input: Iterable<ExportRecord>, sessionId: string | undefined): Generator<ExportRecord> {
  let id = sessionId;
  for (const item of input) {
    const sid = item.record.session_id;
    if (id === undefined) id = sid;
    else if (sid !== id) {
      if (sessionId !== undefined) continue;
      throw mixedSessions(item.record, id);
    }
    yield item;
  }
}

// ---------------------------------------------------------------------------------------------
// The JSON document.

/** The second pass over a session that came from a journal: where each event is, and whether its stored text can be written as it is. */
interface StoredEvents {
  locations: JournalLocation[];
  asStored: boolean[];
}

/**
 * Assembles the session (first pass); returns the assembler and a way to read the records
 * again. When every record came from a journal, the second pass reads the stored texts back by
 * location instead (`stored`): no second parse, and most events are written as they are stored.
 */
function firstPass(input: ExportInput, opts: ExportOptions): { assembler: CallAssembler; again: () => Iterable<ExportRecord>; stored?: StoredEvents; summary: SessionSummary } {
  const source = typeof input === 'function' ? input : Array.isArray(input) ? () => input as Iterable<ExportRecord> : undefined;
  const kept: ExportRecord[] | undefined = source ? undefined : [];
  const assembler = new CallAssembler({ keepBodies: 'json', ...(opts.policy ? { policy: opts.policy } : {}) });
  let stored: StoredEvents | undefined = { locations: [], asStored: [] };
  let sessionId = opts.sessionId;
  let lastTs: string | undefined;
  for (const item of source ? source() : (input as Iterable<ExportRecord>)) {
    const r = item.record;
    if (sessionId === undefined) sessionId = r.session_id;
    else if (r.session_id !== sessionId) {
      if (opts.sessionId !== undefined) continue;
      throw mixedSessions(r, sessionId);
    }
    kept?.push(item);
    lastTs = r.ts;
    assembler.add(r, item.location);
    if (stored) {
      if (item.text !== undefined && item.location && path.isAbsolute(item.location.file)) {
        stored.locations.push(item.location);
        stored.asStored.push(storedTextIsEvent(r));
      } else stored = undefined;
    }
  }
  if (lastTs === undefined || sessionId === undefined) throw noRecords(opts);
  const summary = summarizeSession(assembler, { writerAlive: opts.writerAlive ?? false, lastRecordTs: lastTs });
  const id = sessionId;
  const again = source ? () => sessionRecords(source(), id) : () => kept ?? [];
  return { assembler, again, ...(stored ? { stored } : {}), summary };
}

/**
 * A call's JSON item. The bodies of an assembler with `keepBodies: 'json'` are spliced in as the
 * JSON text it kept; otherwise they are serialised with the call.
 */
export function callJson(call: Call): string {
  const json = objectJson(toExportedCall(call));
  const input = bodyJson(call, 'input');
  const output = bodyJson(call, 'output');
  if (input === undefined && output === undefined) return json;
  // Without bodies on the call they are `null` in `json`; these member names cannot occur earlier
  // in the item (the quotes of any string holding them are escaped), so the first match is theirs.
  const i = input !== undefined ? json.indexOf(INPUT_AT) : -1;
  const o = output !== undefined ? json.indexOf(OUTPUT_AT) : -1;
  let out = '';
  let from = 0;
  if (i >= 0) {
    out += json.slice(from, i + INPUT_NULL) + input;
    from = i + INPUT_NULL + 4;
  }
  if (o >= 0) {
    out += json.slice(from, o + OUTPUT_NULL) + output;
    from = o + OUTPUT_NULL + 4;
  }
  return out + json.slice(from);
}

const INPUT_AT = ',"input":null,"input_summary":';
const INPUT_NULL = ',"input":'.length;
const OUTPUT_AT = ',"output":null,"output_summary":';
const OUTPUT_NULL = ',"output":'.length;

export function mixedSessions(r: JournalRecord, expected: string): Error {
  return new Error(`export: record seq ${r.seq} belongs to session ${r.session_id}, not ${expected}; export one session at a time or pass sessionId`);
}

export function noRecords(opts: ExportOptions): Error {
  return new Error(opts.sessionId !== undefined ? `export: no records for session ${opts.sessionId}` : 'export: no records to export');
}

/**
 * A piece of the export: text, or a record's text as the journal stores it (UTF-8 bytes; a view
 * into a read buffer, to be used before the next piece is asked for).
 */
type Piece = string | Buffer;

/** The JSON export as pieces, unbatched (the generator's return value is the result). */
function* sessionJsonPieces(input: ExportInput, opts: ExportOptions): Generator<Piece, ExportResult, undefined> {
  const { assembler, again, stored, summary } = firstPass(input, opts);

  yield `{"format":${JSON.stringify(SESSION_EXPORT_FORMAT)},\n"session":${jsonOf(summary)},\n"connections":[`;
  let sep = '\n';
  for (const c of sessionConnections(assembler)) {
    yield sep + objectJson(toExportedConnection(c));
    sep = ',\n';
  }
  yield '],\n"calls":[';
  sep = '\n';
  let calls = 0;
  for (const call of assembler.calls.values()) {
    yield sep + callJson(call);
    sep = ',\n';
    calls++;
  }
  yield '],\n"alerts":[';
  sep = '\n';
  for (const alert of assembler.alerts) {
    yield sep + objectJson(toExportedAlert(alert));
    sep = ',\n';
  }
  yield ']';

  let events = 0;
  if (opts.includeEvents !== false) {
    yield ',\n"events":[';
    sep = '\n';
    let audit: ExportAudit | undefined;
    const writeRecord = function* (record: JournalRecord): Generator<Piece> {
      const json = eventJson(record);
      if (json !== undefined) yield sep + json;
      else {
        yield sep;
        yield* eventPieces(record);
      }
    };
    if (stored) {
      // One pass over the journal gives the stored texts and the audit section.
      const texts = readExportEvents(summary.session_id, stored.locations, opts.audit === false ? false : typeof opts.audit === 'object' ? opts.audit : {});
      for (let i = 0; ; i++) {
        const step = texts.next();
        if (step.done) {
          audit = step.value;
          break;
        }
        if (stored.asStored[i]) {
          yield sep;
          yield step.value;
        } else yield* writeRecord(JSON.parse(step.value.toString('utf8')) as JournalRecord);
        sep = ',\n';
        events++;
      }
    } else {
      const locations: Array<JournalLocation | undefined> | undefined = opts.audit === false ? undefined : [];
      for (const { record, location } of again()) {
        locations?.push(location);
        yield* writeRecord(record);
        sep = ',\n';
        events++;
      }
      audit = locations ? exportAuditFor(summary.session_id, locations, opts) : undefined;
    }
    yield ']';
    if (audit) yield `,\n"audit":${jsonOf(audit)}`;
  }
  yield '}\n';
  return { summary, calls, events };
}

/** The JSON export, as a pull-based sequence of chunks (the generator's return value is the result). */
export function* sessionJsonChunks(input: ExportInput, opts: ExportOptions = {}): Generator<string, ExportResult, undefined> {
  const pieces = sessionJsonPieces(input, opts);
  const b = new ChunkBatcher(opts.chunkSize);
  let out: string | undefined;
  for (;;) {
    const step = pieces.next();
    if (step.done) {
      if ((out = b.end())) yield out;
      return step.value;
    }
    const p = step.value;
    if ((out = b.add(typeof p === 'string' ? p : p.toString('utf8')))) yield out;
  }
}

/** Writes the JSON export to `out` chunk by chunk. */
export function exportSessionJson(input: ExportInput, out: ExportSink, opts: ExportOptions = {}): ExportResult {
  return drain(sessionJsonChunks(input, opts), out);
}

/**
 * Writes the JSON export as UTF-8 to `write`, in chunks of about `chunkSize` bytes (default 1 MiB).
 * The fast way to a file: stored records go out as the bytes the journal holds, never decoded
 * and encoded again. `write` must consume each chunk before it returns: its buffer is reused.
 */
export function exportSessionJsonBytes(input: ExportInput, write: (chunk: Buffer) => void, opts: ExportOptions = {}): ExportResult {
  const pieces = sessionJsonPieces(input, opts);
  const out = new ByteChunks(opts.chunkSize ?? BYTE_CHUNK, write);
  for (;;) {
    const step = pieces.next();
    if (step.done) {
      out.flush();
      return step.value;
    }
    out.add(step.value);
  }
}

const BYTE_CHUNK = 1024 * 1024;

/** Gathers pieces into one reused buffer, handed to `emit` whenever it is full. */
class ByteChunks {
  private readonly buf: Buffer;
  private pos = 0;

  constructor(
    size: number,
    private readonly emit: (chunk: Buffer) => void,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 64 * 1024));
  }

  add(piece: Piece): void {
    if (typeof piece === 'string') {
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      if (piece.length * 3 > this.buf.length - this.pos) {
        this.flush();
        if (piece.length * 3 > this.buf.length) {
          this.emit(Buffer.from(piece, 'utf8'));
          return;
        }
      }
      this.pos += this.buf.write(piece, this.pos, 'utf8');
      return;
    }
    // A damaged journal line that is not UTF-8 goes out as the string export writes it (U+FFFD for bad bytes).
    const bytes = isUtf8(piece) ? piece : Buffer.from(piece.toString('utf8'), 'utf8');
    if (bytes.length > this.buf.length - this.pos) {
      this.flush();
      if (bytes.length > this.buf.length) {
        this.emit(bytes);
        return;
      }
    }
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  flush(): void {
    if (this.pos === 0) return;
    this.emit(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }
}

/** The JSON export as one string (tests, small sessions). */
export function exportSessionToString(input: ExportInput, opts: ExportOptions = {}): string {
  const parts: string[] = [];
  exportSessionJson(input, (c) => parts.push(c), opts);
  return parts.join('');
}
