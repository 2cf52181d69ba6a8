import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { LineSplitter } from '../../src/core/recording/framing';
import { CLI, NODE } from './env';

/**
 * A byte-level stdio client for the recorder: writes JSON-RPC lines and keeps every line that
 * comes back as bytes. The SDK's client refuses what these tests feed the recorder on purpose
 * (20 MB lines, 100,000-deep nesting), so they speak the protocol by hand.
 */
export class RawRecordClient {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: Buffer[] = [];
  stderr = '';
  private waiters: Array<() => void> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(store: string, server: string[], extra: string[] = []) {
    this.child = spawn(NODE, [CLI, 'record', '--store', store, ...extra, '--', ...server], { stdio: ['pipe', 'pipe', 'pipe'] });
    const splitter = new LineSplitter((line) => {
      this.lines.push(Buffer.from(line));
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stdout.on('data', (c: Buffer) => splitter.push(c));
    this.child.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      for (const w of this.waiters.splice(0)) w();
      resolve({ code, signal });
    }));
  }

  send(message: unknown): void {
    this.child.stdin.write(JSON.stringify(message) + '\n');
  }

  /** Waits for the line that answers `id` (matched on the text, so huge or deep lines are never parsed here). */
  async response(id: number, timeoutMs = 20_000): Promise<Buffer> {
    const needle = Buffer.from(`"id":${id}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((l) => l.includes(needle) && (l.includes('"result"') || l.includes('"error"')));
      if (found) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`recorder exited before answering ${id}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no response to ${id} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async json(id: number): Promise<{ result?: Record<string, unknown>; error?: { code: number; message: string } }> {
    return JSON.parse((await this.response(id)).toString('utf8'));
  }

  async initialize(): Promise<void> {
    this.send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-test-client', version: '1' } } });
    await this.response(0);
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  callTool(id: number, name: string, args: Record<string, unknown> = {}): void {
    this.send({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
  }

  async close(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.stdin.end();
    return this.exited;
  }
}
