import { parseArgs } from 'node:util';
import { formatDuration, terminalStateOfCounts } from '../../core/analysis/summary';
import type { SessionRow } from '../../core/store/store';
import { openForReading } from '../store-access';
import { UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight sessions [--store DIR] [--json]

Lists the recorded sessions, newest first: when, which recorder, which servers, how many tool
calls and failures, and how the session ended.`;

export async function sessionsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { store: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const store = await openForReading(values.store);
  try {
    const rows = store.sessions().map((s) => ({ ...s, terminal_state: stateOf(s) }));
    if (values.json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    if (!rows.length) {
      process.stdout.write(`No sessions in ${store.root}.\n`);
      return 0;
    }
    const table = rows.map((s) => [
      s.session_id,
      s.started_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      s.ended_at ? formatDuration(Date.parse(s.ended_at) - Date.parse(s.started_at)) : '—',
      s.recorder_kind,
      s.servers.join(', ') || '—',
      String(s.tool_calls),
      String(s.failed),
      s.terminal_state,
    ]);
    printTable(['SESSION', 'STARTED', 'DURATION', 'RECORDER', 'SERVERS', 'TOOL CALLS', 'FAILED', 'STATE'], table);
    return 0;
  } finally {
    store.close();
  }
}

export function stateOf(s: SessionRow): string {
  return terminalStateOfCounts(s);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
}
