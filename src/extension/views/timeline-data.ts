import * as fs from 'node:fs';
import type { RecoveryPlan } from '../../core/analysis/recovery';
import { terminalStateOfCounts, type SessionSummary } from '../../core/analysis/summary';
import type { JournalRecord } from '../../core/model/records';
import { readSegment } from '../../core/store/journal';
import { runtime } from '../lazy';
import type { AlertRow, CallRow as StoreCallRow, SessionRow, Store } from '../../core/store/store';
import {
  ALLOWED_IMAGE_TYPES,
  type AlertView,
  PAYLOAD_LIMIT_BYTES,
  type AttachedMessageView,
  type CallDetail,
  type CallRow,
  type ImageView,
  type Payload,
  type RawMessageView,
  type SessionOverview,
  type SessionView,
  type SideEffectView,
} from '../../shared/protocol';

/**
 * What the timeline shows, from either the live workspace store or an exported file (read-only).
 * Rows carry no payloads; a call's detail is read on demand (bodies come from the journal).
 */
export interface TimelineSource {
  readonly readOnly: boolean;
  readonly title: string;
  sessions(): SessionView[];
  calls(): CallRow[];
  detail(sessionId: string, callId: string): CallDetail | undefined;
  /** The whole input or output, for "Open full" and "Show Inputs". */
  payload(sessionId: string, callId: string, part: 'input' | 'output'): unknown;
  /** The session's summary and recovery plan (the overview panel, "Show Recovery Plan"). */
  report(sessionId: string): { summary: SessionSummary; plan: RecoveryPlan } | undefined;
}

/** At most this many calls are sent to the timeline at once (newest first when there are more). */
export const TIMELINE_CALL_LIMIT = 100_000;

export class StoreTimelineSource implements TimelineSource {
  readonly readOnly = false;
  constructor(
    private readonly store: Store,
    readonly title = 'MCP Flight Recorder',
  ) {}

  sessions(): SessionView[] {
    return this.store.sessions().map(sessionView);
  }

  calls(): CallRow[] {
    const counts = new Map<string, number>();
    for (const a of this.store.alerts()) if (a.call_id !== undefined) counts.set(`${a.session_id}\u0000${a.call_id}`, (counts.get(`${a.session_id}\u0000${a.call_id}`) ?? 0) + 1);
    return this.store.calls({ limit: TIMELINE_CALL_LIMIT, order: 'desc' }).reverse().map((c) => rowOf(c, counts.get(`${c.session_id}\u0000${c.call_id}`) ?? 0));
  }

  row(sessionId: string, callId: string): CallRow | undefined {
    const c = this.store.call(sessionId, callId);
    return c && rowOf(c, this.alertCount(c));
  }

  /**
   * The rows of a live batch, in the order of `keys`. Per session, the calls are read in a few
   * queries and the alerts once, not once per call: at 1,000 calls a second those per-call queries
   * (and the parse of every alert of the session, each time) were most of the cost of the rows.
   */
  rows(keys: Iterable<{ session_id: string; call_id: string }>): CallRow[] {
    const bySession = new Map<string, string[]>();
    const order: Array<{ session_id: string; call_id: string }> = [];
    for (const k of keys) {
      order.push(k);
      let ids = bySession.get(k.session_id);
      if (!ids) bySession.set(k.session_id, (ids = []));
      ids.push(k.call_id);
    }
    const calls = new Map<string, Map<string, StoreCallRow>>();
    const alerts = new Map<string, Map<string, number>>();
    for (const [sessionId, ids] of bySession) {
      calls.set(sessionId, this.store.callsOf(sessionId, ids));
      const perCall = new Map<string, number>();
      for (const a of this.store.alerts(sessionId)) if (a.call_id !== undefined) perCall.set(a.call_id, (perCall.get(a.call_id) ?? 0) + 1);
      alerts.set(sessionId, perCall);
    }
    const out: CallRow[] = [];
    for (const k of order) {
      const c = calls.get(k.session_id)?.get(k.call_id);
      if (c) out.push(rowOf(c, alerts.get(k.session_id)?.get(k.call_id) ?? 0));
    }
    return out;
  }

