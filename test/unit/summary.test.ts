import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assembleSession, jsonPrefix, summarize } from '../../src/core/analysis/calls';
import { formatDuration, formatSummaryText, summarizeSession, terminalState, type SessionSummary } from '../../src/core/analysis/summary';
import type { Direction, JournalRecord } from '../../src/core/model/records';

// A small deterministic session builder: fixed timestamps, no wall clock.
type Unstamped = JournalRecord extends infer R ? (R extends unknown ? Omit<R, 'session_id' | 'seq' | 'ts' | 'mono'> : never) : never;

class Builder {
  readonly records: JournalRecord[] = [];
  private seq = 0;
  private t = Date.parse('2025-03-01T10:00:00.000Z');
  private mono = 0;
  private ids = new Map<string, number>();

  constructor(readonly sessionId = 'sess-sum') {}

  add(rec: Unstamped, ms = 10): this {
    this.t += ms;
    this.mono += ms;
    const { type, ...rest } = rec;
    this.records.push({ type, session_id: this.sessionId, seq: ++this.seq, ts: new Date(this.t).toISOString(), mono: this.mono, ...rest } as JournalRecord);
    return this;
  }

  start(): this {
    return this.add({ type: 'session_start', recorder: { kind: 'cli-record', version: '0.1.0', pid: 99, hostname: 'laptop', user: 'dev' } }, 0);
  }

  end(reason = 'shutdown'): this {
    return this.add({ type: 'session_end', reason });
  }

  open(conn: string, name: string, client = { name: 'claude-code', version: '1.2.3' }, serverVersion = '1.0.0'): this {
    this.add({ type: 'connection_open', connection_id: conn, server: { name, transport: 'stdio', command: 'node' }, upstream: 'stdio' });
    this.send(conn, 'client_to_server', { id: this.nextId(conn), method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: client } });
    return this.send(conn, 'server_to_client', { id: this.lastId(conn), result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name, version: serverVersion } } });
  }

  send(conn: string, dir: Direction, message: Record<string, unknown>, ms = 10, origin?: 'recorder'): this {
    const m = { jsonrpc: '2.0', ...message };
    return this.add({ type: 'message', connection_id: conn, dir, size: JSON.stringify(m).length, ...(origin ? { origin } : {}), message: m }, ms);
  }

  /** A tools/call and its answer: 'ok', 'isError', an error code, 'timeout', or 'pending'. */
  tool(conn: string, name: string, answer: 'ok' | 'isError' | 'timeout' | 'pending' | 'cancel' | number, ms = 10, message = 'it failed'): this {
    const id = this.nextId(conn);
    this.send(conn, 'client_to_server', { id, method: 'tools/call', params: { name, arguments: { n: id } } });
    if (answer === 'ok') return this.send(conn, 'server_to_client', { id, result: { content: [{ type: 'text', text: 'fine' }] } }, ms);
    if (answer === 'isError') return this.send(conn, 'server_to_client', { id, result: { content: [{ type: 'text', text: message }], isError: true } }, ms);
    if (answer === 'timeout') {
      this.add({ type: 'timeout', connection_id: conn, request_id: id, after_ms: ms }, ms);
      return this.send(conn, 'server_to_client', { id, error: { code: -32001, message: 'Request timed out' } }, 0, 'recorder');
    }
    if (answer === 'cancel') return this.send(conn, 'client_to_server', { method: 'notifications/cancelled', params: { requestId: id } }, ms);
    if (answer === 'pending') return this;
    return this.send(conn, 'server_to_client', { id, error: { code: answer, message } }, ms);
  }

  private nextId(conn: string): number {
    const n = (this.ids.get(conn) ?? 0) + 1;
    this.ids.set(conn, n);
    return n;
  }

  private lastId(conn: string): number {
    return this.ids.get(conn) ?? 0;
  }

  summary(writerAlive = false, extra: { lastRecordTs?: string; maxFailures?: number } = {}): SessionSummary {
    return summarizeSession(assembleSession(this.records.map((record) => ({ record }))), { writerAlive, ...extra });
  }
}

