import type { AlertSeverity } from '../model/records';

/**
 * Tool poisoning: text a server shows the model (tool names, titles, descriptions, every string
 * inside the input and output schemas, the server's `instructions`) that carries instructions
 * for the model rather than documentation for it, hides text from the user, or points at files
 * and tools it has no business with. Each rule is data (a name, a severity, a test); a finding
 * says where (a JSON-Pointer-like path) and shows an excerpt with invisible characters made
 * visible. Scanned only when a tools/list or initialize result arrives, never per call.
 */

export type PoisoningRule = 'model_instruction' | 'invisible_unicode' | 'ansi_escape' | 'whitespace_padding' | 'sensitive_file' | 'shadowing';

export interface PoisoningFinding {
  rule: PoisoningRule;
  severity: AlertSeverity;
  /** Where: `description`, `inputSchema/properties/path/description`, `instructions`… */
  path: string;
  /** What matched (invisible characters written as `\u{…}`), at most 120 characters around it. */
  excerpt: string;
  /** For invisible_unicode: which kinds (tag, zero_width, bidi); for shadowing: the other server and tool. */
  note?: string;
}

interface TextRule {
  rule: PoisoningRule;
  severity: AlertSeverity;
  pattern: RegExp;
  note?: string;
}

/**
 * Phrases aimed at the model. Tool documentation describes what the tool does; it does not tell
 * the model what to do before or instead of using it, nor what to keep from the user. Drawn from
 * the published tool-poisoning and shadowing attacks (Invariant Labs 2025, "MCP tool poisoning";
 * Trail of Bits, "line jumping").
 */
