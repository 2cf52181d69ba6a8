import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assembleSession } from '../src/core/analysis/calls';
import { Recorder } from '../src/core/recording/recorder';
import { loadSqlJs } from '../src/core/store/index-db';
import { JournalWriter } from '../src/core/store/journal';
import { openStore } from '../src/core/store/store';
import { VERSION } from '../src/core/version';

/**
 * The store at scale: a 100k-call store written straight into the journal (realistic ~1 KB
 * tools/call request + response, several servers, one big session and a few small ones), then
 * ingest through the real Recorder, index build, open, a filtered query, memory, and an export
 * read of the whole big session.
 *
 * CLI: node --import tsx [--expose-gc] bench/store.ts [--calls N] [--keep]
 */

export interface StoreBenchOptions {
  /** Calls in the big session (default 100,000). */
  calls?: number;
  /** Small extra sessions, each from its own writer (default 3 × 1,000 calls). */
  smallSessions?: number;
  smallSessionCalls?: number;
  servers?: number;
  /** Messages pushed through Recorder.tap for the ingest figure (default 40,000). */
  ingestMessages?: number;
  /** Folder to build the store in (default: a temporary folder, removed afterwards unless `keep`). */
  dir?: string;
  keep?: boolean;
  wasmPath?: string;
  log?: (line: string) => void;
}

export interface StoreBenchResult {
  calls: number;
  records: number;
  journalBytes: number;
  generateMs: number;
  /** Frames through Recorder.tap into a real journal (the recording hot path). */
  ingest: { messages: number; ms: number; messagesPerSecond: number };
  /** Journal → index: the first open of a store without an image. */
  build: { ms: number; cpuMs: number; recordsPerSecond: number; callsPerSecond: number; indexBytes: number; indexBytesPerCall: number };
  memory: {
    gcExposed: boolean;
    /** Growth of this process while it built the index (includes transient peaks that the allocator keeps). */
    buildRssPerCall: number;
    /** A fresh process opening the built store: what holding the index costs. */
    openRssPerCall: number;
    openHeapPerCall: number;
    openExternalPerCall: number;
  };
  /** Opening the built store (image present): in this process (sql.js loaded) and in a fresh one (wasm compiled too). */
  open: { ms: number; coldMs: number };
  query: { filter: string; rows: number; medianMs: number; maxMs: number; serverOutcomeMedianMs: number; textOnlyMedianMs: number; sessionPageMedianMs: number };
  exportRead: { records: number; calls: number; readOnlyMs: number; ms: number; cpuMs: number };
  /** `mcp-flight export` end to end (audit section included). */
  exportCli: { ms: number; bytes: number; peakRssBytes: number };
  targets: { ingestMsgPerS: number; memoryBytesPerCall: number; openMs: number; queryMs: number; exportMs: number };
  pass: { ingest: boolean; memory: boolean; open: boolean; query: boolean; exportRead: boolean; exportCli: boolean };
}

const LOREM =
  'The quick brown fox jumps over the lazy dog while the recorder keeps every message in order; ' +
  'agents read files, search code, query databases and call remote services through MCP servers. ';

function text(n: number, seed: number): string {
  let s = '';
  while (s.length < n) s += LOREM.slice(seed % 40) + ` #${seed} `;
  return s.slice(0, n);
}

const TOOLS = ['read_file', 'search_code', 'run_query', 'fetch_url', 'list_directory', 'write_file', 'get_issue', 'send_message'];

interface Gen {
  lines: number;
}

