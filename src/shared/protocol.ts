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

/** Payloads larger than this are sent truncated, with "Open full" in the UI. */
export const PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** Image MIME types the detail pane displays. */
export const ALLOWED_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;

export type ToWebview =
  /** Sent after `ready`: the whole initial state. */
  | { type: 'init'; readOnly: boolean; title: string; sessions: SessionView[]; calls: CallRow[]; follow: boolean }
  /** New or changed calls, batched (at most ~10 messages a second). */
  | { type: 'calls'; calls: CallRow[] }
  | { type: 'sessions'; sessions: SessionView[] }
  /** The answer to `requestDetail`. */
  | { type: 'detail'; requestId: number; detail: CallDetail | undefined; error?: string }
  /** Select and scroll to a call (from the tree's "Reveal in Timeline"). */
  | { type: 'reveal'; session_id: string; call_id: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'requestDetail'; requestId: number; session_id: string; call_id: string }
  | { type: 'openInputs'; session_id: string; call_id: string }
  | { type: 'openFull'; session_id: string; call_id: string; part: 'input' | 'output' }
  | { type: 'replay'; session_id: string; call_id: string }
  | { type: 'copyJson'; session_id: string; call_id: string };

export function isFromWebview(value: unknown): value is FromWebview {
  const t = (value as { type?: unknown } | null)?.type;
  return typeof t === 'string' && ['ready', 'requestDetail', 'openInputs', 'openFull', 'replay', 'copyJson'].includes(t);
}
