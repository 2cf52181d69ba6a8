import * as fs from 'node:fs';
import type { SessionSummary } from '../analysis/summary';
import type { JournalRecord } from '../model/records';
import { SESSION_JSONL_FORMAT } from './jsonl';
import { SESSION_EXPORT_FORMAT, type ExportedCall } from './session-json';

/**
 * Reads an exported session back — a JSON document (`mcp-flight.session/v1`) or JSON Lines
 * (`mcp-flight.session.jsonl/v1`) — into its parts. Checks the shape it relies on and says
 * plainly what is wrong; it does not verify the audit trail (that is `mcp-flight verify`).
 */

export interface ReadExport {
  encoding: 'json' | 'jsonl';
  /** The session summary (a JSONL file cut short has only its first line's fields, `complete` false). */
  session: Partial<SessionSummary> & { session_id: string };
  calls: ExportedCall[];
  /** The raw journal records, when the export carries them. */
  events: JournalRecord[] | null;
  /** False for a JSONL file without its closing summary line (cut short or still being written). */
  complete: boolean;
}

export class ExportReadError extends Error {
  override name = 'ExportReadError';
}

export function readSessionExport(file: string): ReadExport {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ExportReadError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseSessionExport(text, file);
}

export function parseSessionExport(text: string, name = 'the export'): ReadExport {
  const start = text.trimStart();
  // A JSON export's first line is `{"format":…,` — not a whole object; a JSONL export's first line is one.
  const firstLine = start.slice(0, start.indexOf('\n') === -1 ? undefined : start.indexOf('\n'));
  let head: unknown;
  try {
    head = JSON.parse(firstLine);
  } catch {
    head = undefined;
  }
  if (isObject(head) && head.kind === 'session') return parseJsonl(text, name);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ExportReadError(`${name} is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc) || doc.format !== SESSION_EXPORT_FORMAT) {
    throw new ExportReadError(`${name} is not an MCP Flight Recorder session export (expected "format": "${SESSION_EXPORT_FORMAT}" or JSONL "${SESSION_JSONL_FORMAT}", found ${isObject(doc) ? JSON.stringify(doc.format ?? null) : typeof doc})`);
  }
  const session = doc.session;
  if (!isObject(session) || typeof session.session_id !== 'string') throw new ExportReadError(`${name} has no session.session_id`);
  if (!Array.isArray(doc.calls)) throw new ExportReadError(`${name} has no calls array`);
  const calls = doc.calls.map((c, i) => checkCall(c, `${name}: calls[${i}]`));
  return { encoding: 'json', session: session as ReadExport['session'], calls, events: Array.isArray(doc.events) ? (doc.events as JournalRecord[]) : null, complete: true };
}

function parseJsonl(text: string, name: string): ReadExport {
  let session: Record<string, unknown> | undefined;
  let summary: Record<string, unknown> | undefined;
  const calls: ExportedCall[] = [];
  const events: JournalRecord[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (!line.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      // A last line cut short is what a live or interrupted export looks like: stop there.
      if (n >= lines.length - 2) break;
      throw new ExportReadError(`${name}, line ${n + 1}: not JSON: ${(err as Error).message}`);
    }
    if (!isObject(obj)) throw new ExportReadError(`${name}, line ${n + 1}: not a JSON object`);
    const { kind, ...rest } = obj;
    if (kind === 'session') {
      if (rest.format !== SESSION_JSONL_FORMAT) throw new ExportReadError(`${name} is not an MCP Flight Recorder JSONL export (format ${JSON.stringify(rest.format ?? null)})`);
      session = rest;
    } else if (kind === 'call') calls.push(checkCall(rest, `${name}, line ${n + 1}`));
    else if (kind === 'event') events.push(rest as unknown as JournalRecord);
    else if (kind === 'summary') summary = rest;
  }
  if (!session || typeof session.session_id !== 'string') throw new ExportReadError(`${name} has no session line`);
  const { format: _format, ...sessionFields } = session;
  // Calls are written as they complete; request order is what every reader expects.
  calls.sort((x, y) => x.request_seq - y.request_seq);
  return { encoding: 'jsonl', session: { ...sessionFields, ...(summary ?? {}) } as ReadExport['session'], calls, events, complete: summary !== undefined };
}

function checkCall(c: unknown, where: string): ExportedCall {
  if (!isObject(c)) throw new ExportReadError(`${where}: not an object`);
  for (const k of ['call_id', 'tool', 'method', 'outcome', 'timestamp'] as const) {
    if (typeof c[k] !== 'string') throw new ExportReadError(`${where}: "${k}" is missing or not a string`);
  }
  if (!isObject(c.server) || typeof c.server.name !== 'string') throw new ExportReadError(`${where}: "server.name" is missing`);
  if (typeof c.request_seq !== 'number') throw new ExportReadError(`${where}: "request_seq" is missing`);
  // Fields added within v1 may be missing from older files: give them their documented "absent" values.
  return { opaque: [], input: null, output: null, error: null, duration_ms: null, response_seq: null, input_summary: '', output_summary: null, direction: 'client_to_server', ...c } as unknown as ExportedCall;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