  private callAlerts(c: StoreCallRow): AlertRow[] {
    return this.store.alerts(c.session_id).filter((a) => a.call_id === c.call_id);
  }

  private alertCount(c: StoreCallRow): number {
    return this.callAlerts(c).length;
  }

  detail(sessionId: string, callId: string): CallDetail | undefined {
    const call = this.store.call(sessionId, callId);
    if (!call) return undefined;
    const { request, response } = this.store.callBodies(call);
    const between = this.recordsBetween(call);
    const attached = (method: string) =>
      between.filter((r): r is Extract<JournalRecord, { type: 'message' }> => r.type === 'message' && r.connection_id === call.connection_id && (r.message as { method?: string }).method === method).map(attachedView);
    const progressToken = (messageOf(request) as { params?: { _meta?: { progressToken?: unknown } } } | undefined)?.params?._meta?.progressToken;
    const progress = attached('notifications/progress').filter((p) => progressToken === undefined || (p.params.kind === 'json' && (p.params.value as { progressToken?: unknown }).progressToken === progressToken));
    const logs = call.log_count ? attached('notifications/message') : [];
    const nested = call.nested_call_ids.map((id) => this.store.call(sessionId, id)).filter((c): c is StoreCallRow => !!c).map((c) => rowOf(c, 0));
    const raw = [request, ...between.filter((r) => r.type === 'message' && r.connection_id === call.connection_id), response].filter((r): r is JournalRecord => !!r).map(rawView);
    const alerts = this.callAlerts(call);
    return {
      row: rowOf(call, alerts.length),
      timestamp: call.timestamp,
      ...(call.ended_at ? { ended_at: call.ended_at } : {}),
      request_id: call.request_id,
      input: inputPayload(call, request),
      output: outputPayload(response),
      ...(call.error ? { error: call.error } : {}),
      progress,
      logs,
      nested,
      images: imagesOf(response),
      raw: dedupe(raw),
      answered_by_recorder: call.answered_by_recorder,
      ...(alerts.length ? { alerts: alerts.map(alertView) } : {}),
      ...(call.side_effects?.length
        ? {
            side_effects: call.side_effects.map((e) => ({
              kind: e.kind,
              ...(e.path !== undefined ? { path: e.path } : {}),
              ...(e.uri !== undefined ? { uri: e.uri } : {}),
              ...(e.name !== undefined ? { name: e.name } : {}),
              ...(e.directory ? { directory: true } : {}),
              attribution: e.attribution,
              in_flight: e.in_flight ?? [],
              ts: e.ts,
            })),
          }
        : {}),
      ...(call.side_effects_omitted ? { side_effects_omitted: call.side_effects_omitted } : {}),
      ...(call.credentials ? { credentials: call.credentials } : {}),
    };
  }

  report(sessionId: string): { summary: SessionSummary; plan: RecoveryPlan } | undefined {
    const session = this.store.session(sessionId);
    // From the journal, the evidence; later sessions are consulted for work they completed.
    return session ? runtime().sessionReport(this.store, session) : undefined;
  }

  payload(sessionId: string, callId: string, part: 'input' | 'output'): unknown {
    const call = this.store.call(sessionId, callId);
    if (!call) return undefined;
    const { request, response } = this.store.callBodies(call);
    if (part === 'input') return inputOf(call.method, messageOf(request), request);
    const m = messageOf(response) as { result?: unknown; error?: unknown } | undefined;
    if (response?.type === 'opaque') return response.text ?? response.base64;
    return m?.result ?? m?.error;
  }

  /** Records of the call's connection between its request and its response, read from the journal. */
  private recordsBetween(call: StoreCallRow): JournalRecord[] {
    const req = call.request_location;
    const res = call.response_location;
    if (!req || !res || req.file !== res.file || res.offset <= req.offset) return [];
    const start = req.offset + req.length;
    const r = readSegment(req.file, start, { limitBytes: Math.min(res.offset - start, 16 * 1024 * 1024) });
    return r.records.map((x) => x.record).filter((x) => x.session_id === call.session_id);
  }
}

