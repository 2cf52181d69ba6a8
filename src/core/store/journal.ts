import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHAIN_PREFIX_LENGTH, stripChain } from '../audit/chain';
import { AuditWriter, type AuditWriterOptions } from '../audit/checkpoints';
import { type CheckpointRecord, JOURNAL_FORMAT, JOURNAL_VERSION, type JournalRecord, type SegmentHeader } from '../model/records';
import { ensureStore, type StoreLayout } from './layout';

/**
 * The append-only journal: the evidence everything else is derived from.
 *
 * Each writer (one recorder process) appends to segment files of its own, so any number of
 * writers share a store without locks. A record is one line, written with a synchronous
 * `write(2)` before the message is forwarded: once the peer has the message, the OS has the
 * record, so kill -9 of the recorder loses nothing forwarded. `fsync` runs in batches at least
 * once a second (off the event loop), so a power loss costs at most the last second or so.
 *
 * Every line is also sealed into the segment's hash chain and MACed, and signed checkpoints are
 * interleaved every 50 lines or few seconds and at shutdown (src/core/audit, docs/audit-trail.md).
 * The chain is computed synchronously before the write, so the kill -9 promise is unchanged; a
 * killed writer merely leaves its last lines unsealed.
 */

export interface JournalWriterOptions {
  /** Start a new segment past this size. */
  maxSegmentBytes?: number;
  /** At most this long between a write and its fsync. */
  fsyncIntervalMs?: number;
  /**
   * Tamper evidence: on unless `false` (then lines are written plain, as before the audit trail —
   * benchmarks and format tests only). Should the user's audit key be unavailable, the writer
   * warns once on stderr and records without it: recording never stops for the audit trail.
   */
  audit?: false | AuditWriterOptions;
}

export interface RecordLocation {
  file: string;
  offset: number;
  length: number;
}

const SEGMENT_SUFFIX = '.jsonl';

