import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { canonicalize } from './canonical';

/**
 * The per-segment hash chain (docs/audit-trail.md).
 *
 * Every line of a segment — the header, each record, each checkpoint — is written as
 *
 *   {"h":"<64 hex>","mac":"<64 hex>",<the record's own members>}
 *
 * i.e. the record's JSON text with two members put in front, at fixed offsets (145 bytes), so a
 * reader strips them without parsing and the rest of the line stays exactly what the recorder
 * produced (the raw message text included). With `body` the record's text without them:
 *
 *   leaf_i = SHA-256( RFC 8785 canonical JSON of body_i )
 *   h_i    = SHA-256( h_{i-1} ‖ leaf_i ‖ UTF-8(session_id_i) )     h_{-1} = 32 zero bytes
 *   mac_i  = HMAC-SHA256( K_mac, h_i ‖ UTF-8 bytes of body_i )
 *
 * `session_id_i` is the record's session id ("" for headers and checkpoints). The chain hashes
 * the canonical form, so an export — which re-serialises records — still verifies; hashing a
 * leaf rather than the record lets an export stand in for another session's record with its
 * leaf alone, and binding the session id in the link stops a record of the exported session
 * from being passed off as someone else's. The MAC covers the exact bytes, so in the store even
 * a change the canonical form cannot see (whitespace, number spelling) is detected.
 */

export const CHAIN_FORMAT = 'mcp-flight.chain/v1';
export const GENESIS = Buffer.alloc(32);
const P1 = '{"h":"';
const P2 = '","mac":"';
const P3 = '",';
/** Bytes (= characters: all ASCII) of the chain members at the start of a line, `{` included. */
export const CHAIN_PREFIX_LENGTH = P1.length + 64 + P2.length + 64 + P3.length;
const H_AT = P1.length;
const P2_AT = H_AT + 64;
const MAC_AT = P2_AT + P2.length;
const P3_AT = MAC_AT + 64;

type OneShotHash = (algorithm: string, data: string | Buffer, encoding: 'buffer') => Buffer;
/** `crypto.hash` (Node ≥ 20.12): one call, no Hash object. */
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

export function sha256(data: string | Buffer): Buffer {
  return oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest();
}

/** SHA-256 of the canonical JSON of a record (its text without the chain members, parsed). */
export function leafOf(value: unknown): Buffer {
  return sha256(canonicalize(value));
}

export function linkOf(prev: Buffer, leaf: Buffer, sessionId: string): Buffer {
  const sid = sessionId ? Buffer.from(sessionId, 'utf8') : undefined;
  return sha256(sid ? Buffer.concat([prev, leaf, sid], 64 + sid.length) : Buffer.concat([prev, leaf], 64));
}

/** SHA-256's block size: HMAC pads its key to one block. */
const BLOCK = 64;

/**
 * HMAC-SHA256 (RFC 2104) is computed by hand from its two hashes, with the key's pads prepared
 * once per key: `createHmac` builds a keyed object per call, which costs more than hashing a 1 KB
 * record (≈ 4 µs against ≈ 1.5 µs for two one-shot hashes), and every line written, exported or
 * verified takes one. Unit tests hold the result to `createHmac`.
 */
interface MacPads {
  ipad: Buffer;
  /** The outer pad followed by room for the inner hash. */
  outer: Buffer;
}
const padsByKey = new WeakMap<Buffer, MacPads>();

function padsOf(key: Buffer): MacPads {
  let pads = padsByKey.get(key);
  if (!pads) {
    const k = Buffer.alloc(BLOCK);
    (key.length > BLOCK ? sha256(key) : key).copy(k);
    pads = { ipad: Buffer.allocUnsafe(BLOCK), outer: Buffer.alloc(BLOCK + 32) };
    for (let i = 0; i < BLOCK; i++) {
      pads.ipad[i] = k[i]! ^ 0x36;
      pads.outer[i] = k[i]! ^ 0x5c;
    }
    padsByKey.set(key, pads);
  }
  return pads;
}

/** The HMAC from its inner hash. */
function outerHash(pads: MacPads, inner: Buffer): Buffer {
  inner.copy(pads.outer, BLOCK);
  return sha256(pads.outer);
}

/** HMAC-SHA256 of `h ‖ body`: the record's text without the chain members; given as the bytes after the prefix, `{` is implied. */
export function macOf(key: Buffer, h: Buffer, body: string | { afterPrefix: Buffer }): Buffer {
  const pads = padsOf(key);
  const text = typeof body === 'string' ? body : undefined;
  const length = text !== undefined ? Buffer.byteLength(text, 'utf8') : 1 + (body as { afterPrefix: Buffer }).afterPrefix.length;
  const buf = Buffer.allocUnsafe(BLOCK + h.length + length);
  pads.ipad.copy(buf, 0);
  h.copy(buf, BLOCK);
  if (text !== undefined) buf.write(text, BLOCK + h.length, length, 'utf8');
  else {
    buf[BLOCK + h.length] = 0x7b;
    (body as { afterPrefix: Buffer }).afterPrefix.copy(buf, BLOCK + h.length + 1);
  }
  return outerHash(pads, sha256(buf));
}

