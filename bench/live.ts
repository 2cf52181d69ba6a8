import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Recorder } from '../src/core/recording/recorder';
import { JournalWriter } from '../src/core/store/journal';
import { openStore } from '../src/core/store/store';
import { StoreTimelineSource } from '../src/extension/views/timeline-data';

/**
 * Live streaming on the extension host's side: does it keep up with 1,000 calls a second?
 *
 * One process does what the extension host does while an agent is busy — the recorder taps
 * every message (redaction, hash chain, journal), the store's watcher (300 ms, as the extension
 * sets it) catches the index up and reports changed calls, and the timeline panel turns them
 * into the rows it posts to the webview (in batches, 100 ms after a change, as the panel does) —
 * for `seconds` at `rate` calls a second (1 KB payloads).
 * VS Code's own rendering is not part of it (the webview side is measured in headless Chromium
 * by the webview test). Keeping up means every call reaches a row, the lag from its response
 * to its row stays bounded, and the event loop is never blocked long.
 *
 *   node --import tsx bench/live.ts [rate] [seconds]
 */

/** Calls written per task by the simulated agent (see tick). */
const CALLS_PER_TASK = 10;

export interface LiveBench {
  rate: number;
  seconds: number;
  calls: number;
  rows: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Share of the run the event loop was busy (0…1). */
  eventLoopUtilization: number;
  /** The longest the event loop was blocked (ms): what an editor interaction could wait. */
  longestBlockMs: number;
  /** Calls written per second, as achieved. */
  achievedRate: number;
}

export async function benchLive(rate = 1000, seconds = 10, wasmPath?: string): Promise<LiveBench> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-live-'));
  const home = process.env.MCP_FLIGHT_HOME;
  process.env.MCP_FLIGHT_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-bench-home-'));
  try {
    const journal = JournalWriter.open(root);
    const recorder = new Recorder({ kind: 'extension', journal });
    const conn = recorder.openConnection({ name: 'everything', transport: 'stdio', command: 'node' }, 'http');
    const store = await openStore(root, { writeIndex: true, ...(wasmPath ? { wasmPath } : {}) });
    const source = new StoreTimelineSource(store);
    const answeredAt = new Map<string, number>();
    const lags: number[] = [];
    let rows = 0;
    // As the timeline panel does (timeline-panel.ts, scheduleFlush): changed calls are collected,
    // and 100 ms after the first of a batch their rows are built, in a task of their own.
    const pending = new Map<string, { session_id: string; call_id: string }>();
    let flushTimer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      flushTimer = undefined;
      const batch = source.rows(pending.values());
      pending.clear();
      const now = performance.now();
      for (const row of batch) {
        if (row.outcome === 'pending') continue;
        const id = /^\{"n":(\d+),/.exec(row.input_summary)?.[1] ?? '';
        const at = answeredAt.get(id);
        if (at === undefined) continue;
        answeredAt.delete(id);
        lags.push(now - at);
        rows++;
      }
    };
    store.onDidChange((change) => {
      for (const c of change.calls) pending.set(`${c.session_id}/${c.call_id}`, c);
      flushTimer ??= setTimeout(flush, 100);
    });
    const watch = store.watch(300);
    const payload = 'lorem ipsum dolor sit amet '.repeat(38);
    let id = 0;
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        // Writes what the schedule says is due, so a slow tick is caught up rather than lost — at
        // most 10 calls a task, as calls arrive in the host (each HTTP request, each chunk read from a
        // server's pipe is a task of its own): a backlog is written in a run of tasks, not in one.
        const due = Math.min(rate * seconds, Math.floor(((now - t0) / 1000) * rate));
        const stop = Math.min(due, id + CALLS_PER_TASK);
        while (id < stop) {
          const n = ++id;
          conn.message('client_to_server', Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'echo', arguments: { n, message: payload } } })));
          conn.message('server_to_client', Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: n, result: { content: [{ type: 'text', text: `Echo: ${payload}` }] } })));
          answeredAt.set(String(n), performance.now());
        }
        if (id < due) setImmediate(tick);
        else if (now < end) setTimeout(tick, 10);
        else resolve();
      };
      tick();
    });
    const written = performance.now() - t0;
    // Let the watcher collect the last calls (at most a few polls).
    const deadline = performance.now() + 5000;
    while (answeredAt.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const elu = performance.eventLoopUtilization(elu0);
    histogram.disable();
    watch.dispose();
    clearTimeout(flushTimer);
    recorder.end();
    journal.close();
    store.close();
    lags.sort((a, b) => a - b);
    const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(lags.length * p))] ?? NaN;
    return {
      rate,
      seconds,
      calls: id,
      rows,
      lagP50Ms: q(0.5),
      lagP99Ms: q(0.99),
      lagMaxMs: lags[lags.length - 1] ?? NaN,
      eventLoopUtilization: elu.utilization,
      longestBlockMs: histogram.max / 1e6,
      achievedRate: (id / written) * 1000,
    };
  } finally {
    if (home === undefined) delete process.env.MCP_FLIGHT_HOME;
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [rate, seconds] = process.argv.slice(2).map(Number);
  benchLive(rate || 1000, seconds || 10).then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
