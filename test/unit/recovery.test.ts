import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { assembleSession, RETRY_WINDOW_MS } from '../../src/core/analysis/calls';
import { buildRecoveryPlan, effectOf, formatPlanText, redactedPaths, type RecoveryPlan } from '../../src/core/analysis/recovery';
import { formatSummaryText, summarizeSession, type SessionSummary } from '../../src/core/analysis/summary';
import type { Call } from '../../src/core/model/calls';
import { exportSessionToString } from '../../src/core/export/session-json';
import { exportSessionJsonlToString } from '../../src/core/export/jsonl';
import { ExportedTimelineSource, overviewOf } from '../../src/extension/views/timeline-data';
import { assertGolden } from '../helpers/golden';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';
import { SessionBuilder } from '../helpers/session-builder';

const TOOLS = [
  { name: 'read_file', annotations: { readOnlyHint: true } },
  { name: 'write_file', annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false } },
  { name: 'delete_file', annotations: { destructiveHint: true, idempotentHint: true } },
  { name: 'create_issue', annotations: { destructiveHint: false } },
  { name: 'send_email' },
];

function tools(b: SessionBuilder): Call[] {
  return [...assembleSession(b.items()).calls.values()].filter((c) => c.method === 'tools/call');
}

function report(b: SessionBuilder, writerAlive = false): { summary: SessionSummary; plan: RecoveryPlan } {
  const a = assembleSession(b.items());
  const summary = summarizeSession(a, { writerAlive });
  return { summary, plan: buildRecoveryPlan(a, summary) };
}

describe('retry_of: agent retries', () => {
  it('links the same tool, server and canonical arguments within 60 s of a failure', () => {
    const b = new SessionBuilder().start().open('c1', 'files', TOOLS);
    b.call('c1', 'read_file', { path: '/a', opts: { n: 1, b: true } }, { error: -32603, message: 'disk busy' });
    b.wait(5_000).call('c1', 'read_file', { opts: { b: true, n: 1.0 }, path: '/a' }, { ok: 'A' });
    const [first, retry] = tools(b);
    assert.equal(first!.outcome, 'error');
    assert.equal(retry!.retry_of, first!.call_id, 'key order and number spelling do not matter (RFC 8785)');
  });

  it('does not link after the window, other arguments, another server, or after a success', () => {
    const b = new SessionBuilder().start().open('c1', 'files', TOOLS).open('c2', 'other', TOOLS);
    b.call('c1', 'read_file', { path: '/late' }, { timeout: true });
    b.wait(RETRY_WINDOW_MS + 1).call('c1', 'read_file', { path: '/late' }, { ok: 'late' });
    b.call('c1', 'read_file', { path: '/x' }, { isError: 'nope' }).call('c1', 'read_file', { path: '/y' }, { ok: 'y' });
    b.call('c1', 'read_file', { path: '/z' }, { isError: 'nope' }).call('c2', 'read_file', { path: '/z' }, { ok: 'z' });
    b.call('c1', 'read_file', { path: '/ok' }, { ok: 1 }).call('c1', 'read_file', { path: '/ok' }, { ok: 2 });
    assert.deepEqual(
      tools(b).map((c) => c.retry_of ?? null),
      [null, null, null, null, null, null, null, null],
    );
  });

  it('an identical call that succeeded after the failure means the work got done: the next one is new work', () => {
    const b = new SessionBuilder().start().open('c1', 'files', TOOLS);
    // Two identical calls in flight at once: the first fails, the second succeeds.
    b.send('c1', 'client_to_server', { id: 50, method: 'tools/call', params: { name: 'read_file', arguments: { path: '/p' } } });
    b.send('c1', 'client_to_server', { id: 51, method: 'tools/call', params: { name: 'read_file', arguments: { path: '/p' } } });
    b.send('c1', 'server_to_client', { id: 50, result: { content: [], isError: true } });
    b.send('c1', 'server_to_client', { id: 51, result: { content: [] } });
    b.call('c1', 'read_file', { path: '/p' }, { ok: 'again' });
    assert.deepEqual(tools(b).map((c) => [c.outcome, c.retry_of ?? null]), [['error', null], ['success', null], ['success', null]]);
  });

  it('follows a chain of retries, across connections to the same server, cancellations included', () => {
    const b = new SessionBuilder().start().open('c1', 'files', TOOLS);
    b.call('c1', 'send_email', { to: 'ops' }, { crash: true });
    b.open('c2', 'files', TOOLS).call('c2', 'send_email', { to: 'ops' }, { cancel: true });
    b.call('c2', 'send_email', { to: 'ops' }, { ok: 'sent' });
    const [a, r1, r2] = tools(b);
    assert.equal(a!.error?.error_class, 'server_crash');
    assert.equal(r1!.retry_of, a!.call_id, 'the server was restarted: a new connection, the same server name');
    assert.equal(r2!.retry_of, r1!.call_id, 'a retry of a retry points at the attempt before it');
    const { summary } = report(b.end());
    assert.equal(summary.retries, 2);
    assert.equal(summary.recovered_failures, 1);
    assert.equal(summary.terminal_state, 'success');
    assert.equal(summary.recovery_status, 'resumed');
  });
});

