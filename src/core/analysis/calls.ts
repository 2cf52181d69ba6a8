import { createHash } from 'node:crypto';
import { canonicalize } from '../audit/canonical';
import type { AttachedMessage, Call, CallCredentials, ConnectionInfo, JournalLocation, SessionInfo } from '../model/calls';
import { idKey, RecorderErrorCode } from '../model/jsonrpc';
import type { AlertRecord, Direction, JournalRecord, JsonRpcId, MessageEnvelope, PolicyRecord, SpendRecord } from '../model/records';
import { reportedCostUsd } from '../policy/cost';
import { checkPolicy, type LoadedPolicy } from '../policy/policy';
import { PolicyRules } from '../policy/rules';
import { classifyFailure, type FailureFacts } from './errors';
import { effectTags } from './reversibility';
import { EffectAttributor, type Candidate, type DeclaredEffects } from '../effects/attribution';

/**
 * Turns one session's journal records, in order, into calls: every request paired with its
 * response in both directions, progress, logging and cancellations attached to the call they
 * belong to, the server's and the agent's identity from the handshake, and an outcome for each
 * call. Used incrementally (the index, live views) and in one pass (exports).
 */

export interface AssemblerOptions {
  /**
   * Keep full inputs and outputs on calls, or only summaries and locations (the index) — or, with
   * `'json'` (the JSON exports), keep them as their JSON text instead of the parsed values
   * (bodyJson): serialised once as they arrive, the summaries cut from that text, and no
   * parsed bodies of 100k calls held until the export writes them.
   */
  keepBodies: boolean | 'json';
  /**
   * Classify errors, tag reversibility and price calls with this policy (`--policy` on summary
   * and export) instead of the one the session recorded (its `policy` record).
   */
  policy?: LoadedPolicy;
  /** Side effects declared per server/tool (src/core/effects/attribution.ts); default: the policy's `sideEffects`. */
  declaredEffects?: DeclaredEffects;
}

/** A policy record as the assembler saw it: what governed the session, and what did not. */
export type SessionPolicy = Omit<PolicyRecord, 'session_id' | 'seq' | 'ts' | 'mono' | 'policy'> & { ts: string };

const SUMMARY_CHARS = 200;

/** An identical tool call requested at most this long after a failed one is an agent retry of it. */
export const RETRY_WINDOW_MS = 60_000;

/** The last failure of each call identity (see callIdentity), for linking retries. */
interface RecentFailure {
  call_id: string;
  /** Monotonic ms when it failed; one writer per session, so comparable across its connections. */
  mono: number;
  /** Failed attempts (error or timeout) in its retry chain up to and including it. */
  failures: number;
}

interface ConnState {
  info: ConnectionInfo;
  /** Open requests per direction, keyed by id. */
  open: Record<Direction, Map<string, Call>>;
  /** The most recently started open client→server call, for attaching logs and server requests. */
  lastOpenClientCall?: Call;
  /** The connection's process died or failed to start: the recorder's -32000 answers mean a crash. */
  serverDied: boolean;
  /**
   * Calls whose POST the server refused with an HTTP error carrying a JSON body: the body (a
   * JSON-RPC error, or some other JSON) is the next thing the connection records, and says more
   * than the status alone. Keyed by request id, the status as value.
   */
  httpDeferred?: Map<string, number>;
  /** The credential set calls made now run under. */
  credentials?: CallCredentials;
}

export class CallAssembler {
  readonly calls = new Map<string, Call>();
  /** The session's security alerts, in journal order. */
  readonly alerts: AlertRecord[] = [];
  private readonly connections = new Map<string, ConnState>();
  private sessionInfo?: SessionInfo;
  /** Calls touched by the last `add`, for incremental consumers. */
  private touched = new Set<Call>();
  /** The policy applied to calls from here on: the explicit one, else the session's recorded one. */
  private rules?: PolicyRules;
  /** The session's policy records, in order. */
  readonly policies: SessionPolicy[] = [];
  /** The spend governor's warnings and limit events. */
  readonly spendEvents: SpendRecord[] = [];
  /**
   * Failed tool calls by server and tool, then by identity, kept for RETRY_WINDOW_MS (independent
   * of `calls`, which consumers prune). Identities are hashed only for calls to a tool with a
   * recent failure, and for failures: a session without failures hashes nothing.
   */
  private readonly recentFailures = new Map<string, Map<string, RecentFailure>>();
  private recentFailureCount = 0;
  /** recentFailures is swept of entries past the window when it holds more than this many. */
  private sweepAt = 4096;

