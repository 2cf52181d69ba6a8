import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CheckpointRecord, SegmentAudit } from '../model/records';
import type { StoreLayout } from '../store/layout';
import { canonicalize } from './canonical';
import { CHAIN_FORMAT, CHAIN_PREFIX_LENGTH, ChainSealer, openLine, parseOpened } from './chain';
import { type AuditKeys, ensurePrivateDir, flightHome, loadAuditKeys } from './keys';

/**
 * Signed checkpoints, the store's identity, the logs kept outside the workspace, and pruned
 * records (docs/audit-trail.md).
 *
 *   <store>/audit.json                                    the store's id
 *   <store>/journal/_pruned.log                           signed pruned records (JSON lines)
 *   $MCP_FLIGHT_HOME/checkpoints/<store id>/store.json    where the store was (path, creation)
 *   $MCP_FLIGHT_HOME/checkpoints/<store id>/<writer>.jsonl  the writer's signed start entry, then its checkpoints
 *   $MCP_FLIGHT_HOME/checkpoints/<store id>/_pruned.jsonl   copies of the pruned records
 *
 * The copies outside the workspace are what make truncation, rollback and the removal of whole
 * segments or writers detectable: someone who can only change the workspace cannot take back a
 * checkpoint once it is there. They are appended only after the journal was fsynced up to the
 * checkpoint, so they never run ahead of what a power loss can leave in the journal.
 */

export const STORE_IDENTITY_FORMAT = 'mcp-flight.audit-store/v1';
export const MAX_CHECKPOINT_EVERY = 50;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5_000;
export const MAX_CHECKPOINT_INTERVAL_MS = 9_000;

// -------------------------------------------------------------------------------------------------
// Signatures

/** Ed25519 over the canonical JSON of every member but `sig`. */
export function signRecord<T extends { sig: string }>(keys: AuditKeys, body: Omit<T, 'sig'>): T {
  const sig = crypto.sign(null, Buffer.from(canonicalize(body), 'utf8'), keys.privateKey).toString('base64');
  return { ...body, sig } as T;
}

/** Verified signatures, per key: verification is a pure function of (key, message, signature), so repeated checks of the same record are looked up. */
const verified = new WeakMap<crypto.KeyObject, Map<string, boolean>>();

