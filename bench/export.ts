import { exportSessionJson } from '../src/core/export/session-json';
import { exportSessionJsonl } from '../src/core/export/jsonl';
import type { JournalRecord } from '../src/core/model/records';

/** Export time of a 100,000-call session (JSON and JSONL), from records already in memory. */
export function benchExport(n = 100_000): { calls: number; jsonMs: number; jsonlMs: number; jsonBytes: number } {
  const records: JournalRecord[] = [];
  const base = Date.parse('2025-03-01T10:00:00.000Z');
  let seq = 0;
  const stamp = () => {
    seq++;
    return { session_id: 'sess-big', seq, ts: new Date(base + seq).toISOString(), mono: seq };
  };
  records.push({ type: 'session_start', ...stamp(), recorder: { kind: 'test', version: '0.1.0', pid: 1, hostname: 'h', user: 'u' } });
  records.push({ type: 'connection_open', ...stamp(), connection_id: 'c1', server: { name: 'everything', transport: 'stdio', command: 'node' }, upstream: 'stdio' });
  for (let i = 0; i < n; i++) {
    records.push({ type: 'message', ...stamp(), connection_id: 'c1', dir: 'client_to_server', size: 90, message: { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `hello ${i}` } } } });
    const result = i % 10 === 0 ? { content: [{ type: 'text', text: `bad ${i}` }], isError: true } : { content: [{ type: 'text', text: `Echo: hello ${i}` }] };
    records.push({ type: 'message', ...stamp(), connection_id: 'c1', dir: 'server_to_client', size: 80, message: { jsonrpc: '2.0', id: i, result } });
  }
  records.push({ type: 'session_end', ...stamp(), reason: 'shutdown' });
  const items = records.map((record) => ({ record }));
  let jsonBytes = 0;
  let t0 = performance.now();
  const r = exportSessionJson(items, (c) => {
    jsonBytes += c.length;
  });
  const jsonMs = performance.now() - t0;
  if (r.calls !== n) throw new Error(`exported ${r.calls} calls, expected ${n}`);
  t0 = performance.now();
  exportSessionJsonl(items, () => undefined);
  const jsonlMs = performance.now() - t0;
  return { calls: n, jsonMs, jsonlMs, jsonBytes };
}

if (require.main === module) console.log(benchExport());