describe('summarizeSession: counts', () => {
  const b = new Builder().start().open('c1', 'files').tool('c1', 'read', 'ok').tool('c1', 'read', 'ok').tool('c1', 'write', 'isError', 10, 'disk full').tool('c1', 'read', -32602, 5, 'Invalid arguments').tool('c1', 'slow', 'timeout', 30000).tool('c1', 'slow', 'cancel', 200);
  b.send('c1', 'client_to_server', { id: 100, method: 'prompts/list' }).send('c1', 'server_to_client', { id: 100, error: { code: -32601, message: 'Method not found' } });
  b.tool('c1', 'hang', 'pending');
  const s = b.summary(true);

  it('counts tool calls by outcome, and every other request separately', () => {
    assert.deepEqual(
      [s.tool_calls, s.successful_calls, s.failed_calls, s.cancelled_calls, s.pending_calls, s.other_requests],
      [7, 2, 3, 1, 1, 2],
    );
    assert.equal(s.tool_calls, s.successful_calls + s.failed_calls + s.cancelled_calls + s.pending_calls);
  });

  it('counts errors by class over every method, cancellations included', () => {
    assert.deepEqual(s.errors_by_class, { invalid_params: 1, method_not_found: 1, tool_error: 1, timeout: 1, cancelled: 1 });
    assert.deepEqual(Object.keys(s.errors_by_class), ['invalid_params', 'method_not_found', 'tool_error', 'timeout', 'cancelled']);
  });

  it('lists failures of any method in request order, with class, code and message', () => {
    assert.deepEqual(
      s.failures.map((f) => [f.call_id, f.tool, f.outcome, f.error_class, f.error_code, f.message]),
      [
        ['c1:9', 'write', 'error', 'tool_error', 'TOOL_ERROR', 'disk full'],
        ['c1:11', 'read', 'error', 'invalid_params', -32602, 'Invalid arguments'],
        ['c1:13', 'slow', 'timeout', 'timeout', -32001, 'Request timed out'],
        ['c1:18', 'prompts/list', 'error', 'method_not_found', -32601, 'Method not found'],
      ],
    );
    assert.equal(s.failures_omitted, 0);
  });

  it('reports identity, timing and event counts', () => {
    assert.equal(s.session_id, 'sess-sum');
    assert.equal(s.started_at, '2025-03-01T10:00:00.000Z');
    assert.equal(s.ended_at, null);
    assert.equal(s.end_reason, null);
    assert.equal(s.terminal_state, 'in_progress');
    // Not ended: the duration runs to the latest activity the calls show.
    assert.equal(s.duration_ms, Date.parse(b.records[b.records.length - 1]!.ts) - Date.parse('2025-03-01T10:00:00.000Z'));
    assert.deepEqual(s.servers, [{ name: 'files', version: '1.0.0', connections: 1, calls: 7, failures: 3 }]);
    assert.deepEqual(s.agents, [{ agent_id: 'claude-code/1.2.3', name: 'claude-code', version: '1.2.3', connections: 1, calls: 7 }]);
    assert.deepEqual(s.events, { stderr_lines: 0, non_json_frames: 0, opaque_frames: 0, transport_errors: 0, timeouts: 1, abnormal_exits: 0, spawn_errors: 0 });
    assert.deepEqual(s.recorder, { kind: 'cli-record', version: '0.1.0', pid: 99, hostname: 'laptop', user: 'dev' });
    assert.equal(s.replay_of, null);
  });

  it('takes the duration of an unfinished session up to the last record when told', () => {
    assert.equal(b.summary(true, { lastRecordTs: '2025-03-01T10:05:00.000Z' }).duration_ms, 300_000);
  });

  it('caps the failure list', () => {
    const capped = b.summary(true, { maxFailures: 1 });
    assert.equal(capped.failures.length, 1);
    assert.equal(capped.failures_omitted, 3);
  });
});