/** A session exported with `mcp-flight export` or "Export Session…", shown read-only. */
export class ExportedTimelineSource implements TimelineSource {
  readonly readOnly = true;
  readonly title: string;
  private readonly doc: ExportedDocument;
  private readonly byId = new Map<string, ExportedCall>();

  constructor(file: string) {
    const text = fs.readFileSync(file, 'utf8');
    this.doc = file.endsWith('.jsonl') ? fromJsonl(text) : (JSON.parse(text) as ExportedDocument);
    if (this.doc.format !== 'mcp-flight.session/v1') throw new Error(`${file} is not an MCP Flight Recorder session export (format "${String(this.doc.format)}")`);
    for (const c of this.doc.calls) this.byId.set(c.call_id, c);
    this.title = `Exported session ${this.doc.session.session_id.slice(0, 8)} (read-only)`;
  }

  sessions(): SessionView[] {
    const s = this.doc.session;
    return [{ session_id: s.session_id, started_at: s.started_at ?? '', ...(s.ended_at ? { ended_at: s.ended_at } : {}), label: `exported ${s.session_id.slice(0, 8)}`, tool_calls: s.tool_calls, failed_calls: s.failed_calls, terminal_state: s.terminal_state }];
  }

  calls(): CallRow[] {
    return this.doc.calls.map((c) => exportedRow(c));
  }

  detail(_sessionId: string, callId: string): CallDetail | undefined {
    const c = this.byId.get(callId);
    if (!c) return undefined;
    const events = this.doc.events ?? [];
    const raw = events.filter((e) => e.type === 'message' && e.connection_id === c.connection_id && (e.seq === c.request_seq || e.seq === c.response_seq)).map((e) => rawView(e as unknown as JournalRecord));
    const attach = (m: { seq: number; ts: string; method: string; params: unknown }): AttachedMessageView => ({ seq: m.seq, ts: m.ts, method: m.method, params: payloadOf(m.params) });
    return {
      row: exportedRow(c),
      timestamp: c.timestamp,
      ...(c.ended_at ? { ended_at: c.ended_at } : {}),
      request_id: c.request_id,
      input: c.input === null || c.input === undefined ? { kind: 'absent' } : payloadOf(c.input),
      output: c.output === null || c.output === undefined ? { kind: 'absent' } : payloadOf(c.output),
      ...(c.error ? { error: c.error } : {}),
      progress: (c.progress ?? []).map(attach),
      logs: (c.logs ?? []).map(attach),
      nested: (c.nested_call_ids ?? []).map((id) => this.byId.get(id)).filter((x): x is ExportedCall => !!x).map(exportedRow),
      images: imagesOfResult(c.output),
      raw,
      answered_by_recorder: !!c.answered_by_recorder,
      ...(c.alerts?.length ? { alerts: (this.doc.alerts ?? []).filter((a) => c.alerts!.includes(a.alert_id)).map(exportedAlertView) } : {}),
      // Exports from before side effects and credentials were recorded have neither field.
      ...(c.side_effects?.length
        ? {
            side_effects: c.side_effects.map((e) => ({
              kind: e.kind,
              ...(e.path !== null ? { path: e.path } : {}),
              ...(e.uri !== null ? { uri: e.uri } : {}),
              ...(e.name !== null ? { name: e.name } : {}),
              ...(e.directory ? { directory: true } : {}),
              attribution: e.attribution,
              in_flight: e.in_flight,
              ts: e.ts,
            })),
          }
        : {}),
      ...(c.side_effects_omitted ? { side_effects_omitted: c.side_effects_omitted } : {}),
      ...(c.credentials ? { credentials: c.credentials } : {}),
    };
  }

  payload(_sessionId: string, callId: string, part: 'input' | 'output'): unknown {
    const c = this.byId.get(callId);
    return part === 'input' ? c?.input : c?.output;
  }

