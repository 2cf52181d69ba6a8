import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';

/** Validation of `mcp-flight diff --json` reports against docs/diff.schema.json (JSON Schema 2020-12). */

export const DIFF_SCHEMA_FILE = path.join(__dirname, '..', '..', 'docs', 'diff.schema.json');

let validate: ValidateFunction | undefined;

export function assertValidDiffReport(report: unknown): void {
  if (!validate) {
    const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    validate = ajv.compile(JSON.parse(fs.readFileSync(DIFF_SCHEMA_FILE, 'utf8')) as object);
  }
  if (!validate(report)) {
    const errors = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
    throw new Error(`diff report does not match docs/diff.schema.json:\n  ${errors.join('\n  ')}`);
  }
}
