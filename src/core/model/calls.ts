import type { CredentialEntry, CredentialMode, Direction, FileEffect, JsonRpcId, RecorderKind, ServerTarget, UpstreamKind } from './records';

/**
 * Calls, connections and sessions: what the journal's records mean once requests are paired
 * with their responses. Field names follow the structured logs MCP operators already know
 * (`tool`, `server`, `session_id`, `agent_id`, `duration_ms`, `outcome`, `error_class`…).
 */

export type Outcome = 'success' | 'error' | 'cancelled' | 'timeout' | 'pending';

export type ErrorClass =
  | 'invalid_params'
  | 'method_not_found'
  | 'tool_error'
  | 'auth_expired'
  | 'auth_denied'
  | 'rate_limited'
  | 'timeout'
  | 'cancelled'
  | 'server_crash'
  | 'transport_error'
  | 'protocol_violation'
  | 'spend_limit'
  | 'policy_denied'
  | 'internal_error';

export type RecoveryAction = 'retry' | 'retry_with_backoff' | 'reauth' | 'fix_arguments' | 'restart_server' | 'manual' | 'none';

export interface CallError {
  error_class: ErrorClass;
  /** JSON-RPC code, HTTP status, or a stable string. */
  error_code: number | string | null;
  message: string;
  recoverable: boolean;
  recovery_action: RecoveryAction;
  retry_safe: boolean;
}

/** Where a record sits in the journal, so bodies can be read back on demand. */
export interface JournalLocation {
  file: string;
  offset: number;
  length: number;
}

export interface AttachedMessage {
  seq: number;
  ts: string;
  method: string;
  params: unknown;
}

/**
 * Something a call changed outside the protocol. `attribution` says how it was tied to the call:
 * `named_in_arguments` (the path or URI appears in this call's arguments), `observed_during` (it
 * happened while the calls in `in_flight` were running and none named it), or `declared` (the
 * policy says this tool has this effect). See docs/side-effects.md.
 */
export interface SideEffect {
  kind: FileEffect | 'resource_updated' | 'resource_list_changed' | 'declared';
  /** Absolute path (file effects). */
  path?: string;
  /** The resource URI (resource_updated). */
  uri?: string;
  /** The declared effect's name (declared). */
  name?: string;
  directory?: true;
  attribution: 'named_in_arguments' | 'observed_during' | 'declared';
  /** Every call in flight when the effect was seen (this one included). */
  in_flight?: string[];
  /** The journal record the effect comes from (the side_effect record, or the notification). */
  seq?: number;
  ts: string;
}

/** The credential set a call ran under: the latest `credentials` record of its connection when it was made. */
export interface CallCredentials {
  set_id: string;
  mode: CredentialMode;
  names: string[];
  fingerprints: string[];
}

export interface Call {
  /** Unique within the session: the connection and the request's sequence number. */
  call_id: string;
  session_id: string;
  connection_id: string;
  direction: Direction;
  method: string;
  /** The tool name for tools/call; the method otherwise. */
  tool: string;
  request_id: JsonRpcId;
  server: { name: string; version?: string };
  /** The client's `clientInfo` as `name/version`. */
  agent_id?: string;
  timestamp: string;
  ended_at?: string;
  duration_ms?: number;
  /** tools/call arguments; the request's params for other methods. Undefined when the record is opaque. */
  input?: unknown;
  input_summary: string;
  /** The result, or the error object of a JSON-RPC error. */
  output?: unknown;
  output_summary?: string;
  outcome: Outcome;
  error?: CallError;
  request_seq: number;
  response_seq?: number;
  /** Set when the recorder itself produced the answer (crash, timeout, gate). */
  answered_by_recorder?: boolean;
  /** Set when the request or response was too large or deep to keep structured. */
  opaque?: Array<'request' | 'response'>;
  progress: AttachedMessage[];
  logs: AttachedMessage[];
  cancelled?: AttachedMessage;
  /**
   * For server→client requests (sampling, elicitation, roots): the client call that was in flight
   * when the server made it. stdio carries no link between the two, so this is what was observed,
   * not what the server declared.
   */
  parent_call_id?: string;
  nested_call_ids: string[];
  /**
   * An agent retry: the earlier call this one repeats — the same tool on the same server with the
   * same canonical (RFC 8785) arguments, requested within RETRY_WINDOW_MS after that call failed.
   */
  retry_of?: string;
  request_location?: JournalLocation;
  response_location?: JournalLocation;
  /**
   * tools/call only: whether repeating the call has no further effect, and whether its effect can
   * be undone, each with where the tag came from (src/core/analysis/reversibility.ts).
   */
  idempotent?: boolean;
  idempotent_source?: TagSource;
  reversibility?: Reversibility;
  reversibility_source?: TagSource;
  /** What the call cost in US dollars: reported by the server in `_meta`, or the policy's fixed cost. */
  cost_usd?: number;
  cost_source?: 'reported' | 'policy';
  /** Ids of the security alerts raised on this call (alert records naming its request_seq). */
  alerts?: string[];
  /** Effects attributed to this call (absent when none). */
  side_effects?: SideEffect[];
  /** Effects beyond the first 1000 of this call, counted only. */
  side_effects_omitted?: number;
  /** The credentials in use when the call was made (absent for connections recorded without them). */
  credentials?: CallCredentials;
}

export type Reversibility = 'no_effect' | 'reversible' | 'permanent';
export type TagSource = 'annotation' | 'override' | 'default';

export interface ConnectionInfo {
  connection_id: string;
  session_id: string;
  upstream: UpstreamKind;
  server: ServerTarget & {
    /** The name the server gives itself in `serverInfo` (the configured name is `name`). */
    reported_name?: string;
    version?: string;
    title?: string;
    protocol_version?: string;
    capabilities?: unknown;
    instructions?: string;
  };
  agent?: { name: string; version?: string; title?: string; protocol_version?: string; capabilities?: unknown };
  mcp_session_id?: string;
  opened_at: string;
  closed_at?: string;
  close_reason?: string;
  process?: { pid?: number; exit_code?: number | null; signal?: string | null; spawn_error?: string };
  stderr_lines: number;
  non_json_frames: number;
  opaque_frames: number;
  transport_errors: number;
  /** The latest tools/list result, for annotations (read-only, idempotent…). */
  tools?: Array<{ name: string; annotations?: Record<string, unknown> }>;
  /** Every credential set the connection used, in order (see CredentialsRecord). */
  credentials?: Array<{ set_id: string; mode: CredentialMode; entries: CredentialEntry[]; since: string }>;
}

export type TerminalState = 'success' | 'partial_success' | 'failure' | 'interrupted' | 'in_progress';

export interface SessionInfo {
  session_id: string;
  started_at: string;
  ended_at?: string;
  end_reason?: string;
  recorder: { kind: RecorderKind; version: string; pid: number; hostname: string; user: string };
  replay_of?: { session_id: string; call_id: string };
  connections: ConnectionInfo[];
}
