import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { classifyFailure, ERROR_CLASS_RULES } from '../../src/core/analysis/errors';
import { effectTags } from '../../src/core/analysis/reversibility';
import type { ErrorClass } from '../../src/core/model/calls';
import { approve, isApproved, revoke } from '../../src/core/policy/approval';
import { reportedCostUsd } from '../../src/core/policy/cost';
import { PolicyGate } from '../../src/core/policy/governor';
import { inspectStorePolicy, policyRecords, resolvePolicy } from '../../src/core/policy/load';
import { checkPolicy, parsePolicy, PolicyError, reviewableText, sha256Hex, type LoadedPolicy, type PolicyDocument } from '../../src/core/policy/policy';
import { PolicyRules } from '../../src/core/policy/rules';
import { composeGates, type Gate, type GateDecision, type GateRequest } from '../../src/core/recording/gate';
import { ROOT, tempDir } from '../helpers/env';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function problems(text: string): string[] {
  try {
    parsePolicy(text, 'p.json');
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    return err.problems;
  }
  return [];
}

describe('policy: schema and validation', () => {
  it('accepts the issue\'s example, comments and trailing commas included', () => {
    const doc = parsePolicy(
      `{ // the shape of issue 5
        "spendLimitUsd": 1.0,
        "tools": [ { "server": "github", "tool": "create_*", "costPerCallUsd": 0.01,
                     "reversibility": "permanent", "idempotent": false, "sideEffects": ["issue_created"] }, ] }`,
      'p.json',
    );
    assert.equal(doc.spendLimitUsd, 1);
    assert.equal(doc.tools?.[0]?.tool, 'create_*');
  });

  it('names every bad entry, with its server and tool', () => {
    assert.deepEqual(problems(JSON.stringify({ spendLimitUsd: 'lots', tools: [{ server: 'a', tool: 'b' }, { server: 'github', tool: 'x', reversibility: 'perm', cost: 1 }, { tool: 'y' }] })), [
      'spendLimitUsd: must be number (got "lots")',
      'tools[1] (server "github", tool "x"): unknown property "cost"',
      'tools[1].reversibility (server "github", tool "x"): must be one of "no_effect", "reversible", "permanent", not "perm"',
      'tools[2] (server "?", tool "y"): missing "server"',
    ]);
    assert.deepEqual(problems(JSON.stringify({ errors: { rules: [{ class: 'rate_limited' }], classes: { nonsense: {} } } })), [
      'errors.rules[0]: missing "code"',
      'errors.rules[0]: missing "messageIncludes"',
      'errors.rules[0]: needs "code" or "messageIncludes"',
      'errors.classes: "nonsense" is not allowed here (must be an error class)',
    ]);
    assert.match(problems('{"tools": [}').join(), /ValueExpected at line 1, column 12/);
    assert.match(problems(JSON.stringify({ spendLimitUsd: -1 })).join(), /spendLimitUsd: must be >= 0/);
  });

  it('shows a policy for review with escapes, bidi controls and invisible characters made visible', () => {
    assert.equal(reviewableText('{"a": 1}\n\t"b"'), '{"a": 1}\n\t"b"');
    assert.equal(reviewableText('x\u001b[2Ky\u202ez\u200bw\u{e0041}'), 'x\\u{1b}[2Ky\\u{202e}z\\u{200b}w\\u{e0041}');
  });

  it('the shipped schema validates docs/policy.md\'s example', () => {
    const md = fs.readFileSync(path.join(ROOT, 'docs', 'policy.md'), 'utf8');
    const example = /```json\n([\s\S]*?)\n```/.exec(md)![1]!;
    const doc = parsePolicy(example, 'docs/policy.md');
    assert.equal(doc.tools?.length, 4);
  });
});

describe('policy: rules per server/tool', () => {
  const rules = new PolicyRules({
    spendLimitUsd: 1,
    tools: [
      { server: 'github', tool: 'create_*', costPerCallUsd: 0.01, reversibility: 'permanent' },
      { server: 'github', tool: 'delete_issue', deny: false },
      { server: 'github', tool: 'delete_*', deny: true, reason: 'no deletes' },
      { server: 'search', tool: '*', metered: true },
      { server: '*', tool: '*', reversibility: 'reversible', idempotent: true, sideEffects: ['touched'] },
    ],
  });

  it('takes each field from the first matching entry that sets it', () => {
    const t = rules.tool('github', 'create_issue');
    assert.deepEqual({ ...t }, { metered: true, entries: [0, 4], costPerCallUsd: 0.01, reversibility: 'permanent', idempotent: true, sideEffects: ['touched'] });
    assert.equal(rules.tool('github', 'create_issue'), t, 'cached');
    assert.deepEqual(rules.tool('github', 'delete_repo').deny, { reason: 'no deletes' });
    assert.equal(rules.tool('github', 'delete_issue').deny, undefined, 'an earlier "deny": false exempts the tool');
    assert.equal(rules.tool('search', 'query').metered, true);
    assert.equal(rules.tool('other', 'x').metered, false);
  });
});

