import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callDocument, compareCalls, diffCalls, diffSessions, diffValues, isSlower, matchCalls, type DiffableCall, type DiffSession } from '../../src/core/analysis/diff';
import { diffSessionFromExport, diffSessionFromRecords, findCall } from '../../src/core/analysis/diff-input';
import { formatCallDiffText, formatSessionDiffText, safeText } from '../../src/core/analysis/diff-text';
import { parseSessionExport } from '../../src/core/export/read';
import { exportSessionJsonlToString } from '../../src/core/export/jsonl';
import { exportSessionToString } from '../../src/core/export/session-json';
import type { JournalRecord } from '../../src/core/model/records';
import { assertValidDiffReport } from '../helpers/diff-schema';

let seq = 0;
function call(tool: string, input: unknown, over: Partial<DiffableCall> = {}): DiffableCall {
  seq++;
  return {
    call_id: `c:${seq}`,
    session_id: 's',
    server: { name: 'srv', version: null },
    tool,
    method: 'tools/call',
    direction: 'client_to_server',
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, seq)).toISOString(),
    duration_ms: 10,
    outcome: 'success',
    error: null,
    input,
    input_summary: JSON.stringify(input),
    output: { content: [{ type: 'text', text: `ok ${tool}` }] },
    output_summary: null,
    opaque: [],
    request_seq: seq,
    response_seq: seq + 1000,
    ...over,
  };
}

function session(id: string, calls: DiffableCall[]): DiffSession {
  return { session_id: id, source: `test:${id}`, started_at: null, terminal_state: null, tool_calls: calls.length, failed_calls: 0, calls };
}

describe('diff: slower needs both thresholds (≥ 2× and ≥ 100 ms)', () => {
  it('150 ms → 250 ms is not slower (only 1.67×)', () => assert.equal(isSlower(150, 250), false));
  it('50 ms → 149 ms is not slower (only +99 ms, though 2.98×)', () => assert.equal(isSlower(50, 149), false));
  it('60 ms → 150 ms is not slower (2.5× but +90 ms)', () => assert.equal(isSlower(60, 150), false));
  it('100 ms → 300 ms is slower', () => assert.equal(isSlower(100, 300), true));
  it('boundaries are included: 100 → 200 (exactly 2×, +100 ms) and 50 → 150 (+100 ms exactly)', () => {
    assert.equal(isSlower(100, 200), true);
    assert.equal(isSlower(50, 150), true);
    assert.equal(isSlower(100, 199.999), false);
  });
  it('0 ms → 100 ms is slower; an unknown duration never is', () => {
    assert.equal(isSlower(0, 100), true);
    assert.equal(isSlower(null, 500), false);
    assert.equal(isSlower(10, null), false);
  });
  it('a faster call is not slower', () => assert.equal(isSlower(300, 100), false));

  it('reaches the session report: only the pair past both thresholds is listed', () => {
    const a = session('A', [call('t1', { i: 1 }, { duration_ms: 150 }), call('t2', { i: 2 }, { duration_ms: 50 }), call('t3', { i: 3 }, { duration_ms: 100 }), call('t4', { i: 4 }, { duration_ms: 60 })]);
    const b = session('B', [call('t1', { i: 1 }, { duration_ms: 250 }), call('t2', { i: 2 }, { duration_ms: 149 }), call('t3', { i: 3 }, { duration_ms: 300 }), call('t4', { i: 4 }, { duration_ms: 150 })]);
    const r = diffSessions(a, b);
    assert.deepEqual(r.slower.map((s) => [s.a.tool, s.a_ms, s.b_ms, s.delta_ms, s.ratio]), [['t3', 100, 300, 200, 3]]);
    assert.equal(r.counts.slower, 1);
    assert.equal(r.counts.changed, 0, 'timing alone is not a content change');
    assert.equal(r.identical, false, 'a slower call makes the sessions different');
    assert.equal(r.tools.find((t) => t.tool === 't3')!.slower, 1);
  });
});

