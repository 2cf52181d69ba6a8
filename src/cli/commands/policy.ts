import { parseArgs } from 'node:util';
import { approvalOf, approvalsFile, approve, revoke } from '../../core/policy/approval';
import { inspectStorePolicy, resolvePolicy, storePolicyPath } from '../../core/policy/load';
import { parsePolicy, reviewableText, type LoadedPolicy, type PolicyDocument } from '../../core/policy/policy';
import { loadPolicyFlag } from '../policy-options';
import { CommandError, storeDir, UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight policy show    [--store DIR] [--policy FILE] [--json]
  mcp-flight policy check   [--store DIR | FILE]
  mcp-flight policy approve [--store DIR] [--sha256 HEX]
  mcp-flight policy revoke  [--store DIR]

The policy (docs/policy.md) sets tool costs and the per-session spend limit, reversibility and
idempotency overrides, declared side effects, denied tools and error-taxonomy rules.

A policy.json inside the store (.mcp-flight/policy.json) could come with a cloned repository, so
it applies only once you approve it: "approve" records the SHA-256 of its current bytes in your
user-level home ($MCP_FLIGHT_HOME, default ~/.mcp-flight), outside every workspace. Any change to
the file needs a new approval. --sha256 approves only if the file still has the hash you read.

  show      which policy a recording here would use (--policy FILE as "record" would), and why
  check     validates a policy file (default: the store's), naming every bad entry
  approve   shows the store's policy and approves its current bytes
  revoke    withdraws the approval of the store's policy`;

export async function policyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { store: { type: 'string' }, policy: { type: 'string' }, json: { type: 'boolean' }, sha256: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [action, ...rest] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(HELP + '\n');
    return values.help ? 0 : 2;
  }
  const store = storeDir(values.store);
  switch (action) {
    case 'show':
      noMore(rest);
      return show(store, values.policy, values.json === true);
    case 'check':
      if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}"`);
      return check(rest[0] ?? values.policy, store);
    case 'approve':
      noMore(rest);
      return approveStore(store, values.sha256);
    case 'revoke':
      noMore(rest);
      if (revoke(storePolicyPath(store))) process.stdout.write(`Approval of ${storePolicyPath(store)} withdrawn: it no longer applies.\n`);
      else process.stdout.write(`${storePolicyPath(store)} was not approved.\n`);
      return 0;
    default:
      throw new UsageError(`unknown action "${action}" (show, check, approve or revoke)`);
  }
}

function noMore(rest: string[]): void {
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
}

