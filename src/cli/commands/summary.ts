import { parseArgs } from 'node:util';
import { sessionReport } from '../../core/analysis/session-report';
import { formatSummaryText } from '../../core/analysis/summary';
import { formatAlertsText } from '../../core/alerts/text';
import { openForReading, resolveSession } from '../store-access';
import { loadPolicyFlag } from '../policy-options';
import { UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight summary [--store DIR] [--session ID|latest] [--json] [--policy FILE]

What happened in a session: tool calls and their outcomes, failures with their error class,
security alerts, servers and agents, how the session ended (terminal_state) and whether its failed work was
done again (recovery_status; see "mcp-flight plan" and docs/recovery.md). --session takes an id, a unique prefix of one,
or "latest" (the default). --policy FILE prices and classifies the calls with that policy
instead of the one the session recorded.`;

export async function summaryCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { store: { type: 'string' }, session: { type: 'string' }, json: { type: 'boolean' }, policy: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const policy = loadPolicyFlag(values.policy);
  const store = await openForReading(values.store);
  try {
    const session = resolveSession(store, values.session);
    // The summary is computed from the journal, the evidence, not from the index's previews; later
    // sessions are consulted for work they completed (recovery_status "resumed").
    const { summary, assembler } = sessionReport(store, session, policy);
    process.stdout.write(values.json ? JSON.stringify(summary, null, 2) + '\n' : formatSummaryText(summary) + formatAlertsText(assembler.alerts) + '\n');
    return 0;
  } finally {
    store.close();
  }
}
