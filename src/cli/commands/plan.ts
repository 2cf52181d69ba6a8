import { parseArgs } from 'node:util';
import { formatPlanText } from '../../core/analysis/recovery';
import { sessionReport } from '../../core/analysis/session-report';
import { openForReading, resolveSession } from '../store-access';
import { UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight plan [--store DIR] [SESSION] [--json]

The recovery plan of a session: where it broke (its first unrecovered failure, or the call in
flight when the recorder or the server died), which earlier tool calls were permanent,
reversible or without effect, the last resume point, and the calls to send again — whether each
is retry-safe, and its exact recorded arguments (redaction markers are kept as markers and listed:
supply those values again). SESSION is an id, a unique prefix of one, or "latest" (the default).
The rules are in docs/recovery.md.`;

export async function planCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { store: { type: 'string' }, session: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  if (positionals.length && values.session) throw new UsageError('give the session once: SESSION or --session');
  const store = await openForReading(values.store);
  try {
    const session = resolveSession(store, positionals[0] ?? values.session);
    const { plan } = sessionReport(store, session);
    process.stdout.write(values.json ? JSON.stringify(plan, null, 2) + '\n' : formatPlanText(plan));
    return 0;
  } finally {
    store.close();
  }
}