describe('terminal_state and recovery_status', () => {
  it('none_needed when nothing failed; pending while running; abandoned once ended', () => {
    const ok = new SessionBuilder().start().open('c1', 'files', TOOLS).call('c1', 'read_file', { path: '/a' }, { ok: 1 });
    assert.deepEqual(pick(report(ok, true).summary), ['in_progress', 'none_needed']);
    assert.deepEqual(pick(report(ok.end()).summary), ['success', 'none_needed']);

    const failing = new SessionBuilder().start().open('c1', 'files', TOOLS).call('c1', 'read_file', { path: '/a' }, { ok: 1 }).call('c1', 'create_issue', { title: 't' }, { isError: 'quota' });
    assert.deepEqual(pick(report(failing, true).summary), ['in_progress', 'pending']);
    assert.deepEqual(pick(report(failing.end()).summary), ['partial_success', 'abandoned']);

    const allFail = new SessionBuilder().start().open('c1', 'files', TOOLS).call('c1', 'create_issue', { title: 't' }, { isError: 'quota' }).end();
    assert.deepEqual(pick(report(allFail).summary), ['failure', 'abandoned']);
  });

  it('a later session that did the work makes it resumed', () => {
    const b = new SessionBuilder().start().open('c1', 'files', TOOLS).call('c1', 'create_issue', { title: 't' }, { isError: 'quota' }).end();
    const a = assembleSession(b.items());
    const failed = tools(b)[0]!;
    const s = summarizeSession(a, { writerAlive: false, completedLater: new Map([[failed.call_id, { session_id: 'later', call_id: 'c9:4', how: 'same_call' as const }]]) });
    assert.deepEqual(pick(s), ['failure', 'resumed']);
  });

  it('killed mid-call: interrupted, and the call in flight is undone work', () => {
    const b = new SessionBuilder().start().open('c1', 'files', TOOLS).call('c1', 'read_file', { path: '/a' }, { ok: 1 }).call('c1', 'write_file', { path: '/b', text: 'x' }, 'pending');
    assert.deepEqual(pick(report(b, false).summary), ['interrupted', 'abandoned']);
    // Killed between calls: interrupted, but nothing was lost.
    const idle = new SessionBuilder().start().open('c1', 'files', TOOLS).call('c1', 'read_file', { path: '/a' }, { ok: 1 });
    assert.deepEqual(pick(report(idle, false).summary), ['interrupted', 'none_needed']);
  });
});

function pick(s: SessionSummary): [string, string] {
  return [s.terminal_state, s.recovery_status];
}

/** A partial failure: effects of every kind before the break, a repaired failure, unrepaired ones, a redacted argument. */
function partialFailure(): SessionBuilder {
  const b = new SessionBuilder('sess-partial').start().open('c1', 'files', TOOLS);
  b.call('c1', 'read_file', { path: '/src/a.ts' }, { ok: 'contents' });
  b.call('c1', 'write_file', { path: '/src/b.ts', text: 'new' }, { ok: 'written' });
  b.call('c1', 'delete_file', { path: '/tmp/old' }, { ok: 'deleted' });
  b.call('c1', 'read_file', { path: '/src/c.ts' }, { error: -32603, message: 'EBUSY' });
  b.wait(2_000).call('c1', 'read_file', { path: '/src/c.ts' }, { ok: 'c' });
  b.call('c1', 'create_issue', { title: 'Deploy failed', body: 'see logs' }, { isError: 'GitHub API: 502 Bad Gateway' });
  b.call('c1', 'send_email', { to: 'ops@example.com', token: '[REDACTED:github_pat:a1b2c3]', cc: ['x', 'Bearer [REDACTED:bearer_token:0f0f0f]'] }, { timeout: true }, 30_000);
  b.call('c1', 'read_file', { path: '/src/d.ts' }, { timeout: true }, 30_000);
  b.call('c1', 'write_file', { path: '/src/e.ts', text: 'after' }, { ok: 'written' });
  return b.end();
}

