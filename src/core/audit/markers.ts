/**
 * Redaction markers in recorded values, for whoever sends a recorded value again (Replay): every
 * marker occurrence — a whole value, inside a longer string, inside a property name, or in the
 * percent-encoded form the Redactor leaves in URL-encoded runs — so each one can be asked for once
 * and filled in everywhere it occurs. A marker stands for one secret (its fingerprint is keyed by
 * the secret), so one answer serves all its occurrences.
 */

/** `[REDACTED:<kind>:<6 hex>]`, as redaction.ts writes it (kinds are sanitised to [a-z0-9_]). */
const READABLE = /\[REDACTED:([a-z0-9_]+):([0-9a-f]{6})\]/g;
/** The same marker percent-encoded (a URL-encoded run re-encoded around it). */
const ENCODED = /%5BREDACTED%3A([a-z0-9_]+)%3A([0-9a-f]{6})%5D/gi;

export interface MarkerOccurrences {
  /** The marker in its readable form: the key for its value. */
  marker: string;
  kind: string;
  fingerprint: string;
  /** Where it occurs, as JSON Pointers into the value (a property name's occurrences end in the name). */
  paths: string[];
  /** How many times in all (a string may hold the same marker more than once). */
  count: number;
}

function pointer(path: Array<string | number>): string {
  let out = '';
  for (const p of path) out += '/' + (typeof p === 'number' ? String(p) : p.replace(/~/g, '~0').replace(/\//g, '~1'));
  return out;
}

function walk(value: unknown, path: Array<string | number>, visit: (s: string, path: Array<string | number>) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i], visit));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      visit(k, [...path, k]);
      walk(v, [...path, k], visit);
    }
  }
}

/** Every distinct marker in `value`, in order of first occurrence, with where it occurs. */
export function findMarkers(value: unknown): MarkerOccurrences[] {
  const found = new Map<string, MarkerOccurrences>();
  walk(value, [], (s, path) => {
    if (!s.includes('REDACTED')) return;
    for (const re of [READABLE, ENCODED]) {
      re.lastIndex = 0;
      for (let m = re.exec(s); m; m = re.exec(s)) {
        const kind = m[1]!.toLowerCase();
        const fingerprint = m[2]!.toLowerCase();
        const marker = `[REDACTED:${kind}:${fingerprint}]`;
        let entry = found.get(marker);
        if (!entry) found.set(marker, (entry = { marker, kind, fingerprint, paths: [], count: 0 }));
        entry.count++;
        const p = pointer(path);
        if (!entry.paths.includes(p)) entry.paths.push(p);
      }
    }
  });
  return [...found.values()];
}

/**
 * Replaces each marker named in `values` by its value, wherever it occurs; markers without a value
 * stay as they are. The value is written the way its surroundings are: as is in plain text,
 * percent-encoded where the marker was, and JSON-escaped inside a string that holds JSON (a
 * marker there sits inside a JSON string literal), so the result still parses. Never mutates.
 */
export function fillMarkers<T>(value: T, values: ReadonlyMap<string, string>): T {
  if (values.size === 0) return value;
  return fill(value, values) as T;
}

function fill(value: unknown, values: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return fillString(value, values);
  if (Array.isArray(value)) return value.map((v) => fill(v, values));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty: a recorded "__proto__" key stays a key.
      Object.defineProperty(out, fillString(k, values), { value: fill(v, values), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

function fillString(s: string, values: ReadonlyMap<string, string>): string {
  if (!s.includes('REDACTED')) return s;
  const plain = (escape: (v: string) => string): string =>
    s
      .replace(READABLE, (m) => (values.has(m) ? escape(values.get(m)!) : m))
      .replace(ENCODED, (m, kind: string, fp: string) => {
        const v = values.get(`[REDACTED:${kind.toLowerCase()}:${fp.toLowerCase()}]`);
        return v === undefined ? m : encodeURIComponent(v);
      });
  if (/^\s*[[{]/.test(s)) {
    try {
      JSON.parse(s);
      const escaped = plain((v) => JSON.stringify(v).slice(1, -1));
      JSON.parse(escaped);
      return escaped;
    } catch {
      // Not JSON after all (or not once filled): plain text.
    }
  }
  return plain((v) => v);
}
