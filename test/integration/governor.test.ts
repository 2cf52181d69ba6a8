import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { summarizeSession } from '../../src/core/analysis/summary';
import type { JournalRecord, PolicyRecord, SpendRecord } from '../../src/core/model/records';
import { sha256Hex } from '../../src/core/policy/policy';
import { CLI, EVERYTHING, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { sessionsIn, toolCalls } from '../helpers/journal';
import { assembleSession } from '../../src/core/analysis/calls';
import { openStore } from '../../src/core/store/store';

/**
 * The spend governor and the policy through `mcp-flight record --policy`, with the SDK's real
 * Client on stdio and server-everything behind the recorder: calls past the limit are refused
 * with a JSON-RPC error the client receives, the warning and the limit are journaled, denied
 * tools are refused, and the store's own policy.json applies only once approved.
 */

const home = tempDir('mcpf-home-');
const dirs: string[] = [home];
const env = { ...process.env, MCP_FLIGHT_HOME: home } as Record<string, string>;

before(() => requireBuiltCli());
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function recordSession(store: string, extra: string[], body: (client: Client) => Promise<void>): Promise<string> {
  let stderr = '';
  const transport = new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'everything', ...extra, '--', NODE, EVERYTHING], env, stderr: 'pipe' });
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const client = new Client({ name: 'governed-agent', version: '1' });
  await client.connect(transport);
  try {
    await body(client);
  } finally {
    await client.close();
  }
  return stderr;
}

