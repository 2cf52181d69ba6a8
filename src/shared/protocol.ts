/**
 * The messages between the extension host and the timeline webview, typed once and imported by
 * both sides. Plain data only: the webview renders every string as text, never as HTML.
 *
 * This module must not import anything: the webview bundle includes it, and the compiler keeps
 * the webview from seeing node or vscode types.
 */

export type Outcome = 'success' | 'error' | 'cancelled' | 'timeout' | 'pending';

/** One call as a row or a bar: enough to draw and filter it, without payloads. */
export interface CallRow {
  session_id: string;
  call_id: string;
  server: string;
  /** The tool name for tools/call, else the method. */
  tool: string;
  method: string;
  direction: 'client_to_server' | 'server_to_client';
  agent_id?: string;
  outcome: Outcome;
  error_class?: string;
  error_message?: string;
  /** Start, epoch milliseconds. */
  start_ms: number;
  duration_ms?: number;
  input_summary: string;
  output_summary?: string;
  /** Number of security alerts raised on this call. */
  alerts: number;
  /** Set for replays: the call this one replays. */
  replay_of?: string;
  /** Set for agent retries: the failed call this one repeats (same server, tool and canonical arguments within 60 s). */
  retry_of?: string;
}

/** A JSON payload as the webview receives it: whole when small, cut when large (never silently). */
export type Payload =
  | { kind: 'json'; value: unknown }
  | { kind: 'truncated'; preview: string; size: number }
  | { kind: 'opaque'; reason: string; size: number }
  | { kind: 'absent' };

export interface AttachedMessageView {
  seq: number;
  ts: string;
  method: string;
  params: Payload;
}

export interface RawMessageView {
  seq: number;
  ts: string;
  dir: 'client_to_server' | 'server_to_client';
  /** The JSON text as recorded; cut past the payload limit, with `truncated` set. */
  text: string;
  truncated: boolean;
  origin?: 'recorder';
}

export interface ImageView {
  mimeType: string;
  /** Base64, as the tool returned it. Shown only for allowed MIME types, through a blob: URL. */
  data: string;
}

/** A security alert raised on a call (src/core/alerts), for the detail pane. */
export interface AlertView {
  alert_id: string;
  kind: string;
  severity: 'low' | 'medium' | 'high';
  title: string;
  detail: string;
}

export interface CallDetail {
  row: CallRow;
  timestamp: string;
  ended_at?: string;
  request_id: string | number;
  input: Payload;
  output: Payload;
  error?: {
    error_class: string;
    error_code: number | string | null;
    message: string;
    recoverable: boolean;
    recovery_action: string;
    retry_safe: boolean;
  };
  progress: AttachedMessageView[];
  logs: AttachedMessageView[];
  nested: CallRow[];
  images: ImageView[];
  raw: RawMessageView[];
  answered_by_recorder: boolean;
  /** The alerts counted in `row.alerts`. */
  alerts?: AlertView[];
  /** What the call changed (docs/side-effects.md); paths and URIs are shown as text. */
  side_effects?: SideEffectView[];
  side_effects_omitted?: number;
  /** The credential set the call ran under: names and fingerprints, never values. */
  credentials?: { set_id: string; mode: string; names: string[]; fingerprints: string[] };
}

export interface SideEffectView {
  kind: string;
  path?: string;
  uri?: string;
  name?: string;
  directory?: boolean;
  attribution: 'named_in_arguments' | 'observed_during' | 'declared';
  /** Call ids of every call in flight when it was seen. */
  in_flight: string[];
  ts: string;
}

export interface SessionView {
  session_id: string;
  started_at: string;
  ended_at?: string;
  label: string;
  tool_calls: number;
  failed_calls: number;
  terminal_state?: string;
}

/**
 * One session at a glance for the overview panel: the session summary and, when something broke,
 * the recovery plan's essentials (docs/recovery.md). Counts are null when not observed.
 */
export interface SessionOverview {
  session_id: string;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  terminal_state: string;
  recovery_status: string;
  tool_calls: number;
  successful_calls: number;
  failed_calls: number;
  cancelled_calls: number;
  pending_calls: number;
  retries: number;
  recovered_failures: number;
  servers: Array<{ name: string; version: string | null; calls: number; failures: number }>;
  agents: string[];
  errors_by_class: Array<{ error_class: string; count: number }>;
  /** How many credentials were attributed; null until credential attribution has run. */
  credentials_used: number | null;
  side_effects: { files_created: number | null; files_modified: number | null; files_deleted: number | null; api_calls_made: number | null; spend_incurred_usd: number | null };
  plan?: OverviewPlan;
}

