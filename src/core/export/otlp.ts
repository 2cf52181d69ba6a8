import * as crypto from 'node:crypto';
import { type Attributes, type HrTime, type Link, type SpanContext, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROMPT_NAME,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_HOST_NAME,
  ATTR_JSONRPC_REQUEST_ID,
  ATTR_MCP_METHOD_NAME,
  ATTR_MCP_PROTOCOL_VERSION,
  ATTR_MCP_RESOURCE_URI,
  ATTR_MCP_SESSION_ID,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_NETWORK_TRANSPORT,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_USER_NAME,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
  NETWORK_TRANSPORT_VALUE_PIPE,
  NETWORK_TRANSPORT_VALUE_TCP,
} from '@opentelemetry/semantic-conventions/incubating';
import { agentId, CallAssembler } from '../analysis/calls';
import type { AttachedMessage, Call, ConnectionInfo, SessionInfo } from '../model/calls';
import type { JournalRecord } from '../model/records';
import { VERSION } from '../version';

/**
 * A recorded session as OpenTelemetry traces (docs/otlp.md): the session is the root span, each
 * call a child span (a server→client request a child of the call it was nested in), with the
 * times of the record and the attributes of the OpenTelemetry MCP semantic conventions.
 *
 * One builder serves both ways out — `mcp-flight export --format otlp` feeds it a whole journal,
 * the live push (otlp-push.ts) feeds it records as they are written — so a span pushed live and
 * the same span exported later are identical: ids are derived from the session and call ids,
 * times from the records, never from the clock of the exporting process.
 *
 * Arguments, results, log data and progress messages are payloads: written only with
 * `includePayloads`, and then as the journal holds them, i.e. already redacted by the recorder.
 */

export interface OtlpOptions {
  /** Add arguments, results, resource URIs, log data and progress messages (the redacted versions the journal holds). Default false. */
  includePayloads?: boolean;
  /** Each payload attribute is cut at this many characters (default 16 KiB); `mcp_flight.payload_truncated` marks the span. */
  maxPayloadChars?: number;
}

/** Attributes of our own, where the semantic conventions have none (docs/otlp.md lists them). */
export const MCP_FLIGHT_ATTR = {
  sessionId: 'mcp_flight.session.id',
  sessionState: 'mcp_flight.session.state',
  sessionEndReason: 'mcp_flight.session.end_reason',
  sessionCalls: 'mcp_flight.session.calls',
  sessionToolCalls: 'mcp_flight.session.tool_calls',
  sessionFailedCalls: 'mcp_flight.session.failed_calls',
  sessionServers: 'mcp_flight.session.servers',
  recorderKind: 'mcp_flight.recorder.kind',
  replayOf: 'mcp_flight.replay_of.call_id',
  callId: 'mcp_flight.call.id',
  connectionId: 'mcp_flight.connection.id',
  direction: 'mcp_flight.call.direction',
  outcome: 'mcp_flight.call.outcome',
  answeredByRecorder: 'mcp_flight.call.answered_by_recorder',
  opaque: 'mcp_flight.call.opaque',
  serverName: 'mcp_flight.server.name',
  serverReportedName: 'mcp_flight.server.reported_name',
  serverVersion: 'mcp_flight.server.version',
  serverTransport: 'mcp_flight.server.transport',
  agentId: 'mcp_flight.agent.id',
  errorCode: 'mcp_flight.error.code',
  recoverable: 'mcp_flight.error.recoverable',
  recoveryAction: 'mcp_flight.error.recovery_action',
  retrySafe: 'mcp_flight.error.retry_safe',
  requestParams: 'mcp_flight.request.params',
  responseResult: 'mcp_flight.response.result',
  payloadTruncated: 'mcp_flight.payload_truncated',
} as const;

export const OTLP_SCOPE = { name: 'mcp-flight', version: VERSION } as const;
export const ROOT_SPAN_NAME = 'mcp-flight session';

// ---------------------------------------------------------------------------------------------
// Ids: a hash of the session (and call) id, so that every export and the live push agree.

/** 32 hex digits: the trace of one recording session. */
export function traceIdOf(sessionId: string): string {
  return nonZero(crypto.createHash('sha256').update(`mcp-flight.trace\u0000${sessionId}`).digest('hex').slice(0, 32));
}

