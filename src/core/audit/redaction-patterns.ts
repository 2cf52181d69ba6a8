/**
 * The credential detectors behind `Redactor` (redaction.ts): what a secret looks like by value,
 * and which field names say that their value is one.
 *
 * Written here from each vendor's documented token format (sources beside each detector), not
 * taken from a library. secretlint's recommended preset was considered: its rules run through
 * an async `lintSource` API built for files (report/fix callbacks per rule, every rule's regex
 * run over the whole text), which neither fits a synchronous per-message hot path nor tells us
 * where inside a JSON value a match sits. Writing our own lets every detector hang off ONE
 * combined trigger scan (below), so the common case — no secret-ish substring — costs one
 * regex pass and nothing else.
 *
 * Rules every pattern here follows, so that no input backtracks catastrophically:
 * - each detector starts at a literal anchor found by the trigger scan and runs as a sticky
 *   regex from there, never as a free search over the text;
 * - patterns are a literal prefix followed by bounded runs of one character class; no nested or
 *   overlapping quantifiers, no alternation under a quantifier;
 * - anything open-ended (a PEM block) is found with indexOf, not a lazy `[\s\S]*?`.
 */

export interface Match {
  /** Where the replaced text starts and ends in the scanned string. */
  start: number;
  end: number;
  kind: string;
  /** On overlap the higher priority names the kind: a documented format beats a contextual value (Bearer …), which beats a key/value match. */
  priority: number;
}

export interface Detector {
  kind: string;
  /** Where the format comes from. */
  source: string;
  /** Lower-case literals the trigger scan looks for; the detector runs where one is found. */
  anchors?: string[];
  /** Case-sensitive literals, found with indexOf outside the trigger regex (short ones that would slow it: "SK"). */
  caseSensitiveAnchors?: string[];
  /** Tries to match at `at` (the position of the anchor). */
  match(text: string, at: number, scratch: Scratch): Match | null;
}

/** Per-scan state that detectors may cache positions in (keeps open-ended searches linear). */
export interface Scratch {
  nextPemEnd: number;
  /** The end of the unquoted value run starting at or before `delimFrom` (key/value rule), per delimiter set. */
  delimFrom: [number, number];
  delimAt: [number, number];
}

export function newScratch(): Scratch {
  return { nextPemEnd: -1, delimFrom: [-1, -1], delimAt: [-1, -1] };
}

export const VALUE_PRIORITY = 3;
export const CONTEXT_PRIORITY = 2;
export const KEY_PRIORITY = 1;

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  if (s.length === 0) return 0;
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function hasDigit(s: string): boolean {
  return /[0-9]/.test(s);
}

/** A detector from one sticky regex; `group` names the part that is the secret (0 = all). */
function regexDetector(d: {
  kind: string | ((m: RegExpExecArray) => string);
  source: string;
  anchors?: string[];
  caseSensitiveAnchors?: string[];
  re: RegExp;
  group?: number;
  check?: (secret: string, m: RegExpExecArray) => boolean;
  /** The value is known by its context ("Bearer …"), not its format: a format match over the same text names the kind. */
  contextual?: boolean;
}): Detector {
  const re = new RegExp(d.re.source, `${d.re.flags.replace(/[yd]/g, '')}yd`);
  const group = d.group ?? 0;
  return {
    kind: typeof d.kind === 'string' ? d.kind : 'secret',
    source: d.source,
    ...(d.anchors ? { anchors: d.anchors } : {}),
    ...(d.caseSensitiveAnchors ? { caseSensitiveAnchors: d.caseSensitiveAnchors } : {}),
    match(text, at) {
      re.lastIndex = at;
      const m = re.exec(text);
      if (!m) return null;
      const secret = m[group];
      if (secret === undefined || secret === '') return null;
      if (d.check && !d.check(secret, m)) return null;
      const [start, end] = m.indices![group]!;
      return { start, end, kind: typeof d.kind === 'string' ? d.kind : d.kind(m), priority: d.contextual ? CONTEXT_PRIORITY : VALUE_PRIORITY };
    },
  };
}

