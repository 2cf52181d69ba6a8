import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { parseMcpConfig } from '../../core/config/mcp-json';
import { Recorder } from '../../core/recording/recorder';
import { RecordingHttpEndpoint } from '../../core/recording/upstream/http-endpoint';
import { JournalWriter } from '../../core/store/journal';
import { redactorFromFile } from '../redaction-option';
import { governRecording, loadPolicyFlag, POLICY_HELP } from '../policy-options';
import { OTLP_HELP, OTLP_OPTIONS, otlpPushFrom } from '../otlp-options';
import { composeGates } from '../../core/recording/gate';
import { ALERT_HELP, ALERT_OPTIONS, startAlerts } from '../alerts';
import { CommandError, storeDir, UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight serve [--store DIR] [--port N] [--config FILE] [--timeout-ms N] [--redaction FILE] [--policy FILE]

Serves every server of an MCP config file over Streamable HTTP on 127.0.0.1 through the
recorder — the same endpoint the VS Code extension uses — and prints each server's URL and
token. Clients send the token as "Authorization: Bearer TOKEN". Stop with Ctrl+C.

Options:
  --store DIR      the store (default: $MCP_FLIGHT_STORE, else ./.mcp-flight)
  --port N         the port (default: an ephemeral one)
  --config FILE    the config, in the .vscode/mcp.json format ("servers"; "mcpServers" also read)
                   (default: .vscode/mcp.json). \${input:ID} values come from $MCP_FLIGHT_INPUT_ID.
  --timeout-ms N   answer a request the server has not answered after N ms (0 = never; default 0)
  --redaction FILE extra redaction patterns and allow-lists, as JSON:
                   {"extraPatterns":[{"kind":"acme_key","regex":"ACME-[0-9A-F]{16}"}],
                    "allowKeys":["session_token"],"allowValues":["…",{"regex":"…"}]}
                   (docs/redaction.md); an invalid entry stops the command (exit 2)
  --json           print the servers as one JSON line instead of text
${OTLP_HELP}
${POLICY_HELP}
${ALERT_HELP}`;

export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      port: { type: 'string' },
      config: { type: 'string' },
      'timeout-ms': { type: 'string' },
      redaction: { type: 'string' },
      json: { type: 'boolean' },
      ...OTLP_OPTIONS,
      policy: { type: 'string' },
      ...ALERT_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number');
  const timeoutMs = values['timeout-ms'] === undefined ? 0 : Number(values['timeout-ms']);
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new UsageError('--timeout-ms must be a number of milliseconds');

  const redactor = redactorFromFile(values.redaction);

  const configFile = path.resolve(values.config ?? path.join('.vscode', 'mcp.json'));
  let text: string;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read config ${configFile}: ${(err as Error).message}`);
  }
  const workspaceFolder = path.basename(path.dirname(configFile)) === '.vscode' ? path.dirname(path.dirname(configFile)) : path.dirname(configFile);
  const config = parseMcpConfig(text, configFile, {
    workspaceFolder,
    input: (id) => process.env[`MCP_FLIGHT_INPUT_${id.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`],
  });
  for (const p of config.problems) process.stderr.write(`mcp-flight serve: skipped ${p}\n`);
  if (!config.servers.length) throw new CommandError(`no usable servers in ${configFile}`);

  // A bad --policy stops the command before anything is recorded.
  const ownPolicy = loadPolicyFlag(values.policy);
  const push = otlpPushFrom(values, (line) => process.stderr.write(`mcp-flight serve: ${line}\n`));
  const store = storeDir(values.store);
  const journal = JournalWriter.open(store);
  const recorder = new Recorder({ kind: 'cli-serve', journal, ...(redactor ? { redactor } : {}) });
  push?.attach(recorder);
  const gate = governRecording(recorder, ownPolicy, store, 'serve');
  const alerts = startAlerts(recorder, values, 'mcp-flight serve');
  const gated = composeGates(alerts.gate, gate);
  const endpoint = new RecordingHttpEndpoint({ recorder, port, requestTimeoutMs: timeoutMs, ...(gated ? { gate: gated } : {}) });
  await endpoint.start();
  const served = config.servers.map((spec) => ({ name: spec.name, ...endpoint.addServer(spec) }));
  if (values.json) {
    process.stdout.write(JSON.stringify({ session_id: recorder.sessionId, servers: served.map(({ name, url, token }) => ({ name, url, token })) }) + '\n');
  } else {
    process.stdout.write(`Recording session ${recorder.sessionId} into ${journal.layout.root}\n`);
    for (const s of served) process.stdout.write(`${s.name}\n  url:   ${s.url}\n  token: ${s.token}\n`);
    process.stdout.write('Clients send "Authorization: Bearer <token>". Ctrl+C stops.\n');
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, () => resolve(s));
  });
  await endpoint.close();
  push?.beforeEnd();
  alerts.engine.dispose();
  recorder.end(`serve stopped by ${signal}`);
  journal.close();
  await push?.shutdown();
  return 0;
}