function show(store: string, flag: string | undefined, json: boolean): number {
  const resolution = resolvePolicy({ ...(flag !== undefined ? { own: loadPolicyFlag(flag)! } : {}), storeDir: store });
  const p = resolution.policy;
  const s = resolution.store;
  if (json) {
    const out = {
      policy: p ? { source: p.source, path: p.path ?? null, sha256: p.sha256, document: p.document } : null,
      store_policy: s ? { path: s.path, sha256: s.sha256, status: s.status, ...(s.error ? { error: s.error } : {}), approval: approvalOf(s.path) ?? null } : null,
      approvals_file: approvalsFile(),
      notices: resolution.notices,
    };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  }
  const lines: string[] = [];
  if (p) {
    lines.push(`In effect: ${p.source === 'store' ? 'the store policy (approved)' : 'the --policy file'} ${p.path ?? ''}`.trimEnd());
    lines.push(`  sha256 ${p.sha256}`);
    lines.push(...describePolicy(p.document).map((l) => `  ${l}`));
  } else {
    lines.push('In effect: no policy (no costs, no spend limit, annotations and defaults only).');
  }
  if (s) {
    const approval = approvalOf(s.path);
    lines.push(`Store policy: ${s.path}`);
    lines.push(`  sha256 ${s.sha256 || '(unreadable)'}  status ${s.status}${approval && s.status !== 'approved' ? ` (approved ${approval.approved_at} with sha256 ${approval.sha256.slice(0, 12)}…, changed since)` : ''}`);
    if (s.error) lines.push(`  ${s.error}`);
    if (s.status !== 'approved' && s.text) {
      lines.push('  ---- content ----');
      lines.push(...reviewableText(s.text).replace(/\n$/, '').split('\n').map((l) => `  ${l}`));
      lines.push('  ----');
    }
  } else {
    lines.push(`Store policy: none (${storePolicyPath(store)})`);
  }
  for (const n of resolution.notices) lines.push(`Note: ${n}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function check(file: string | undefined, store: string): number {
  if (file === undefined) {
    const s = inspectStorePolicy(store);
    if (!s) throw new CommandError(`no policy file given and none in the store (${storePolicyPath(store)})`);
    if (s.status === 'invalid') {
      process.stderr.write(`${s.path} is not a valid policy: ${s.error}\n`);
      return 1;
    }
    process.stdout.write(`${s.path}: valid (sha256 ${s.sha256}), ${s.status === 'approved' ? 'approved' : 'NOT approved — it does not apply until "mcp-flight policy approve"'}\n`);
    for (const l of describePolicy(parsePolicy(s.text, s.path))) process.stdout.write(`  ${l}\n`);
    return 0;
  }
  let loaded: LoadedPolicy;
  try {
    loaded = loadPolicyFlag(file)!;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${loaded.path}: valid (sha256 ${loaded.sha256})\n`);
  for (const l of describePolicy(loaded.document)) process.stdout.write(`  ${l}\n`);
  return 0;
}

function approveStore(store: string, expected: string | undefined): number {
  const s = inspectStorePolicy(store);
  if (!s) throw new CommandError(`there is no policy to approve: ${storePolicyPath(store)} does not exist`);
  if (s.status === 'invalid') throw new CommandError(`${s.path} cannot be approved: ${s.error}`);
  if (expected !== undefined && expected.toLowerCase() !== s.sha256) {
    throw new CommandError(`${s.path} has sha256 ${s.sha256}, not ${expected}: it changed since you read it; nothing approved`);
  }
  process.stdout.write(`${s.path}\n---- content ----\n${reviewableText(s.text).replace(/\n$/, '')}\n----\n`);
  for (const l of describePolicy(parsePolicy(s.text, s.path))) process.stdout.write(`  ${l}\n`);
  const a = approve(s.path, s.sha256);
  process.stdout.write(`Approved sha256 ${a.sha256} (recorded in ${approvalsFile()}). It applies to sessions recorded from now on; any change to the file needs a new approval.\n`);
  return 0;
}

/** A few lines a person can check a policy against. */
function describePolicy(d: PolicyDocument): string[] {
  const out: string[] = [];
  out.push(d.spendLimitUsd !== undefined ? `spend limit $${d.spendLimitUsd} per session (warning at 80 %)` : 'no spend limit');
  for (const t of d.tools ?? []) {
    const parts: string[] = [];
    if (t.deny) parts.push(`DENIED${t.reason ? ` (${t.reason})` : ''}`);
    if (t.costPerCallUsd !== undefined) parts.push(`$${t.costPerCallUsd}/call`);
    if (t.metered !== undefined) parts.push(t.metered ? 'metered' : 'not metered');
    if (t.reversibility) parts.push(t.reversibility);
    if (t.idempotent !== undefined) parts.push(t.idempotent ? 'idempotent' : 'not idempotent');
    if (t.sideEffects?.length) parts.push(`effects: ${t.sideEffects.join(', ')}`);
    out.push(`${t.server} / ${t.tool}: ${parts.join(', ') || '(no fields)'}`);
  }
  const rules = d.errors?.rules ?? [];
  if (rules.length) out.push(`${rules.length} error rule${rules.length === 1 ? '' : 's'}`);
  const classes = Object.keys(d.errors?.classes ?? {});
  if (classes.length) out.push(`recovery overrides for ${classes.join(', ')}`);
  return out;
}
