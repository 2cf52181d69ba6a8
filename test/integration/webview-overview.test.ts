/**
 * The session overview in the timeline webview, in real headless Chromium under the strict CSP
 * (test/webview/harness.ts). The overview the fake host answers with is what the extension host
 * sends: overviewOf() over a real summary and recovery plan assembled from journal records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assembleSession } from '../../src/core/analysis/calls';
import { buildRecoveryPlan } from '../../src/core/analysis/recovery';
import { summarizeSession } from '../../src/core/analysis/summary';
import { overviewOf, rowOf } from '../../src/extension/views/timeline-data';
import type { CallRow, FromWebview, SessionOverview, ToWebview } from '../../src/shared/protocol';
import { fullDetail, HOSTILE } from '../webview/fixtures';
import { startHarness, type Harness, type WebviewPage } from '../webview/harness';
import { SessionBuilder } from '../helpers/session-builder';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

const SID = 'sess-overview';

/** A partial failure whose server, tools, errors and arguments are hostile strings. */
function hostileSession(): { overview: SessionOverview; rows: CallRow[] } {
  const server = `${HOSTILE.img}srv`;
  const b = new SessionBuilder(SID, '2026-11-25T10:00:00.000Z').start().open('c1', server, [
    { name: HOSTILE.script, annotations: { readOnlyHint: true } },
    { name: HOSTILE.bidi, annotations: { destructiveHint: true } },
    { name: HOSTILE.ansi },
  ]);
  b.call('c1', HOSTILE.bidi, { path: '/tmp/x' }, { ok: 'gone' });
  b.call('c1', HOSTILE.script, { q: HOSTILE.js }, { error: -32603, message: HOSTILE.iframe });
  b.wait(1000).call('c1', HOSTILE.script, { q: HOSTILE.js }, { ok: 'found' });
  b.call('c1', HOSTILE.ansi, { to: HOSTILE.svgInline, token: '[REDACTED:github_pat:a1b2c3]' }, { isError: HOSTILE.style + HOSTILE.bidi });
  b.call('c1', HOSTILE.script, { q: HOSTILE.zw }, { timeout: true }, 30_000);
  b.end();
  const a = assembleSession(b.items());
  const summary = summarizeSession(a, { writerAlive: false });
  const plan = buildRecoveryPlan(a, summary);
  const rows = [...a.calls.values()].map((c) => rowOf({ ...c, server: c.server.name, server_version: c.server.version, progress_count: 0, log_count: 0, cancelled: false, answered_by_recorder: false } as never, 0));
  return { overview: overviewOf(summary, plan), rows };
}

async function open(rows: CallRow[], overview: SessionOverview, readOnly = false, axe = false): Promise<WebviewPage> {
  const p = await h.open({ axe });
  await p.page.evaluate((o: unknown) => {
    (globalThis as unknown as { __overviews: Record<string, unknown> }).__overviews[(o as { session_id: string }).session_id] = o;
  }, overview);
  const init: ToWebview = { type: 'init', readOnly, title: 'Overview test', sessions: [{ session_id: SID, started_at: '2026-11-25T10:00:00.000Z', ended_at: '2026-11-25T10:01:00.000Z', label: 'test', tool_calls: overview.tool_calls, failed_calls: overview.failed_calls, terminal_state: overview.terminal_state }], calls: rows, follow: false };
  await p.post(init);
  await p.until('document.body.dataset.ready === "true"');
  await p.until('!!document.querySelector(".overview .state-badge")');
  return p;
}

async function posted(p: WebviewPage, type: FromWebview['type']): Promise<FromWebview[]> {
  return (await p.posted()).filter((m) => m.type === type);
}

