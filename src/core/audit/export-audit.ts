import * as crypto from 'node:crypto';
import * as path from 'node:path';
import type { JournalLocation } from '../model/calls';
import type { CheckpointRecord, SegmentHeader } from '../model/records';
import { canonicalize } from './canonical';
import { chainPrefixSkip, chainSessionId, fileLineViews, GENESIS, leafOf, linkOf, looksLikeCheckpoint, macMatchesInPlace, macOf, openLine, parseOpened, type RawLine } from './chain';
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
  const events = readExportEvents(sessionId, locations as JournalLocation[], options, { auditOnly: true });
  for (;;) {
    const step = events.next();
    if (step.done) return step.value;
  }
}

/**
 * The exported events' texts as stored (chain members stripped), read back by location in one
 * sequential pass over each segment; unless `audit` is false, the same pass builds the audit
 * section, which is the generator's return value (undefined as for buildExportAudit). So an
 * export reads the journal twice (assembling, then this), not three times, and copies no line:
 * each yielded text is a view into the read buffer, valid until the next one is asked for.
 * Throws when a location no longer holds its complete line (the journal changed while it was
 * read) — unless `auditOnly` (the events were written already): that is then one of the audit
 * section's problems, as a segment that cannot be read is.
 */
export function* readExportEvents(sessionId: string, locations: ReadonlyArray<JournalLocation>, audit: BuildAuditOptions | false, options: { auditOnly?: boolean } = {}): Generator<Buffer, ExportAudit | undefined, undefined> {
  const lenient = options.auditOnly === true;
  let keys: AuditKeys | null | undefined;
  if (audit !== false) {
    keys = audit.keys;
    if (keys === undefined) {
      try {
        keys = loadAuditKeys({ ...(audit.home ? { home: audit.home } : {}), create: false }) ?? null;
      } catch {
        keys = null;
      }
    }
  }
  const groups: Array<{ file: string; offsets: number[]; lengths: number[] }> = [];
  for (const loc of locations) {
    const last = groups[groups.length - 1];
    if (last && last.file === loc.file) {
      last.offsets.push(loc.offset);
      last.lengths.push(loc.length);
    } else groups.push({ file: loc.file, offsets: [loc.offset], lengths: [loc.length] });
  }
  const problems: string[] = [];
  const parts: ExportAuditPart[] = [];
  let header: SegmentHeader | undefined;
  // Whether the audit section is still being built (false without one, or once it cannot be).
  let auditing = audit !== false;
  for (const g of groups) {
    const part = auditing ? new PartBuilder(sessionId, g.file, g.offsets, keys ?? null, problems) : undefined;
    const n = g.offsets.length;
    let k = 0;
    try {
      // Without the audit section, only the stretch from the first exported record is read.
      for (const line of fileLineViews(g.file, part ? {} : { from: g.offsets[0]! })) {
        if (line.torn) break;
        if (k < n && line.offset > g.offsets[k]!) {
          if (!lenient) throw journalChanged(g.file, g.offsets[k]!);
          while (k < n && line.offset > g.offsets[k]!) k++;
        }
        const exported = k < n && line.offset === g.offsets[k];
        if (exported && !lenient && line.bytes.length + 1 !== g.lengths[k]) throw journalChanged(g.file, g.offsets[k]!);
        const skip = exported ? chainPrefixSkip(line.bytes) : 0;
        if (part && !part.done) part.line(line, exported);
        if (exported) {
          k++;
          if (skip) line.bytes[skip] = 0x7b;
          yield line.bytes.subarray(skip);
        }
        if (k === n && (!part || part.done)) break;
      }
      if (k < n && !lenient) throw journalChanged(g.file, g.offsets[k]!);
    } catch (err) {
      if (!lenient) throw err;
      problems.push(`${path.basename(g.file)}: ${(err as Error).message}`);
    }
    if (!part) continue;
    const built = part.finish();
    if (!built) {
      auditing = false;
      continue;
    }
    header ??= built.header;
    parts.push(built.part);
  }
  const chained = header?.audit;
  if (!auditing || !chained) return undefined;
  const body: Omit<ExportAudit, 'signature'> = {
    format: EXPORT_AUDIT_FORMAT,
    session_id: sessionId,
    store_id: chained.store_id,
    public_key: { alg: 'Ed25519', raw: chained.public_key, fingerprint: chained.key },
    events: locations.length,
    parts,
    problems,
    exported_at: new Date().toISOString(),
  };
  const signature = keys && keys.fingerprint === chained.key ? { key: keys.fingerprint, sig: crypto.sign(null, Buffer.from(canonicalize(body), 'utf8'), keys.privateKey).toString('base64') } : null;
  return { ...body, signature };
}

function journalChanged(file: string, offset: number): Error {
  return new Error(`${path.basename(file)}: no complete record at offset ${offset} any more (the journal changed while it was read)`);
}

/**
 * One segment's part of the audit section, fed the segment's lines in order from its header: the
 * stretch from the anchor (header or checkpoint) before the first exported record to the
 * checkpoint after the last one. `done` once it needs no more lines.
 */