export class JournalWriter {
  readonly writerId: string;
  private fd = -1;
  private segmentNo = 0;
  private segmentFile = '';
  private segmentSize = 0;
  private dirty = false;
  private closed = false;
  /** The write that failed; the writer writes nothing after it (see writeLine). */
  private failure?: Error;
  /** A background fsync is running (see syncInBackground). */
  private fsyncing = false;
  /** Descriptors of finished segments, closed when the background fsync is done. */
  private readonly retiredFds: number[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly maxSegmentBytes: number;
  /** The chain and checkpoints; undefined when recording without tamper evidence. */
  private readonly audit?: AuditWriter;

  constructor(
    readonly layout: StoreLayout,
    options: JournalWriterOptions = {},
  ) {
    this.maxSegmentBytes = options.maxSegmentBytes ?? 64 * 1024 * 1024;
    // Sortable by creation time, unique across processes and hosts sharing a folder.
    this.writerId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    if (options.audit !== false) {
      try {
        this.audit = AuditWriter.open(layout, this.writerId, options.audit ?? {});
      } catch (err) {
        console.error(`mcp-flight: recording without tamper evidence: ${(err as Error).message}`);
      }
    }
    this.openSegment();
    this.timer = setInterval(() => this.tick(), options.fsyncIntervalMs ?? 1000);
    this.timer.unref();
  }

  static open(storeRoot: string, options?: JournalWriterOptions): JournalWriter {
    return new JournalWriter(ensureStore(storeRoot), options);
  }

  get currentSegment(): string {
    return this.segmentFile;
  }

  /** Set once a write failed (disk full, file too large, I/O error): every later append throws. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Whether lines are sealed into a hash chain with signed checkpoints. */
  get tamperEvident(): boolean {
    return this.audit !== undefined;
  }

  /** Appends one record, given as its JSON text without newline. Returns where it landed. */
  appendLine(json: string): RecordLocation {
    return this.appendSealed(json, undefined);
  }

  /**
   * Appends one record given as an object, with its JSON text when the caller has it already
   * (the recorder's message lines embed the raw message text). The chain then hashes the object
   * instead of parsing the text again — so `line`, when given, must be exactly the JSON text of
   * `record` (same members and values; key order and spacing may differ).
   */
  appendRecord(record: object, line?: string): RecordLocation {
    return this.appendSealed(line ?? JSON.stringify(record), record);
  }

  private appendSealed(json: string, parsed: object | undefined): RecordLocation {
    if (this.closed) throw new Error('journal writer is closed');
    // The last rotation could not open the next segment (its folder gone, the disk full): try again.
    if (this.fd < 0) this.openSegment();
    if (this.segmentSize > 0) {
      // UTF-8 takes at most 3 bytes per UTF-16 unit: count exactly only near the limit.
      const extra = (this.audit ? CHAIN_PREFIX_LENGTH : 0) + 1;
      if (this.segmentSize + json.length * 3 + extra > this.maxSegmentBytes && this.segmentSize + Buffer.byteLength(json) + extra > this.maxSegmentBytes) this.rotate();
    }
    const location = this.writeLine(this.audit ? this.audit.seal(json, parsed) : json);
    if (this.audit?.due) this.writeCheckpoint('count');
    return location;
  }

  /**
   * Seals what was written so far with a signed checkpoint now, rather than at the next one
   * (before exporting a live session, say). No-op without tamper evidence or when nothing is
   * unsealed.
   */
  checkpoint(): void {
    if (this.closed || !this.audit || this.audit.unsealed === 0) return;
    this.writeCheckpoint('manual');
    this.sync();
  }

  /** Writes one line: a text (the newline is added) or, from the audit trail, its bytes with the newline. */
  private writeLine(line: string | Buffer): RecordLocation {
    if (this.failure) throw new Error(`the journal stopped after a failed write (${this.failure.message})`);
    const buf = typeof line === 'string' ? Buffer.from(line + '\n', 'utf8') : line;
    const offset = this.segmentSize;
    let written = 0;
    try {
      while (written < buf.length) written += fs.writeSync(this.fd, buf, written, buf.length - written);
    } catch (err) {
      // Disk full, file too large, I/O error. The part of the line that made it is cut off again,
      // and nothing is written after it: the chain already counts the line that failed, so a
      // later line could not link to what is on disk. The segment ends as a killed writer's does.
      this.failure = err as Error;
      try {
        fs.ftruncateSync(this.fd, offset);
      } catch {
        /* the reader drops a torn last line anyway */
      }
      throw err;
    }
    this.segmentSize += buf.length;
    this.dirty = true;
    return { file: this.segmentFile, offset, length: buf.length };
  }

  private writeCheckpoint(reason: CheckpointRecord['reason'], final = false): void {
    if (this.audit && this.fd >= 0) this.writeLine(this.audit.checkpointLine(reason, final));
  }

  /** The fsync timer: a checkpoint when a line has waited long enough unsealed, then fsync. */
  private tick(): void {
    try {
      if (this.audit?.dueByTime(Date.now())) this.writeCheckpoint('time');
    } catch (err) {
      console.error('mcp-flight: journal checkpoint failed:', err);
    }
    this.syncInBackground();
  }

  /**
   * The timer's fsync runs on libuv's thread pool: flushing a second of writes can take tens of
   * milliseconds on a busy disk, and the event loop (the extension host's, the recorder's
   * forwarding) must not wait for it. Writes go on meanwhile; they are covered by the next one.
   */
  private syncInBackground(): void {
    if (this.fd < 0 || this.fsyncing) return;
    if (!this.dirty) {
      this.audit?.flushExternal();
      return;
    }
    this.dirty = false;
    this.fsyncing = true;
    const mark = this.audit?.queuedExternal;
    fs.fsync(this.fd, (err) => {
      this.fsyncing = false;
      for (const fd of this.retiredFds.splice(0)) fs.closeSync(fd);
      if (err) {
        this.dirty = true;
        console.error('mcp-flight: journal fsync failed:', err);
        return;
      }
      if (!this.closed) this.audit?.flushExternal(false, mark);
    });
  }

  /** Closes a segment's descriptor — once no background fsync can still be about to use its number. */
  private retire(fd: number): void {
    if (this.fsyncing) this.retiredFds.push(fd);
    else fs.closeSync(fd);
  }

  append(record: JournalRecord): RecordLocation {
    return this.appendRecord(record);
  }

  /** fsync now if anything was written since the last one; then checkpoints so made durable are copied outside the workspace. */
  sync(fsyncCopies = false): void {
    if (this.fd < 0) return;
    // A background fsync still running has promised nothing yet: this one must cover its writes too.
    if (this.dirty || this.fsyncing) {
      this.dirty = false;
      try {
        fs.fsyncSync(this.fd);
      } catch (err) {
        this.dirty = true;
        console.error('mcp-flight: journal fsync failed:', err);
        return;
      }
    }
    this.audit?.flushExternal(fsyncCopies);
  }

  /** Ends the writer: a final signed checkpoint (a clean shutdown, nothing follows), fsync, close. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    try {
      this.writeCheckpoint('close', true);
    } catch (err) {
      console.error('mcp-flight: final journal checkpoint failed:', err);
    }
    this.sync(true);
    if (this.fd >= 0) this.retire(this.fd);
    this.fd = -1;
    this.closed = true;
  }

  private rotate(): void {
    // The old segment ends sealed; the new header names its last chain value.
    this.writeCheckpoint('rotate');
    this.sync();
    // No number of a closed descriptor stays behind should the next segment fail to open: the
    // process may get it again for another file, which the journal would then write and close.
    this.retire(this.fd);
    this.fd = -1;
    this.segmentNo++;
    this.openSegment();
  }

  private openSegment(): void {
    const name = `${this.writerId}-${String(this.segmentNo).padStart(4, '0')}${SEGMENT_SUFFIX}`;
    this.segmentFile = path.join(this.layout.journalDir, name);
    this.fd = fs.openSync(this.segmentFile, 'wx', 0o600);
    this.segmentSize = 0;
    const header: SegmentHeader = {
      type: 'segment',
      format: JOURNAL_FORMAT,
      version: JOURNAL_VERSION,
      writer_id: this.writerId,
      segment: this.segmentNo,
      created_at: new Date().toISOString(),
      ...(this.audit ? { audit: this.audit.startSegment(this.segmentNo) } : {}),
    };
    this.writeLine(this.audit ? this.audit.seal(JSON.stringify(header)) : JSON.stringify(header));
    this.sync();
  }
}

export function listSegments(layout: StoreLayout): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(layout.journalDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(SEGMENT_SUFFIX))
    .sort()
    .map((n) => path.join(layout.journalDir, n));
}

export interface ReadRecord {
  record: JournalRecord;
  offset: number;
  length: number;
}

export interface SegmentProblem {
  offset: number;
  kind: 'torn_tail' | 'corrupt_line' | 'unknown_version';
  detail: string;
}

export interface SegmentReadResult {
  header?: SegmentHeader;
  records: ReadRecord[];
  /** Signed checkpoints met on the way (not session records; src/core/audit/verify.ts checks them). */
  checkpoints: Array<{ record: CheckpointRecord; offset: number; length: number }>;
  /** Where the next read should start: just after the last complete line. */
  nextOffset: number;
  problems: SegmentProblem[];
}

const READ_CHUNK = 4 * 1024 * 1024;

/**
 * Reads the complete lines of a segment from `fromOffset`. An incomplete last line is left
 * unread (the writer may still be writing it); with `final` it is reported as a torn tail — the
 * trace of a writer killed mid-write — and dropped. A complete line that is not JSON is reported,
 * never silently skipped.
 */
export function readSegment(file: string, fromOffset = 0, options: { final?: boolean; limitBytes?: number } = {}): SegmentReadResult {
  const result: SegmentReadResult = { records: [], checkpoints: [], nextOffset: fromOffset, problems: [] };
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return result;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const end = options.limitBytes !== undefined ? Math.min(size, fromOffset + options.limitBytes) : size;
    let pos = fromOffset;
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = pos;
    while (pos < end) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - pos));
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n <= 0) break;
      pos += n;
      const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = data.indexOf(0x0a, start); nl !== -1; nl = data.indexOf(0x0a, start)) {
        const lineOffset = carryOffset + start;
        parseLine(data.toString('utf8', start, nl), lineOffset, nl - start + 1, result);
        start = nl + 1;
      }
      carryOffset += start;
      carry = Buffer.from(data.subarray(start));
    }
    result.nextOffset = carryOffset;
    if (carry.length && options.final) {
      result.problems.push({ offset: carryOffset, kind: 'torn_tail', detail: `${carry.length} bytes without a closing newline (writer stopped mid-record); dropped` });
    }
  } finally {
    fs.closeSync(fd);
  }
  return result;
}