/** 16 hex digits: the session's root span (callId undefined) or one call's span. */
export function spanIdOf(sessionId: string, callId?: string): string {
  return nonZero(crypto.createHash('sha256').update(`mcp-flight.span\u0000${sessionId}\u0000${callId ?? ''}`).digest('hex').slice(0, 16));
}

/** An all-zero id is invalid in OTLP; one hash in 2^64 would give it. */
function nonZero(hex: string): string {
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

// ---------------------------------------------------------------------------------------------

export type SessionState = 'ended' | 'in_progress' | 'interrupted';

/**
 * Turns one session's journal records, in order, into finished spans. `add` returns the spans a
 * record finished (a call's span when its response, error or cancellation arrives; at
 * `session_end` the calls still pending and the root span); `finish` closes a session that has
 * no `session_end` (still recording, or interrupted) at its last record.
 */
export class SessionTraceBuilder {
  private readonly assembler = new CallAssembler({ keepBodies: true });
  private sessionId?: string;
  private resource?: Resource;
  private lastTs?: string;
  private done = false;
  private readonly counts = { calls: 0, toolCalls: 0, failed: 0 };
  private readonly servers = new Set<string>();
  private readonly payloads: boolean;
  private readonly maxPayloadChars: number;

  constructor(options: OtlpOptions = {}) {
    this.payloads = options.includePayloads === true;
    this.maxPayloadChars = options.maxPayloadChars ?? 16 * 1024;
  }

  get session(): SessionInfo | undefined {
    return this.assembler.session;
  }

  get ended(): boolean {
    return this.done;
  }

  add(record: JournalRecord): ReadableSpan[] {
    if (this.done) return [];
    if (this.sessionId === undefined) this.sessionId = record.session_id;
    else if (record.session_id !== this.sessionId) return [];
    this.lastTs = record.ts;
    const touched = this.assembler.add(record);
    if (record.type === 'connection_open') this.servers.add(record.server.name);
    const out: ReadableSpan[] = [];
    for (const call of touched) {
      if (call.outcome === 'pending') continue;
      out.push(this.callSpan(call));
      // A finished call never changes again; the assembler need not keep it (long live sessions).
      this.assembler.calls.delete(call.call_id);
    }
    if (record.type === 'session_end') out.push(...this.close('ended', record.ts));
    return out;
  }

  /** For a session without `session_end`: the calls still open and the root span, ended at the last record. */
  finish(state: Exclude<SessionState, 'ended'>): ReadableSpan[] {
    if (this.done || this.lastTs === undefined) return [];
    return this.close(state, this.lastTs);
  }

  private close(state: SessionState, endTs: string): ReadableSpan[] {
    this.done = true;
    const out: ReadableSpan[] = [];
    for (const call of this.assembler.calls.values()) if (call.outcome === 'pending') out.push(this.callSpan(call, endTs));
    this.assembler.calls.clear();
    out.push(this.rootSpan(state, endTs));
    return out;
  }

  private getResource(): Resource {
    if (!this.resource) {
      const r = this.assembler.session?.recorder;
      this.resource = resourceFromAttributes({
        [ATTR_SERVICE_NAME]: 'mcp-flight',
        ...(r ? { [ATTR_SERVICE_VERSION]: r.version, [ATTR_HOST_NAME]: r.hostname, [ATTR_USER_NAME]: r.user, [MCP_FLIGHT_ATTR.recorderKind]: r.kind } : {}),
      });
    }
    return this.resource;
  }

  private rootSpan(state: SessionState, endTs: string): ReadableSpan {
    const session = this.assembler.session;
    const sessionId = this.sessionId!;
    const attributes: Attributes = {
      [MCP_FLIGHT_ATTR.sessionId]: sessionId,
      [MCP_FLIGHT_ATTR.sessionState]: state,
      [MCP_FLIGHT_ATTR.sessionCalls]: this.counts.calls,
      [MCP_FLIGHT_ATTR.sessionToolCalls]: this.counts.toolCalls,
      [MCP_FLIGHT_ATTR.sessionFailedCalls]: this.counts.failed,
      [MCP_FLIGHT_ATTR.sessionServers]: [...this.servers],
    };
    if (session?.end_reason !== undefined) attributes[MCP_FLIGHT_ATTR.sessionEndReason] = session.end_reason;
    const links: Link[] = [];
    if (session?.replay_of) {
      attributes[MCP_FLIGHT_ATTR.replayOf] = session.replay_of.call_id;
      links.push({ context: contextOf(session.replay_of.session_id, session.replay_of.call_id), attributes: { [MCP_FLIGHT_ATTR.callId]: session.replay_of.call_id } });
    }
    const start = session?.started_at ?? endTs;
    return this.span({
      name: ROOT_SPAN_NAME,
      kind: SpanKind.INTERNAL,
      spanId: spanIdOf(sessionId),
      start: hrOf(start),
      end: hrOf(endTs),
      status: state === 'interrupted' ? { code: SpanStatusCode.ERROR, message: 'recording interrupted: the session has no end record and its writer is gone' } : { code: SpanStatusCode.UNSET },
      attributes,
      events: [],
      links,
    });
  }

  private callSpan(call: Call, endTs?: string): ReadableSpan {
    const sessionId = this.sessionId!;
    const conn = this.assembler.connection(call.connection_id);
    this.counts.calls++;
    if (call.method === 'tools/call') this.counts.toolCalls++;
    if (call.error && call.outcome !== 'pending') this.counts.failed++;

    const a: Attributes = {
      [ATTR_MCP_METHOD_NAME]: call.method,
      [ATTR_JSONRPC_REQUEST_ID]: String(call.request_id),
      [MCP_FLIGHT_ATTR.sessionId]: sessionId,
      [MCP_FLIGHT_ATTR.callId]: call.call_id,
      [MCP_FLIGHT_ATTR.connectionId]: call.connection_id,
      [MCP_FLIGHT_ATTR.direction]: call.direction,
      [MCP_FLIGHT_ATTR.outcome]: call.outcome,
      [MCP_FLIGHT_ATTR.serverName]: call.server.name,
    };
    const params = isObject(call.input) ? call.input : undefined;
    if (call.method === 'tools/call') {
      a[ATTR_GEN_AI_TOOL_NAME] = call.tool;
      a[ATTR_GEN_AI_OPERATION_NAME] = GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL;
    }
    if (call.method === 'prompts/get' && typeof params?.name === 'string') a[ATTR_GEN_AI_PROMPT_NAME] = params.name;
    const serverVersion = call.server.version ?? conn?.server.version;
    if (serverVersion !== undefined) a[MCP_FLIGHT_ATTR.serverVersion] = serverVersion;
    if (conn) {
      const s = conn.server;
      if (s.reported_name !== undefined) a[MCP_FLIGHT_ATTR.serverReportedName] = s.reported_name;
      a[MCP_FLIGHT_ATTR.serverTransport] = s.transport;
      const protocol = s.protocol_version ?? conn.agent?.protocol_version;
      if (protocol !== undefined) a[ATTR_MCP_PROTOCOL_VERSION] = protocol;
      if (conn.mcp_session_id !== undefined) a[ATTR_MCP_SESSION_ID] = conn.mcp_session_id;
      Object.assign(a, networkAttributes(conn));
    }
    const agent = call.agent_id ?? (conn?.agent ? agentId(conn.agent) : undefined);
    if (agent !== undefined) a[MCP_FLIGHT_ATTR.agentId] = agent;
    if (call.answered_by_recorder) a[MCP_FLIGHT_ATTR.answeredByRecorder] = true;
    if (call.opaque?.length) a[MCP_FLIGHT_ATTR.opaque] = [...call.opaque];

    let status: ReadableSpan['status'] = { code: SpanStatusCode.UNSET };
    if (call.error && call.outcome !== 'pending') {
      const e = call.error;
      a[ATTR_ERROR_TYPE] = e.error_class;
      if (e.error_code !== null) a[MCP_FLIGHT_ATTR.errorCode] = String(e.error_code);
      a[MCP_FLIGHT_ATTR.recoverable] = e.recoverable;
      a[MCP_FLIGHT_ATTR.recoveryAction] = e.recovery_action;
      a[MCP_FLIGHT_ATTR.retrySafe] = e.retry_safe;
      // An isError result is a result (whatever class its text earned it), not a JSON-RPC error.
      const isErrorResult = (call.output as { isError?: unknown } | undefined)?.isError === true;
      const rpcCode = isErrorResult ? undefined : (call.output as { code?: unknown } | undefined)?.code;
      if (typeof rpcCode === 'number') a[ATTR_RPC_RESPONSE_STATUS_CODE] = String(rpcCode);
      // A JSON-RPC error's message is error metadata; the text of an isError result is the tool's output, a payload.
      status = { code: SpanStatusCode.ERROR, message: isErrorResult && !this.payloads ? e.error_class : e.message };
    }

    if (this.payloads) {
      let truncated = false;
      const put = (key: string, value: unknown) => {
        if (value === undefined) return;
        const text = jsonText(value);
        if (text.length > this.maxPayloadChars) truncated = true;
        a[key] = text.length > this.maxPayloadChars ? `${text.slice(0, this.maxPayloadChars)}…` : text;
      };
      if (call.method === 'tools/call') {
        put(ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, call.input);
        if (call.outcome === 'success') put(ATTR_GEN_AI_TOOL_CALL_RESULT, call.output);
        else if (call.outcome !== 'pending') put(MCP_FLIGHT_ATTR.responseResult, call.output);
      } else {
        put(MCP_FLIGHT_ATTR.requestParams, call.input);
        put(MCP_FLIGHT_ATTR.responseResult, call.output);
      }
      if (typeof params?.uri === 'string' && /^resources\/(read|subscribe|unsubscribe)$/.test(call.method)) a[ATTR_MCP_RESOURCE_URI] = params.uri;
      if (truncated) a[MCP_FLIGHT_ATTR.payloadTruncated] = true;
    }

    const events: TimedEvent[] = [];
    for (const p of call.progress) events.push(this.event(p, progressAttributes(p, this.payloads)));
    for (const l of call.logs) events.push(this.event(l, logAttributes(l, this.payloads)));
    if (call.cancelled) {
      const reason = (call.cancelled.params as { reason?: unknown } | undefined)?.reason;
      events.push(this.event(call.cancelled, this.payloads && typeof reason === 'string' ? { reason } : {}));
    }

    const start = hrOf(call.timestamp);
    const end = call.ended_at !== undefined ? hrPlus(call.timestamp, call.duration_ms ?? Date.parse(call.ended_at) - Date.parse(call.timestamp)) : hrOf(endTs ?? call.timestamp);
    return this.span({
      name: call.method === 'tools/call' ? `tools/call ${call.tool}` : typeof a[ATTR_GEN_AI_PROMPT_NAME] === 'string' ? `prompts/get ${a[ATTR_GEN_AI_PROMPT_NAME]}` : call.method,
      // The trace is the agent's side of MCP: its requests are CLIENT spans, the server's requests it answers SERVER spans.
      kind: call.direction === 'client_to_server' ? SpanKind.CLIENT : SpanKind.SERVER,
      spanId: spanIdOf(sessionId, call.call_id),
      parentSpanId: spanIdOf(sessionId, call.parent_call_id),
      start,
      end: later(start, end),
      status,
      attributes: a,
      events,
      links: [],
    });
  }

  private event(m: AttachedMessage, attributes: Attributes): TimedEvent {
    return { name: m.method, time: hrOf(m.ts), attributes };
  }

  private span(s: { name: string; kind: SpanKind; spanId: string; parentSpanId?: string; start: HrTime; end: HrTime; status: ReadableSpan['status']; attributes: Attributes; events: TimedEvent[]; links: Link[] }): ReadableSpan {
    const traceId = traceIdOf(this.sessionId!);
    const context: SpanContext = { traceId, spanId: s.spanId, traceFlags: TraceFlags.SAMPLED };
    return {
      name: s.name,
      kind: s.kind,
      spanContext: () => context,
      ...(s.parentSpanId ? { parentSpanContext: { traceId, spanId: s.parentSpanId, traceFlags: TraceFlags.SAMPLED } } : {}),
      startTime: s.start,
      endTime: s.end,
      duration: hrDiff(s.start, s.end),
      status: s.status,
      attributes: s.attributes,
      links: s.links,
      events: s.events,
      ended: true,
      resource: this.getResource(),
      instrumentationScope: OTLP_SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}

function contextOf(sessionId: string, callId?: string): SpanContext {
  return { traceId: traceIdOf(sessionId), spanId: spanIdOf(sessionId, callId), traceFlags: TraceFlags.SAMPLED };
}

/** `network.transport` is the transport to the server: stdio is a pipe, Streamable HTTP and SSE run over TCP. */
function networkAttributes(conn: ConnectionInfo): Attributes {
  const s = conn.server;
  if (s.transport === 'stdio') return { [ATTR_NETWORK_TRANSPORT]: NETWORK_TRANSPORT_VALUE_PIPE };
  const a: Attributes = { [ATTR_NETWORK_TRANSPORT]: NETWORK_TRANSPORT_VALUE_TCP, [ATTR_NETWORK_PROTOCOL_NAME]: 'http' };
  if (s.url) {
    try {
      const u = new URL(s.url);
      a[ATTR_SERVER_ADDRESS] = u.hostname;
      a[ATTR_SERVER_PORT] = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    } catch {
      // a URL the recorder could not parse either: no address
    }
  }
  return a;
}

function progressAttributes(m: AttachedMessage, payloads: boolean): Attributes {
  const p = (m.params ?? {}) as { progress?: unknown; total?: unknown; message?: unknown };
  const a: Attributes = {};
  if (typeof p.progress === 'number') a.progress = p.progress;
  if (typeof p.total === 'number') a.total = p.total;
  if (payloads && typeof p.message === 'string') a.message = p.message;
  return a;
}

function logAttributes(m: AttachedMessage, payloads: boolean): Attributes {
  const p = (m.params ?? {}) as { level?: unknown; logger?: unknown; data?: unknown };
  const a: Attributes = {};
  if (typeof p.level === 'string') a.level = p.level;
  if (typeof p.logger === 'string') a.logger = p.logger;
  if (payloads && p.data !== undefined) a.data = jsonText(p.data);
  return a;
}

function jsonText(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '[unprintable]';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Time: wall-clock start from the record (ms), duration from the monotonic clock (µs), combined
// in integer nanoseconds so that neither is rounded through a float of 10^18.

function hrOf(iso: string): HrTime {
  return hrPlus(iso, 0);
}

function hrPlus(iso: string, ms: number): HrTime {
  const base = Date.parse(iso);
  const ns = BigInt(Number.isFinite(base) ? base : 0) * 1_000_000n + BigInt(Math.round(ms * 1e6));
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

function later(a: HrTime, b: HrTime): HrTime {
  return b[0] > a[0] || (b[0] === a[0] && b[1] >= a[1]) ? b : a;
}

function hrDiff(a: HrTime, b: HrTime): HrTime {
  const ns = (BigInt(b[0]) * 1_000_000_000n + BigInt(b[1])) - (BigInt(a[0]) * 1_000_000_000n + BigInt(a[1]));
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

// ---------------------------------------------------------------------------------------------
// The file format of `mcp-flight export --format otlp`.

/** Spans per line: one OTLP/HTTP request body per line, small enough for collectors' default 4 MiB limits with bodies left out. */
export const OTLP_SPANS_PER_LINE = 1000;

export interface OtlpExportOptions extends OtlpOptions {
  /** Whether the session's writer is still running: a session without session_end is then `in_progress`, otherwise `interrupted`. */
  writerAlive?: boolean;
  sessionId?: string;
}

/** The OTLP/JSON encoding of an ExportTraceServiceRequest, by the OpenTelemetry serializer. */
export function otlpJson(spans: ReadableSpan[]): string {
  return new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans));
}

/**
 * Writes one session as OTLP/JSON Lines (the layout of the OpenTelemetry file exporter and the
 * collector's `otlpjsonfile` receiver): each line an `ExportTraceServiceRequest`, each a valid
 * body for `POST /v1/traces`. Spans leave in batches as their calls finish, so memory follows
 * the calls open at a time, not the session's size.
 */
export function exportSessionOtlp(records: Iterable<{ record: JournalRecord }>, write: (chunk: string) => void, options: OtlpExportOptions = {}): { spans: number; lines: number } {
  const builder = new SessionTraceBuilder(options);
  let batch: ReadableSpan[] = [];
  let spans = 0;
  let lines = 0;
  const flush = () => {
    if (!batch.length) return;
    write(otlpJson(batch) + '\n');
    spans += batch.length;
    lines++;
    batch = [];
  };
  for (const { record } of records) {
    if (options.sessionId !== undefined && record.session_id !== options.sessionId) continue;
    for (const s of builder.add(record)) {
      batch.push(s);
      if (batch.length >= OTLP_SPANS_PER_LINE) flush();
    }
  }
  batch.push(...builder.finish(options.writerAlive ? 'in_progress' : 'interrupted'));
  flush();
  return { spans, lines };
}