describe('summarizeSession: servers, agents and events', () => {
  it('groups connections by server name and version, and by agent', () => {
    const b = new Builder().start().open('c1', 'files').open('c2', 'files').open('c3', 'git', { name: 'cursor', version: '0.50' }, '2.1.0');
    b.tool('c1', 'read', 'ok').tool('c2', 'read', 'isError').tool('c3', 'log', 'ok').tool('c3', 'log', 'ok').end();
    const s = b.summary();
    assert.deepEqual(s.servers, [
      { name: 'files', version: '1.0.0', connections: 2, calls: 2, failures: 1 },
      { name: 'git', version: '2.1.0', connections: 1, calls: 2, failures: 0 },
    ]);
    assert.deepEqual(s.agents, [
      { agent_id: 'claude-code/1.2.3', name: 'claude-code', version: '1.2.3', connections: 2, calls: 2 },
      { agent_id: 'cursor/0.50', name: 'cursor', version: '0.50', connections: 1, calls: 2 },
    ]);
  });

  it('counts stderr, non-JSON, opaque, transport errors, abnormal exits and spawn errors', () => {
    const b = new Builder().start();
    for (const c of ['c1', 'c2', 'c3', 'c4']) b.add({ type: 'connection_open', connection_id: c, server: { name: c, transport: 'stdio', command: 'x' }, upstream: 'stdio' });
    b.add({ type: 'stderr', connection_id: 'c1', text: 'a' }).add({ type: 'stderr', connection_id: 'c2', text: 'b' });
    b.add({ type: 'non_json', connection_id: 'c1', dir: 'server_to_client', size: 3, reason: 'not_json', forwarded: true, text: 'hi!' });
    b.add({ type: 'opaque', connection_id: 'c1', dir: 'server_to_client', size: 3, reason: 'size_limit', sha256: '0'.repeat(64), envelope: { kind: 'notification', method: 'x' } });
    b.add({ type: 'transport_error', connection_id: 'c2', side: 'downstream', message: 'EPIPE' });
    b.add({ type: 'process_exit', connection_id: 'c1', code: 0, signal: null });
    b.add({ type: 'process_exit', connection_id: 'c2', code: null, signal: 'SIGKILL' });
    b.add({ type: 'process_exit', connection_id: 'c3', code: 1, signal: null });
    b.add({ type: 'spawn_error', connection_id: 'c4', code: 'ENOENT', message: 'spawn x ENOENT' });
    const s = b.end().summary();
    assert.deepEqual(s.events, { stderr_lines: 2, non_json_frames: 1, opaque_frames: 1, transport_errors: 1, timeouts: 0, abnormal_exits: 2, spawn_errors: 1 });
    assert.deepEqual(s.servers.map((v) => [v.name, v.version]), [['c1', null], ['c2', null], ['c3', null], ['c4', null]]);
    assert.deepEqual(s.agents, []);
  });

  it('copes with a journal that lost its session_start', () => {
    const b = new Builder().start().open('c1', 'files').tool('c1', 'read', 'isError');
    b.records.shift();
    const s = b.summary();
    assert.equal(s.session_id, 'sess-sum');
    assert.equal(s.started_at, null);
    assert.equal(s.duration_ms, null);
    assert.equal(s.recorder, null);
    assert.equal(s.terminal_state, 'interrupted');
    assert.equal(s.failed_calls, 1);
    assert.deepEqual(s.servers.map((v) => v.name), ['files']);
  });

  it('keeps failure messages on one line and at most 300 characters', () => {
    const s = new Builder().start().open('c1', 'files').tool('c1', 'read', 'isError', 10, `line one\n\tline two  ${'x'.repeat(400)}`).end().summary();
    const m = s.failures[0]!.message;
    assert.equal(m.length, 300);
    assert.ok(m.startsWith('line one line two xxx'));
    assert.ok(m.endsWith('…'));
  });
});

