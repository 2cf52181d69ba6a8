import { Redactor, type RedactorOptions, userFingerprintKey } from './redaction';

/**
 * The user's redaction settings — extra patterns and allow-lists — checked before they reach the
 * Redactor: the extension's `mcpFlight.redaction.*` settings and the CLI's `--redaction FILE`
 * share this shape and these rules (docs/redaction.md, "Settings").
 *
 * ```json
 * { "extraPatterns": [{ "kind": "acme_key", "regex": "ACME-([0-9A-F]{16})" }],
 *   "allowKeys": ["session_token"],
 *   "allowValues": ["AKIAIOSFODNN7EXAMPLE", { "regex": "sk_test_[0-9a-zA-Z]{24}" }] }
 * ```
 *
 * Every user regex runs over every recorded text, up to 10 MiB at a time, on the recorder's
 * path, so patterns that can backtrack exponentially are refused outright (see `regexProblem`).
 * Invalid entries are dropped and reported, one message each; valid ones still apply.
 */

export interface RedactionSettings {
  extraPatterns?: unknown;
  allowKeys?: unknown;
  allowValues?: unknown;
}

export interface CheckedRedactionSettings {
  /** What the Redactor takes (without the fingerprint key). */
  options: Pick<RedactorOptions, 'extraPatterns' | 'allowKeys' | 'allowValues' | 'allowPatterns'>;
  /** One message per refused entry, naming it and why. Empty when everything was taken. */
  errors: string[];
}

/** Longest user regex accepted. */
export const MAX_USER_REGEX_LENGTH = 1000;
/** Flags a user regex may carry (`g` is added by the Redactor; `y` would stop the scan). */
const ALLOWED_FLAGS = /^[imsu]*$/;

/**
 * Why a user regex is refused, or undefined when it is acceptable. Refused: what does not compile;
 * what matches the empty string (it would "match" everywhere); backreferences (they need
 * backtracking by definition); and the shapes behind catastrophic backtracking — a repeated group
 * that itself holds a quantifier (`(a+)+`, `(\w+\s?)*`) or an alternation (`(a|aa)+`). Hand-written
 * rather than taken from a package (safe-regex and the like are not among our dependencies): it
 * walks the pattern's syntax once, which is all these rules need.
 */
export function regexProblem(source: string, flags = ''): string | undefined {
  if (typeof source !== 'string' || source === '') return 'the regex is empty';
  if (source.length > MAX_USER_REGEX_LENGTH) return `the regex is longer than ${MAX_USER_REGEX_LENGTH} characters`;
  if (!ALLOWED_FLAGS.test(flags)) return `flags may only be i, m, s and u (got "${flags}")`;
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (err) {
    return `the regex does not compile: ${(err as Error).message}`;
  }
  interface Group {
    quantified: boolean; // holds a quantifier (directly or in a nested group)
    alternation: boolean;
  }
  const stack: Group[] = [{ quantified: false, alternation: false }];
  // Reads a quantifier at i: its length and whether it repeats (upper bound > 1), or undefined.
  const quantifierAt = (i: number): { length: number; repeats: boolean } | undefined => {
    const c = source[i];
    let length = 0;
    let repeats = false;
    if (c === '*' || c === '+') {
      length = 1;
      repeats = true;
    } else if (c === '?') {
      length = 1;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!m) return undefined;
      length = m[0].length;
      repeats = m[2] !== undefined ? m[3] === '' || Number(m[3]) > 1 : Number(m[1]) > 1;
    } else {
      return undefined;
    }
    if (source[i + length] === '?') length++; // lazy
    return { length, repeats };
  };

  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const top = stack[stack.length - 1]!;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<')) return 'backreferences are not allowed (matching them needs backtracking)';
      i++;
      const q = quantifierAt(i + 1);
      if (q) {
        top.quantified = true;
        i += q.length;
      }
      continue;
    }
    if (c === '[') {
      // A character class: up to its closing bracket (escapes inside skipped).
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      i = j;
      const q = quantifierAt(i + 1);
      if (q) {
        top.quantified = true;
        i += q.length;
      }
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      // Skip the group's prefix: (?: (?= (?! (?<= (?<! (?<name>
      if (source[i + 1] === '?') {
        const m = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(source.slice(i + 1));
        if (m) i += m[0].length;
      }
      continue;
    }
    if (c === ')') {
      const group = stack.pop()!;
      const parent = stack[stack.length - 1]!;
      const q = quantifierAt(i + 1);
      if (q) {
        if (q.repeats && group.quantified) return `nested quantifiers: the repeated group ending at position ${i + 1} holds a quantifier of its own, which can backtrack catastrophically — repeat a character class instead (e.g. [\\w-]{1,64})`;
        if (q.repeats && group.alternation) return `a repeated alternation: the group ending at position ${i + 1} repeats a choice between alternatives, which can backtrack catastrophically — repeat a character class instead`;
        i += q.length;
      }
      parent.quantified ||= group.quantified || q !== undefined;
      continue;
    }
    if (c === '|') {
      top.alternation = true;
      continue;
    }
    const q = quantifierAt(i + 1);
    if (q) {
      top.quantified = true;
      i += q.length;
    }
  }
  if (re.test('')) return 'the regex matches the empty string';
  return undefined;
}

