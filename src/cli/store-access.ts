import { openStore, type SessionRow, type Store } from '../core/store/store';
import { CommandError, storeDir } from './usage';

/**
 * Opens the store for a read command and resolves `--session ID|latest`. The CLI tries to take
 * the index lock so its catch-up is saved for the next reader; when another process (the
 * extension, a second CLI) holds it, the index simply lives in memory for this command.
 */
export async function openForReading(storeFlag: string | undefined): Promise<Store> {
  const store = await openStore(storeDir(storeFlag), { writeIndex: true });
  // Another holder of the index lock is normal (the extension runs); anything else is worth saying.
  for (const w of store.warnings) if (!/in memory only/.test(w)) process.stderr.write(`mcp-flight: ${w}\n`);
  return store;
}

export function resolveSession(store: Store, which: string | undefined): SessionRow {
  const id = which === undefined || which === 'latest' ? store.latestSessionId() : which;
  if (id === undefined) throw new CommandError(`the store at ${store.root} holds no sessions yet`);
  const exact = store.session(id);
  if (exact) return exact;
  // A unique prefix is enough, as with git commits.
  const matches = store.sessions().filter((s) => s.session_id.startsWith(id));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) throw new CommandError(`session "${id}" is ambiguous: ${matches.map((s) => s.session_id).join(', ')}`);
  throw new CommandError(`no session "${id}" in ${store.root} (see "mcp-flight sessions")`);
}