describe('diff: values', () => {
  it('lists added, removed and changed members as JSON Pointers; member order is ignored', () => {
    const d = diffValues({ a: 1, b: { c: [1, 2, 3], 'x/y': 'p', 't~': 1 }, gone: true }, { b: { 'x/y': 'q', c: [1, 5], 't~': 1 }, a: 1, new: null });
    assert.equal(d.equal, false);
    assert.deepEqual(d.changes, [
      { path: '/b/c/1', change: 'changed', before: 2, after: 5 },
      { path: '/b/c/2', change: 'removed', before: 3 },
      { path: '/b/x~1y', change: 'changed', before: 'p', after: 'q' },
      { path: '/gone', change: 'removed', before: true },
      { path: '/new', change: 'added', after: null },
    ]);
    assert.equal(diffValues({ x: 1, y: [1, { z: 2 }] }, { y: [1, { z: 2 }], x: 1 }).equal, true);
  });

  it('types that differ are a change of the whole value; scalars compare by value', () => {
    assert.deepEqual(diffValues({ v: [1] }, { v: { 0: 1 } }).changes, [{ path: '/v', change: 'changed', before: [1], after: { 0: 1 } }]);
    assert.deepEqual(diffValues(1, '1').changes, [{ path: '', change: 'changed', before: 1, after: '1' }]);
    assert.equal(diffValues(null, null).equal, true);
    assert.equal(diffValues(1.5, 1.5).equal, true);
  });

  it('compares redaction markers as markers and flags them, same or not', () => {
    const m1 = '[REDACTED:github_pat:3f9a1c]';
    const m2 = '[REDACTED:github_pat:0b0b0b]';
    const same = diffValues({ token: m1, note: `use ${m1}` }, { token: m1, note: `use ${m1}` });
    assert.equal(same.equal, true);
    assert.deepEqual(same.redacted, [
      { path: '/token', a: [m1], b: [m1], same: true },
      { path: '/note', a: [m1], b: [m1], same: true },
    ]);
    const differ = diffValues({ token: m1 }, { token: m2 });
    assertValidDiffReport(diffCalls(call('t', { token: m1, big: 'x'.repeat(400) }), call('t', { token: m2, big: 'y'.repeat(400) })));
    assert.deepEqual(differ.changes, [{ path: '/token', change: 'changed', before: m1, after: m2, redacted: true }]);
    assert.deepEqual(differ.redacted, [{ path: '/token', a: [m1], b: [m2], same: false }]);
    const oneSide = diffValues({ password: 'hunter2' }, { password: '[REDACTED:password:aaaaaa]' });
    assert.equal(oneSide.changes[0]!.redacted, true);
    const added = diffValues({}, { env: { KEY: m1 } });
    assert.deepEqual(added.changes, [{ path: '/env', change: 'added', after: { KEY: m1 }, redacted: true }]);
  });

  it('caps the list and shortens long values, saying so', () => {
    const big = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
    const d = diffValues({}, big);
    assert.equal(d.changes.length, 200);
    assert.equal(d.changes_omitted, 100);
    assert.equal(d.equal, false);
    const long = diffValues({ s: 'x'.repeat(5000) }, { s: 'y'.repeat(5000) });
    assert.equal(long.changes[0]!.truncated, true);
    assert.equal((long.changes[0]!.before as string).length, 300);
  });

  it('ignores paths given with * for one segment', () => {
    const d = diffValues({ content: [{ text: 'a', ts: 1 }], id: 1 }, { content: [{ text: 'a', ts: 2 }], id: 2 }, { ignore: ['/content/*/ts', '/id'] });
    assert.equal(d.equal, true);
  });
});