describe('summarizeSession: terminal_state', () => {
  const fresh = (): Builder => new Builder().start().open('c1', 'files');

  it('in_progress: no session_end and the writer is alive', () => {
    assert.equal(fresh().tool('c1', 'read', 'ok').summary(true).terminal_state, 'in_progress');
    assert.equal(fresh().tool('c1', 'read', 'pending').summary(true).terminal_state, 'in_progress');
  });

  it('interrupted: no session_end and the writer is gone', () => {
    assert.equal(fresh().tool('c1', 'read', 'ok').summary(false).terminal_state, 'interrupted');
  });

  it('interrupted: the session ended with a call still pending (tool call or any other request)', () => {
    assert.equal(fresh().tool('c1', 'read', 'ok').tool('c1', 'hang', 'pending').end().summary().terminal_state, 'interrupted');
    const b = fresh().tool('c1', 'read', 'ok');
    b.send('c1', 'server_to_client', { id: 'srv-1', method: 'roots/list' }).end();
    const s = b.summary();
    assert.equal(s.pending_calls, 0);
    assert.equal(s.terminal_state, 'interrupted');
  });

  it('partial_success: failed and successful tool calls', () => {
    assert.equal(fresh().tool('c1', 'read', 'ok').tool('c1', 'read', -32602).end().summary().terminal_state, 'partial_success');
    assert.equal(fresh().tool('c1', 'read', 'timeout').tool('c1', 'read', 'ok').end().summary().terminal_state, 'partial_success');
  });

  it('failure: only failed tool calls (errors, isError results, timeouts)', () => {
    const s = fresh().tool('c1', 'read', 'isError').tool('c1', 'read', 'timeout').tool('c1', 'x', -32603).tool('c1', 'y', 'cancel').end().summary();
    assert.deepEqual([s.failed_calls, s.successful_calls, s.cancelled_calls], [3, 0, 1]);
    assert.equal(s.terminal_state, 'failure');
  });

  it('success: all tool calls succeeded, only cancellations, or no tool calls at all', () => {
    assert.equal(fresh().tool('c1', 'read', 'ok').end().summary().terminal_state, 'success');
    assert.equal(fresh().tool('c1', 'read', 'cancel').end().summary().terminal_state, 'success');
    assert.equal(fresh().end().summary().terminal_state, 'success');
    // A failed request that is not a tool call does not make the session a failure.
    const b = fresh();
    b.send('c1', 'client_to_server', { id: 50, method: 'prompts/list' }).send('c1', 'server_to_client', { id: 50, error: { code: -32601, message: 'Method not found' } });
    assert.equal(b.end().summary().terminal_state, 'success');
  });

  it('applies the rules in order', () => {
    const t = (ended: boolean, writerAlive: boolean, pendingCalls: number, failedCalls: number, successfulCalls: number): string => terminalState({ ended, writerAlive, pendingCalls, failedCalls, successfulCalls });
    assert.equal(t(false, true, 3, 3, 3), 'in_progress');
    assert.equal(t(false, false, 0, 0, 3), 'interrupted');
    assert.equal(t(true, true, 1, 0, 3), 'interrupted');
    assert.equal(t(true, false, 0, 2, 3), 'partial_success');
    assert.equal(t(true, false, 0, 2, 0), 'failure');
    assert.equal(t(true, false, 0, 0, 0), 'success');
  });
});

