/**
 * The timeline webview in real headless Chromium, under the product's strict CSP, talking to a
 * fake host through the real postMessage channel (see test/webview/harness.ts).
 *
 * Screenshots and performance numbers go to .test-artifacts/ (webview-*.png, webview-perf.json);
 * timings are recorded, not asserted — only structural properties (DOM rows) are.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildSync } from 'esbuild';
import type { CallDetail, CallRow, FromWebview, ToWebview } from '../../src/shared/protocol';
import { fullDetail, GEN_CALLS_SOURCE, HOSTILE, hostileCalls, hostileDetail, PNG_1x1, row, sampleCalls, SESSION, SVG_HOSTILE, T0 } from '../webview/fixtures';
import { ARTIFACTS, ROOT, startHarness, type Harness, type WebviewPage } from '../webview/harness';
import '../webview/units';

let h: Harness;

/** src/shared/call-columns.ts for the page, as `window.__cols`: the page plays the host's part. */
const COLUMNS_SOURCE = buildSync({ entryPoints: [path.join(ROOT, 'src/shared/call-columns.ts')], bundle: true, format: 'iife', globalName: '__cols', write: false, target: 'es2022' }).outputFiles[0]!.text + '\nwindow.__cols = __cols;';

before(async () => {
  h = await startHarness();
});

after(async () => {
  await h?.close();
});

function init(calls: CallRow[], extra: Partial<Extract<ToWebview, { type: 'init' }>> = {}): ToWebview {
  return { type: 'init', readOnly: false, title: 'Test recording', sessions: [{ session_id: SESSION, started_at: new Date(T0).toISOString(), label: 'test', tool_calls: calls.length, failed_calls: 0 }], calls, follow: false, ...extra };
}

async function openWith(calls: CallRow[], opts: { axe?: boolean; follow?: boolean; readOnly?: boolean } = {}): Promise<WebviewPage> {
  const p = await h.open({ axe: opts.axe });
  await p.post(init(calls, { follow: opts.follow ?? false, readOnly: opts.readOnly ?? false }));
  await p.until('document.body.dataset.ready === "true"');
  await p.frames(2);
  return p;
}

async function setDetails(p: WebviewPage, details: CallDetail[]): Promise<void> {
  await p.page.evaluate((list: unknown) => {
    const w = globalThis as unknown as { __details: Record<string, unknown> };
    for (const d of list as Array<{ row: { session_id: string; call_id: string } }>) w.__details[`${d.row.session_id}/${d.row.call_id}`] = d;
  }, details);
}

async function posted(p: WebviewPage, type: FromWebview['type']): Promise<FromWebview[]> {
  return (await p.posted()).filter((m) => m.type === type);
}

/** Text of the whole page, as a user would read it. */
function pageText(p: WebviewPage): Promise<string> {
  return p.eval<string>('document.body.textContent');
}

function count(p: WebviewPage, selector: string): Promise<number> {
  return p.eval<number>(`document.querySelectorAll(${JSON.stringify(selector)}).length`);
}

async function noErrors(p: WebviewPage): Promise<void> {
  assert.deepEqual(p.errors, [], 'no page errors');
  assert.deepEqual(await p.eval('window.__cspViolations'), [], 'no CSP violations');
}

/** Two servers, calls far enough apart to be drawn one bar each. */
function twoServers(t0 = T0): CallRow[] {
  return [
    row({ call_id: 'a1', server: 'alpha', tool: 'read_file', start_ms: t0, duration_ms: 800 }),
    row({ call_id: 'b1', server: 'beta', tool: 'search', start_ms: t0 + 1000, duration_ms: 1500, outcome: 'error', error_class: 'tool_error', error_message: 'index missing', input_summary: '{"q":"x"}' }),
    row({ call_id: 'a2', server: 'alpha', tool: 'write_file', start_ms: t0 + 3000, duration_ms: 900, input_summary: '{"path":"notes/todo.md"}' }),
    row({ call_id: 'b2', server: 'beta', tool: 'fetch', start_ms: t0 + 4500, duration_ms: 1200, outcome: 'timeout', error_class: 'timeout', error_message: 'timed out', input_summary: '{"url":"https://example.com"}' }),
    row({ call_id: 'a3', server: 'alpha', tool: 'read_file', start_ms: t0 + 6500, duration_ms: 700, alerts: 1 }),
    row({ call_id: 'b3', server: 'beta', tool: 'search', start_ms: t0 + 8000, duration_ms: 1000, outcome: 'cancelled', input_summary: '{"q":"y"}' }),
  ];
}

