import { assembleSession, type CallAssembler } from '../../src/core/analysis/calls';
import type { Call } from '../../src/core/model/calls';
import type { JournalRecord } from '../../src/core/model/records';
import { listSegments, readSegment, type SegmentProblem } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';

/** Every record of a store, straight from the journal segments (no index involved). */
export function readStore(root: string): { records: JournalRecord[]; problems: SegmentProblem[] } {
  const records: JournalRecord[] = [];
  const problems: SegmentProblem[] = [];
  for (const file of listSegments(storeLayout(root))) {
    const r = readSegment(file, 0, { final: true });
    records.push(...r.records.map((x) => x.record));
    problems.push(...r.problems);
  }
  return { records, problems };
}

export function sessionsIn(root: string): Map<string, JournalRecord[]> {
  const by = new Map<string, JournalRecord[]>();
  for (const r of readStore(root).records) {
    let list = by.get(r.session_id);
    if (!list) by.set(r.session_id, (list = []));
    list.push(r);
  }
  return by;
}

/** The only session of a store, assembled into calls. */
export function onlySession(root: string): { assembler: CallAssembler; records: JournalRecord[]; calls: Call[] } {
  const sessions = sessionsIn(root);
  if (sessions.size !== 1) throw new Error(`expected one session in ${root}, found ${sessions.size}`);
  const records = [...sessions.values()][0]!;
  const assembler = assembleSession(records.map((record) => ({ record })));
  return { assembler, records, calls: [...assembler.calls.values()] };
}

export function toolCalls(calls: Call[], tool?: string): Call[] {
  return calls.filter((c) => c.method === 'tools/call' && (tool === undefined || c.tool === tool));
}