  /** Identity of the policy in effect: the explicit one, else the last applied one the session recorded. */
  policyInEffect?: { source: LoadedPolicy['source']; path?: string; sha256: string; explicit: boolean };

  /** Side effects: file changes, resource notifications and declared effects, tied to calls. */
  readonly effects: EffectAttributor;

  constructor(private readonly options: AssemblerOptions = { keepBodies: true }) {
    // Without an explicit list, the policy in effect (explicit or recorded in the session) declares them.
    this.effects = new EffectAttributor(options.declaredEffects ?? ((server, tool) => this.rules?.tool(server, tool).sideEffects));
    if (options.policy) {
      this.rules = new PolicyRules(options.policy.document);
      const p = options.policy;
      this.policyInEffect = { source: p.source, ...(p.path ? { path: p.path } : {}), sha256: p.sha256, explicit: true };
    }
  }

  /** The policy that prices and classifies calls now (explicit, or recorded in the session). */
  get policy(): PolicyRules | undefined {
    return this.rules;
  }

  get session(): SessionInfo | undefined {
    return this.sessionInfo;
  }

  connection(id: string): ConnectionInfo | undefined {
    return this.connections.get(id)?.info;
  }

  /** Adds one record; returns the calls it created or changed. */
  add(record: JournalRecord, location?: JournalLocation): Call[] {
    this.touched = new Set();
    this.apply(record, location);
    return [...this.touched];
  }

  private apply(r: JournalRecord, loc?: JournalLocation): void {
    switch (r.type) {
      case 'session_start':
        this.sessionInfo = { session_id: r.session_id, started_at: r.ts, recorder: r.recorder, connections: [], ...(r.replay_of ? { replay_of: r.replay_of } : {}) };
        return;
      case 'session_end':
        if (this.sessionInfo) {
          this.sessionInfo.ended_at = r.ts;
          this.sessionInfo.end_reason = r.reason;
        }
        return;
      case 'connection_open': {
        const info: ConnectionInfo = { connection_id: r.connection_id, session_id: r.session_id, upstream: r.upstream, server: { ...r.server }, opened_at: r.ts, stderr_lines: 0, non_json_frames: 0, opaque_frames: 0, transport_errors: 0 };
        this.connections.set(r.connection_id, { info, open: { client_to_server: new Map(), server_to_client: new Map() }, serverDied: false });
        this.sessionInfo?.connections.push(info);
        return;
      }
      case 'connection_close': {
        const c = this.connections.get(r.connection_id);
        if (c) this.flushHttpRefusals(c, undefined, r.seq, r.ts, r.mono);
        if (c) {
          c.info.closed_at = r.ts;
          c.info.close_reason = r.reason;
        }
        return;
      }
      case 'message': {
        this.onMessage(r.connection_id, r.dir, envelopeOfRecord(r.message), r.message, r.seq, r.ts, r.mono, loc, r.origin === 'recorder', r.mcp_session_id);
        const c = this.connections.get(r.connection_id);
        if (c?.httpDeferred && r.dir === 'server_to_client') this.flushHttpRefusals(c, undefined, r.seq, r.ts, r.mono);
        return;
      }
      case 'opaque': {
        const c = this.conn(r.connection_id);
        c.info.opaque_frames++;
        this.onMessage(r.connection_id, r.dir, r.envelope, undefined, r.seq, r.ts, r.mono, loc, false, undefined);
        if (r.tool !== undefined && r.envelope.kind === 'request' && r.envelope.id !== undefined && r.envelope.id !== null) {
          const call = c.open[r.dir].get(idKey(r.envelope.id));
          if (call?.request_seq === r.seq) call.tool = r.tool;
        }
        if (c.httpDeferred && r.dir === 'server_to_client') this.flushHttpRefusals(c, undefined, r.seq, r.ts, r.mono);
        return;
      }
      case 'non_json': {
        const c = this.conn(r.connection_id);
        c.info.non_json_frames++;
        if (c.httpDeferred && r.dir === 'server_to_client') this.flushHttpRefusals(c, r.text, r.seq, r.ts, r.mono);
        return;
      }
      case 'stderr':
        this.conn(r.connection_id).info.stderr_lines++;
        return;
      case 'process_spawn': {
        const c = this.conn(r.connection_id);
        c.info.process = { pid: r.pid };
        c.serverDied = false;
        return;
      }
      case 'process_exit': {
        const c = this.conn(r.connection_id);
        c.info.process = { ...c.info.process, exit_code: r.code, signal: r.signal };
        c.serverDied = true;
        return;
      }
      case 'spawn_error': {
        const c = this.conn(r.connection_id);
        c.info.process = { ...c.info.process, spawn_error: `${r.code}: ${r.message}` };
        c.serverDied = true;
        return;
      }
      case 'transport_error':
        this.conn(r.connection_id).info.transport_errors++;
        return;
      case 'http_exchange': {
        const c = this.conn(r.connection_id);
        this.flushHttpRefusals(c, undefined, r.seq, r.ts, r.mono);
        if (r.status >= 400 && r.request_ids?.length) this.onHttpRefusal(c, r.request_ids, r.status, /^application\/json\b/i.test(r.content_type ?? ''), r.seq, r.ts, r.mono);
        return;
      }
      case 'policy': {
        const { session_id: _s, seq: _q, mono: _m, policy, ...rest } = r;
        this.policies.push(rest);
        if (r.status === 'withdrawn' && !this.options.policy) {
          this.rules = undefined;
          this.policyInEffect = undefined;
        }
        if (r.status === 'applied' && !this.options.policy) {
          try {
            this.rules = new PolicyRules(checkPolicy(policy, `the policy recorded at seq ${r.seq}`));
            this.policyInEffect = { source: r.source, ...(r.path ? { path: r.path } : {}), sha256: r.sha256, explicit: false };
          } catch {
            // A damaged or hand-edited record: calls are assembled without it rather than with rules nobody validated.
            this.rules = undefined;
            this.policyInEffect = undefined;
          }
        }
        return;
      }
      case 'spend':
        this.spendEvents.push(r);
        return;
      case 'alert': {
        this.alerts.push(r);
        // An alert names the request it concerns: `<connection_id>:<request_seq>` is that call.
        const call = r.request_seq !== undefined ? this.calls.get(`${r.connection_id}:${r.request_seq}`) : undefined;
        if (call) (this.touch(call).alerts ??= []).push(r.alert_id);
        return;
      }
      case 'credentials': {
        const c = this.conn(r.connection_id);
        (c.info.credentials ??= []).push({ set_id: r.set_id, mode: r.mode, entries: r.entries, since: r.ts });
        c.credentials = { set_id: r.set_id, mode: r.mode, names: r.entries.map((e) => e.name), fingerprints: r.entries.map((e) => e.fingerprint) };
        return;
      }
      case 'side_effect':
        for (const call of this.effects.file(r, this.inFlight())) this.touch(call);
        return;
      case 'timeout':
      case 'gate_decision':
      case 'otlp_push':
        return;
    }
  }