/** The session id a record is chained under ("" when it has none). */
export function chainSessionId(value: unknown): string {
  const sid = (value as { session_id?: unknown } | null)?.session_id;
  return typeof sid === 'string' ? sid : '';
}

/** The line as written: the chain members, then the record's own members. */
export function chainedLine(h: Buffer, mac: Buffer, json: string): string {
  return P1 + h.toString('hex') + P2 + mac.toString('hex') + P3 + json.slice(1);
}

/** The record's text without the chain members; a line without them is returned unchanged. */
export function stripChain(text: string): string {
  if (text.length > CHAIN_PREFIX_LENGTH && text.startsWith(P1) && text.startsWith(P2, P2_AT) && text.startsWith(P3, P3_AT)) return '{' + text.slice(CHAIN_PREFIX_LENGTH);
  return text;
}

export interface OpenedLine {
  /** Stored chain value and MAC, lower-case hex as written. */
  h: string;
  mac: string;
  /** The line's bytes after the prefix: the record's text is `{` + these. */
  afterPrefix: Buffer;
}

/** Splits a chained line (bytes, without its newline); undefined when it does not carry the chain members exactly as written. */
export function openLine(line: Buffer): OpenedLine | undefined {
  // Byte checks, no regular expression: an export opens every line it carries.
  if (!chainPrefixSkip(line) || !lowerHexAt(line, H_AT) || !lowerHexAt(line, MAC_AT)) return undefined;
  return { h: line.toString('latin1', H_AT, P2_AT), mac: line.toString('latin1', MAC_AT, P3_AT), afterPrefix: line.subarray(CHAIN_PREFIX_LENGTH) };
}