describe('formatSummaryText', () => {
  it('prints a compact, aligned summary with the failures', () => {
    const b = new Builder().start().open('c1', 'files').open('c2', 'git', { name: 'cursor', version: '0.50' }, '2.1.0');
    b.tool('c1', 'read_file', 'ok').tool('c1', 'write_file', 'isError', 10, 'EACCES: permission denied').tool('c2', 'git_log', -32602, 5, 'Invalid arguments:\n  path is required').tool('c2', 'git_log', 'timeout', 30000).tool('c2', 'git_status', 'ok', 1200);
    b.add({ type: 'stderr', connection_id: 'c1', text: 'warn' });
    b.end();
    assert.equal(
      formatSummaryText(b.summary()),
      [
        'Session     sess-sum (cli-record 0.1.0 on laptop)',
        'State       partial_success  recovery abandoned',
        'Time        2025-03-01T10:00:00.000Z → 2025-03-01T10:00:31.355Z (31.4 s) reason: shutdown',
        'Tool calls  5  ok 2  failed 3  cancelled 0  pending 0',
        'Other       2 requests',
        'Servers     files 1.0.0  calls 2  failures 1',
        '            git 2.1.0    calls 3  failures 2',
        'Agents      claude-code/1.2.3, cursor/0.50',
        'Errors      invalid_params 1  tool_error 1  timeout 1',
        'Events      stderr lines 1  timeouts 1',
        'Failures (3)',
        '  c1:10  files/write_file  tool_error      TOOL_ERROR  EACCES: permission denied',
        '  c2:12  git/git_log       invalid_params  -32602      Invalid arguments: path is required',
        '  c2:14  git/git_log       timeout         -32001      Request timed out',
        '',
      ].join('\n'),
    );
  });

  it('shows a running session, a single server without prefixes, and truncates', () => {
    const b = new Builder().start().open('c1', 'files');
    for (let i = 0; i < 3; i++) b.tool('c1', 'read', 'isError', 10, `failure number ${i} ${'y'.repeat(100)}`);
    const text = formatSummaryText(b.summary(true, { maxFailures: 2 }), { width: 80 });
    assert.equal(
      text,
      [
        'Session     sess-sum (cli-record 0.1.0 on laptop)',
        'State       in_progress  recovery pending',
        'Time        2025-03-01T10:00:00.000Z → (running) (90 ms)',
        'Tool calls  3  ok 0  failed 3  cancelled 0  pending 0',
        'Other       1 request',
        'Servers     files 1.0.0  calls 3  failures 3',
        'Agents      claude-code/1.2.3',
        'Errors      tool_error 3',
        'Events      none',
        'Failures (3)',
        '  c1:5  read  tool_error  TOOL_ERROR  failure number 0 yyyyyyyyyyyyyyyyyyyyyyyy…',
        '  c1:7  read  tool_error  TOOL_ERROR  failure number 1 yyyyyyyyyyyyyyyyyyyyyyyy…',
        '  … and 1 more',
        '',
      ].join('\n'),
    );
    for (const line of text.split('\n')) assert.ok(line.length <= 80 && line === line.trimEnd(), JSON.stringify(line));
  });
});

describe('formatDuration', () => {
  it('picks a readable unit', () => {
    assert.deepEqual([0, 850, 1234, 12_345, 245_000, 7_380_000].map(formatDuration), ['0 ms', '850 ms', '1.23 s', '12.3 s', '4 min 05 s', '2 h 03 min']);
  });
});

describe('call summaries', () => {
  it('are the start of JSON.stringify without serialising the whole value (property test)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 300 }), (v, n) => {
        const full = JSON.stringify(v);
        const prefix = jsonPrefix(v, n);
        assert.ok(prefix !== undefined);
        const k = Math.min(n, full.length);
        assert.equal(prefix.slice(0, k), full.slice(0, k));
        if (full.length <= n) assert.equal(prefix, full);
      }),
      { numRuns: 5000 },
    );
    // Cuts inside escapes and surrogate pairs keep exactly JSON.stringify's text.
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), fc.integer({ min: 0, max: 300 }), (s, n) => {
        const v = { a: [s, { b: s }] };
        const full = JSON.stringify(v);
        const k = Math.min(n, full.length);
        assert.equal(jsonPrefix(v, n)!.slice(0, k), full.slice(0, k));
      }),
      { numRuns: 5000 },
    );
    assert.equal(summarize({ big: 'x'.repeat(1_000_000) }), `{"big":"${'x'.repeat(191)}…`);
    assert.equal(jsonPrefix({ toJSON: () => 1 }, 10), undefined, 'anything but parsed JSON is left to JSON.stringify');
    assert.equal(summarize(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  });
});
