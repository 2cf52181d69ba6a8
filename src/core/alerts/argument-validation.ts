import * as crypto from 'node:crypto';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { canonicalize } from '../audit/canonical';

/**
 * Tool arguments checked against the tool's advertised `inputSchema` with ajv: JSON Schema
 * 2020-12 by default (what current MCP revisions specify), draft-07 when the schema's `$schema`
 * names draft-07 or older. A schema is compiled once per hash of its canonical JSON, so a server
 * listing its tools again, or two servers sharing a schema, costs nothing more.
 */

export interface ArgumentProblems {
  /** ajv's errors, at most MAX_ERRORS (never the offending values: only where and why). */
  errors: Array<{ instancePath: string; schemaPath: string; keyword: string; message: string; params: Record<string, unknown> }>;
  errorsOmitted: number;
  /** Top-level argument names the schema does not declare (when it does not forbid them itself). */
  undeclared: string[];
  /** Patterns that were not applied because they could backtrack catastrophically (see safeRegexSource). */
  skippedPatterns: string[];
}

export interface SchemaEntry {
  hash: string;
  draft: '2020-12' | 'draft-07';
  validate?: ValidateFunction;
  /** Why the schema could not be compiled: its arguments are then not validated. */
  compileError?: string;
  declared?: Set<string>;
  /** The schema allows undeclared properties explicitly (additionalProperties or patternProperties). */
  openProperties: boolean;
  skippedPatterns: string[];
}

const MAX_ERRORS = 20;
const MAX_CACHED = 1000;
/** Longer patterns are not applied: nobody writes a 1,000-character regex for a tool argument. */
const MAX_PATTERN_LENGTH = 1000;

export class ArgumentValidator {
  private readonly cache = new Map<string, SchemaEntry>();
  private ajv2020?: Ajv2020;
  private ajv07?: Ajv;

  /** The schema's hash: computed when a tools/list result arrives, not per call. */
  static hashOf(schema: unknown): string {
    return crypto.createHash('sha256').update(canonicalize(schema)).digest('hex').slice(0, 32);
  }

  /** The compiled entry for a schema (compiled on first use, then cached by hash). */
  entry(schema: unknown, hash: string = ArgumentValidator.hashOf(schema)): SchemaEntry {
    let e = this.cache.get(hash);
    if (e) {
      // Most recently used last, so the oldest is evicted first.
      this.cache.delete(hash);
      this.cache.set(hash, e);
      return e;
    }
    e = this.compile(schema, hash);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(hash, e);
    return e;
  }

  /** Problems of `args` against the schema; undefined when there are none. */
  check(entry: SchemaEntry, args: unknown): ArgumentProblems | undefined {
    let errors: ArgumentProblems['errors'] = [];
    let errorsOmitted = 0;
    if (entry.validate && !entry.validate(args ?? {})) {
      const all = entry.validate.errors ?? [];
      errors = all.slice(0, MAX_ERRORS).map(errorOf);
      errorsOmitted = Math.max(0, all.length - MAX_ERRORS);
    }
    const undeclared: string[] = [];
    if (entry.declared && !entry.openProperties && isObject(args)) {
      for (const k of Object.keys(args)) if (!entry.declared.has(k)) undeclared.push(k);
    }
    if (!errors.length && !undeclared.length) return undefined;
    return { errors, errorsOmitted, undeclared, skippedPatterns: entry.skippedPatterns };
  }

  private compile(schema: unknown, hash: string): SchemaEntry {
    const skippedPatterns: string[] = [];
    const draft = draftOf(schema);
    const base: SchemaEntry = { hash, draft, openProperties: true, skippedPatterns };
    if (!isObject(schema)) return { ...base, compileError: 'inputSchema is not an object' };
    const guarded = guardPatterns(schema, skippedPatterns, 0) as Record<string, unknown>;
    const declared = declaredProperties(guarded);
    // additionalProperties: false is reported by ajv itself; an explicit true or schema opens the object.
    // Read from the schema as the server sent it: a patternProperties dropped by the guard still opens the object.
    const openProperties = schema.additionalProperties !== undefined || schema.patternProperties !== undefined || schema.unevaluatedProperties !== undefined;
    const { $schema: _ignored, ...forAjv } = guarded;
    try {
      const validate = draft === 'draft-07' ? this.draft07().compile(forAjv) : this.draft2020().compile(forAjv);
      return { ...base, validate, ...(declared ? { declared } : {}), openProperties };
    } catch (err) {
      return { ...base, compileError: (err as Error).message.slice(0, 500), ...(declared ? { declared } : {}), openProperties };
    }
  }

  private draft2020(): Ajv2020 {
    if (!this.ajv2020) {
      this.ajv2020 = new Ajv2020(AJV_OPTIONS);
      addFormats(this.ajv2020);
    }
    return this.ajv2020;
  }

  private draft07(): Ajv {
    if (!this.ajv07) {
      this.ajv07 = new Ajv(AJV_OPTIONS);
      addFormats(this.ajv07);
    }
    return this.ajv07;
  }
}

