import * as crypto from 'node:crypto';
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import picomatch from 'picomatch';
import schema from '../../../docs/policy.schema.json';
import type { ErrorClass, RecoveryAction, Reversibility } from '../model/calls';

/**
 * The policy: costs and the per-session spend limit, reversibility/idempotency overrides,
 * declared side effects, denied tools and error-taxonomy overrides — one document for the CLI
 * (`--policy FILE`, the store's approved `policy.json`) and the extension (`mcpFlight.policy`),
 * validated against docs/policy.schema.json and documented in docs/policy.md.
 */

export type { Reversibility };
export type RetrySafeRule = 'always' | 'if_idempotent' | 'never';

export interface ToolRule {
  server: string;
  tool: string;
  costPerCallUsd?: number;
  metered?: boolean;
  reversibility?: Reversibility;
  idempotent?: boolean;
  sideEffects?: string[];
  deny?: boolean;
  reason?: string;
}

export interface ErrorRule {
  code?: number | string;
  messageIncludes?: string;
  server?: string;
  tool?: string;
  class: ErrorClass;
}

export interface ClassFields {
  recoverable?: boolean;
  recoveryAction?: RecoveryAction;
  retrySafe?: RetrySafeRule;
}

export interface PolicyDocument {
  spendLimitUsd?: number;
  tools?: ToolRule[];
  errors?: { rules?: ErrorRule[]; classes?: Partial<Record<ErrorClass, ClassFields>> };
}

/** Where a policy came from. `store` policies apply only once approved (src/core/policy/approval.ts). */
export type PolicySource = 'file' | 'settings' | 'store';

/** A validated policy with its identity: the SHA-256 of the bytes it was read from. */
export interface LoadedPolicy {
  document: PolicyDocument;
  /** Hex SHA-256 of the file's bytes (or of the setting's canonical JSON text). */
  sha256: string;
  source: PolicySource;
  /** The file, for `file` and `store` policies. */
  path?: string;
}

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly origin: string,
    readonly problems: string[],
  ) {
    super(`${origin} is not a valid policy:\n  - ${problems.join('\n  - ')}`);
  }
}

export function sha256Hex(bytes: string | Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

let validator: ReturnType<Ajv2020['compile']> | undefined;

function validate(value: unknown): ErrorObject[] {
  // Compiled on first use: loading ajv's code generator costs nothing until a policy is read.
  validator ??= new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/**
 * Parses and validates a policy's text (JSON; comments and trailing commas are accepted, as in
 * VS Code's own settings files). Throws PolicyError naming every bad entry.
 */
export function parsePolicy(text: string, origin: string): PolicyDocument {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length) {
    throw new PolicyError(
      origin,
      errors.map((e) => `${printParseErrorCode(e.error)} at ${lineCol(text, e.offset)}`),
    );
  }
  return checkPolicy(value, origin);
}

/** Validates an already parsed policy (the extension's setting). Throws PolicyError. */
export function checkPolicy(value: unknown, origin: string): PolicyDocument {
  // propertyNames failures come twice (the name's own error, then a generic one): keep the first.
  const problems = validate(value).filter((e) => e.keyword !== 'propertyNames').map((e) => describe(e, value));
  if (problems.length === 0) {
    // The schema bounds the globs; picomatch still rejects a few shapes the schema cannot see.
    const doc = value as PolicyDocument;
    const globs: Array<[string, string]> = [];
    doc.tools?.forEach((t, i) => globs.push([`tools[${i}].server`, t.server], [`tools[${i}].tool`, t.tool]));
    doc.errors?.rules?.forEach((r, i) => {
      if (r.server !== undefined) globs.push([`errors.rules[${i}].server`, r.server]);
      if (r.tool !== undefined) globs.push([`errors.rules[${i}].tool`, r.tool]);
    });
    for (const [where, glob] of globs) {
      try {
        picomatch(glob, { dot: true });
      } catch (err) {
        problems.push(`${where}: ${JSON.stringify(glob)} is not a valid glob: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length) throw new PolicyError(origin, [...new Set(problems)]);
  return value as PolicyDocument;
}

/** `/tools/2/reversibility` → `tools[2].reversibility`, with the entry named by its server/tool. */
function describe(e: ErrorObject, root: unknown): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let where = '';
  let node: unknown = root;
  let entry = '';
  for (const p of parts) {
    where += /^\d+$/.test(p) ? `[${p}]` : where ? `.${p}` : p;
    node = (node as Record<string, unknown> | undefined)?.[p];
    const n = node as { server?: unknown; tool?: unknown } | undefined;
    if (/^\d+$/.test(p) && n && typeof n === 'object' && (typeof n.server === 'string' || typeof n.tool === 'string')) {
      entry = ` (server ${JSON.stringify(n.server ?? '?')}, tool ${JSON.stringify(n.tool ?? '?')})`;
    }
  }
  const at = (where || 'the policy') + entry;
  if (e.propertyName !== undefined) return `${at}: ${JSON.stringify(e.propertyName)} is not allowed here (must be an error class)`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}: unknown property ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
    case 'required':
      return `${at}: missing ${JSON.stringify((e.params as { missingProperty: string }).missingProperty)}`;
    case 'enum':
      return `${at}: must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).map((v) => JSON.stringify(v)).join(', ')}, not ${JSON.stringify(node)}`;
    case 'anyOf':
      return `${at}: needs "code" or "messageIncludes"`;
    default:
      return `${at}: ${e.message ?? e.keyword}${node !== undefined && typeof node !== 'object' ? ` (got ${JSON.stringify(node)})` : ''}`;
  }
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * A policy's text made safe to show for review: control characters (ANSI escapes could repaint
 * the terminal), bidi controls and invisible characters (they could make the text read other than
 * it parses) are shown as `\u{…}` escapes; newlines and tabs stay.
 */
export function reviewableText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|[\u{e0000}-\u{e007f}]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
