import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ServerSpec } from '../config/servers';
import type { ServerTarget } from '../model/records';
import type { FrameChannel } from './channel';
import type { Gate } from './gate';
import { RecordingProxy } from './proxy';
import type { ConnectionRecorder, Recorder } from './recorder';

/**
 * The in-process recording transport: an SDK `Transport` that an SDK `Client` (the extension's
 * own calls, replays, tests) connects to directly. Messages go through the same proxy, journal
 * and gate as any other client's, then to the real server through `downstream`.
 */
export interface RecordingTransportOptions {
  recorder: Recorder;
  server: ServerTarget;
  /** Opens the server side for the connection this transport creates (see `openDownstream`). */
  downstream: (connection: ConnectionRecorder) => FrameChannel;
  gate?: Gate;
  requestTimeoutMs?: number;
  /** The server's spec, for recording its credentials (names and fingerprints). */
  spec?: ServerSpec;
}

export class RecordingTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly proxy: RecordingProxy;
  private readonly clientSide: InProcessClientChannel;
  private closed = false;

  constructor(options: RecordingTransportOptions) {
    this.clientSide = new InProcessClientChannel(
      (text) => this.deliver(text),
      () => this.finish(),
    );
    const connection = options.recorder.openConnection(options.server, 'in_process', options.spec);
    this.proxy = new RecordingProxy({
      upstream: this.clientSide,
      downstream: options.downstream(connection),
      connection,
      server: options.server,
      gate: options.gate,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    this.proxy.onclose = () => this.finish();
  }

  get connectionId(): string {
    return this.proxy.connection.id;
  }

  async start(): Promise<void> {
    await this.proxy.start();
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new Error('recording transport is closed');
    this.clientSide.onframe?.(JSON.stringify(message));
  }

  async close(): Promise<void> {
    await this.proxy.close('client closed the transport');
    this.finish();
  }

  private deliver(text: string): void {
    let message: JSONRPCMessage;
    try {
      message = JSONRPCMessageSchema.parse(JSON.parse(text));
    } catch (err) {
      // The record already holds the frame; the SDK client just cannot use it.
      this.onerror?.(new Error(`server sent a message the SDK cannot parse: ${(err as Error).message}`));
      return;
    }
    this.onmessage?.(message);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

/** The proxy's view of an in-process client: frames from the SDK client come in through `onframe`. */
class InProcessClientChannel implements FrameChannel {
  onframe?: (frame: Buffer | string) => void;
  onclose?: (reason: string) => void;

  constructor(
    private readonly deliver: (text: string) => void,
    private readonly closed: () => void,
  ) {}

  async start(): Promise<void> {}

  send(frame: Buffer | string): void {
    const text = typeof frame === 'string' ? frame : frame.toString('utf8');
    // Asynchronous like a real transport, so the SDK never re-enters itself synchronously.
    queueMicrotask(() => this.deliver(text));
  }

  async close(): Promise<void> {
    this.closed();
  }
}
