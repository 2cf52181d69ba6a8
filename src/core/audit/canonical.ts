/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) for the JSON data model (values from JSON.parse).
 *
 * - object members sorted by their names as arrays of UTF-16 code units (what the default
 *   `Array.prototype.sort` compares), no whitespace;
 * - strings and numbers serialised as ECMAScript's JSON.stringify does (RFC 8785 §3.2.2 adopts
 *   exactly that: shortest round-trip numbers, `-0` as `0`, the minimal set of escapes);
 * - literals as `null`, `true`, `false`.
 *
 * Written here rather than taken from npm because it is twenty lines on the journal's hot path
 * and must never change under us: the hash chain of every journal ever written depends on it.
 * Non-finite numbers are not JSON and throw. Values JSON.stringify drops (undefined, functions,
 * symbols) are dropped the same way, so canonicalize(v) === canonicalize(JSON.parse(JSON.stringify(v)))
 * for plain data; `toJSON` is not honoured (journal values never carry one).
 */
export function canonicalize(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalize: ${value} is not a JSON number`);
      // ECMAScript Number::toString, as JSON.stringify writes numbers (and -0 as "0").
      return value === 0 ? '0' : '' + value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i) out += ',';
          const v: unknown = value[i];
          out += v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : canonicalize(v);
        }
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (keys.length > 1) sortKeys(keys);
      let out = '{';
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = obj[k];
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        out += (first ? '' : ',') + quoteKey(k) + ':' + canonicalize(v);
        first = false;
      }
      return out + '}';
    }
    case 'bigint':
      throw new TypeError('canonicalize: BigInt is not a JSON value');
    default:
      throw new TypeError(`canonicalize: ${typeof value} is not a JSON value`);
  }
}

/** Characters JSON.stringify escapes (controls, quote, backslash) or may (surrogates: lone ones are escaped). */
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(s), without its cost for the common string that needs no escape. */
function quote(s: string): string {
  return NEEDS_CARE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Member names repeat (every item of a list has the same few): their quoted form is cached. */
const keyCache = new Map<string, string>();

function quoteKey(k: string): string {
  let q = keyCache.get(k);
  if (q === undefined) {
    q = quote(k);
    if (keyCache.size >= 4096) keyCache.clear();
    keyCache.set(k, q);
  }
  return q;
}

/**
 * Sorts member names by UTF-16 code units (what `<` on strings and the default sort compare).
 * Objects mostly have a handful of members, often already in order: an insertion sort does that
 * in a few comparisons; long lists go to the built-in sort.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 24) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    if (keys[j]! <= k) continue;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}
