import type { ServerSpec } from '../config/servers';
import type { CredentialEntry, CredentialMode } from '../model/records';
import { classifyKey } from './redaction-patterns';
import { MARKER_PATTERN, type Redactor } from './redaction';

/**
 * Credential attribution: which credentials a server connection runs under, as names and keyed
 * fingerprints — never values. Rules (docs/credentials.md):
 *
 * - `env`: of a stdio server's environment, only entries configured for the server (its `env`)
 *   whose name says secret (the redactor's key rules: TOKEN, API_KEY, PASSWORD, SECRET…) or whose
 *   value the redactor detects as a secret, plus variables the server inherits from the recorder's
 *   environment whose names say secret (GITHUB_TOKEN exported in the shell that runs
 *   `mcp-flight record`). The rest of the inherited environment (PATH, HOME…) never counts, and a
 *   configured `null` (a removed variable) is not a credential.
 * - `headers`: of a remote server's configured static headers, those whose name or value says
 *   secret (Authorization, X-API-Key, Cookie…).
 * - `input_secret`: an env entry or header whose configured value came from a VS Code
 *   `${input:…}` (the extension tells us which: `ServerSpec.credentialInputs`).
 * - `oauth`: an Authorization header the client itself sends through the reverse proxy (the
 *   remote's OAuth flow, with its WWW-Authenticate challenge, runs between client and remote).
 * - `none`: nothing of the above.
 *
 * A connection's mode is its strongest entry's, in the order oauth > input_secret > headers > env.
 *
 * The fingerprint is the redaction marker's: the redactor is run over `{ name: value }` and the
 * fingerprint of the marker it writes is kept (for `Authorization: Bearer X` that is X's), else the
 * fingerprint of the whole value — so `[REDACTED:…:fp]` in a message and the credential with
 * fingerprint `fp` are the same secret.
 */

export const CREDENTIAL_MODE_ORDER: ReadonlyArray<Exclude<CredentialMode, 'none'>> = ['oauth', 'input_secret', 'headers', 'env'];

export interface CredentialSet {
  mode: CredentialMode;
  entries: CredentialEntry[];
}

/** Names the key rule would take for secrets that never are: the shell's working directories ("pwd" reads as password). */
const NOT_CREDENTIALS = new Set(['PWD', 'OLDPWD']);

/** Whether a variable or header name says it holds a secret (the redactor's key rule). */
export function looksLikeCredentialName(name: string): boolean {
  return !NOT_CREDENTIALS.has(name.toUpperCase()) && classifyKey(name) !== null;
}

/** The fingerprint a redaction marker would give this credential. */
export function credentialFingerprint(redactor: Redactor, name: string, value: string): string {
  const redacted = redactor.redactValue({ [name]: value }).value as Record<string, unknown>;
  const text = typeof redacted[name] === 'string' ? (redacted[name] as string) : '';
  MARKER_PATTERN.lastIndex = 0;
  const m = MARKER_PATTERN.exec(text);
  MARKER_PATTERN.lastIndex = 0;
  return m?.[2] ?? redactor.fingerprint(value);
}

export function modeOf(entries: CredentialEntry[]): CredentialMode {
  for (const mode of CREDENTIAL_MODE_ORDER) if (entries.some((e) => e.mode === mode)) return mode;
  return 'none';
}

/** The credentials a spec's connection starts with. `inherited` is the environment the server process inherits (stdio only). */
export function credentialsOf(spec: ServerSpec, redactor: Redactor, inherited: NodeJS.ProcessEnv = process.env): CredentialSet {
  const fromInput = new Set(spec.credentialInputs ?? []);
  const entries: CredentialEntry[] = [];
  const looksSecret = (name: string, value: string): boolean => looksLikeCredentialName(name) || redactor.redactText(value).text !== value;
  if (spec.type === 'stdio') {
    const configured = spec.env ?? {};
    for (const [name, raw] of Object.entries(configured)) {
      if (raw === null || raw === undefined) continue;
      const value = String(raw);
      if (value === '' || !(fromInput.has(name) || looksSecret(name, value))) continue;
      entries.push({ name, mode: fromInput.has(name) ? 'input_secret' : 'env', fingerprint: credentialFingerprint(redactor, name, value), origin: 'configured' });
    }
    for (const [name, value] of Object.entries(inherited)) {
      if (name in configured || value === undefined || value === '' || !looksLikeCredentialName(name)) continue;
      entries.push({ name, mode: 'env', fingerprint: credentialFingerprint(redactor, name, value), origin: 'inherited' });
    }
  } else {
    for (const [name, value] of Object.entries(spec.headers ?? {})) {
      if (value === '' || !(fromInput.has(name) || looksSecret(name, value))) continue;
      entries.push({ name, mode: fromInput.has(name) ? 'input_secret' : 'headers', fingerprint: credentialFingerprint(redactor, name, value), origin: 'configured' });
    }
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { mode: modeOf(entries), entries };
}
