import * as crypto from 'node:crypto';
import * as path from 'node:path';
import type { JournalLocation } from '../model/calls';
import type { CheckpointRecord, SegmentHeader } from '../model/records';
import { canonicalize } from './canonical';
import { chainSessionId, fileLines, GENESIS, leafOf, linkOf, looksLikeCheckpoint, macOf, openLine, parseOpened, type RawLine } from './chain';
import { type AuditKeys, loadAuditKeys } from './keys';

/**
 * The audit trail an export carries (`audit` in the JSON document, in the last line of JSONL):
 * the stretch of each journal segment that holds the session's records, from the checkpoint
 * before its first record (or the segment header) to the checkpoint after its last one, with
 *
 *   - every chain value (`h`), so the first bad event can be named;
 *   - the signed checkpoints in full, and the segment header when the stretch starts there;
 *   - for records of other sessions interleaved in the same segment (a replay recorded while the
 *     session ran), only their session id and leaf hash — none of their content.
 *
 * and the exporter's signature over all of it (the same Ed25519 key), which binds how many
 * events there are: cutting an export after a checkpoint is detectable. Verifying needs the
 * public key alone (src/core/audit/verify.ts, docs/audit-trail.md).
 */

export const EXPORT_AUDIT_FORMAT = 'mcp-flight.export-audit/v1';

export type AuditEntry =
  | { header: SegmentHeader; h: string }
  | { checkpoint: CheckpointRecord; h: string }
  /** The next `h.length` events of the export, in order. */
  | { events: number; h: string[] }
  /** A line of another session (or none: session id ""), by its leaf hash. */
  | { other: string; leaf: string; h: string }
  /** A line the exporter could not read as a chained record. */
  | { broken: string };

export interface ExportAuditPart {
  /** The segment's file name. */
  segment: string;
  writer_id: string;
  segment_no: number;
  /** Line number (0 = header) of the first entry. */
  start: number;
  entries: AuditEntry[];
  /** The last entry's line number and chain value. */
  end: { line: number; h: string };
}

export interface ExportAudit {
  format: typeof EXPORT_AUDIT_FORMAT;
  session_id: string;
  store_id: string;
  public_key: { alg: 'Ed25519'; raw: string; fingerprint: string };
  /** How many events the export has (all of them covered by `parts`). */
  events: number;
  parts: ExportAuditPart[];
  /** What the exporter found wrong while reading the journal (chain or MAC mismatches); empty when nothing. */
  problems: string[];
  exported_at: string;
  /** The exporter's Ed25519 signature over the canonical JSON of everything above; null when it had no key. */
  signature: { key: string; sig: string } | null;
}

export interface BuildAuditOptions {
  home?: string;
  /** Keys to check MACs and sign with; null: none (default: the user's, if any). */
  keys?: AuditKeys | null;
}

/**
 * The audit section for an export of `sessionId` whose events are the records at `locations`, in
 * export order. Undefined when there is nothing to carry: a record without a location, or a
 * journal written without the audit trail.
 */
export function buildExportAudit(sessionId: string, locations: ReadonlyArray<JournalLocation | undefined>, options: BuildAuditOptions = {}): ExportAudit | undefined {
  if (!locations.length || locations.some((l) => !l || !path.isAbsolute(l.file))) return undefined;
  let keys: AuditKeys | null | undefined = options.keys;
  if (keys === undefined) {
    try {
      keys = loadAuditKeys({ ...(options.home ? { home: options.home } : {}), create: false }) ?? null;
    } catch {
      keys = null;
    }
  }
  const groups: Array<{ file: string; offsets: number[] }> = [];
  for (const loc of locations as JournalLocation[]) {
    const last = groups[groups.length - 1];
    if (last && last.file === loc.file) last.offsets.push(loc.offset);
    else groups.push({ file: loc.file, offsets: [loc.offset] });
  }
  const problems: string[] = [];
  const parts: ExportAuditPart[] = [];
  let header: SegmentHeader | undefined;
  for (const g of groups) {
    const built = buildPart(sessionId, g.file, g.offsets, keys, problems);
    if (!built) return undefined;
    header ??= built.header;
    parts.push(built.part);
  }
  const audit = header?.audit;
  if (!audit) return undefined;
  const body: Omit<ExportAudit, 'signature'> = {
    format: EXPORT_AUDIT_FORMAT,
    session_id: sessionId,
    store_id: audit.store_id,
    public_key: { alg: 'Ed25519', raw: audit.public_key, fingerprint: audit.key },
    events: locations.length,
    parts,
    problems,
    exported_at: new Date().toISOString(),
  };
  const signature = keys && keys.fingerprint === audit.key ? { key: keys.fingerprint, sig: crypto.sign(null, Buffer.from(canonicalize(body), 'utf8'), keys.privateKey).toString('base64') } : null;
  return { ...body, signature };
}