function latestSession(store: string): JournalRecord[] {
  const sessions = [...sessionsIn(store).values()];
  return sessions[sessions.length - 1]!;
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('spend governor through mcp-flight record --policy', () => {
  const store = tempDir();
  const work = tempDir('mcpf-policy-');
  dirs.push(store, work);
  const policyFile = path.join(work, 'policy.json');
  const policyText = JSON.stringify(
    {
      spendLimitUsd: 0.05,
      tools: [
        { server: 'everything', tool: 'get-env', deny: true, reason: 'environment dumps are not allowed' },
        { server: 'every*', tool: 'echo', costPerCallUsd: 0.02, sideEffects: ['greeting_sent'] },
      ],
    },
    null,
    2,
  );
  fs.writeFileSync(policyFile, policyText);

  let stderr = '';
  const refusals: McpError[] = [];
  before(async () => {
    stderr = await recordSession(store, ['--policy', policyFile], async (client) => {
      for (const n of [1, 2]) assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: `paid ${n}` } })).content, [{ type: 'text', text: `Echo: paid ${n}` }]);
      for (const n of [3, 4]) {
        await client.callTool({ name: 'echo', arguments: { message: `paid ${n}` } }).then(
          () => assert.fail(`echo ${n} should have been refused`),
          (e: unknown) => refusals.push(e as McpError),
        );
      }
      // Unmetered tools still work past the limit.
      const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
      assert.match(JSON.stringify(sum.content), /5/);
      await client.callTool({ name: 'get-env', arguments: {} }).then(
        () => assert.fail('get-env should have been denied'),
        (e: unknown) => refusals.push(e as McpError),
      );
    });
  });

  test('the agent receives a JSON-RPC error for each call past the limit, and for a denied tool', () => {
    assert.equal(refusals.length, 3);
    for (const e of refusals.slice(0, 2)) {
      assert.ok(e instanceof McpError);
      assert.equal(e.code, -32003);
      assert.match(e.message, /Spend limit reached: this session has spent \$0\.04 of its \$0\.05 limit/);
      assert.deepEqual(e.data, { code: 'SPEND_LIMIT', spent_usd: 0.04, limit_usd: 0.05, cost_usd: 0.02 });
    }
    const denied = refusals[2]!;
    assert.equal(denied.code, -32003);
    assert.match(denied.message, /policy refuses everything\/get-env: environment dumps are not allowed/);
    assert.equal((denied.data as { code?: string }).code, 'POLICY_DENIED');
  });

  test('the journal names the policy that governed the session, the warning and the limit', () => {
    const records = latestSession(store);
    const policy = records.filter((r): r is PolicyRecord => r.type === 'policy');
    assert.equal(policy.length, 1);
    assert.equal(policy[0]!.status, 'applied');
    assert.equal(policy[0]!.source, 'file');
    assert.equal(policy[0]!.path, policyFile);
    assert.equal(policy[0]!.sha256, sha256Hex(policyText));
    assert.deepEqual(policy[0]!.policy, JSON.parse(policyText));
    const spend = records.filter((r): r is SpendRecord => r.type === 'spend');
    assert.deepEqual(
      spend.map((s) => [s.event, s.spent_usd, s.limit_usd, s.tool]),
      [
        ['warning', 0.04, 0.05, 'echo'],
        ['limit_reached', 0.04, 0.05, 'echo'],
      ],
    );
    assert.match(stderr, /spend warning: 80 % of the limit reached \(\$0\.04 of \$0\.05\)/);
    assert.match(stderr, /spend limit reached/);
  });

  test('the index lists the policy and the spend thresholds as session events', async () => {
    const index = await openStore(store, { writeIndex: false });
    try {
      const sessionId = latestSession(store)[0]!.session_id;
      const events = index.events(sessionId).filter((e) => e.type === 'policy' || e.type === 'spend').map((e) => e.summary);
      assert.deepEqual(events, [
        `policy applied: ${policyFile} (sha256 ${sha256Hex(policyText).slice(0, 12)})`,
        'spend warning: $0.04 of the $0.05 limit (80 %)',
        'spend limit of $0.05 reached: metered calls are refused',
      ]);
    } finally {
      index.close();
    }
  });

  test('refused calls carry error_class spend_limit / policy_denied; the rest are priced', () => {
    const assembler = assembleSession(latestSession(store).map((record) => ({ record })));
    const calls = [...assembler.calls.values()];
    const echoes = toolCalls(calls, 'echo');
    assert.deepEqual(echoes.map((c) => [c.outcome, c.error?.error_class ?? null, c.cost_usd ?? null, c.cost_source ?? null]), [
      ['success', null, 0.02, 'policy'],
      ['success', null, 0.02, 'policy'],
      ['error', 'spend_limit', null, null],
      ['error', 'spend_limit', null, null],
    ]);
    const refused = echoes[2]!;
    assert.equal(refused.answered_by_recorder, true);
    assert.deepEqual({ ...refused.error, message: undefined }, { error_class: 'spend_limit', error_code: 'SPEND_LIMIT', message: undefined, recoverable: false, recovery_action: 'manual', retry_safe: true });
    const env = toolCalls(calls, 'get-env')[0]!;
    assert.equal(env.error?.error_class, 'policy_denied');
    assert.equal(env.error?.error_code, 'POLICY_DENIED');
    const s = summarizeSession(assembler, { writerAlive: false }).spend;
    assert.equal(s.total_usd, 0.04);
    assert.equal(s.limit_usd, 0.05);
    assert.equal(s.warning, true);
    assert.equal(s.limit_reached, true);
    assert.equal(s.refused_calls, 2);
    assert.equal(s.priced_calls, 2);
    assert.deepEqual(s.by_tool, [{ server: 'everything', tool: 'echo', calls: 2, usd: 0.04 }]);
    assert.deepEqual(s.by_server, [{ server: 'everything', calls: 2, usd: 0.04 }]);
    assert.deepEqual(s.by_agent, [{ agent_id: 'governed-agent/1', calls: 2, usd: 0.04 }]);
    assert.deepEqual(s.policy, { source: 'file', path: policyFile, sha256: sha256Hex(policyText), explicit: false });
  });

  test('mcp-flight summary shows the spend; --policy re-prices the session after the fact', () => {
    const text = cli(['summary', '--store', store]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Spend {7}\$0\.04 of \$0\.05 limit — warned at 80 %, limit reached \(2 priced calls, 2 calls refused\)/);
    const other = path.join(work, 'cheaper.json');
    fs.writeFileSync(other, JSON.stringify({ tools: [{ server: '*', tool: 'get-*', costPerCallUsd: 0.5 }] }));
    const json = cli(['summary', '--store', store, '--json', '--policy', other]);
    assert.equal(json.status, 0, json.stderr);
    const spend = (JSON.parse(json.stdout) as { spend: { total_usd: number; by_tool: unknown[]; policy: { explicit: boolean } } }).spend;
    // get-sum was forwarded (priced), get-env was refused at recording time (not priced).
    assert.deepEqual(spend.by_tool, [{ server: 'everything', tool: 'get-sum', calls: 1, usd: 0.5 }]);
    assert.equal(spend.policy.explicit, true);
    const bad = path.join(work, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ spendLimitUsd: -1, tools: [{ server: 'github', tool: 'create_*', reversibility: 'perm' }] }));
    const refused = cli(['summary', '--store', store, '--policy', bad]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /spendLimitUsd: must be >= 0/);
    assert.match(refused.stderr, /tools\[0\]\.reversibility \(server "github", tool "create_\*"\): must be one of "no_effect", "reversible", "permanent", not "perm"/);
  });
});

