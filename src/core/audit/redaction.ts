import * as crypto from 'node:crypto';
import { DEFAULT_MAX_DEPTH, jsonMemberCount, jsonMembersWithin } from '../model/jsonrpc';
import { loadAuditKeys } from './keys';
import {
  awsSecretsNear,
  classifyKey,
  DEFAULT_ALLOW_KEYS,
  KEY_ANCHORS,
  KEY_PRIORITY,
  normaliseKey,
  VALUE_DETECTORS,
  VALUE_PRIORITY,
  newScratch,
  type Detector,
  type Match,
  type Scratch,
} from './redaction-patterns';

/**
 * Redaction: secrets are replaced before a message reaches the journal (and so the index, the
 * UI and every export). What crosses the wire is never touched; only what is recorded.
 *
 *   const r = new Redactor({ fingerprintKey });
 *   const { value, redactions } = r.redactMessage(parsed);
 *
 * A secret becomes a marker `[REDACTED:<kind>:<fp>]`, where fp is the first 6 hex digits of
 * HMAC-SHA256(fingerprintKey, secret): the same secret gives the same marker everywhere (so a
 * token can be followed across calls, sessions and exports of the same user) without being
 * revealed. The key must stay private to the user: with it, a short password could be
 * confirmed by trying candidates. Without a key, a random one is made once per process (markers
 * then correlate within that process only).
 *
 * Found by value (redaction-patterns.ts: documented token formats), by key (field, header and
 * variable names that say secret, as whole words, with an allow-list), and inside nested JSON,
 * JSON encoded in strings, base64 and URL-encoded text. Never rewritten: the JSON-RPC envelope
 * (`jsonrpc`, `id`, `method`), any `_meta` object (progress tokens, pairing), and binary
 * content (`data` of image/audio/blob content items, `blob` of resources) — which is also never
 * scanned, so random base64 cannot produce false positives there.
 *
 * Cost: one combined trigger regex (a trie of the literal anchor of every detector and every
 * key word, case-insensitive) decides whether a text can hold a secret at all; on a message's
 * raw text, two cheap extra checks cover whole-base64 string values and JSON escapes. With no
 * hit — nearly every message — nothing else runs: no walk, no copy, no re-serialisation.
 * Detectors run only where an anchor was found, as sticky regexes with bounded quantifiers
 * (see redaction-patterns.ts); open-ended searches use indexOf or a per-scan cache. Time is
 * linear in the input (the unit tests feed it 1 MB of hostile repetitions).
 */

export interface RedactorOptions {
  /** The per-user key for fingerprints. Default: a random key made once per process. */
  fingerprintKey?: Buffer;
  /** More value patterns (from settings). A capture group 1, when present, is the secret; otherwise the whole match. Each one adds a scan of every text: anchor it on a literal. */
  extraPatterns?: Array<{ kind: string; regex: RegExp | string }>;
  /** Field names that are never secrets (compared without case and separators), on top of the built-in ones (progressToken, maxTokens, …). */
  allowKeys?: string[];
  /** Exact values that are never redacted (e.g. a public test token). */
  allowValues?: string[];
  /** Values that are never redacted when a pattern matches them whole (from settings; checked by redaction-settings.ts). */
  allowPatterns?: Array<RegExp | string>;
}

/** What was replaced, without the secret: where (a JSON Pointer into the recorded value) and what kind. */
export interface Redaction {
  path: string;
  kind: string;
  /** Set when the secret was inside an encoded form at `path`: "json", "base64", "url", "key" (a property name), or a chain like "base64+json". */
  encoding?: string;
  /** How many secrets of this kind at this path, when more than one. */
  count?: number;
}

export interface RedactResult<T = unknown> {
  /** The redacted value: the very same object when nothing was redacted (never mutated). */
  value: T;
  redactions: Redaction[];
}

export interface TextRedactResult {
  text: string;
  redactions: Redaction[];
}

/** The marker format: `[REDACTED:<kind>:<6 hex>]`. */
export const MARKER_PATTERN = /\[REDACTED:([a-z0-9_]+):([0-9a-f]{6})\]/g;

/** Records list at most this many distinct redactions; the rest is counted in a last `{ kind: "truncated" }` entry. */
export const MAX_LISTED_REDACTIONS = 1000;

/** Encodings are unwrapped at most this deep (base64 of URL-encoded JSON is 3). */
const MAX_ENCODING_DEPTH = 3;
/** Values nested deeper are replaced whole (the recorder never passes more than 64 levels). */
const MAX_WALK_DEPTH = 512;
/** Base64 runs longer than this are files, not credentials: not decoded. */
const MAX_BASE64_RUN = 1024 * 1024;
/** Longest unquoted value taken by the key/value text rule. */
const MAX_UNQUOTED_VALUE = 4096;

const ENVELOPE_KEYS = new Set(['jsonrpc', 'id', 'method']);
const BINARY_CONTENT_TYPES = new Set(['image', 'audio', 'blob']);

const PROCESS_KEY = crypto.randomBytes(32);

type Action = { detector: Detector } | { key: true } | { base64: true } | { percent: true };

interface Found {
  kind: string;
  encoding?: string;
}

interface WalkContext {
  path: Array<string | number>;
  found: Redaction[];
}

