import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flightHome } from '../audit/keys';

/**
 * Approvals of store policies (`.mcp-flight/policy.json`), kept in the user-level home, outside
 * every workspace, so a cloned repository cannot approve its own policy:
 *
 *   $MCP_FLIGHT_HOME (default ~/.mcp-flight)/policy-approvals.json   0600
 *
 * An approval names the policy file (its real path) and the SHA-256 of the exact bytes the user
 * approved; any change to the file changes the hash and needs a new approval.
 */

const FORMAT = 'mcp-flight.policy-approvals/v1';
const FILE = 'policy-approvals.json';

export interface Approval {
  sha256: string;
  approved_at: string;
}

interface ApprovalsFile {
  format: typeof FORMAT;
  approvals: Record<string, Approval>;
}

export function approvalsFile(home: string = flightHome()): string {
  return path.join(home, FILE);
}

/** The file's identity for approvals: its real path (a symlinked workspace is the same policy). */
export function policyKey(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

function read(home: string): ApprovalsFile {
  let text: string;
  try {
    text = fs.readFileSync(approvalsFile(home), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { format: FORMAT, approvals: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ApprovalsFile>;
    if (parsed.format !== FORMAT || typeof parsed.approvals !== 'object' || parsed.approvals === null) throw new Error(`not a ${FORMAT} file`);
    return { format: FORMAT, approvals: parsed.approvals };
  } catch {
    // A damaged approvals file approves nothing (fail closed); approving again rewrites it.
    return { format: FORMAT, approvals: {} };
  }
}

/** The approval recorded for this file, whatever its hash. */
export function approvalOf(file: string, home: string = flightHome()): Approval | undefined {
  return read(home).approvals[policyKey(file)];
}

/** True only when the user approved exactly these bytes of this file. */
export function isApproved(file: string, sha256: string, home: string = flightHome()): boolean {
  return approvalOf(file, home)?.sha256 === sha256;
}

export function approve(file: string, sha256: string, home: string = flightHome()): Approval {
  const data = read(home);
  const approval: Approval = { sha256, approved_at: new Date().toISOString() };
  data.approvals[policyKey(file)] = approval;
  write(home, { format: FORMAT, approvals: data.approvals });
  return approval;
}

export function revoke(file: string, home: string = flightHome()): boolean {
  const data = read(home);
  const key = policyKey(file);
  if (!(key in data.approvals)) return false;
  delete data.approvals[key];
  write(home, { format: FORMAT, approvals: data.approvals });
  return true;
}

/** Written to a temporary file and renamed, user-only, so a crash never leaves half a file. */
function write(home: string, data: ApprovalsFile): void {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const target = approvalsFile(home);
  const tmp = `${target}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, target);
}
