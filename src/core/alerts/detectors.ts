import * as path from 'node:path';

/**
 * Small detectors of the alert engine that need no state of their own: which tools can carry data
 * out, and whether arguments point at the recorder's own files.
 */

/** Verbs in a tool's name or title that mean data leaves the machine. */
const EXFILTRATION_VERBS = new Set([
  'send', 'post', 'upload', 'email', 'mail', 'fetch', 'http', 'https', 'request', 'webhook', 'publish', 'share', 'submit', 'transfer',
  'forward', 'notify', 'message', 'tweet', 'slack', 'sms', 'curl', 'wget', 'download', 'browse', 'navigate', 'url', 'push', 'sync', 'export',
]);

/** Words of an identifier: `send_email` / `sendEmail` / `send-email` / `SendEmail` → send, email. */
export function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

export interface ExfiltrationReasons {
  open_world?: true;
  verbs?: string[];
  /** Kinds of secrets the redactor found in the arguments. */
  secrets?: string[];
}

/** Why a call could carry data out, or undefined when nothing says so. */
export function exfiltrationReasons(tool: string, title: string | undefined, annotations: Record<string, unknown> | undefined, secretKinds: readonly string[]): ExfiltrationReasons | undefined {
  const r: ExfiltrationReasons = {};
  if (annotations?.openWorldHint === true) r.open_world = true;
  const verbs = [...new Set([...wordsOf(tool), ...(title ? wordsOf(title) : [])].filter((w) => EXFILTRATION_VERBS.has(w)))];
  if (verbs.length) r.verbs = verbs;
  if (secretKinds.length) r.secrets = [...new Set(secretKinds)];
  return r.open_world || r.verbs || r.secrets ? r : undefined;
}

/**
 * Paths the audited agent must not touch: the store (journal, index, identity) and the user's
 * audit home (keys, checkpoints, pins). Matching is textual on every string of the arguments —
 * absolute paths (either slash), `~/`-relative forms, and the folders' own names when they are
 * distinctive (`.mcp-flight`) — because a tool may take a path in any argument, as part of a
 * command line or a URL.
 */
export class ProtectedPaths {
  /** One regular expression for every form. */
  private readonly pattern: RegExp | undefined;
  /**
   * Every form ends with its folder's name: a string that contains none of these names cannot
   * match, and `includes` rejects it far faster than the regular expression (the common case).
   */
  private readonly bases: string[] = [];

  constructor(paths: readonly string[], home?: string) {
    const needles: string[] = [];
    const names = new Set<string>();
    for (const p of paths) {
      const abs = path.resolve(p);
      for (const form of [abs, abs.replace(/\\/g, '/'), abs.replace(/\//g, '\\')]) if (!needles.includes(form)) needles.push(form);
      if (home && abs.startsWith(home + path.sep)) needles.push(`~/${path.relative(home, abs).replace(/\\/g, '/')}`);
      const base = path.basename(abs);
      if (base && !this.bases.includes(base)) this.bases.push(base);
      // Only names nobody uses for something else ('.mcp-flight'); never 'keys' or 'store'.
      if (base.startsWith('.') && base.length >= 6) names.add(base);
    }
    const alternatives = needles.map(escapeRegExp);
    if (names.size) alternatives.push(`(?:^|(?<=[\\\\/\\s'"\`=:]))(?:${[...names].map(escapeRegExp).join('|')})(?=$|[\\\\/\\s'"\`])`);
    this.pattern = alternatives.length ? new RegExp(alternatives.join('|')) : undefined;
  }

  /** The first protected path a string mentions, or undefined. */
  match(s: string): string | undefined {
    if (!this.bases.some((b) => s.includes(b))) return undefined;
    return this.pattern?.exec(s)?.[0];
  }

  /** Walks arguments (bounded) for strings that mention a protected path; the JSON Pointer is built only for a hit. */
  find(args: unknown): { path: string; match: string } | undefined {
    if (!this.pattern) return undefined;
    let budget = 10_000;
    const trail: Array<string | number> = [];
    const walk = (v: unknown, depth: number): string | undefined => {
      if (--budget < 0 || depth > 32) return undefined;
      if (typeof v === 'string') return this.match(v);
      if (v === null || typeof v !== 'object') return undefined;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const m = walk(v[i], depth + 1);
          if (m !== undefined) return trail.push(i), m;
        }
        return undefined;
      }
      for (const k in v) {
        const m = walk((v as Record<string, unknown>)[k], depth + 1);
        if (m !== undefined) return trail.push(k), m;
      }
      return undefined;
    };
    const match = walk(args, 0);
    if (match === undefined) return undefined;
    return { path: trail.reverse().map((k) => `/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`).join(''), match };
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Calls per key in a sliding window: timestamps kept in a ring per key, so each call costs a
 * push and the removal of what fell out of the window. An alert fires when the count reaches the
 * threshold, then not again for that key until a whole window has passed.
 */
export class RateWindow {
  private readonly hits = new Map<string, { times: number[]; head: number; alertedAt: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly threshold: number,
  ) {}

  /** Counts one call; returns the count in the window when it crosses the threshold (once per window). */
  hit(key: string, now: number): number | undefined {
    let h = this.hits.get(key);
    if (!h) this.hits.set(key, (h = { times: [], head: 0, alertedAt: -Infinity }));
    h.times.push(now);
    while (h.head < h.times.length && h.times[h.head]! <= now - this.windowMs) h.head++;
    if (h.head > 1024) {
      h.times = h.times.slice(h.head);
      h.head = 0;
    }
    const count = h.times.length - h.head;
    if (count < this.threshold || now - h.alertedAt < this.windowMs) return undefined;
    h.alertedAt = now;
    return count;
  }
}
