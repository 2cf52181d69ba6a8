import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { FsWorkspaceWatcher, SETTLE_WAIT_MS } from '../../core/effects/fs-watcher';
import { SideEffectLedger } from '../../core/effects/ledger';
import type { ServerSpec } from '../../core/config/servers';
import { targetOf } from '../../core/config/servers';
import { openDownstream } from '../../core/recording/downstream';
import { RecordingProxy } from '../../core/recording/proxy';
import { Recorder } from '../../core/recording/recorder';
import { StdioUpstreamChannel } from '../../core/recording/upstream/stdio';
import { JournalWriter } from '../../core/store/journal';
import { redactorFromExtensionSettings, redactorFromFile } from '../redaction-option';
import { governRecording, loadPolicyFlag, POLICY_HELP } from '../policy-options';
import { OTLP_HELP, OTLP_OPTIONS, otlpPushFrom } from '../otlp-options';
import { composeGates } from '../../core/recording/gate';
import { ALERT_HELP, ALERT_OPTIONS, startAlerts } from '../alerts';
import { storeDir, UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight record [--store DIR] [--name NAME] [--timeout-ms N] [--redaction FILE] [--policy FILE] [--watch DIR]... -- COMMAND [ARGS...]
  mcp-flight record [--store DIR] [--name NAME] [--timeout-ms N] [--redaction FILE] [--policy FILE] [--watch DIR]... --url URL [--header "K: V"]... [--transport http|sse]

Acts as a stdio MCP server for the client that starts it, launches (or connects to) the real
server, and records every message in both directions into the store. Nothing but protocol bytes
is written to stdout; notes go to stderr.

Options:
  --store DIR        the store (default: $MCP_FLIGHT_STORE, else ./.mcp-flight)
  --name NAME        the server's name in the record (default: the command's or host's name)
  --timeout-ms N     answer a request the server has not answered after N ms (0 = never; default 0)
  --redaction FILE   extra redaction patterns and allow-lists, as JSON:
                     {"extraPatterns":[{"kind":"acme_key","regex":"ACME-[0-9A-F]{16}"}],
                      "allowKeys":["session_token"],"allowValues":["…",{"regex":"…"}]}
                     (docs/redaction.md); an invalid entry stops the command (exit 2)
  --url URL          record a remote server instead of launching a command
  --header "K: V"    a header for the remote server (repeatable)
  --transport T      http (Streamable HTTP, default) or sse (legacy)
  --watch DIR        record files created, modified and deleted in DIR (recursively) as side
                     effects of the tool calls in flight (repeatable; the store is never watched)
${OTLP_HELP}
${POLICY_HELP}
${ALERT_HELP}`;

const OPTIONS = {
  store: { type: 'string' },
  name: { type: 'string' },
  'timeout-ms': { type: 'string' },
  redaction: { type: 'string' },
  url: { type: 'string' },
  header: { type: 'string', multiple: true },
  transport: { type: 'string' },
  ...OTLP_OPTIONS,
  policy: { type: 'string' },
  ...ALERT_OPTIONS,
  watch: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  // Marks an entry the extension wrapped in another client's config, so it can be unwrapped.
  'mcp-flight-wrapped': { type: 'boolean' },
} as const;

/**
 * The server command starts after `--`, or — because some clients drop `--` when they pass
 * arguments on (the MCP Inspector does) — at the first argument that is not one of ours.
 */
function splitCommand(argv: string[]): { own: string[]; command: string[] } {
  const dashdash = argv.indexOf('--');
  if (dashdash !== -1) return { own: argv.slice(0, dashdash), command: argv.slice(dashdash + 1) };
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional');
  if (!first) return { own: argv, command: [] };
  return { own: argv.slice(0, first.index), command: argv.slice(first.index) };
}

export async function recordCommand(argv: string[]): Promise<number> {
  const { own, command } = splitCommand(argv);
  const { values, positionals } = parseArgs({ args: own, allowPositionals: true, options: OPTIONS });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const spec = serverSpec(values, command);
  const timeoutMs = values['timeout-ms'] === undefined ? 0 : Number(values['timeout-ms']);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new UsageError('--timeout-ms must be a number of milliseconds');

  // A bad --policy stops the command before anything is recorded.
  const ownPolicy = loadPolicyFlag(values.policy);
  const push = otlpPushFrom(values, (line) => process.stderr.write(`mcp-flight record: ${line}\n`));
  const redactor = values.redaction !== undefined || !values['mcp-flight-wrapped'] ? redactorFromFile(values.redaction) : redactorFromExtensionSettings((m) => process.stderr.write(`mcp-flight record: ${m}\n`));
  const store = storeDir(values.store);
  const journal = JournalWriter.open(store);
  const recorder = new Recorder({ kind: 'cli-record', journal, ...(redactor ? { redactor } : {}) });
  push?.attach(recorder);
  const gate = governRecording(recorder, ownPolicy, store, 'record');
  const alerts = startAlerts(recorder, values, 'mcp-flight record');
  const gated = composeGates(alerts.gate, gate);
  const watchers = startWatchers(values.watch ?? [], recorder, store);
  const target = targetOf(spec);
  const connection = recorder.openConnection(target, 'stdio', spec);
  const downstream = openDownstream(spec, connection);
  const proxy = new RecordingProxy({
    upstream: new StdioUpstreamChannel(),
    downstream,
    connection,
    server: target,
    ...(gated ? { gate: gated } : {}),
    requestTimeoutMs: timeoutMs,
    forwardNonJsonRpc: spec.type === 'stdio',
  });
  const closed = new Promise<string>((resolve) => (proxy.onclose = resolve));
  const stop = (signal: NodeJS.Signals) => void proxy.close(`recorder received ${signal}`);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  await proxy.start();
  const reason = await closed;
  if (watchers.length) {
    // Watchers report a change a few milliseconds after it: let the last ones arrive.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_WAIT_MS));
    for (const w of watchers) w.close();
  }
  push?.beforeEnd();
  alerts.engine.dispose();
  recorder.end(reason);
  journal.close();
  // The journal is complete before the push gets its last, bounded, chance.
  await push?.shutdown();
  // Mirror the server's exit code, as the client would have seen it without the recorder.
  return downstream.exitCode ?? 0;
}

function startWatchers(dirs: string[], recorder: Recorder, store: string): FsWorkspaceWatcher[] {
  if (!dirs.length) return [];
  const ledger = new SideEffectLedger({ sink: recorder, exclude: [store] });
  return dirs.map((dir) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch {
      throw new UsageError(`--watch "${dir}": no such folder`);
    }
    if (!st.isDirectory()) throw new UsageError(`--watch "${dir}" is not a folder`);
    const w = new FsWorkspaceWatcher(dir, ledger, [store]);
    w.start();
    return w;
  });
}

function serverSpec(values: { name?: string; url?: string; header?: string[]; transport?: string }, command: string[]): ServerSpec {
  if (values.url !== undefined) {
    if (command.length) throw new UsageError('give either --url or a command after --, not both');
    const transport = values.transport ?? 'http';
    if (transport !== 'http' && transport !== 'sse') throw new UsageError('--transport must be http or sse');
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new UsageError(`--url "${values.url}" is not a URL`);
    }
    const headers: Record<string, string> = {};
    for (const h of values.header ?? []) {
      const i = h.indexOf(':');
      if (i <= 0) throw new UsageError(`--header "${h}" must look like "Name: value"`);
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    return { name: values.name ?? url.host, type: transport, url: url.href, ...(Object.keys(headers).length ? { headers } : {}) };
  }
  if (values.transport !== undefined || values.header !== undefined) throw new UsageError('--transport and --header only apply with --url');
  const [cmd, ...args] = command;
  if (cmd === undefined) throw new UsageError('nothing to record: give a server command after --, or --url URL');
  return { name: values.name ?? defaultName(cmd, args), type: 'stdio', command: cmd, args };
}

/** `npx -y @scope/server-x` → `server-x`; `node path/to/server.js` → `server`. */
function defaultName(cmd: string, args: string[]): string {
  const base = (s: string) => s.replace(/\\/g, '/').split('/').pop()!.replace(/\.(m?js|cjs|py|exe)$/, '');
  const first = args.find((a) => !a.startsWith('-'));
  if ((/(^|\/)(npx|node|uvx|python3?|bunx|deno)$/.test(cmd)) && first) return base(first.replace(/@[^/@]*$/, '')) || base(cmd);
  return base(cmd);
}