const KIND = /^[a-z][a-z0-9_]{0,39}$/;

/** Checks raw settings (from VS Code's settings or a `--redaction` JSON file) entry by entry. */
export function checkRedactionSettings(raw: RedactionSettings | undefined | null, where = 'redaction settings'): CheckedRedactionSettings {
  const errors: string[] = [];
  const extraPatterns: Array<{ kind: string; regex: RegExp }> = [];
  const allowKeys: string[] = [];
  const allowValues: string[] = [];
  const allowPatterns: RegExp[] = [];
  if (raw === undefined || raw === null) return { options: {}, errors };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { options: {}, errors: [`${where}: expected an object with extraPatterns, allowKeys and allowValues`] };

  const list = (name: keyof RedactionSettings): unknown[] => {
    const v = raw[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      errors.push(`${where}: ${name} must be an array`);
      return [];
    }
    return v;
  };

  list('extraPatterns').forEach((entry, i) => {
    const label = `${where}: extraPatterns[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      errors.push(`${label}: expected { "kind": "...", "regex": "..." }`);
      return;
    }
    const e = entry as { kind?: unknown; name?: unknown; regex?: unknown; pattern?: unknown; flags?: unknown };
    const kind = e.kind ?? e.name;
    const source = e.regex ?? e.pattern;
    const flags = e.flags ?? '';
    if (typeof kind !== 'string' || !KIND.test(kind)) {
      errors.push(`${label}: "kind" must be a lower-case name of letters, digits and _ (at most 40, starting with a letter), as it appears in the marker [REDACTED:kind:…]; got ${JSON.stringify(kind)}`);
      return;
    }
    if (typeof source !== 'string' || typeof flags !== 'string') {
      errors.push(`${label} (${kind}): "regex" must be a string (and "flags", if given)`);
      return;
    }
    const problem = regexProblem(source, flags);
    if (problem) {
      errors.push(`${label} (${kind}): refused, ${problem}`);
      return;
    }
    extraPatterns.push({ kind, regex: new RegExp(source, flags) });
  });

  list('allowKeys').forEach((entry, i) => {
    if (typeof entry !== 'string' || entry.trim() === '') errors.push(`${where}: allowKeys[${i}] must be a non-empty string (a field, header or variable name)`);
    else allowKeys.push(entry);
  });

  list('allowValues').forEach((entry, i) => {
    const label = `${where}: allowValues[${i}]`;
    if (typeof entry === 'string') {
      if (entry === '') errors.push(`${label} is empty`);
      else allowValues.push(entry);
      return;
    }
    const e = entry as { regex?: unknown; pattern?: unknown; flags?: unknown } | null;
    const source = e && typeof e === 'object' && !Array.isArray(e) ? (e.regex ?? e.pattern) : undefined;
    const flags = (e && typeof e === 'object' ? e.flags : undefined) ?? '';
    if (typeof source !== 'string' || typeof flags !== 'string') {
      errors.push(`${label}: expected an exact value (a string) or { "regex": "..." }`);
      return;
    }
    const problem = regexProblem(source, flags);
    if (problem) {
      errors.push(`${label}: refused, ${problem}`);
      return;
    }
    allowPatterns.push(new RegExp(source, flags));
  });

  const options: CheckedRedactionSettings['options'] = {};
  if (extraPatterns.length) options.extraPatterns = extraPatterns;
  if (allowKeys.length) options.allowKeys = allowKeys;
  if (allowValues.length) options.allowValues = allowValues;
  if (allowPatterns.length) options.allowPatterns = allowPatterns;
  return { options, errors };
}

/** A Redactor with the user's checked settings, its fingerprints keyed like every other recorder's (the user-level audit secret). */
export function redactorWithSettings(options: CheckedRedactionSettings['options']): Redactor {
  const fingerprintKey = userFingerprintKey();
  return new Redactor({ ...options, ...(fingerprintKey ? { fingerprintKey } : {}) });
}

/** True when the checked settings change nothing (the Recorder's default Redactor will do). */
export function isDefaultRedaction(options: CheckedRedactionSettings['options']): boolean {
  return !options.extraPatterns && !options.allowKeys && !options.allowValues && !options.allowPatterns;
}
