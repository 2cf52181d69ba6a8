import * as fs from 'node:fs';
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
