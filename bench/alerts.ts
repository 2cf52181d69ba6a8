import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlertEngine } from '../src/core/alerts/engine';
import { Recorder } from '../src/core/recording/recorder';
import { JournalWriter } from '../src/core/store/journal';

/**
 * What the alert engine adds to the recorder's hot path: the same tools/call request/response
 * pairs (≈1 KB each, arguments validated against a listed schema) through `ConnectionRecorder.message`
 * into a real journal, with and without an AlertEngine attached. Reported per message: p50 of
 * batches of 1,000 messages, in CPU time (the recorder's budget is ≤ 0.25 ms p50 per call, journal included).
 *
 *   node --import tsx bench/alerts.ts
 */

const TOOLS = ['read_file', 'search_files', 'write_file', 'list_directory'];

function frames(): Array<[boolean, string]> {
  const out: Array<[boolean, string]> = [];
  for (let k = 0; k < 200; k++) {
    out.push([true, JSON.stringify({ jsonrpc: '2.0', id: k + 10, method: 'tools/call', params: { name: TOOLS[k % TOOLS.length], arguments: { path: `/workspace/file-${k}.ts`, query: 'lorem ipsum dolor sit amet '.repeat(12) } } })]);
    out.push([false, JSON.stringify({ jsonrpc: '2.0', id: k + 10, result: { content: [{ type: 'text', text: 'consectetur adipiscing elit '.repeat(18) }] } })]);
  }
  return out;
}

function run(withEngine: boolean, messages: number): number[] {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-alerts-'));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-home-'));
  process.env.MCP_FLIGHT_HOME = home;
  try {
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const engine = withEngine ? new AlertEngine(recorder, { highFrequency: { windowSeconds: 10, threshold: 1_000_000 } }) : undefined;
    const conn = recorder.openConnection({ name: 'bench', transport: 'stdio', command: 'node' }, 'stdio');
    // The handshake and a tools/list, so calls are validated against real schemas.
    conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    const schema = { type: 'object', properties: { path: { type: 'string', minLength: 1 }, query: { type: 'string', maxLength: 10000 } }, required: ['path'] };
    conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS.map((name) => ({ name, description: `The ${name} tool.`, inputSchema: schema })) } }));
    const fs_ = frames();
    const batches: number[] = [];
    const BATCH = 1000;
    for (let b = 0; b < messages / BATCH; b++) {
      const t0 = cpuMs();
      for (let i = 0; i < BATCH; i++) {
        const [up, frame] = fs_[(b * BATCH + i) % fs_.length]!;
        conn.message(up ? 'client_to_server' : 'server_to_client', frame);
      }
      batches.push((cpuMs() - t0) / BATCH);
    }
    engine?.dispose();
    recorder.end();
    journal.close();
    return batches;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** The engine alone: pre-parsed messages handed straight to its inspector (no journal, no parse, no redaction). */
function engineAlone(messages: number): number {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-alerts-'));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-home-'));
  process.env.MCP_FLIGHT_HOME = home;
  try {
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const engine = new AlertEngine(recorder, { highFrequency: { windowSeconds: 10, threshold: 1_000_000 } });
    const conn = recorder.openConnection({ name: 'bench', transport: 'stdio', command: 'node' }, 'stdio');
    conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    const schema = { type: 'object', properties: { path: { type: 'string', minLength: 1 }, query: { type: 'string', maxLength: 10000 } }, required: ['path'] };
    conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS.map((name) => ({ name, description: `The ${name} tool.`, inputSchema: schema })) } }));
    const inspect = recorder.inspectors[0]!;
    const tapped = frames().map(([up, f]) => {
      const value = JSON.parse(f) as { id: number; method?: string };
      return [up, { envelope: up ? { kind: 'request' as const, id: value.id, method: value.method } : { kind: 'response' as const, id: value.id }, value, isJsonRpc: true, seq: 1 }] as const;
    });
    const batches: number[] = [];
    for (let b = 0; b < messages / 1000; b++) {
      const t0 = cpuMs();
      for (let i = 0; i < 1000; i++) {
        const [up, t] = tapped[(b * 1000 + i) % tapped.length]!;
        inspect(conn.id, up ? 'client_to_server' : 'server_to_client', t);
      }
      batches.push((cpuMs() - t0) / 1000);
    }
    engine.dispose();
    recorder.end();
    journal.close();
    return p50(batches);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** This process's CPU time (user + system), in ms: on a shared machine it shows the cost without the waiting. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 40_000);
// Interleaved rounds, so both sides see the same machine load.
const without: number[] = [];
const withE: number[] = [];
for (let round = 0; round < (process.env.BENCH_ENGINE_ONLY ? 0 : 5); round++) {
  // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
  if (round % 2) withE.push(p50(run(true, MESSAGES)));
  without.push(p50(run(false, MESSAGES)));
  if (!(round % 2)) withE.push(p50(run(true, MESSAGES)));
}
if (!process.env.BENCH_ENGINE_ONLY) {
const a = p50(without);
const b = p50(withE);
console.log(`CPU time per message, p50 of batches (median of 5 rounds, ${MESSAGES} messages each):`);
console.log(`  recorder without alerts  ${(a * 1000).toFixed(1)} µs`);
console.log(`  recorder with alerts     ${(b * 1000).toFixed(1)} µs`);
console.log(`  added by the alert engine ${((b - a) * 1000).toFixed(1)} µs per message (a call is two messages)`);
}
const alone = p50([0, 1, 2, 3, 4].map(() => engineAlone(MESSAGES)));
console.log(`  the engine alone         ${(alone * 1000).toFixed(1)} µs per message (its inspector on pre-parsed messages)`);
