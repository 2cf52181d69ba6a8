import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { assembleSession } from '../../src/core/analysis/calls';
import { exportSessionJsonl, exportSessionJsonlToString, SESSION_JSONL_FORMAT, sessionJsonlChunks } from '../../src/core/export/jsonl';
import {
  exportSessionJson,
  exportSessionToString,
  type ExportedCall,
  type ExportedConnection,
  type ExportRecord,
  SESSION_EXPORT_FORMAT,
  sessionJsonChunks,
  stringPieces,
} from '../../src/core/export/session-json';
import type { SessionSummary } from '../../src/core/analysis/summary';
import type { Direction, JournalRecord } from '../../src/core/model/records';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';

// ---------------------------------------------------------------------------------------------
// A deterministic session, written record by record with fixed timestamps (no wall clock).

type Stamp = 'session_id' | 'seq' | 'ts' | 'mono';
type Unstamped = JournalRecord extends infer R ? (R extends unknown ? Omit<R, Stamp> : never) : never;

class SessionBuilder {
  readonly records: JournalRecord[] = [];
  private seq = 0;
  private t: number;
  private mono = 1000;

  constructor(
    readonly sessionId = 'sess-0001',
    start = '2025-03-01T10:00:00.000Z',
  ) {
    this.t = Date.parse(start);
  }

  /** Appends a record `ms` milliseconds after the previous one. */
  add(rec: Unstamped, ms = 5): JournalRecord {
    this.t += ms;
    this.mono = Math.round((this.mono + ms) * 1000) / 1000;
    const { type, ...rest } = rec;
    const record = { type, session_id: this.sessionId, seq: ++this.seq, ts: new Date(this.t).toISOString(), mono: this.mono, ...rest } as JournalRecord;
    this.records.push(record);
    return record;
  }

  msg(conn: string, dir: Direction, message: Record<string, unknown>, ms = 5, extra: { origin?: 'recorder'; mcp_session_id?: string } = {}): JournalRecord {
    const full = { jsonrpc: '2.0', ...message };
    return this.add({ type: 'message', connection_id: conn, dir, size: Buffer.byteLength(JSON.stringify(full)), ...extra, message: full }, ms);
  }

  request(conn: string, id: number | string, method: string, params?: unknown, ms = 5): JournalRecord {
    return this.msg(conn, 'client_to_server', { id, method, ...(params !== undefined ? { params } : {}) }, ms);
  }

  result(conn: string, id: number | string, result: unknown, ms = 5): JournalRecord {
    return this.msg(conn, 'server_to_client', { id, result }, ms);
  }

  error(conn: string, id: number | string, code: number, message: string, ms = 5, data?: unknown): JournalRecord {
    return this.msg(conn, 'server_to_client', { id, error: { code, message, ...(data !== undefined ? { data } : {}) } }, ms);
  }

  get items(): ExportRecord[] {
    return this.records.map((record) => ({ record }));
  }
}

const text = (t: string): { content: Array<{ type: 'text'; text: string }> } => ({ content: [{ type: 'text', text: t }] });