/** Whether the 64 bytes at `at` are lower-case hex digits. */
function lowerHexAt(buf: Buffer, at: number): boolean {
  for (let i = at; i < at + 64; i++) {
    const c = buf[i]!;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** The record of an opened line, parsed (throws on JSON that does not parse). */
export function parseOpened(opened: OpenedLine): unknown {
  return JSON.parse('{' + opened.afterPrefix.toString('utf8'));
}

/**
 * The writer's side: turns record texts into chained lines. Holds the chain's head and the MAC
 * key; `reset` starts a segment.
 */
export class ChainSealer {
  private head: Buffer = GENESIS;
  private readonly pads: MacPads;

  constructor(macKey: Buffer) {
    this.pads = padsOf(macKey);
  }

  reset(): void {
    this.head = GENESIS;
  }

  /** The last line's chain value. */
  get headHex(): string {
    return this.head.toString('hex');
  }

  /**
   * The chain value of the next record (canonicalised, RFC 8785), or undefined for text that is
   * not a JSON object with at least one member. Does not advance the head.
   */
  private nextLink(json: string, parsed?: object): Buffer | undefined {
    if (json.charCodeAt(0) !== 0x7b) return undefined;
    let value: unknown = parsed;
    let canonical: string | undefined;
    if (parsed !== undefined) {
      // The caller's word that `parsed` is what `json` parses to (JournalWriter.appendRecord).
      try {
        canonical = canonicalize(parsed);
      } catch {
        canonical = undefined;
      }
    }
    if (canonical === undefined) {
      try {
        value = JSON.parse(json);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
        canonical = canonicalize(value);
      } catch {
        return undefined;
      }
    }
    if (canonical === '{}') return undefined;
    return linkOf(this.head, sha256(canonical), chainSessionId(value));
  }

  /**
   * The chained line for a record given as JSON object text, or undefined when the text is not
   * a JSON object with at least one member (written as it is, outside the chain: the verifier
   * reports such a line). Parses the text itself, so that what is hashed is exactly what is
   * written — unless the caller hands over the parsed value too (saves the parse: 5–30 µs for a
   * 1–4 KB message), which must then be exactly what `json` parses to.
   */
  seal(json: string, parsed?: object): string | undefined {
    const line = this.sealBytes(json, parsed);
    return line?.toString('utf8', 0, line.length - 1);
  }

  /**
   * Same as `seal`, as the bytes to write, newline included: the record's text is encoded once,
   * and the MAC is taken over those very bytes (the hot path: see JournalWriter).
   */
  sealBytes(json: string, parsed?: object): Buffer | undefined {
    const h = this.nextLink(json, parsed);
    if (!h) return undefined;
    // One buffer laid out as [ipad | h | record text | newline]: the inner hash of the HMAC reads
    // [ipad | h | text] in place, then the chain prefix overwrites the tail of [ipad | h] so the
    // line [prefix | text | newline] ends the buffer without a copy of the text.
    const bodyLength = Buffer.byteLength(json, 'utf8');
    const prefix = CHAIN_PREFIX_LENGTH - 1; // the record's own `{` stays
    const lead = BLOCK + 32;
    const start = Math.max(lead, prefix);
    const buf = Buffer.allocUnsafe(start + bodyLength + 1);
    const inner0 = start - lead;
    this.pads.ipad.copy(buf, inner0);
    h.copy(buf, inner0 + BLOCK);
    buf.write(json, start, bodyLength, 'utf8');
    const mac = outerHash(this.pads, sha256(buf.subarray(inner0, start + bodyLength)));
    const at = start - prefix;
    buf.write(P1, at, 'latin1');
    buf.write(h.toString('hex'), at + H_AT, 'latin1');
    buf.write(P2, at + P2_AT, 'latin1');
    buf.write(mac.toString('hex'), at + MAC_AT, 'latin1');
    buf.write(P3, at + P3_AT, 'latin1');
    buf[buf.length - 1] = 0x0a;
    this.head = h;
    return at === 0 ? buf : buf.subarray(at);
  }
}

// -------------------------------------------------------------------------------------------------
// Reading lines for verification: bytes, not strings, so the MAC sees exactly what is on disk.

export interface RawLine {
  /** Byte offset of the line in the file. */
  offset: number;
  /** The line without its newline. */
  bytes: Buffer;
  /** Line number, 0-based (line 0 is the segment header). */
  index: number;
  /** The last bytes of the file, without a closing newline (a writer stopped mid-line, or is still writing it). */
  torn: boolean;
}

const CHUNK = 4 * 1024 * 1024;

/** Every line of a file from the start, the incomplete last one (if any) flagged `torn`. Lines are copies: safe to keep. */
export function* fileLines(file: string, options: { until?: number } = {}): Generator<RawLine> {
  for (const line of fileLineViews(file, options)) yield { ...line, bytes: Buffer.from(line.bytes) };
}

/**
 * Same as fileLines, but each line's `bytes` is a view into the read buffer, valid only until the
 * next line is asked for (copy what you keep): a pass over a whole journal (an export) does not
 * copy every line. The view may be written to (macMatchesInPlace does). `from` starts reading at
 * that offset, which must be a line's start (`index` then counts from there).
 */
export function* fileLineViews(file: string, options: { until?: number; from?: number } = {}): Generator<RawLine> {
  const fd = fs.openSync(file, 'r');
  try {
    const size = Math.min(fs.fstatSync(fd).size, options.until ?? Infinity);
    let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(64 * 1024, size)));
    let filled = 0;
    let bufOffset = options.from ?? 0;
    let readPos = bufOffset;
    let index = 0;
    while (readPos < size) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, filled, Math.min(buf.length - filled, size - readPos), readPos);
      if (n <= 0) break;
      readPos += n;
      filled += n;
      const view = buf.subarray(0, filled);
      let start = 0;
      for (let nl = view.indexOf(0x0a, start); nl !== -1; nl = view.indexOf(0x0a, start)) {
        yield { offset: bufOffset + start, bytes: view.subarray(start, nl), index: index++, torn: false };
        start = nl + 1;
      }
      if (start > 0) {
        buf.copy(buf, 0, start, filled);
        filled -= start;
        bufOffset += start;
      }
    }
    if (filled > 0) yield { offset: bufOffset, bytes: buf.subarray(0, filled), index, torn: true };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether a chained line's MAC (`mac`, the stored hex) is right, computed over the line in place:
 * the chain prefix is overwritten with [ipad | h | `{`] so the HMAC's inner hash reads the
 * record's bytes where they are, without copying them (an export checks every line it carries).
 * Afterwards the line's bytes from CHAIN_PREFIX_LENGTH - 1 on are the record's text.
 */
export function macMatchesInPlace(key: Buffer, h: Buffer, mac: string, line: Buffer): boolean {
  const pads = padsOf(key);
  const at = CHAIN_PREFIX_LENGTH - 1 - h.length - BLOCK;
  pads.ipad.copy(line, at);
  h.copy(line, at + BLOCK);
  line[CHAIN_PREFIX_LENGTH - 1] = 0x7b;
  return outerHash(pads, sha256(line.subarray(at))).toString('hex') === mac;
}

/** Where the record's text starts (its `{` replaces the prefix's last byte) in the line `buf[start, end)`, as stripChain cuts: 0 for a line without the chain members. */
export function chainPrefixSkip(buf: Buffer, start = 0, end = buf.length): number {
  if (end - start <= CHAIN_PREFIX_LENGTH) return 0;
  for (let i = 0; i < P1.length; i++) if (buf[start + i] !== P1.charCodeAt(i)) return 0;
  for (let i = 0; i < P2.length; i++) if (buf[start + P2_AT + i] !== P2.charCodeAt(i)) return 0;
  for (let i = 0; i < P3.length; i++) if (buf[start + P3_AT + i] !== P3.charCodeAt(i)) return 0;
  return CHAIN_PREFIX_LENGTH - 1;
}

/** The first bytes of a line: enough to tell a chained checkpoint line from others without parsing it. */
export function looksLikeCheckpoint(line: Buffer): boolean {
  return line.length > CHAIN_PREFIX_LENGTH + 20 && line.toString('latin1', CHAIN_PREFIX_LENGTH, CHAIN_PREFIX_LENGTH + 20) === '"type":"checkpoint",';
}