/**
 * Servers' schemas are data, not our code: unknown keywords and formats are tolerated (strict
 * off), the schema itself is not meta-validated (a slightly wrong schema still checks what it
 * can), and every error is collected so the alert says all that is wrong at once.
 */
const AJV_OPTIONS = { strict: false, allErrors: true, validateSchema: false, addUsedSchema: false, logger: false } as const;

function draftOf(schema: unknown): SchemaEntry['draft'] {
  const s = isObject(schema) ? schema.$schema : undefined;
  return typeof s === 'string' && /draft-0[3-7]\b/.test(s) ? 'draft-07' : '2020-12';
}

function errorOf(e: ErrorObject): ArgumentProblems['errors'][number] {
  return { instancePath: e.instancePath, schemaPath: e.schemaPath, keyword: e.keyword, message: e.message ?? e.keyword, params: e.params as Record<string, unknown> };
}

/** Top-level property names, including those of allOf/anyOf/oneOf members; undefined when the schema names none. */
function declaredProperties(schema: Record<string, unknown>): Set<string> | undefined {
  let out: Set<string> | undefined;
  const add = (s: unknown): void => {
    if (!isObject(s)) return;
    if (isObject(s.properties)) for (const k of Object.keys(s.properties)) (out ??= new Set()).add(k);
    for (const comb of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(s[comb])) for (const m of s[comb] as unknown[]) add(m);
  };
  add(schema);
  // A schema built from $ref or conditionals hides its properties from this simple reading: do not guess.
  if (schema.$ref !== undefined || schema.if !== undefined || schema.dependentSchemas !== undefined) return undefined;
  return out;
}

/**
 * A copy of the schema without the patterns that could backtrack catastrophically: JavaScript
 * regular expressions have no time limit, so one `(a+)+$` in a server's schema, matched against a
 * crafted 40-character argument, would freeze the process that records (and forwards) every
 * message. An unsafe `pattern` is dropped (the string is then not checked against it); an unsafe
 * `patternProperties` key drops the whole `patternProperties` of that object, because keeping
 * the others would change which properties count as additional. What was skipped is reported
 * in the alert's evidence.
 */
function guardPatterns(v: unknown, skipped: string[], depth: number): unknown {
  if (depth > 64 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => guardPatterns(x, skipped, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'pattern' && typeof x === 'string') {
      if (safeRegexSource(x)) out[k] = x;
      else skipped.push(x.slice(0, 200));
      continue;
    }
    if (k === 'patternProperties' && isObject(x)) {
      const unsafe = Object.keys(x).filter((p) => !safeRegexSource(p));
      if (unsafe.length) {
        for (const p of unsafe) skipped.push(p.slice(0, 200));
        continue;
      }
    }
    out[k] = guardPatterns(x, skipped, depth + 1);
  }
  return out;
}

/**
 * Whether a regular expression source is safe from catastrophic backtracking, by the rule
 * safe-regex and rxxr use: no quantified group may contain a quantifier itself (star height ≤ 1:
 * `(a+)+`, `(a*)*`, `(\w+\s?)*`), and no back-references (which make matching NP-hard). Also
 * refused: sources longer than 1,000 characters and sources that do not compile with the `u`
 * flag ajv uses. This rejects a few harmless patterns (`(ab+){2}`), never a dangerous one of
 * those shapes; a quantified alternation of overlapping branches (`(a|a)*`) is also refused.
 */
export function safeRegexSource(source: string): boolean {
  if (source.length > MAX_PATTERN_LENGTH) return false;
  try {
    new RegExp(source, 'u');
  } catch {
    return false;
  }
  // Per open group: does it contain a quantifier, or an alternation?
  const stack: Array<{ quantified: boolean; alternation: boolean }> = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(n)) return false;
      if (!inClass && n === 'k' && source[i + 2] === '<') return false;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      continue;
    }
    if (c === '|') {
      const top = stack[stack.length - 1];
      if (top) top.alternation = true;
      continue;
    }
    if (c === ')') {
      const group = stack.pop();
      const q = quantifierAt(source, i + 1);
      if (group && q) {
        if (group.quantified || (group.alternation && q.unbounded)) return false;
      }
      // The group's content counts as a quantified element of its parent.
      const parent = stack[stack.length - 1];
      if (parent && (q || group?.quantified)) parent.quantified = true;
      if (q) i += q.length;
      continue;
    }
    const q = quantifierAt(source, i);
    if (q) {
      const top = stack[stack.length - 1];
      if (top) top.quantified = true;
      i += q.length - 1;
    }
  }
  return true;
}

/** A quantifier starting at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy), or undefined. */
function quantifierAt(s: string, i: number): { length: number; unbounded: boolean } | undefined {
  const c = s[i];
  if (c === '*' || c === '+') return { length: s[i + 1] === '?' ? 2 : 1, unbounded: true };
  if (c === '?') return { length: s[i + 1] === '?' ? 2 : 1, unbounded: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}\??/.exec(s.slice(i, i + 24));
    if (!m) return undefined;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    // {0,1} and {1} repeat nothing; only repetition counts.
    if (max <= 1) return undefined;
    return { length: m[0].length, unbounded: max > 1 };
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
