/**
 * Unit tests for the webview's pure modules (store, filters, visible text, image checks), run in
 * plain Node. Imported by test/integration/webview.test.ts so they run with the browser tests
 * (the runner collects only test/unit and test/integration).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallRow } from '../../src/shared/protocol';
import { decideImage, sniff } from '../../webview/images';
import { clip, hasSpecial, visibleSegments, visibleText } from '../../webview/safe-text';
import { CallStore, emptyFilters, LONG_MS, type Filters } from '../../webview/state';
import { PNG_1x1, row, SVG_HOSTILE, T0 } from './fixtures';

function filters(p: Partial<Filters>): Filters {
  return { ...emptyFilters(), ...p };
}

function ids(store: CallStore, list = store.visible): string[] {
  return list.map((i) => store.rows[i]!.call_id);
}

describe('webview state (unit)', () => {
  test('reset orders calls by start and builds one lane per server, alphabetically', () => {
    const s = new CallStore();
    s.reset([
      row({ call_id: 'b', server: 'zeta', start_ms: T0 + 20 }),
      row({ call_id: 'a', server: 'Alpha', start_ms: T0 + 10 }),
      row({ call_id: 'c', server: 'beta', start_ms: T0 + 30 }),
      row({ call_id: 'd', server: 'zeta', start_ms: T0 + 5 }),
    ]);
    assert.deepEqual(ids(s, s.order), ['d', 'a', 'b', 'c']);
    assert.deepEqual(s.servers(), ['Alpha', 'beta', 'zeta']);
    assert.deepEqual(ids(s, s.laneOf('zeta')!.calls), ['d', 'b']);
    assert.equal(s.size, 4);
  });

  test('a lazily indexed reset (init) ends in the same state as an eager one, duplicates included', () => {
    const rows = [
      row({ call_id: 'a', start_ms: T0 + 10 }),
      row({ call_id: 'b', server: 'beta', start_ms: T0 }),
      row({ call_id: 'a', start_ms: T0 + 30, outcome: 'error', duration_ms: 5 }), // duplicate: wins in a's place
      row({ call_id: 'a', session_id: 'other', start_ms: T0 + 20 }),
    ];
    const eager = new CallStore();
    eager.reset(rows);
    const lazy = new CallStore();
    lazy.reset(rows, true);
    assert.equal(lazy.size, 4, 'not indexed yet: no duplicate check has run');
    let ticks = 0;
    for (let k = 0; k < 10 && !lazy.indexSome(0, () => ticks++).done; k++);
    assert.equal(lazy.size, 3);
    for (const s of [eager, lazy]) {
      assert.deepEqual(ids(s), ['b', 'a', 'a']);
      assert.equal(s.rows[s.indexOf('ses-1', 'a')]!.outcome, 'error');
      assert.equal(s.failures, 1);
      assert.equal(s.visibleFailures, 1);
    }
    // Without duplicates, lookups and upserts before the background index finish it first.
    const big = Array.from({ length: 5000 }, (_, k) => row({ call_id: `c${k}`, start_ms: T0 + k }));
    const s = new CallStore();
    s.reset(big, true);
    assert.equal(s.indexOf('ses-1', 'c4999'), 4999);
    const s2 = new CallStore();
    s2.reset(big, true);
    assert.deepEqual(s2.indexSome(0, () => 1), { done: false, rebuilt: false }, 'one slice of 1,024 rows, then the deadline');
    assert.deepEqual(s2.upsert([row({ call_id: 'c10', start_ms: T0 + 10, outcome: 'timeout', duration_ms: 1 })]), { added: 0, changed: 1 });
    assert.equal(s2.size, 5000);
    assert.equal(s2.visibleFailures, 1);
  });

  test('upserts are keyed by session_id + call_id and keep the order', () => {
    const s = new CallStore();
    s.reset([row({ call_id: 'a', start_ms: T0 }), row({ call_id: 'a', session_id: 'other', start_ms: T0 + 1 })]);
    assert.equal(s.size, 2, 'same call_id in two sessions are two calls');
    const r = s.upsert([
      row({ call_id: 'p', start_ms: T0 + 50, outcome: 'pending', duration_ms: undefined }),
      row({ call_id: 'early', start_ms: T0 - 100 }),
    ]);
    assert.deepEqual(r, { added: 2, changed: 0 });
    assert.deepEqual(ids(s), ['early', 'a', 'a', 'p']);
    assert.ok(s.hasPending());
    const i = s.indexOf('ses-1', 'p');
    assert.equal(s.endOf(i, T0 + 500), T0 + 500, 'a pending call grows until now');
    s.upsert([row({ call_id: 'p', start_ms: T0 + 50, outcome: 'success', duration_ms: 70 })]);
    assert.equal(s.size, 4);
    assert.equal(s.endOf(i, T0 + 500), T0 + 120);
    assert.ok(!s.hasPending());
  });

  test('pending calls of an ended session stop at the session end', () => {
    const s = new CallStore();
    s.reset([row({ call_id: 'p', outcome: 'pending', duration_ms: undefined })]);
    s.setSessions([{ session_id: 'ses-1', started_at: new Date(T0).toISOString(), ended_at: new Date(T0 + 2000).toISOString(), label: 'x', tool_calls: 1, failed_calls: 0 }]);
    assert.equal(s.endOf(0, T0 + 60_000), T0 + 2000);
  });

  test('filters by server, tool, outcome and text; narrowing text gives the same result as a full pass', () => {
    const s = new CallStore();
    s.reset([
      row({ call_id: '1', server: 'fs', tool: 'read_file', input_summary: '{"path":"README.md"}' }),
      row({ call_id: '2', server: 'fs', tool: 'write_file', outcome: 'error', error_message: 'EACCES permission denied', input_summary: '{}', start_ms: T0 + 1 }),
      row({ call_id: '3', server: 'gh', tool: 'create_issue', input_summary: '{"title":"Read me"}', start_ms: T0 + 2 }),
      row({ call_id: '4', server: 'gh', tool: 'search', outcome: 'timeout', input_summary: '{"q":"bug"}', start_ms: T0 + 3 }),
    ]);
    s.setFilters(filters({ servers: new Set(['gh']) }));
    assert.deepEqual(ids(s), ['3', '4']);
    s.setFilters(filters({ tools: new Set(['write_file']) }));
    assert.deepEqual(ids(s), ['2']);
    s.setFilters(filters({ outcomes: new Set(['error', 'timeout']) }));
    assert.deepEqual(ids(s), ['2', '4']);
    assert.equal(s.visibleFailures, 2);
    s.setFilters(filters({ text: 'READ' }));
    assert.deepEqual(ids(s), ['1', '3'], 'tool name and input summary, case-insensitive');
    s.setFilters(filters({ text: 'readm' }));
    assert.deepEqual(ids(s), ['1']);
    s.setFilters(filters({ text: 'permission' }));
    assert.deepEqual(ids(s), ['2'], 'error message');
    s.setFilters(filters({ text: 'gh' }));
    assert.deepEqual(ids(s), ['3', '4'], 'server');
    s.setFilters(emptyFilters());
    assert.deepEqual(ids(s), ['1', '2', '3', '4']);
  });

  test('new and changed calls respect the active filter', () => {
    const s = new CallStore();
    s.reset([row({ call_id: 'a', outcome: 'pending', duration_ms: undefined })]);
    s.setFilters(filters({ outcomes: new Set(['error']) }));
    assert.deepEqual(ids(s), []);
    s.upsert([row({ call_id: 'a', outcome: 'error', duration_ms: 5 }), row({ call_id: 'b', outcome: 'success', start_ms: T0 + 9 })]);
    assert.deepEqual(ids(s), ['a']);
    assert.equal(s.visibleFailures, 1);
    s.upsert([row({ call_id: 'a', outcome: 'success', duration_ms: 5 })]);
    assert.deepEqual(ids(s), []);
    assert.equal(s.visibleFailures, 0);
    assert.equal(s.failures, 0);
  });

  test('next failure wraps, and starts next to a filtered-out selection', () => {
    const s = new CallStore();
    s.reset(['success', 'error', 'success', 'timeout', 'success'].map((o, k) => row({ call_id: String(k), outcome: o as CallRow['outcome'], start_ms: T0 + k })));
    assert.deepEqual(s.nextFailure(-1, 1), { index: 1, wrapped: false });
    assert.deepEqual(s.nextFailure(1, 1), { index: 3, wrapped: false });
    assert.deepEqual(s.nextFailure(3, 1), { index: 1, wrapped: true });
    assert.deepEqual(s.nextFailure(1, -1), { index: 3, wrapped: true });
    s.setFilters(filters({ text: 'nothing matches this' }));
    assert.equal(s.nextFailure(-1, 1), undefined);
  });

  test('range queries find long and pending calls that started before the window', () => {
    const s = new CallStore();
    s.reset([
      row({ call_id: 'long', start_ms: T0, duration_ms: LONG_MS * 5 }),
      row({ call_id: 'pending', start_ms: T0 + 1, outcome: 'pending', duration_ms: undefined }),
      row({ call_id: 'short', start_ms: T0 + 2, duration_ms: 10 }),
      row({ call_id: 'in', start_ms: T0 + LONG_MS * 3, duration_ms: 10 }),
      row({ call_id: 'after', start_ms: T0 + LONG_MS * 9, duration_ms: 10 }),
    ]);
    const lane = s.lanes[0]!;
    const got: string[] = [];
    s.forEachInRange(lane, T0 + LONG_MS * 2, T0 + LONG_MS * 4, T0 + LONG_MS * 10, (i) => got.push(s.rows[i]!.call_id));
    assert.deepEqual(got, ['long', 'pending', 'in']);
  });

  test('concurrent calls in a lane go on separate tracks', () => {
    const s = new CallStore();
    s.reset([
      row({ call_id: 'a', start_ms: T0, duration_ms: 100 }),
      row({ call_id: 'b', start_ms: T0 + 10, duration_ms: 100 }),
      row({ call_id: 'c', start_ms: T0 + 200, duration_ms: 10 }),
    ]);
    assert.deepEqual([s.track[0], s.track[1], s.track[2]], [0, 1, 0]);
  });

  test('100k calls: reset, a full text filter and a bulk upsert of older history', (t) => {
    const rows: CallRow[] = [];
    for (let k = 0; k < 100_000; k++) rows.push(row({ call_id: `c${k}`, server: `s${k % 4}`, start_ms: T0 + k * 10, input_summary: `{"n":${k}}` }));
    const s = new CallStore();
    const t0 = performance.now();
    s.reset(rows.slice(50_000));
    const t1 = performance.now();
    // Older history arriving after init, in one big batch: added in bulk, order and lanes intact.
    s.upsert(rows.slice(0, 50_000));
    const t2 = performance.now();
    s.setFilters(filters({ text: '"n":4' }));
    const t3 = performance.now();
    assert.equal(s.size, 100_000);
    assert.equal(s.visible.length, 11_111);
    assert.deepEqual([s.rows[s.order[0]!]!.call_id, s.rows[s.order[99_999]!]!.call_id], ['c0', 'c99999']);
    for (const l of s.lanes) for (let k = 1; k < l.calls.length; k++) assert.ok(s.start[l.calls[k - 1]!]! <= s.start[l.calls[k]!]!);
    // Timings are reported, not asserted (shared machines).
    t.diagnostic(`reset 50k: ${(t1 - t0).toFixed(0)} ms, bulk upsert 50k older: ${(t2 - t1).toFixed(0)} ms, text filter 100k: ${(t3 - t2).toFixed(0)} ms`);
  });
});

describe('visible text (unit)', () => {
  test('ANSI escapes, C0/C1 controls and DEL become visible pictures', () => {
    assert.equal(visibleText('\u001b[31mred\u001b[0m'), '␛[31mred␛[0m');
    assert.equal(visibleText('a\u0000b\u007fc'), 'a␀b␡c');
    assert.equal(visibleText('x\u0085y'), 'x⟪U+0085⟫y');
  });

  test('bidi overrides, zero-width and tag characters are shown as code points', () => {
    assert.equal(visibleText('safe\u202Etxt.exe'), 'safe⟪U+202E⟫txt.exe');
    assert.equal(visibleText('a\u2066b\u2069'), 'a⟪U+2066⟫b⟪U+2069⟫');
    assert.equal(visibleText('re\u200Bad\uFEFF'), 're⟪U+200B⟫ad⟪U+FEFF⟫');
    assert.equal(visibleText('x\u{E0041}'), 'x⟪U+E0041⟫');
  });

  test('single-line text shows newlines and tabs; multi-line keeps them', () => {
    assert.equal(visibleText('a\nb\tc'), 'a␊b␉c');
    assert.equal(visibleText('a\r\nb\tc\rd', true), 'a\nb\tc␍d');
    assert.ok(!hasSpecial('plain text, ünïcödé, 日本語, emoji 🚀'));
  });

  test('segments mark the special parts', () => {
    assert.deepEqual(visibleSegments('a\u202Eb'), [{ text: 'a', special: false }, { text: '⟪U+202E⟫', special: true }, { text: 'b', special: false }]);
  });

  test('clip never splits a surrogate pair', () => {
    assert.equal(clip('ab🚀cd', 3), 'ab…');
    assert.equal(clip('short', 10), 'short');
  });
});

describe('images (unit)', () => {
  test('only allowed types whose bytes match are shown', () => {
    assert.equal(decideImage('image/png', PNG_1x1).show, true);
    assert.equal(decideImage('IMAGE/PNG', PNG_1x1).show, true);
    const svg = decideImage('image/svg+xml', SVG_HOSTILE);
    assert.equal(svg.show, false);
    const fake = decideImage('image/jpeg', PNG_1x1);
    assert.equal(fake.show, false, 'a PNG declared as JPEG is not shown');
    assert.equal(decideImage('image/png', 'not base64!!').show, false);
    assert.equal(decideImage('image/png', 42).show, false);
    assert.ok(sniff(new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]), 'image/gif'));
  });
});