describe('webview bundle (static)', () => {
  test('dist/webview.js uses no HTML sinks, eval, node or vscode', () => {
    const src = fs.readFileSync(path.join(ROOT, 'dist', 'webview.js'), 'utf8');
    for (const [what, re] of [
      ['innerHTML / outerHTML', /\b(?:inner|outer)HTML\b/],
      ['insertAdjacentHTML', /insertAdjacentHTML/],
      ['document.write', /document\.write/],
      ['eval / Function', /\beval\(|new Function\(/],
      ['string timers', /set(?:Timeout|Interval)\(\s*["'`]/],
      ['require / node built-ins', /\brequire\(|["']node:/],
      ['vscode module', /["']vscode["']/],
      ['style attribute', /setAttribute\(\s*["']style/],
      ['href / srcdoc', /\.href\s*=|srcdoc/],
    ] as const) {
      assert.doesNotMatch(src, re, `the bundle must not use ${what}`);
    }
  });
});

describe('timeline webview in Chromium', () => {
  test('posts ready, then renders a lane per server and a bar per call; streams upserts', async () => {
    const p = await h.open();
    assert.deepEqual((await p.posted())[0], { type: 'ready' });
    const now = await p.eval<number>('Date.now()');
    await p.post(init(twoServers(now - 12_000)));
    await p.until('document.body.dataset.ready === "true"');
    await p.frames(2);
    assert.equal(await count(p, '.lane[role=group]'), 2);
    const lanes = await p.eval<string[]>('Array.from(document.querySelectorAll(".lane[role=group]")).map(function (l) { return l.getAttribute("aria-label"); })');
    assert.match(lanes[0]!, /^alpha: 3 calls/);
    assert.match(lanes[1]!, /^beta: 3 calls · 2 failed/);
    assert.equal(await count(p, '.bar[role=option]'), 6);
    assert.equal(await count(p, '.lane:nth-child(2) .bar.o-error'), 1);
    assert.equal(await count(p, '.bar.o-timeout'), 1);
    // Wider calls are wider bars.
    const widths = await p.eval<Record<string, number>>('(function () { var o = {}; document.querySelectorAll(".bar[role=option]").forEach(function (b) { o[b.id] = b.getBoundingClientRect().width; }); return o; })()');
    const w = (i: number): number => widths[`tb-${i}`]!;
    assert.ok(w(1) > w(0) * 1.5, `1500 ms bar (${w(1)}px) is wider than the 800 ms one (${w(0)}px)`);

    // Streaming: a new pending call grows until it is answered.
    await p.post({ type: 'calls', calls: [row({ call_id: 'a4', server: 'alpha', tool: 'slow_op', start_ms: now - 2000, duration_ms: undefined, outcome: 'pending' })] });
    await p.page.click('button:has-text("Fit")');
    await p.until('document.querySelectorAll(".bar.o-pending").length === 1');
    const w1 = await p.eval<number>('document.querySelector(".bar.o-pending").getBoundingClientRect().width');
    await new Promise((r) => setTimeout(r, 700));
    await p.frames(2);
    const w2 = await p.eval<number>('document.querySelector(".bar.o-pending").getBoundingClientRect().width');
    assert.ok(w2 > w1, `a pending bar grows (${w1}px → ${w2}px)`);
    await p.post({ type: 'calls', calls: [row({ call_id: 'a4', server: 'alpha', tool: 'slow_op', start_ms: now - 2000, duration_ms: 2500, outcome: 'success' })] });
    await p.until('document.querySelectorAll(".bar.o-pending").length === 0');
    assert.equal(await count(p, '.bar[role=option]'), 7, 'an upsert replaces, it does not add');
    assert.match(await p.eval<string>('document.querySelector(".counts").textContent'), /7 calls · ✕ 2 failed/);
    await noErrors(p);
    await p.close();
  });

  test('filters by server, tool, outcome and free text change the visible rows', async () => {
    const p = await openWith(twoServers());
    await p.page.click('button:has-text("List")');
    await p.frames(2);
    const rows = (): Promise<number> => count(p, '.lbody [role=row]');
    assert.equal(await rows(), 6);
    await p.page.selectOption('select[aria-label="Filter by server"]', 'beta');
    await p.frames(2);
    assert.equal(await rows(), 3);
    await p.page.selectOption('select[aria-label="Filter by tool"]', 'search');
    await p.frames(2);
    assert.equal(await rows(), 2);
    await p.page.click('button:has-text("Clear")');
    await p.frames(2);
    assert.equal(await rows(), 6);
    await p.page.click('.outcomes button:has-text("error")');
    await p.page.click('.outcomes button:has-text("timeout")');
    await p.frames(2);
    assert.equal(await rows(), 2);
    assert.equal(await p.eval('document.querySelector(".outcomes .o-error").getAttribute("aria-pressed")'), 'true');
    await p.page.click('button:has-text("Clear")');
    // Free text: tool, server, input summary and error message.
    for (const [q, n] of [['todo.md', 1], ['index missing', 1], ['ALPHA', 3], ['read_file', 2], ['zzz', 0]] as const) {
      await p.page.fill('input[type=search]', q);
      await p.page.keyboard.press('Enter');
      await p.frames(2);
      assert.equal(await rows(), n, `text "${q}"`);
    }
    assert.match(await p.eval<string>('document.querySelector(".list-view .empty").textContent'), /No calls match/);
    await p.page.keyboard.press('Escape');
    await p.frames(2);
    assert.equal(await rows(), 6, 'Escape in the search box clears it');
    // The timeline hides lanes of servers filtered out.
    await p.page.click('button:has-text("Timeline")');
    await p.page.selectOption('select[aria-label="Filter by server"]', 'alpha');
    await p.frames(2);
    assert.equal(await count(p, '.lane[role=group]'), 1);
    assert.equal(await count(p, '.bar[role=option]'), 3);
    await noErrors(p);
    await p.close();
  });

  test('keyboard: arrows, j/k, Home/End, n, /, f, v, Enter opens the detail; Esc closes it', async () => {
    const calls = twoServers();
    const p = await openWith(calls);
    await setDetails(p, calls.map((c) => fullDetail(c)));
    const active = (): Promise<string | null> => p.eval<string | null>('document.querySelector(".tl-lanes").getAttribute("aria-activedescendant")');
    const live = (): Promise<string> => p.eval<string>('document.querySelector("[role=status][aria-live]").textContent');
    await p.page.focus('.tl-lanes');
    await p.page.keyboard.press('Home');
    await p.frames(2);
    assert.equal(await active(), 'tb-0');
    assert.match(await live(), /Selected read_file on alpha: success/);
    await p.page.keyboard.press('ArrowDown');
    await p.page.keyboard.press('j');
    await p.frames(2);
    assert.equal(await active(), 'tb-2', 'down and j move forward in time');
    await p.page.keyboard.press('k');
    await p.frames(2);
    assert.equal(await active(), 'tb-1');
    await p.page.keyboard.press('End');
    await p.frames(2);
    assert.equal(await active(), 'tb-5');
    await p.page.keyboard.press('n');
    await p.frames(2);
    assert.equal(await active(), 'tb-1', 'n wraps to the first failure');
    assert.match(await live(), /Wrapped around/);
    await p.page.keyboard.press('n');
    await p.frames(2);
    assert.equal(await active(), 'tb-3', 'n: the next failure (a timeout)');
    // Zoom and pan by keyboard change the window.
    const span0 = await p.eval<string>('document.querySelector(".tick").textContent');
    await p.page.keyboard.press('+');
    await p.page.keyboard.press('+');
    await p.page.keyboard.press('ArrowLeft');
    await p.frames(2);
    assert.notEqual(await p.eval<string>('document.querySelector(".tick").textContent'), span0);

    await p.page.keyboard.press('Enter');
    await p.until('!!document.querySelector(".detail:not([hidden]) .error-box")');
    const req = (await posted(p, 'requestDetail')).at(-1) as Extract<FromWebview, { type: 'requestDetail' }>;
    assert.equal(req.call_id, 'b2');
    assert.equal(req.session_id, SESSION);
    assert.equal(typeof req.requestId, 'number');

    assert.equal(await p.eval('document.activeElement.className'), 'tl-lanes', 'focus stays in the timeline');
    await p.page.keyboard.press('f');
    assert.equal(await p.eval('document.querySelector("button.follow").getAttribute("aria-pressed")'), 'true');
    await p.page.keyboard.press('f');
    assert.equal(await p.eval('document.querySelector("button.follow").getAttribute("aria-pressed")'), 'false');
    await p.page.keyboard.press('/');
    assert.equal(await p.eval('document.activeElement.getAttribute("type")'), 'search');
    await p.page.keyboard.press('Escape');
    await p.page.keyboard.press('Escape');
    await p.frames(1);
    assert.equal(await p.eval('document.querySelector(".detail").hidden'), true, 'Esc closes the detail');

    // The list view: same selection, grid semantics, keys.
    await p.page.keyboard.press('v');
    await p.frames(3);
    assert.equal(await p.eval('document.activeElement.getAttribute("role")'), 'grid');
    assert.equal(await p.eval('document.querySelector(".grid").getAttribute("aria-activedescendant")'), 'lr-3');
    assert.equal(await p.eval('document.querySelector("#lr-3").getAttribute("aria-selected")'), 'true');
    await p.page.keyboard.press('ArrowUp');
    await p.frames(2);
    assert.equal(await p.eval('document.querySelector(".grid").getAttribute("aria-activedescendant")'), 'lr-2');
    await p.page.keyboard.press('Enter');
    await p.until('document.querySelector(".detail-title") && document.querySelector(".detail-title").textContent.indexOf("write_file") >= 0 && !document.querySelector(".detail-body[aria-busy]")');
    await noErrors(p);
    await p.close();
  });

  test('detail pane: arguments tree, error classification, progress, logs, nested and raw messages; actions post', async () => {
    const calls = twoServers();
    const p = await openWith(calls);
    const failed = calls[1]!;
    await setDetails(p, [fullDetail(failed)]);
    await p.page.click('#tb-1');
    await p.until('!!document.querySelector(".detail .error-box")');
    const text = await p.eval<string>('document.querySelector(".detail").textContent');
    for (const s of ['Error: tool_error', 'Class', 'tool_error', 'Code', '-32602', 'Recoverable', 'yes', 'Recovery action', 'fix_arguments', 'Retry safe', 'no', 'index missing',
      'Started', 'Duration', '1.50 s', 'Request id', '42', 'Progress (2)', '1 / 4', 'opening file', 'Log messages (2)', 'permission check failed', 'Nested calls (1)', 'sampling/createMessage', 'Raw JSON-RPC messages (2)', 'tools/call']) {
      assert.ok(text.includes(s), `detail shows "${s}"`);
    }
    // The arguments are a collapsible tree: root open, children lazily built on expand.
    const tree = '.detail [role=tree][aria-label="Arguments"]';
    assert.equal(await p.eval(`document.querySelector('${tree} > [role=treeitem]').getAttribute('aria-expanded')`), 'true');
    assert.equal(await count(p, `${tree} [role=treeitem][aria-level="3"]`), 0, 'nested entries are not built before expanding');
    await p.page.click(`${tree} [role=treeitem][aria-level="2"]:nth-child(3) > .jt-row`);
    assert.equal(await count(p, `${tree} [role=treeitem][aria-level="3"]`), 101, 'a 250-item array shows 100 entries and a "show more" item');
    assert.match(await p.eval<string>(`document.querySelector('${tree} .jt-more').textContent`), /Show 100 more \(100 of 250 shown\)/);
    await p.page.click(`${tree} .jt-more > .jt-row`);
    assert.equal(await count(p, `${tree} [role=treeitem][aria-level="3"]`), 201);
    // Keyboard in the tree: ← collapses, → expands.
    await p.page.focus(`${tree} > [role=treeitem]`);
    await p.page.keyboard.press('ArrowLeft');
    assert.equal(await p.eval(`document.querySelector('${tree} > [role=treeitem]').getAttribute('aria-expanded')`), 'false');
    await p.page.keyboard.press('ArrowRight');
    assert.equal(await p.eval(`document.querySelector('${tree} > [role=treeitem]').getAttribute('aria-expanded')`), 'true');
    // Raw messages are laid out when opened.
    await p.page.click('.detail details[data-section=raw] > summary');
    await p.page.click('.detail details.raw > summary');
    await p.until('!!document.querySelector(".detail pre.raw-text")');
    assert.match(await p.eval<string>('document.querySelector(".detail pre.raw-text").textContent'), /"method": "tools\/call"/);

    await p.page.click('.detail-actions button:has-text("Open Inputs")');
    await p.page.click('.detail-actions button:has-text("Replay")');
    await p.page.click('.detail-actions button:has-text("Copy as JSON")');
    const id = { session_id: SESSION, call_id: 'b1' };
    const sent = (await p.posted()).filter((m) => ['openInputs', 'replay', 'copyJson'].includes(m.type));
    assert.deepEqual(sent, [{ type: 'openInputs', ...id }, { type: 'replay', ...id }, { type: 'copyJson', ...id }]);

    // A stale detail answer (an old requestId) is ignored.
    await p.post({ type: 'detail', requestId: -5, detail: fullDetail(calls[0]!) });
    await p.frames(1);
    assert.match(await p.eval<string>('document.querySelector(".detail-title").textContent'), /search/);
    await noErrors(p);
    await p.close();
  });

  test('detail pane: side effects with their attribution, and the credential set', async () => {
    const calls = twoServers();
    const p = await openWith(calls);
    const write = calls[2]!;
    const ts = new Date(T0 + 3100).toISOString();
    await setDetails(p, [
      fullDetail(write, {
        side_effects: [
          { kind: 'file_created', path: '/ws/notes/todo.md', attribution: 'named_in_arguments', in_flight: ['a2'], ts },
          { kind: 'file_modified', path: '/ws/build/out.js', attribution: 'observed_during', in_flight: ['a2', 'b2'], ts },
          { kind: 'declared', name: 'issue_created', attribution: 'declared', in_flight: [], ts },
        ],
        side_effects_omitted: 2,
        credentials: { set_id: 'c1/1', mode: 'env', names: ['GITHUB_TOKEN'], fingerprints: ['3397cd'] },
      }),
    ]);
    await p.page.click('#tb-2');
    await p.until('!!document.querySelector(".detail [data-section=effects]")');
    const effects = await p.eval<string[]>('Array.from(document.querySelectorAll(".detail ul.effects > li")).map(function (li) { return li.textContent; })');
    assert.equal(effects.length, 4);
    assert.match(effects[0]!, /^created \/ws\/notes\/todo\.md named in the arguments · /);
    assert.match(effects[1]!, /^modified \/ws\/build\/out\.js observed while in flight · with 1 other call in flight: b2 · /);
    assert.match(effects[2]!, /^declared issue_created declared in the policy/);
    assert.match(effects[3]!, /2 more not kept/);
    assert.match(await p.eval<string>('document.querySelector(".detail [data-section=effects] > summary").textContent'), /Side effects \(5\)/);
    await p.page.click('.detail details[data-section=credentials] > summary');
    const creds = await p.eval<string>('document.querySelector(".detail [data-section=credentials]").textContent');
    for (const s of ['Mode', 'env', 'c1/1', 'GITHUB_TOKEN', 'fingerprint 3397cd']) assert.ok(creds.includes(s), `credentials show "${s}"`);
    await noErrors(p);
    await p.close();
  });

  test('read-only recordings disable Replay; an unknown call shows the host error', async () => {
    const calls = twoServers();
    const p = await openWith(calls, { readOnly: true });
    await p.page.click('#tb-0');
    await p.until('!!document.querySelector(".detail .notice-error")');
    assert.match(await p.eval<string>('document.querySelector(".detail .notice-error").textContent'), /Could not load this call: not found/);
    assert.equal(await p.eval('document.querySelector(".detail-actions button:nth-child(2)").disabled'), true);
    await p.close();
  });

  test('truncated and opaque payloads say so, with their size and "Open full"', async () => {
    const calls = twoServers();
    const p = await openWith(calls);
    await setDetails(p, [fullDetail(calls[0]!, {
      input: { kind: 'truncated', preview: '{"data":"' + 'x'.repeat(2000), size: 1_572_864 },
      output: { kind: 'opaque', reason: 'nesting deeper than 64 levels', size: 9_000_000 },
    })]);
    await p.page.click('#tb-0');
    await p.until('!!document.querySelector(".detail .payload-cut")');
    const cut = await p.eval<string>('document.querySelector(".detail .payload-cut").textContent');
    assert.match(cut, /Truncated: 1\.5 MB in full/);
    assert.match(cut, /… \(cut\)/);
    assert.match(await p.eval<string>('document.querySelector(".detail [data-section=result]").textContent'), /Opaque payload \(nesting deeper than 64 levels\), 8\.6 MB/);
    await p.page.click('.detail [data-section=args] button[data-action=open-full]');
    await p.page.click('.detail [data-section=result] button[data-action=open-full]');
    const full = await posted(p, 'openFull');
    assert.deepEqual(full, [{ type: 'openFull', session_id: SESSION, call_id: 'a1', part: 'input' }, { type: 'openFull', session_id: SESSION, call_id: 'a1', part: 'output' }]);
    await noErrors(p);
    await p.close();
  });

  test('images: PNG through a blob: URL (revoked on change); SVG and others are listed, not shown', async () => {
    const calls = twoServers();
    const p = await openWith(calls);
    await setDetails(p, [
      fullDetail(calls[0]!, { images: [{ mimeType: 'image/png', data: PNG_1x1 }, { mimeType: 'image/svg+xml', data: SVG_HOSTILE }, { mimeType: 'image/jpeg', data: PNG_1x1 }] }),
      fullDetail(calls[2]!),
    ]);
    await p.page.click('#tb-0');
    await p.until('!!document.querySelector(".detail figure.image img")');
    await p.until('document.querySelector(".detail figure.image img").complete');
    const imgs = await p.eval<Array<{ src: string; w: number; alt: string }>>('Array.from(document.images).map(function (i) { return { src: i.src, w: i.naturalWidth, alt: i.alt }; })');
    assert.equal(imgs.length, 1);
    assert.match(imgs[0]!.src, /^blob:http:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(imgs[0]!.w, 1, 'the PNG decoded');
    assert.match(imgs[0]!.alt, /image\/png/);
    const text = await p.eval<string>('document.querySelector(".detail [data-section=images]").textContent');
    assert.match(text, /Image 2: not displayed \(image\/svg\+xml\)/);
    assert.match(text, /Image 3: not displayed \(image\/jpeg: content is not a valid image\/jpeg\)/);
    // Another call: the old blob: URL no longer loads.
    const old = imgs[0]!.src;
    await p.page.click('#tb-2');
    await p.until('document.querySelector(".detail-title").textContent.indexOf("write_file") >= 0 && !document.querySelector(".detail-body[aria-busy]")');
    await noErrors(p);
    const loads = await p.eval<boolean>(`new Promise(function (r) { var i = new Image(); i.onload = function () { r(true); }; i.onerror = function () { r(false); }; i.src = ${JSON.stringify(old)}; })`);
    assert.equal(loads, false, 'the blob: URL was revoked');
    await p.close();
  });

  test('hostile strings render as inert, visible text', async () => {
    const calls = hostileCalls();
    const p = await h.open();
    await p.post(init(calls, { title: HOSTILE.script + HOSTILE.bidi }));
    await p.until('document.body.dataset.ready === "true"');
    await setDetails(p, calls.map(hostileDetail));
    await p.page.click('#tb-1');
    await p.until('!!document.querySelector(".detail .error-box")');
    // Open every section, raw message and tree node so everything is in the DOM.
    await p.eval(`(function () {
      document.querySelectorAll('.detail details').forEach(function (d) { d.open = true; });
      for (var k = 0; k < 10; k++) document.querySelectorAll('.detail [role=treeitem][aria-expanded=false] > .jt-row').forEach(function (r) { r.click(); });
    })()`);
    await p.frames(2);
    await p.page.keyboard.press('v');
    await p.frames(3);

    assert.equal(await p.eval('window.__pwned'), undefined, 'nothing ran');
    // Our two scripts only (the fake host and the bundle); images only our blob: PNG.
    const scripts = await p.eval<string[]>('Array.from(document.scripts).map(function (s) { return s.src ? new URL(s.src).pathname : "inline"; })');
    assert.deepEqual(scripts, ['inline', '/dist/webview.js']);
    const imgs = await p.eval<string[]>('Array.from(document.images).map(function (i) { return i.src; })');
    assert.equal(imgs.length, 1);
    assert.ok(imgs[0]!.startsWith('blob:'));
    assert.equal(await count(p, 'iframe, object, embed, a, svg, style, form, base, meta[http-equiv]'), 0);
    assert.equal(await count(p, 'link'), 2);
    const badAttrs = await p.eval<string[]>(`(function () {
      var out = [];
      document.querySelectorAll('*').forEach(function (el) {
        for (var a of el.attributes) {
          if (/^on/i.test(a.name) || a.name === 'href' && el.tagName !== 'LINK' || a.name === 'srcdoc' || /javascript:/i.test(a.value) && a.name !== 'title' && a.name !== 'aria-label' && a.name !== 'value') out.push(el.tagName + ' ' + a.name + '=' + a.value);
        }
      });
      return out;
    })()`);
    assert.deepEqual(badAttrs, []);

    const text = await pageText(p);
    for (const s of [HOSTILE.script, HOSTILE.img, HOSTILE.js, HOSTILE.svgInline, HOSTILE.iframe, HOSTILE.style]) assert.ok(text.includes(s), `shown literally: ${s}`);
    assert.ok(text.includes('␛[31mRED␛[0m'), 'ANSI ESC shown as ␛');
    assert.ok(text.includes('safe_tool⟪U+202E⟫exe.txt'), 'bidi override shown as a code point');
    assert.ok(text.includes('read⟪U+200B⟫file'), 'zero-width space shown as a code point');
    assert.ok(!/[\u001b\u202e\u200b]/.test(text), 'no raw control or bidi characters in the page text');
    const attrText = await p.eval<string>('Array.from(document.querySelectorAll("*")).map(function (e) { return Array.from(e.attributes).map(function (a) { return a.value; }).join(" "); }).join(" ")');
    assert.ok(!/[\u001b\u202e\u200b]/.test(attrText), 'nor in attributes (titles, labels)');
    assert.ok(await p.eval<boolean>('document.title.indexOf("<script>") === 0'), 'the title is text too');
    assert.match(text, /Image 1: not displayed \(image\/svg\+xml\)/);
    assert.match(text, /HIGH · tool poisoning <script>window.__pwned=1<\/script>safe_tool⟪U\+202E⟫exe.txt/, 'an alert\'s title and detail are text too');
    assert.match(text, /\+ ␛\[31mRED␛\[0mread⟪U\+200B⟫file/);
    assert.match(text, /not displayed \(<script>window.__pwned=1<\/script>\)/);
    await p.screenshot('webview-hostile.png');
    await noErrors(p);
    assert.equal(await p.eval('window.__pwned'), undefined);
    await p.close();
  });

  test('accessibility: axe finds no serious or critical violations (timeline, list, detail)', async () => {
    const calls = sampleCalls(120, Date.now());
    const p = await openWith(calls, { axe: true });
    await setDetails(p, [fullDetail(calls.find((c) => c.outcome === 'error')!, { images: [{ mimeType: 'image/png', data: PNG_1x1 }, { mimeType: 'image/svg+xml', data: SVG_HOSTILE }] })]);
    const axe = async (label: string): Promise<void> => {
      const res = await p.eval<Array<{ id: string; impact: string; help: string; nodes: string[] }>>(`axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
        return r.violations.map(function (v) { return { id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(function (n) { return n.target.join(' ') + ' :: ' + n.failureSummary; }) }; });
      })`);
      const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      fs.writeFileSync(path.join(ARTIFACTS, `webview-axe-${label}.json`), JSON.stringify(res, null, 2));
      assert.deepEqual(bad, [], `${label}: ${JSON.stringify(bad, null, 2)}`);
    };
    await p.page.focus('.tl-lanes');
    await p.page.keyboard.press('Home');
    await p.frames(2);
    await axe('timeline');
    await p.page.keyboard.press('n');
    await p.page.keyboard.press('Enter');
    await p.until('!!document.querySelector(".detail figure.image img")');
    await axe('detail');
    await p.page.keyboard.press('Escape');
    await p.page.keyboard.press('v');
    await p.frames(3);
    await axe('list');
    await p.close();
  });

  test('screenshots: timeline, list and detail (Dark Modern)', async () => {
    const now = Date.now();
    const calls = sampleCalls(240, now);
    const p = await h.open();
    await p.post(init(calls, { follow: true, title: 'MCP Flight Recorder — demo workspace' }));
    await p.until('document.body.dataset.ready === "true"');
    await p.frames(3);
    await p.screenshot('webview-timeline.png');
    const failed = calls.filter((c) => c.outcome === 'error')[3]!;
    await setDetails(p, [fullDetail(failed, { images: [{ mimeType: 'image/png', data: PNG_1x1 }, { mimeType: 'image/svg+xml', data: SVG_HOSTILE }] })]);
    await p.post({ type: 'reveal', session_id: failed.session_id, call_id: failed.call_id });
    await p.until('!!document.querySelector(".detail .error-box")');
    await p.frames(3);
    await p.screenshot('webview-detail.png');
    await p.page.keyboard.press('v');
    await p.frames(3);
    await p.screenshot('webview-list-detail.png');
    await p.page.keyboard.press('Escape');
    await p.frames(3);
    await p.screenshot('webview-list.png');
    for (const f of ['webview-timeline.png', 'webview-detail.png', 'webview-list.png']) assert.ok(fs.statSync(path.join(ARTIFACTS, f)).size > 5000);
    await noErrors(p);
    await p.close();
  });

  test('a large session loads in chunks: the newest calls first, placeholders and "loading n of N" until the history is in', async () => {
    const p = await h.open();
    await p.eval(COLUMNS_SOURCE);
    await p.eval(GEN_CALLS_SOURCE);
    await p.eval(`window.__rows = window.__genCalls(3000, ${T0}); window.__plan = __cols.splitLoad(window.__rows, 200, 1000); 0`);
    const plan = await p.eval<{ head: number; chunks: Array<[number, number]> }>('window.__plan');
    assert.ok(plan.chunks.length >= 3);
    await p.eval(`window.postMessage({ type: 'init', readOnly: false, title: 'chunks', sessions: [], calls: window.__rows.slice(${plan.head}), follow: false, total: 3000, load: 7 }, '*')`);
    await p.until('document.body.dataset.ready === "true"');
    const shown = 3000 - plan.head;
    const counts = (): Promise<string> => p.eval<string>('document.querySelector(".counts").textContent');
    assert.match(await counts(), new RegExp(`^${shown} calls( · ✕ \\d+ failed)? · loading ${shown} of 3,000…$`));

    // The list has its final length from the start: the calls still to come are placeholders on top.
    await p.page.click('button:has-text("List")');
    await p.frames(2);
    await p.eval('document.querySelector(".grid").scrollTop = 0');
    await p.frames(2);
    assert.equal(await p.eval<string>('document.querySelector(".grid").getAttribute("aria-rowcount")'), '3001');
    const top = await p.eval<string[]>('Array.from(document.querySelectorAll(".lbody .lrow")).sort(function (a, b) { return a.getAttribute("aria-rowindex") - b.getAttribute("aria-rowindex"); }).slice(0, 3).map(function (r) { return r.className + "|" + r.textContent; })');
    for (const r of top) assert.match(r, /placeholder\|….*Loading…$/);
    await p.page.click('.lbody .lrow.placeholder');
    assert.equal((await posted(p, 'requestDetail')).length, 0, 'a placeholder is not a call');

    // A filter while loading says its result is partial.
    await p.page.fill('input[type=search]', 'no-such-call-anywhere');
    await p.until('!document.querySelector(".list-view .empty").hidden');
    assert.equal(await p.eval<string>('document.querySelector(".list-view .empty").textContent'), `No calls match the filters (${shown.toLocaleString('en-US')} of 3,000 calls loaded so far).`);
    await p.page.fill('input[type=search]', '');
    await p.until('document.querySelector(".list-view .empty").hidden');

    // Reveal in Timeline for a call still to come: applied when its chunk arrives.
    await p.post({ type: 'reveal', session_id: 'ses-1', call_id: 'c10' });
    // A chunk of an older load is dropped.
    await p.eval(`window.postMessage({ type: 'history', load: 6, columns: __cols.encodeColumns(window.__rows.slice(0, 100)), done: true }, '*')`);
    await p.frames(2);
    assert.match(await counts(), /loading/);
    // A live update that comes first wins over the history's copy of the call.
    await p.post({ type: 'calls', calls: [{ ...(await p.eval<CallRow>('window.__rows[20]')), outcome: 'error', error_message: 'changed live', error_class: 'tool_error' }] });
    for (const [k, [a, b]] of plan.chunks.entries()) {
      await p.eval(`window.postMessage({ type: 'history', load: 7, columns: __cols.encodeColumns(window.__rows.slice(${a}, ${b})), done: ${k === plan.chunks.length - 1} }, '*')`);
    }
    await p.until('!/loading/.test(document.querySelector(".counts").textContent)');
    assert.match(await counts(), /^3,000 calls · ✕ [\d,]+ failed$/);
    assert.equal(await count(p, '.lbody .lrow.placeholder'), 0);
    assert.equal(await p.eval<string>('document.querySelector(".grid").getAttribute("aria-rowcount")'), '3001');
    const req = (await posted(p, 'requestDetail')) as Array<Extract<FromWebview, { type: 'requestDetail' }>>;
    assert.equal(req.at(-1)?.call_id, 'c10', 'the revealed call was selected and opened once it arrived');
    assert.match(await p.eval<string>('document.querySelector(".lbody .lrow.selected").textContent'), /module-10\.ts/);
    await p.page.fill('input[type=search]', 'changed live');
    await p.until('document.querySelectorAll(".lbody .lrow").length === 1');
    await noErrors(p);
    await p.close();
  });

  test('performance: 100k calls — first paint, 10 s scroll, panning, streaming 1,000 calls/s', async () => {
    const N = 100_000;
    const PROBE = `(function () {
      window.__longtasks = [];
      new PerformanceObserver(function (l) { l.getEntries().forEach(function (e) { window.__longtasks.push({ start: e.startTime, duration: e.duration }); }); }).observe({ type: 'longtask' });
      window.__frameProbe = function (durationMs, step) {
        return new Promise(function (resolve) {
          window.__longtasks.length = 0;
          var start = performance.now(), last = start, maxGap = 0, frames = 0, maxRows = 0, maxBars = 0, maxAll = 0;
          function f(now) {
            frames++;
            maxGap = Math.max(maxGap, now - last); last = now;
            var rows = document.querySelectorAll('.lbody [role=row]').length;
            var bars = document.querySelectorAll('.bar').length;
            maxRows = Math.max(maxRows, rows); maxBars = Math.max(maxBars, bars);
            maxAll = Math.max(maxAll, document.getElementsByTagName('*').length);
            if (now - start < durationMs) { step(now - start); requestAnimationFrame(f); }
            else resolve({ frames: frames, fps: frames / ((now - start) / 1000), maxFrameGapMs: maxGap, maxDomRows: maxRows, maxDomBars: maxBars, maxElements: maxAll,
              longTasks: window.__longtasks.length, longestTaskMs: window.__longtasks.reduce(function (m, t) { return Math.max(m, t.duration); }, 0) });
          }
          requestAnimationFrame(f);
        });
      };
    })()`;
    // First paint, A/B on fresh pages, alternating (the machine is shared and noisy): A is the old
    // protocol (one init with all 100k rows), B the new one (the newest 200 in init with the total,
    // then history chunks of 2,000 in columns, newest first, each posted in its own task as the
    // host's awaited postMessage would). Three runs each; medians reported.
    const runs: Record<'single' | 'chunked', Array<Record<string, number>>> = { single: [], chunked: [] };
    let p: WebviewPage | undefined;
    for (let k = 0; k < 6; k++) {
      const mode = k % 2 === 0 ? 'single' : 'chunked';
      await p?.close();
      p = await h.open();
      await p.eval(GEN_CALLS_SOURCE);
      await p.eval(COLUMNS_SOURCE);
      await p.eval(PROBE);
      await p.eval(`window.__calls = window.__genCalls(${N}, Date.now() - ${N} * 100); 0`);
      if (mode === 'single') {
        await p.eval(`(function () { window.__longtasks.length = 0; window.__t0 = performance.now(); window.postMessage({ type: 'init', readOnly: false, title: 'perf', sessions: [], calls: window.__calls, follow: true }, '*'); window.__calls = null; })()`);
      } else {
        // The host's share (split, encode) is done before the clock starts: it runs in the
        // extension host, not in the webview.
        await p.eval(`(function () { var plan = __cols.splitLoad(window.__calls, 200, 2000); window.__head = window.__calls.slice(plan.head);
          window.__chunks = plan.chunks.map(function (c) { return __cols.encodeColumns(window.__calls.slice(c[0], c[1])); }); window.__calls = null; })()`);
        await p.eval(`(function () {
          window.__longtasks.length = 0; window.__t0 = performance.now();
          window.postMessage({ type: 'init', readOnly: false, title: 'perf', sessions: [], calls: window.__head, follow: true, total: ${N}, load: 1 }, '*');
          var k = 0, chunks = window.__chunks;
          (function next() { if (k >= chunks.length) return; window.postMessage({ type: 'history', load: 1, columns: chunks[k], done: k === chunks.length - 1 }, '*'); k++; setTimeout(next, 0); })();
        })()`);
      }
      await p.until('document.body.dataset.ready === "true"', 30_000);
      await p.until('document.querySelector(".counts").textContent.indexOf("loading") < 0', 60_000);
      await p.frames(2);
      const marks = await p.eval<Record<string, number>>(`(function () { var o = { posted: window.__t0 }; performance.getEntriesByType('mark').forEach(function (m) { if (m.name.indexOf('mfr:') === 0) o[m.name.slice(4)] = m.startTime; }); return o; })()`);
      const loadLong = await p.eval<number>('window.__longtasks.reduce(function (m, t) { return Math.max(m, t.duration); }, 0)');
      runs[mode].push({
        // postMessage → painted: what the user waits for; includes the structured clone of the
        // init (100k rows in A, 200 in B).
        fromPostMs: round(marks['init-painted']! - marks.posted!),
        // message received → painted: the webview's own work (store, first render, first paint).
        fromReceiveMs: round(marks['init-painted']! - marks['init-received']!),
        storeMs: round(marks['init-stored']! - marks['init-received']!),
        renderMs: round(marks['init-rendered']! - marks['init-stored']!),
        // postMessage → every call in the store (B: the last history chunk added).
        allLoadedMs: round((marks['history-done'] ?? marks['init-stored']!) - marks.posted!),
        // The longest task from postMessage until everything is loaded (and painted once more).
        longestTaskMs: round(loadLong),
      });
    }
    p = p!;
    const median = (list: Array<Record<string, number>>, key: string): Record<string, number> => [...list].sort((a, b) => a[key]! - b[key]!)[1]!;
    const firstPaint = {
      // What bench/run.ts reports (docs/performance.md): the product's flow, B.
      median: { fromReceiveMs: median(runs.chunked, 'fromReceiveMs').fromReceiveMs!, fromPostMs: median(runs.chunked, 'fromPostMs').fromPostMs! },
      before_singleInit: { medianByReceive: median(runs.single, 'fromReceiveMs'), medianByPost: median(runs.single, 'fromPostMs'), runs: runs.single },
      after_chunked: { medianByReceive: median(runs.chunked, 'fromReceiveMs'), medianByPost: median(runs.chunked, 'fromPostMs'), runs: runs.chunked },
    };
    const timelineBarsAtFit = await count(p, '.bar');
    assert.match(await p.eval<string>('document.querySelector(".counts").textContent'), /^100,000 calls · ✕ [\d,]+ failed$/);

    // Timeline: 6 s of zooming in and panning back through the data with wheel events.
    await p.eval('document.querySelector(".tl-lanes").focus()');
    const timeline = await p.eval<Record<string, number>>(`window.__frameProbe(6000, function (t) {
      var s = document.querySelector('.tl-scroll');
      var r = window.__rect || (window.__rect = s.getBoundingClientRect());
      if (t < 1500) s.dispatchEvent(new WheelEvent('wheel', { deltaY: -60, ctrlKey: true, clientX: r.left + r.width * 0.7, clientY: r.top + 40, bubbles: true, cancelable: true }));
      else s.dispatchEvent(new WheelEvent('wheel', { deltaX: -80, clientX: r.left + 400, clientY: r.top + 40, bubbles: true, cancelable: true }));
    })`);

    // List: a scripted 10 s scroll from top to bottom across all 100k rows.
    await p.page.keyboard.press('f'); // follow off, so the list starts where we put it
    await p.page.click('button:has-text("List")');
    await p.frames(2);
    await p.eval('document.querySelector(".grid").scrollTop = 0');
    await p.frames(2);
    const list = await p.eval<Record<string, number>>(`window.__frameProbe(10000, function (t) {
      var g = document.querySelector('.grid');
      g.scrollTop = (g.scrollHeight - g.clientHeight) * Math.min(1, t / 9800);
    })`);
    const endText = await p.eval<string>('Array.from(document.querySelectorAll(".lbody [role=row]")).map(function (r) { return r.getAttribute("aria-rowindex"); }).sort(function (a, b) { return b - a; })[0]');
    assert.equal(Number(endText), N + 1, 'the scroll reached the last row');

    // Streaming: 1,000 calls/s for 5 s in batches of 100 (10 messages/s), following, timeline view.
    await p.page.click('button:has-text("Timeline")');
    // A live-watching zoom (about a minute across), not wherever the panning test left it.
    await p.page.focus('.tl-lanes');
    await p.page.keyboard.press('0');
    for (let k = 0; k < 13; k++) await p.page.keyboard.press('+');
    await p.page.keyboard.press('f');
    await p.eval(`(function () {
      var k = 0;
      window.__stream = setInterval(function () {
        var now = Date.now(), calls = [];
        for (var j = 0; j < 100; j++, k++) {
          calls.push({ session_id: 'live', call_id: 'L' + k, server: ['filesystem', 'github', 'everything', 'postgres'][k % 4], tool: 'echo', method: 'tools/call', direction: 'client_to_server',
            outcome: 'pending', start_ms: now - 50 + j / 2, input_summary: '{"k":' + k + '}', alerts: 0 });
          if (k >= 100) { var m = k - 100; calls.push({ session_id: 'live', call_id: 'L' + m, server: ['filesystem', 'github', 'everything', 'postgres'][m % 4], tool: 'echo', method: 'tools/call',
            direction: 'client_to_server', outcome: m % 50 === 0 ? 'error' : 'success', start_ms: now - 150 + j / 2, duration_ms: 60, input_summary: '{"k":' + m + '}', alerts: 0 }); }
        }
        window.postMessage({ type: 'calls', calls: calls }, '*');
      }, 100);
    })()`);
    const streaming = await p.eval<Record<string, number>>('window.__frameProbe(5000, function () {}).then(function (r) { clearInterval(window.__stream); return r; })');
    await p.frames(3);
    const total = await p.eval<string>('document.querySelector(".counts").textContent');

    const result = {
      when: new Date().toISOString(),
      calls: N,
      browser: 'chromium (headless, --disable-gpu)',
      // Timings depend on the machine and on what else runs on it.
      machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((x) => round(x)) },
      firstPaint,
      timelineBarsAtFit,
      timelinePanZoom6s: roundAll(timeline),
      listScroll10s: roundAll(list),
      streaming1000PerSecond5s: { ...roundAll(streaming), countsAfter: total },
      targets: { firstPaintMs: 300, longestTaskMs: 50, maxDomRows: 200 },
    };
    fs.writeFileSync(path.join(ARTIFACTS, 'webview-perf.json'), JSON.stringify(result, null, 2));
    console.log(`webview perf: ${JSON.stringify(result)}`);

    // Structural, not timing: the DOM stays small however many calls there are.
    assert.ok(list.maxDomRows! <= 200, `list rows in the DOM: ${list.maxDomRows}`);
    assert.ok(list.maxDomRows! > 10, 'rows were rendered');
    assert.ok(timeline.maxDomBars! <= 1000, `timeline bars in the DOM: ${timeline.maxDomBars}`);
    assert.ok(streaming.maxDomBars! <= 1000);
    const after = Number(/^([\d,]+) calls/.exec(total)?.[1]?.replace(/,/g, ''));
    assert.ok(after > N + 1000 && after <= N + 5100, `streamed calls were added: ${total}`);
    await noErrors(p);
    await p.close();
  });
});

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function roundAll(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]));
}
