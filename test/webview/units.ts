/**
 * Unit tests for the webview's pure modules (store, filters, visible text, image checks), run in
 * plain Node. Imported by test/integration/webview.test.ts so they run with the browser tests
 * (the runner collects only test/unit and test/integration).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeColumns, encodeColumns, splitLoad } from '../../src/shared/call-columns';
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

describe('initial load in chunks (unit)', () => {
  /** What the host sends: rows in start order → the newest `head` in init, then chunks newest first. */
  function loadInChunks(s: CallStore, rows: CallRow[], headRows: number, chunkRows: number, between?: (k: number) => void): void {
    const { head, chunks } = splitLoad(rows, headRows, chunkRows);
    s.reset(rows.slice(head), true);
    s.historyMissing = head;
    chunks.forEach(([start, end], k) => {
      between?.(k);
      s.addHistory(decodeColumns(structuredClone(encodeColumns(rows.slice(start, end)))), k === chunks.length - 1);
    });
  }

  function snapshot(s: CallStore): unknown {
    return {
      order: ids(s, s.order),
      visible: ids(s),
      lanes: s.lanes.map((l) => ({ server: l.server, calls: ids(s, l.calls), tracks: l.calls.map((i) => s.track[i]), lane: l.calls.map((i) => s.lane[i]), spanning: ids(s, [...l.spanning].sort((a, b) => a - b)).sort(), failures: l.failures, alerts: l.alerts })),
      failures: s.failures,
      visibleFailures: s.visibleFailures,
      tools: s.tools(),
    };
  }

  const servers = ['zeta', 'alpha', 'Beta', 'gamma'];
  const outcomes = ['success', 'error', 'timeout', 'cancelled', 'pending'] as const;
  function history(n: number): CallRow[] {
    const rows: CallRow[] = [];
    for (let k = 0; k < n; k++) {
      const outcome = outcomes[k % 7 === 0 ? 1 : k % 11 === 0 ? 2 : k % 13 === 0 ? 4 : k % 17 === 0 ? 3 : 0]!;
      rows.push(row({
        call_id: `c${k}`,
        // A server that appears only in old history: its lane is created by a chunk.
        server: k < 40 ? 'old-only' : servers[k % 4]!,
        tool: `t${k % 5}`,
        start_ms: T0 + Math.floor(k / 3) * 7, // equal starts across chunk boundaries
        outcome,
        ...(outcome === 'pending' ? { duration_ms: undefined } : { duration_ms: k % 9 === 0 ? LONG_MS + 5 : 30 + (k % 50) }),
        alerts: k % 19 === 0 ? 2 : 0,
        input_summary: `{"n":${k}}`,
      }));
    }
    return rows;
  }

  test('columns round-trip every field of a row, absent fields and hostile strings included', () => {
    const rows: CallRow[] = [
      row({ call_id: '<img src=x onerror=alert(1)>', tool: '\u202Eexe.txt', server: 'javascript:alert(1)', error_class: 'protocol', error_message: '\u001b[31m<script>', outcome: 'error', output_summary: 'out', replay_of: 'r1', retry_of: 'r0', alerts: 3 }),
      row({ call_id: 'p', outcome: 'pending', duration_ms: undefined, agent_id: undefined, direction: 'server_to_client', method: 'sampling/createMessage' }),
    ];
    assert.deepEqual(decodeColumns(structuredClone(encodeColumns(rows))), JSON.parse(JSON.stringify(rows)));
    const cols = encodeColumns(rows);
    assert.equal(cols.dict.filter((d) => d === 'ses-1').length, 1, 'repeated strings are sent once');
    // Malformed: a ref out of range, an unknown outcome code, short arrays — those rows are dropped.
    const bad = encodeColumns(rows);
    bad.serverRef[0] = 999;
    assert.deepEqual(decodeColumns(bad), JSON.parse(JSON.stringify([rows[1]])));
    bad.outcome[1] = 200;
    assert.deepEqual(decodeColumns(bad), []);
    const short = encodeColumns(rows);
    short.call_id = ['only-one'];
    assert.equal(decodeColumns(short).length, 1);
    assert.deepEqual(decodeColumns(null as never), []);
  });

  test('init with the newest calls, then history chunks newest first, ends as one init of everything', () => {
    const rows = history(2_000);
    const whole = new CallStore();
    whole.reset(rows);
    const chunked = new CallStore();
    const missing: number[] = [];
    loadInChunks(chunked, rows, 200, 300, () => missing.push(chunked.historyMissing));
    assert.deepEqual(missing, [1800, 1500, 1200, 900, 600, 300]);
    // Boundaries move down past equal starts (calls c(3j)..c(3j+2) start together).
    const plan = splitLoad(rows, 100, 256);
    assert.equal(plan.head, 1899);
    let end = plan.head;
    for (const [a, b] of plan.chunks) {
      assert.equal(b, end, 'contiguous, newest first');
      assert.ok(a % 3 === 0 && (a === 0 || Math.abs(b - a - 256) <= 2), `[${a}, ${b})`);
      end = a;
    }
    assert.equal(end, 0);
    assert.equal(chunked.historyMissing, 0);
    assert.equal(chunked.size, 2_000);
    assert.deepEqual(snapshot(chunked), snapshot(whole));
    assert.equal(chunked.indexOf('ses-1', 'c5'), chunked.order.find((i) => chunked.rows[i]!.call_id === 'c5'));
  });

  test('a filter set while loading is applied to every chunk as it arrives', () => {
    const rows = history(1_500);
    const f = filters({ servers: new Set(['alpha', 'old-only']), text: '"n":1' });
    const whole = new CallStore();
    whole.reset(rows);
    whole.setFilters(f);
    const chunked = new CallStore();
    loadInChunks(chunked, rows, 100, 256, (k) => {
      if (k === 1) chunked.setFilters(f);
    });
    assert.deepEqual(snapshot(chunked), snapshot(whole));
  });

  test('a live update that arrives before its call\'s history chunk wins over the older copy', () => {
    const rows = history(1_000);
    const s = new CallStore();
    loadInChunks(s, rows, 100, 200, (k) => {
      if (k === 2) s.upsert([{ ...rows[50]!, outcome: 'error', duration_ms: 99, error_message: 'finished later' }]);
    });
    assert.equal(s.size, 1_000);
    const i = s.indexOf('ses-1', 'c50');
    assert.equal(s.rows[i]!.error_message, 'finished later');
    assert.equal(s.order.filter((j) => s.rows[j]!.call_id === 'c50').length, 1);
    // A newer init drops the load in progress: its missing count starts again.
    s.reset(rows.slice(900), true);
    assert.equal(s.historyMissing, 0);
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