describe('reversibility and idempotency tags', () => {
  it('follows the annotations, the spec defaults and the overrides, naming the source', () => {
    const tags = (a: Record<string, unknown> | undefined, o?: { reversibility?: 'no_effect' | 'reversible' | 'permanent'; idempotent?: boolean }) => {
      const t = effectTags(a, o ? { metered: false, entries: [], ...o } : undefined);
      return [t.reversibility, t.reversibility_source, t.idempotent, t.idempotent_source];
    };
    assert.deepEqual(tags({ readOnlyHint: true }), ['no_effect', 'annotation', true, 'annotation']);
    assert.deepEqual(tags(undefined), ['permanent', 'default', false, 'default']);
    assert.deepEqual(tags({ readOnlyHint: false }), ['permanent', 'default', false, 'default']);
    assert.deepEqual(tags({ destructiveHint: true, idempotentHint: true }), ['permanent', 'annotation', true, 'annotation']);
    assert.deepEqual(tags({ destructiveHint: false }), ['permanent', 'default', false, 'default']);
    assert.deepEqual(tags({ destructiveHint: false, openWorldHint: false }), ['reversible', 'annotation', false, 'default']);
    assert.deepEqual(tags({ destructiveHint: false, openWorldHint: true, idempotentHint: false }), ['permanent', 'annotation', false, 'annotation']);
    assert.deepEqual(tags({ readOnlyHint: true }, { reversibility: 'permanent' }), ['permanent', 'override', true, 'annotation']);
    assert.deepEqual(tags(undefined, { idempotent: true }), ['permanent', 'default', true, 'override']);
  });
});

describe('error taxonomy', () => {
  const classify = (f: Parameters<typeof classifyFailure>[0], rules?: PolicyRules) => {
    const e = classifyFailure(f, rules);
    return [e.error_class, e.error_code, e.retry_safe];
  };

  it('reads stable codes where servers put them, and message patterns', () => {
    assert.deepEqual(classify({ rpcError: { code: -32000, message: 'nope', data: { code: 'token-revoked' } }, idempotent: false }), ['auth_expired', 'TOKEN_REVOKED', true]);
    assert.deepEqual(classify({ rpcError: { code: -32603, message: 'x', data: { error: { type: 'rate_limit_exceeded' } } }, idempotent: false }), ['rate_limited', 'RATE_LIMIT_EXCEEDED', true]);
    assert.deepEqual(classify({ isErrorResult: { text: 'GitHub says: 401 Bad credentials' }, idempotent: false }), ['auth_expired', 'UNAUTHENTICATED', true]);
    assert.deepEqual(classify({ isErrorResult: { text: 'failed: QUOTA_EXCEEDED for today' }, idempotent: false }), ['rate_limited', 'QUOTA_EXCEEDED', true]);
    assert.deepEqual(classify({ isErrorResult: { text: 'EACCES: permission denied, open /etc/shadow' }, idempotent: true }), ['tool_error', 'TOOL_ERROR', true]);
    assert.deepEqual(classify({ rpcError: { code: -32603, message: 'request timed out upstream' }, idempotent: false }), ['timeout', -32603, false]);
    assert.deepEqual(classify({ rpcError: { code: -32042, message: 'odd' }, idempotent: true }), ['internal_error', -32042, true]);
    assert.deepEqual(classify({ rpcError: { message: 'no code' }, idempotent: true }), ['protocol_violation', null, false]);
  });

  it('the recorder\'s own answers are facts; policy rules and class overrides apply to the rest', () => {
    const rules = new PolicyRules({
      errors: {
        rules: [
          { code: 'QUOTA_DEPLETED', class: 'spend_limit' },
          { code: 503, tool: 'search_*', class: 'rate_limited' },
          { messageIncludes: 'Secondary Rate', server: 'github', class: 'rate_limited' },
          { messageIncludes: 'denied', class: 'tool_error' },
        ],
        classes: { tool_error: { retrySafe: 'never', recoveryAction: 'retry' } },
      },
    });
    assert.deepEqual(classify({ rpcError: { code: -32000, message: 'x', data: { code: 'QUOTA_DEPLETED' } }, idempotent: false }, rules), ['spend_limit', 'QUOTA_DEPLETED', true]);
    assert.deepEqual(classify({ rpcError: { message: 'x' }, httpStatus: 503, tool: 'search_web', idempotent: false }, rules), ['rate_limited', 503, true]);
    assert.deepEqual(classify({ rpcError: { message: 'x' }, httpStatus: 503, tool: 'other', idempotent: false }, rules), ['transport_error', 503, false]);
    assert.deepEqual(classify({ isErrorResult: { text: 'You have hit a secondary rate limit' }, server: 'github', idempotent: false }, rules), ['rate_limited', null, true]);
    assert.deepEqual(classify({ isErrorResult: { text: 'boom' }, idempotent: true }, rules), ['tool_error', 'TOOL_ERROR', false]);
    assert.equal(classifyFailure({ isErrorResult: { text: 'boom' }, idempotent: true }, rules).recovery_action, 'retry');
    // A gate refusal stays policy_denied even though a rule matches its message.
    assert.deepEqual(classify({ rpcError: { code: -32003, message: 'denied by policy', data: { code: 'POLICY_DENIED' } }, answeredByRecorder: true, recorderReason: 'denied', idempotent: false }, rules), ['policy_denied', 'POLICY_DENIED', true]);
  });

  it('docs/error-taxonomy.md lists every class with the recovery fields of the table', () => {
    const md = fs.readFileSync(path.join(ROOT, 'docs', 'error-taxonomy.md'), 'utf8');
    const rows = new Map<string, string[]>();
    for (const m of md.matchAll(/^\| `([a-z_]+)` \| (yes|no) \| `([a-z_]+)` \| (always|if idempotent|never) \|/gm)) rows.set(m[1]!, [m[2]!, m[3]!, m[4]!]);
    for (const [cls, rule] of Object.entries(ERROR_CLASS_RULES) as Array<[ErrorClass, (typeof ERROR_CLASS_RULES)[ErrorClass]]>) {
      assert.deepEqual(rows.get(cls), [rule.recoverable ? 'yes' : 'no', rule.recovery_action, rule.retry === 'if_idempotent' ? 'if idempotent' : rule.retry], cls);
    }
    assert.equal(rows.size, Object.keys(ERROR_CLASS_RULES).length);
  });
});

