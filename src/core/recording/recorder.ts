import * as crypto from 'node:crypto';
import * as os from 'node:os';
import { Emitter } from '../model/events';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_STRUCTURED_BYTES, envelopeOf, jsonMemberCount, jsonMembersWithin } from '../model/jsonrpc';
import type {
  ConnectionEvent,
  OtlpPushRecord,
  SessionStartRecord,
  CredentialsRecord,
  Direction,
  JournalRecord,
  MessageEnvelope,
  RecorderKind,
  ServerTarget,
  SessionEvent,
  SideEffectRecord,
  UpstreamKind,
} from '../model/records';
import type { JournalWriter } from '../store/journal';
import { defaultRedactorInstance, type Redaction, type Redactor } from '../audit/redaction';
import { credentialsOf, type CredentialSet } from '../audit/credentials';
import type { ServerSpec } from '../config/servers';
import { VERSION } from '../version';
import { metadataOnly, type CaptureLevel } from './capture';

/**
 * A recording session: one recorder lifetime (the extension from activation to shutdown, one
 * `mcp-flight record` or `serve` process). It stamps every record with the session id, a
 * per-session sequence number and wall-clock and monotonic times, hands it to the journal, and
 * then tells live listeners.
 */

export interface RecorderOptions {
  kind: RecorderKind;
  journal: JournalWriter;
  sessionId?: string;
  maxDepth?: number;
  maxStructuredBytes?: number;
  replayOf?: { session_id: string; call_id: string };
  capture?: CaptureLevel;
  /** Replaces secrets in what is recorded (never in what is forwarded). Default: a Redactor with default settings — redaction is always on. */
  redactor?: Redactor;
}

/** What the recorder learned about one message it journaled. */
export interface TappedMessage {
  envelope: MessageEnvelope;
  /** The parsed message; undefined for opaque and non-JSON frames. */
  value: unknown;
  /** False when the frame is not a JSON-RPC message at all. */
  isJsonRpc: boolean;
  /** The journal sequence number of the record written for it. */
  seq?: number;
  /** What redaction replaced in the recorded copy (set only when something was). */
  redacted?: Redaction[];
  /** Set when the journal could not take the record (Recorder.writeError): the frame must not be forwarded. */
  unrecorded?: true;
  /** Set when the message was kept as opaque bytes (too large or too deep to inspect): `value` is then undefined. */
  opaque?: { reason: 'size_limit' | 'depth_limit'; size: number; tool?: string };
}

/**
 * Sees every frame right after it is journaled (the security alert engine, src/core/alerts):
 * before it is forwarded when a gate decides on it (a client's request, with enforcement or a
 * policy on), otherwise just after. Synchronously, in message order.
 */
export type MessageInspector = (connectionId: string, dir: Direction, tapped: TappedMessage) => void;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function newSessionId(): string {
  return crypto.randomUUID();
}

export class Recorder {
  readonly sessionId: string;
  readonly journal: JournalWriter;
  private seq = 0;
  private connectionCount = 0;
  private ended = false;
  private readonly maxDepth: number;
  private readonly maxStructuredBytes: number;
  /** "metadata" keeps only envelopes (the setting, or recording paused); changeable at any time. */
  capture: CaptureLevel;
  /** Replaceable at any time (the extension's redaction settings changed); the next record uses the new one. */
  redactor: Redactor;
  private readonly onRecordEmitter = new Emitter<JournalRecord>();
  /** Every record, after it reached the journal. */
  readonly onRecord = this.onRecordEmitter.event;
  /** The session's first record, written by the constructor (before anyone could listen). */
  readonly started: SessionStartRecord;
  /** @internal See MessageInspector. */
  readonly inspectors: MessageInspector[] = [];

  constructor(private readonly options: RecorderOptions) {
    this.sessionId = options.sessionId ?? newSessionId();
    this.journal = options.journal;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxStructuredBytes = options.maxStructuredBytes ?? DEFAULT_MAX_STRUCTURED_BYTES;
    this.capture = options.capture ?? 'full';
    this.redactor = options.redactor ?? defaultRedactorInstance();
    this.started = {
      type: 'session_start',
      ...this.stamp(),
      recorder: { kind: options.kind, version: VERSION, pid: process.pid, hostname: os.hostname(), user: safeUser() },
      ...(options.replayOf ? { replay_of: options.replayOf } : {}),
    };
    this.write(this.started);
  }

  /** With the spec, the connection's credentials (names and fingerprints) are recorded right after it opens. */
  openConnection(server: ServerTarget, upstream: UpstreamKind, spec?: ServerSpec): ConnectionRecorder {
    const id = `c${++this.connectionCount}`;
    const conn = new ConnectionRecorder(this, id);
    conn.event({ type: 'connection_open', server, upstream });
    if (spec) conn.credentials(credentialsOf(spec, this.redactor), 'connection_open');
    return conn;
  }

