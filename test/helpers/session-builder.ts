import type { Direction, JournalRecord } from '../../src/core/model/records';

/**
 * Deterministic journal records for analysis tests: fixed timestamps and monotonic clock, no
 * wall clock, explicit tool arguments and annotations.
 */
type Unstamped = JournalRecord extends infer R ? (R extends unknown ? Omit<R, 'session_id' | 'seq' | 'ts' | 'mono'> : never) : never;

export type Answer = { ok: unknown } | { isError: string } | { error: number; message: string } | { timeout: true } | { crash: true } | { cancel: true } | 'pending';

export class SessionBuilder {
  readonly records: JournalRecord[] = [];
  private seq = 0;
  private t: number;
  private mono = 0;
  private ids = new Map<string, number>();

  constructor(
    readonly sessionId = 'sess-rec',
    start = '2025-03-01T10:00:00.000Z',
  ) {
    this.t = Date.parse(start);
  }

  add(rec: Unstamped, ms = 10): this {
    this.t += ms;
    this.mono += ms;
    const { type, ...rest } = rec;
    this.records.push({ type, session_id: this.sessionId, seq: ++this.seq, ts: new Date(this.t).toISOString(), mono: this.mono, ...rest } as JournalRecord);
    return this;
  }

  /** Lets time pass without a record. */
  wait(ms: number): this {
    this.t += ms;
    this.mono += ms;
    return this;
  }

  start(): this {
    return this.add({ type: 'session_start', recorder: { kind: 'cli-record', version: '0.1.0', pid: 99, hostname: 'laptop', user: 'dev' } }, 0);
  }

  end(reason = 'shutdown'): this {
    return this.add({ type: 'session_end', reason });
  }

  /** Opens a connection, runs the handshake and a tools/list with these tools. */
  open(conn: string, name: string, tools: Array<{ name: string; annotations?: Record<string, unknown> }>): this {
    this.add({ type: 'connection_open', connection_id: conn, server: { name, transport: 'stdio', command: 'node' }, upstream: 'stdio' });
    const init = this.nextId(conn);
    this.send(conn, 'client_to_server', { id: init, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'agent', version: '1.0' } } });
    this.send(conn, 'server_to_client', { id: init, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name, version: '1.0.0' } } });
    const list = this.nextId(conn);
    this.send(conn, 'client_to_server', { id: list, method: 'tools/list', params: {} });
    return this.send(conn, 'server_to_client', { id: list, result: { tools: tools.map((t) => ({ ...t, inputSchema: { type: 'object' } })) } });
  }

  send(conn: string, dir: Direction, message: Record<string, unknown>, ms = 10, origin?: 'recorder'): this {
    const m = { jsonrpc: '2.0', ...message };
    return this.add({ type: 'message', connection_id: conn, dir, size: JSON.stringify(m).length, ...(origin ? { origin } : {}), message: m }, ms);
  }

  call(conn: string, name: string, args: unknown, answer: Answer, ms = 10): this {
    const id = this.nextId(conn);
    this.send(conn, 'client_to_server', { id, method: 'tools/call', params: { name, arguments: args } });
    if (answer === 'pending') return this;
    if ('ok' in answer) return this.send(conn, 'server_to_client', { id, result: { content: [{ type: 'text', text: String(answer.ok) }] } }, ms);
    if ('isError' in answer) return this.send(conn, 'server_to_client', { id, result: { content: [{ type: 'text', text: answer.isError }], isError: true } }, ms);
    if ('timeout' in answer) {
      this.add({ type: 'timeout', connection_id: conn, request_id: id, after_ms: ms }, ms);
      return this.send(conn, 'server_to_client', { id, error: { code: -32001, message: 'Request timed out' } }, 0, 'recorder');
    }
    if ('crash' in answer) {
      this.add({ type: 'process_exit', connection_id: conn, code: 3, signal: null }, ms);
      return this.send(conn, 'server_to_client', { id, error: { code: -32000, message: 'the server exited (code 3)' } }, 0, 'recorder');
    }
    if ('cancel' in answer) return this.send(conn, 'client_to_server', { method: 'notifications/cancelled', params: { requestId: id } }, ms);
    return this.send(conn, 'server_to_client', { id, error: { code: answer.error, message: answer.message } }, ms);
  }

  private nextId(conn: string): number {
    const n = (this.ids.get(conn) ?? 0) + 1;
    this.ids.set(conn, n);
    return n;
  }

  items(): Array<{ record: JournalRecord }> {
    return this.records.map((record) => ({ record }));
  }
}