function buildPart(sessionId: string, file: string, offsets: number[], keys: AuditKeys | null, problems: string[]): { part: ExportAuditPart; header?: SegmentHeader } | undefined {
  const name = path.basename(file);
  const want = new Set(offsets);
  const first = offsets[0]!;
  const last = offsets[offsets.length - 1]!;
  const m = /^(.*)-(\d+)\.jsonl$/.exec(name);
  const part: ExportAuditPart = { segment: name, writer_id: m?.[1] ?? name, segment_no: m ? Number(m[2]) : -1, start: 0, entries: [], end: { line: -1, h: '' } };
  let header: SegmentHeader | undefined;
  let pending: RawLine[] = [];
  let started = false;
  let prev: Buffer = GENESIS;
  let found = 0;

  const add = (line: RawLine, anchor: boolean): void => {
    const where = `${name} line ${line.index + 1}`;
    const opened = openLine(line.bytes);
    if (!anchor && opened && want.has(line.offset)) {
      // An exported event: its chain value is carried, and the reader recomputes its leaf from
      // the exported event itself (verify.ts), so it is not parsed and hashed here again. Its
      // MAC is checked — the one thing a reader without the secret key cannot check.
      const stored = Buffer.from(opened.h, 'hex');
      if (keys && !macOf(keys.macKey, stored, opened).equals(Buffer.from(opened.mac, 'hex'))) problems.push(`${where}: HMAC mismatch (the line was changed after it was written)`);
      found++;
      const lastEntry = part.entries[part.entries.length - 1];
      if (lastEntry && 'events' in lastEntry) {
        lastEntry.events++;
        lastEntry.h.push(opened.h);
      } else part.entries.push({ events: 1, h: [opened.h] });
      prev = stored;
      part.end = { line: line.index, h: opened.h };
      return;
    }
    let value: unknown;
    try {
      if (!opened) throw new Error('not a chained line');
      value = parseOpened(opened);
      if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      part.entries.push({ broken: `${where}: ${(err as Error).message}` });
      part.end = { line: line.index, h: '' };
      return;
    }
    const rec = value as { type?: unknown; h?: unknown };
    const leaf = leafOf(value);
    const sid = chainSessionId(value);
    const stored = Buffer.from(opened!.h, 'hex');
    if (keys && !macOf(keys.macKey, stored, opened!).equals(Buffer.from(opened!.mac, 'hex'))) problems.push(`${where}: HMAC mismatch (the line was changed after it was written)`);
    if (anchor) {
      if (line.index === 0 && rec.type === 'segment') {
        header = value as SegmentHeader;
        part.entries.push({ header, h: opened!.h });
        prev = GENESIS;
      } else if (rec.type === 'checkpoint' && typeof rec.h === 'string') {
        part.entries.push({ checkpoint: value as CheckpointRecord, h: opened!.h });
        prev = Buffer.from(rec.h, 'hex');
      } else {
        problems.push(`${where}: expected the segment header or a checkpoint`);
      }
      part.start = line.index;
    } else if (want.has(line.offset)) {
      found++;
      if (sid !== sessionId) problems.push(`${where}: exported record of session "${sid}"`);
      const lastEntry = part.entries[part.entries.length - 1];
      if (lastEntry && 'events' in lastEntry) {
        lastEntry.events++;
        lastEntry.h.push(opened!.h);
      } else part.entries.push({ events: 1, h: [opened!.h] });
    } else if (rec.type === 'checkpoint') {
      part.entries.push({ checkpoint: value as CheckpointRecord, h: opened!.h });
    } else {
      if (sid === sessionId) problems.push(`${where}: a record of this session is not among the exported events`);
      part.entries.push({ other: sid, leaf: leaf.toString('hex'), h: opened!.h });
    }
    if (!linkOf(prev, leaf, sid).equals(stored)) problems.push(`${where}: the hash chain breaks (the line does not follow the one before it)`);
    prev = stored;
    part.end = { line: line.index, h: opened!.h };
  };

  try {
    for (const line of fileLines(file)) {
      if (line.torn) break;
      if (!started) {
        if (line.index === 0 || looksLikeCheckpoint(line.bytes)) pending = [line];
        else pending.push(line);
        if (line.offset !== first) continue;
        started = true;
        pending.forEach((l, i) => add(l, i === 0));
        pending = [];
        if (!header && part.start === 0) return undefined;
        continue;
      }
      if (line.offset <= last) {
        add(line, false);
        continue;
      }
      // Past the session's last exported record: on to the checkpoint that seals it, but never
      // over a record of the session the export does not have (written after it was read).
      if (looksLikeCheckpoint(line.bytes)) {
        add(line, false);
        break;
      }
      const opened = openLine(line.bytes);
      let sid = '';
      try {
        sid = opened ? chainSessionId(parseOpened(opened)) : '';
      } catch {
        // added as broken below
      }
      if (sid === sessionId) break;
      add(line, false);
    }
  } catch (err) {
    problems.push(`${name}: ${(err as Error).message}`);
  }
  if (!started) {
    problems.push(`${name}: the exported records were not found in the segment`);
    return { part };
  }
  if (found !== offsets.length) problems.push(`${name}: ${offsets.length - found} exported records were not found at their offsets`);
  // Without a header the part starts at a checkpoint; the segment's header is read for its audit fields.
  if (!header) {
    for (const line of fileLines(file)) {
      const opened = openLine(line.bytes);
      try {
        const v = opened ? (parseOpened(opened) as SegmentHeader) : undefined;
        if (v?.type === 'segment') header = v;
      } catch {
        // reported by the verifier
      }
      break;
    }
    if (!header?.audit) return undefined;
  }
  return { part, header };
}