// No letter or digit right before a token: "task-list" holds "sk-" but is no OpenAI key.
const B = '(?<![A-Za-z0-9])';

const GITHUB_KINDS: Record<string, string> = { p: 'github_pat', o: 'github_oauth', u: 'github_app_user', s: 'github_app_server', r: 'github_refresh' };

/** An AWS access key id; the secret key next to it is looked for nearby (see awsPairDetector). */
const AWS_KEY_ID = new RegExp(`${B}(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])`, 'y');
/** A free-standing 40-character AWS secret access key (base64 alphabet). */
const AWS_SECRET_NEAR = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;

/**
 * AWS access key ids (documented prefixes AKIA long-term, ASIA temporary, ABIA/ACCA, A3T…: IAM
 * user guide "Understanding unique ID prefixes"). The secret access key has no prefix — 40
 * base64 characters — so it is only taken when it stands within 300 characters of a key id and
 * looks random (entropy ≥ 4.2 bits/char, a digit or a symbol); by field name it is found by
 * the key rules (`aws_secret_access_key`, `SecretAccessKey`).
 */
const awsDetector: Detector = {
  kind: 'aws_access_key_id',
  source: 'AWS IAM: unique ID prefixes (AKIA/ASIA/ABIA/ACCA); secret key: 40 chars, paired by proximity + entropy',
  anchors: ['akia', 'asia', 'abia', 'acca', 'a3t'],
  match(text, at) {
    AWS_KEY_ID.lastIndex = at;
    const m = AWS_KEY_ID.exec(text);
    if (!m) return null;
    return { start: at, end: at + m[0].length, kind: 'aws_access_key_id', priority: VALUE_PRIORITY };
  },
};

/** The AWS secret access keys within 300 characters of a key id (called by the scanner for every key id found). */
export function awsSecretsNear(text: string, start: number, end: number): Match[] {
  const from = Math.max(0, start - 300);
  const to = Math.min(text.length, end + 300);
  const window = text.slice(from, to);
  const out: Match[] = [];
  AWS_SECRET_NEAR.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = AWS_SECRET_NEAR.exec(window))) {
    const s = m[0];
    if (entropy(s) >= 4.2 && (hasDigit(s) || /[+/]/.test(s)) && /[a-z]/.test(s) && /[A-Z]/.test(s)) {
      out.push({ start: from + m.index, end: from + m.index + s.length, kind: 'aws_secret_access_key', priority: VALUE_PRIORITY });
    }
  }
  return out;
}

/** A PEM private key block (RFC 7468 labels "PRIVATE KEY", "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", PGP "PRIVATE KEY BLOCK"). */
const PEM_BEGIN = /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_MAX = 64 * 1024;
const pemDetector: Detector = {
  kind: 'private_key',
  source: 'RFC 7468 (PEM) / RFC 4880 (PGP armor) private-key labels',
  anchors: ['-----begin'],
  match(text, at, scratch) {
    PEM_BEGIN.lastIndex = at;
    const m = PEM_BEGIN.exec(text);
    if (!m) return null;
    const bodyStart = at + m[0].length;
    // One forward search for END per scan, reused by every later BEGIN before it: linear overall.
    if (scratch.nextPemEnd < bodyStart) {
      const e = text.indexOf('-----END', bodyStart);
      scratch.nextPemEnd = e === -1 ? Number.MAX_SAFE_INTEGER : e;
    }
    const endAt = scratch.nextPemEnd;
    if (endAt !== Number.MAX_SAFE_INTEGER && endAt - bodyStart <= PEM_MAX) {
      const close = text.indexOf('-----', endAt + 8);
      if (close !== -1 && close - endAt <= 60) return { start: at, end: close + 5, kind: 'private_key', priority: VALUE_PRIORITY };
    }
    // No END (a cut log line): everything that looks like the key's body goes, up to the next "-----".
    let i = bodyStart;
    const limit = Math.min(text.length, bodyStart + PEM_MAX);
    while (i < limit) {
      const c = text.charCodeAt(i);
      const body = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47 || c === 61 || c === 32 || c === 9 || c === 10 || c === 13 || c === 92 || c === 58 || c === 44 || c === 45;
      if (!body || (c === 45 && text.startsWith('-----', i))) break;
      i++;
    }
    return { start: at, end: i, kind: 'private_key', priority: VALUE_PRIORITY };
  },
};

