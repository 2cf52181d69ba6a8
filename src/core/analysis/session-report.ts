import type { Call } from '../model/calls';
import type { JournalRecord } from '../model/records';
import { assembleSession, type AssemblerOptions, type CallAssembler } from './calls';
import { analyzeFailures, buildRecoveryPlan, findLaterCompletions, isClientToolCall, type LaterCompletion, type LaterSessionSource, type RecoveryPlan } from './recovery';
import { summarizeSession, type SessionSummary } from './summary';

/** What sessionReport needs of a store (the Store of src/core/store/store.ts). */
export interface RecoverySource extends LaterSessionSource {
  readSessionRecords(sessionId: string): Iterable<{ record: JournalRecord; location?: { file: string; offset: number; length: number } }>;
}

/**
 * A stored session's summary and recovery plan, both knowing what later sessions completed. The
 * session is assembled from the journal (the evidence) without bodies; the arguments of the calls
 * to resume are read back from the journal.
 */
export function sessionReport(
  source: RecoverySource,
  session: { session_id: string; writer_alive?: boolean | null; last_activity?: string },
  /** Prices and classifies with this policy instead of the session's recorded one (`--policy`). */
  policy?: AssemblerOptions['policy'],
): { summary: SessionSummary; plan: RecoveryPlan; assembler: CallAssembler } {
  const assembler = assembleSession(source.readSessionRecords(session.session_id), { keepBodies: false, ...(policy ? { policy } : {}) });
  const facts = { writerAlive: session.writer_alive !== false, ...(session.last_activity ? { lastRecordTs: session.last_activity } : {}) };
  const argumentsOf = (c: Call): unknown => {
    if (c.input !== undefined) return c.input;
    if (!c.request_location) return undefined;
    try {
      const rec = source.readBody(c.request_location);
      const params = rec.type === 'message' ? (rec.message as { params?: Record<string, unknown> }).params : undefined;
      return c.method === 'tools/call' ? params?.arguments : params;
    } catch {
      return undefined;
    }
  };
  const first = summarizeSession(assembler, facts);
  let summary = first;
  let completedLater: Map<string, LaterCompletion> | undefined;
  if (first.recovery_status === 'abandoned' || first.recovery_status === 'pending') {
    const a = analyzeFailures(assembler.calls.values());
    const undone = [...a.unrecovered, ...(first.terminal_state === 'interrupted' ? a.inFlight : [])].filter(isClientToolCall);
    completedLater = findLaterCompletions(source, session.session_id, undone.map((call) => ({ call, args: argumentsOf(call) })));
    if (completedLater.size) summary = summarizeSession(assembler, { ...facts, completedLater });
  }
  const plan = buildRecoveryPlan(assembler, summary, { argumentsOf, ...(completedLater ? { completedLater } : {}) });
  return { summary, plan, assembler };
}
