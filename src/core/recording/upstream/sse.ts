/**
 * Server-Sent Events framing, written by hand on purpose: the reverse proxy forwards an SSE
 * stream's bytes exactly as they arrive and only parses a copy, so the parser must work on raw
 * byte chunks (no TextDecoderStream pipeline, no web streams) and must be able to find event
 * boundaries in bytes for the one rewrite it makes (the legacy transport's `endpoint` event).
 * Line terminators are CR, LF or CRLF (all ASCII), so lines are split as bytes and each complete
 * line is decoded on its own: a multi-byte character split across chunks is never cut.
 *
 * Follows the WHATWG event-stream interpretation: `data` lines are joined with LF, `event`
 * defaults to "message", comment lines (leading colon) are skipped, one space after the colon is
 * dropped, a leading BOM is ignored, an event without data is not dispatched, and an incomplete
 * event at end of stream is discarded.
 */

export interface SseEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;

export class SseParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private skipLf = false;
  private atStreamStart = true;
  private data: string[] = [];
  private eventType = '';
  private lastId?: string;
  private retry?: number;

  constructor(private readonly onevent: (event: SseEvent) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (this.skipLf && chunk.length > 0) {
      if (chunk[0] === LF) start = 1;
      this.skipLf = false;
    }
    for (let i = start; i < chunk.length; i++) {
      const c = chunk[i];
      if (c !== LF && c !== CR) continue;
      let line = chunk.subarray(start, i);
      if (this.pending.length) {
        this.pending.push(line);
        line = Buffer.concat(this.pending, this.pendingBytes + line.length);
        this.pending = [];
        this.pendingBytes = 0;
      }
      this.line(line);
      if (c === CR) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === LF) i++;
        } else {
          this.skipLf = true;
        }
      }
      start = i + 1;
    }
    if (start < chunk.length) {
      // Copy: the socket may reuse its chunk buffer.
      const rest = Buffer.from(chunk.subarray(start));
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
  }

  /** End of stream: a last event without its blank line is discarded, as the spec says. */
  end(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.data = [];
    this.eventType = '';
  }

  private line(bytes: Buffer): void {
    let from = 0;
    if (this.atStreamStart) {
      this.atStreamStart = false;
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) from = 3;
    }
    if (bytes.length - from === 0) {
      this.dispatch();
      return;
    }
    if (bytes[from] === COLON) return; // comment (keep-alives)
    const colon = bytes.indexOf(COLON, from);
    let field: string;
    let value: string;
    if (colon === -1) {
      field = bytes.toString('utf8', from);
      value = '';
    } else {
      field = bytes.toString('utf8', from, colon);
      let v = colon + 1;
      if (bytes[v] === 0x20) v++;
      value = bytes.toString('utf8', v);
    }
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (value.indexOf('\0') === -1) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }

  private dispatch(): void {
    const type = this.eventType;
    this.eventType = '';
    if (this.data.length === 0) return;
    const data = this.data.length === 1 ? (this.data[0] as string) : this.data.join('\n');
    this.data = [];
    const event: SseEvent = { event: type || 'message', data };
    if (this.lastId !== undefined) event.id = this.lastId;
    if (this.retry !== undefined) event.retry = this.retry;
    this.onevent(event);
  }
}

/**
 * Where the first complete event in `buf` ends (the index just past its blank line), or -1 when
 * no event is complete yet. `buf` must start at the beginning of a line. A CR as the very last
 * byte is treated as incomplete, since the LF of a CRLF may still be on its way.
 */
export function findEventEnd(buf: Buffer): number {
  let atLineStart = true;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== LF && c !== CR) {
      atLineStart = false;
      continue;
    }
    if (c === CR) {
      if (i + 1 >= buf.length) return -1;
      if (buf[i + 1] === LF) i++;
    }
    if (atLineStart) return i + 1;
    atLineStart = true;
  }
  return -1;
}

/** Parses one complete event block (as cut by `findEventEnd`). */
export function parseEventBlock(block: Buffer): SseEvent | undefined {
  let found: SseEvent | undefined;
  const parser = new SseParser((e) => {
    found ??= e;
  });
  parser.push(block);
  return found;
}

/** One SSE event carrying `data`, split into several `data:` lines if it contains line breaks. */
export function formatSseEvent(data: string, event?: string, id?: string): string {
  let out = event ? `event: ${event}\n` : '';
  if (id !== undefined) out += `id: ${id}\n`;
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) return `${out}data: ${data}\n\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + '\n';
}