  /** Records a file change seen by a workspace watcher (src/core/effects/ledger.ts decides what is one). */
  sideEffect(effect: Omit<SideEffectRecord, keyof ReturnType<Recorder['stamp']> | 'type'>): void {
    if (this.ended) return;
    this.write({ type: 'side_effect', ...this.stamp(), ...effect });
  }

  end(reason = 'shutdown'): void {
    if (this.ended) return;
    this.ended = true;
    this.write({ type: 'session_end', ...this.stamp(), reason });
    this.journal.sync();
  }

  /** Journals a record of the session itself (no connection): the policy in effect, a spend threshold, the OTLP push's drops; ignored once the session ended. */
  sessionEvent(ev: SessionEvent): void {
    if (this.ended) return;
    this.write({ ...this.redactor.redactEvent(ev), ...this.stamp() } as JournalRecord);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Adds a MessageInspector; returns a function that removes it. */
  inspect(inspector: MessageInspector): () => void {
    this.inspectors.push(inspector);
    return () => {
      const i = this.inspectors.indexOf(inspector);
      if (i !== -1) this.inspectors.splice(i, 1);
    };
  }

  /** @internal */
  stamp(): { session_id: string; seq: number; ts: string; mono: number } {
    return { session_id: this.sessionId, seq: ++this.seq, ts: new Date().toISOString(), mono: Math.round(performance.now() * 1000) / 1000 };
  }

  /**
   * @internal Journals a record; false when the journal could not take it. A failed write is
   * reported (stderr, onWriteError) and never thrown: the caller decides what an unrecorded
   * message means — the proxy refuses to forward it.
   */
  write(record: JournalRecord, line?: string): boolean {
    try {
      // The record travels with its text so the audit chain hashes the object instead of parsing the text again.
      this.journal.appendRecord(record, line);
    } catch (err) {
      if (!this.writeError) {
        this.writeError = err as Error;
        console.error(`mcp-flight: cannot write the journal (${(err as Error).message}): messages are refused from now on, never forwarded unrecorded`);
        this.writeErrorEmitter.fire(err as Error);
      }
      return false;
    }
    if (this.onRecordEmitter.hasListeners) this.onRecordEmitter.fire(record);
    return true;
  }

  /** The first failed journal write, if any (the session then refuses messages). */
  writeError?: Error;
  private readonly writeErrorEmitter = new Emitter<Error>();
  /** Fires once, at the first journal write that fails. */
  readonly onWriteError = this.writeErrorEmitter.event;

  /** @internal The hot path: classify one frame, journal it, report what it was. */
  tap(connectionId: string, dir: Direction, frame: Buffer | string, extra?: { origin?: 'recorder'; mcp_session_id?: string }): TappedMessage {
    const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    let text: string;
    if (typeof frame === 'string') {
      text = frame;
    } else {
      try {
        text = utf8.decode(frame);
      } catch {
        const ok = this.write({ type: 'non_json', ...this.stamp(), connection_id: connectionId, dir, size, reason: 'invalid_utf8', forwarded: true, ...(this.capture === 'full' ? { base64: this.redactor.redactBytes(frame).bytes.toString('base64') } : {}) });
        return { envelope: { kind: 'invalid' }, value: undefined, isJsonRpc: false, ...unrecorded(ok) };
      }
    }

    const tooLarge = size > this.maxStructuredBytes;
    // The members the text writes (-1: too deep), to tell whether the parsed value shows all of them (see below).
    const members = tooLarge ? -1 : jsonMembersWithin(text, this.maxDepth);
    const tooDeep = !tooLarge && members === -1;
    let value: unknown;
    try {
      // V8's JSON.parse is iterative, so even 100,000-deep input parses; only walking it would overflow.
      value = JSON.parse(text);
    } catch {
      const ok = this.write({ type: 'non_json', ...this.stamp(), connection_id: connectionId, dir, size, reason: 'not_json', forwarded: true, ...(this.capture === 'full' ? { text: this.redactor.redactText(text).text } : {}) });
      return { envelope: { kind: 'invalid' }, value: undefined, isJsonRpc: false, ...unrecorded(ok) };
    }
    const envelope = envelopeOf(value);

    if (tooLarge || tooDeep) {
      // The tool's name is read at the top (safe at any depth): what cannot be inspected can still be named.
      const name = envelope.method === 'tools/call' ? (value as { params?: { name?: unknown } }).params?.name : undefined;
      const tool = typeof name === 'string' ? this.redactor.redactText(name).text : undefined;
      const opaqueStamp = this.stamp();
      const reason = tooLarge ? ('size_limit' as const) : ('depth_limit' as const);
      const ok = this.write({
        type: 'opaque',
        ...opaqueStamp,
        connection_id: connectionId,
        dir,
        size,
        reason,
        // sha256 is of the forwarded bytes; the text is redacted by a string scan (too large or deep to parse and walk).
        sha256: crypto.createHash('sha256').update(text).digest('hex'),
        envelope,
        ...(tool !== undefined ? { tool } : {}),
        ...(this.capture === 'full' ? { text: this.redactor.redactText(text, { parse: false }).text } : {}),
      });
      return { envelope, value: undefined, isJsonRpc: envelope.kind !== 'invalid', seq: opaqueStamp.seq, opaque: { reason, size, ...(tool !== undefined ? { tool } : {}) }, ...unrecorded(ok) };
    }

    if (envelope.kind === 'invalid') {
      const ok = this.write({ type: 'non_json', ...this.stamp(), connection_id: connectionId, dir, size, reason: 'not_jsonrpc', forwarded: true, ...(this.capture === 'full' ? { text: this.redactor.redactText(text).text } : {}) });
      return { envelope, value, isJsonRpc: false, ...unrecorded(ok) };
    }

    const stamp = this.stamp();
    if (this.capture === 'metadata') {
      const meta = this.redactor.redactMessage(metadataOnly(value, size));
      const ok = this.write({ type: 'message', ...stamp, connection_id: connectionId, dir, size, message: meta.value, ...extra, capture: 'metadata', ...(meta.redactions.length > 0 ? { redacted: meta.redactions } : {}) });
      return { envelope, value, isJsonRpc: true, seq: stamp.seq, ...unrecorded(ok) };
    }
    // Secrets are replaced in the recorded copy only; `value` (returned below) and the forwarded frame stay as they are.
    const redacted = this.redactor.redactMessage(value);
    if (redacted.redactions.length > 0) {
      const ok = this.write({ type: 'message', ...stamp, connection_id: connectionId, dir, size, message: redacted.value, ...extra, redacted: redacted.redactions });
      return { envelope, value, isJsonRpc: true, seq: stamp.seq, redacted: redacted.redactions, ...unrecorded(ok) };
    }
    const record: JournalRecord = { type: 'message', ...stamp, connection_id: connectionId, dir, size, message: value, ...extra };
    // The message goes into the journal as the exact text that crossed the wire (already proven
    // to be JSON above), so the record keeps key order, spacing and numbers verbatim and the hot
    // path never re-serialises. Line breaks inside would break the framing: those re-serialise.
    // So does a text with duplicate keys: JSON.parse kept the last of each, so the redaction walk
    // never saw the others — written verbatim, a secret in one would reach the journal.
    let line: string | undefined;
    if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1 && jsonMemberCount(value) === members) {
      let head = `{"type":"message","session_id":"${stamp.session_id}","seq":${stamp.seq},"ts":"${stamp.ts}","mono":${stamp.mono},"connection_id":${JSON.stringify(connectionId)},"dir":"${dir}","size":${size}`;
      if (extra?.origin) head += `,"origin":"${extra.origin}"`;
      if (extra?.mcp_session_id !== undefined) head += `,"mcp_session_id":${JSON.stringify(extra.mcp_session_id)}`;
      line = `${head},"message":${text}}`;
    }
    const ok = this.write(record, line);
    return { envelope, value, isJsonRpc: true, seq: stamp.seq, ...unrecorded(ok) };
  }
}