describe('composable gates', () => {
  const req = (name: string): GateRequest => ({ sessionId: 's', connectionId: 'c1', server: { name: 'srv', transport: 'stdio' }, id: name, method: 'tools/call', message: { params: { name } } });
  it('asks each gate in order, first refusal wins, a hold delays the rest, responses reach every listener', async () => {
    const asked: string[] = [];
    const seen: string[] = [];
    const a: Gate = { check: (r) => (asked.push(`a:${r.id}`), r.id === 'held' ? Promise.resolve<GateDecision>({ action: 'allow' }) : r.id === 'a-no' ? { action: 'deny', message: 'a says no' } : { action: 'allow' }), onResponse: (r) => void seen.push(`a:${r.id}`) };
    const b: Gate = { check: (r) => (asked.push(`b:${r.id}`), r.id === 'b-no' ? { action: 'deny', message: 'b says no' } : { action: 'allow' }), onResponse: (r) => void seen.push(`b:${r.id}`) };
    assert.equal(composeGates(undefined, a), a);
    const g = composeGates(a, undefined, b)!;
    assert.deepEqual(g.check(req('ok')), { action: 'allow' });
    assert.deepEqual(g.check(req('a-no')), { action: 'deny', message: 'a says no' });
    assert.deepEqual(g.check(req('b-no')), { action: 'deny', message: 'b says no' });
    const held = g.check(req('held'));
    assert.ok(held instanceof Promise);
    assert.deepEqual(asked.slice(-1), ['a:held'], 'b waits for a');
    assert.deepEqual(await held, { action: 'allow' });
    assert.deepEqual(asked.slice(-1), ['b:held']);
    g.onResponse!({ ...req('ok'), message: {} });
    assert.deepEqual(seen, ['a:ok', 'b:ok']);
  });
});

