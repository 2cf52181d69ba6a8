import { VERSION } from '../core/version';
import { CommandError, GLOBAL_HELP, UsageError } from './usage';
import { recordCommand } from './commands/record';
import { serveCommand } from './commands/serve';
import { sessionsCommand } from './commands/sessions';
import { exportCommand } from './commands/export';
import { summaryCommand } from './commands/summary';
import { planCommand } from './commands/plan';
import { verifyCommand } from './commands/verify';
import { diffCommand } from './commands/diff';
import { policyCommand } from './commands/policy';

/**
 * The `mcp-flight` command: a thin shell over src/core. Anything a command prints for people
 * goes to stderr when stdout may carry protocol bytes (record) or data (export to stdout).
 */

type Command = (argv: string[]) => Promise<number>;

const EXPLAINED = new Set(['PolicyError', 'StoreMissingError', 'StoreVersionError', 'ConfigError', 'LockError', 'IndexImageError', 'AuditKeyError']);

const COMMANDS: Record<string, Command> = {
  record: recordCommand,
  serve: serveCommand,
  sessions: sessionsCommand,
  export: exportCommand,
  summary: summaryCommand,
  plan: planCommand,
  verify: verifyCommand,
  diff: diffCommand,
  policy: policyCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(GLOBAL_HELP + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`mcp-flight: unknown command "${name}"\n\n${GLOBAL_HELP}\n`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError || String((err as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`mcp-flight ${name}: ${(err as Error).message}\nRun "mcp-flight ${name} --help" for usage.\n`);
      return 2;
    }
    // Failures that core explains in words (a missing store, a config it cannot read) are the user's
    // to act on: the message, without a stack. Anything else is a bug and keeps its stack.
    if (err instanceof CommandError || EXPLAINED.has((err as Error).name)) {
      process.stderr.write(`mcp-flight ${name}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly (a recorded server may be gone while the client still holds our stdin open),
    // but only once stdout has drained: it carries protocol bytes or an export.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`mcp-flight: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