  report(sessionId: string): { summary: SessionSummary; plan: RecoveryPlan } | undefined {
    if (sessionId !== this.doc.session.session_id) return undefined;
    // The export's events are the journal's records: the plan is assembled from them. The
    // summary is the export's own, recomputed only when it predates recovery_status.
    const rt = runtime();
    const assembler = rt.assembleSession((this.doc.events ?? []).map((e) => ({ record: e as unknown as JournalRecord })));
    const exported = this.doc.session as unknown as SessionSummary;
    const summary = exported.recovery_status ? exported : rt.summarizeSession(assembler, { writerAlive: false });
    return { summary, plan: rt.buildRecoveryPlan(assembler, summary) };
  }
}

interface ExportedCall {
  call_id: string;
  session_id: string;
  connection_id: string;
  tool: string;
  method: string;
  direction: 'client_to_server' | 'server_to_client';
  server: { name: string; version: string | null };
  agent_id: string | null;
  request_id: string | number;
  timestamp: string;
  ended_at: string | null;
  duration_ms: number | null;
  input: unknown;
  input_summary: string;
  output: unknown;
  output_summary: string | null;
  outcome: CallRow['outcome'];
  error: CallDetail['error'] | null;
  progress?: Array<{ seq: number; ts: string; method: string; params: unknown }>;
  logs?: Array<{ seq: number; ts: string; method: string; params: unknown }>;
  nested_call_ids?: string[];
  side_effects?: Array<{ kind: string; path: string | null; uri: string | null; name: string | null; directory: boolean; attribution: SideEffectView['attribution']; in_flight: string[]; ts: string }>;
  side_effects_omitted?: number;
  credentials?: CallDetail['credentials'] | null;
  request_seq: number;
  response_seq: number | null;
  answered_by_recorder?: boolean;
  retry_of?: string | null;
  alerts?: string[];
}

interface ExportedAlert {
  alert_id: string;
  alert_kind: string;
  severity: AlertView['severity'];
  title: string;
  detail: string;
}

interface ExportedDocument {
  format: string;
  session: { session_id: string; started_at: string | null; ended_at: string | null; tool_calls: number; failed_calls: number; terminal_state: string; replay_of?: unknown };
  calls: ExportedCall[];
  alerts?: ExportedAlert[];
  events?: Array<{ type: string; seq: number; connection_id?: string }>;
}

function fromJsonl(text: string): ExportedDocument {
  const doc: ExportedDocument = { format: '', session: undefined as unknown as ExportedDocument['session'], calls: [], alerts: [], events: [] };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const obj = JSON.parse(line) as { kind: string; format?: string } & Record<string, unknown>;
    if (obj.kind === 'session') {
      doc.format = obj.format === 'mcp-flight.session.jsonl/v1' ? 'mcp-flight.session/v1' : String(obj.format);
      doc.session = (obj.session ?? obj) as ExportedDocument['session'];
    } else if (obj.kind === 'call') doc.calls.push(obj as unknown as ExportedCall);
    else if (obj.kind === 'alert') doc.alerts!.push(obj as unknown as ExportedAlert);
    else if (obj.kind === 'event') doc.events!.push((obj.event ?? obj) as { type: string; seq: number });
    else if (obj.kind === 'summary') doc.session = { ...doc.session, ...(obj.summary ?? obj) } as ExportedDocument['session'];
  }
  return doc;
}

function exportedRow(c: ExportedCall): CallRow {
  return {
    session_id: c.session_id,
    call_id: c.call_id,
    server: c.server.name,
    tool: c.tool,
    method: c.method,
    direction: c.direction,
    ...(c.agent_id ? { agent_id: c.agent_id } : {}),
    outcome: c.outcome,
    ...(c.error ? { error_class: c.error.error_class, error_message: c.error.message } : {}),
    start_ms: Date.parse(c.timestamp),
    ...(c.duration_ms !== null ? { duration_ms: c.duration_ms } : {}),
    input_summary: c.input_summary,
    ...(c.output_summary ? { output_summary: c.output_summary } : {}),
    alerts: c.alerts?.length ?? 0,
    ...(c.retry_of ? { retry_of: c.retry_of } : {}),
  };
}

