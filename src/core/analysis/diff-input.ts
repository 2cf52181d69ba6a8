import type { ReadExport } from '../export/read';
import { toExportedCall } from '../export/session-json';
import type { JournalLocation } from '../model/calls';
import type { JournalRecord } from '../model/records';
import type { Store } from '../store/store';
import { CallAssembler } from './calls';
import type { DiffableCall, DiffSession } from './diff';
import { safeText } from './diff-text';
import { summarizeSession } from './summary';

/**
 * The two sources of a diff's sessions: a store's journal (records) and an exported file. Both
 * become exported-call shapes, plus which sides were recorded at capture level "metadata" (the
 * record says so; the call alone would show an empty result that looks comparable).
 */

export function diffSessionFromRecords(records: Iterable<{ record: JournalRecord; location?: JournalLocation }>, source: string, facts: { writerAlive: boolean }): DiffSession {
  const assembler = new CallAssembler({ keepBodies: true });
  const metadataSeqs = new Set<number>();
  let lastTs: string | undefined;
  let sessionId: string | undefined;
  for (const { record, location } of records) {
    assembler.add(record, location);
    if (record.type === 'message' && record.capture === 'metadata') metadataSeqs.add(record.seq);
    lastTs = record.ts;
    sessionId ??= record.session_id;
  }
  if (sessionId === undefined) throw new Error(`${source}: the session has no records`);
  const summary = summarizeSession(assembler, { writerAlive: facts.writerAlive, ...(lastTs ? { lastRecordTs: lastTs } : {}) });
  const calls = [...assembler.calls.values()].map((c) => withCapture(toExportedCall(c), metadataSeqs));
  return { session_id: summary.session_id, source, started_at: summary.started_at, terminal_state: summary.terminal_state, tool_calls: summary.tool_calls, failed_calls: summary.failed_calls, calls };
}

export function diffSessionFromExport(doc: ReadExport, source: string): DiffSession {
  const metadataSeqs = new Set<number>();
  for (const e of doc.events ?? []) if (e.type === 'message' && e.capture === 'metadata') metadataSeqs.add(e.seq);
  const s = doc.session;
  return {
    session_id: s.session_id,
    source,
    started_at: s.started_at ?? null,
    terminal_state: s.terminal_state ?? null,
    tool_calls: s.tool_calls ?? null,
    failed_calls: s.failed_calls ?? null,
    calls: doc.calls.map((c) => withCapture(c, metadataSeqs)),
  };
}

function withCapture<C extends DiffableCall>(c: C, metadataSeqs: Set<number>): C {
  if (!metadataSeqs.size) return c;
  const sides: Array<'request' | 'response'> = [];
  if (metadataSeqs.has(c.request_seq)) sides.push('request');
  if (c.response_seq !== null && metadataSeqs.has(c.response_seq)) sides.push('response');
  return sides.length ? { ...c, not_recorded: sides } : c;
}

/** Finds a call in a session by its id, its request sequence number (digits), or a unique prefix of its id. */
export function findCall(session: DiffSession, ref: string): { call: DiffableCall } | { problem: string } {
  const exact = session.calls.find((c) => c.call_id === ref);
  if (exact) return { call: exact };
  if (/^\d+$/.test(ref)) {
    const bySeq = session.calls.find((c) => c.request_seq === Number(ref));
    if (bySeq) return { call: bySeq };
  }
  const prefixed = session.calls.filter((c) => c.call_id.startsWith(ref));
  if (prefixed.length === 1) return { call: prefixed[0]! };
  if (prefixed.length > 1) return { problem: `call "${ref}" is ambiguous in session ${session.session_id} (${prefixed.length} calls start with it)` };
  const listed = session.calls.slice(0, 20).map((c) => `  ${safeText(c.call_id)}  ${safeText(c.server.name)} · ${safeText(c.tool)}`);
  const more = session.calls.length > listed.length ? [`  … and ${session.calls.length - listed.length} more`] : [];
  return { problem: [`no call "${safeText(ref)}" in session ${session.session_id} (${session.source}); its calls:`, ...listed, ...more].join('\n') };
}

/**
 * One call of the store, read from its two journal records (not the whole session): what a
 * call-vs-call comparison needs. Undefined when the index does not know the call.
 */
export function diffCallFromStore(store: Store, sessionId: string, callId: string): DiffableCall | undefined {
  const row = store.call(sessionId, callId);
  if (!row) return undefined;
  const { request, response } = store.callBodies(row);
  const notRecorded: Array<'request' | 'response'> = [];
  if (request?.type === 'message' && request.capture === 'metadata') notRecorded.push('request');
  if (response?.type === 'message' && response.capture === 'metadata') notRecorded.push('response');
  const reqMessage = request?.type === 'message' ? (request.message as { params?: Record<string, unknown> }) : undefined;
  const input = reqMessage ? (row.method === 'tools/call' ? reqMessage.params?.arguments : reqMessage.params) : undefined;
  const resMessage = response?.type === 'message' ? (response.message as { result?: unknown; error?: unknown }) : undefined;
  const output = resMessage ? (resMessage.result ?? resMessage.error) : undefined;
  return {
    call_id: row.call_id,
    session_id: row.session_id,
    server: { name: row.server, version: row.server_version ?? null },
    tool: row.tool,
    method: row.method,
    direction: row.direction,
    timestamp: row.timestamp,
    duration_ms: row.duration_ms ?? null,
    outcome: row.outcome,
    error: row.error ?? null,
    input: input ?? null,
    input_summary: row.input_summary,
    output: output ?? null,
    output_summary: row.output_summary ?? null,
    opaque: row.opaque ?? [],
    request_seq: row.request_seq,
    response_seq: row.response_seq ?? null,
    ...(notRecorded.length ? { not_recorded: notRecorded } : {}),
  };
}