export interface OverviewPlan {
  broke_at: { call_id: string; server: string; tool: string; reason: 'failed' | 'in_flight' } | null;
  last_resume_point: { after_call_id: string; server: string; tool: string; completed_tool_calls: number } | null;
  before_break: { permanent: number; reversible: number; no_effect: number };
  resume: Array<{ call_id: string; server: string; tool: string; reason: 'failed' | 'in_flight'; error_class: string | null; message: string | null; retry_safe: boolean; retry_note: string; reversibility: string; redacted: string[] }>;
}

/** Payloads larger than this are sent truncated, with "Open full" in the UI. */
export const PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** Image MIME types the detail pane displays. */
export const ALLOWED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;

/**
 * Rows in columns, for the history sent after `init` (src/shared/call-columns.ts encodes and
 * decodes them): one array per field, numbers and codes in typed arrays, the few distinct
 * session ids, servers, tools, methods, agents and error classes once in `dict`. Cloning 100k row
 * objects (postMessage) cost ~1 s before the first paint; these arrays clone in a few ms.
 */
export interface CallColumns {
  n: number;
  /** Distinct strings referenced by the `*Ref` columns (−1: absent). */
  dict: string[];
  sessionRef: Int32Array;
  serverRef: Int32Array;
  toolRef: Int32Array;
  methodRef: Int32Array;
  agentRef: Int32Array;
  errorClassRef: Int32Array;
  call_id: string[];
  /** 0 client_to_server, 1 server_to_client. */
  direction: Uint8Array;
  /** 0 success, 1 error, 2 timeout, 3 cancelled, 4 pending. */
  outcome: Uint8Array;
  start_ms: Float64Array;
  /** NaN: absent. */
  duration_ms: Float64Array;
  alerts: Uint32Array;
  input_summary: string[];
  /** null: absent (also in the columns below). */
  output_summary: Array<string | null>;
  error_message: Array<string | null>;
  replay_of: Array<string | null>;
  retry_of: Array<string | null>;
}

export type ToWebview =
  /**
   * Sent after `ready`: the initial state. With `total` set, `calls` holds only the newest calls
   * (a screenful, in start order) and the older `total − calls.length` follow in `history`
   * messages of the same `load`, newest first; without it, `calls` is everything.
   */
  | { type: 'init'; readOnly: boolean; title: string; sessions: SessionView[]; calls: CallRow[]; follow: boolean; total?: number; load?: number }
  /**
   * A chunk of the history announced by `init` (`load` matches): calls older than every call
   * sent before in this load. A call the webview already has (a live update came first) is newer
   * than its copy here and is kept. `done` on the last chunk.
   */
  | { type: 'history'; load: number; columns: CallColumns; done: boolean }
  /** New or changed calls, batched (at most ~10 messages a second). */
  | { type: 'calls'; calls: CallRow[] }
  | { type: 'sessions'; sessions: SessionView[] }
  /** The answer to `requestDetail`. */
  | { type: 'detail'; requestId: number; detail: CallDetail | undefined; error?: string }
  /** Select and scroll to a call (from the tree's "Reveal in Timeline"). */
  | { type: 'reveal'; session_id: string; call_id: string }
  /** The answer to `requestOverview`. */
  | { type: 'overview'; requestId: number; session_id: string; overview: SessionOverview | undefined; error?: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'requestDetail'; requestId: number; session_id: string; call_id: string }
  | { type: 'openInputs'; session_id: string; call_id: string }
  | { type: 'openFull'; session_id: string; call_id: string; part: 'input' | 'output' }
  | { type: 'replay'; session_id: string; call_id: string }
  | { type: 'copyJson'; session_id: string; call_id: string }
  | { type: 'requestOverview'; requestId: number; session_id: string }
  /** Opens the session's recovery plan as a document ("Show Recovery Plan"). */
  | { type: 'showPlan'; session_id: string };

export function isFromWebview(value: unknown): value is FromWebview {
  const t = (value as { type?: unknown } | null)?.type;
  return typeof t === 'string' && ['ready', 'requestDetail', 'openInputs', 'openFull', 'replay', 'copyJson', 'requestOverview', 'showPlan'].includes(t);
}
