import * as path from 'node:path';
import { Redactor } from '../src/core/audit/redaction';
import { openDownstream } from '../src/core/recording/downstream';
import { RecordingProxy } from '../src/core/recording/proxy';
import { Recorder } from '../src/core/recording/recorder';
import { StdioUpstreamChannel } from '../src/core/recording/upstream/stdio';
import { JournalWriter } from '../src/core/store/journal';

/**
 * The stdio recording path of `mcp-flight record`, assembled with some of its layers left out,
 * so the benchmark can say what each layer costs:
 *
 *   node --import tsx bench/recorder-layers.ts relay|journal|full STORE -- COMMAND [ARGS...]
 *
 * - `relay`: the recorder's stdio channels (its line framing, the child process) wired to each
 *   other, nothing recorded — what forwarding alone costs on this machine;
 * - `journal`: the journal alone — no hash chain, redaction replaced by a pass-through (the
 *   issue's "journal only" target);
 * - `full`: everything on, as `mcp-flight record` runs it.
 *
 * Bench-only on purpose: the product has no switch that turns redaction or the chain off.
 */

class PassThroughRedactor extends Redactor {
  override redactMessage<T>(message: T): { value: T; redactions: [] } {
    return { value: message, redactions: [] };
  }
}

async function main(): Promise<void> {
  const [layers, store, dashdash, command, ...args] = process.argv.slice(2);
  if ((layers !== 'relay' && layers !== 'journal' && layers !== 'full') || !store || dashdash !== '--' || !command) throw new Error('usage: recorder-layers.ts relay|journal|full STORE -- COMMAND [ARGS...]');
  const lean = layers !== 'full';
  const journal = JournalWriter.open(path.resolve(store), lean ? { audit: false } : {});
  const recorder = new Recorder({ kind: 'test', journal, ...(lean ? { redactor: new PassThroughRedactor() } : {}) });
  const spec = { name: 'everything', type: 'stdio' as const, command, args };
  const connection = recorder.openConnection({ name: spec.name, transport: 'stdio', command, args }, 'stdio');
  const downstream = openDownstream(spec, connection);
  if (layers === 'relay') {
    // The child's events (spawn, stderr, exit) are still journaled; messages are not.
    const upstream = new StdioUpstreamChannel();
    upstream.onframe = (frame) => downstream.send(frame);
    downstream.onframe = (frame) => upstream.send(frame);
    const closed = new Promise<string>((resolve) => {
      upstream.onclose = (reason) => void downstream.close().then(() => resolve(reason));
      downstream.onclose = resolve;
    });
    await downstream.start();
    await upstream.start();
    recorder.end(await closed);
    journal.close();
    return;
  }
  const proxy = new RecordingProxy({ upstream: new StdioUpstreamChannel(), downstream, connection, server: { name: spec.name, transport: 'stdio' }, forwardNonJsonRpc: true });
  const closed = new Promise<string>((resolve) => (proxy.onclose = resolve));
  process.once('SIGTERM', () => void proxy.close('SIGTERM'));
  await proxy.start();
  recorder.end(await closed);
  journal.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