  private conn(id: string): ConnState {
    let c = this.connections.get(id);
    if (!c) {
      // A record for a connection whose opening record is missing (a damaged journal): keep it visible.
      const info: ConnectionInfo = { connection_id: id, session_id: this.sessionInfo?.session_id ?? '', upstream: 'stdio', server: { name: 'unknown', transport: 'stdio' }, opened_at: '', stderr_lines: 0, non_json_frames: 0, opaque_frames: 0, transport_errors: 0 };
      c = { info, open: { client_to_server: new Map(), server_to_client: new Map() }, serverDied: false };
      this.connections.set(id, c);
      this.sessionInfo?.connections.push(info);
    }
    return c;
  }

  private onMessage(connectionId: string, dir: Direction, env: MessageEnvelope, msg: unknown, seq: number, ts: string, mono: number, loc: JournalLocation | undefined, byRecorder: boolean, mcpSessionId: string | undefined): void {
    const c = this.conn(connectionId);
    if (mcpSessionId !== undefined) c.info.mcp_session_id = mcpSessionId;
    const params = paramsOf(msg);
    if (env.kind === 'request' && env.id !== undefined && env.id !== null) {
      this.openCall(c, dir, env.id, env.method ?? '', params, seq, ts, mono, loc, msg === undefined);
      return;
    }
    if (env.kind === 'notification') {
      const attached: AttachedMessage = { seq, ts, method: env.method ?? '', params };
      if (env.method === 'notifications/progress') {
        const token = (params as { progressToken?: unknown } | undefined)?.progressToken;
        // Progress flows opposite to the request it reports on: the server reports on the client's requests.
        const call = [...c.open[opposite(dir)].values()].find((k) => progressTokenOf(k) === token);
        if (call) this.touch(call).progress.push(attached);
      } else if (env.method === 'notifications/message') {
        const call = c.lastOpenClientCall;
        if (call && call.outcome === 'pending') this.touch(call).logs.push(attached);
      } else if (env.method === 'notifications/cancelled') {
        const target = (params as { requestId?: unknown } | undefined)?.requestId;
        // A cancellation names a request the sender made: the client cancels its own requests.
        const requestDir: Direction = dir;
        if (typeof target === 'string' || typeof target === 'number') {
          const call = c.open[requestDir].get(idKey(target));
          if (call) {
            this.touch(call).cancelled = attached;
            this.finish(c, call, 'cancelled', seq, ts, mono);
          }
        }
      } else if (dir === 'server_to_client' && (env.method === 'notifications/resources/updated' || env.method === 'notifications/resources/list_changed')) {
        const uri = (params as { uri?: unknown } | undefined)?.uri;
        for (const call of this.effects.resource(connectionId, env.method, typeof uri === 'string' ? uri : undefined, seq, ts, mono, this.inFlight())) this.touch(call);
      } else if (env.method === 'notifications/initialized') {
        // nothing to attach
      }
      return;
    }
    if ((env.kind === 'response' || env.kind === 'error') && env.id !== undefined && env.id !== null) {
      const requestDir: Direction = dir === 'client_to_server' ? 'server_to_client' : 'client_to_server';
      const key = idKey(env.id);
      let call = c.open[requestDir].get(key);
      if (!call) {
        // Answer to a cancelled call, or a response to an id never requested: kept in the journal, not paired.
        return;
      }
      const refusedWith = requestDir === 'client_to_server' ? c.httpDeferred?.get(key) : undefined;
      if (refusedWith !== undefined) c.httpDeferred!.delete(key);
      this.touch(call);
      call.response_seq = seq;
      if (loc) call.response_location = loc;
      if (byRecorder) call.answered_by_recorder = true;
      if (msg === undefined) (call.opaque ??= []).push('response');
      const response = msg as { result?: Record<string, unknown>; error?: { code?: unknown; message?: unknown; data?: unknown } } | undefined;
      if (env.kind === 'response') {
        const result = response?.result;
        call.output_summary = msg === undefined ? '[opaque: too large or too deep to keep structured]' : this.keepOutput(call, result);
        if (call.method === 'initialize' && result) {
          this.learnHandshake(c, result);
          if (c.info.server.version) call.server.version = c.info.server.version;
        }
        if (call.method === 'tools/list' && result && Array.isArray(result.tools)) {
          c.info.tools = (result.tools as Array<{ name?: unknown; annotations?: unknown }>).filter((t) => typeof t.name === 'string').map((t) => ({ name: t.name as string, ...(isObject(t.annotations) ? { annotations: t.annotations } : {}) }));
        }
        if (call.method === 'tools/call') this.price(call, result);
        if (result && result.isError === true) {
          call.error = classifyFailure({ isErrorResult: { text: errorTextOf(result), structured: result.structuredContent, meta: result._meta }, ...this.scope(c, call) }, this.rules);
          this.finish(c, call, 'error', seq, ts, mono);
        } else {
          this.finish(c, call, 'success', seq, ts, mono);
        }
      } else {
        const error = response?.error ?? {};
        call.output_summary = this.keepOutput(call, error);
        const code = typeof error.code === 'number' ? error.code : undefined;
        const data = error.data as { http_status?: unknown } | undefined;
        const httpStatus = refusedWith ?? (typeof data?.http_status === 'number' ? data.http_status : undefined);
        const recorderReason = !byRecorder ? undefined : code === RecorderErrorCode.RequestTimeout ? 'timeout' : code === RecorderErrorCode.Denied ? 'denied' : c.serverDied ? 'server_crash' : 'transport';
        call.error = classifyFailure({ rpcError: error, answeredByRecorder: byRecorder, recorderReason, httpStatus, ...this.scope(c, call) }, this.rules);
        if (call.error.error_class === 'spend_limit' || call.error.error_class === 'policy_denied') this.unprice(call);
        this.finish(c, call, call.error.error_class === 'timeout' ? 'timeout' : 'error', seq, ts, mono);
      }
    }
  }

