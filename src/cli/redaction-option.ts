import * as fs from 'node:fs';
import { extensionRedactionFile } from '../core/audit/redaction-file';
import { checkRedactionSettings, isDefaultRedaction, redactorWithSettings } from '../core/audit/redaction-settings';
import type { Redactor } from '../core/audit/redaction';
import { CommandError, UsageError } from './usage';

/**
 * `--redaction FILE`: extra patterns and allow-lists for `record` and `serve`, in the shape of the
 * extension's settings (`{"extraPatterns":[{"kind","regex"}],"allowKeys":[…],"allowValues":[…]}`).
 * A file with any refused entry stops the command before it records anything (exit 2, every
 * problem listed): recording without a pattern the user asked for could store the secret it was for.
 */
export function redactorFromFile(file: string | undefined): Redactor | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`cannot read --redaction ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--redaction ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const { options, errors } = checkRedactionSettings(raw as Record<string, unknown>, file);
  if (errors.length) throw new UsageError(`--redaction ${file}: ${errors.length} invalid ${errors.length === 1 ? 'entry' : 'entries'}:\n  ${errors.join('\n  ')}`);
  return isDefaultRedaction(options) ? undefined : redactorWithSettings(options);
}

/**
 * A recorder the extension wrapped around another client's server (`--mcp-flight-wrapped`) uses
 * the redaction settings the user set in VS Code (mirrored to `$MCP_FLIGHT_HOME/vscode-redaction.json`).
 * Nobody is at a terminal to fix a bad entry, and the client would only see its server fail: refused
 * entries are named on stderr and the valid ones apply.
 */
export function redactorFromExtensionSettings(warn: (message: string) => void): Redactor | undefined {
  const file = extensionRedactionFile();
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`ignoring ${file}: ${(err as Error).message}`);
    return undefined;
  }
  const { options, errors } = checkRedactionSettings(raw as Record<string, unknown>, file);
  for (const e of errors) warn(e);
  return isDefaultRedaction(options) ? undefined : redactorWithSettings(options);
}
