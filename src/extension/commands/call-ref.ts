import type { CallRow as StoreCallRow } from '../../core/store/store';
import type { TimelineSource } from '../views/timeline-data';

/** A call, as the tree, the timeline, notifications and other commands hand it to a command. */
export interface CallRef {
  session_id: string;
  call_id: string;
  /** Set when the call comes from an exported file rather than the workspace store. */
  source?: TimelineSource;
}

export function callRefOf(arg: unknown): CallRef | undefined {
  const a = arg as { kind?: string; call?: StoreCallRow; session_id?: unknown; call_id?: unknown; source?: TimelineSource } | undefined;
  if (a?.kind === 'call' && a.call) return { session_id: a.call.session_id, call_id: a.call.call_id };
  if (typeof a?.session_id === 'string' && typeof a.call_id === 'string') return { session_id: a.session_id, call_id: a.call_id, ...(a.source ? { source: a.source } : {}) };
  return undefined;
}