/** Writes one session the way the Recorder lays records out, but without the per-message work, so a 100k-call store takes seconds. */
export function writeSession(root: string, calls: number, servers: number, baseMs: number, needleEvery: number, gen: Gen): string {
  const w = JournalWriter.open(root);
  const sessionId = crypto.randomUUID();
  let seq = 0;
  let mono = 0;
  let now = baseMs;
  const stamp = (): string => `"session_id":"${sessionId}","seq":${++seq},"ts":"${new Date(now).toISOString()}","mono":${mono}`;
  const line = (s: string): void => {
    w.appendLine(s);
    gen.lines++;
  };
  const msg = (conn: string, dir: string, message: string): void => line(`{"type":"message",${stamp()},"connection_id":"${conn}","dir":"${dir}","size":${Buffer.byteLength(message)},"message":${message}}`);
  line(JSON.stringify({ type: 'session_start', session_id: sessionId, seq: ++seq, ts: new Date(now).toISOString(), mono, recorder: { kind: 'test', version: VERSION, pid: process.pid, hostname: os.hostname(), user: 'bench' } }));
  const ids: number[] = [];
  for (let c = 1; c <= servers; c++) {
    const conn = `c${c}`;
    line(JSON.stringify({ type: 'connection_open', session_id: sessionId, seq: ++seq, ts: new Date(now).toISOString(), mono, connection_id: conn, server: { name: `server-${c}`, transport: 'stdio', command: 'node', args: [`server-${c}.js`] }, upstream: 'stdio' }));
    msg(conn, 'client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench-agent', version: '1.0.0' } } }));
    msg(conn, 'server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: `server-${c}`, version: '2.3.4' } } }));
    msg(conn, 'client_to_server', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    msg(conn, 'client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    msg(conn, 'server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' }, annotations: { readOnlyHint: name.startsWith('read') || name.startsWith('get') } })) } }));
    ids.push(2);
  }
  for (let k = 0; k < calls; k++) {
    const c = (k % servers) + 1;
    const conn = `c${c}`;
    const id = ids[c - 1]!;
    ids[c - 1] = id + 1;
    const tool = TOOLS[(k * 7 + c) % TOOLS.length]!;
    const needle = needleEvery > 0 && k % needleEvery === 0 ? ' needle-marker ' : '';
    now += 10;
    mono += 10;
    msg(conn, 'client_to_server', JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { path: `/workspace/project/src/module-${k % 977}/file-${k}.ts`, query: `${needle}${text(300, k)}`, limit: 50 }, _meta: { progressToken: `p${k}` } } }));
    if (k % 50 === 0) msg(conn, 'server_to_client', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: `p${k}`, progress: 1, total: 2 } }));
    now += 3 + (k % 20);
    mono += 3 + (k % 20);
    const r = k % 100;
    if (r < 3) msg(conn, 'server_to_client', JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: `Invalid params: path /workspace/project/src/module-${k % 977} is outside the allowed roots` } }));
    else if (r < 10) msg(conn, 'server_to_client', JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `Error: ${text(400, k + 3)}` }], isError: true } }));
    else msg(conn, 'server_to_client', JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: text(480, k + 1) }], structuredContent: { matches: k % 13, truncated: false } } }));
  }
  now += 5;
  line(JSON.stringify({ type: 'session_end', session_id: sessionId, seq: ++seq, ts: new Date(now).toISOString(), mono, reason: 'shutdown' }));
  w.close();
  return sessionId;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) n += fs.statSync(path.join(dir, f)).size;
  return n;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

