import type { Store } from '../../src/core/store/store';

/** What a store's index says, in an order that does not depend on how it was built (live tail, rebuild, slices). */
export function storeSnapshot(store: Store): unknown {
  return {
    sessions: store.sessions(),
    // Calls with the same timestamp are in ingestion order, which differs between a live tail and a rebuild.
    calls: store.calls({ limit: 100_000, order: 'asc' }).sort((a, b) => (a.session_id + a.request_seq).localeCompare(b.session_id + b.request_seq)),
    connections: store.connections().sort((a, b) => (a.session_id + a.connection_id).localeCompare(b.session_id + b.connection_id)),
    problems: store.problems().map(({ found_at: _f, ...p }) => p),
  };
}
