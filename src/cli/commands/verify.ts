import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { flightHome, loadAuditKeys, parseTrustedKey } from '../../core/audit/keys';
import { exitCodeOf, formatReport, verifyExport, verifyStore } from '../../core/audit/verify';
import { CommandError, storeDir, UsageError } from '../usage';

const HELP = `Usage:
  mcp-flight verify [--store DIR] [--key KEY]... [--json] [--verbose]
  mcp-flight verify FILE [--key KEY]... [--json] [--verbose]
  mcp-flight verify --print-key

Checks the audit trail of a store (every journal line's SHA-256 chain and HMAC, the signed
checkpoints, pruned records, and the copies of the checkpoints kept outside the workspace), or of
an exported session FILE (its chain and signatures, with the Ed25519 public key alone). Lists the
checks it ran and, when something is wrong, the first bad record and why. See docs/audit-trail.md.

Options:
  --store DIR    the store (default: $MCP_FLIGHT_STORE, else ./.mcp-flight); a directory given as
                 FILE is taken as a store too
  --key KEY      also trust this signing key: a fingerprint (sha256:<hex>), a base64 public key,
                 or a file holding one (repeatable). The local key ($MCP_FLIGHT_HOME, default
                 ~/.mcp-flight) is always trusted.
  --json         print the report as JSON
  --verbose      list every finding
  --print-key    print the local signing key's fingerprint and public key (to give to whoever
                 verifies your exports) and exit

Exit status: 0 intact (every check passed, every record sealed by a checkpoint); 1 tampered;
3 not provable (records after the last checkpoint, a key or log missing, a signer not trusted);
2 usage error.`;

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      key: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
      'print-key': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (values['print-key']) {
    const keys = loadAuditKeys({ create: false });
    if (!keys) throw new CommandError(`no audit key yet in ${flightHome()}/keys (it is created by the first recording)`);
    process.stdout.write(`${keys.fingerprint}\nEd25519 public key (base64): ${keys.publicKeyRaw.toString('base64')}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  if (positionals.length && values.store !== undefined) throw new UsageError('give either --store DIR or FILE, not both');
  let trustedKeys: string[];
  try {
    trustedKeys = (values.key ?? []).map(parseTrustedKey);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const target = positionals[0] ?? storeDir(values.store);
  let isDir: boolean;
  try {
    isDir = fs.statSync(target).isDirectory();
  } catch {
    // A store that is gone is still verified: the registry outside the workspace may know it existed (tampered).
    if (positionals.length) throw new CommandError(`${target} does not exist`);
    isDir = true;
  }
  const report = isDir ? verifyStore(target, { trustedKeys }) : verifyExport(target, { trustedKeys });
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(formatReport(report, { verbose: !!values.verbose }) + '\n');
  return exitCodeOf(report);
}
