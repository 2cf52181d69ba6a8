import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { exportSessionJsonl } from '../../core/export/jsonl';
import { exportSessionOtlp } from '../../core/export/otlp';
import { exportSessionJsonBytes } from '../../core/export/session-json';
import { openForReading, resolveSession } from '../store-access';
import { loadPolicyFlag } from '../policy-options';
import { CommandError, UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight export [--store DIR] [--session ID|latest] [--format json|jsonl|otlp] [--include-payloads] [--out FILE] [--policy FILE]

Writes a session — its summary, connections, calls and every raw event — as JSON
("format": "mcp-flight.session/v1") or JSONL, to FILE or to stdout. The format is documented in
docs/export-format.md, with a JSON Schema beside it. --policy FILE prices and classifies the
calls with that policy instead of the one the session recorded.

--format otlp writes the session as OpenTelemetry traces instead: OTLP/JSON, one
ExportTraceServiceRequest per line (each line a body for POST /v1/traces). Arguments and
results are left out unless --include-payloads is given (then the redacted versions recorded).
See docs/otlp.md.`;

export async function exportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { store: { type: 'string' }, session: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, 'include-payloads': { type: 'boolean' }, policy: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const format = values.format ?? (values.out?.endsWith('.jsonl') ? 'jsonl' : 'json');
  if (format !== 'json' && format !== 'jsonl' && format !== 'otlp') throw new UsageError(`--format must be json, jsonl or otlp, not "${format}"`);
  if (values['include-payloads'] && format !== 'otlp') throw new UsageError('--include-payloads applies to --format otlp (json and jsonl always carry the recorded bodies)');

  const policy = loadPolicyFlag(values.policy);
  const store = await openForReading(values.store);
  try {
    const session = resolveSession(store, values.session);
    const records = () => store.readSessionRecords(session.session_id);
    const options = { writerAlive: session.writer_alive !== false, sessionId: session.session_id, ...(policy ? { policy } : {}) };
    // Written to a temporary file and renamed, so a failed export never leaves a half file behind.
    const target = values.out ? path.resolve(values.out) : undefined;
    const temp = target ? `${target}.${process.pid}.partial` : undefined;
    let fd: number;
    try {
      fd = temp ? fs.openSync(temp, 'w', 0o600) : 1;
    } catch (err) {
      throw new CommandError(`cannot write ${target}: ${(err as Error).message}`);
    }
    // The file is made durable as it grows: a background fdatasync every SYNC_EVERY bytes (libuv's
    // thread pool, while this thread goes on producing) leaves the final fsync little to wait for.
    const syncs: Array<Promise<void>> = [];
    let unsynced = 0;
    const write = (chunk: string | Buffer) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      writeAll(fd, buf);
      if (!temp) return;
      unsynced += buf.length;
      if (unsynced < SYNC_EVERY) return;
      unsynced = 0;
      syncs.push(new Promise((resolve) => fs.fdatasync(fd, () => resolve())));
    };
    try {
      let done: string;
      if (format === 'otlp') {
        const r = exportSessionOtlp(records(), write, { ...options, includePayloads: values['include-payloads'] === true });
        done = `${r.spans} spans in ${r.lines} OTLP/JSON line${r.lines === 1 ? '' : 's'}`;
      } else {
        const result = format === 'json' ? exportSessionJsonBytes(records, write, options) : exportSessionJsonl(records, write, options);
        done = `${result.calls} calls, ${result.events} events`;
      }
      if (temp && target) {
        // Their errors do not matter: the fsync below is the one that counts.
        await Promise.all(syncs);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(temp, target);
        process.stderr.write(`Exported session ${session.session_id} (${done}) to ${target}\n`);
      }
    } catch (err) {
      if (temp) {
        await Promise.all(syncs);
        fs.closeSync(fd);
        fs.rmSync(temp, { force: true });
      }
      throw err;
    }
    return 0;
  } finally {
    store.close();
  }
}

const SYNC_EVERY = 32 * 1024 * 1024;

/** Synchronous writes keep memory flat on large sessions (and let the exporter reuse its buffer); EAGAIN on a non-blocking stdout pipe is retried. */
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