describe('a policy.json inside the store applies only once approved', () => {
  const store = tempDir();
  dirs.push(store);
  const storePolicy = path.join(store, 'policy.json');

  const policyRecordsOf = (records: JournalRecord[]) => records.filter((r): r is PolicyRecord => r.type === 'policy').map((r) => [r.status, r.source, r.reason ?? null]);

  test('unapproved: ignored with a visible notice and recorded as ignored; approved: applied; edited: ignored again', async () => {
    // First a session creates the store; then the repository "brings" a policy that denies echo.
    await recordSession(store, [], async (c) => void (await c.callTool({ name: 'echo', arguments: { message: 'before' } })));
    fs.writeFileSync(storePolicy, JSON.stringify({ tools: [{ server: '*', tool: 'echo', deny: true, reason: 'store policy says no' }] }));

    const stderr1 = await recordSession(store, [], async (c) => {
      assert.deepEqual((await c.callTool({ name: 'echo', arguments: { message: 'unapproved' } })).content, [{ type: 'text', text: 'Echo: unapproved' }]);
    });
    assert.match(stderr1, /policy\.json is ignored until you approve it/);
    assert.deepEqual(policyRecordsOf(latestSession(store)), [['ignored', 'store', 'not approved by the user']]);

    const show = cli(['policy', 'show', '--store', store]);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /status unapproved/);
    assert.match(show.stdout, /store policy says no/, 'show prints the file for review');
    const wrongHash = cli(['policy', 'approve', '--store', store, '--sha256', '0'.repeat(64)]);
    assert.equal(wrongHash.status, 1);
    assert.match(wrongHash.stderr, /changed since you read it; nothing approved/);
    const approved = cli(['policy', 'approve', '--store', store, '--sha256', sha256Hex(fs.readFileSync(storePolicy))]);
    assert.equal(approved.status, 0, approved.stderr);
    const approvals = JSON.parse(fs.readFileSync(path.join(home, 'policy-approvals.json'), 'utf8')) as { approvals: Record<string, { sha256: string }> };
    assert.equal(approvals.approvals[fs.realpathSync(storePolicy)]?.sha256, sha256Hex(fs.readFileSync(storePolicy)), 'the approval lives in the user-level home');
    assert.equal((fs.statSync(path.join(home, 'policy-approvals.json')).mode & 0o777).toString(8), '600');

    await recordSession(store, [], async (c) => {
      await assert.rejects(c.callTool({ name: 'echo', arguments: { message: 'approved' } }), (e: unknown) => e instanceof McpError && /store policy says no/.test(e.message));
    });
    assert.deepEqual(policyRecordsOf(latestSession(store)), [['applied', 'store', null]]);

    fs.appendFileSync(storePolicy, '\n');
    const stderr3 = await recordSession(store, [], async (c) => {
      assert.deepEqual((await c.callTool({ name: 'echo', arguments: { message: 'edited' } })).content, [{ type: 'text', text: 'Echo: edited' }]);
    });
    assert.match(stderr3, /ignored until you approve it/);
    assert.deepEqual(policyRecordsOf(latestSession(store)), [['ignored', 'store', 'not approved by the user']]);

    const check = cli(['policy', 'check', '--store', store]);
    assert.equal(check.status, 0);
    assert.match(check.stdout, /NOT approved/);
  });
});
