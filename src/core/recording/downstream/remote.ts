import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { RemoteServerSpec } from '../../config/servers';
import type { FrameChannel } from '../channel';
import type { ConnectionRecorder } from '../recorder';

/** How long `close()` waits for the remote to acknowledge the session's DELETE. */
const TERMINATE_TIMEOUT_MS = 2000;
const CLOSED_BY_RECORDER = 'closed by recorder';

/**
 * The server side as a remote MCP server (Streamable HTTP or the legacy HTTP+SSE transport),
 * reached through the SDK's client transports. Used when the client side is not HTTP (stdio
 * `mcp-flight record --url`, in-process clients); an HTTP client goes through the endpoint's
 * byte-forwarding reverse proxy instead.
 *
 * The SDK transports validate what the server sends against their schemas, so a message they
 * reject never becomes a frame: it is recorded as a `transport_error` instead. That is the price
 * of reusing the SDK's HTTP handling here; the reverse proxy has no such limit.
 */
export class RemoteClientChannel implements FrameChannel {
  onframe?: (frame: Buffer | string) => void;
  onclose?: (reason: string) => void;

  private readonly transport: StreamableHTTPClientTransport | SSEClientTransport;
  /** The legacy transport needs its GET stream open before the first POST; opened on first send. */
  private connecting?: Promise<void>;
  private closedReason?: string;
  /** Errors `send` rejects with: the proxy records those itself, so `onerror` must not record them twice. */
  private readonly rejectedBySend = new WeakSet<object>();

  constructor(
    spec: RemoteServerSpec,
    private readonly connection: ConnectionRecorder,
  ) {
    const url = new URL(spec.url);
    const requestInit: RequestInit | undefined = spec.headers ? { headers: { ...spec.headers } } : undefined;
    this.transport = spec.type === 'sse' ? new SSEClientTransport(url, { requestInit }) : new StreamableHTTPClientTransport(url, { requestInit });
    this.transport.onmessage = (message: JSONRPCMessage) => {
      if (this.closedReason === undefined) this.onframe?.(JSON.stringify(message));
    };
    this.transport.onerror = (err: Error) => this.reportError(err);
    this.transport.onclose = () => this.finish('remote transport closed');
  }

  get sessionId(): string | undefined {
    return this.transport instanceof StreamableHTTPClientTransport ? this.transport.sessionId : undefined;
  }

  async start(): Promise<void> {
    // Streamable HTTP connects per request; the SSE stream waits for the first message, so that a
    // refusal (e.g. 401) surfaces as the failure of a request the client can be answered about.
    if (this.transport instanceof StreamableHTTPClientTransport) await this.transport.start();
  }

  async send(frame: Buffer | string): Promise<void> {
    if (this.closedReason !== undefined) throw new Error(this.closedReason);
    const message = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8')) as JSONRPCMessage;
    try {
      await this.connect();
      await this.transport.send(message);
    } catch (err) {
      // Closing aborts requests still in flight: that is our doing, not a failure of the remote.
      if (this.closedReason === CLOSED_BY_RECORDER) return;
      throw this.rejected(err);
    }
  }

  setProtocolVersion(version: string): void {
    this.transport.setProtocolVersion(version);
  }

  async close(): Promise<void> {
    if (this.closedReason !== undefined) return;
    // Closed by us: the proxy knows why, so onclose is not fired with a reason of our own.
    this.closedReason = CLOSED_BY_RECORDER;
    const transport = this.transport;
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
      // The SDK's close() only aborts; DELETE ends the remote session instead of leaving it to expire.
      await settleWithin(transport.terminateSession(), TERMINATE_TIMEOUT_MS);
    }
    await transport.close().catch(() => undefined);
  }

  private connect(): Promise<void> {
    if (this.transport instanceof StreamableHTTPClientTransport) return Promise.resolve();
    if (!this.connecting) {
      const transport = this.transport;
      this.connecting = transport.start().catch((err: unknown) => {
        // Retry on the next message: the refusal may have been transient.
        this.connecting = undefined;
        throw err;
      });
    }
    return this.connecting;
  }

  private rejected(err: unknown): Error {
    if (typeof err === 'object' && err !== null) this.rejectedBySend.add(err);
    const error = err instanceof Error ? err : new Error(String(err));
    const status = httpStatus(error);
    // The client is told the status (a 401 means something to its user), not only the body text.
    if (status !== undefined) return /\b\d{3}\b/.test(error.message) ? error : Object.assign(new Error(`HTTP ${status}: ${error.message}`), { code: status });
    // The SDK's SSE transport reports a refused POST as a plain Error with the status in its text.
    const m = /\(HTTP (\d{3})\)/.exec(error.message);
    return m ? Object.assign(new Error(error.message), { code: Number(m[1]) }) : error;
  }

  private reportError(err: Error): void {
    // The SDK calls onerror just before send() rejects with the same error; wait a turn to tell them apart.
    setImmediate(() => {
      if (this.rejectedBySend.has(err) || this.closedReason !== undefined) return;
      const status = httpStatus(err);
      this.connection.event({ type: 'transport_error', side: 'downstream', message: err.message, ...(status !== undefined ? { http_status: status } : {}) });
    });
  }

  private finish(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.onclose?.(reason);
  }
}

/** The SDK's StreamableHTTPError and SseError carry the HTTP status as a numeric `code`. */
function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}
