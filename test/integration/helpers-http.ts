import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JournalRecord, MessageRecord } from '../../src/core/model/records';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter, listSegments, readSegment } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';

export const EVERYTHING = path.resolve(__dirname, '../../node_modules/@modelcontextprotocol/server-everything/dist/index.js');

export interface TempStore {
  dir: string;
  journal: JournalWriter;
  recorder: Recorder;
  records(): JournalRecord[];
  close(): void;
}

export function tempStore(): TempStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-'));
  const journal = JournalWriter.open(dir);
  const recorder = new Recorder({ kind: 'test', journal });
  return {
    dir,
    journal,
    recorder,
    records: () => readRecords(dir),
    close: () => {
      recorder.end('test done');
      journal.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function readRecords(dir: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const file of listSegments(storeLayout(dir))) {
    const r = readSegment(file, 0, { final: true });
    if (r.problems.length) throw new Error(`journal problems: ${JSON.stringify(r.problems)}`);
    for (const rec of r.records) out.push(rec.record);
  }
  return out;
}

export function messagesOf(records: JournalRecord[], connectionId?: string): MessageRecord[] {
  return records.filter((r): r is MessageRecord => r.type === 'message' && (connectionId === undefined || r.connection_id === connectionId));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface EverythingServer {
  child: ChildProcess;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** server-everything in its own HTTP modes (PORT env); ready once it logs that it listens. */
export async function startEverything(mode: 'streamableHttp' | 'sse'): Promise<EverythingServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = mode === 'sse' ? /Server is running on port/ : /listening on port/;
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`server-everything ${mode} did not start: ${seen}`)), 15_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (ready.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything ${mode} exited with ${code}: ${seen}`));
    });
  });
  return {
    child,
    port,
    url: mode === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`,
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain node:http request (fetch forbids setting Host), reading the whole body. */
export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The JSON-RPC messages in an SSE body (`data:` lines of `message` events). */
export function sseMessages(body: string): unknown[] {
  const out: unknown[] = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) out.push(JSON.parse(data));
  }
  return out;
}

/**
 * The JSON-RPC messages of a POST's answer, whichever form the endpoint chose: an SSE stream, or
 * one JSON body (a message, or an array for a batch).
 */
export function postMessages(res: RawResponse): unknown[] {
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) return sseMessages(res.body);
  if (type.startsWith('application/json')) {
    const parsed = JSON.parse(res.body) as unknown;
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  throw new Error(`not an answer with messages: ${res.status} ${type}`);
}

export const INITIALIZE = (id: number | string = 1, protocolVersion = '2025-06-18') =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-http', version: '0.0.1' } } });
