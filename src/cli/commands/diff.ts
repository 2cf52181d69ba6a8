import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { diffCalls, diffSessions, type DiffSession } from '../../core/analysis/diff';
import { diffSessionFromExport, diffSessionFromRecords, findCall } from '../../core/analysis/diff-input';
import { formatCallDiffText, formatSessionDiffText } from '../../core/analysis/diff-text';
import { readSessionExport } from '../../core/export/read';
import type { Store } from '../../core/store/store';
import { openForReading, resolveSession } from '../store-access';
import { CommandError, UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight diff [--store DIR] [--json] [--ignore POINTER]... SESSION_A SESSION_B
  mcp-flight diff [--store DIR] [--json] [--ignore POINTER]... SESSION_A:CALL_A SESSION_B:CALL_B

Compares two sessions — calls added (in B only), missing (in A only), changed (arguments,
outcome, error class, result) and slower (B at least 2x and at least 100 ms slower), with
counts per tool — or two calls: arguments and results structurally, outcome, error, duration.

SESSION is a session id of the store, a unique prefix of one, "latest", "latest~N" (the Nth
session before the latest), or an exported session file (JSON or JSONL, from "mcp-flight
export"). CALL is a call id (<connection>:<seq>), its request sequence number, or a unique
prefix of the id: e.g. latest:12, 3f2a9c:12, ./before.json:0b1c…:7.

Calls are matched between sessions by server, method, tool and canonical arguments (then by
order of occurrence); what is left by server, method and tool, in order; the rest is added or
missing. Parts recorded opaque (too large or deep) or at capture level "metadata" are listed
as not compared. Reports are documented in docs/diff.md.

Options:
  --store DIR        the store (default: $MCP_FLIGHT_STORE, else ./.mcp-flight)
  --json             print the report as JSON ("format": "mcp-flight.diff/v1")
  --ignore POINTER   leave a JSON Pointer out of the comparison of arguments and results,
                     "*" matching one segment (e.g. /content/*/text); repeatable
  --slower-ratio R   B counts as slower from R times A's duration (default 2)
  --slower-min-ms N  ... and at least N ms more (default 100)

Exit status: 0 identical, 1 different, 2 error (usage, unknown session or call, unreadable file).`;

interface Ref {
  session: { file: string } | { store: string };
  call?: string;
}

const EXPLAINED = new Set(['CommandError', 'ExportReadError', 'StoreMissingError', 'StoreVersionError', 'LockError', 'IndexImageError', 'AuditKeyError']);

/** `latest~N`: the Nth session before the latest (sessions are listed newest first). */
const LATEST_N = /^latest~(\d+)$/;

export async function diffCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { store: { type: 'string' }, json: { type: 'boolean' }, ignore: { type: 'string', multiple: true }, 'slower-ratio': { type: 'string' }, 'slower-min-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(positionals.length < 2 ? 'give two sessions (or two calls) to compare' : `unexpected argument "${positionals[2]}"`);
  for (const p of values.ignore ?? []) if (p !== '' && !p.startsWith('/')) throw new UsageError(`--ignore takes a JSON Pointer starting with "/", not "${p}"`);
  const ratio = positiveNumber(values['slower-ratio'], '--slower-ratio', 1);
  const minMs = positiveNumber(values['slower-min-ms'], '--slower-min-ms', 0);
  const refs = positionals.map(parseRef) as [Ref, Ref];
  if ((refs[0].call === undefined) !== (refs[1].call === undefined)) throw new UsageError('compare two sessions (SESSION SESSION) or two calls (SESSION:CALL SESSION:CALL), not one of each');

  // Whatever goes wrong from here (a missing store, session, call or file) is exit code 2, as documented.
  let store: Store | undefined;
  try {
    const loaded = new Map<string, DiffSession>();
    const load = async (ref: Ref): Promise<DiffSession> => {
      if ('file' in ref.session) {
        const file = path.resolve(ref.session.file);
        const key = `file:${file}`;
        let s = loaded.get(key);
        if (!s) {
          const doc = readSessionExport(file);
          // Honest about the input: calls still pending when a JSONL file was cut are not in it.
          if (!doc.complete) process.stderr.write(`mcp-flight diff: note: ${file} has no summary line (cut short or still being written); calls pending at that point are not in it\n`);
          loaded.set(key, (s = diffSessionFromExport(doc, key)));
        }
        return s;
      }
      store ??= await openForReading(values.store);
      const row = resolveStoreSession(store, ref.session.store);
      const key = `store:${store.root}#${row.session_id}`;
      let s = loaded.get(key);
      if (!s) loaded.set(key, (s = diffSessionFromRecords(store.readSessionRecords(row.session_id), `store:${store.root}`, { writerAlive: row.writer_alive !== false })));
      return s;
    };
    const a = await load(refs[0]);
    const b = await load(refs[1]);
    const options = { ignore: values.ignore ?? [], slower: { ...(ratio !== undefined ? { ratio } : {}), ...(minMs !== undefined ? { minMs } : {}) } };
    if (refs[0].call !== undefined && refs[1].call !== undefined) {
      const ca = findCall(a, refs[0].call);
      const cb = findCall(b, refs[1].call);
      if ('problem' in ca) throw new CommandError(ca.problem);
      if ('problem' in cb) throw new CommandError(cb.problem);
      const report = diffCalls(ca.call, cb.call, options);
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatCallDiffText(report));
      return report.identical ? 0 : 1;
    }
    const report = diffSessions(a, b, options);
    process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatSessionDiffText(report));
    return report.identical ? 0 : 1;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // Failures core explains in words are printed as such; anything else is a bug and keeps its stack.
    const explained = EXPLAINED.has((err as Error).name);
    process.stderr.write(`mcp-flight diff: ${explained ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    return 2;
  } finally {
    (store as Store | undefined)?.close();
  }
}

function resolveStoreSession(store: Store, which: string): ReturnType<typeof resolveSession> {
  const m = LATEST_N.exec(which);
  if (m) {
    const n = Number(m[1]);
    const row = store.sessions()[n];
    if (!row) throw new CommandError(`there is no session "${which}": the store at ${store.root} holds ${store.sessions().length}`);
    return row;
  }
  return resolveSession(store, which);
}

/**
 * `SESSION` or `SESSION:CALL`, where SESSION may be a file. An existing file wins; then the
 * shortest prefix before a ":" that is an existing file (so `C:\x.json:c1:7` works); otherwise
 * a store session before the first ":" (session ids hold no ":").
 */
function parseRef(arg: string): Ref {
  if (arg === '') throw new UsageError('an empty session reference');
  if (isFile(arg)) return { session: { file: arg } };
  for (let i = arg.indexOf(':'); i !== -1; i = arg.indexOf(':', i + 1)) {
    const left = arg.slice(0, i);
    if (left && isFile(left)) return { session: { file: left }, call: nonEmptyCall(arg.slice(i + 1), arg) };
  }
  const colon = arg.indexOf(':');
  const session = colon === -1 ? arg : arg.slice(0, colon);
  // A file reference that names no file is the user's mistake, reported before anything is opened.
  if (looksLikeFile(session)) throw new UsageError(`${session}: no such file`);
  if (!session) throw new UsageError(`"${arg}": a session is missing before ":"`);
  return colon === -1 ? { session: { store: session } } : { session: { store: session }, call: nonEmptyCall(arg.slice(colon + 1), arg) };
}

function nonEmptyCall(call: string, arg: string): string {
  if (!call) throw new UsageError(`"${arg}": a call id is missing after ":"`);
  return call;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function looksLikeFile(s: string): boolean {
  return /\.jsonl?$/i.test(s) || s.includes('/') || s.includes('\\');
}

/** A threshold option: a finite number ≥ `min`, or undefined when not given. */
function positiveNumber(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} takes a number ≥ ${min}, not "${text}"`);
  return n;
}