  private openCall(c: ConnState, dir: Direction, id: JsonRpcId, method: string, params: Record<string, unknown> | undefined, seq: number, ts: string, mono: number, loc: JournalLocation | undefined, opaque: boolean): void {
    if (method === 'initialize' && dir === 'client_to_server' && params) this.learnAgent(c, params);
    const isTool = method === 'tools/call' && typeof params?.name === 'string';
    const input = isTool ? params?.arguments : params;
    const call: Call = {
      call_id: `${c.info.connection_id}:${seq}`,
      session_id: c.info.session_id,
      connection_id: c.info.connection_id,
      direction: dir,
      method,
      tool: isTool ? (params?.name as string) : method,
      request_id: id,
      server: { name: c.info.server.name, ...(c.info.server.version ? { version: c.info.server.version } : {}) },
      ...(c.info.agent ? { agent_id: agentId(c.info.agent) } : {}),
      timestamp: ts,
      input_summary: '',
      outcome: 'pending',
      request_seq: seq,
      progress: [],
      logs: [],
      nested_call_ids: [],
      ...(loc ? { request_location: loc } : {}),
      ...(opaque ? { opaque: ['request' as const] } : {}),
    };
    if (opaque) call.input_summary = '[opaque: too large or too deep to keep structured]';
    else if (this.options.keepBodies === 'json') {
      const json = input === undefined ? undefined : bodyText(input);
      if (json !== undefined) (bodyTexts.get(call) ?? bodyTexts.set(call, {}).get(call)!).input = json.text;
      call.input_summary = json ? json.summary : summarize(input);
    } else {
      call.input_summary = summarize(input);
      if (this.options.keepBodies && input !== undefined) call.input = input;
    }
    if (isTool && dir === 'client_to_server') {
      const policy = this.rules?.tool(c.info.server.name, call.tool);
      Object.assign(call, effectTags(c.info.tools?.find((t) => t.name === call.tool)?.annotations, policy));
      // Charged when forwarded, as the spend governor does; a refusal takes it back, a reported cost replaces it.
      if (policy?.costPerCallUsd !== undefined) {
        call.cost_usd = policy.costPerCallUsd;
        call.cost_source = 'policy';
      }
      if (!opaque) {
        pendingArguments.set(call, input);
        this.linkRetry(call, mono);
      }
    }
    if (c.credentials) call.credentials = c.credentials;
    if (isTool && input !== undefined) toolArgs.set(call, input);
    startMono.set(call, mono);
    const token = (params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (token !== undefined) progressTokens.set(call, token);
    if (dir === 'server_to_client' && c.lastOpenClientCall && c.lastOpenClientCall.outcome === 'pending') {
      call.parent_call_id = c.lastOpenClientCall.call_id;
      this.touch(c.lastOpenClientCall).nested_call_ids.push(call.call_id);
    }
    const duplicate = c.open[dir].get(idKey(id));
    if (duplicate) {
      // JSON-RPC ids must be unique among open requests; the earlier call can no longer be paired.
      this.touch(duplicate).error = { ...classifyFailure({ rpcError: { code: -32600, message: `request id ${JSON.stringify(id)} reused while this call was open` }, idempotent: false }), error_class: 'protocol_violation' };
      this.finish(c, duplicate, 'error', seq, ts, mono);
    }
    c.open[dir].set(idKey(id), call);
    if (dir === 'client_to_server') c.lastOpenClientCall = call;
    this.calls.set(call.call_id, call);
    this.touch(call);
  }

  /** Keeps a response's result or error as the call's output (see keepBodies); returns its summary. */
  private keepOutput(call: Call, output: unknown): string {
    if (this.options.keepBodies !== 'json') {
      if (this.options.keepBodies) call.output = output;
      return summarize(output);
    }
    const json = output === undefined ? undefined : bodyText(output);
    if (!json) return summarize(output);
    (bodyTexts.get(call) ?? bodyTexts.set(call, {}).get(call)!).output = json.text;
    return json.summary;
  }

  private finish(c: ConnState, call: Call, outcome: Call['outcome'], _seq: number, ts: string, mono: number): void {
    if (call.outcome !== 'pending') return;
    call.outcome = outcome;
    call.ended_at = ts;
    const start = startMono.get(call);
    if (start !== undefined) call.duration_ms = Math.max(0, Math.round((mono - start) * 1000) / 1000);
    if (outcome === 'cancelled' && !call.error) call.error = classifyFailure({ cancelled: true, ...this.scope(c, call) }, this.rules);
    this.rememberOutcome(call, mono);
    c.open[call.direction].delete(idKey(call.request_id));
    if (this.effects.ended(call, toolArgs.get(call), mono)) this.touch(call);
    // What only a call in flight needs goes (the attributor keeps the arguments for its settle
    // window): per-call entries of 100k finished calls would weigh on every garbage collection.
    toolArgs.delete(call);
    startMono.delete(call);
    progressTokens.delete(call);
    identities.delete(call);
    if (c.lastOpenClientCall === call) {
      const open = [...c.open.client_to_server.values()];
      c.lastOpenClientCall = open[open.length - 1];
    }
  }

  /**
   * Links a tool call to the failed identical call it repeats, if that one failed (error, timeout
   * or cancellation) at most RETRY_WINDOW_MS before. The link follows the chain: a retry of a
   * retry points at the attempt right before it.
   */
  private linkRetry(call: Call, mono: number): void {
    const byTool = this.recentFailures.get(toolKey(call));
    if (!byTool?.size) return;
    const identity = identityOf(call);
    if (identity === undefined) return;
    const failed = byTool.get(identity);
    if (!failed) return;
    this.forget(byTool, identity);
    if (mono - failed.mono > RETRY_WINDOW_MS) return;
    call.retry_of = failed.call_id;
    failuresBehind.set(call, failed.failures);
  }

  private rememberOutcome(call: Call, mono: number): void {
    if (!pendingArguments.has(call)) return;
    const key = toolKey(call);
    const byTool = this.recentFailures.get(key);
    if (call.outcome === 'success') {
      // The work got done: a later identical call is new work, not a retry.
      const identity = byTool?.size ? identityOf(call) : undefined;
      if (byTool && identity !== undefined) this.forget(byTool, identity);
      pendingArguments.delete(call);
      return;
    }
    const identity = identityOf(call);
    pendingArguments.delete(call);
    if (identity === undefined) return;
    const failed = call.outcome === 'error' || call.outcome === 'timeout' ? 1 : 0;
    let map = byTool;
    if (!map) this.recentFailures.set(key, (map = new Map()));
    if (!map.has(identity)) this.recentFailureCount++;
    map.set(identity, { call_id: call.call_id, mono, failures: (failuresBehind.get(call) ?? 0) + failed });
    if (this.recentFailureCount > this.sweepAt) {
      for (const [k, m] of this.recentFailures) {
        for (const [id, f] of m) if (mono - f.mono > RETRY_WINDOW_MS) this.forget(m, id);
        if (!m.size) this.recentFailures.delete(k);
      }
      // More failures than that within the window (a burst): sweep again only once they have doubled, not on every failure.
      this.sweepAt = Math.max(4096, this.recentFailureCount * 2);
    }
  }

  private forget(byTool: Map<string, RecentFailure>, identity: string): void {
    if (byTool.delete(identity)) this.recentFailureCount--;
  }

  private learnAgent(c: ConnState, params: Record<string, unknown>): void {
    const info = params.clientInfo as { name?: unknown; version?: unknown; title?: unknown } | undefined;
    if (!info || typeof info.name !== 'string') return;
    c.info.agent = {
      name: info.name,
      ...(typeof info.version === 'string' ? { version: info.version } : {}),
      ...(typeof info.title === 'string' ? { title: info.title } : {}),
      ...(typeof params.protocolVersion === 'string' ? { protocol_version: params.protocolVersion } : {}),
      ...(params.capabilities !== undefined ? { capabilities: params.capabilities } : {}),
    };
  }

  private learnHandshake(c: ConnState, result: Record<string, unknown>): void {
    const info = result.serverInfo as { name?: unknown; version?: unknown; title?: unknown } | undefined;
    const s = c.info.server;
    if (typeof info?.name === 'string') s.reported_name = info.name;
    if (typeof info?.version === 'string') s.version = info.version;
    if (typeof info?.title === 'string') s.title = info.title;
    if (typeof result.protocolVersion === 'string') s.protocol_version = result.protocolVersion;
    if (result.capabilities !== undefined) s.capabilities = result.capabilities;
    if (typeof result.instructions === 'string') s.instructions = result.instructions;
  }

  private idempotent(c: ConnState, call: Call): boolean {
    if (call.method !== 'tools/call') return READ_ONLY_METHODS.has(call.method);
    if (call.idempotent !== undefined) return call.idempotent;
    const a = c.info.tools?.find((t) => t.name === call.tool)?.annotations;
    return a?.readOnlyHint === true || a?.idempotentHint === true;
  }

  /** What classification needs to know about the call besides the failure. */
  private scope(c: ConnState, call: Call): Pick<FailureFacts, 'idempotent' | 'server' | 'tool'> {
    return { idempotent: this.idempotent(c, call), server: c.info.server.name, tool: call.tool };
  }

  /** A cost the server reported replaces the fixed one. */
  private price(call: Call, result: unknown): void {
    const reported = reportedCostUsd(result);
    if (reported === undefined) return;
    call.cost_usd = reported;
    call.cost_source = 'reported';
  }

  private unprice(call: Call): void {
    delete call.cost_usd;
    delete call.cost_source;
  }

  /**
   * An HTTP refusal (401, 429, 5xx…) of a POST that carried requests: the reverse proxy records
   * the exchange with the requests' ids, and no JSON-RPC answer may follow. Those calls end here.
   */
  private onHttpRefusal(c: ConnState, ids: JsonRpcId[], status: number, jsonBody: boolean, seq: number, ts: string, mono: number): void {
    for (const id of ids) {
      const key = idKey(id);
      const call = c.open.client_to_server.get(key);
      if (!call) continue;
      if (jsonBody) (c.httpDeferred ??= new Map()).set(key, status);
      else this.failByHttp(c, call, status, undefined, seq, ts, mono);
    }
  }

  /** Ends the refused calls no JSON-RPC answer came for, with the body's text when it was not JSON-RPC. */
  private flushHttpRefusals(c: ConnState, bodyText: string | undefined, seq: number, ts: string, mono: number): void {
    const deferred = c.httpDeferred;
    if (!deferred) return;
    c.httpDeferred = undefined;
    for (const [key, status] of deferred) {
      const call = c.open.client_to_server.get(key);
      if (call) this.failByHttp(c, call, status, bodyText, seq, ts, mono);
    }
  }

  private failByHttp(c: ConnState, call: Call, status: number, bodyText: string | undefined, seq: number, ts: string, mono: number): void {
    this.touch(call);
    const body = bodyText ? parseLoose(bodyText) : undefined;
    const message = bodyText ? `HTTP ${status}: ${bodyText.length > 1000 ? `${bodyText.slice(0, 1000)}…` : bodyText}` : `HTTP ${status} from the server`;
    call.error = classifyFailure({ rpcError: { message, ...(body !== undefined ? { data: body } : {}) }, httpStatus: status, ...this.scope(c, call) }, this.rules);
    this.finish(c, call, call.error.error_class === 'timeout' ? 'timeout' : 'error', seq, ts, mono);
  }

  /** Client→server calls open on any connection, with their arguments, for effect attribution. */
  private inFlight(): Candidate[] {
    const out: Candidate[] = [];
    for (const c of this.connections.values()) for (const call of c.open.client_to_server.values()) out.push({ call, args: toolArgs.get(call) });
    return out;
  }

  private touch(call: Call): Call {
    this.touched.add(call);
    return call;
  }
}

/** Methods that read without effect: repeating them is always safe. */
const READ_ONLY_METHODS = new Set(['initialize', 'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'resources/read', 'prompts/list', 'prompts/get', 'completion/complete', 'roots/list']);

const startMono = new WeakMap<Call, number>();
/** A client tool call's arguments until it ends (whatever keepBodies says), to compute its identity only when needed. */
const pendingArguments = new WeakMap<Call, unknown>();
/** Each client tool call's identity, once computed (see callIdentity). */
const identities = new WeakMap<Call, string | undefined>();

function identityOf(call: Call): string | undefined {
  if (identities.has(call)) return identities.get(call);
  const identity = callIdentity(call.server.name, call.tool, pendingArguments.get(call));
  identities.set(call, identity);
  return identity;
}

function toolKey(call: Call): string {
  return `${call.server.name}\u0000${call.tool}`;
}
/** For an agent retry: the failed attempts (error or timeout) before it in its chain. */
const failuresBehind = new WeakMap<Call, number>();

/**
 * How many failed tool calls a successful agent retry repaired (the failed attempts of its
 * chain); 0 for any other call. Lets incremental consumers (the index) count repaired failures
 * without keeping finished calls.
 */
export function failuresRepairedBy(call: Call): number {
  return call.outcome === 'success' ? (failuresBehind.get(call) ?? 0) : 0;
}

/**
 * What makes two tool calls "the same call": the configured server name, the tool and the RFC 8785
 * canonical form of the arguments (key order and number spelling do not matter), as a SHA-256 so
 * large arguments are not kept. Undefined for arguments that are not JSON.
 */
export function callIdentity(server: string, tool: string, args: unknown): string | undefined {
  try {
    return createHash('sha256').update(canonicalize([server, tool, args ?? null])).digest('base64url');
  } catch {
    return undefined;
  }
}
/** A tool call's arguments, for side-effect attribution, even when bodies are not kept on the call. */
const toolArgs = new WeakMap<Call, unknown>();

/** Assembles one session in a single pass. */
export function assembleSession(records: Iterable<{ record: JournalRecord; location?: JournalLocation }>, options?: AssemblerOptions): CallAssembler {
  const a = new CallAssembler(options);
  for (const { record, location } of records) a.add(record, location);
  return a;
}

export function agentId(agent: { name: string; version?: string }): string {
  return agent.version ? `${agent.name}/${agent.version}` : agent.name;
}

function envelopeOfRecord(message: unknown): MessageEnvelope {
  const m = message as { id?: unknown; method?: unknown; result?: unknown; error?: unknown };
  const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : m.id === null ? null : undefined;
  if (typeof m.method === 'string') return id !== undefined && id !== null ? { kind: 'request', id, method: m.method } : { kind: 'notification', method: m.method };
  if (m.error !== undefined) return { kind: 'error', id };
  if (m.result !== undefined) return { kind: 'response', id };
  return { kind: 'invalid' };
}

function opposite(dir: Direction): Direction {
  return dir === 'client_to_server' ? 'server_to_client' : 'client_to_server';
}

function paramsOf(msg: unknown): Record<string, unknown> | undefined {
  const p = (msg as { params?: unknown } | undefined)?.params;
  return isObject(p) ? p : undefined;
}

/** A refusal's body, when it is JSON (`{"error":"invalid_token"}`), for its string codes. */
function parseLoose(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function progressTokenOf(call: Call): unknown {
  return progressTokens.get(call);
}

/** The progress token lives in the request's `_meta`, which a tool call's `input` (its arguments) omits. */
const progressTokens = new WeakMap<Call, unknown>();

/** Text of an isError result, for the error message. */
function errorTextOf(result: Record<string, unknown>): string {
  const content = result.content;
  if (Array.isArray(content)) {
    const text = content
      .filter((c): c is { type: 'text'; text: string } => isObject(c) && c.type === 'text' && typeof c.text === 'string')
      .map((c) => c.text)
      .join('\n');
    if (text) return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
  }
  return 'tool reported an error';
}

/** Inputs and outputs as JSON text, for assemblers with `keepBodies: 'json'`. */
const bodyTexts = new WeakMap<Call, { input?: string; output?: string }>();

/** The JSON text of a call's input or output, kept by an assembler with `keepBodies: 'json'`; undefined when absent. */
export function bodyJson(call: Call, part: 'input' | 'output'): string | undefined {
  return bodyTexts.get(call)?.[part];
}

/**
 * A body's JSON text and its summary, cut from that text (the same as summarize's: jsonPrefix is
 * JSON.stringify's text up to the cut). Should the value defeat JSON.stringify, the text is the
 * marker an export writes for it and the summary is summarize's.
 */
function bodyText(value: unknown): { text: string; summary: string } | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    return { text: JSON.stringify({ $unserializable: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }), summary: summarize(value) };
  }
  if (text === undefined) return undefined;
  const s = typeof value === 'string' ? value : text;
  return { text, summary: s.length > SUMMARY_CHARS ? `${s.slice(0, SUMMARY_CHARS - 1)}…` : s };
}

/** A one-line preview; never walks deeper than JSON.stringify would on a bounded value. */
export function summarize(value: unknown): string {
  if (value === undefined) return '';
  let s: string;
  try {
    s = typeof value === 'string' ? value : (jsonPrefix(value, SUMMARY_CHARS) ?? JSON.stringify(value));
  } catch {
    return '[unprintable]';
  }
  return s.length > SUMMARY_CHARS ? `${s.slice(0, SUMMARY_CHARS - 1)}…` : s;
}

/**
 * The first `limit` characters (or more) of JSON.stringify(value), without serialising the rest:
 * a summary needs 200 characters of a result that may be megabytes. Exactly JSON.stringify's
 * text up to the cut — strings are cut a character past it, so escapes and surrogate pairs at the
 * cut never change what is kept. Undefined (the caller stringifies the whole) for anything that
 * is not plain parsed JSON (toJSON, non-finite numbers, non-plain objects), which JSON.stringify
 * treats in ways not worth repeating here.
 */
export function jsonPrefix(value: unknown, limit: number): string | undefined {
  let out = '';
  const write = (v: unknown): boolean => {
    if (out.length > limit) return true;
    switch (typeof v) {
      case 'string':
        out += JSON.stringify(v.length > limit - out.length + 1 ? v.slice(0, limit - out.length + 2) : v);
        return true;
      case 'number':
        if (!Number.isFinite(v)) return false;
        out += JSON.stringify(v);
        return true;
      case 'boolean':
        out += v ? 'true' : 'false';
        return true;
      case 'object': {
        if (v === null) {
          out += 'null';
          return true;
        }
        if (Array.isArray(v)) {
          out += '[';
          for (let i = 0; i < v.length && out.length <= limit; i++) {
            if (i) out += ',';
            const item: unknown = v[i];
            if (item === undefined) out += 'null';
            else if (!write(item)) return false;
          }
          out += ']';
          return true;
        }
        const proto = Object.getPrototypeOf(v) as unknown;
        if ((proto !== Object.prototype && proto !== null) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
        out += '{';
        let first = true;
        for (const k in v) {
          if (out.length > limit) break;
          const item = (v as Record<string, unknown>)[k];
          if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
          out += (first ? '' : ',') + JSON.stringify(k) + ':';
          first = false;
          if (!write(item)) return false;
        }
        out += '}';
        return true;
      }
      default:
        return false;
    }
  };
  return write(value) ? out : undefined;
}
