/**
 * The journal's record types: the single source of truth for what the recorder writes.
 *
 * One JSON object per line. Every record carries the session it belongs to, a per-session
 * sequence number, a wall-clock ISO timestamp and a monotonic timestamp (milliseconds since the
 * writing process started, for durations that survive clock jumps). Everything else in the
 * product — index, views, exports — is derived from these records.
 */

export const JOURNAL_FORMAT = 'mcp-flight.journal';
/** Bumped when the record format changes incompatibly; a newer store opens read-only. */
export const JOURNAL_VERSION = 1;

export type Direction = 'client_to_server' | 'server_to_client';

/** How the client reaches the recorder. */
export type UpstreamKind = 'stdio' | 'http' | 'in_process';
/** How the recorder reaches the server. */
export type DownstreamKind = 'stdio' | 'http' | 'sse';

export type RecorderKind = 'cli-record' | 'cli-serve' | 'extension' | 'replay' | 'test' | 'demo';

export interface ServerTarget {
  /** The name the user configured for the server. */
  name: string;
  transport: DownstreamKind;
  command?: string;
  args?: string[];
  cwd?: string;
  url?: string;
  /** Names only: values of env entries and headers never enter the record here. */
  env_names?: string[];
  header_names?: string[];
}

interface RecordBase {
  session_id: string;
  seq: number;
  ts: string;
  mono: number;
}

interface ConnectionScoped extends RecordBase {
  connection_id: string;
}

export interface SegmentHeader {
  type: 'segment';
  format: typeof JOURNAL_FORMAT;
  version: number;
  writer_id: string;
  segment: number;
  created_at: string;
  /** The segment's tamper-evidence chain (docs/audit-trail.md); absent when written without one. */
  audit?: SegmentAudit;
}

/** Names the chain a segment's lines form: every line carries `h` and `mac` ahead of its own fields. */
export interface SegmentAudit {
  chain: 'mcp-flight.chain/v1';
  /** The store's identity (`audit.json`), which also names its checkpoint folder outside the workspace. */
  store_id: string;
  /** Fingerprint of the Ed25519 key that signs this writer's checkpoints (`sha256:<hex>`). */
  key: string;
  /** That public key, raw, base64. */
  public_key: string;
  /** The last `h` of the writer's previous segment; null for its first segment. */
  prev: string | null;
}

/**
 * A signed checkpoint: seals the first `upto` lines of a segment, whose last `h` it names.
 * Written into the journal (a line of the chain itself) and, once the journal is fsynced, into
 * the writer's log outside the workspace. Not a session record: the index skips it.
 */
export interface CheckpointRecord {
  type: 'checkpoint';
  v: 1;
  store_id: string;
  writer_id: string;
  segment: number;
  /** 1, 2, 3… per writer, across its segments. */
  k: number;
  /** Lines sealed: the segment's lines 0 … upto-1 (this checkpoint is line `upto`). */
  upto: number;
  /** The chain value of line upto-1. */
  h: string;
  /** SHA-256 of the previous checkpoint of the writer (its canonical JSON, signature included); null for k = 1. */
  prev: string | null;
  ts: string;
  reason: 'count' | 'time' | 'rotate' | 'close' | 'manual';
  /** Written by a clean shutdown: nothing follows in this writer. */
  final?: true;
  /** Fingerprint of the signing key. */
  key: string;
  /** Ed25519 signature (base64) over the canonical JSON of every other field. */
  sig: string;
}

export interface SessionStartRecord extends RecordBase {
  type: 'session_start';
  recorder: { kind: RecorderKind; version: string; pid: number; hostname: string; user: string };
  /** For replay sessions: the call being replayed. */
  replay_of?: { session_id: string; call_id: string };
}

export interface SessionEndRecord extends RecordBase {
  type: 'session_end';
  reason: string;
}

export interface ConnectionOpenRecord extends ConnectionScoped {
  type: 'connection_open';
  server: ServerTarget;
  upstream: UpstreamKind;
}

export interface ConnectionCloseRecord extends ConnectionScoped {
  type: 'connection_close';
  reason: string;
}

/** One JSON-RPC message as it crossed the recorder. */
export interface MessageRecord extends ConnectionScoped {
  type: 'message';
  dir: Direction;
  /** Bytes on the wire (without stdio's newline framing). */
  size: number;
  message: unknown;
  /** Set when the recorder itself produced the message (e.g. an error for a call the server can no longer answer). */
  origin?: 'recorder';
  /** Streamable HTTP session id, when the transport has one. */
  mcp_session_id?: string;
  /** Only the envelope was kept (capture level "metadata", or recording paused); see `metadataOnly`. */
  capture?: 'metadata';
  /** Secrets replaced in `message` by `[REDACTED:<kind>:<fingerprint>]` markers: where (JSON Pointer) and what kind; see src/core/audit/redaction.ts. */
  redacted?: Array<{ path: string; kind: string; encoding?: string; count?: number }>;
}