export class ConnectionRecorder {
  constructor(
    readonly recorder: Recorder,
    readonly id: string,
  ) {}

  get sessionId(): string {
    return this.recorder.sessionId;
  }

  /** Journals one message frame before it is forwarded, then shows it to the inspectors. */
  message(dir: Direction, frame: Buffer | string, extra?: { origin?: 'recorder'; mcp_session_id?: string }): TappedMessage {
    const tapped = this.journal(dir, frame, extra);
    this.inspect(dir, tapped);
    return tapped;
  }

  /**
   * Journals one message frame, without the inspectors: for the proxy, which forwards the frame
   * first and inspects it after (the alert engine's work stays off the forwarding path) unless a
   * gate has to decide on it with the alerts it raises.
   */
  journal(dir: Direction, frame: Buffer | string, extra?: { origin?: 'recorder'; mcp_session_id?: string }): TappedMessage {
    return this.recorder.tap(this.id, dir, frame, extra);
  }

  /** Shows a journaled frame to the inspectors (MessageInspector). */
  inspect(dir: Direction, tapped: TappedMessage): void {
    const inspectors = this.recorder.inspectors;
    // An inspector that throws must not stop the message: it is already journaled.
    for (let i = 0; i < inspectors.length; i++) {
      try {
        inspectors[i]!(this.id, dir, tapped);
      } catch {
        /* the inspector reports its own failures */
      }
    }
  }

  private credentialSets = 0;

  /** Records the credential set in use from now on (names and fingerprints only). */
  credentials(set: CredentialSet, reason: CredentialsRecord['reason']): void {
    this.event({ type: 'credentials', set_id: `${this.id}/${++this.credentialSets}`, mode: set.mode, entries: set.entries, reason });
  }

  event(ev: ConnectionEvent): void {
    this.recorder.write({ ...this.recorder.redactor.redactEvent(ev), ...this.recorder.stamp(), connection_id: this.id } as JournalRecord);
  }
}

function unrecorded(written: boolean): { unrecorded?: true } {
  return written ? {} : { unrecorded: true };
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
