import type { Readable, Writable } from 'node:stream';
import type { FrameChannel } from '../channel';
import { LineSplitter, withNewline } from '../framing';

/**
 * The client side over stdio: `mcp-flight record` is itself a stdio MCP server to its parent
 * client. Only protocol bytes ever go to `output`; everything the recorder has to say goes to
 * the journal or to stderr.
 */
export class StdioUpstreamChannel implements FrameChannel {
  onframe?: (frame: Buffer | string) => void;
  onclose?: (reason: string) => void;
  private closed = false;

  constructor(
    private readonly input: Readable = process.stdin,
    private readonly output: Writable = process.stdout,
  ) {}

  async start(): Promise<void> {
    const lines = new LineSplitter((line) => this.onframe?.(line));
    this.input.on('data', (chunk: Buffer) => lines.push(chunk));
    this.input.on('end', () => {
      const rest = lines.flush();
      if (rest) this.onframe?.(rest);
      this.finish('client closed stdin');
    });
    this.input.on('error', (err) => this.finish(`stdin: ${err.message}`));
    this.output.on('error', (err) => this.finish(`stdout: ${err.message}`));
  }

  send(frame: Buffer | string): void {
    if (this.closed) throw new Error('client is gone');
    this.output.write(withNewline(frame));
  }

  async close(): Promise<void> {
    this.finish('closed by recorder');
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.(reason);
  }
}