describe('recovery plan: partial failure', () => {
  const { summary, plan } = report(partialFailure());

  it('says where it broke and what ran before, by reversibility', () => {
    assert.equal(summary.terminal_state, 'partial_success');
    assert.equal(summary.recovery_status, 'abandoned');
    assert.equal(plan.broke_at?.tool, 'create_issue');
    assert.equal(plan.broke_at?.reason, 'failed');
    const names = (l: Array<{ tool: string }>) => l.map((c) => c.tool);
    assert.deepEqual(names(plan.before_break.no_effect), ['read_file', 'read_file', 'read_file']);
    assert.deepEqual(names(plan.before_break.reversible), ['write_file']);
    assert.deepEqual(names(plan.before_break.permanent), ['delete_file']);
    assert.equal(plan.before_break.permanent[0]!.reversibility_source, 'annotation');
    assert.equal(plan.last_resume_point?.tool, 'read_file', 'the retry that repaired /src/c.ts is the last resume point before the break');
    assert.equal(plan.last_resume_point?.completed_tool_calls, 4);
    assert.deepEqual(names(plan.after_break), ['write_file']);
    assert.equal(plan.resume_points.length, 5, 'one resume point per successful tool call');
    assert.equal(plan.recovered_by_retry.length, 1);
  });

  it('lists the failed calls to resume, which are retry-safe, with exact arguments and redactions flagged', () => {
    assert.deepEqual(
      plan.resume.map((s) => [s.tool, s.error_class, s.retry_safe, s.reversibility]),
      [
        ['create_issue', 'tool_error', false, 'permanent'],
        ['send_email', 'timeout', false, 'permanent'],
        ['read_file', 'timeout', true, 'no_effect'],
      ],
    );
    const email = plan.resume[1]!;
    assert.deepEqual(email.arguments, { to: 'ops@example.com', token: '[REDACTED:github_pat:a1b2c3]', cc: ['x', 'Bearer [REDACTED:bearer_token:0f0f0f]'] }, 'markers are kept as markers');
    assert.deepEqual(email.redacted, ['$.token', '$.cc[1]']);
    assert.equal(email.reversibility_source, 'default', 'no annotations: permanent by the MCP default');
  });

  it('matches the golden summary, plan and their texts', () => {
    assertGolden('recovery/partial-summary.json', JSON.stringify(summary, null, 2) + '\n');
    assertGolden('recovery/partial-summary.txt', formatSummaryText(summary));
    assertGolden('recovery/partial-plan.json', JSON.stringify(plan, null, 2) + '\n');
    assertGolden('recovery/partial-plan.txt', formatPlanText(plan));
  });

  it('exports carry retry_of and the summary fields, valid against the schema', () => {
    const items = partialFailure().items();
    const doc = assertValidJsonExport(exportSessionToString(items)) as unknown as { session: SessionSummary; calls: Array<{ call_id: string; retry_of: string | null }> };
    const linked = doc.calls.filter((c) => c.retry_of !== null);
    assert.equal(linked.length, 1);
    assert.equal(doc.session.recovery_status, 'abandoned');
    // Not observed (no watcher, no cost model): null, never a claimed zero; API calls are counted from the calls themselves.
    const fxs = doc.session.side_effects_summary;
    assert.deepEqual([fxs.files_created, fxs.files_modified, fxs.files_deleted, fxs.spend_incurred_usd], [null, null, null, null]);
    assert.equal(typeof fxs.api_calls_made, 'number');
    assert.equal(doc.session.credentials_used, null);
    const lines = assertValidJsonlExport(exportSessionJsonlToString(items));
    const last = lines[lines.length - 1] as unknown as SessionSummary & { kind: string };
    assert.equal(last.kind, 'summary');
    assert.equal(last.recovery_status, 'abandoned');
    assert.equal(lines.filter((l) => l.kind === 'call' && l.retry_of !== null).length, 1);
  });
});