const MODEL_INSTRUCTIONS: TextRule[] = [
  { rule: 'model_instruction', severity: 'high', pattern: /\b(?:before|prior to|after) (?:using|calling|invoking|running|executing) (?:this|the|any|each|every)\b[^.\n]{0,40}\b(?:tool|function|command)s?\b[^.\n]{0,20}?,?\s*(?:you\s+)?(?:must|should|need to|have to|always|first|read|call|send|include|pass|run|fetch|open|cat)\b/i },
  { rule: 'model_instruction', severity: 'high', pattern: /\b(?:do not|don'?t|never|must not|mustn'?t)\s+(?:ever\s+)?(?:tell|inform|mention|reveal|show|notify|alert|disclose|let)\b[^.\n]{0,60}\b(?:user|human|operator|person)\b/i },
  { rule: 'model_instruction', severity: 'high', pattern: /\b(?:without|hide it from|hidden from|keep (?:it|this) (?:secret|hidden) from)\s+(?:the\s+)?(?:user|human)(?:'s)?\b(?:\s+(?:knowing|noticing|knowledge|consent|seeing))?/i },
  { rule: 'model_instruction', severity: 'high', pattern: /\bignore (?:all |any |the )?(?:previous|prior|above|earlier|other|system) (?:instructions?|messages?|prompts?|rules?)\b/i },
  { rule: 'model_instruction', severity: 'high', pattern: /<\s*\/?\s*(?:important|system|instructions?|secret|hidden|admin)\s*>/i },
  { rule: 'model_instruction', severity: 'high', pattern: /\b(?:otherwise|or else)\s+(?:the|this)\s+tool\s+(?:will|would|may)\s+(?:not work|fail|break|crash)/i },
  { rule: 'model_instruction', severity: 'high', pattern: /\bpass (?:its|the|their) (?:content|contents|output|value)s? (?:as|in|into)\b/i },
  { rule: 'model_instruction', severity: 'medium', pattern: /\b(?:all|every|any) (?:e-?mails?|messages?|requests?|payments?|transfers?) (?:must|should|shall) (?:also )?be (?:sent|forwarded|copied|cc'?d|bcc'?d|redirected) to\b/i },
  { rule: 'model_instruction', severity: 'medium', pattern: /\b(?:you are|act as|you must now|from now on,? you)\b[^.\n]{0,40}\b(?:assistant|agent|model|ai)\b/i },
  { rule: 'model_instruction', severity: 'medium', pattern: /\b(?:this is )?(?:very |extremely )?important:?\s+(?:you|the (?:assistant|model|agent)) (?:must|should|need to)\b/i },
];

/** Files an agent's tool has no reason to ask the model to read or send. */
const SENSITIVE_FILES: TextRule = {
  rule: 'sensitive_file',
  severity: 'high',
  pattern:
    /(?:~|\$HOME|%USERPROFILE%|\/home\/[^/\s]+|\/Users\/[^/\s]+)?[/\\]?\.ssh\b|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|(?:^|[\s'"`(/~\\])\.env(?:\.[a-z]+)?\b(?![\w-])|\bmcp\.json\b|\bclaude_desktop_config\.json\b|\.cursor[/\\]|\.aws[/\\]credentials|\.npmrc\b|\.netrc\b|\.pgpass\b|\.git-credentials\b|\/etc\/(?:passwd|shadow|sudoers)\b|\.kube[/\\]config\b|\.docker[/\\]config\.json\b|\.gnupg\b|\bwallet\.dat\b|\.bash_history\b|\.zsh_history\b|\bkeychain\b|\.mcp-flight\b/i,
};

const ANSI: TextRule = { rule: 'ansi_escape', severity: 'high', pattern: /[\u001b\u009b]/ };
/** Padding that pushes text out of view in a tool-approval dialog: 30 spaces, or 6 blank lines, in a row. */
const PADDING: TextRule = { rule: 'whitespace_padding', severity: 'medium', pattern: /[ \t\u00a0\u2000-\u200a\u3000]{30,}|(?:\r?\n[ \t]*){6,}/ };

/** Unicode tag characters: invisible, and read by models as ASCII ("ASCII smuggling"). */
const TAG_CHARS = /[\u{E0000}-\u{E007F}]/u;
/** Zero-width characters; a joiner between two pictographs (emoji sequences) is legitimate. */
const ZERO_WIDTH = /[\u200b\u200c\u2060\u180e\u2061-\u2064]|(?<!\p{Extended_Pictographic}\uFE0F?)\u200d|\u200d(?!\p{Extended_Pictographic})|(?<!^)\ufeff/u;
/** Bidirectional controls reorder what the user sees versus what the model reads ("Trojan Source"). */
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;

/** Texts of a tool definition, with their paths; schemas are walked for every string (keys included). */
export function* toolTexts(tool: Record<string, unknown>): Generator<{ path: string; text: string }> {
  if (typeof tool.name === 'string') yield { path: 'name', text: tool.name };
  if (typeof tool.title === 'string') yield { path: 'title', text: tool.title };
  if (typeof tool.description === 'string') yield { path: 'description', text: tool.description };
  const annotations = tool.annotations as Record<string, unknown> | undefined;
  if (typeof annotations?.title === 'string') yield { path: 'annotations/title', text: annotations.title };
  for (const key of ['inputSchema', 'outputSchema'] as const) yield* schemaTexts(tool[key], key, 0);
}

function* schemaTexts(v: unknown, path: string, depth: number): Generator<{ path: string; text: string }> {
  if (depth > 32) return;
  if (typeof v === 'string') {
    yield { path, text: v };
    return;
  }
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield* schemaTexts(v[i], `${path}/${i}`, depth + 1);
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    const p = `${path}/${escapePointer(k)}`;
    // A property name is text the model reads too (the classic attack adds a `sidenote` argument).
    if (depth > 0 && isPropertyMap(path)) yield { path: `${p}#name`, text: k };
    yield* schemaTexts(x, p, depth + 1);
  }
}

function isPropertyMap(path: string): boolean {
  return /\/(?:properties|patternProperties|\$defs|definitions)$/.test(path);
}

function escapePointer(k: string): string {
  return k.replace(/~/g, '~0').replace(/\//g, '~1');
}

export interface ScanOptions {
  /** Tool names of the session's other servers (server → names), for shadowing. */
  otherServersTools?: ReadonlyMap<string, readonly string[]>;
}

/** Every finding in the given texts. */
export function scanTexts(texts: Iterable<{ path: string; text: string }>, options: ScanOptions = {}): PoisoningFinding[] {
  const findings: PoisoningFinding[] = [];
  const shadow = shadowMatchers(options.otherServersTools);
  for (const { path, text } of texts) {
    if (!text) continue;
    for (const r of MODEL_INSTRUCTIONS) addMatch(findings, r, path, text);
    addMatch(findings, SENSITIVE_FILES, path, text);
    addMatch(findings, ANSI, path, text);
    addMatch(findings, PADDING, path, text);
    const invisible: string[] = [];
    if (TAG_CHARS.test(text)) invisible.push('tag');
    if (ZERO_WIDTH.test(text)) invisible.push('zero_width');
    if (BIDI.test(text)) invisible.push('bidi');
    if (invisible.length) {
      const first = text.search(new RegExp(`${TAG_CHARS.source}|${ZERO_WIDTH.source}|${BIDI.source}`, 'u'));
      findings.push({ rule: 'invisible_unicode', severity: invisible.includes('tag') || invisible.includes('bidi') ? 'high' : 'medium', path, excerpt: excerptAt(text, Math.max(0, first), 1), note: invisible.join(',') });
    }
    for (const s of shadow) {
      const m = s.pattern.exec(text);
      if (m) findings.push({ rule: 'shadowing', severity: 'high', path, excerpt: excerptAt(text, m.index, m[0].length), note: `${s.server}/${s.tool}` });
    }
  }
  return findings;
}

/** Findings for one tool definition. */
export function scanTool(tool: Record<string, unknown>, options: ScanOptions = {}): PoisoningFinding[] {
  return scanTexts(toolTexts(tool), options);
}

/** Findings for a server's `instructions`. */
export function scanInstructions(instructions: string, options: ScanOptions = {}): PoisoningFinding[] {
  return scanTexts([{ path: 'instructions', text: instructions }], options);
}

export function worstSeverity(findings: ReadonlyArray<{ severity: AlertSeverity }>): AlertSeverity {
  let worst: AlertSeverity = 'low';
  for (const f of findings) if (SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst]) worst = f.severity;
  return worst;
}

export const SEVERITY_RANK: Record<AlertSeverity, number> = { low: 0, medium: 1, high: 2 };

function addMatch(out: PoisoningFinding[], rule: TextRule, path: string, text: string): void {
  const m = rule.pattern.exec(text);
  if (!m) return;
  out.push({ rule: rule.rule, severity: rule.severity, path, excerpt: excerptAt(text, m.index, m[0].length), ...(rule.note ? { note: rule.note } : {}) });
}

/**
 * Another server's tool names that are distinctive enough to mean that tool when they appear in
 * this server's text: at least 5 characters and compound (`send_email`, `get-env`, `readFile`).
 * Plain words (`echo`, `search`, `fetch`) appear in ordinary prose and would only raise noise.
 */
function shadowMatchers(others: ReadonlyMap<string, readonly string[]> | undefined): Array<{ server: string; tool: string; pattern: RegExp }> {
  const out: Array<{ server: string; tool: string; pattern: RegExp }> = [];
  if (!others) return out;
  for (const [server, names] of others) {
    for (const name of names) {
      if (!isDistinctiveName(name)) continue;
      out.push({ server, tool: name, pattern: new RegExp(`(?<![\\w-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`) });
    }
  }
  return out;
}

export function isDistinctiveName(name: string): boolean {
  return name.length >= 5 && name.length <= 128 && (/[_\-.]/.test(name.slice(1, -1)) || /[a-z][A-Z]/.test(name));
}

/** Up to 120 characters around a match, invisible and control characters written as `\u{…}`. */
export function excerptAt(text: string, index: number, length: number): string {
  const from = Math.max(0, index - 40);
  const to = Math.min(text.length, index + Math.max(length, 1) + 40);
  let s = Array.from(text.slice(from, to)).map(visible).join('');
  if (s.length > 160) s = `${s.slice(0, 159)}…`;
  return `${from > 0 ? '…' : ''}${s}${to < text.length ? '…' : ''}`;
}

function visible(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (ch === '\n') return '\\n';
  if (ch === '\t') return '\\t';
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || TAG_CHARS.test(ch) || BIDI.test(ch) || /[\u200b-\u200f\u2060-\u2064\ufeff\u180e]/.test(ch)) return `\\u{${cp.toString(16).toUpperCase()}}`;
  return ch;
}
