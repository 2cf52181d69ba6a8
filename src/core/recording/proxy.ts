import { errorResponse, idKey, RecorderErrorCode } from '../model/jsonrpc';
import type { Direction, JsonRpcId, ServerTarget } from '../model/records';
import type { FrameChannel } from './channel';
import type { Gate, GateDecision } from './gate';
import type { ConnectionRecorder, TappedMessage } from './recorder';

/**
 * Bridges one client connection (upstream) to one server connection (downstream). Every frame
 * is journaled before it is forwarded; the inspectors (alerts) see it after it was forwarded,
 * off the latency path, except a request for a gate that decides with their findings
 * (`Gate.inspectsFirst`: alert enforcement), which they see first. The proxy keeps just enough state to stay honest when a
 * peer misbehaves: the client's open requests, so that a crash, a broken transport or a hang
 * ends each of them with a JSON-RPC error the client can act on, recorded like any message.
 */

export interface ProxyOptions {
  upstream: FrameChannel;
  downstream: FrameChannel;
  connection: ConnectionRecorder;
  server: ServerTarget;
  gate?: Gate;
  /** Answer a request the server has not answered after this long (reset by its progress). 0 = never. */
  requestTimeoutMs?: number;
  /**
   * Forward frames that are not JSON-RPC (banners, invalid UTF-8) as they are. True only when
   * both sides are stdio, where forwarding keeps the client's experience identical to a direct
   * connection; other transports cannot carry them, so they are recorded and dropped.
   */
  forwardNonJsonRpc?: boolean;
}

interface OpenRequest {
  id: JsonRpcId;
  method: string;
  progressToken?: string | number;
  timer?: NodeJS.Timeout;
}

export class RecordingProxy {
  private readonly open = new Map<string, OpenRequest>();
  /** Requests the recorder already answered (timeout): a late answer from the server is recorded, not forwarded. */
  private readonly answeredByRecorder = new Set<string>();
  private downstreamClosed?: string;
  /** A frame forwarded and not yet shown to the inspectors (see forwardThenInspect). */
  private uninspected?: { dir: Direction; tapped: TappedMessage };
  private upstreamClosed = false;
  private closing?: Promise<void>;
  /** Called once both sides are done. */
  onclose?: (reason: string) => void;

  constructor(private readonly options: ProxyOptions) {}

  get connection(): ConnectionRecorder {
    return this.options.connection;
  }

  async start(): Promise<void> {
    const { upstream, downstream } = this.options;
    upstream.onframe = (frame) => this.fromClient(frame);
    downstream.onframe = (frame) => this.fromServer(frame);
    downstream.onclose = (reason) => this.onDownstreamClosed(reason);
    upstream.onclose = (reason) => {
      this.upstreamClosed = true;
      void this.close(reason);
    };
    await downstream.start();
    await upstream.start();
  }

