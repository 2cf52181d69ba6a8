import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which file paths a call's arguments name. A tool names files in many ways — absolute paths,
 * paths relative to the workspace (or the server's root), `file://` URIs — anywhere in its
 * arguments (`path`, `source`/`destination`, `edits[].file`…), so every string is looked at.
 */

/** Strings looked at per call, and how deep: arguments are bounded anyway, this keeps a hostile one cheap. */
const MAX_STRINGS = 256;
const MAX_DEPTH = 16;
const MAX_STRING_CHARS = 4096;

/** The absolute paths named in `args`, relative ones resolved against `root`. */
export function pathsNamedIn(args: unknown, root: string): Set<string> {
  const out = new Set<string>();
  let seen = 0;
  const visit = (v: unknown, depth: number): void => {
    if (seen >= MAX_STRINGS || depth > MAX_DEPTH) return;
    if (typeof v === 'string') {
      seen++;
      const p = asPath(v, root);
      if (p !== undefined) out.add(p);
      return;
    }
    if (Array.isArray(v)) {
      for (const x of v) visit(x, depth + 1);
      return;
    }
    if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) visit(x, depth + 1);
  };
  visit(args, 0);
  return out;
}

/** A string that can be a path: a file:// URI, an absolute path, or a relative one without spaces-only or URL-ness. */
export function asPath(s: string, root: string): string | undefined {
  const t = s.trim();
  if (t === '' || t.length > MAX_STRING_CHARS || t.includes('\n') || t.includes('\0')) return undefined;
  if (/^file:/i.test(t)) {
    try {
      return path.resolve(fileURLToPath(t));
    } catch {
      return undefined;
    }
  }
  // Other URLs (https:, mailto:…) are not workspace paths.
  if (/^[a-z][a-z0-9+.-]+:/i.test(t) && !/^[a-z]:[\\/]/i.test(t)) return undefined;
  if (path.isAbsolute(t)) return path.resolve(t);
  if (t.startsWith('~')) return undefined;
  const resolved = path.resolve(root, t);
  // ".", "./" and the like would make every effect in the workspace "named": a relative string must name something inside.
  return resolved === path.resolve(root) ? undefined : resolved;
}

/** How `named` relates to the effect's path: the path itself, a folder containing it, or neither. */
export function relation(named: Set<string>, effectPath: string): 'exact' | 'ancestor' | undefined {
  if (named.has(effectPath)) return 'exact';
  for (let dir = path.dirname(effectPath); ; dir = path.dirname(dir)) {
    if (named.has(dir)) return 'ancestor';
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Whether `p` is inside (or is) `dir`. */
export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
