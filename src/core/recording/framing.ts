/**
 * Newline-delimited framing for stdio, written by hand on purpose: the SDK's ReadBuffer drops
 * lines that are not valid JSON-RPC and caps a message at 10 MB, while a recorder must see and
 * keep every byte a server writes. Lines are split on LF only, as bytes, so a multi-byte UTF-8
 * character split across chunks is reassembled and invalid UTF-8 survives untouched.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly online: (line: Buffer) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(0x0a, start);
    while (nl !== -1) {
      let line = chunk.subarray(start, nl);
      if (this.pending.length) {
        this.pending.push(line);
        line = Buffer.concat(this.pending, this.pendingBytes + line.length);
        this.pending = [];
        this.pendingBytes = 0;
      }
      if (line.length > 0 && !(line.length === 1 && line[0] === 0x0d)) this.online(line);
      start = nl + 1;
      nl = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) {
      // Copy: the stream may reuse its chunk buffer.
      const rest = Buffer.from(chunk.subarray(start));
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
  }

  /** What is left without a closing newline when the stream ends. */
  flush(): Buffer | undefined {
    if (!this.pending.length) return undefined;
    const rest = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return rest;
  }
}

/** Appends the newline that frames a message on stdio. */
export function withNewline(frame: Buffer | string): Buffer | string {
  return typeof frame === 'string' ? frame + '\n' : Buffer.concat([frame, NEWLINE]);
}

const NEWLINE = Buffer.from('\n');