  /** Closes both sides; resolves when the server side has shut down. */
  close(reason = 'closed'): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        // Why the connection ends is known now: stopping the server below must not rewrite it as "killed by SIGTERM".
        const finalReason = this.downstreamClosed ?? reason;
        for (const req of this.open.values()) clearTimeout(req.timer);
        try {
          await this.options.downstream.close();
        } catch (err) {
          this.connection.event({ type: 'transport_error', side: 'downstream', message: `close: ${(err as Error).message}` });
        }
        if (!this.upstreamClosed) await this.options.upstream.close().catch(() => undefined);
        this.connection.event({ type: 'connection_close', reason: finalReason });
        this.onclose?.(finalReason);
      })();
    }
    return this.closing;
  }

  private fromClient(frame: Buffer | string): void {
    const { upstream, downstream } = this.options;
    const tapped = this.connection.journal('client_to_server', frame, mcpSession(upstream) ?? mcpSession(downstream));
    if (tapped.unrecorded) {
      this.refuseUnrecorded('client_to_server', tapped);
      return;
    }
    const env = tapped.envelope;
    if (!tapped.isJsonRpc) {
      this.forwardThenInspect('client_to_server', tapped, () => this.options.forwardNonJsonRpc && this.forward(downstream, frame));
      return;
    }
    if (env.kind === 'notification' && env.method === 'notifications/cancelled') {
      const requestId = paramsOf(tapped.value)?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') this.settle(requestId);
    }
    if (env.kind !== 'request' || env.id === undefined || env.id === null) {
      this.forwardThenInspect('client_to_server', tapped, () => this.forward(downstream, frame));
      return;
    }
    const request: OpenRequest = { id: env.id, method: env.method ?? '' };
    const token = (paramsOf(tapped.value)?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (typeof token === 'string' || typeof token === 'number') request.progressToken = token;

    const gate = this.options.gate;
    if (gate?.inspectsFirst) {
      this.connection.inspect('client_to_server', tapped);
      this.decide(request, frame, tapped, gate);
    } else {
      this.forwardThenInspect('client_to_server', tapped, () => this.decide(request, frame, tapped, gate));
    }
  }

  /** Opens the request and sends it to the server — once the gate, if any, lets it through. */
  private decide(request: OpenRequest, frame: Buffer | string, tapped: TappedMessage, gate: Gate | undefined): void {
    if (!this.admit(request)) return;
    let decision: GateDecision | Promise<GateDecision> | undefined;
    try {
      decision = gate?.check({ sessionId: this.connection.sessionId, connectionId: this.connection.id, server: this.options.server, id: request.id, method: request.method, message: tapped.value });
    } catch (err) {
      // A gate that throws refuses the call (as a rejected held decision does) instead of taking the recorder down.
      decision = Promise.reject(err);
    }
    if (decision === undefined || (!isPromise(decision) && decision.action === 'allow')) {
      this.sendToServer(request, frame);
      return;
    }
    const heldAt = performance.now();
    void Promise.resolve(decision)
      .catch((err: unknown): GateDecision => ({ action: 'deny', message: `gate failed: ${(err as Error).message}` }))
      .then((d) => {
        const held_ms = Math.round(performance.now() - heldAt);
        this.connection.event({ type: 'gate_decision', request_id: request.id, decision: d.action, ...(d.action === 'deny' ? { reason: d.message } : {}), held_ms });
        if (!this.open.has(idKey(request.id))) return; // cancelled or closed while held
        if (d.action === 'allow') this.sendToServer(request, frame);
        else {
          this.settle(request.id);
          this.answerClient(request.id, d.code ?? RecorderErrorCode.Denied, d.message, d.data);
        }
      });
  }

  /** Opens a request, or answers it at once when the server is gone (false). */
  private admit(request: OpenRequest): boolean {
    if (this.downstreamClosed !== undefined) {
      this.answerClient(request.id, RecorderErrorCode.ConnectionClosed, `MCP server is not available: ${this.downstreamClosed}`);
      return false;
    }
    this.open.set(idKey(request.id), request);
    this.armTimeout(request);
    return true;
  }

  private fromServer(frame: Buffer | string): void {
    const { upstream, downstream } = this.options;
    const tapped = this.connection.journal('server_to_client', frame, mcpSession(upstream) ?? mcpSession(downstream));
    if (tapped.unrecorded) {
      this.refuseUnrecorded('server_to_client', tapped);
      return;
    }
    const env = tapped.envelope;
    if (!tapped.isJsonRpc) {
      this.forwardThenInspect('server_to_client', tapped, () => this.options.forwardNonJsonRpc && this.forward(upstream, frame));
      return;
    }
    if ((env.kind === 'response' || env.kind === 'error') && env.id !== undefined && env.id !== null) {
      const key = idKey(env.id);
      if (this.answeredByRecorder.delete(key)) {
        // The client already got the recorder's timeout error: this late answer is recorded, not forwarded.
        this.connection.inspect('server_to_client', tapped);
        return;
      }
      const req = this.open.get(key);
      if (req) {
        this.settle(env.id);
        this.options.gate?.onResponse?.({ sessionId: this.connection.sessionId, connectionId: this.connection.id, server: this.options.server, id: env.id, method: req.method, message: tapped.value });
        if (req.method === 'initialize' && env.kind === 'response') {
          const version = (tapped.value as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
          if (typeof version === 'string') downstream.setProtocolVersion?.(version);
        }
      }
    } else if (env.kind === 'notification' && env.method === 'notifications/progress') {
      const token = paramsOf(tapped.value)?.progressToken;
      for (const req of this.open.values()) if (req.progressToken === token) this.armTimeout(req);
    }
    this.forwardThenInspect('server_to_client', tapped, () => {
      try {
        const sent = upstream.send(frame);
        if (isPromise(sent)) sent.catch((err: unknown) => this.clientUnreachable(tapped, err));
      } catch (err) {
        this.clientUnreachable(tapped, err);
      }
    });
  }

  /**
   * The journal could not take the frame (disk full, file too large, I/O error): it is not
   * forwarded — the trail never misses a message a peer received. Whoever waits for an answer
   * gets one from the recorder instead (a request's sender; the client, for the server's answer
   * to its request), so nothing hangs; notifications are dropped. The recorder's own answers go
   * out even when they cannot be recorded either.
   */
  private refuseUnrecorded(dir: Direction, tapped: TappedMessage): void {
    const env = tapped.envelope;
    const why = `MCP Flight Recorder cannot write its journal (${this.connection.recorder.writeError?.message ?? 'write failed'})`;
    if (env.id === undefined || env.id === null) return;
    if (dir === 'client_to_server') {
      if (env.kind === 'request') this.answerClient(env.id, RecorderErrorCode.RecordingFailed, `${why}: the call was not forwarded`);
      return;
    }
    if (env.kind === 'request') {
      const reply = errorResponse(env.id, RecorderErrorCode.RecordingFailed, `${why}: the request was not forwarded to the client`);
      this.connection.message('client_to_server', reply, { origin: 'recorder' });
      this.forward(this.options.downstream, reply);
      return;
    }
    if (this.open.has(idKey(env.id))) {
      this.settle(env.id);
      this.answerClient(env.id, RecorderErrorCode.RecordingFailed, `${why}: the server's answer was not forwarded`);
    }
  }

  /**
   * Forwards a journaled frame with `send`, then shows it to the inspectors: their work (the
   * alert engine's) stays off the forwarding path. Should the recorder answer for the frame
   * while sending (the server is gone), the inspectors see the frame before that answer.
   */
  private forwardThenInspect(dir: Direction, tapped: TappedMessage, send: () => unknown): void {
    this.uninspected = { dir, tapped };
    try {
      send();
    } finally {
      this.inspectPending();
    }
  }

  private inspectPending(): void {
    const pending = this.uninspected;
    if (!pending) return;
    this.uninspected = undefined;
    this.connection.inspect(pending.dir, pending.tapped);
  }

  private sendToServer(request: OpenRequest, frame: Buffer | string): void {
    const fail = (err: unknown) => {
      if (!this.open.has(idKey(request.id))) return;
      this.settle(request.id);
      this.connection.event({ type: 'transport_error', side: 'downstream', message: (err as Error).message, ...httpStatusOf(err) });
      this.answerClient(request.id, RecorderErrorCode.ConnectionClosed, `could not reach the MCP server: ${(err as Error).message}`, httpStatusOf(err));
    };
    try {
      const sent = this.options.downstream.send(frame);
      if (isPromise(sent)) sent.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  private forward(channel: FrameChannel, frame: Buffer | string): void {
    try {
      const sent = channel.send(frame);
      if (isPromise(sent)) sent.catch((err: unknown) => this.reportForwardFailure(channel, err));
    } catch (err) {
      this.reportForwardFailure(channel, err);
    }
  }

  private reportForwardFailure(channel: FrameChannel, err: unknown): void {
    const side = channel === this.options.upstream ? 'upstream' : 'downstream';
    this.connection.event({ type: 'transport_error', side, message: (err as Error).message, ...httpStatusOf(err) });
  }

  /** A server→client request the client cannot receive is answered to the server, so neither side hangs. */
  private clientUnreachable(tapped: TappedMessage, err: unknown): void {
    this.inspectPending();
    this.reportForwardFailure(this.options.upstream, err);
    const env = tapped.envelope;
    if (env.kind === 'request' && env.id !== undefined && env.id !== null) {
      const reply = errorResponse(env.id, RecorderErrorCode.ConnectionClosed, `client unreachable: ${(err as Error).message}`);
      this.connection.message('client_to_server', reply, { origin: 'recorder' });
      this.forward(this.options.downstream, reply);
    }
  }

  private answerClient(id: JsonRpcId, code: number, message: string, data?: unknown): void {
    this.inspectPending();
    const reply = errorResponse(id, code, message, data);
    this.connection.message('server_to_client', reply, { origin: 'recorder' });
    this.forward(this.options.upstream, reply);
  }

  private armTimeout(req: OpenRequest): void {
    const ms = this.options.requestTimeoutMs ?? 0;
    if (ms <= 0) return;
    clearTimeout(req.timer);
    req.timer = setTimeout(() => {
      if (!this.open.has(idKey(req.id))) return;
      this.settle(req.id);
      this.answeredByRecorder.add(idKey(req.id));
      this.connection.event({ type: 'timeout', request_id: req.id, after_ms: ms });
      this.answerClient(req.id, RecorderErrorCode.RequestTimeout, `MCP server did not answer ${req.method} within ${ms} ms (timeout set by MCP Flight Recorder)`);
    }, ms);
    req.timer.unref();
  }

  private settle(id: JsonRpcId): void {
    const key = idKey(id);
    const req = this.open.get(key);
    if (!req) return;
    clearTimeout(req.timer);
    this.open.delete(key);
  }

  private onDownstreamClosed(reason: string): void {
    this.downstreamClosed = reason;
    const stranded = [...this.open.values()];
    for (const req of stranded) {
      this.settle(req.id);
      this.answerClient(req.id, RecorderErrorCode.ConnectionClosed, `MCP server closed before answering ${req.method}: ${reason}`);
    }
    void this.close(reason);
  }
}

function paramsOf(message: unknown): Record<string, unknown> | undefined {
  const params = (message as { params?: unknown } | undefined)?.params;
  return typeof params === 'object' && params !== null ? (params as Record<string, unknown>) : undefined;
}

function mcpSession(channel: FrameChannel): { mcp_session_id: string } | undefined {
  return channel.sessionId !== undefined ? { mcp_session_id: channel.sessionId } : undefined;
}

function isPromise<T>(v: T | Promise<T> | void): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}

function httpStatusOf(err: unknown): { http_status?: number } {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? { http_status: code } : {};
}