describe('session overview in the timeline webview', () => {
  test('shows state, recovery, counts and the plan; renders hostile strings as inert text', async () => {
    const { overview, rows } = hostileSession();
    assert.equal(overview.terminal_state, 'partial_success');
    assert.equal(overview.recovery_status, 'abandoned');
    const p = await open(rows, overview);
    const asked = (await posted(p, 'requestOverview')) as Array<Extract<FromWebview, { type: 'requestOverview' }>>;
    assert.equal(asked[0]?.session_id, SID, 'the newest session is asked for at init');

    const line = await p.eval<string>('document.querySelector(".overview-summary").textContent');
    assert.match(line, /^Partial success Session sess-overvie… · abandoned: work left undone · 5 tool calls: 2 ok, 3 failed, 0 cancelled, 0 pending · 1 agent retry \(1 repaired\) · 31\.1 s$/);
    await p.page.click('.overview-summary');
    await p.frames(2);
    const text = await p.eval<string>('document.querySelector(".overview").textContent');
    for (const s of [HOSTILE.img, HOSTILE.script, HOSTILE.style]) assert.ok(text.includes(s), `shown literally: ${s}`);
    assert.ok(text.includes('safe_tool⟪U+202E⟫exe.txt'), 'bidi override shown as a code point');
    assert.ok(text.includes('␛[31mRED␛[0m'), 'ANSI ESC shown as ␛');
    assert.ok(!/[\u001b\u202e\u200b]/.test(text), 'no raw control or bidi characters');
    assert.match(text, /Before the break: 1 permanent, 0 reversible, 2 without effect\./);
    assert.match(text, /Credentialsnot attributed/);
    assert.match(text, /Filesnot observed/);
    assert.match(text, /Spendnot metered/);
    assert.match(text, /redacted, supply again: \$\.token/);
    assert.equal(await p.eval('document.querySelectorAll(".plan-step").length'), 2);
    assert.equal(await p.eval('document.querySelectorAll(".plan-step.safe").length'), 1, 'the read-only timeout is retry-safe, the isError on an unannotated tool is not');
    assert.equal(await p.eval('window.__pwned'), undefined, 'nothing ran');
    assert.equal(await p.eval<number>('document.querySelectorAll("script, iframe, object, embed, a, svg, style, img").length'), 2, 'our two scripts only');
    assert.deepEqual(await p.eval('window.__cspViolations'), []);
    assert.deepEqual(p.errors, []);
    await p.screenshot('webview-overview.png');
    await p.close();
  });

  test('its actions post Replay, Show Recovery Plan and select the call; read-only disables Replay', async () => {
    const { overview, rows } = hostileSession();
    const p = await open(rows, overview);
    await p.page.click('.overview-summary');
    await p.frames(2);
    const step = overview.plan!.resume[1]!;
    await p.page.click(`.plan-step[data-call="${step.call_id}"] [data-action=replay-step]`);
    await p.page.click('[data-action=show-plan]');
    await p.page.click(`.plan-step[data-call="${step.call_id}"] .link-btn`);
    await p.until('!!document.querySelector(".detail:not([hidden])")');
    assert.deepEqual(await posted(p, 'replay'), [{ type: 'replay', session_id: SID, call_id: step.call_id }]);
    assert.deepEqual(await posted(p, 'showPlan'), [{ type: 'showPlan', session_id: SID }]);
    const details = (await posted(p, 'requestDetail')) as Array<Extract<FromWebview, { type: 'requestDetail' }>>;
    assert.equal(details[details.length - 1]?.call_id, step.call_id, 'the link opened that call');
    await p.close();

    const ro = await open(rows, overview, true);
    await ro.page.click('.overview-summary');
    await ro.frames(2);
    assert.equal(await ro.eval('document.querySelector("[data-action=replay-step]").disabled'), true);
    await ro.close();
  });

  test('accessibility: axe finds no serious or critical violations in the expanded overview', async () => {
    const { overview, rows } = hostileSession();
    const p = await open(rows, overview, false, true);
    await p.page.click('.overview-summary');
    await p.frames(2);
    const res = await p.eval<Array<{ id: string; impact: string; nodes: string[] }>>(`axe.run(document.querySelector('.overview'), { resultTypes: ['violations'] }).then(function (r) {
      return r.violations.map(function (v) { return { id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(function (n) { return n.target.join(' ') + ' :: ' + n.failureSummary; }) }; });
    })`);
    assert.deepEqual(res.filter((v) => v.impact === 'serious' || v.impact === 'critical'), []);
    await p.close();
  });

  test('an agent retry shows which failed call it repeats, and links to it', async () => {
    const { overview, rows } = hostileSession();
    const retry = rows.find((r) => r.retry_of)!;
    assert.ok(retry, 'the retry row carries retry_of');
    const p = await open(rows, overview);
    await p.page.evaluate((d: unknown) => {
      const w = globalThis as unknown as { __details: Record<string, unknown> };
      const r = (d as { row: CallRow }).row;
      w.__details[`${r.session_id}/${r.call_id}`] = d;
    }, fullDetail(retry));
    await p.post({ type: 'reveal', session_id: SID, call_id: retry.call_id });
    await p.until('!!document.querySelector(".detail [data-retry-of]")');
    const chip = await p.eval<string>('document.querySelector(".detail [data-retry-of]").textContent');
    assert.match(chip, new RegExp(`agent retry of ${retry.retry_of}`));
    await p.eval('document.querySelectorAll(".detail details").forEach(function (d) { d.open = true; })');
    await p.page.click('.detail [data-action=show-call]');
    await p.until(`(function () { var m = window.__posted.filter(function (x) { return x.type === "requestDetail"; }); return m.length && m[m.length - 1].call_id === ${JSON.stringify(retry.retry_of)}; })()`);
    await p.close();
  });
});
