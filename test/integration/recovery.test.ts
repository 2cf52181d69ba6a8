import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { RecoveryPlan } from '../../src/core/analysis/recovery';
import type { SessionSummary } from '../../src/core/analysis/summary';
import { openStore } from '../../src/core/store/store';
import { CLI, fixture, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, sessionsIn, toolCalls } from '../helpers/journal';
import { RawRecordClient } from '../helpers/raw-client';
import { assertValidJsonExport } from '../helpers/schema';

/**
 * Recovery against real peers: the SDK's real Client and a raw stdio client, through the real
 * `mcp-flight record` process, to a fixture that fails once and then succeeds (and one that never
 * answers); the recorder killed with SIGKILL mid-call. Assertions are on what the CLI reports
 * from the journal.
 */

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(...args: string[]): T {
  const r = cli(...args);
  assert.equal(r.status, 0, `mcp-flight ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe('an agent retry through the recorder (SDK Client → mcp-flight record → flaky-server)', () => {
  const store = tempDir();
  before(async () => {
    requireBuiltCli();
    const client = new Client({ name: 'retrying-agent', version: '2.0.0' });
    await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'flaky', '--', NODE, fixture('flaky-server.mjs')], stderr: 'pipe' }));
    await client.listTools();
    await client.callTool({ name: 'write_record', arguments: { key: 'k1', value: 'v1' } });
    const first = await client.callTool({ name: 'fetch_report', arguments: { id: 'r1', format: { kind: 'pdf', pages: 2 } } });
    assert.equal(first.isError, true, 'the fixture fails the first time');
    // The agent retries with the same arguments, keys in another order.
    const again = await client.callTool({ name: 'fetch_report', arguments: { format: { pages: 2, kind: 'pdf' }, id: 'r1' } });
    assert.notEqual(again.isError, true);
    await client.callTool({ name: 'delete_record', arguments: { key: 'k0' } });
    await client.callTool({ name: 'fail_always', arguments: { reason: 'quota' } });
    await client.close();
  });
  after(() => fs.rmSync(store, { recursive: true, force: true }));

  test('the retry is linked with retry_of in the journal, the index and the export', async () => {
    const { calls } = onlySession(store);
    const [failed, retry] = toolCalls(calls, 'fetch_report');
    assert.equal(failed!.outcome, 'error');
    assert.equal(retry!.outcome, 'success');
    assert.equal(retry!.retry_of, failed!.call_id);
    assert.equal(failed!.retry_of, undefined);

    const s = await openStore(store);
    try {
      const row = s.call(retry!.session_id, retry!.call_id);
      assert.equal(row?.retry_of, failed!.call_id, 'the index keeps the link (tree and timeline read it)');
      const session = s.session(retry!.session_id)!;
      assert.deepEqual([session.failed, session.repaired], [2, 1], 'the index counts the repaired failure');
    } finally {
      s.close();
    }
    const out = cli('export', '--store', store);
    assert.equal(out.status, 0, out.stderr);
    const doc = assertValidJsonExport(out.stdout) as { calls: Array<{ call_id: string; retry_of: string | null }> };
    assert.equal(doc.calls.find((c) => c.call_id === retry!.call_id)?.retry_of, failed!.call_id);
  });

  test('summary --json: the repaired failure does not count against the session; the unrepaired one does', () => {
    const s = json<SessionSummary>('summary', '--store', store, '--json');
    assert.equal(s.tool_calls, 5);
    assert.equal(s.failed_calls, 2);
    assert.equal(s.retries, 1);
    assert.equal(s.recovered_failures, 1);
    assert.equal(s.terminal_state, 'partial_success', 'fail_always was never repaired');
    assert.equal(s.recovery_status, 'abandoned');
    // Not observed (no watcher, no cost model): null, never a claimed zero; API calls are counted from the calls themselves.
    const fxs = s.side_effects_summary;
    assert.deepEqual([fxs.files_created, fxs.files_modified, fxs.files_deleted, fxs.spend_incurred_usd], [null, null, null, null]);
    assert.equal(typeof fxs.api_calls_made, 'number');
    const text = cli('summary', '--store', store).stdout;
    assert.match(text, /^State {7}partial_success {2}recovery abandoned$/m);
    assert.match(text, /^Retries {5}1 agent retry, 1 failure repaired$/m);
  });

  test('plan --json: permanent, reversible and no-effect calls, and the failure that is not retry-safe', () => {
    const plan = json<RecoveryPlan>('plan', '--store', store, '--json');
    assert.equal(plan.broke_at?.tool, 'fail_always');
    assert.deepEqual(plan.before_break.permanent.map((c) => c.tool), ['delete_record']);
    assert.deepEqual(plan.before_break.reversible.map((c) => c.tool), ['write_record']);
    assert.deepEqual(plan.before_break.no_effect.map((c) => [c.tool, c.outcome]), [['fetch_report', 'error'], ['fetch_report', 'success']]);
    assert.equal(plan.recovered_by_retry.length, 1);
    assert.deepEqual(plan.resume.map((r) => [r.tool, r.error_class, r.retry_safe, r.arguments]), [['fail_always', 'tool_error', false, { reason: 'quota' }]]);
    const text = cli('plan', '--store', store).stdout;
    assert.match(text, /Broke at {4}\S+ {2}flaky\/fail_always {2}failed/);
    assert.match(text, /NOT retry-safe/);
  });
});

describe('a session whose only failure an agent retry repaired', () => {
  const store = tempDir();
  before(async () => {
    requireBuiltCli();
    const client = new Client({ name: 'retrying-agent', version: '2.0.0' });
    await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'flaky', '--', NODE, fixture('flaky-server.mjs')], stderr: 'pipe' }));
    assert.equal((await client.callTool({ name: 'fetch_report', arguments: { id: 'r7' } })).isError, true);
    assert.notEqual((await client.callTool({ name: 'fetch_report', arguments: { id: 'r7' } })).isError, true);
    await client.close();
  });
  after(() => fs.rmSync(store, { recursive: true, force: true }));

  test('ends in success, recovery resumed — in summary, plan and the session list alike', () => {
    const s = json<SessionSummary>('summary', '--store', store, '--json');
    assert.deepEqual([s.failed_calls, s.recovered_failures, s.terminal_state, s.recovery_status], [1, 1, 'success', 'resumed']);
    const plan = json<RecoveryPlan>('plan', '--store', store, '--json');
    assert.equal(plan.broke_at, null);
    assert.deepEqual(plan.resume, []);
    const list = json<Array<{ session_id: string; terminal_state: string; failed: number; repaired: number }>>('sessions', '--store', store, '--json');
    assert.deepEqual(list.map((r) => [r.terminal_state, r.failed, r.repaired]), [['success', 1, 1]], 'the index-based list agrees with the summary');
  });
});

describe('the recorder killed with SIGKILL mid-call', () => {
  const store = tempDir();
  let killedSession = '';
  before(requireBuiltCli);
  after(() => fs.rmSync(store, { recursive: true, force: true }));

  test('the session is interrupted and the plan names the call in flight', async () => {
    const client = new RawRecordClient(store, [NODE, fixture('flaky-server.mjs'), '--hang-alerts'], ['--name', 'flaky']);
    await client.initialize();
    client.send({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    await client.response(1);
    client.callTool(2, 'write_record', { key: 'k1', value: 'v1' });
    await client.response(2);
    client.callTool(3, 'delete_record', { key: 'k0' });
    await client.response(3);
    client.callTool(4, 'send_alert', { to: 'ops', token: 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB' });
    // The request is journaled before it is forwarded: wait until it is on disk, then kill.
    for (let i = 0; i < 200 && !toolCalls([...onlySessionCalls(store)], 'send_alert').length; i++) await new Promise((r) => setTimeout(r, 25));
    client.child.kill('SIGKILL');
    const exit = await client.exited;
    assert.equal(exit.signal, 'SIGKILL');

    const { calls, records } = onlySession(store);
    killedSession = records[0]!.session_id;
    assert.equal(records.filter((r) => r.type === 'session_end').length, 0);
    assert.equal(toolCalls(calls, 'send_alert')[0]?.outcome, 'pending');

    const s = json<SessionSummary>('summary', '--store', store, '--json');
    assert.equal(s.terminal_state, 'interrupted');
    assert.equal(s.pending_calls, 1);
    assert.equal(s.tool_calls, 3);
    assert.equal(s.recovery_status, 'abandoned');

    const plan = json<RecoveryPlan>('plan', '--store', store, killedSession.slice(0, 12), '--json');
    assert.equal(plan.terminal_state, 'interrupted');
    assert.equal(plan.broke_at?.tool, 'send_alert');
    assert.equal(plan.broke_at?.reason, 'in_flight');
    assert.equal(plan.last_resume_point?.tool, 'delete_record');
    assert.deepEqual(plan.before_break.permanent.map((c) => c.tool), ['delete_record']);
    const step = plan.resume[0]!;
    assert.equal(plan.resume.length, 1);
    assert.equal(step.retry_safe, false, 'no annotations: it may have sent the alert before the kill');
    assert.match(JSON.stringify(step.arguments), /"to":"ops","token":"\[REDACTED:github_pat:[0-9a-f]{6}\]"/);
    assert.deepEqual(step.redacted, ['$.token']);
  });

  test('a later session that completes the same call makes it resumed', async () => {
    const client = new RawRecordClient(store, [NODE, fixture('flaky-server.mjs')], ['--name', 'flaky']);
    await client.initialize();
    client.callTool(1, 'send_alert', { to: 'ops', token: 'ghp_1234567890abcdefghijklmnopqrstuvwxyzAB' });
    assert.match((await client.response(1)).toString(), /alerted ops/);
    assert.equal((await client.close()).code, 0, client.stderr);
    assert.equal(sessionsIn(store).size, 2);

    const s = json<SessionSummary>('summary', '--store', store, '--session', killedSession, '--json');
    assert.equal(s.terminal_state, 'interrupted', 'how the session ended does not change');
    assert.equal(s.recovery_status, 'resumed');
    const plan = json<RecoveryPlan>('plan', '--store', store, killedSession, '--json');
    assert.equal(plan.resume.length, 0);
    assert.equal(plan.completed_later.length, 1);
    assert.equal(plan.completed_later[0]!.how, 'same_call');
    assert.notEqual(plan.completed_later[0]!.by_session_id, killedSession);
  });
});

function onlySessionCalls(store: string) {
  try {
    return onlySession(store).calls;
  } catch {
    return [];
  }
}