/** `Basic <base64 of user:password>` — only when it decodes to printable text with a colon. */
function isBasicCredential(b64: string): boolean {
  if (b64.length < 8) return false;
  const decoded = Buffer.from(b64, 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon > 0 && colon < decoded.length - 1 && /^[\x20-\x7e]+$/.test(decoded);
}

/** A bearer token: random-looking (a digit, or a JWT's dots, and no dictionary-word shape). */
function isBearerToken(t: string): boolean {
  if (t.length < 16) return false;
  if (t.startsWith('eyJ')) return true;
  return hasDigit(t) && /[A-Za-z]/.test(t) && entropy(t) >= 3.0;
}

/** The built-in value detectors: a secret recognised by what it looks like, wherever it is. */
export const VALUE_DETECTORS: Detector[] = [
  awsDetector,
  regexDetector({
    kind: (m) => GITHUB_KINDS[m[1]!] ?? 'github_token',
    source: 'GitHub docs "About authentication to GitHub": ghp_/gho_/ghu_/ghs_/ghr_ + 36 base62 chars',
    anchors: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    re: new RegExp(`${B}gh([pousr])_[A-Za-z0-9]{36,251}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'github_pat',
    source: 'GitHub fine-grained personal access tokens: github_pat_ + 22 + _ + 59 chars',
    anchors: ['github_pat_'],
    re: new RegExp(`${B}github_pat_[A-Za-z0-9_]{22,244}(?![A-Za-z0-9_])`),
  }),
  regexDetector({
    kind: 'gitlab_token',
    source: 'GitLab docs "Token prefixes": glpat-, gldt-, glrt-, glptt-, glft-, glsoat-, glcbt-, glimt-, glagent-, gloas-, glffct-',
    anchors: ['glpat-', 'gldt-', 'glrt-', 'glptt-', 'glft-', 'glsoat-', 'glcbt-', 'glimt-', 'glagent-', 'gloas-', 'glffct-'],
    re: new RegExp(`${B}gl(?:pat|dt|rt|ptt|ft|soat|cbt|imt|agent|oas|ffct)-[A-Za-z0-9_-]{20,255}(?:\\.[A-Za-z0-9_-]{1,64}){0,4}(?![A-Za-z0-9_-])`),
  }),
  regexDetector({
    kind: 'anthropic_key',
    source: 'Anthropic API keys: sk-ant-<type><nn>- + base64url body (sk-ant-api03-…, sk-ant-admin01-…)',
    anchors: ['sk-ant-'],
    re: new RegExp(`${B}sk-ant-[a-z]{2,8}[0-9]{0,3}-[A-Za-z0-9_-]{20,255}(?![A-Za-z0-9_-])`),
  }),
  regexDetector({
    kind: 'openai_key',
    source: 'OpenAI API keys: sk-proj-/sk-svcacct-/sk-admin- + base64url body; legacy sk- + 48 chars (with the T3BlbkFJ marker)',
    anchors: ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-none-'],
    re: new RegExp(`${B}sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,255}(?![A-Za-z0-9_-])`),
  }),
  regexDetector({
    kind: 'openai_key',
    source: 'Legacy / provider-compatible sk- keys: sk- + ≥32 base62 chars, mixed with digits (entropy-checked: the format is loose)',
    anchors: ['sk-'],
    re: new RegExp(`${B}sk-[A-Za-z0-9]{32,255}(?![A-Za-z0-9_-])`),
    check: (s) => hasDigit(s) && /[A-Za-z]/.test(s.slice(3)) && entropy(s) >= 3.5,
  }),
  regexDetector({
    kind: 'slack_token',
    source: 'Slack docs "Token types": xoxb-/xoxp-/xoxa-/xoxr-/xoxe-/xoxs-/xoxo- tokens, xapp- app-level tokens',
    anchors: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-', 'xoxo-', 'xoxe-', 'xoxe.'],
    re: new RegExp(`${B}xox(?:[abposr]|e\\.xox[bp]|e)-[A-Za-z0-9-]{10,255}(?![A-Za-z0-9-])`),
  }),
  regexDetector({
    kind: 'slack_token',
    source: 'Slack app-level tokens: xapp-<n>-<id>-<n>-<hex>',
    anchors: ['xapp-'],
    re: new RegExp(`${B}xapp-[0-9]-[A-Z0-9]{5,32}-[0-9]{5,20}-[a-z0-9]{20,128}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'slack_webhook',
    source: 'Slack incoming webhooks: https://hooks.slack.com/services|workflows|triggers/…',
    anchors: ['hooks.slack.com/'],
    re: /hooks\.slack\.com\/((?:services|workflows|triggers)\/[A-Za-z0-9+/_-]{20,255})/,
    group: 1,
  }),
  regexDetector({
    kind: 'stripe_key',
    source: 'Stripe docs "API keys": sk_live_/rk_live_ (and _test_) + base62',
    anchors: ['sk_live_', 'rk_live_', 'sk_test_', 'rk_test_'],
    re: new RegExp(`${B}[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'stripe_webhook_secret',
    source: 'Stripe webhook signing secrets: whsec_ + base62',
    anchors: ['whsec_'],
    re: new RegExp(`${B}whsec_[A-Za-z0-9]{24,128}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'google_api_key',
    source: 'Google Cloud API keys: AIza + 35 chars [0-9A-Za-z_-]',
    anchors: ['aiza'],
    re: new RegExp(`${B}AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])`),
  }),
  regexDetector({
    kind: 'google_oauth_token',
    source: 'Google OAuth 2.0 access tokens: ya29. + base64url',
    anchors: ['ya29.'],
    re: new RegExp(`${B}ya29\\.[0-9A-Za-z_-]{20,2048}(?![0-9A-Za-z_-])`),
  }),
  regexDetector({
    kind: 'google_client_secret',
    source: 'Google OAuth client secrets: GOCSPX- + 28 chars',
    anchors: ['gocspx-'],
    re: new RegExp(`${B}GOCSPX-[0-9A-Za-z_-]{28}(?![0-9A-Za-z_-])`),
  }),
  regexDetector({
    kind: 'npm_token',
    source: 'npm docs "About access tokens": npm_ + 36 base62 chars',
    anchors: ['npm_'],
    re: new RegExp(`${B}npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'sendgrid_key',
    source: 'Twilio SendGrid API keys: SG.<22>.<43> (base64url)',
    anchors: ['sg.'],
    re: new RegExp(`${B}SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])`),
  }),
  regexDetector({
    kind: 'twilio_api_key',
    source: 'Twilio API key SIDs: SK + 32 hex (the auth token, 32 hex with no prefix, is found by field name)',
    caseSensitiveAnchors: ['SK'],
    re: new RegExp(`${B}SK[0-9a-fA-F]{32}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'huggingface_token',
    source: 'Hugging Face user access tokens: hf_ + 34 chars',
    anchors: ['hf_'],
    re: new RegExp(`${B}hf_[A-Za-z0-9]{34,40}(?![A-Za-z0-9])`),
  }),
  regexDetector({
    kind: 'jwt',
    source: 'RFC 7519 JWT (JWS compact): base64url(header {"…) . base64url(payload) . signature',
    anchors: ['eyj'],
    re: new RegExp(`${B}eyJ[A-Za-z0-9_-]{8,4096}\\.[A-Za-z0-9_-]{8,16384}\\.[A-Za-z0-9_-]{0,4096}(?![A-Za-z0-9_.-])`),
  }),
  pemDetector,
  regexDetector({
    kind: 'bearer_token',
    source: 'RFC 6750 Authorization: Bearer <token68> (random-looking values only: the word is common in prose)',
    anchors: ['bearer'],
    re: /(?<![A-Za-z0-9])bearer[ \t]+([A-Za-z0-9._~+/=-]{16,4096})(?![A-Za-z0-9._~+/=-])/i,
    group: 1,
    check: isBearerToken,
    contextual: true,
  }),
  regexDetector({
    kind: 'basic_auth',
    source: 'RFC 7617 Authorization: Basic base64(user:password) (only when it decodes to user:password)',
    anchors: ['basic'],
    re: /(?<![A-Za-z0-9])basic[ \t]+([A-Za-z0-9+/]{8,1024}={0,2})(?![A-Za-z0-9+/=])/i,
    group: 1,
    check: isBasicCredential,
    contextual: true,
  }),
  regexDetector({
    kind: 'url_password',
    source: 'RFC 3986 userinfo (scheme://user:password@host), as in database connection URLs',
    anchors: ['://'],
    re: /:\/\/[^\s:/?#@"'<>\\[\]]{0,256}:([^\s/?#@"'<>\\[\]]{1,256})@/,
    group: 1,
  }),
  regexDetector({
    kind: 'url_password',
    source: 'RFC 3986 userinfo with JSON-escaped slashes (scheme:\\/\\/user:password@host)',
    anchors: [':\\/\\/'],
    re: /:\\\/\\\/[^\s:/?#@"'<>\\[\]]{0,256}:([^\s/?#@"'<>\\[\]]{1,256})@/,
    group: 1,
  }),
  regexDetector({
    kind: 'azure_storage_key',
    source: 'Azure Storage / Service Bus connection strings: AccountKey=…, SharedAccessKey=… (base64)',
    anchors: ['accountkey=', 'sharedaccesskey='],
    re: /(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,512}={0,2})/i,
    group: 1,
  }),
  regexDetector({
    kind: 'azure_sas',
    source: 'Azure shared access signatures: SharedAccessSignature=… and the sig= parameter of SAS URLs',
    anchors: ['sharedaccesssignature='],
    re: /SharedAccessSignature=([^;"'\s]{20,2048})/i,
    group: 1,
  }),
  regexDetector({
    kind: 'azure_sas',
    source: 'Azure SAS URLs: &sig=<url-encoded base64 HMAC>',
    anchors: ['?sig=', '&sig='],
    re: /[?&]sig=([A-Za-z0-9%+/=]{20,512})/i,
    group: 1,
  }),
];

// ---------------------------------------------------------------------------------------------
// By key: field, header and variable names that say their value is a secret.
// ---------------------------------------------------------------------------------------------

/**
 * Lower-case fragments that any secret key name contains: the trigger scan looks for these (so a
 * message whose text holds none of them cannot hold a secret key), the key classifier below
 * decides. Keep in step with `classifyKey` (a unit test checks every classified word is covered).
 */
export const KEY_ANCHORS = [
  'passw', 'passphrase', 'pwd', 'token', 'secret', 'cookie', 'credential', 'creds', 'bearer', 'mnemonic', 'auth',
  // "<qualifier> key" compounds (a bare "key" is everywhere): apikey, api_key, api-key, …
  ...['api', 'private', 'access', 'signing', 'encryption', 'master', 'account', 'shared', 'storage', 'session', 'client', 'app', 'license', 'subscription', 'service', 'admin', 'webhook', 'consumer'].flatMap((q) => [`${q}key`, `${q}_key`, `${q}-key`]),
];

const PASSWORD_WORDS = new Set(['password', 'passwd', 'pwd', 'passphrase', 'passwords']);
const TOKEN_WORDS = new Set(['token']);
const SECRET_WORDS = new Set(['secret', 'secrets']);
const AUTH_WORDS = new Set(['authorization', 'auth', 'bearer']);
const COOKIE_WORDS = new Set(['cookie', 'cookies']);
const CREDENTIAL_WORDS = new Set(['credential', 'credentials', 'creds']);
const MNEMONIC_WORDS = new Set(['mnemonic']);
/** "<x> key" / "<x>key" compounds that are secrets (a bare "key" is too common: sort keys, map keys). */
const KEY_QUALIFIERS = new Set(['api', 'private', 'access', 'secret', 'signing', 'encryption', 'master', 'account', 'shared', 'storage', 'session', 'client', 'app', 'license', 'subscription', 'service', 'admin', 'webhook', 'consumer']);
/** Words before "token" that make it a counter or a cursor, not a credential. */
const TOKEN_NOT_SECRET_BEFORE = new Set([
  'progress', 'page', 'next', 'prev', 'previous', 'continuation', 'sync', 'cancellation', 'cancel', 'resume', 'cursor', 'pagination',
  'max', 'min', 'num', 'total', 'input', 'output', 'prompt', 'completion', 'cached', 'reasoning', 'thinking', 'count', 'stop', 'start', 'end',
  'eos', 'bos', 'pad', 'unk', 'sep', 'mask', 'special', 'first', 'last', 'delta', 'per', 'budget', 'limit', 'used', 'remaining',
]);
/** Words that may follow the secret word and keep it a secret ("password_confirmation", "tokenValue"). */
const SECRET_TRAILERS = new Set(['value', 'val', 'string', 'str', 'confirm', 'confirmation', 'hash', 'plain', 'plaintext', 'raw', 'b64', 'base64', 'encoded', 'text', 'data', 'header', 'input', 'new', 'old', 'current', 'again', 'repeat', 'file', 'env']);

export const DEFAULT_ALLOW_KEYS = [
  'progressToken', 'maxTokens', 'max_tokens', 'tokenCount', 'token_count', 'totalTokens', 'total_tokens', 'token_type', 'tokenType',
  'nextPageToken', 'pageToken', 'nextToken', 'cursor', 'nextCursor', 'passwordPolicy', 'tokenizer', 'authorName', 'author',
];

/** Lower-case words of a key: camelCase, snake_case, kebab-case, dotted and spaced names; trailing digits dropped. */
export function keyWords(key: string): string[] {
  const spaced = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
  const out: string[] = [];
  for (const w of spaced.toLowerCase().split(/[^a-z0-9]+/)) {
    const t = w.replace(/[0-9]+$/, '');
    if (t) out.push(t);
  }
  return out;
}

function compoundKind(word: string, before: string | undefined): string | null {
  if (PASSWORD_WORDS.has(word) || (word.length > 8 && word.endsWith('password')) || (word.length > 6 && word.endsWith('passwd'))) return 'password';
  if (TOKEN_WORDS.has(word) || (word.length > 5 && word.endsWith('token'))) {
    const stem = word === 'token' ? before : word.slice(0, -5);
    if (stem !== undefined && TOKEN_NOT_SECRET_BEFORE.has(stem)) return null;
    return 'token';
  }
  if (SECRET_WORDS.has(word) || (word.length > 6 && word.endsWith('secret'))) return 'secret';
  if (AUTH_WORDS.has(word)) return 'authorization';
  if (COOKIE_WORDS.has(word) || (word.length > 6 && word.endsWith('cookie'))) return 'cookie';
  if (CREDENTIAL_WORDS.has(word) || word.endsWith('credentials') || word.endsWith('credential')) return 'credential';
  if (MNEMONIC_WORDS.has(word)) return 'mnemonic';
  if (word === 'key' || word === 'keys') {
    if (before === 'api') return 'api_key';
    if (before === 'private') return 'private_key';
    if (before !== undefined && KEY_QUALIFIERS.has(before)) return 'secret_key';
    return null;
  }
  for (const q of KEY_QUALIFIERS) {
    if (word === `${q}key` || word === `${q}keys`) return q === 'api' ? 'api_key' : q === 'private' ? 'private_key' : 'secret_key';
  }
  return null;
}

/**
 * The kind of secret a field named `key` holds, or null. Whole words only: the head noun of the
 * name (its last word, past trailers such as "value" or "confirmation") decides, so
 * `tokenCount`, `token_type`, `passwordPolicy` and `secretName` are not secrets while
 * `GITHUB_TOKEN`, `x-api-key`, `clientSecret`, `db.password` and `Set-Cookie` are.
 */
export function classifyKey(key: string): string | null {
  const words = keyWords(key);
  if (words.length === 0) return null;
  let i = words.length - 1;
  while (i > 0 && SECRET_TRAILERS.has(words[i]!)) i--;
  return compoundKind(words[i]!, i > 0 ? words[i - 1] : undefined);
}

/** Normalised form for allow-list comparison: lower case, separators removed. */
export function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}