describe('diff: two calls', () => {
  it('reports arguments, outcome, error and result changes, and identity differences', () => {
    const a = call('echo', { message: 'hi' }, { duration_ms: 5 });
    const b = call('get-sum', { message: 'bye' }, { outcome: 'error', duration_ms: 400, error: { error_class: 'tool_error', error_code: 'TOOL_ERROR', message: 'boom', recoverable: false, recovery_action: 'fix_arguments', retry_safe: false }, output: { content: [{ type: 'text', text: 'boom' }], isError: true } });
    const r = diffCalls(a, b);
    assertValidDiffReport(r);
    assert.equal(r.format, 'mcp-flight.diff/v1');
    assert.equal(r.kind, 'calls');
    assert.equal(r.identical, false);
    assert.deepEqual(r.changes, ['identity', 'arguments', 'outcome', 'error', 'result']);
    assert.deepEqual(r.identity, [{ field: 'tool', a: 'echo', b: 'get-sum' }]);
    assert.deepEqual(r.arguments.changes, [{ path: '/message', change: 'changed', before: 'hi', after: 'bye' }]);
    assert.deepEqual(r.outcome, { a: 'success', b: 'error' });
    assert.deepEqual(r.error, { a: null, b: { error_class: 'tool_error', error_code: 'TOOL_ERROR' } });
    assert.deepEqual(r.result.changes.map((c) => c.path), ['/content/0/text', '/isError']);
    assert.deepEqual(r.duration, { a_ms: 5, b_ms: 400, delta_ms: 395, ratio: 80, slower: true });
    const text = formatCallDiffText(r);
    assert.match(text, /Different: identity, arguments, outcome, error, result/);
    assert.match(text, /arguments {2}changed {2}\/message {2}"hi" → "bye"/);
    assert.match(text, /error {6}none → tool_error \(TOOL_ERROR\)/);
  });

  it('identical calls are identical whatever their ids and times', () => {
    const r = diffCalls(call('echo', { m: 1 }, { duration_ms: 3 }), call('echo', { m: 1 }, { duration_ms: 90 }));
    assert.equal(r.identical, true);
    assert.equal(r.complete, true);
    assert.match(formatCallDiffText(r), /^Identical$/m);
  });

  it('says what was not compared: opaque, metadata-only, pending; nothing on both sides is equal', () => {
    const opaque = compareCalls(call('t', null, { opaque: ['request', 'response'], output: null }), call('t', { a: 1 }));
    assert.equal(opaque.arguments.compared, false);
    assert.deepEqual(opaque.arguments.not_compared, { a: 'opaque', b: null });
    assert.deepEqual(opaque.result.not_compared, { a: 'opaque', b: null });
    assert.equal(opaque.complete, false);
    assert.deepEqual(opaque.changes, [], 'what was not compared is not called a change');

    const meta = compareCalls(call('t', { a: 1 }), call('t', null, { not_recorded: ['request', 'response'], output: {} }));
    assert.deepEqual(meta.arguments.not_compared, { a: null, b: 'not_recorded' });
    assert.deepEqual(meta.result.not_compared, { a: null, b: 'not_recorded' });

    const pending = compareCalls(call('t', { a: 1 }), call('t', { a: 1 }, { outcome: 'pending', output: null, duration_ms: null, response_seq: null }));
    assert.deepEqual(pending.result.not_compared, { a: null, b: 'pending' });
    assert.deepEqual(pending.changes, ['outcome']);
    assert.equal(pending.duration.slower, false);

    const bothPending = compareCalls(call('t', { a: 1 }, { outcome: 'pending', output: null, response_seq: null }), call('t', { a: 1 }, { outcome: 'pending', output: null, response_seq: null }));
    assert.equal(bothPending.complete, true);
    assert.equal(bothPending.identical, true);
  });

  it('ignores a top-level _meta in the params of methods other than tools/call', () => {
    const a = call('resources/read', { uri: 'x', _meta: { progressToken: 1 } }, { method: 'resources/read' });
    const b = call('resources/read', { uri: 'x', _meta: { progressToken: 7 } }, { method: 'resources/read' });
    assert.equal(compareCalls(a, b).identical, true);
  });
});

