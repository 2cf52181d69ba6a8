import { governSession, type PolicyGate } from '../core/policy/governor';
import { loadPolicyFile, resolvePolicy } from '../core/policy/load';
import { PolicyError, type LoadedPolicy } from '../core/policy/policy';
import type { Recorder } from '../core/recording/recorder';
import { CommandError } from './usage';

/**
 * `--policy FILE` for the commands that record (record, serve) and those that analyse (summary,
 * export). Recording: the file, else the store's approved policy.json, governs the session and is
 * journaled. Analysis: the file replaces the policy the session recorded, for this output only.
 */

export const POLICY_HELP = `  --policy FILE      the policy (costs, spend limit, reversibility overrides, denied tools,
                     error rules; docs/policy.md). Without it, the store's policy.json applies
                     once approved with "mcp-flight policy approve".`;

/** The policy file given on the command line, validated; a bad one stops the command. */
export function loadPolicyFlag(flag: string | undefined): LoadedPolicy | undefined {
  if (flag === undefined) return undefined;
  try {
    return loadPolicyFile(flag);
  } catch (err) {
    if (err instanceof PolicyError) throw new CommandError(err.message);
    throw err;
  }
}

/** Resolves and journals the session's policy; notices and spend warnings go to stderr (stdout may carry protocol bytes). */
export function governRecording(recorder: Recorder, own: LoadedPolicy | undefined, storeDir: string, command: string): PolicyGate | undefined {
  const resolution = resolvePolicy({ ...(own ? { own } : {}), storeDir });
  for (const n of resolution.notices) process.stderr.write(`mcp-flight ${command}: ${n}\n`);
  const p = resolution.policy;
  if (p) process.stderr.write(`mcp-flight ${command}: policy ${p.path ?? p.source} (sha256 ${p.sha256.slice(0, 12)}) governs session ${recorder.sessionId}\n`);
  return governSession(recorder, resolution, (e) => {
    const what = e.event === 'warning' ? 'spend warning: 80 % of the limit reached' : 'spend limit reached: further metered calls are refused';
    process.stderr.write(`mcp-flight ${command}: ${what} ($${e.spent_usd} of $${e.limit_usd})\n`);
  });
}