describe('recovery plan: interrupted session', () => {
  function interrupted(): SessionBuilder {
    const b = new SessionBuilder('sess-killed').start().open('c1', 'files', TOOLS);
    b.call('c1', 'read_file', { path: '/a' }, { ok: 'a' });
    b.call('c1', 'delete_file', { path: '/tmp/x' }, { ok: 'gone' });
    b.call('c1', 'send_email', { to: 'ops' }, 'pending');
    b.call('c1', 'read_file', { path: '/b' }, 'pending');
    return b;
  }

  it('names the call in flight and says whether it may be sent again', () => {
    const { summary, plan } = report(interrupted(), false);
    assert.equal(summary.terminal_state, 'interrupted');
    assert.equal(summary.pending_calls, 2);
    assert.equal(plan.broke_at?.tool, 'send_email');
    assert.equal(plan.broke_at?.reason, 'in_flight');
    assert.deepEqual(
      plan.resume.map((s) => [s.tool, s.reason, s.retry_safe]),
      [
        ['send_email', 'in_flight', false],
        ['read_file', 'in_flight', true],
      ],
    );
    assert.match(plan.resume[0]!.retry_note, /may have taken effect/);
    assert.deepEqual(plan.before_break.permanent.map((c) => c.tool), ['delete_file']);
    assert.equal(plan.last_resume_point?.tool, 'delete_file');
    assertGolden('recovery/interrupted-summary.json', JSON.stringify(summary, null, 2) + '\n');
    assertGolden('recovery/interrupted-plan.txt', formatPlanText(plan));
  });

  it('while the writer still runs the same calls are in progress, not work to redo', () => {
    const { summary, plan } = report(interrupted(), true);
    assert.deepEqual(pick(summary), ['in_progress', 'none_needed']);
    assert.deepEqual(plan.resume, []);
  });
});

describe('effectOf: reversibility and idempotency of each call, as the assembler tagged them', () => {
  const b = new SessionBuilder().start().open('c1', 'files', TOOLS);
  for (const t of TOOLS) b.call('c1', t.name, {}, { ok: 1 });
  b.call('c1', 'unlisted', {}, { ok: 1 });
  const a = assembleSession(b.items());
  const conn = a.connection('c1');

  it('derives the tags from the MCP annotations, with their source', () => {
    const got = [...a.calls.values()].map((c) => [c.tool, effectOf(c).reversibility.value, effectOf(c).reversibility.source, effectOf(c).idempotent]);
    assert.deepEqual(got, [
      ['initialize', 'no_effect', 'default', true],
      ['tools/list', 'no_effect', 'default', true],
      ['read_file', 'no_effect', 'annotation', true],
      ['write_file', 'reversible', 'annotation', true],
      ['delete_file', 'permanent', 'annotation', true],
      // Not destructive, but reaching the open world (the spec's default): permanent (reversibility.ts).
      ['create_issue', 'permanent', 'default', false],
      ['send_email', 'permanent', 'default', false],
      ['unlisted', 'permanent', 'default', false],
    ]);
  });

  it('takes the tags a call carries (a policy override) as they are', () => {
    const c: Call = { ...[...a.calls.values()][6]!, reversibility: 'reversible', reversibility_source: 'override', idempotent: true };
    assert.deepEqual(effectOf(c), { reversibility: { value: 'reversible', source: 'override' }, idempotent: true });
  });
});

describe('formatPlanText', () => {
  it('escapes terminal controls and bidi overrides in server strings', () => {
    const b = new SessionBuilder().start().open('c1', 'evil\u001b[2J', [{ name: 'rm\u202Efdp.exe' }]);
    b.call('c1', 'rm\u202Efdp.exe', { x: '\u001b]0;pwn\u0007' }, { isError: 'bad\u001b[31m' }).end();
    const text = formatPlanText(report(b).plan);
    assert.ok(!/[\u001b\u0007\u202e]/.test(text), text);
    assert.match(text, /evil\\u\{1b\}\[2J\/rm\\u\{202e\}fdp\.exe/);
    assert.match(text, /error: bad\\u\{1b\}\[31m/);
  });
});

describe('redactedPaths', () => {
  it('finds markers anywhere, and quotes keys that are not identifiers', () => {
    assert.deepEqual(redactedPaths({ a: { 'x-api-key': '[REDACTED:api_key:abcdef]' }, list: [1, 'ok', '[REDACTED:jwt:123456] tail'], plain: '[REDACTED]' }), ['$.a["x-api-key"]', '$.list[2]']);
  });
});

describe('an exported session keeps its plan', () => {
  it('the read-only timeline rebuilds the same summary and plan from an export (JSON and JSONL)', () => {
    const items = partialFailure().items();
    const { summary, plan } = report(partialFailure());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-plan-export-'));
    try {
      for (const [name, text] of [['s.json', exportSessionToString(items)], ['s.jsonl', exportSessionJsonlToString(items)]] as const) {
        const file = path.join(dir, name);
        fs.writeFileSync(file, text);
        const got = new ExportedTimelineSource(file).report('sess-partial');
        assert.ok(got, name);
        assert.equal(got.summary.recovery_status, 'abandoned');
        assert.deepEqual(got.plan, plan, `${name}: the same plan as from the journal`);
        assert.deepEqual(overviewOf(got.summary, got.plan), overviewOf(summary, plan));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