describe('diff: two sessions', () => {
  it('matches by canonical arguments, then by position; reports added, missing and changed', () => {
    const a = session('A', [
      call('init', {}, { method: 'initialize', tool: 'initialize' }),
      call('echo', { message: 'one' }),
      call('echo', { message: 'two' }),
      call('echo', { message: 'same', n: 1 }),
      call('echo', { message: 'same', n: 1 }),
      call('gone', {}),
      call('add', { a: 1, b: 2 }),
    ]);
    const b = session('B', [
      call('init', {}, { method: 'initialize', tool: 'initialize' }),
      call('echo', { n: 1, message: 'same' }), // member order differs: same canonical arguments
      call('echo', { message: 'TWO' }),
      call('echo', { message: 'one' }),
      call('echo', { message: 'same', n: 1 }),
      call('add', { a: 1, b: 2 }, { outcome: 'error', error: { error_class: 'invalid_params', error_code: -32602, message: 'bad', recoverable: false, recovery_action: 'fix_arguments', retry_safe: false }, output: { code: -32602, message: 'bad' } }),
      call('extra', { x: 1 }),
    ]);
    const m = matchCalls(a.calls, b.calls);
    assert.deepEqual(
      m.pairs.map((p) => [p.a, p.b, p.match]),
      [
        [0, 0, 'arguments'],
        [1, 3, 'arguments'],
        [2, 2, 'position'],
        [3, 1, 'arguments'],
        [4, 4, 'arguments'],
        [6, 5, 'arguments'],
      ],
    );
    assert.deepEqual(m.missing, [5]);
    assert.deepEqual(m.added, [6]);

    const r = diffSessions(a, b);
    assertValidDiffReport(r);
    assert.throws(() => assertValidDiffReport({ ...r, surprise: 1 }), /does not match/, 'the schema is strict');
    assert.equal(r.identical, false);
    assert.deepEqual(r.counts, { matched: 6, unchanged: 4, changed: 2, added: 1, missing: 1, slower: 0, not_fully_compared: 0 });
    assert.deepEqual(r.added.map((c) => c.tool), ['extra']);
    assert.deepEqual(r.missing.map((c) => c.tool), ['gone']);
    assert.deepEqual(r.changed.map((p) => [p.a.tool, p.match, p.changes]), [
      ['echo', 'position', ['arguments']],
      ['add', 'arguments', ['outcome', 'error', 'result']],
    ]);
    assert.deepEqual(r.changed[0]!.arguments.changes, [{ path: '/message', change: 'changed', before: 'two', after: 'TWO' }]);
    const echo = r.tools.find((t) => t.tool === 'echo')!;
    assert.deepEqual(echo, { server: 'srv', method: 'tools/call', tool: 'echo', a_calls: 4, b_calls: 4, matched: 4, unchanged: 3, changed: 1, added: 0, missing: 0, slower: 0 });
    assert.deepEqual(r.tools.map((t) => t.tool), ['initialize', 'add', 'echo', 'extra', 'gone']);

    const text = formatSessionDiffText(r);
    assert.match(text, /Different: 1 added, 1 missing, 2 changed, 0 slower \(6 matched, 4 unchanged\)/);
    assert.match(text, /\+ srv · extra {2}success/);
    assert.match(text, /- srv · gone/);
    assert.match(text, /~ srv · echo .* \(matched by position\): arguments/);
    assert.match(text, /error {6}none → invalid_params \(-32602\)/);
  });

  it('identical sessions: exit-worthy "identical", every tool counted', () => {
    const mk = () => [call('echo', { m: 1 }), call('echo', { m: 1 }), call('x', {})];
    const r = diffSessions(session('A', mk()), session('B', mk()));
    assert.equal(r.identical, true);
    assert.equal(r.complete, true);
    assert.deepEqual(r.counts, { matched: 3, unchanged: 3, changed: 0, added: 0, missing: 0, slower: 0, not_fully_compared: 0 });
    assert.match(formatSessionDiffText(r), /Identical: 3 matched, 3 unchanged/);
  });

  it('server, direction and method are part of the match', () => {
    const a = session('A', [call('t', {}, { server: { name: 'one', version: null } })]);
    const b = session('B', [call('t', {}, { server: { name: 'two', version: null } })]);
    const r = diffSessions(a, b);
    assert.equal(r.counts.matched, 0);
    assert.equal(r.counts.added, 1);
    assert.equal(r.counts.missing, 1);
  });

  it('hostile strings are escaped in the text report', () => {
    const evil = 'ev\u202eil\u001b[31m\u0007';
    const r = diffSessions(session('A', []), session('B', [call(evil, { x: evil })]));
    const text = formatSessionDiffText(r);
    assert.ok(!/[\u202e\u001b\u0007]/.test(text), 'no raw control or bidi characters');
    assert.match(text, /ev\\u202eil\\u001b\[31m\\u0007/);
    assert.equal(safeText('a\u200bb\u2066c'), 'a\\u200bb\\u2066c');
  });

  it('finds calls by id, request sequence number or unique prefix', () => {
    const s = session('S', [call('a', {}, { call_id: 'conn-1:5', request_seq: 5 }), call('b', {}, { call_id: 'conn-1:50', request_seq: 50 }), call('c', {}, { call_id: 'conn-2:7', request_seq: 7 })]);
    assert.equal((findCall(s, 'conn-1:5') as { call: DiffableCall }).call.tool, 'a');
    assert.equal((findCall(s, '50') as { call: DiffableCall }).call.tool, 'b');
    assert.equal((findCall(s, 'conn-2') as { call: DiffableCall }).call.tool, 'c');
    assert.match((findCall(s, 'conn-1') as { problem: string }).problem, /ambiguous/);
    assert.match((findCall(s, 'nope') as { problem: string }).problem, /no call "nope"/);
  });
});

// ---------------------------------------------------------------------------------------------
// From journal records and export files.

function records(sessionId: string, spec: { echo: string; capture?: 'metadata'; opaque?: boolean; slowMs?: number }): JournalRecord[] {
  const out: JournalRecord[] = [];
  let n = 0;
  let mono = 0;
  const add = (r: Record<string, unknown>, ms = 1) => {
    mono += ms;
    out.push({ session_id: sessionId, seq: ++n, ts: new Date(Date.UTC(2025, 0, 1) + mono).toISOString(), mono, ...r } as unknown as JournalRecord);
  };
  const msg = (dir: string, message: Record<string, unknown>, ms = 1, extra: Record<string, unknown> = {}) => add({ type: 'message', connection_id: 'c1', dir, size: 10, message: { jsonrpc: '2.0', ...message }, ...extra }, ms);
  add({ type: 'session_start', recorder: { kind: 'cli-record', version: '0', pid: 1, hostname: 'h', user: 'u' } }, 0);
  add({ type: 'connection_open', connection_id: 'c1', server: { name: 'srv', transport: 'stdio' }, upstream: 'stdio' });
  const cap = spec.capture ? { capture: spec.capture } : {};
  if (spec.capture) msg('client_to_server', { id: 1, method: 'tools/call', params: { name: 'echo' }, _mcp_flight: { omitted_bytes: 40 } }, 1, cap);
  else msg('client_to_server', { id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: spec.echo } } });
  if (spec.capture) msg('server_to_client', { id: 1, result: {}, _mcp_flight: { omitted_bytes: 40 } }, spec.slowMs ?? 5, cap);
  else msg('server_to_client', { id: 1, result: { content: [{ type: 'text', text: spec.echo }] } }, spec.slowMs ?? 5);
  if (spec.opaque) {
    add({ type: 'opaque', connection_id: 'c1', dir: 'client_to_server', size: 9_000_000, reason: 'size_limit', sha256: 'ab'.repeat(32), envelope: { kind: 'request', id: 2, method: 'tools/call' } });
    msg('server_to_client', { id: 2, result: { content: [] } }, 3);
  }
  add({ type: 'session_end', reason: 'shutdown' });
  return out;
}