/** Values that stand for a secret without being one: masks, template variables, SQL parameters, null-ish words. */
const PLACEHOLDER = /^(?:\*+|x{3,}|X{3,}|•+|\.{3,}|-+|<[^<>]*>|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_]+%|[:@?][A-Za-z_]\w*|\?|null|none|nil|undefined|true|false|redacted|\[redacted[^\]]*\])$/i;
/** Interpolation (`${input:token}`, `{{ secrets.X }}`): a reference to a secret, not one. */
const INTERPOLATION = /\$\{|\{\{/;
/** An identifier, member chain or call: in `token = this.token` or `token: getToken()` the value is an expression. */
const CODE_LIKE = /^[A-Za-z_$][\w$]*(?:(?:\.|\?\.|::|->)[A-Za-z_$][\w$]*)*(?:[([].*)?$/;
const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function isKeyChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
}

function isB64Char(c: number, urlSafe: boolean): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (urlSafe ? c === 45 || c === 95 : c === 43 || c === 47);
}

function isUrlChar(c: number): boolean {
  // RFC 3986 unreserved, plus the sub-delims that encodeURIComponent leaves alone, and '%'.
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 37 || c === 45 || c === 46 || c === 95 || c === 126 || c === 33 || c === 42 || c === 39 || c === 40 || c === 41 || c === 43;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function alnumCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) n++;
  }
  return n;
}

function tokenish(v: string): boolean {
  return v.length >= 8 && (/[0-9]/.test(v) || /[^A-Za-z]/.test(v) || (/[a-z]/.test(v) && /[A-Z]/.test(v)));
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** One regex alternative per literal, factored as a trie so that irregexp checks shared prefixes once. */
function trieSource(words: string[]): string {
  interface Node {
    end: boolean;
    next: Map<string, Node>;
  }
  const root: Node = { end: false, next: new Map() };
  for (const w of words) {
    let n = root;
    for (const ch of w) {
      let child = n.next.get(ch);
      if (!child) n.next.set(ch, (child = { end: false, next: new Map() }));
      n = child;
    }
    n.end = true;
  }
  const emit = (n: Node): string => {
    const alts = [...n.next].map(([ch, child]) => escapeRegex(ch) + emit(child));
    if (alts.length === 0) return '';
    const body = alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
    return n.end ? `(?:${body})?` : body;
  };
  return emit(root);
}

function pointer(path: Array<string | number>): string {
  let out = '';
  for (const p of path) out += '/' + (typeof p === 'number' ? String(p) : p.replace(/~/g, '~0').replace(/\//g, '~1'));
  return out;
}

function joinEncoding(outer: string, inner: string | undefined): string {
  return inner ? `${outer}+${inner}` : outer;
}

/** Bytes of a percent-encoded run (invalid escapes kept as they are), as UTF-8 text. */
function percentDecode(run: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    if (c === 37 && i + 2 < run.length && isHex(run.charCodeAt(i + 1)) && isHex(run.charCodeAt(i + 2))) {
      bytes.push(parseInt(run.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A string that is base64 through and through (standard or URL-safe alphabet): decoded and scanned whole. */
const WHOLE_BASE64 = /^(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{16,}={0,2})$/;
/** Opaque frames are scanned as text: base64 blobs under these keys (image/audio data, resource blobs) are skipped, as the walk skips them. */
const BLOB_KEYS = ['"data"', '"blob"'];
const BLOB_SKIP_MIN = 1024;
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

const MARKER_ENCODED = /%5BREDACTED%3A([a-z0-9_]+)%3A([0-9a-f]{6})%5D/g;

/** Decoded base64 that is text (valid UTF-8, almost no control characters), or undefined. No exceptions: most candidates (hashes, ids) are binary. */
function base64Text(run: string): string | undefined {
  const bytes = Buffer.from(run, 'base64');
  if (bytes.length < 6) return undefined;
  // Binary shows itself early: a control byte among the first few.
  const head = Math.min(bytes.length, 64);
  for (let i = 0; i < head; i++) {
    const b = bytes[i]!;
    if (b < 9 || (b > 13 && b < 32) || b === 127) return undefined;
  }
  const text = bytes.toString('utf8');
  if (text.includes('\ufffd')) return undefined;
  let control = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && !WS.has(c)) control++;
  }
  return control * 50 > text.length ? undefined : text;
}

export class Redactor {
  private readonly key: Buffer;
  private readonly trigger: RegExp;
  private readonly byLiteral = new Map<string, Action[]>();
  private readonly byCaseSensitive: Array<{ literal: string; detector: Detector }> = [];
  private readonly extra: Array<{ kind: string; re: RegExp }>;
  private readonly allowKeys: Set<string>;
  private readonly allowValues: Set<string>;
  private readonly allowPatterns: RegExp[];
  private readonly keyCache = new Map<string, string | null>();

  constructor(options: RedactorOptions = {}) {
    this.key = options.fingerprintKey && options.fingerprintKey.length > 0 ? Buffer.from(options.fingerprintKey) : PROCESS_KEY;
    this.allowKeys = new Set([...DEFAULT_ALLOW_KEYS, ...(options.allowKeys ?? [])].map(normaliseKey));
    this.allowValues = new Set(options.allowValues ?? []);
    // Anchored: an allow pattern exempts a value it matches whole, never one that merely contains a match.
    this.allowPatterns = (options.allowPatterns ?? []).map((p) => (typeof p === 'string' ? new RegExp(`^(?:${p})$`) : new RegExp(`^(?:${p.source})$`, p.flags.replace(/[gy]/g, ''))));
    this.extra = (options.extraPatterns ?? []).map((p) => {
      const re = typeof p.regex === 'string' ? new RegExp(p.regex, 'g') : new RegExp(p.regex.source, p.regex.flags.replace(/[gy]/g, '') + 'g');
      return { kind: sanitiseKind(p.kind), re };
    });

    const literal = (anchor: string, action: Action): void => {
      const list = this.byLiteral.get(anchor);
      if (list) list.push(action);
      else this.byLiteral.set(anchor, [action]);
    };
    for (const detector of VALUE_DETECTORS) {
      for (const a of detector.anchors ?? []) literal(a.toLowerCase(), { detector });
      for (const a of detector.caseSensitiveAnchors ?? []) this.byCaseSensitive.push({ literal: a, detector });
    }
    for (const a of KEY_ANCHORS) literal(a, { key: true });
    // Base64 of JSON ({" encodes as eyJ) inside text: decoded where it is not a JWT (the JWT detector shares the anchor and runs first).
    literal('eyj', { base64: true });
    // "://" percent-encoded: a URL (perhaps with a password) inside a query string.
    literal('%3a%2f%2f', { percent: true });

    const source = trieSource([...this.byLiteral.keys()]);
    this.trigger = new RegExp(source, 'gi');
  }

  /** A value the settings say is not a secret (exactly, or matched whole by an allow pattern). */
  private allowed(value: string): boolean {
    if (this.allowValues.has(value)) return true;
    for (const p of this.allowPatterns) if (p.test(value)) return true;
    return false;
  }

  /** The marker that replaces `secret`. */
  marker(kind: string, secret: string): string {
    return `[REDACTED:${kind}:${this.fingerprint(secret)}]`;
  }

  /** First 6 hex digits of HMAC-SHA256(fingerprintKey, secret). */
  fingerprint(secret: string): string {
    return crypto.createHmac('sha256', this.key).update(secret, 'utf8').digest('hex').slice(0, 6);
  }

  /**
   * Redacts a JSON-RPC message (or a batch): `jsonrpc`, `id`, `method` and `_meta` stay as they
   * are. The walk scans every key and string once, which is also the cheapest way to learn that
   * a message holds no secret: a pre-check over the raw text (one alternation of every anchor)
   * cost more than the walk it was meant to save, and the walk again whenever it said "maybe".
   */
  redactMessage<T>(message: T): RedactResult<T> {
    const ctx: WalkContext = { path: [], found: [] };
    let value: unknown;
    if (Array.isArray(message)) {
      value = this.walkArray(message, ctx, 0, null, true);
    } else if (message !== null && typeof message === 'object') {
      value = this.walkObject(message as Record<string, unknown>, ctx, 0, null, true);
    } else {
      value = this.walk(message, ctx, 0, null);
    }
    return { value: value as T, redactions: finish(ctx.found) };
  }

  /** Redacts any JSON value (no envelope rules; `_meta` and binary content are still left alone). */
  redactValue<T>(value: T): RedactResult<T> {
    const ctx: WalkContext = { path: [], found: [] };
    const out = this.walk(value, ctx, 0, null);
    return { value: out as T, redactions: finish(ctx.found) };
  }

  /**
   * Redacts free text: stderr lines, non-JSON frames, the text of opaque frames. A string scan
   * only: with `parse: false` (opaque frames: too large or too deep to walk) a text that is
   * itself JSON is not parsed, and its key/value pairs are found by the text rules instead.
   */
  redactText(text: string, options: { parse?: boolean } = {}): TextRedactResult {
    if (options.parse === false && text.length > BLOB_SKIP_MIN) return this.redactJsonText(text);
    const r = this.scanString(text, 0, options.parse !== false);
    if (!r) return { text, redactions: [] };
    return { text: r.text, redactions: finish(r.found.map((f) => ({ path: '', ...f }))) };
  }

  /** JSON as text (an opaque frame): scanned piece by piece around base64 blobs (`"data"`, `"blob"` values), which are kept as they are. */
  private redactJsonText(text: string): TextRedactResult {
    const blobs: Array<[number, number]> = [];
    for (const key of BLOB_KEYS) {
      let from = 0;
      for (;;) {
        const k = text.indexOf(key, from);
        if (k === -1) break;
        from = k + key.length;
        let j = from;
        while (j < text.length && WS.has(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 58 /* : */) continue;
        j++;
        while (j < text.length && WS.has(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 34 /* " */) continue;
        const close = text.indexOf('"', j + 1);
        if (close === -1 || close - j - 1 < BLOB_SKIP_MIN) continue;
        if (NOT_BASE64.test(text.slice(j + 1, close))) continue;
        blobs.push([j + 1, close]);
        from = close + 1;
      }
    }
    if (blobs.length === 0) {
      const r = this.scanString(text, 0, false);
      return r ? { text: r.text, redactions: finish(r.found.map((f) => ({ path: '', ...f }))) } : { text, redactions: [] };
    }
    blobs.sort((x, y) => x[0] - y[0]);
    let out = '';
    let last = 0;
    const found: Redaction[] = [];
    const piece = (a: number, b: number): void => {
      const part = text.slice(a, b);
      const r = this.scanString(part, 0, false);
      out += r ? r.text : part;
      if (r) for (const f of r.found) found.push({ path: '', ...f });
    };
    for (const [a, b] of blobs) {
      if (a < last) continue;
      piece(last, a);
      out += text.slice(a, b);
      last = b;
    }
    piece(last, text.length);
    return found.length > 0 ? { text: out, redactions: finish(found) } : { text, redactions: [] };
  }

  /** Redacts bytes that are not UTF-8 (kept as base64 in the record), byte for byte outside the secrets. */
  redactBytes(bytes: Buffer): { bytes: Buffer; redactions: Redaction[] } {
    const text = bytes.toString('latin1');
    const r = this.scanString(text, 0, false);
    if (!r) return { bytes, redactions: [] };
    return { bytes: Buffer.from(r.text, 'latin1'), redactions: finish(r.found.map((f) => ({ path: '', ...f }))) };
  }

  /**
   * Command-line arguments: secrets by value in each argument, and the value after a flag whose
   * name says secret (`--api-key VALUE`, `-password VALUE`); `--token=VALUE` is found by the text rules.
   */
  redactArgs(args: string[]): { args: string[]; redactions: Redaction[] } {
    let out: string[] | undefined;
    const found: Redaction[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const flag = /^--?([A-Za-z][A-Za-z0-9_.-]*)$/.exec(a);
      if (flag && i + 1 < args.length) {
        const kind = this.keyKind(flag[1]!);
        const next = args[i + 1]!;
        if (kind && this.redactableUnderKey(next)) {
          (out ??= [...args])[i + 1] = this.marker(kind, next);
          found.push({ path: `/${i + 1}`, kind });
          i++;
          continue;
        }
      }
      const r = this.scanString(a, 0, true);
      if (r) {
        (out ??= [...args])[i] = r.text;
        for (const f of r.found) found.push({ path: `/${i}`, ...f });
      }
    }
    return { args: out ?? args, redactions: finish(found) };
  }

  /**
   * A connection event before it is journaled: the free text of stderr lines, error messages and
   * reasons; the launch arguments and URL of `connection_open` (`--api-key sk-…`,
   * `https://user:pass@host`); the path of an HTTP exchange (`?access_token=…`). The same
   * object when nothing changed.
   */
  redactEvent<T extends { type: string }>(ev: T): T {
    const e = ev as unknown as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    const text = (field: string, parse = true): void => {
      const v = e[field];
      if (typeof v !== 'string') return;
      const r = this.scanString(v, 0, parse);
      if (r) (out ??= { ...e })[field] = r.text;
    };
    switch (ev.type) {
      case 'stderr':
        text('text');
        break;
      case 'transport_error':
      case 'spawn_error':
        text('message');
        break;
      case 'otlp_push':
        text('error');
        break;
      case 'connection_close':
      case 'gate_decision':
        text('reason');
        break;
      case 'http_exchange':
        text('path');
        text('www_authenticate');
        break;
      case 'connection_open': {
        const server = e.server as { args?: unknown; url?: unknown; command?: unknown } | undefined;
        if (!server) break;
        let s: Record<string, unknown> | undefined;
        if (Array.isArray(server.args) && server.args.every((a) => typeof a === 'string')) {
          const r = this.redactArgs(server.args as string[]);
          if (r.args !== server.args) (s ??= { ...server }).args = r.args;
        }
        for (const f of ['url', 'command'] as const) {
          const v = server[f];
          if (typeof v !== 'string') continue;
          const r = this.scanString(v, 0, false);
          if (r) (s ??= { ...server })[f] = r.text;
        }
        if (s) (out ??= { ...e }).server = s;
        break;
      }
    }
    return (out ?? e) as unknown as T;
  }

  /** The kind of secret a field named `key` holds, or null (allow-list applied; cached). */
  keyKind(key: string): string | null {
    let kind = this.keyCache.get(key);
    if (kind === undefined) {
      kind = this.allowKeys.has(normaliseKey(key)) ? null : classifyKey(key);
      if (this.keyCache.size > 4096) this.keyCache.clear();
      this.keyCache.set(key, kind);
    }
    return kind;
  }

  // -------------------------------------------------------------------------------------------
  // The walk over parsed JSON: copy-on-write, the original is never mutated.
  // -------------------------------------------------------------------------------------------

  private walk(v: unknown, ctx: WalkContext, depth: number, keyKind: string | null): unknown {
    if (typeof v === 'string') return keyKind ? this.underKey(v, keyKind, ctx) : this.stringAt(v, ctx);
    if (typeof v === 'number' || typeof v === 'bigint') {
      if (!keyKind) return v;
      ctx.found.push({ path: pointer(ctx.path), kind: keyKind });
      return this.marker(keyKind, String(v));
    }
    if (v === null || typeof v !== 'object') return v;
    if (depth >= MAX_WALK_DEPTH) {
      ctx.found.push({ path: pointer(ctx.path), kind: 'too_deep' });
      return this.marker('too_deep', 'too_deep');
    }
    return Array.isArray(v) ? this.walkArray(v, ctx, depth, keyKind, false) : this.walkObject(v as Record<string, unknown>, ctx, depth, keyKind, false);
  }

  private walkArray(a: unknown[], ctx: WalkContext, depth: number, keyKind: string | null, envelope: boolean): unknown[] {
    let out: unknown[] | undefined;
    for (let i = 0; i < a.length; i++) {
      const item = a[i];
      ctx.path.push(i);
      // A batch: each element is a message with its own envelope. Otherwise, array items inherit their field's name (`"tokens": ["…"]`).
      const next = envelope && item !== null && typeof item === 'object' && !Array.isArray(item) ? this.walkObject(item as Record<string, unknown>, ctx, depth + 1, null, true) : this.walk(item, ctx, depth + 1, keyKind);
      ctx.path.pop();
      if (next !== item) (out ??= a.slice())[i] = next;
    }
    return out ?? a;
  }

  private walkObject(o: Record<string, unknown>, ctx: WalkContext, depth: number, parentKind: string | null, envelope: boolean): Record<string, unknown> {
    const binary = typeof o.type === 'string' && BINARY_CONTENT_TYPES.has(o.type);
    const keys = Object.keys(o);
    let changes: Map<string, { key: string; value: unknown }> | undefined;
    for (const k of keys) {
      const v = o[k];
      if (k === '_meta' || (envelope && ENVELOPE_KEYS.has(k))) continue;
      if ((k === 'blob' && typeof v === 'string') || (binary && k === 'data')) continue;
      // A secret used as a property name (rare: maps keyed by token) is renamed.
      let newKey = k;
      if (k.length >= 8) {
        const kr = this.scanString(k, MAX_ENCODING_DEPTH, false);
        if (kr) {
          newKey = kr.text;
          for (const f of kr.found) ctx.found.push({ path: pointer(ctx.path), kind: f.kind, encoding: joinEncoding('key', f.encoding) });
        }
      }
      const kind = this.keyKind(k) ?? (parentKind && (k === 'value' || k === 'val') ? parentKind : null);
      ctx.path.push(newKey);
      const next = this.walk(v, ctx, depth + 1, kind);
      ctx.path.pop();
      if (next !== v || newKey !== k) (changes ??= new Map()).set(k, { key: newKey, value: next });
    }
    if (!changes) return o;
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const c = changes.get(k);
      setOwn(out, c ? c.key : k, c ? c.value : o[k]);
    }
    return out;
  }

  /** A string value not under a secret key: secrets by value, in place. */
  private stringAt(s: string, ctx: WalkContext): string {
    const r = this.scanString(s, 0, true);
    if (!r) return s;
    const path = pointer(ctx.path);
    for (const f of r.found) ctx.found.push({ path, ...f });
    return r.text;
  }

  private redactableUnderKey(s: string): boolean {
    const t = s.trim();
    if (t === '' || PLACEHOLDER.test(t) || INTERPOLATION.test(t) || this.allowed(s)) return false;
    // Already redacted ("Bearer [REDACTED:bearer_token:…]"): nothing of substance left.
    if (t.includes('[REDACTED:') && alnumCount(t.replace(MARKER_PATTERN, '')) < 8) return false;
    return true;
  }

  /** A string under a key that says secret: all of it goes, unless secrets found by value leave nothing of substance ("Bearer ghp_…" → "Bearer [REDACTED:github_pat:…]"). */
  private underKey(s: string, kind: string, ctx: WalkContext): string {
    if (!this.redactableUnderKey(s)) return s;
    const path = pointer(ctx.path);
    const r = this.scanString(s, 0, true);
    if (r) {
      let rest = r.text;
      MARKER_PATTERN.lastIndex = 0;
      rest = rest.replace(MARKER_PATTERN, '');
      if (alnumCount(rest) < 8) {
        for (const f of r.found) ctx.found.push({ path, ...f });
        return r.text;
      }
    }
    ctx.found.push({ path, kind });
    return this.marker(kind, s);
  }

  // -------------------------------------------------------------------------------------------
  // Strings: detectors at the trigger's hits, then URL-encoded and base64 runs, or JSON inside.
  // -------------------------------------------------------------------------------------------

  /** Scans one string; null when nothing was redacted. `depth` counts the encodings already unwrapped. */
  private scanString(s: string, depth: number, parse: boolean): { text: string; found: Found[] } | null {
    if (s.length < 4) return null;
    if (depth < MAX_ENCODING_DEPTH && s.length >= 16 && s.length <= MAX_BASE64_RUN && WHOLE_BASE64.test(s)) {
      const whole = this.base64Run(s, 0, s.length, depth);
      if (whole) return { text: whole.text, found: whole.found };
    }
    const trigger = this.trigger;
    trigger.lastIndex = 0;
    let m = trigger.exec(s);
    if (m === null && this.extra.length === 0 && !this.byCaseSensitive.some((c) => s.includes(c.literal))) return null;

    const matches: Match[] = [];
    const scratch = newScratch();
    // Anchors inside a value already matched (a PEM body, a long JWT) need no second look: overlaps merge anyway.
    let covered = -1;
    // Key words inside a key/value match's value (`token=…token=…`) are part of that value.
    let keyCovered = -1;
    let base64Hit = false;
    let keyHit = false;
    let percentHit = false;
    for (; m !== null; m = trigger.exec(s)) {
      const at = m.index;
      trigger.lastIndex = at + 1; // anchors may overlap ("sk-" in "sk-ant-"): look again from the next character
      const actions = this.byLiteral.get(m[0].toLowerCase()) ?? [];
      for (const action of actions) {
        if ('detector' in action) {
          if (at < covered) continue;
          const found = action.detector.match(s, at, scratch);
          if (found && !this.allowed(s.slice(found.start, found.end))) {
            matches.push(found);
            if (found.priority === VALUE_PRIORITY && found.end > covered) covered = found.end;
            if (found.kind === 'aws_access_key_id') for (const x of awsSecretsNear(s, found.start, found.end)) if (!this.allowed(s.slice(x.start, x.end))) matches.push(x);
          }
        } else if ('key' in action) {
          keyHit = true;
          if (at < keyCovered) continue;
          const found = this.keyValueAt(s, at, scratch);
          if (found) {
            matches.push(found);
            keyCovered = found.end;
          }
        } else if ('base64' in action) {
          if (at >= covered) base64Hit = true;
        } else {
          percentHit = true;
        }
      }
    }
    for (const { literal, detector } of this.byCaseSensitive) {
      for (let at = s.indexOf(literal); at !== -1; at = s.indexOf(literal, at + 1)) {
        const found = detector.match(s, at, scratch);
        if (found && !this.allowed(s.slice(found.start, found.end))) matches.push(found);
      }
    }
    for (const x of this.extra) {
      x.re.lastIndex = 0;
      let em: RegExpExecArray | null;
      while ((em = x.re.exec(s))) {
        if (em[0] === '') {
          x.re.lastIndex++;
          continue;
        }
        const secret = em[1] ?? em[0];
        const start = em.index + (em[1] !== undefined ? em[0].indexOf(em[1]) : 0);
        if (secret !== '' && !this.allowed(secret)) matches.push({ start, end: start + secret.length, kind: x.kind, priority: VALUE_PRIORITY });
      }
    }
    // A percent-encoded neighbour ("%22ghp_…": the 2 of %22 touches the token) hides a token from its detector: decode and look again.
    if (!percentHit && s.includes('%')) percentHit = true;
    if (matches.length === 0 && !base64Hit && !keyHit && !percentHit) return null;

    // JSON inside a string (a tool's text result that is JSON, a log line): walk it as JSON, so keys count.
    if (parse && depth < MAX_ENCODING_DEPTH && (matches.length > 0 || base64Hit || keyHit)) {
      const inner = this.jsonInString(s, depth);
      if (inner !== undefined) return inner;
    }

    const found: Found[] = [];
    let text = s;
    if (matches.length > 0) {
      const resolved = resolve(s, matches);
      if (resolved.length > 0) {
        let out = '';
        let last = 0;
        for (const r of resolved) {
          out += s.slice(last, r.start) + this.marker(r.kind, s.slice(r.start, r.end));
          last = r.end;
          found.push({ kind: r.kind });
        }
        text = out + s.slice(last);
      }
    }
    if (depth < MAX_ENCODING_DEPTH && text.includes('%')) text = this.percentRuns(text, depth, found);
    if (depth < MAX_ENCODING_DEPTH && base64Hit) text = this.base64Runs(text, depth, found);
    return found.length > 0 ? { text, found } : null;
  }

  /** `name = value`, `name: value`, `"name": "value"`, `name=value&` … around a key word at `at`. */
  private keyValueAt(s: string, at: number, scratch: Scratch): Match | null {
    let ks = at;
    while (ks > 0 && at - ks < 64 && isKeyChar(s.charCodeAt(ks - 1))) ks--;
    let ke = at;
    while (ke < s.length && ke - at < 96 && isKeyChar(s.charCodeAt(ke))) ke++;
    // Our own markers name their kind ("[REDACTED:slack_token:…]"): not a key.
    if (ks >= 10 && s.startsWith('[REDACTED:', ks - 10)) return null;
    const kind = this.keyKind(s.slice(ks, ke));
    if (!kind) return null;

    let j = ke;
    const c0 = s.charCodeAt(j);
    if (c0 === 92 /* \ */ && (s.charCodeAt(j + 1) === 34 || s.charCodeAt(j + 1) === 39)) j += 2;
    else if (c0 === 34 || c0 === 39) j++;
    const beforeSep = j;
    while (j < s.length && j - ke < 16 && (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9)) j++;
    let spaced = j > beforeSep;
    const sep = s.charCodeAt(j);
    if (sep === 61 /* = */) {
      if (s.charCodeAt(j + 1) === 61) return null; // == is a comparison
      j += s.charCodeAt(j + 1) === 62 /* > */ ? 2 : 1;
    } else if (sep === 58 /* : */) {
      if (s.startsWith('//', j + 1)) return null; // a URL scheme ("secret://notes"), not a key
      j += s.charCodeAt(j + 1) === 61 ? 2 : 1;
    } else {
      return null;
    }
    const colon = sep === 58;
    const afterSep = j;
    while (j < s.length && j - afterSep < 16 && (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9)) j++;
    spaced ||= j > afterSep;

    let quote = '';
    const q0 = s.charCodeAt(j);
    if (q0 === 92 && (s.charCodeAt(j + 1) === 34 || s.charCodeAt(j + 1) === 39)) quote = s.slice(j, j + 2);
    else if (q0 === 34 || q0 === 39 || q0 === 96) quote = s[j]!;
    let vs: number;
    let ve: number;
    if (quote) {
      vs = j + quote.length;
      ve = -1;
      const limit = Math.min(s.length, vs + 4096);
      for (let i = vs; i < limit; i++) {
        if (s.startsWith(quote, i)) {
          ve = i;
          break;
        }
        if (quote.length === 1 && s.charCodeAt(i) === 92) i++;
      }
      if (ve < 0) return null;
    } else {
      vs = j;
      const headerLike = colon && (kind === 'authorization' || kind === 'cookie');
      ve = valueEnd(s, vs, headerLike ? 1 : 0, scratch);
      if (ve - vs > MAX_UNQUOTED_VALUE) return null; // a run this long is data, not an assignment's value
      while (ve > vs && (s.charCodeAt(ve - 1) === 32 || s.charCodeAt(ve - 1) === 46)) ve--; // trailing spaces, a sentence's full stop
      const value = s.slice(vs, ve);
      if (value.length < 3 || value.startsWith('{') || value.startsWith('[')) return null; // structure: the JSON walk's business
      if (!headerLike) {
        const next = s.charCodeAt(ve);
        const endsLine = ve >= s.length || next === 10 || next === 13;
        // "token: the one you got by mail": prose, not an assignment. After a colon, take a bare
        // value only when it looks like a credential or ends its line (YAML).
        if (colon && !tokenish(value) && !endsLine) return null;
        // `token = this.token`, `password: getPassword(),`: code, whose values are expressions.
        // A bare word is taken in KEY=value form (env files, query and connection strings) or at a line's end after a colon.
        if (CODE_LIKE.test(value) && (colon ? !endsLine : spaced)) return null;
      }
    }
    const value = s.slice(vs, ve);
    if (!this.redactableUnderKey(value)) return null;
    return { start: vs, end: ve, kind, priority: KEY_PRIORITY };
  }

  private jsonInString(s: string, depth: number): { text: string; found: Found[] } | null | undefined {
    let a = 0;
    while (a < s.length && WS.has(s.charCodeAt(a))) a++;
    let b = s.length - 1;
    while (b > a && WS.has(s.charCodeAt(b))) b--;
    const first = s.charCodeAt(a);
    const last = s.charCodeAt(b);
    if (!((first === 123 && last === 125) || (first === 91 && last === 93))) return undefined;
    const members = jsonMembersWithin(s, DEFAULT_MAX_DEPTH);
    if (members === -1) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      return undefined;
    }
    // Duplicate keys: the parsed copy lacks all but the last of each, so walking it would vouch
    // for text it never saw. The string is scanned as text instead.
    if (jsonMemberCount(parsed) !== members) return undefined;
    const ctx: WalkContext = { path: [], found: [] };
    const out = this.walk(parsed, ctx, 0, null);
    if (out === parsed) return null;
    const indent = /\n([ \t]+)["\]}]/.exec(s)?.[1];
    const text = s.slice(0, a) + JSON.stringify(out, null, indent) + s.slice(b + 1);
    return { text, found: ctx.found.map((f) => ({ kind: f.kind, encoding: joinEncoding('json', f.encoding) })) };
  }

  /** Percent-encoded runs (query strings, form bodies, encoded JSON): decoded, scanned, re-encoded. */
  private percentRuns(s: string, depth: number, found: Found[]): string {
    let out = '';
    let last = 0;
    let from = 0;
    for (;;) {
      const p = s.indexOf('%', from);
      if (p === -1 || p + 2 >= s.length) break;
      if (!isHex(s.charCodeAt(p + 1)) || !isHex(s.charCodeAt(p + 2))) {
        from = p + 1;
        continue;
      }
      let a = p;
      while (a > last && isUrlChar(s.charCodeAt(a - 1))) a--;
      let b = p;
      while (b < s.length && isUrlChar(s.charCodeAt(b))) b++;
      from = b;
      const run = s.slice(a, b);
      const decoded = percentDecode(run);
      if (decoded === run) continue;
      const r = this.scanString(decoded, depth + 1, true);
      if (!r) continue;
      const encoded = encodeURIComponent(r.text).replace(MARKER_ENCODED, '[REDACTED:$1:$2]');
      out += s.slice(last, a) + encoded;
      last = b;
      for (const f of r.found) found.push({ kind: f.kind, encoding: joinEncoding('url', f.encoding) });
    }
    return last === 0 ? s : out + s.slice(last);
  }

  /** Base64 JSON runs (`eyJ…`) inside text: decoded, scanned, re-encoded with the secrets replaced. */
  private base64Runs(s: string, depth: number, found: Found[]): string {
    const edits: Array<{ a: number; b: number; text: string }> = [];
    let from = 0;
    for (;;) {
      const at = s.indexOf('eyJ', from);
      if (at === -1) break;
      // The run around it, in the standard alphabet, else the URL-safe one.
      let done = at + 3;
      for (const urlSafe of [false, true]) {
        let a = at;
        while (a > 0 && isB64Char(s.charCodeAt(a - 1), urlSafe)) a--;
        let b = at;
        while (b < s.length && isB64Char(s.charCodeAt(b), urlSafe)) b++;
        let end = b;
        while (end < s.length && end - b < 2 && s.charCodeAt(end) === 61) end++;
        done = Math.max(done, end);
        if (a !== at && !urlSafe) continue; // base64 JSON starts with eyJ: a run that starts earlier is something else
        const r = this.base64Run(s, a, end, depth);
        if (r) {
          edits.push({ a, b: end, text: r.text });
          for (const f of r.found) found.push(f);
          break;
        }
      }
      from = done;
    }
    if (edits.length === 0) return s;
    let out = '';
    let last = 0;
    for (const e of edits) {
      if (e.a < last) continue;
      out += s.slice(last, e.a) + e.text;
      last = e.b;
    }
    return out + s.slice(last);
  }

  /** s[a, end) decoded as base64; if it is text holding a secret, that text redacted and encoded again (same alphabet and padding). */
  private base64Run(s: string, a: number, end: number, depth: number): { text: string; found: Found[] } | null {
    if (end - a > MAX_BASE64_RUN || end - a < 12) return null;
    const run = s.slice(a, end);
    const text = base64Text(run);
    if (text === undefined) return null;
    const r = this.scanString(text, depth + 1, true);
    if (!r) return null;
    const urlSafe = /[-_]/.test(run);
    const padded = run.endsWith('=');
    let enc = Buffer.from(r.text, 'utf8').toString(urlSafe ? 'base64url' : 'base64');
    if (!padded) enc = enc.replace(/=+$/, '');
    else if (urlSafe) enc += '='.repeat((4 - (enc.length % 4)) % 4);
    return { text: enc, found: r.found.map((f) => ({ kind: f.kind, encoding: joinEncoding('base64', f.encoding) })) };
  }
}

/** Sets an own property, also one named "__proto__" (JSON.parse makes those; plain assignment would set the prototype instead). */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * Where an unquoted value starting at `from` ends: the next delimiter (set 0: whitespace and
 * punctuation; set 1, header values: line end or quote). Cached per scan, so many key words in
 * one long run cost one pass over it.
 */
function valueEnd(s: string, from: number, set: 0 | 1, scratch: Scratch): number {
  if (from >= scratch.delimFrom[set] && from <= scratch.delimAt[set]) return scratch.delimAt[set];
  let i = from;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || c === 13 || c === 34 || c === 39 || c === 96 || c === 92) break;
    if (set === 0 && (c === 32 || c === 9 || c === 44 || c === 59 || c === 38 || c === 60 || c === 62 || c === 41 || c === 125 || c === 93)) break;
  }
  scratch.delimFrom[set] = from;
  scratch.delimAt[set] = i;
  return i;
}

function sanitiseKind(kind: string): string {
  return kind.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'custom';
}

/**
 * Non-overlapping matches in text order. A key/value match that holds value matches gives way
 * to them when they leave nothing of substance ("Bearer ghp_…"), and swallows them otherwise;
 * other overlaps merge (nothing of either is revealed), the higher priority naming the kind.
 */
function resolve(s: string, matches: Match[]): Match[] {
  let list = matches;
  if (list.some((m) => m.priority === KEY_PRIORITY)) {
    const values = list.filter((m) => m.priority > KEY_PRIORITY).sort((x, y) => x.start - y.start);
    const drop = new Set<Match>();
    for (const k of list) {
      if (k.priority !== KEY_PRIORITY) continue;
      // The value matches inside k: binary search for the first that starts at or after k.start.
      let lo = 0;
      let hi = values.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (values[mid]!.start < k.start) lo = mid + 1;
        else hi = mid;
      }
      let rest = 0;
      let at = k.start;
      const inner: Match[] = [];
      for (let i = lo; i < values.length && values[i]!.start < k.end; i++) {
        const m = values[i]!;
        if (m.end > k.end) continue;
        inner.push(m);
        if (m.start > at) rest += alnumCount(s.slice(at, m.start));
        at = Math.max(at, m.end);
      }
      if (inner.length === 0) continue;
      rest += alnumCount(s.slice(at, k.end));
      if (rest < 8) drop.add(k);
      else for (const m of inner) drop.add(m);
    }
    if (drop.size > 0) list = list.filter((m) => !drop.has(m));
  }
  list = [...list].sort((x, y) => x.start - y.start || y.priority - x.priority || y.end - x.end);
  const out: Match[] = [];
  for (const m of list) {
    const prev = out[out.length - 1];
    if (prev && m.start < prev.end) {
      const kind = m.priority > prev.priority || (m.priority === prev.priority && m.end - m.start > prev.end - prev.start) ? m.kind : prev.kind;
      out[out.length - 1] = { start: prev.start, end: Math.max(prev.end, m.end), kind, priority: Math.max(prev.priority, m.priority) };
    } else {
      out.push(m);
    }
  }
  return out;
}

/** Merges identical (path, kind, encoding) entries into counts and caps the list. */
function finish(found: Redaction[]): Redaction[] {
  if (found.length <= 1) return found;
  const byKey = new Map<string, Redaction>();
  for (const f of found) {
    const k = `${f.path}\u0000${f.kind}\u0000${f.encoding ?? ''}`;
    const prev = byKey.get(k);
    if (prev) prev.count = (prev.count ?? 1) + (f.count ?? 1);
    else byKey.set(k, { ...f });
  }
  const list = [...byKey.values()];
  if (list.length <= MAX_LISTED_REDACTIONS) return list;
  const kept = list.slice(0, MAX_LISTED_REDACTIONS);
  const dropped = list.slice(MAX_LISTED_REDACTIONS).reduce((n, r) => n + (r.count ?? 1), 0);
  kept.push({ path: '', kind: 'truncated', count: dropped });
  return kept;
}

let defaultRedactor: Redactor | undefined;
/**
 * A Redactor with default settings (what the Recorder uses when given none). Its fingerprints are
 * keyed by the user-level audit secret — a key derived for this purpose only — so the CLI and the
 * extension give one secret the same marker; without that secret, a per-process key.
 */
export function defaultRedactorInstance(): Redactor {
  if (!defaultRedactor) {
    const fingerprintKey = userFingerprintKey();
    defaultRedactor = new Redactor(fingerprintKey ? { fingerprintKey } : {});
  }
  return defaultRedactor;
}

/** The fingerprint key derived from the user-level audit secret (created if need be), or undefined when there is none to be had. */
export function userFingerprintKey(): Buffer | undefined {
  try {
    const keys = loadAuditKeys({ create: true });
    return keys ? crypto.createHmac('sha256', keys.macKey).update('mcp-flight redaction fingerprint v1').digest() : undefined;
  } catch {
    return undefined;
  }
}