function parseLine(text: string, offset: number, length: number, into: SegmentReadResult): void {
  let value: unknown;
  try {
    // Records come back as the recorder wrote them: the chain members are the audit trail's.
    value = JSON.parse(stripChain(text));
  } catch (err) {
    into.problems.push({ offset, kind: 'corrupt_line', detail: `not JSON: ${(err as Error).message}` });
    return;
  }
  const rec = value as { type?: unknown };
  if (rec.type === 'segment') {
    const header = value as SegmentHeader;
    into.header = header;
    if (header.version > JOURNAL_VERSION) {
      into.problems.push({ offset, kind: 'unknown_version', detail: `segment written in journal format v${header.version}` });
    }
    return;
  }
  if (rec.type === 'checkpoint') {
    into.checkpoints.push({ record: value as CheckpointRecord, offset, length });
    return;
  }
  into.records.push({ record: value as JournalRecord, offset, length });
}

/** Reads one record back by its location (for on-demand bodies: the index keeps offsets, not payloads). */
export function readRecordAt(file: string, offset: number, length: number): JournalRecord {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    fs.readSync(fd, buf, 0, length, offset);
    return JSON.parse(stripChain(buf.toString('utf8'))) as JournalRecord;
  } finally {
    fs.closeSync(fd);
  }
}
