import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Disposable } from '../model/events';
import type { JournalRecord, OtlpPushRecord } from '../model/records';
import type { Recorder } from '../recording/recorder';
import { SessionTraceBuilder, type OtlpOptions } from './otlp';

/**
 * Live push of recorded sessions to an OTLP/HTTP collector (docs/otlp.md).
 *
 * Off the recorder's hot path: the recorder's record listener only appends the record to an
 * inbox; assembling calls, building spans and sending happen later, on the event loop's next
 * turn and on timers. A span leaves when its call completes, in batches; the session's root
 * span when the session ends. Nothing here can block or fail the recording: the queue is
 * bounded (the oldest spans are dropped past it), failed batches are retried with a growing
 * backoff, and an outage, every drop and the recovery are journaled as `otlp_push` records in
 * the session, where the views and exports show them.
 *
 * The SDK's BatchSpanProcessor is not used: it takes spans from a live tracer and drops a batch
 * whose export failed, where these spans come from the record and must survive an outage.
 * Serialisation and HTTP (with its own short retries on 429/502/503/504 and network errors)
 * are the OpenTelemetry exporter's.
 */

export interface OtlpPushOptions extends OtlpOptions {
  /** The collector: a full `…/v1/traces` URL, or a base URL (no path) to which `/v1/traces` is added. */
  endpoint: string;
  /** Extra request headers (collector authentication). */
  headers?: Record<string, string>;
  /** Spans waiting at most; past it the oldest are dropped (default 2048). */
  maxQueueSpans?: number;
  /** Spans per request (default 512). */
  maxBatchSpans?: number;
  /** How long a finished span waits for others to join its batch (default 1000 ms). */
  flushDelayMs?: number;
  /** First wait after a failed batch, doubled up to `maxBackoffMs` (defaults 1 s and 60 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Instead of the OTLP/HTTP JSON exporter (tests of the queue alone). */
  exporter?: SpanExporter;
  /** Lines for people (the CLI's stderr, the extension's output channel). */
  log?: (line: string) => void;
  /** Each journaled state change (the extension warns once per outage). */
  onStatus?: (status: OtlpPushRecord['status'], detail: string) => void;
}

export interface OtlpPushStats {
  exported: number;
  dropped: number;
  queued: number;
  failing: boolean;
  lastError?: string;
}

const DEFAULTS = { maxQueueSpans: 2048, maxBatchSpans: 512, flushDelayMs: 1000, initialBackoffMs: 1000, maxBackoffMs: 60_000 };