/** Whether `record.sig` is a valid signature of the rest of it by `publicKey` (strict base64: one encoding per signature). */
export function signatureValid(publicKey: crypto.KeyObject, record: unknown): boolean {
  if (typeof record !== 'object' || record === null) return false;
  const { sig, ...body } = record as { sig?: unknown };
  if (typeof sig !== 'string') return false;
  const raw = Buffer.from(sig, 'base64');
  if (raw.length !== 64 || raw.toString('base64') !== sig) return false;
  let message: Buffer;
  try {
    message = Buffer.from(canonicalize(body), 'utf8');
  } catch {
    return false;
  }
  let memo = verified.get(publicKey);
  if (!memo) verified.set(publicKey, (memo = new Map()));
  const key = `${sig}:${crypto.createHash('sha256').update(message).digest('base64')}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  let ok = false;
  try {
    ok = crypto.verify(null, message, publicKey, raw);
  } catch {
    ok = false;
  }
  if (memo.size > 50_000) memo.clear();
  memo.set(key, ok);
  return ok;
}

/** What the next checkpoint's `prev` names: SHA-256 of this one's canonical JSON, signature included. */
export function digestOf(record: unknown): string {
  return crypto.createHash('sha256').update(canonicalize(record), 'utf8').digest('hex');
}

// -------------------------------------------------------------------------------------------------
// The store's identity

export function identityFile(layout: StoreLayout): string {
  return path.join(layout.root, 'audit.json');
}

/** The store's id, created on first use (exclusive create: concurrent writers agree on one). */
export function ensureStoreIdentity(layout: StoreLayout): string {
  const known = readStoreIdentity(layout);
  if (known.storeId) return known.storeId;
  if (known.problem && fs.existsSync(identityFile(layout))) throw new Error(known.problem);
  // Written aside and linked into place: a concurrent reader sees the whole file or none.
  const tmp = `${identityFile(layout)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, identityText(crypto.randomUUID()), { flag: 'wx', mode: 0o600 });
  try {
    fs.linkSync(tmp, identityFile(layout));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  const again = readStoreIdentity(layout);
  if (!again.storeId) throw new Error(again.problem ?? 'the store has no audit identity');
  return again.storeId;
}

export function readStoreIdentity(layout: StoreLayout): { storeId?: string; problem?: string } {
  let text: string;
  try {
    text = fs.readFileSync(identityFile(layout), 'utf8');
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${identityFile(layout)} is missing` : `${identityFile(layout)} is unreadable: ${(err as Error).message}` };
  }
  try {
    const v = JSON.parse(text) as { format?: unknown; store_id?: unknown };
    // Byte for byte what the writer wrote: the file is evidence too, and any change to it is reported.
    if (typeof v.store_id === 'string' && text === identityText(v.store_id)) return { storeId: v.store_id };
  } catch {
    // reported below
  }
  return { problem: `${identityFile(layout)} was modified (it is not the identity file the recorder wrote)` };
}

/** The identity file, exactly: one line, its members in this order. */
function identityText(storeId: string): string {
  return JSON.stringify({ format: STORE_IDENTITY_FORMAT, store_id: storeId }) + '\n';
}

// -------------------------------------------------------------------------------------------------
// Outside the workspace

export function checkpointsRoot(home: string = flightHome()): string {
  return path.join(home, 'checkpoints');
}

export function storeCheckpointDir(home: string, storeId: string): string {
  return path.join(checkpointsRoot(home), storeId);
}

export function writerLogFile(home: string, storeId: string, writerId: string): string {
  return path.join(storeCheckpointDir(home, storeId), `${writerId}.jsonl`);
}

export function externalPrunedFile(home: string, storeId: string): string {
  return path.join(storeCheckpointDir(home, storeId), '_pruned.jsonl');
}

export function registryFile(home: string, storeId: string): string {
  return path.join(storeCheckpointDir(home, storeId), 'store.json');
}

export function prunedLogFile(layout: StoreLayout): string {
  return path.join(layout.journalDir, '_pruned.log');
}

/** Appends whole lines to a user-only file (its folder made user-only too). */
export function appendLines(file: string, lines: string[], options: { fsync?: boolean; privateDir?: boolean } = {}): void {
  if (options.privateDir !== false) ensurePrivateDir(path.dirname(file));
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    const buf = Buffer.from(lines.map((l) => l + '\n').join(''), 'utf8');
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    if (options.fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export interface JsonLine {
  line: number;
  value?: unknown;
  error?: string;
}

/** A JSON-lines log: its complete lines (parsed, or the parse error), and whether an incomplete last line was left. */
export function readJsonLines(file: string): { exists: boolean; lines: JsonLine[]; torn: boolean } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { exists: false, lines: [], torn: false };
  }
  const parts = text.split('\n');
  const last = parts.pop() ?? '';
  const lines = parts.map((t, i): JsonLine => {
    try {
      return { line: i + 1, value: JSON.parse(t) };
    } catch (err) {
      return { line: i + 1, error: (err as Error).message };
    }
  });
  return { exists: true, lines, torn: last.length > 0 };
}

export interface StoreRegistration {
  format: 'mcp-flight.audit-registry/v1';
  store_id: string;
  root: string;
  created_at: string;
}

function register(home: string, storeId: string, root: string): void {
  const file = registryFile(home, storeId);
  if (fs.existsSync(file)) return;
  ensurePrivateDir(path.dirname(file));
  const reg: StoreRegistration = { format: 'mcp-flight.audit-registry/v1', store_id: storeId, root: realRoot(root), created_at: new Date().toISOString() };
  try {
    fs.writeFileSync(file, JSON.stringify(reg) + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export function realRoot(root: string): string {
  const abs = path.resolve(root);
  try {
    return fs.realpathSync(abs);
  } catch {
    // A folder that is gone (a deleted store): its parent's real path, so the registration still matches.
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(realRoot(parent), path.basename(abs));
  }
}

/** The first entry of a writer's log outside the workspace. */
export interface WriterEntry {
  type: 'writer';
  v: 1;
  store_id: string;
  writer_id: string;
  store_root: string;
  pid: number;
  hostname: string;
  ts: string;
  key: string;
  sig: string;
}

// -------------------------------------------------------------------------------------------------
// The writer's side

export interface AuditWriterOptions {
  /** Where keys and checkpoints live (default $MCP_FLIGHT_HOME, else ~/.mcp-flight). */
  home?: string;
  /** Keys to use instead of the user's (tests). */
  keys?: AuditKeys;
  /** A checkpoint after this many lines (1…50, default 50). */
  checkpointEvery?: number;
  /** A checkpoint once a line has waited this long unsealed (checked on each fsync tick; default 5 s, at most 9 s). */
  checkpointIntervalMs?: number;
}

/**
 * JournalWriter's companion: seals each line into the segment's chain, signs checkpoints, and
 * queues their copies for the log outside the workspace, written by `flushExternal` once the
 * journal is fsynced.
 */
export class AuditWriter {
  readonly home: string;
  readonly keys: AuditKeys;
  readonly storeId: string;
  private readonly sealer: ChainSealer;
  private readonly every: number;
  private readonly intervalMs: number;
  private readonly logFile: string;
  private segment = 0;
  private lines = 0;
  private sinceCheckpoint = 0;
  private firstUnsealedAt = 0;
  private k = 0;
  private lastDigest: string | null = null;
  private pending: string[] = [];
  private flushedExternal = 0;
  private registered = false;
  private warned = false;

  static open(layout: StoreLayout, writerId: string, options: AuditWriterOptions = {}): AuditWriter {
    const home = options.home ?? flightHome();
    const keys = options.keys ?? loadAuditKeys({ home, create: true });
    if (!keys) throw new Error('no audit key');
    return new AuditWriter(layout, writerId, home, keys, ensureStoreIdentity(layout), options);
  }

  private constructor(
    readonly layout: StoreLayout,
    readonly writerId: string,
    home: string,
    keys: AuditKeys,
    storeId: string,
    options: AuditWriterOptions,
  ) {
    this.home = home;
    this.keys = keys;
    this.storeId = storeId;
    this.sealer = new ChainSealer(keys.macKey);
    this.every = Math.max(1, Math.min(MAX_CHECKPOINT_EVERY, Math.floor(options.checkpointEvery ?? MAX_CHECKPOINT_EVERY)));
    this.intervalMs = Math.max(10, Math.min(MAX_CHECKPOINT_INTERVAL_MS, options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS));
    this.logFile = writerLogFile(home, storeId, writerId);
    const entry = signRecord<WriterEntry>(keys, {
      type: 'writer',
      v: 1,
      store_id: storeId,
      writer_id: writerId,
      store_root: realRoot(layout.root),
      pid: process.pid,
      hostname: os.hostname(),
      ts: new Date().toISOString(),
      key: keys.fingerprint,
    });
    this.pending.push(JSON.stringify(entry));
  }

  /** Starts the chain of a new segment; returns what its header carries. */
  startSegment(segmentNo: number): SegmentAudit {
    const prev = segmentNo > 0 ? this.sealer.headHex : null;
    this.sealer.reset();
    this.segment = segmentNo;
    this.lines = 0;
    this.sinceCheckpoint = 0;
    return { chain: CHAIN_FORMAT, store_id: this.storeId, key: this.keys.fingerprint, public_key: this.keys.publicKeyRaw.toString('base64'), prev };
  }

  /** The line to write for a record's JSON text: chained (as bytes, newline included), or the text itself when it cannot be (not a JSON object). */
  seal(json: string, parsed?: object): Buffer | string {
    const line = this.sealer.sealBytes(json, parsed);
    this.lines++;
    if (this.sinceCheckpoint++ === 0) this.firstUnsealedAt = Date.now();
    return line ?? json;
  }

  /** Lines written since the last checkpoint. */
  get unsealed(): number {
    return this.sinceCheckpoint;
  }

  get due(): boolean {
    return this.sinceCheckpoint >= this.every;
  }

  dueByTime(now: number): boolean {
    return this.sinceCheckpoint > 0 && now - this.firstUnsealedAt >= this.intervalMs;
  }

  /** A signed checkpoint sealing every line so far, as the (chained) line to append. */
  checkpointLine(reason: CheckpointRecord['reason'], final = false): Buffer | string {
    const cp = signRecord<CheckpointRecord>(this.keys, {
      type: 'checkpoint',
      v: 1,
      store_id: this.storeId,
      writer_id: this.writerId,
      segment: this.segment,
      k: ++this.k,
      upto: this.lines,
      h: this.sealer.headHex,
      prev: this.lastDigest,
      ts: new Date().toISOString(),
      reason,
      ...(final ? { final: true as const } : {}),
      key: this.keys.fingerprint,
    });
    this.lastDigest = digestOf(cp);
    const json = JSON.stringify(cp);
    this.pending.push(json);
    const line = this.seal(json);
    this.sinceCheckpoint = 0;
    return line;
  }

  /** A mark for `flushExternal`: how many copies have been queued so far, ever. */
  get queuedExternal(): number {
    return this.flushedExternal + this.pending.length;
  }

  /**
   * Copies queued checkpoints outside the workspace. Call only once the journal holding them is
   * fsynced; `upTo` (a `queuedExternal` mark taken before an fsync started) leaves the copies
   * queued after the mark for a later call — their lines may not have been part of that fsync.
   */
  flushExternal(fsync = false, upTo = Infinity): void {
    const n = Math.min(this.pending.length, upTo - this.flushedExternal);
    if (n <= 0) return;
    const lines = this.pending.splice(0, n);
    this.flushedExternal += n;
    try {
      if (!this.registered) {
        register(this.home, this.storeId, this.layout.root);
        this.registered = true;
      }
      appendLines(this.logFile, lines, { fsync });
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        console.error(`mcp-flight: cannot copy checkpoints outside the workspace (${(err as Error).message}); truncation of this recording will not be detectable`);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Pruning

export interface PrunedSegment {
  /** The segment's file name. */
  name: string;
  writer_id: string;
  segment: number;
  bytes: number;
  /** The chain value of its last complete line (null when unchained or empty). */
  last_h: string | null;
  /** `k` of its last line when that is a checkpoint (a sealed segment), else null. */
  last_checkpoint: number | null;
}

export interface PrunedRecord {
  type: 'pruned';
  v: 1;
  store_id: string;
  id: string;
  ts: string;
  reason: string;
  segments: PrunedSegment[];
  key: string;
  sig: string;
}

/** What a pruned record says of a segment, read from its last line. */
export function describeSegment(file: string): PrunedSegment {
  const name = path.basename(file);
  const m = /^(.*)-(\d+)\.jsonl$/.exec(name);
  const out: PrunedSegment = { name, writer_id: m?.[1] ?? name, segment: m ? Number(m[2]) : -1, bytes: 0, last_h: null, last_checkpoint: null };
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return out;
  }
  try {
    const size = fs.fstatSync(fd).size;
    out.bytes = size;
    // The end of the last complete line, then its start: scan backwards in blocks.
    const block = Buffer.allocUnsafe(64 * 1024);
    let end = -1;
    let start = 0;
    for (let pos = size; pos > 0 && start === 0; ) {
      const from = Math.max(0, pos - block.length);
      const n = fs.readSync(fd, block, 0, pos - from, from);
      for (let i = n - 1; i >= 0; i--) {
        if (block[i] !== 0x0a) continue;
        if (end === -1) end = from + i;
        else {
          start = from + i + 1;
          break;
        }
      }
      pos = from;
    }
    if (end <= start) return out;
    const whole = end - start <= 16 * 1024;
    const head = Buffer.allocUnsafe(whole ? end - start : CHAIN_PREFIX_LENGTH + 1);
    fs.readSync(fd, head, 0, head.length, start);
    const opened = openLine(head);
    if (!opened) return out;
    out.last_h = opened.h;
    if (whole && head.toString('latin1', CHAIN_PREFIX_LENGTH, CHAIN_PREFIX_LENGTH + 20) === '"type":"checkpoint",') {
      try {
        const cp = parseOpened(opened) as { k?: unknown };
        if (typeof cp.k === 'number') out.last_checkpoint = cp.k;
      } catch {
        // a damaged line: the verifier will say so
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/**
 * Writes a signed pruned record for segments about to be removed, into the store and outside the
 * workspace, so that their absence verifies as pruning. Undefined when the store has no audit
 * identity (nothing of it was ever chained). Never throws: retention goes on regardless, and a
 * failure is returned as `error` (the verifier will then report the segments missing).
 */
export function recordPruned(layout: StoreLayout, files: string[], reason: string, options: { home?: string; keys?: AuditKeys } = {}): { record?: PrunedRecord; error?: string } {
  if (!files.length) return {};
  try {
    const { storeId } = readStoreIdentity(layout);
    if (!storeId) return {};
    const home = options.home ?? flightHome();
    const keys = options.keys ?? loadAuditKeys({ home, create: true });
    if (!keys) return { error: 'no audit key' };
    const record = signRecord<PrunedRecord>(keys, {
      type: 'pruned',
      v: 1,
      store_id: storeId,
      id: crypto.randomUUID(),
      ts: new Date().toISOString(),
      reason,
      segments: files.map(describeSegment),
      key: keys.fingerprint,
    });
    const line = JSON.stringify(record);
    appendLines(prunedLogFile(layout), [line], { fsync: true, privateDir: false });
    try {
      appendLines(externalPrunedFile(home, storeId), [line], { fsync: true });
    } catch (err) {
      return { record, error: `pruned record not copied outside the workspace: ${(err as Error).message}` };
    }
    return { record };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
