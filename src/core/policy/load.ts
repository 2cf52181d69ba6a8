import * as fs from 'node:fs';
import * as path from 'node:path';
import { flightHome } from '../audit/keys';
import type { PolicyRecord } from '../model/records';
import { isApproved } from './approval';
import { checkPolicy, parsePolicy, PolicyError, sha256Hex, type LoadedPolicy } from './policy';

/**
 * Which policy governs a session, in this order:
 *
 * 1. the user's own: `--policy FILE` (CLI) or the `mcpFlight.policy` setting (extension,
 *    machine-scoped, so a workspace cannot set it);
 * 2. else the store's `policy.json` (`.mcp-flight/policy.json`), only if the user approved
 *    exactly its current bytes (src/core/policy/approval.ts);
 * 3. else none.
 *
 * A store policy that is present but not applied (unapproved, changed since approval, invalid,
 * or overridden by the user's own) is reported as a notice and recorded in the journal, so the
 * session says which policy governed it and which one did not.
 */

export const STORE_POLICY_FILE = 'policy.json';

export function storePolicyPath(storeDir: string): string {
  return path.join(storeDir, STORE_POLICY_FILE);
}

export type StorePolicyStatus = 'approved' | 'unapproved' | 'invalid' | 'overridden';

export interface StorePolicyState {
  path: string;
  sha256: string;
  status: StorePolicyStatus;
  /** The validation problem, for `invalid`. */
  error?: string;
  /** The file's text (for showing it to the user before an approval). */
  text: string;
}

export interface PolicyResolution {
  /** The policy in effect, if any. */
  policy?: LoadedPolicy;
  /** The store's policy.json when there is one, applied or not. */
  store?: StorePolicyState;
  /** What the user should be told (an unapproved store policy, an invalid one). */
  notices: string[];
}

/** Reads and validates a policy file. Throws PolicyError (invalid) or an Error (unreadable). */
export function loadPolicyFile(file: string, source: 'file' | 'store' = 'file'): LoadedPolicy {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(abs);
  } catch (err) {
    throw new PolicyError(abs, [`cannot read it: ${(err as Error).message}`]);
  }
  return { document: parsePolicy(bytes.toString('utf8'), abs), sha256: sha256Hex(bytes), source, path: abs };
}

/** The extension's setting: an inline policy object, or the path of a policy file. */
export function loadPolicySetting(value: unknown, origin = 'setting mcpFlight.policy'): LoadedPolicy | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return { ...loadPolicyFile(value), source: 'settings' };
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return undefined;
  const document = checkPolicy(value, origin);
  return { document, sha256: sha256Hex(JSON.stringify(value)), source: 'settings' };
}

export interface ResolveOptions {
  /** The user's own policy (`--policy FILE` or the setting), already loaded. */
  own?: LoadedPolicy;
  /** The store folder whose policy.json is considered. */
  storeDir?: string;
  home?: string;
}

export function resolvePolicy(options: ResolveOptions): PolicyResolution {
  const notices: string[] = [];
  const store = options.storeDir !== undefined ? inspectStorePolicy(options.storeDir, options.home ?? flightHome()) : undefined;
  if (options.own) {
    if (store) {
      store.status = 'overridden';
      notices.push(`${store.path} is not applied: the ${options.own.source === 'settings' ? 'mcpFlight.policy setting' : `policy ${options.own.path ?? ''}`.trim()} takes its place`);
    }
    return { policy: options.own, ...(store ? { store } : {}), notices };
  }
  if (!store) return { notices };
  if (store.status === 'invalid') {
    notices.push(`${store.path} is ignored: ${store.error}`);
    return { store, notices };
  }
  if (store.status === 'unapproved') {
    notices.push(`${store.path} is ignored until you approve it (sha256 ${store.sha256.slice(0, 12)}…): run "mcp-flight policy show" to read it and "mcp-flight policy approve" to apply it`);
    return { store, notices };
  }
  const document = parsePolicy(store.text, store.path);
  return { policy: { document, sha256: store.sha256, source: 'store', path: store.path }, store, notices };
}

/** The store's policy.json and whether it may apply; undefined when there is none. */
export function inspectStorePolicy(storeDir: string, home: string = flightHome()): StorePolicyState | undefined {
  const file = path.resolve(storePolicyPath(storeDir));
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { path: file, sha256: '', status: 'invalid', error: `cannot read it: ${(err as Error).message}`, text: '' };
  }
  const sha256 = sha256Hex(bytes);
  const text = bytes.toString('utf8');
  try {
    parsePolicy(text, file);
  } catch (err) {
    return { path: file, sha256, status: 'invalid', error: err instanceof PolicyError ? err.problems.join('; ') : (err as Error).message, text };
  }
  return { path: file, sha256, status: isApproved(file, sha256, home) ? 'approved' : 'unapproved', text };
}

/** The journal records that say which policy governed a session, and which store policy did not. */
export function policyRecords(resolution: PolicyResolution): Array<Omit<PolicyRecord, 'session_id' | 'seq' | 'ts' | 'mono'>> {
  const out: Array<Omit<PolicyRecord, 'session_id' | 'seq' | 'ts' | 'mono'>> = [];
  const p = resolution.policy;
  if (p) out.push({ type: 'policy', status: 'applied', source: p.source, ...(p.path ? { path: p.path } : {}), sha256: p.sha256, policy: p.document });
  const s = resolution.store;
  if (s && s.status !== 'approved') {
    const reason = s.status === 'invalid' ? `invalid: ${s.error}` : s.status === 'unapproved' ? 'not approved by the user' : 'overridden by the user\u2019s own policy';
    out.push({ type: 'policy', status: 'ignored', source: 'store', path: s.path, sha256: s.sha256, reason });
  }
  return out;
}
