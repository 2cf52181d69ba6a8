import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Validation of session exports against docs/export-format.schema.json (JSON Schema 2020-12),
 * so every export a test produces is checked against the documented format.
 */

/** Found by walking up from here: this helper also runs bundled (dist-test/) inside VS Code. */
export const EXPORT_SCHEMA_FILE = findUp(path.join('docs', 'export-format.schema.json'));

function findUp(relative: string): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return path.join(__dirname, '..', '..', relative);
  }
}

let compiled: { document: ValidateFunction; line: ValidateFunction; root: ValidateFunction } | undefined;

function validators(): NonNullable<typeof compiled> {
  if (compiled) return compiled;
  const schema = JSON.parse(fs.readFileSync(EXPORT_SCHEMA_FILE, 'utf8')) as { $id: string };
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addSchema(schema);
  const get = (ref: string): ValidateFunction => {
    const v = ajv.getSchema(ref);
    if (!v) throw new Error(`schema ${ref} not found`);
    return v;
  };
  compiled = { document: get(`${schema.$id}#/$defs/session_document`), line: get(`${schema.$id}#/$defs/jsonl_line`), root: get(schema.$id) };
  return compiled;
}

function describeErrors(errors: ErrorObject[] | null | undefined, max = 8): string {
  return (errors ?? [])
    .slice(0, max)
    .map((e) => `  ${e.instancePath || '/'} ${e.message ?? ''}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('\n');
}

/** Validates a parsed JSON export document; throws with the schema's complaints. */
export function assertValidJsonDocument(doc: unknown): void {
  const v = validators();
  if (!v.document(doc)) throw new Error(`JSON export does not match docs/export-format.schema.json:\n${describeErrors(v.document.errors)}`);
  if (!v.root(doc)) throw new Error(`JSON export does not match the schema's root:\n${describeErrors(v.root.errors)}`);
}

/** Parses and validates a JSON export as text. Returns the parsed document. */
export function assertValidJsonExport(text: string): Record<string, unknown> {
  const doc = JSON.parse(text) as Record<string, unknown>;
  assertValidJsonDocument(doc);
  return doc;
}

/** Validates one parsed JSONL line. */
export function assertValidJsonlLine(line: unknown, lineNo = 0): void {
  const v = validators();
  if (!v.line(line)) {
    const kind = (line as { kind?: unknown; type?: unknown } | null)?.kind;
    throw new Error(`JSONL line ${lineNo} (kind ${String(kind)}) does not match docs/export-format.schema.json#/$defs/jsonl_line:\n${describeErrors(v.line.errors)}`);
  }
  if (!v.root(line)) throw new Error(`JSONL line ${lineNo} does not match the schema's root:\n${describeErrors(v.root.errors)}`);
}

/**
 * Parses and validates a whole JSONL export: every line against the schema, plus the line order
 * the format promises (session first, summary last, connections just before it). Returns the lines.
 */
export function assertValidJsonlExport(text: string): Array<Record<string, unknown>> {
  if (!text.endsWith('\n')) throw new Error('JSONL export must end with a newline');
  const lines = text.slice(0, -1).split('\n').map((l, i) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`JSONL line ${i + 1} is not JSON: ${(err as Error).message}`);
    }
  });
  lines.forEach((l, i) => assertValidJsonlLine(l, i + 1));
  const kinds = lines.map((l) => l.kind as string);
  const order = ['session', 'body', 'connection', 'summary'];
  let at = 0;
  kinds.forEach((k, i) => {
    const rank = order.indexOf(k === 'event' || k === 'call' || k === 'alert' ? 'body' : k);
    if (rank < at) throw new Error(`JSONL line ${i + 1}: a ${k} line after a later section`);
    at = rank;
  });
  if (kinds[0] !== 'session' || kinds.filter((k) => k === 'session').length !== 1) throw new Error('JSONL export must start with exactly one session line');
  if (kinds[kinds.length - 1] !== 'summary' || kinds.filter((k) => k === 'summary').length !== 1) throw new Error('JSONL export must end with exactly one summary line');
  return lines;
}
