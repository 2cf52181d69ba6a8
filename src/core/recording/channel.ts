/**
 * A frame channel carries whole JSON-RPC messages as bytes, one frame per message, without
 * interpreting them. The proxy sits between two of them — the client side (upstream) and the
 * server side (downstream) — and records every frame before forwarding it.
 *
 * Frames are bytes, not parsed messages, because the recorder forwards what it received
 * untouched: a message the SDK would reject (a newer protocol revision, a stray field) still
 * reaches its peer, and the record keeps it verbatim.
 */
export interface FrameChannel {
  /** Set by the proxy before start(). */
  onframe?: (frame: Buffer | string) => void;
  /** Set by the proxy before start(); called once, when the peer is gone. */
  onclose?: (reason: string) => void;
  start(): Promise<void>;
  /** Rejects (or throws) when the frame could not be delivered. */
  send(frame: Buffer | string): void | Promise<void>;
  close(): Promise<void>;
  /** Streamable HTTP session id, for channels that have one. */
  readonly sessionId?: string;
  /** For channels that run a process: its exit code once it has ended. */
  readonly exitCode?: number;
  /** Downstreams that must send `MCP-Protocol-Version` learn it from the initialize result. */
  setProtocolVersion?(version: string): void;
}