/** The overview panel's view of a summary and plan: plain data, counts, no payloads. */
export function overviewOf(summary: SessionSummary, plan: RecoveryPlan | undefined): SessionOverview {
  const fx = summary.side_effects_summary ?? { files_created: null, files_modified: null, files_deleted: null, api_calls_made: null, spend_incurred_usd: null };
  return {
    session_id: summary.session_id,
    started_at: summary.started_at,
    ended_at: summary.ended_at,
    duration_ms: summary.duration_ms,
    terminal_state: summary.terminal_state,
    recovery_status: summary.recovery_status ?? 'none_needed',
    tool_calls: summary.tool_calls,
    successful_calls: summary.successful_calls,
    failed_calls: summary.failed_calls,
    cancelled_calls: summary.cancelled_calls,
    pending_calls: summary.pending_calls,
    retries: summary.retries ?? 0,
    recovered_failures: summary.recovered_failures ?? 0,
    servers: summary.servers.map((v) => ({ name: v.name, version: v.version, calls: v.calls, failures: v.failures })),
    agents: summary.agents.map((a) => a.agent_id),
    errors_by_class: Object.entries(summary.errors_by_class).map(([error_class, count]) => ({ error_class, count: count ?? 0 })),
    credentials_used: Array.isArray(summary.credentials_used) ? summary.credentials_used.length : null,
    side_effects: { files_created: fx.files_created, files_modified: fx.files_modified, files_deleted: fx.files_deleted, api_calls_made: fx.api_calls_made, spend_incurred_usd: fx.spend_incurred_usd },
    ...(plan && (plan.broke_at || plan.resume.length)
      ? {
          plan: {
            broke_at: plan.broke_at ? { call_id: plan.broke_at.call_id, server: plan.broke_at.server, tool: plan.broke_at.tool, reason: plan.broke_at.reason } : null,
            last_resume_point: plan.last_resume_point ? { after_call_id: plan.last_resume_point.after_call_id, server: plan.last_resume_point.server, tool: plan.last_resume_point.tool, completed_tool_calls: plan.last_resume_point.completed_tool_calls } : null,
            before_break: { permanent: plan.before_break.permanent.length, reversible: plan.before_break.reversible.length, no_effect: plan.before_break.no_effect.length },
            resume: plan.resume.slice(0, 200).map((r) => ({ call_id: r.call_id, server: r.server, tool: r.tool, reason: r.reason, error_class: r.error_class, message: r.message === null ? null : r.message.slice(0, 500), retry_safe: r.retry_safe, retry_note: r.retry_note, reversibility: r.reversibility, redacted: r.redacted })),
          },
        }
      : {}),
  };
}

function alertView(a: AlertRow): AlertView {
  return { alert_id: a.alert_id ?? '?', kind: a.kind, severity: severityOf(a.severity), title: a.title ?? a.kind, detail: a.detail ?? '' };
}

function exportedAlertView(a: ExportedAlert): AlertView {
  return { alert_id: a.alert_id, kind: a.alert_kind, severity: severityOf(a.severity), title: a.title, detail: a.detail };
}

function severityOf(s: string): AlertView['severity'] {
  return s === 'high' || s === 'medium' ? s : 'low';
}

export function sessionView(s: SessionRow): SessionView {
  return {
    session_id: s.session_id,
    started_at: s.started_at,
    ...(s.ended_at ? { ended_at: s.ended_at } : {}),
    label: `${new Date(s.started_at).toLocaleString()} · ${s.recorder_kind}`,
    tool_calls: s.tool_calls,
    failed_calls: s.failed,
    terminal_state: terminalStateOfCounts(s),
  };
}

export function rowOf(c: StoreCallRow, alerts: number): CallRow {
  return {
    session_id: c.session_id,
    call_id: c.call_id,
    server: c.server,
    tool: c.tool,
    method: c.method,
    direction: c.direction,
    ...(c.agent_id ? { agent_id: c.agent_id } : {}),
    outcome: c.outcome,
    ...(c.error ? { error_class: c.error.error_class, error_message: c.error.message } : {}),
    start_ms: Date.parse(c.timestamp),
    ...(c.duration_ms !== undefined ? { duration_ms: c.duration_ms } : {}),
    input_summary: c.input_summary,
    ...(c.output_summary ? { output_summary: c.output_summary } : {}),
    alerts,
    ...(c.retry_of ? { retry_of: c.retry_of } : {}),
  };
}