function mem(): { rss: number; heap: number; external: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Messages through the real Recorder.tap into a real journal. */
function benchIngest(messages: number): { messages: number; ms: number; messagesPerSecond: number } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-ingest-'));
  try {
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'test', journal });
    const conn = recorder.openConnection({ name: 'bench', transport: 'stdio', command: 'node' }, 'stdio');
    const frames: Array<[boolean, string]> = [];
    for (let k = 0; k < 200; k++) {
      frames.push([true, JSON.stringify({ jsonrpc: '2.0', id: k, method: 'tools/call', params: { name: TOOLS[k % TOOLS.length], arguments: { path: `/workspace/file-${k}.ts`, query: text(300, k) } } })]);
      frames.push([false, JSON.stringify({ jsonrpc: '2.0', id: k, result: { content: [{ type: 'text', text: text(480, k) }] } })]);
    }
    const t0 = performance.now();
    for (let i = 0; i < messages; i++) {
      const [up, frame] = frames[i % frames.length]!;
      conn.message(up ? 'client_to_server' : 'server_to_client', frame);
    }
    const ms = performance.now() - t0;
    recorder.end();
    journal.close();
    return { messages, ms, messagesPerSecond: Math.round((messages / ms) * 1000) };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export async function benchStore(opts: StoreBenchOptions = {}): Promise<StoreBenchResult> {
  const log = opts.log ?? (() => {});
  const calls = opts.calls ?? 100_000;
  const servers = opts.servers ?? 5;
  const smallSessions = opts.smallSessions ?? 3;
  const smallCalls = opts.smallSessionCalls ?? 1_000;
  const root = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-store-'));
  const gcExposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  try {
    const ingest = benchIngest(opts.ingestMessages ?? 40_000);
    log(`ingest: ${ingest.messagesPerSecond} msg/s`);

    let t = performance.now();
    const gen: Gen = { lines: 0 };
    const base = Date.parse('2026-11-20T08:00:00.000Z');
    for (let i = 0; i < smallSessions; i++) writeSession(root, smallCalls, 2, base - (i + 1) * 3_600_000, 0, gen);
    const bigSession = writeSession(root, calls, servers, base, 997, gen);
    const generateMs = performance.now() - t;
    const layoutJournal = path.join(root, 'journal');
    const journalBytes = dirBytes(layoutJournal);
    const totalCalls = calls + smallSessions * smallCalls + (smallSessions * 2 + servers) * 2;
    log(`generated ${gen.lines} records, ${(journalBytes / 1e6).toFixed(1)} MB in ${generateMs.toFixed(0)} ms`);

    const wasm = opts.wasmPath ? { wasmPath: opts.wasmPath } : {};
    await loadSqlJs(opts.wasmPath);
    const m0 = mem();
    let cpu = process.cpuUsage();
    t = performance.now();
    const built = await openStore(root, { writeIndex: true, ...wasm });
    const buildMs = performance.now() - t;
    const buildCpu = cpuMs(cpu);
    const m1 = mem();
    const first = built.initialCatchUp!;
    const indexBytes = fs.statSync(path.join(root, 'index.sqlite')).size;
    log(`built index: ${first.records} records in ${buildMs.toFixed(0)} ms (cpu ${buildCpu} ms), image ${(indexBytes / 1e6).toFixed(1)} MB`);
    built.close();

    const fresh = measureOpenInChild(root, opts.wasmPath);
    log(`fresh process: open ${fresh.ms} ms, rss +${(fresh.rss / 1e6).toFixed(1)} MB`);

    t = performance.now();
    const store = await openStore(root, { writeIndex: true, ...wasm });
    const openMs = performance.now() - t;
    log(`open: ${openMs.toFixed(0)} ms`);

    const timeIt = (n: number, fn: () => number): { times: number[]; last: number } => {
      const times: number[] = [];
      let last = 0;
      for (let i = 0; i < n; i++) {
        const q0 = performance.now();
        last = fn();
        times.push(performance.now() - q0);
      }
      return { times, last };
    };
    const filter = { server: 'server-3', outcome: 'error' as const, text: 'needle' };
    const q = timeIt(15, () => store.calls(filter).length);
    const serverOutcome = timeIt(7, () => store.calls({ server: 'server-2', outcome: ['error', 'timeout'], limit: 200 }).length);
    const textOnly = timeIt(5, () => store.calls({ text: 'needle-marker', limit: 100 }).length);
    const page = timeIt(7, () => store.calls({ sessionId: bigSession, offset: 50_000, limit: 100 }).length);
    log(`query ${JSON.stringify(filter)}: ${q.last} rows, median ${median(q.times).toFixed(1)} ms`);

    t = performance.now();
    let records = 0;
    for (const _ of store.readSessionRecords(bigSession)) records++;
    const readOnlyMs = performance.now() - t;
    cpu = process.cpuUsage();
    t = performance.now();
    const assembler = assembleSession(store.readSessionRecords(bigSession), { keepBodies: 'json' });
    const exportMs = performance.now() - t;
    const exportCpu = cpuMs(cpu);
    const exportCalls = assembler.calls.size;
    log(`export read: ${records} records (${readOnlyMs.toFixed(0)} ms to read), ${exportCalls} calls assembled in ${exportMs.toFixed(0)} ms (cpu ${exportCpu} ms)`);
    store.close();

    // The whole `mcp-flight export` as a user runs it: a fresh process, the store opened, the
    // session read, assembled and written with its audit section, the file fsynced and renamed.
    const cli = exportCli(root, bigSession);
    log(`mcp-flight export: ${cli.ms} ms, ${(cli.bytes / 1e6).toFixed(0)} MB, peak RSS ${(cli.peakRssBytes / 1e6).toFixed(0)} MB`);

    const result: StoreBenchResult = {
      calls: totalCalls,
      records: first.records,
      journalBytes,
      generateMs: Math.round(generateMs),
      ingest: { ...ingest, ms: Math.round(ingest.ms) },
      build: {
        ms: Math.round(buildMs),
        cpuMs: buildCpu,
        recordsPerSecond: Math.round((first.records / buildMs) * 1000),
        callsPerSecond: Math.round((totalCalls / buildMs) * 1000),
        indexBytes,
        indexBytesPerCall: Math.round(indexBytes / totalCalls),
      },
      memory: {
        gcExposed,
        buildRssPerCall: Math.round((m1.rss - m0.rss) / totalCalls),
        openRssPerCall: Math.round(fresh.rss / totalCalls),
        openHeapPerCall: Math.round(fresh.heap / totalCalls),
        openExternalPerCall: Math.round(fresh.external / totalCalls),
      },
      open: { ms: Math.round(openMs), coldMs: fresh.ms },
      query: {
        filter: JSON.stringify(filter),
        rows: q.last,
        medianMs: round1(median(q.times)),
        maxMs: round1(Math.max(...q.times)),
        serverOutcomeMedianMs: round1(median(serverOutcome.times)),
        textOnlyMedianMs: round1(median(textOnly.times)),
        sessionPageMedianMs: round1(median(page.times)),
      },
      exportRead: { records, calls: exportCalls, readOnlyMs: Math.round(readOnlyMs), ms: Math.round(exportMs), cpuMs: exportCpu },
      exportCli: cli,
      targets: { ingestMsgPerS: 20_000, memoryBytesPerCall: 1024, openMs: 1000, queryMs: 50, exportMs: 3000 },
      pass: { ingest: false, memory: false, open: false, query: false, exportRead: false, exportCli: false },
    };
    result.pass = {
      ingest: result.ingest.messagesPerSecond >= result.targets.ingestMsgPerS,
      memory: Math.max(result.build.indexBytesPerCall, result.memory.openRssPerCall, result.memory.openHeapPerCall + result.memory.openExternalPerCall) <= result.targets.memoryBytesPerCall,
      open: Math.max(result.open.ms, result.open.coldMs) <= result.targets.openMs,
      query: result.query.medianMs <= result.targets.queryMs,
      exportRead: result.exportRead.ms <= result.targets.exportMs,
      exportCli: result.exportCli.ms <= result.targets.exportMs,
    };
    return result;
  } finally {
    if (!opts.keep && !opts.dir) fs.rmSync(root, { recursive: true, force: true });
  }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return Math.round((u.user + u.system) / 1000);
}