describe('spend governor (unit)', () => {
  const policy = (document: PolicyDocument): LoadedPolicy => ({ document, sha256: sha256Hex(JSON.stringify(document)), source: 'file' });
  const call = (id: number, name: string, server = 'srv'): GateRequest => ({ sessionId: 's', connectionId: 'c1', server: { name: server, transport: 'stdio' }, id, method: 'tools/call', message: { params: { name } } });

  it('replaces a fixed charge with the reported cost, learns reported-cost tools, and never overruns a known cost', () => {
    const events: string[] = [];
    const g = new PolicyGate({ policy: policy({ spendLimitUsd: 1, tools: [{ server: '*', tool: 'fixed', costPerCallUsd: 0.3 }] }), onSpend: (e) => void events.push(`${e.event}@${e.spent_usd}`) });
    assert.equal(g.check(call(1, 'fixed')).action, 'allow');
    g.onResponse({ ...call(1, 'fixed'), message: { result: { _meta: { 'mcp-flight/costUsd': 0.1 } } } });
    assert.equal(g.state.spent_usd, 0.1);
    assert.equal(g.check(call(2, 'free')).action, 'allow');
    g.onResponse({ ...call(2, 'free'), message: { result: { _meta: { costUsd: 0.6 } } } });
    assert.equal(g.state.spent_usd, 0.7);
    assert.deepEqual(events, []);
    assert.equal(g.check(call(3, 'fixed')).action, 'allow', '0.7 + 0.3 reaches the limit without passing it');
    assert.deepEqual(events, ['warning@1', 'limit_reached@1']);
    assert.equal(g.check(call(4, 'fixed')).action, 'deny');
    assert.equal(g.check(call(5, 'free')).action, 'deny', 'a tool that reported a cost is metered from then on');
    assert.equal(g.check(call(6, 'other')).action, 'allow');
  });

  it('warns at 80 % once, refuses past the limit, leaves unmetered tools alone', () => {
    const events: string[] = [];
    const g = new PolicyGate({ policy: policy({ spendLimitUsd: 1, tools: [{ server: '*', tool: 'paid', costPerCallUsd: 0.2 }] }), onSpend: (e) => void events.push(`${e.event}@${e.spent_usd}`) });
    const decisions = [1, 2, 3, 4, 5, 6].map((i) => g.check(call(i, 'paid')).action);
    assert.deepEqual(decisions, ['allow', 'allow', 'allow', 'allow', 'allow', 'deny']);
    assert.deepEqual(events, ['warning@0.8', 'limit_reached@1']);
    assert.equal(g.check(call(7, 'free')).action, 'allow');
    assert.deepEqual(g.state, { spent_usd: 1, limit_usd: 1, warned: true, limit_reached: true, refused_calls: 1 });
  });

  it('reads reported costs only from the documented keys', () => {
    assert.equal(reportedCostUsd({ _meta: { 'mcp-flight/costUsd': 0.5 } }), 0.5);
    assert.equal(reportedCostUsd({ _meta: { cost_usd: 0.2 } }), 0.2);
    assert.equal(reportedCostUsd({ _meta: { cost: { amount: 1.5, currency: 'usd' } } }), 1.5);
    assert.equal(reportedCostUsd({ _meta: { cost: { amount: 1.5, currency: 'EUR' } } }), undefined);
    assert.equal(reportedCostUsd({ _meta: { costUsd: -1 } }), undefined);
    assert.equal(reportedCostUsd({ _meta: { costUsd: 'NaN' } }), undefined);
    assert.equal(reportedCostUsd({ cost: 1 }), undefined);
  });
});

describe('store policy approval', () => {
  it('applies only the approved bytes; a change needs a new approval; the records say so', () => {
    const home = tempDir('mcpf-home-');
    const store = tempDir();
    dirs.push(home, store);
    const file = path.join(store, 'policy.json');
    assert.deepEqual(resolvePolicy({ storeDir: store, home }), { notices: [] });
    fs.writeFileSync(file, '{"spendLimitUsd": 2}');
    let r = resolvePolicy({ storeDir: store, home });
    assert.equal(r.policy, undefined);
    assert.equal(r.store?.status, 'unapproved');
    assert.match(r.notices[0]!, /ignored until you approve it/);
    assert.deepEqual(policyRecords(r).map((x) => [x.status, x.reason]), [['ignored', 'not approved by the user']]);
    approve(file, sha256Hex(fs.readFileSync(file)), home);
    assert.ok(isApproved(file, sha256Hex(fs.readFileSync(file)), home));
    r = resolvePolicy({ storeDir: store, home });
    assert.equal(r.policy?.document.spendLimitUsd, 2);
    assert.deepEqual(policyRecords(r).map((x) => [x.status, x.source]), [['applied', 'store']]);
    fs.writeFileSync(file, '{"spendLimitUsd": 200}');
    r = resolvePolicy({ storeDir: store, home });
    assert.equal(r.policy, undefined, 'edited: ignored again');
    const own: LoadedPolicy = { document: checkPolicy({}, 'x'), sha256: 'ab'.repeat(32), source: 'file', path: '/x.json' };
    r = resolvePolicy({ storeDir: store, home, own });
    assert.equal(r.policy, own);
    assert.equal(r.store?.status, 'overridden');
    fs.writeFileSync(file, '{"spendLimitUsd": "x"}');
    assert.equal(inspectStorePolicy(store, home)?.status, 'invalid');
    assert.ok(revoke(file, home));
    assert.equal(revoke(file, home), false);
  });
});