function messageOf(r: JournalRecord | undefined): unknown {
  return r?.type === 'message' ? r.message : undefined;
}

export function inputOf(method: string, message: unknown, record?: JournalRecord): unknown {
  if (record?.type === 'opaque') return record.text ?? record.base64;
  const params = (message as { params?: Record<string, unknown> } | undefined)?.params;
  return method === 'tools/call' ? params?.arguments : params;
}

function inputPayload(call: StoreCallRow, request: JournalRecord | undefined): Payload {
  if (!request) return { kind: 'absent' };
  if (request.type === 'opaque') return { kind: 'opaque', reason: request.reason, size: request.size };
  const input = inputOf(call.method, messageOf(request));
  return input === undefined ? { kind: 'absent' } : payloadOf(input);
}

function outputPayload(response: JournalRecord | undefined): Payload {
  if (!response) return { kind: 'absent' };
  if (response.type === 'opaque') return { kind: 'opaque', reason: response.reason, size: response.size };
  const m = messageOf(response) as { result?: unknown; error?: unknown } | undefined;
  const value = m?.result ?? m?.error;
  return value === undefined ? { kind: 'absent' } : payloadOf(value);
}

/** Whole when small; cut (and marked with its size) past the limit, never silently. */
export function payloadOf(value: unknown): Payload {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch {
    return { kind: 'opaque', reason: 'unserializable', size: 0 };
  }
  if (text.length <= PAYLOAD_LIMIT_BYTES) return { kind: 'json', value };
  return { kind: 'truncated', preview: text.slice(0, PAYLOAD_LIMIT_BYTES), size: Buffer.byteLength(text) };
}

function attachedView(r: Extract<JournalRecord, { type: 'message' }>): AttachedMessageView {
  const m = r.message as { method: string; params?: unknown };
  return { seq: r.seq, ts: r.ts, method: m.method, params: payloadOf(m.params ?? {}) };
}

function rawView(r: JournalRecord): RawMessageView {
  let text: string;
  if (r.type === 'opaque') text = r.text ?? `[${r.size} bytes, base64]`;
  else text = JSON.stringify((r as { message?: unknown }).message ?? r);
  const truncated = text.length > PAYLOAD_LIMIT_BYTES;
  const dir = (r as { dir?: RawMessageView['dir'] }).dir ?? 'client_to_server';
  return { seq: r.seq, ts: r.ts, dir, text: truncated ? text.slice(0, PAYLOAD_LIMIT_BYTES) : text, truncated, ...((r as { origin?: 'recorder' }).origin ? { origin: 'recorder' as const } : {}) };
}

function dedupe(raw: RawMessageView[]): RawMessageView[] {
  const seen = new Set<number>();
  return raw.filter((r) => !seen.has(r.seq) && (seen.add(r.seq), true)).sort((a, b) => a.seq - b.seq);
}

function imagesOf(response: JournalRecord | undefined): ImageView[] {
  return imagesOfResult((messageOf(response) as { result?: unknown } | undefined)?.result);
}

/** Images in a tool result's content; the webview shows only the allowed types. */
function imagesOfResult(result: unknown): ImageView[] {
  const content = (result as { content?: unknown } | undefined)?.content;
  if (!Array.isArray(content)) return [];
  const allowed = new Set<string>(ALLOWED_IMAGE_TYPES);
  return content
    .filter((c): c is { type: 'image'; data: string; mimeType: string } => typeof c === 'object' && c !== null && c.type === 'image' && typeof c.data === 'string' && typeof c.mimeType === 'string')
    .filter((c) => allowed.has(c.mimeType) || true)
    .slice(0, 20)
    .map((c) => ({ mimeType: c.mimeType, data: c.data.length > PAYLOAD_LIMIT_BYTES * 8 ? '' : c.data }));
}