/**
 * A message forwarded untouched but too deep or too large to keep as structured JSON. The
 * envelope (id, method, whether it is a result or an error) is still extracted so pairing works.
 */
export interface OpaqueRecord extends ConnectionScoped {
  type: 'opaque';
  dir: Direction;
  size: number;
  reason: 'depth_limit' | 'size_limit';
  sha256: string;
  envelope: MessageEnvelope;
  /** For a `tools/call`: the tool's name, read from the top of the message (the one part safe to read at any size or depth). */
  tool?: string;
  /** The bytes themselves: UTF-8 text when valid, otherwise base64. */
  text?: string;
  base64?: string;
}

/** Bytes that are not a JSON-RPC message (banners on stdout, invalid UTF-8, JSON that is not JSON-RPC). */
export interface NonJsonRecord extends ConnectionScoped {
  type: 'non_json';
  dir: Direction;
  size: number;
  reason: 'not_json' | 'invalid_utf8' | 'not_jsonrpc';
  forwarded: boolean;
  text?: string;
  base64?: string;
}

export interface StderrRecord extends ConnectionScoped {
  type: 'stderr';
  text: string;
}

export interface ProcessSpawnRecord extends ConnectionScoped {
  type: 'process_spawn';
  pid: number;
}

export interface ProcessExitRecord extends ConnectionScoped {
  type: 'process_exit';
  code: number | null;
  signal: string | null;
}

export interface SpawnErrorRecord extends ConnectionScoped {
  type: 'spawn_error';
  code: string;
  message: string;
}

export interface TransportErrorRecord extends ConnectionScoped {
  type: 'transport_error';
  side: 'upstream' | 'downstream';
  message: string;
  http_status?: number;
}

/** The recorder gave up waiting for a response and answered the client itself. */
export interface TimeoutRecord extends ConnectionScoped {
  type: 'timeout';
  request_id: string | number;
  after_ms: number;
}

export interface GateDecisionRecord extends ConnectionScoped {
  type: 'gate_decision';
  request_id: string | number;
  decision: 'allow' | 'deny';
  reason?: string;
  held_ms: number;
}

export type AlertSeverity = 'low' | 'medium' | 'high';

/** What a security alert is about; see src/core/alerts/ and docs/alerts.md. */
export type AlertKind =
  | 'schema_violation'
  | 'undeclared_argument'
  | 'high_frequency'
  | 'tool_poisoning'
  | 'exfiltration_after_poisoning'
  | 'definition_changed'
  | 'server_sampling'
  | 'server_elicitation'
  | 'secret_in_result'
  | 'self_tampering'
  | 'uninspectable_message';

/**
 * A security alert raised live by the alert engine (src/core/alerts), written through the
 * recorder like every record so it is hash-chained with the messages it is about.
 */
export interface AlertRecord extends ConnectionScoped {
  type: 'alert';
  /** Unique within the session: `a<n>`. */
  alert_id: string;
  /** Not `kind`: JSONL export lines use `kind` for what the line is. */
  alert_kind: AlertKind;
  severity: AlertSeverity;
  /** One line. */
  title: string;
  /** What was seen and why it matters, as plain text (may span lines, e.g. a diff). */
  detail: string;
  /** The configured server name. */
  server: string;
  tool?: string;
  /** The request the alert concerns (a call: `<connection_id>:<request_seq>`). */
  request_id?: JsonRpcId;
  request_seq?: number;
  /** The message that raised it when that is not a request (a tools/list result, an initialize result). */
  message_seq?: number;
  /** Structured evidence: ajv errors, findings with their location, a definition diff… */
  evidence?: Record<string, unknown>;
}

/** One HTTP exchange seen by the reverse proxy (status and header names; bodies are in message records). */
export interface HttpExchangeRecord extends ConnectionScoped {
  type: 'http_exchange';
  method: string;
  path: string;
  status: number;
  content_type?: string;
  www_authenticate?: string;
  /** The ids of the JSON-RPC requests the POST carried, so a refusal (401, 429, 5xx) ends those calls. */
  request_ids?: JsonRpcId[];
}

/**
 * The policy that governs the session (`applied`), or a store policy that does not (`ignored`:
 * unapproved, changed since approval, invalid, overridden). See docs/policy.md.
 */
