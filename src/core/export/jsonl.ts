import { CallAssembler } from '../analysis/calls';
import { sessionConnections, summarizeSession } from '../analysis/summary';
import type { Call } from '../model/calls';
import {
  ChunkBatcher,
  drain,
  eventJson,
  exportAuditFor,
  eventPieces,
  jsonOf,
  noRecords,
  objectJson,
  mixedSessions,
  toExportedAlert,
  callJson,
  toExportedConnection,
  type ExportInput,
  type ExportOptions,
  type ExportRecord,
  type ExportResult,
  type ExportSink,
} from './session-json';
import type { JournalLocation } from '../model/calls';

/**
 * Session export as JSON Lines (`mcp-flight.session.jsonl/v1`): one JSON object per line, each
 * with a `kind`, written in a single pass over the records so it can follow a session as it is
 * recorded and never holds the records themselves:
 *
 *   {"kind":"session", …}        first line: what is known when the session starts
 *   {"kind":"event", …}          every journal record, in journal order
 *   {"kind":"alert", …}          each security alert, right after its event
 *   {"kind":"call", …}           each call, right after the event that completed it
 *   {"kind":"call", …}           at the end: the calls still pending, in request order
 *   {"kind":"connection", …}     at the end: each connection's final state
 *   {"kind":"summary", …}        last line: the session summary (the JSON export's `session`),
 *                                plus the `audit` trail when the records came from a journal
 *
 * A call line is written once its outcome is known, because a call never changes afterwards;
 * connections and the summary change until the last record, so they close the file. A file
 * without a summary line is a cut-short export. Call, connection and event lines carry the same
 * fields as the JSON export's items; see docs/export-format.md.
 */

export const SESSION_JSONL_FORMAT = 'mcp-flight.session.jsonl/v1';
const EVENT_PREFIX = '"kind":"event",';

export function* sessionJsonlChunks(input: ExportInput, opts: ExportOptions = {}): Generator<string, ExportResult, undefined> {
  const records: Iterable<ExportRecord> = typeof input === 'function' ? input() : input;
  const includeEvents = opts.includeEvents !== false;
  const assembler = new CallAssembler({ keepBodies: 'json', ...(opts.policy ? { policy: opts.policy } : {}) });
  const emitted = new Set<Call>();
  const b = new ChunkBatcher(opts.chunkSize);
  let out: string | undefined;
  let started = false;
  let lastTs: string | undefined;
  let calls = 0;
  let events = 0;

  let sessionId = opts.sessionId;
  const locations: Array<JournalLocation | undefined> | undefined = includeEvents && opts.audit !== false ? [] : undefined;
  for (const { record, location, text } of records) {
    if (sessionId === undefined) sessionId = record.session_id;
    else if (record.session_id !== sessionId) {
      if (opts.sessionId !== undefined) continue;
      throw mixedSessions(record, sessionId);
    }
    if (!started) {
      started = true;
      const start = record.type === 'session_start' ? record : undefined;
      const head = {
        kind: 'session',
        format: SESSION_JSONL_FORMAT,
        session_id: record.session_id,
        started_at: start?.ts ?? null,
        recorder: start?.recorder ?? null,
        replay_of: start?.replay_of ?? null,
      };
      if ((out = b.add(`${jsonOf(head)}\n`))) yield out;
    }
    lastTs = record.ts;
    const touched = assembler.add(record, location);
    locations?.push(location);
    if (includeEvents) {
      const json = eventJson(record, EVENT_PREFIX, text);
      if (json !== undefined) {
        if ((out = b.add(`${json}\n`))) yield out;
      } else {
        for (const piece of eventPieces(record, EVENT_PREFIX)) if ((out = b.add(piece))) yield out;
        if ((out = b.add('\n'))) yield out;
      }
      events++;
    }
    if (record.type === 'alert' && (out = b.add(`{"kind":"alert",${objectJson(toExportedAlert(record)).slice(1)}\n`))) yield out;
    // A call never changes once it has an outcome: write it as soon as it has one.
    let done: Call[] | undefined;
    for (const c of touched) if (c.outcome !== 'pending' && !emitted.has(c)) (done ??= []).push(c);
    if (done) {
      if (done.length > 1) done.sort((x, y) => x.request_seq - y.request_seq);
      for (const call of done) {
        emitted.add(call);
        calls++;
        if ((out = b.add(`${callLine(call)}\n`))) yield out;
      }
    }
  }
  if (!started) throw noRecords(opts);

  for (const call of assembler.calls.values()) {
    if (emitted.has(call)) continue;
    calls++;
    if ((out = b.add(`${callLine(call)}\n`))) yield out;
  }
  for (const c of sessionConnections(assembler)) {
    if ((out = b.add(`{"kind":"connection",${objectJson(toExportedConnection(c)).slice(1)}\n`))) yield out;
  }
  const summary = summarizeSession(assembler, { writerAlive: opts.writerAlive ?? false, ...(lastTs !== undefined ? { lastRecordTs: lastTs } : {}) });
  const audit = locations ? exportAuditFor(summary.session_id, locations, opts) : undefined;
  const summaryJson = jsonOf(summary);
  if ((out = b.add(`{"kind":"summary",${audit ? `${summaryJson.slice(1, -1)},"audit":${jsonOf(audit)}}` : summaryJson.slice(1)}\n`))) yield out;
  if ((out = b.end())) yield out;
  return { summary, calls, events };
}

function callLine(call: Call): string {
  return `{"kind":"call",${callJson(call).slice(1)}`;
}

/** Writes the JSONL export to `out` chunk by chunk. */
export function exportSessionJsonl(input: ExportInput, out: ExportSink, opts: ExportOptions = {}): ExportResult {
  return drain(sessionJsonlChunks(input, opts), out);
}

/** The JSONL export as one string (tests, small sessions). */
export function exportSessionJsonlToString(input: ExportInput, opts: ExportOptions = {}): string {
  const parts: string[] = [];
  exportSessionJsonl(input, (c) => parts.push(c), opts);
  return parts.join('');
}