interface OpenMeasure {
  ms: number;
  rss: number;
  heap: number;
  external: number;
}

/** Opens the store in a fresh process, so that the memory figure is what the index costs and nothing left over from building it. */
/** `mcp-flight export` of one session in a child process, timed from spawn to exit, with the child's peak RSS. */
function exportCli(root: string, sessionId: string): { ms: number; bytes: number; peakRssBytes: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-export-'));
  const out = path.join(dir, 'export.json');
  const rssFile = path.join(dir, 'rss');
  // Preloaded into the CLI's process: its own peak RSS, written as it exits.
  const preload = path.join(dir, 'rss.js');
  fs.writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS * 1024)));`);
  try {
    const cli = path.resolve(__dirname, '..', 'dist', 'cli.js');
    const t = performance.now();
    const r = spawnSync(process.execPath, ['-r', preload, cli, 'export', '--store', root, '--session', sessionId, '--out', out], { encoding: 'utf8' });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`mcp-flight export failed: ${r.stderr}`);
    return { ms: Math.round(ms), bytes: fs.statSync(out).size, peakRssBytes: Number(fs.readFileSync(rssFile, 'utf8')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function measureOpenInChild(root: string, wasmPath?: string): OpenMeasure {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--measure-open', root, ...(wasmPath ? ['--wasm', wasmPath] : [])], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`open measurement failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as OpenMeasure;
}

async function measureOpen(root: string, wasmPath?: string): Promise<OpenMeasure> {
  const t = performance.now();
  // The wasm heap sql.js starts with is a fixed cost, not a per-call one: it is outside the delta, inside the time.
  await loadSqlJs(wasmPath);
  const loaded = performance.now();
  const before = mem();
  const t1 = performance.now();
  const store = await openStore(root, wasmPath ? { wasmPath } : {});
  const ms = loaded - t + (performance.now() - t1);
  // Touch it as a view would, so that lazily built parts count.
  store.sessions();
  store.calls({ limit: 100 });
  const after = mem();
  store.close();
  return { ms: Math.round(ms), rss: after.rss - before.rss, heap: after.heap - before.heap, external: after.external - before.external };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const measure = arg('--measure-open');
  const wasmArg = arg('--wasm');
  if (measure) {
    measureOpen(measure, wasmArg).then(
      (m) => process.stdout.write(JSON.stringify(m)),
      (err) => {
        console.error(err);
        process.exitCode = 2;
      },
    );
  } else {
    const callsArg = arg('--calls');
    benchStore({ ...(callsArg ? { calls: Number(callsArg) } : {}), ...(wasmArg ? { wasmPath: wasmArg } : {}), keep: args.includes('--keep'), log: (l) => console.error(l) })
      .then((r) => {
        console.log(JSON.stringify(r, null, 2));
        if (!r.memory.gcExposed) console.error('note: run with --expose-gc for steadier memory figures');
        process.exitCode = Object.values(r.pass).every(Boolean) ? 0 : 1;
      })
      .catch((err) => {
        console.error(err);
        process.exitCode = 2;
      });
  }
}