export interface PolicyRecord extends RecordBase {
  type: 'policy';
  /** `withdrawn`: the policy named by sha256 stopped governing the session (its setting was removed). */
  status: 'applied' | 'ignored' | 'withdrawn';
  source: 'file' | 'settings' | 'store';
  path?: string;
  /** Hex SHA-256 of the policy's bytes (the setting's JSON text for `settings`). */
  sha256: string;
  /** Why an ignored policy is not applied. */
  reason?: string;
  /** The applied policy itself, so the session carries the rules that governed it. */
  policy?: unknown;
}

/** The spend governor crossed a threshold of the session's limit (docs/policy.md). */
export interface SpendRecord extends RecordBase {
  type: 'spend';
  event: 'warning' | 'limit_reached';
  spent_usd: number;
  limit_usd: number;
  /** The call whose cost crossed the threshold. */
  connection_id?: string;
  request_id?: JsonRpcId;
  tool?: string;
}

/**
 * The live OTLP push (docs/otlp.md) could not deliver: an outage began, spans were dropped, or
 * delivery resumed. Session-scoped; written by the recorder's process, never on its hot path.
 */
export interface OtlpPushRecord extends RecordBase {
  type: 'otlp_push';
  status: 'failing' | 'dropped' | 'recovered';
  /** The collector's URL, origin and path only (no credentials, no query). */
  endpoint: string;
  /** Spans given up by this event (`dropped`). */
  dropped_spans?: number;
  /** Spans given up by the push so far in this process. */
  total_dropped: number;
  error?: string;
}

/** How a server is authenticated: see src/core/audit/credentials.ts for how each mode is told. */
export type CredentialMode = 'none' | 'env' | 'headers' | 'oauth' | 'input_secret';

/** One credential a connection used: its name and a keyed fingerprint of its value — never the value. */
export interface CredentialEntry {
  /** The environment variable or header name. */
  name: string;
  mode: Exclude<CredentialMode, 'none'>;
  /** As in redaction markers: the same secret gives the same 6 hex digits (src/core/audit/redaction.ts). */
  fingerprint: string;
  /** `configured` for the server, `inherited` from the recorder's environment, or sent by the `client` (OAuth). */
  origin: 'configured' | 'inherited' | 'client';
}

/**
 * The credentials a connection uses from here on: written right after `connection_open`, and
 * again when the client's Authorization changes (an OAuth token obtained or refreshed).
 */
export interface CredentialsRecord extends ConnectionScoped {
  type: 'credentials';
  /** `<connection_id>/<n>`: what calls name as the set in use. */
  set_id: string;
  mode: CredentialMode;
  entries: CredentialEntry[];
  reason: 'connection_open' | 'authorization_changed';
}

export type FileEffect = 'file_created' | 'file_modified' | 'file_deleted';

/**
 * A change to a workspace file seen by a watcher while this recorder ran. Which calls it is
 * attributed to is derived when the session is assembled (src/core/effects/attribution.ts), from
 * the calls in flight at this record's place in the journal.
 */
export interface SideEffectRecord extends RecordBase {
  type: 'side_effect';
  effect: FileEffect;
  /** Absolute path, as the watcher reported it. */
  path: string;
  /** The watched folder the path is in. */
  root: string;
  /** A directory rather than a file. */
  directory?: true;
  /** Which watcher saw it: Node's recursive fs.watch (CLI) or VS Code's file watcher. */
  watcher: 'fs.watch' | 'vscode';
}

export type JournalRecord =
  | SessionStartRecord
  | SessionEndRecord
  | ConnectionOpenRecord
  | ConnectionCloseRecord
  | MessageRecord
  | OpaqueRecord
  | NonJsonRecord
  | StderrRecord
  | ProcessSpawnRecord
  | ProcessExitRecord
  | SpawnErrorRecord
  | TransportErrorRecord
  | TimeoutRecord
  | GateDecisionRecord
  | HttpExchangeRecord
  | OtlpPushRecord
  | PolicyRecord
  | SpendRecord
  | AlertRecord
  | CredentialsRecord
  | SideEffectRecord;

export type RecordType = JournalRecord['type'];

/** Records scoped to one connection, without the stamp the recorder adds. */
export type ConnectionEvent = DistributiveOmit<Extract<JournalRecord, { connection_id: string }>, keyof ConnectionScoped>;

/** Session-wide records other than session_start/end, without the stamp the recorder adds. */
export type SessionEvent = DistributiveOmit<PolicyRecord | SpendRecord | OtlpPushRecord, keyof RecordBase>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type JsonRpcId = string | number;

/** What the recorder needs of a message to pair it, without keeping the whole of it. */
export interface MessageEnvelope {
  kind: 'request' | 'notification' | 'response' | 'error' | 'invalid';
  id?: JsonRpcId | null;
  method?: string;
}
