import type { JsonRpcId, MessageEnvelope } from './records';

/**
 * Cheap, allocation-free checks for the recorder's hot path. Full validation with the SDK's
 * schemas happens off the forwarding path, when calls are assembled.
 */

/** Nesting beyond this is forwarded untouched but kept as opaque bytes: recursive walkers and `JSON.stringify` overflow the stack on 100,000-deep input. */
export const DEFAULT_MAX_DEPTH = 64;
/** Messages larger than this are forwarded untouched but kept as opaque bytes rather than structured JSON. */
export const DEFAULT_MAX_STRUCTURED_BYTES = 8 * 1024 * 1024;

/** The characters the depth scan stops at: brackets change the depth, a quote starts a string to skip. */
const STRUCTURAL = /[{}[\]"]/g;

/**
 * True when the JSON text nests arrays/objects deeper than `limit`. It runs on every message
 * before it is forwarded, so it hops between structural characters with the regex engine and
 * skips strings with `indexOf` rather than looking at each character in JavaScript (≈ 4× faster
 * on a 1 KB message, whose bytes are mostly inside strings).
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  return jsonMembersWithin(text, limit) === -1;
}

/**
 * The depth scan (see jsonDepthExceeds) that also counts the object members the text writes,
 * duplicates included; -1 when the text nests deeper than `limit`. `JSON.parse` keeps only the
 * last of duplicate keys, so a count above `jsonMemberCount` of the parsed value means the text
 * holds members the parsed value (and any walk over it) never shows.
 */
export function jsonMembersWithin(text: string, limit: number): number {
  let depth = 0;
  let members = 0;
  STRUCTURAL.lastIndex = 0;
  for (let m = STRUCTURAL.exec(text); m !== null; m = STRUCTURAL.exec(text)) {
    const c = text.charCodeAt(m.index);
    if (c === 0x22 /* " */) {
      const end = closingQuote(text, m.index);
      if (end === -1) return members;
      // A string followed by a colon is a key.
      let next = end + 1;
      let n = text.charCodeAt(next);
      while (n === 0x20 || n === 0x0a || n === 0x0d || n === 0x09) n = text.charCodeAt(++next);
      if (n === 0x3a /* : */) members++;
      STRUCTURAL.lastIndex = next;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return -1;
    } else {
      depth--;
    }
  }
  return members;
}

/** The depth scan's stops, and commas: where the elements of an array end. */
const ARRAY_STOPS = /[{}[\]",]/g;

/**
 * The texts of the elements of a JSON array text (a batch), as they were written; undefined when
 * the text is not an array. For text `JSON.parse` accepted: splitting the text rather than
 * re-serialising the parsed elements keeps each one verbatim, and never walks an element nested
 * too deep for `JSON.stringify` (it is recorded as opaque instead).
 */
export function jsonArrayItems(text: string): string[] | undefined {
  let i = 0;
  for (let c = text.charCodeAt(0); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++i));
  if (text.charCodeAt(i) !== 0x5b /* [ */) return undefined;
  const items: string[] = [];
  let depth = 0;
  let start = i + 1;
  ARRAY_STOPS.lastIndex = i;
  for (let m = ARRAY_STOPS.exec(text); m !== null; m = ARRAY_STOPS.exec(text)) {
    const at = m.index;
    const c = text.charCodeAt(at);
    if (c === 0x22 /* " */) {
      const end = closingQuote(text, at);
      if (end === -1) return undefined;
      ARRAY_STOPS.lastIndex = end + 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (--depth === 0) {
        const last = text.slice(start, at).trim();
        if (last !== '') items.push(last);
        return items;
      }
    } else if (depth === 1) {
      items.push(text.slice(start, at).trim());
      start = at + 1;
    }
  }
  return undefined;
}

/** The number of members of all objects in a parsed JSON value (not deeper than the recorder's depth limit: it recurses). */
export function jsonMemberCount(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) n += jsonMemberCount(value[i]);
    return n;
  }
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) n += 1 + jsonMemberCount(o[k]);
  return n;
}

/** The quote that ends the string opened at `open`: the first one not escaped by an odd run of backslashes; -1 if none. */
function closingQuote(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q !== -1; q = text.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c /* \ */) backslashes++;
    if ((backslashes & 1) === 0) return q;
  }
  return -1;
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || typeof value === 'number';
}

/** Classifies a parsed JSON value as a JSON-RPC 2.0 message by its envelope only. */
export function envelopeOf(value: unknown): MessageEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'invalid' };
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return { kind: 'invalid' };
  const method = typeof m.method === 'string' ? m.method : undefined;
  if (method !== undefined) {
    if (isId(m.id)) return { kind: 'request', id: m.id, method };
    if (m.id === undefined) return { kind: 'notification', method };
    return { kind: 'invalid', method };
  }
  if ('error' in m && (isId(m.id) || m.id === null)) return { kind: 'error', id: m.id as JsonRpcId | null };
  if ('result' in m && isId(m.id)) return { kind: 'response', id: m.id };
  return { kind: 'invalid' };
}

/** A stable map key for a JSON-RPC id: 1 and "1" are different ids. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

/** Builds a JSON-RPC error response the recorder sends when a call can no longer complete. */
export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify({ jsonrpc: '2.0', id, error });
}

/** JSON-RPC error codes the recorder itself uses. */
export const RecorderErrorCode = {
  /** The SDK's own "request timed out" code, so clients treat it like their own timeout. */
  RequestTimeout: -32001,
  /** Server process exited, failed to spawn, or the connection to it broke. */
  ConnectionClosed: -32000,
  /** A gate (security alert or spend governor) refused the call. */
  Denied: -32003,
  /** The recorder could not write its journal (disk full…): it forwards nothing it has not recorded. */
  RecordingFailed: -32004,
} as const;