/** `http://host:4318` → `http://host:4318/v1/traces`; a URL with a path is used as given. */
export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the OTLP endpoint must be an http or https URL, not ${u.protocol}`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u.href;
}

/** What may be written into the journal about the endpoint: no credentials, no query. */
export function endpointForRecord(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[unparseable URL]';
  }
}

export class OtlpLivePush {
  private readonly exporter: SpanExporter;
  private readonly opts: typeof DEFAULTS;
  private readonly url: string;
  private readonly builders = new Map<string, SessionTraceBuilder>();
  private readonly lastSeq = new Map<string, number>();
  private readonly recorders: Recorder[] = [];
  private readonly subscriptions: Disposable[] = [];
  private inbox: JournalRecord[] = [];
  private drainScheduled = false;
  private queue: ReadableSpan[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private inFlightSpans = 0;
  private backoffMs: number;
  private failing = false;
  private closed = false;
  private readonly stats = { exported: 0, dropped: 0, lastError: undefined as string | undefined };

  constructor(private readonly options: OtlpPushOptions) {
    this.url = tracesUrl(options.endpoint);
    this.opts = {
      maxQueueSpans: options.maxQueueSpans ?? DEFAULTS.maxQueueSpans,
      maxBatchSpans: options.maxBatchSpans ?? DEFAULTS.maxBatchSpans,
      flushDelayMs: options.flushDelayMs ?? DEFAULTS.flushDelayMs,
      initialBackoffMs: options.initialBackoffMs ?? DEFAULTS.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs ?? DEFAULTS.maxBackoffMs,
    };
    this.backoffMs = this.opts.initialBackoffMs;
    // The exporter also honours the standard OTEL_EXPORTER_OTLP_* variables for what is not set here (timeout, compression, certificates).
    this.exporter = options.exporter ?? new OTLPTraceExporter({ url: this.url, headers: options.headers ?? {} });
  }

  get endpoint(): string {
    return endpointForRecord(this.url);
  }

  /**
   * Follows a recording session (several, in the extension: its session and replays). A push
   * started mid-session is given the session's records so far (`backlog`, from the journal,
   * read in the same turn as this call), so the new endpoint gets the whole session.
   */
  attach(recorder: Recorder, backlog?: Iterable<JournalRecord>): void {
    this.recorders.push(recorder);
    // Without a backlog: session_start, written by the recorder's constructor before this listener existed.
    if (backlog) for (const r of backlog) this.inbox.push(r);
    else this.inbox.push(recorder.started);
    this.scheduleDrain();
    this.subscriptions.push(
      recorder.onRecord((r) => {
        // The whole of the hot-path cost: one push. Everything else happens on a later turn.
        if (this.closed) return;
        this.inbox.push(r);
        this.scheduleDrain();
      }),
    );
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  getStats(): OtlpPushStats {
    return { exported: this.stats.exported, dropped: this.stats.dropped, queued: this.queue.length, failing: this.failing, ...(this.stats.lastError ? { lastError: this.stats.lastError } : {}) };
  }

  private drain(): void {
    this.drainScheduled = false;
    const records = this.inbox;
    this.inbox = [];
    const spans: ReadableSpan[] = [];
    for (const r of records) {
      if (r.type === 'otlp_push') continue;
      // A backlog and the live listener may both hold a record; each goes in once, in order.
      if (r.seq <= (this.lastSeq.get(r.session_id) ?? 0)) continue;
      this.lastSeq.set(r.session_id, r.seq);
      let b = this.builders.get(r.session_id);
      if (!b) {
        b = new SessionTraceBuilder(this.options);
        this.builders.set(r.session_id, b);
      }
      try {
        spans.push(...b.add(r));
      } catch (err) {
        this.options.log?.(`OTLP push: could not build spans from record ${r.seq}: ${(err as Error).message}`);
      }
      if (b.ended) this.builders.delete(r.session_id);
    }
    if (spans.length) this.enqueue(spans);
  }

  private enqueue(spans: ReadableSpan[]): void {
    this.queue.push(...spans);
    const excess = this.queue.length - this.opts.maxQueueSpans;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.drop(excess, `queue full (${this.opts.maxQueueSpans} spans)`);
    }
    this.schedule(this.queue.length >= this.opts.maxBatchSpans ? 0 : this.opts.flushDelayMs);
  }

  private schedule(ms: number): void {
    if (this.closed || this.inFlight || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
    // A pending retry never keeps a finished process alive.
    this.timer.unref();
  }

  private flush(): Promise<void> {
    if (this.inFlight || !this.queue.length) return this.inFlight ?? Promise.resolve();
    const batch = this.queue.splice(0, this.opts.maxBatchSpans);
    this.inFlightSpans = batch.length;
    this.inFlight = this.send(batch).then((result) => {
      this.inFlight = undefined;
      this.inFlightSpans = 0;
      if (this.closed) {
        // Settled after shutdown gave up on it: already counted as lost.
        if (result.code === ExportResultCode.SUCCESS) this.options.log?.(`OTLP push: a late batch of ${batch.length} spans was delivered after all`);
        return;
      }
      if (result.code === ExportResultCode.SUCCESS) {
        this.stats.exported += batch.length;
        if (this.failing) {
          this.failing = false;
          this.note({ status: 'recovered' });
          this.options.log?.(`OTLP push to ${this.endpoint} delivering again`);
        }
        this.backoffMs = this.opts.initialBackoffMs;
        if (this.queue.length) this.schedule(0);
        return;
      }
      const error = result.error?.message ?? 'export failed';
      this.stats.lastError = error;
      // Back at the front: they are the oldest, and the first to go if the queue overflows meanwhile.
      this.queue.unshift(...batch);
      const excess = this.queue.length - this.opts.maxQueueSpans;
      if (excess > 0) {
        this.queue.splice(0, excess);
        this.drop(excess, `queue full (${this.opts.maxQueueSpans} spans) while the endpoint fails: ${error}`);
      }
      if (!this.failing) {
        this.failing = true;
        this.note({ status: 'failing', error });
        this.options.log?.(`OTLP push to ${this.endpoint} failing (${error}); retrying with backoff, spans are kept up to ${this.opts.maxQueueSpans}`);
      }
      const wait = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
      this.schedule(wait);
    });
    return this.inFlight;
  }

  private send(batch: ReadableSpan[]): Promise<ExportResult> {
    return new Promise((resolve) => {
      try {
        this.exporter.export(batch, resolve);
      } catch (err) {
        resolve({ code: ExportResultCode.FAILED, error: err as Error });
      }
    });
  }

  private drop(count: number, reason: string): void {
    this.stats.dropped += count;
    this.note({ status: 'dropped', dropped_spans: count, error: reason });
    this.options.log?.(`OTLP push dropped ${count} spans: ${reason}`);
  }

  /** Journals the push's state in the first session still open, so it shows where the calls are. */
  private note(ev: { status: 'failing' | 'dropped' | 'recovered'; dropped_spans?: number; error?: string }): void {
    this.options.onStatus?.(ev.status, ev.error ?? '');
    const recorder = this.recorders.find((r) => !r.isEnded);
    recorder?.sessionEvent({ type: 'otlp_push', status: ev.status, endpoint: this.endpoint, ...(ev.dropped_spans !== undefined ? { dropped_spans: ev.dropped_spans } : {}), total_dropped: this.stats.dropped, ...(ev.error !== undefined ? { error: ev.error.slice(0, 500) } : {}) });
  }

  /**
   * Call just before the last session ends: if the endpoint is failing, what is still queued is
   * given up now and journaled as dropped while the session can still record it; the root
   * span that session_end produces gets one attempt in `shutdown`.
   */
  beforeEnd(): void {
    this.drain();
    if (this.failing && this.queue.length) {
      const n = this.queue.length;
      this.queue = [];
      this.drop(n, `session ending while ${this.endpoint} is unreachable (${this.stats.lastError ?? 'export failed'})`);
    }
  }

  /**
   * After the sessions ended: sends what is left (the root span, calls still pending) for at
   * most `timeoutMs`. What cannot be sent by then is lost and counted; it is reported through
   * `log`, since the sessions can no longer record it.
   */
  async shutdown(timeoutMs = 3000): Promise<OtlpPushStats> {
    this.drain();
    for (const s of this.subscriptions) s.dispose();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + timeoutMs;
    let lastFailed = false;
    while (Date.now() < deadline && (this.queue.length || this.inFlight)) {
      if (this.inFlight) {
        await race(this.inFlight, deadline);
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        continue;
      }
      const before = this.stats.exported;
      const sent = this.flush();
      await race(sent, deadline);
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      lastFailed = this.stats.exported === before;
      // One try per batch at shutdown: an endpoint that fails now will not be back within the deadline.
      if (lastFailed) break;
    }
    this.closed = true;
    const lost = this.queue.length + this.inFlightSpans;
    if (lost) {
      this.stats.dropped += lost;
      this.queue = [];
      this.options.log?.(`OTLP push: ${lost} spans could not be delivered to ${this.endpoint} before exit (${this.stats.lastError ?? 'timed out'}); \`mcp-flight export --format otlp\` re-creates them with the same ids`);
    }
    void this.exporter.shutdown().catch(() => undefined);
    return this.getStats();
  }
}

function race(p: Promise<void>, deadline: number): Promise<void> {
  const ms = Math.max(0, deadline - Date.now());
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    p.then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