describe('diff: sessions from the journal and from exports', () => {
  it('metadata-only and opaque sides are reported as not compared, never as equal', () => {
    const a = diffSessionFromRecords(records('A', { echo: 'hi', opaque: true }).map((record) => ({ record })), 'store:a', { writerAlive: false });
    const b = diffSessionFromRecords(records('B', { echo: 'hi', capture: 'metadata', opaque: true }).map((record) => ({ record })), 'store:b', { writerAlive: false });
    assert.deepEqual(b.calls[0]!.not_recorded, ['request', 'response']);
    const r = diffSessions(a, b);
    assertValidDiffReport(r);
    assert.equal(r.counts.matched, 2);
    assert.equal(r.complete, false);
    assert.deepEqual(
      r.not_compared.map((n) => [n.part, n.a, n.b]),
      [
        ['arguments', null, 'not_recorded'],
        ['result', null, 'not_recorded'],
        ['arguments', 'opaque', 'opaque'],
      ],
    );
    assert.equal(r.identical, true, 'nothing that was compared differs');
    assert.match(formatSessionDiffText(r), /Not fully compared: 2 matched pairs/);
    assert.match(formatSessionDiffText(r), /recorded at capture level "metadata"/);
  });

  it('a JSON export, a JSONL export and the journal give the same diff', () => {
    const ra = records('A', { echo: 'hi' });
    const rb = records('B', { echo: 'bye', slowMs: 400 });
    const fromRecords = diffSessions(
      diffSessionFromRecords(ra.map((record) => ({ record })), 'x', { writerAlive: false }),
      diffSessionFromRecords(rb.map((record) => ({ record })), 'y', { writerAlive: false }),
    );
    const json = parseSessionExport(exportSessionToString(ra.map((record) => ({ record }))));
    const jsonl = parseSessionExport(exportSessionJsonlToString(rb.map((record) => ({ record }))));
    assert.equal(json.encoding, 'json');
    assert.equal(jsonl.encoding, 'jsonl');
    assert.equal(jsonl.complete, true);
    const fromFiles = diffSessions(diffSessionFromExport(json, 'x'), diffSessionFromExport(jsonl, 'y'));
    assert.deepEqual(fromFiles, fromRecords);
    assert.deepEqual(fromFiles.changed[0]!.changes, ['arguments', 'result']);
    assert.equal(fromFiles.counts.slower, 1);
    assert.equal(fromFiles.a.terminal_state, 'success');
  });

  it('rejects what is not a session export, plainly', () => {
    assert.throws(() => parseSessionExport('{"format":"something/v9","calls":[]}', 'x.json'), /not an MCP Flight Recorder session export/);
    assert.throws(() => parseSessionExport('not json', 'x.json'), /not JSON/);
    assert.throws(() => parseSessionExport('{"format":"mcp-flight.session/v1","session":{"session_id":"s"},"calls":[{"call_id":1}]}', 'x.json'), /calls\[0\]: "call_id"/);
  });
});

describe('diff: a call as a side-by-side document', () => {
  it('sorts members, keeps hostile keys as members, and says what was not recorded', () => {
    const c = call('echo', JSON.parse('{"z":1,"a":{"y":2,"b":3},"__proto__":{"polluted":true}}'), { output: null, opaque: ['response'] });
    const doc = callDocument(c);
    assert.deepEqual(Object.keys(doc.arguments as object), ['__proto__', 'a', 'z']);
    assert.equal(JSON.stringify(doc.arguments), '{"__proto__":{"polluted":true},"a":{"b":3,"y":2},"z":1}');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.match(doc.result as string, /^\[not compared: too large or too deep/);
    assert.deepEqual(Object.keys(doc).slice(0, 9), ['server', 'method', 'tool', 'direction', 'outcome', 'error', 'duration_ms', 'arguments', 'result']);
  });
});
