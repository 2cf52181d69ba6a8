import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The audit trail's one user-level secret, kept outside every workspace:
 *
 *   $MCP_FLIGHT_HOME (default ~/.mcp-flight)/        0700
 *     keys/audit.secret                               0600  32 random bytes (JSON, base64)
 *
 * Two keys are derived from it with HKDF-SHA256, so the CLI and the extension — any process of
 * the user — derive the same ones and each can verify what the other wrote:
 *
 *   - the HMAC-SHA256 key that authenticates every journal line (the store's check);
 *   - an Ed25519 key pair that signs checkpoints, pruned records and exports. Its public key
 *     travels in segment headers and exports, so an export verifies offline with it alone.
 *
 * Whoever can read the secret can rewrite the whole trail: it protects against anyone who can
 * change the workspace (or an exported file) but not the user's home. See docs/audit-trail.md.
 */

export const HOME_ENV = 'MCP_FLIGHT_HOME';
const SECRET_FORMAT = 'mcp-flight.audit-secret/v1';
const SECRET_FILE = 'audit.secret';

export function flightHome(): string {
  const fromEnv = process.env[HOME_ENV];
  return fromEnv ? path.resolve(fromEnv) : path.join(os.homedir(), '.mcp-flight');
}

export function keysDir(home: string = flightHome()): string {
  return path.join(home, 'keys');
}

export interface AuditKeys {
  /** Where the secret is. */
  secretFile: string;
  /** HMAC-SHA256 key for journal lines. */
  macKey: Buffer;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  /** The 32-byte raw Ed25519 public key. */
  publicKeyRaw: Buffer;
  /** `sha256:<hex of SHA-256(raw public key)>`. */
  fingerprint: string;
  /** Problems worth telling (a secret readable by others). */
  warnings: string[];
}

export class AuditKeyError extends Error {
  override name = 'AuditKeyError';
}

/**
 * The user's audit keys. `create` makes the secret when there is none (the writers do; readers
 * and verifiers never do). Undefined when there is none and `create` is false.
 */
export function loadAuditKeys(options: { home?: string; create?: boolean } = {}): AuditKeys | undefined {
  const home = options.home ?? flightHome();
  const dir = keysDir(home);
  const file = path.join(dir, SECRET_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new AuditKeyError(`cannot read the audit secret ${file}: ${(err as Error).message}`);
    if (!options.create) return undefined;
    text = createSecret(home, dir, file);
  }
  let secret: Buffer;
  try {
    const parsed = JSON.parse(text) as { format?: unknown; secret?: unknown };
    if (parsed.format !== SECRET_FORMAT || typeof parsed.secret !== 'string') throw new Error(`not a ${SECRET_FORMAT} file`);
    secret = Buffer.from(parsed.secret, 'base64');
    if (secret.length !== 32) throw new Error('the secret is not 32 bytes');
  } catch (err) {
    throw new AuditKeyError(`the audit secret ${file} is damaged: ${(err as Error).message}`);
  }
  const warnings: string[] = [];
  if (process.platform !== 'win32') {
    try {
      const mode = fs.statSync(file).mode & 0o777;
      if (mode & 0o077) warnings.push(`${file} is readable by other users (mode ${mode.toString(8)}); it should be 0600`);
    } catch {
      // checked above that it is readable; a race with removal is not worth a warning
    }
  }
  return deriveKeys(secret, file, warnings);
}

/** Derivations are memoised per secret: a verifier may run many times in one process (the extension, tests). */
const derived = new Map<string, Omit<AuditKeys, 'secretFile' | 'warnings'>>();

/** Keys derived from a 32-byte secret (exported for tests: an "attacker" key is just another secret). */
export function deriveKeys(secret: Buffer, secretFile = '(in memory)', warnings: string[] = []): AuditKeys {
  const memo = secret.toString('base64');
  const known = derived.get(memo);
  if (known) return { ...known, secretFile, warnings };
  const macKey = Buffer.from(crypto.hkdfSync('sha256', secret, 'mcp-flight', 'journal-hmac-v1', 32));
  const seed = Buffer.from(crypto.hkdfSync('sha256', secret, 'mcp-flight', 'checkpoint-ed25519-v1', 32));
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
  const privateKey = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const publicKey = crypto.createPublicKey(privateKey);
  const publicKeyRaw = rawPublicKey(publicKey);
  const keys = { macKey, privateKey, publicKey, publicKeyRaw, fingerprint: fingerprintOf(publicKeyRaw) };
  if (derived.size > 64) derived.clear();
  derived.set(memo, keys);
  return { ...keys, secretFile, warnings };
}

export function rawPublicKey(key: crypto.KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new AuditKeyError('not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url');
}

export function publicKeyFromRaw(raw: Buffer): crypto.KeyObject {
  if (raw.length !== 32) throw new AuditKeyError(`an Ed25519 public key is 32 bytes, not ${raw.length}`);
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

export function fingerprintOf(raw: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(raw).digest('hex')}`;
}

/**
 * A key someone trusts, as given on a command line: a fingerprint (`sha256:<hex>` or the bare
 * hex), a raw public key in base64, or a file holding either (or a PEM public key). Returns the
 * fingerprint.
 */
export function parseTrustedKey(spec: string): string {
  const direct = fingerprintFromText(spec.trim());
  if (direct) return direct;
  let text: string;
  try {
    text = fs.readFileSync(spec, 'utf8');
  } catch {
    throw new AuditKeyError(`"${spec}" is neither a key fingerprint (sha256:<64 hex>), a base64 Ed25519 public key, nor a readable file`);
  }
  if (text.includes('-----BEGIN PUBLIC KEY-----')) return fingerprintOf(rawPublicKey(crypto.createPublicKey(text)));
  for (const token of text.split(/\s+/)) {
    const fp = fingerprintFromText(token);
    if (fp) return fp;
  }
  throw new AuditKeyError(`${spec} holds no key fingerprint or public key`);
}

function fingerprintFromText(s: string): string | undefined {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(s);
  if (m) return `sha256:${m[1]!.toLowerCase()}`;
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(s)) {
    const raw = Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
    if (raw.length === 32) return fingerprintOf(raw);
  }
  return undefined;
}

/**
 * Creates the secret, user-only. Several processes may race here (the extension and a CLI
 * starting together): each writes a private temporary file and links it into place, which
 * fails for all but the first, so everyone ends up reading the same secret.
 */
function createSecret(home: string, dir: string, file: string): string {
  // The home folder is created user-only but, should it exist already (MCP_FLIGHT_HOME pointing
  // at a shared folder), left as it is; the keys folder is ours and always made user-only.
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  ensurePrivateDir(dir);
  const text = JSON.stringify({ format: SECRET_FORMAT, secret: crypto.randomBytes(32).toString('base64'), created_at: new Date().toISOString() }) + '\n';
  const tmp = path.join(dir, `.${SECRET_FILE}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AuditKeyError(`cannot create the audit secret ${file}: ${(err as Error).message}`);
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** mkdir -p with mode 0700, and tightened to 0700 when it already existed looser (POSIX). */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  try {
    const st = fs.statSync(dir);
    if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(dir, 0o700);
  } catch {
    // best effort: the files inside are 0600 regardless
  }
}