class PartBuilder {
  done = false;
  private readonly name: string;
  private readonly first: number;
  private readonly last: number;
  private readonly part: ExportAuditPart;
  private header: SegmentHeader | undefined;
  /** Copies of the lines since the last anchor, until the first exported record. */
  private pending: RawLine[] = [];
  private started = false;
  /** The header was missing where the part starts: no audit section can be built. */
  private unusable = false;
  private prev: Buffer = GENESIS;
  private found = 0;

  constructor(
    private readonly sessionId: string,
    private readonly file: string,
    private readonly offsets: number[],
    private readonly keys: AuditKeys | null,
    private readonly problems: string[],
  ) {
    this.name = path.basename(file);
    this.first = offsets[0]!;
    this.last = offsets[offsets.length - 1]!;
    const m = /^(.*)-(\d+)\.jsonl$/.exec(this.name);
    this.part = { segment: this.name, writer_id: m?.[1] ?? this.name, segment_no: m ? Number(m[2]) : -1, start: 0, entries: [], end: { line: -1, h: '' } };
  }

  /** The next line of the segment; `exported` when it is one of the exported records (its view may be written to). */
  line(line: RawLine, exported: boolean): void {
    if (!this.started) {
      const copy = { ...line, bytes: Buffer.from(line.bytes) };
      if (line.index === 0 || looksLikeCheckpoint(line.bytes)) this.pending = [copy];
      else this.pending.push(copy);
      if (line.offset !== this.first) return;
      this.started = true;
      this.pending.forEach((l, i) => this.add(l, i === 0, l.offset === this.first));
      this.pending = [];
      if (!this.header && this.part.start === 0) {
        this.unusable = true;
        this.done = true;
      }
      return;
    }
    if (line.offset <= this.last) {
      this.add(line, false, exported);
      return;
    }
    // Past the session's last exported record: on to the checkpoint that seals it, but never
    // over a record of the session the export does not have (written after it was read).
    if (looksLikeCheckpoint(line.bytes)) {
      this.add(line, false, false);
      this.done = true;
      return;
    }
    const opened = openLine(line.bytes);
    let sid = '';
    try {
      sid = opened ? chainSessionId(parseOpened(opened)) : '';
    } catch {
      // added as broken below
    }
    if (sid === this.sessionId) {
      this.done = true;
      return;
    }
    this.add(line, false, false);
  }

  /** The part, or undefined when no audit section can be built (a journal without the trail). */
  finish(): { part: ExportAuditPart; header?: SegmentHeader } | undefined {
    const { part, name, problems } = this;
    if (this.unusable) return undefined;
    if (!this.started) {
      problems.push(`${name}: the exported records were not found in the segment`);
      return { part };
    }
    if (this.found !== this.offsets.length) problems.push(`${name}: ${this.offsets.length - this.found} exported records were not found at their offsets`);
    let header = this.header;
    // Without a header the part starts at a checkpoint; the segment's header is read for its audit fields.
    if (!header) {
      for (const line of fileLineViews(this.file)) {
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

  private add(line: RawLine, anchor: boolean, exported: boolean): void {
    const { part, keys, problems } = this;
    const where = `${this.name} line ${line.index + 1}`;
    const opened = openLine(line.bytes);
    if (!anchor && opened && exported) {
      // An exported event: its chain value is carried, and the reader recomputes its leaf from
      // the exported event itself (verify.ts), so it is not parsed and hashed here again. Its
      // MAC is checked — the one thing a reader without the secret key cannot check.
      const stored = Buffer.from(opened.h, 'hex');
      if (keys && !macMatchesInPlace(keys.macKey, stored, opened.mac, line.bytes)) problems.push(`${where}: HMAC mismatch (the line was changed after it was written)`);
      this.found++;
      const lastEntry = part.entries[part.entries.length - 1];
      if (lastEntry && 'events' in lastEntry) {
        lastEntry.events++;
        lastEntry.h.push(opened.h);
      } else part.entries.push({ events: 1, h: [opened.h] });
      this.prev = stored;
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
        this.header = value as SegmentHeader;
        part.entries.push({ header: this.header, h: opened!.h });
        this.prev = GENESIS;
      } else if (rec.type === 'checkpoint' && typeof rec.h === 'string') {
        part.entries.push({ checkpoint: value as CheckpointRecord, h: opened!.h });
        this.prev = Buffer.from(rec.h, 'hex');
      } else {
        problems.push(`${where}: expected the segment header or a checkpoint`);
      }
      part.start = line.index;
    } else if (exported) {
      this.found++;
      if (sid !== this.sessionId) problems.push(`${where}: exported record of session "${sid}"`);
      const lastEntry = part.entries[part.entries.length - 1];
      if (lastEntry && 'events' in lastEntry) {
        lastEntry.events++;
        lastEntry.h.push(opened!.h);
      } else part.entries.push({ events: 1, h: [opened!.h] });
    } else if (rec.type === 'checkpoint') {
      part.entries.push({ checkpoint: value as CheckpointRecord, h: opened!.h });
    } else {
      if (sid === this.sessionId) problems.push(`${where}: a record of this session is not among the exported events`);
      part.entries.push({ other: sid, leaf: leaf.toString('hex'), h: opened!.h });
    }
    if (!linkOf(this.prev, leaf, sid).equals(stored)) problems.push(`${where}: the hash chain breaks (the line does not follow the one before it)`);
    this.prev = stored;
    part.end = { line: line.index, h: opened!.h };
  }
}
