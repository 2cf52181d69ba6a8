import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

/**
 * Sequential `echo` calls to server-everything: direct, and through the recorder, alternating
 * in one run so that both see the same machine state. Reported as ratios to the direct path.
 */

const ROOT = path.resolve(__dirname, '..');
const EVERYTHING = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const CLI = path.join(ROOT, 'dist', 'cli.js');

export interface LatencyStats {
  p50: number;
  p99: number;
  callsPerSecond: number;
}

export async function measure(transport: Transport, calls: number, message: string): Promise<LatencyStats> {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  for (let i = 0; i < 50; i++) await client.callTool({ name: 'echo', arguments: { message } }); // warm-up
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const s = performance.now();
    await client.callTool({ name: 'echo', arguments: { message } });
    times.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  await client.close();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)]!, p99: times[Math.floor(times.length * 0.99)]!, callsPerSecond: (calls / total) * 1000 };
}

export const direct = (): Transport => new StdioClientTransport({ command: process.execPath, args: [EVERYTHING], stderr: 'ignore' });

export const throughRecord = (store: string): Transport =>
  new StdioClientTransport({ command: process.execPath, args: [CLI, 'record', '--store', store, '--name', 'everything', '--', process.execPath, EVERYTHING], stderr: 'ignore' });

const layers = (which: 'relay' | 'journal', store: string): Transport =>
  new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', path.join(ROOT, 'bench', 'recorder-layers.ts'), which, store, '--', process.execPath, EVERYTHING], stderr: 'ignore', cwd: ROOT });

/** The same stdio path with the journal alone (bench/recorder-layers.ts): what the chain and redaction add is the difference to `throughRecord`. */
export const journalOnly = (store: string): Transport => layers('journal', store);

/** The recorder's stdio channels forwarding to each other, nothing recorded: what forwarding alone costs here. */
export const relayOnly = (store: string): Transport => layers('relay', store);

export const overHttp = (url: string, token: string): Transport =>
  new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function tempStore(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-'));
}