function deepText(id: number, depth: number): string {
  return `{"jsonrpc":"2.0","id":${id},"result":{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

/** Every behaviour the export must represent, on two connections. */
function fixtureSession(): SessionBuilder {
  const s = new SessionBuilder();
  s.add({ type: 'session_start', recorder: { kind: 'test', version: '0.1.0', pid: 4242, hostname: 'build-host', user: 'tester' } }, 0);
  s.add({ type: 'connection_open', connection_id: 'c1', server: { name: 'everything', transport: 'stdio', command: 'node', args: ['server.js', '--stdio'], cwd: '/srv/everything', env_names: ['API_KEY'] }, upstream: 'stdio' });
  s.add({ type: 'process_spawn', connection_id: 'c1', pid: 777 });
  s.add({ type: 'non_json', connection_id: 'c1', dir: 'server_to_client', size: 18, reason: 'not_json', forwarded: true, text: 'Server starting...' });
  s.add({ type: 'stderr', connection_id: 'c1', text: 'everything: booting' });
  // seq 6..8: the handshake.
  s.request('c1', 0, 'initialize', { protocolVersion: '2025-06-18', capabilities: { roots: { listChanged: true } }, clientInfo: { name: 'claude-code', version: '1.2.3' } });
  s.result('c1', 0, { protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'mcp-servers/everything', version: '2.0.1' }, instructions: 'Use echo to test.' }, 12);
  s.msg('c1', 'client_to_server', { method: 'notifications/initialized' });
  // seq 9..10: tools/list with annotations.
  s.request('c1', 1, 'tools/list', {});
  s.result('c1', 1, {
    tools: [
      { name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
      { name: 'divide', inputSchema: { type: 'object' } },
      { name: 'longRunning', inputSchema: { type: 'object' }, annotations: { idempotentHint: true } },
      { name: 'writeFile', inputSchema: { type: 'object' }, annotations: { destructiveHint: true } },
      { name: 'slow', inputSchema: { type: 'object' } },
      { name: 'deep', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
      { name: 'crash', inputSchema: { type: 'object' } },
    ],
  });
  // seq 11..12: success.
  s.request('c1', 2, 'tools/call', { name: 'echo', arguments: { message: 'hello' } });
  s.result('c1', 2, text('Echo: hello'), 20);
  // seq 13..14: isError result.
  s.request('c1', 3, 'tools/call', { name: 'divide', arguments: { a: 1, b: 0 } });
  s.result('c1', 3, { ...text('Division by zero'), isError: true }, 7);
  // seq 15..16: invalid params.
  s.request('c1', 4, 'tools/call', { name: 'echo', arguments: {} });
  s.error('c1', 4, -32602, 'Invalid arguments: message is required', 3);
  // seq 17..18: method not found.
  s.request('c1', 5, 'resources/list', {});
  s.error('c1', 5, -32601, 'Method not found', 2);
  // seq 19..23: progress and logging attached to a tool call.
  s.request('c1', 6, 'tools/call', { name: 'longRunning', arguments: { duration: 2, steps: 2 }, _meta: { progressToken: 'p-6' } });
  s.msg('c1', 'server_to_client', { method: 'notifications/progress', params: { progressToken: 'p-6', progress: 1, total: 2 } }, 100);
  s.msg('c1', 'server_to_client', { method: 'notifications/message', params: { level: 'info', logger: 'longRunning', data: 'step 1 done' } }, 1);
  s.msg('c1', 'server_to_client', { method: 'notifications/progress', params: { progressToken: 'p-6', progress: 2, total: 2 } }, 100);
  s.result('c1', 6, text('Long running operation completed'), 10);
  // seq 24..27: a server→client roots/list nested under a tool call.
  s.request('c1', 7, 'tools/call', { name: 'writeFile', arguments: { path: 'notes.txt', content: 'hi' } });
  s.msg('c1', 'server_to_client', { id: 0, method: 'roots/list' });
  s.msg('c1', 'client_to_server', { id: 0, result: { roots: [{ uri: 'file:///work', name: 'work' }] } }, 4);
  s.result('c1', 7, text('wrote notes.txt'), 6);
  // seq 28..30: a cancellation, then the server's late answer (journaled, not paired).
  s.request('c1', 8, 'tools/call', { name: 'slow', arguments: { delayMs: 60000 } });
  s.msg('c1', 'client_to_server', { method: 'notifications/cancelled', params: { requestId: 8, reason: 'user pressed stop' } }, 1500);
  s.result('c1', 8, text('too late'), 50);
  // seq 31..32: a response too deep to keep structured.
  s.request('c1', 9, 'tools/call', { name: 'deep', arguments: { depth: 80 } });
  const deep = deepText(9, 80);
  s.add({ type: 'opaque', connection_id: 'c1', dir: 'server_to_client', size: Buffer.byteLength(deep), reason: 'depth_limit', sha256: crypto.createHash('sha256').update(deep).digest('hex'), envelope: { kind: 'response', id: 9 }, text: deep }, 30);
  // seq 33..35: a timeout, answered by the recorder.
  s.request('c1', 10, 'tools/call', { name: 'echo', arguments: { message: 'anyone there?' } });
  s.add({ type: 'timeout', connection_id: 'c1', request_id: 10, after_ms: 30000 }, 30000);
  s.msg('c1', 'server_to_client', { id: 10, error: { code: -32001, message: 'Request timed out after 30000 ms' } }, 0, { origin: 'recorder' });
  // seq 36..40: a crash, answered by the recorder.
  s.request('c1', 11, 'tools/call', { name: 'crash', arguments: {} });
  s.add({ type: 'stderr', connection_id: 'c1', text: 'fatal: out of memory' }, 15);
  s.add({ type: 'process_exit', connection_id: 'c1', code: 3, signal: null }, 5);
  s.msg('c1', 'server_to_client', { id: 11, error: { code: -32000, message: 'Connection closed: server process exited with code 3' } }, 0, { origin: 'recorder' });
  s.add({ type: 'connection_close', connection_id: 'c1', reason: 'server exited' }, 1);
  // seq 41..: a second, HTTP connection: mcp session id, auth failure, transport error.
  s.add({ type: 'connection_open', connection_id: 'c2', server: { name: 'remote', transport: 'http', url: 'https://mcp.example.com/mcp', header_names: ['Authorization'] }, upstream: 'http' });
  s.request('c2', 1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cursor', version: '0.50' } });
  s.add({ type: 'http_exchange', connection_id: 'c2', method: 'POST', path: '/mcp', status: 200, content_type: 'application/json' }, 40);
  s.msg('c2', 'server_to_client', { id: 1, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'remote', version: '1.4.0' } } }, 0, { mcp_session_id: 'mcp-abc' });
  s.request('c2', 2, 'tools/call', { name: 'search', arguments: { q: 'flight' } });
  s.add({ type: 'http_exchange', connection_id: 'c2', method: 'POST', path: '/mcp', status: 401, www_authenticate: 'Bearer realm="mcp"' }, 25);
  s.msg('c2', 'server_to_client', { id: 2, error: { code: -32000, message: 'Unauthorized', data: { http_status: 401 } } }, 0, { origin: 'recorder' });
  s.add({ type: 'transport_error', connection_id: 'c2', side: 'downstream', message: 'socket hang up' }, 10);
  s.request('c2', 3, 'tools/call', { name: 'search', arguments: { q: 'recorder' } });
  s.add({ type: 'gate_decision', connection_id: 'c2', request_id: 3, decision: 'allow', held_ms: 2 }, 2);
  s.result('c2', 3, text('3 results'), 80);
  s.add({ type: 'connection_close', connection_id: 'c2', reason: 'client closed' }, 5);
  s.add({ type: 'session_end', reason: 'shutdown' }, 2);
  return s;
}

// ---------------------------------------------------------------------------------------------

const GOLDEN_DIR = path.join(__dirname, '..', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE || !fs.existsSync(file)) {
    if (!UPDATE) assert.fail(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  const expected = fs.readFileSync(file, 'utf8');
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const i = a.findIndex((line, n) => line !== e[n]);
    assert.fail(`${name} differs from the golden file at line ${i + 1} (run with UPDATE_GOLDEN=1 to accept):\n  expected: ${(e[i] ?? '<end of file>').slice(0, 300)}\n  actual:   ${(a[i] ?? '<end of file>').slice(0, 300)}`);
  }
}
