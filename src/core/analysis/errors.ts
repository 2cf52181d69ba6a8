import type { CallError, ErrorClass, RecoveryAction } from '../model/calls';
import { RecorderErrorCode } from '../model/jsonrpc';
import type { RetrySafeRule } from '../policy/policy';
import type { PolicyRules } from '../policy/rules';

/**
 * The error taxonomy: every failed call gets a class, a code, and what to do about it, from what
 * the wire shows — JSON-RPC error codes, `isError` results, HTTP statuses seen on the way to a
 * remote server, the recorder's own answers (timeout, crash, gate refusals), cancellations, and
 * the stable string codes servers put in error data or text (`TOKEN_REVOKED`, `RATE_LIMITED`).
 *
 * The rules are data — the tables below, in the order classOf consults them — and a policy can
 * add rules in front of them (`errors.rules`) and replace a class's recovery fields
 * (`errors.classes`). docs/error-taxonomy.md is the same table in prose; a unit test keeps the
 * two in step.
 */

export interface ClassRule {
  recoverable: boolean;
  recovery_action: RecoveryAction;
  /**
   * Whether repeating the same call (once the recovery action is done) cannot apply its effect
   * twice: `always` — the call was refused before the tool ran; `if_idempotent` — it may have
   * run, so only an idempotent (or read-only) tool is safe to repeat; `never` — the same call
   * would fail the same way.
   */
  retry: RetrySafeRule;
}

export const ERROR_CLASS_RULES: Record<ErrorClass, ClassRule> = {
  invalid_params: { recoverable: true, recovery_action: 'fix_arguments', retry: 'never' },
  method_not_found: { recoverable: false, recovery_action: 'manual', retry: 'never' },
  tool_error: { recoverable: true, recovery_action: 'manual', retry: 'if_idempotent' },
  auth_expired: { recoverable: true, recovery_action: 'reauth', retry: 'always' },
  auth_denied: { recoverable: false, recovery_action: 'manual', retry: 'always' },
  rate_limited: { recoverable: true, recovery_action: 'retry_with_backoff', retry: 'always' },
  timeout: { recoverable: true, recovery_action: 'retry_with_backoff', retry: 'if_idempotent' },
  cancelled: { recoverable: true, recovery_action: 'retry', retry: 'if_idempotent' },
  server_crash: { recoverable: true, recovery_action: 'restart_server', retry: 'if_idempotent' },
  transport_error: { recoverable: true, recovery_action: 'retry_with_backoff', retry: 'if_idempotent' },
  protocol_violation: { recoverable: false, recovery_action: 'manual', retry: 'never' },
  spend_limit: { recoverable: false, recovery_action: 'manual', retry: 'always' },
  policy_denied: { recoverable: false, recovery_action: 'manual', retry: 'always' },
  internal_error: { recoverable: true, recovery_action: 'retry', retry: 'if_idempotent' },
};

/** HTTP statuses from the remote server (reverse proxy or remote downstream), exact first, then ranges. */
export const HTTP_STATUS_CLASSES: ReadonlyArray<{ status: number | [number, number]; class: ErrorClass }> = [
  { status: 400, class: 'protocol_violation' },
  { status: 401, class: 'auth_expired' },
  { status: 403, class: 'auth_denied' },
  { status: 404, class: 'transport_error' },
  { status: 408, class: 'timeout' },
  { status: 413, class: 'protocol_violation' },
  { status: 429, class: 'rate_limited' },
  { status: 500, class: 'internal_error' },
  { status: 504, class: 'timeout' },
  { status: [500, 599], class: 'transport_error' },
];

/**
 * Stable string codes, as servers put them in `error.data.code` (or `error`, `error_code`,
 * `type`, `reason`, `status`), in an isError result's `structuredContent`/`_meta`, or as an
 * UPPER_SNAKE word of the message. Compared in upper case. Sources: OAuth 2.0 / RFC 6750 error
 * codes, gRPC status names, and the spellings common REST APIs use.
 */
export const STRING_CODE_CLASSES: Readonly<Record<string, ErrorClass>> = {
  TOKEN_REVOKED: 'auth_expired',
  TOKEN_EXPIRED: 'auth_expired',
  INVALID_TOKEN: 'auth_expired',
  EXPIRED_TOKEN: 'auth_expired',
  INVALID_GRANT: 'auth_expired',
  UNAUTHENTICATED: 'auth_expired',
  UNAUTHORIZED: 'auth_expired',
  AUTH_REQUIRED: 'auth_expired',
  INSUFFICIENT_SCOPE: 'auth_denied',
  PERMISSION_DENIED: 'auth_denied',
  ACCESS_DENIED: 'auth_denied',
  FORBIDDEN: 'auth_denied',
  RATE_LIMITED: 'rate_limited',
  RATE_LIMIT_EXCEEDED: 'rate_limited',
  TOO_MANY_REQUESTS: 'rate_limited',
  RESOURCE_EXHAUSTED: 'rate_limited',
  QUOTA_EXCEEDED: 'rate_limited',
  THROTTLED: 'rate_limited',
  DEADLINE_EXCEEDED: 'timeout',
  TIMEOUT: 'timeout',
  ETIMEDOUT: 'timeout',
  ECONNREFUSED: 'transport_error',
  ECONNRESET: 'transport_error',
  EPIPE: 'transport_error',
  UNAVAILABLE: 'transport_error',
  INVALID_ARGUMENT: 'invalid_params',
  INVALID_PARAMS: 'invalid_params',
  VALIDATION_ERROR: 'invalid_params',
  CANCELLED: 'cancelled',
  SPEND_LIMIT: 'spend_limit',
  POLICY_DENIED: 'policy_denied',
};

/**
 * JSON-RPC codes. `weak` codes say little ("internal error", the implementation-defined server
 * range): a message pattern may refine them before they decide.
 */
export const JSONRPC_CODE_CLASSES: Readonly<Record<number, { class: ErrorClass; weak?: true }>> = {
  [-32700]: { class: 'protocol_violation' },
  [-32600]: { class: 'protocol_violation' },
  [-32601]: { class: 'method_not_found' },
  [-32602]: { class: 'invalid_params' },
  [-32603]: { class: 'internal_error', weak: true },
  [RecorderErrorCode.RequestTimeout]: { class: 'timeout' },
  [RecorderErrorCode.ConnectionClosed]: { class: 'transport_error', weak: true },
  // MCP: resource not found (the server ran and answered).
  [-32002]: { class: 'tool_error' },
};

/**
 * Message patterns, checked on the first 2,000 characters of an error message or isError text.
 * Each is linear (no nested quantifiers), so hostile text cannot make matching slow.
 */
export const MESSAGE_PATTERNS: ReadonlyArray<{ pattern: RegExp; class: ErrorClass; code: string }> = [
  { pattern: /\b(?:rate[ -]?limit(?:ed)?|too many requests|quota exceeded|throttl(?:ed|ing))\b/i, class: 'rate_limited', code: 'RATE_LIMITED' },
  { pattern: /\b(?:token|credentials?|session|api key)\b[^.\n]{0,40}\b(?:expired|revoked)\b/i, class: 'auth_expired', code: 'TOKEN_EXPIRED' },
  { pattern: /\b(?:bad credentials|invalid[_ ]token|unauthori[sz]ed|unauthenticated|authentication required)\b/i, class: 'auth_expired', code: 'UNAUTHENTICATED' },
  { pattern: /\b(?:forbidden|insufficient[_ ]scope|not authori[sz]ed to)\b/i, class: 'auth_denied', code: 'PERMISSION_DENIED' },
  { pattern: /\b(?:timed? ?out|deadline exceeded)\b/i, class: 'timeout', code: 'TIMEOUT' },
  { pattern: /\b(?:ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|socket hang up)\b/, class: 'transport_error', code: 'CONNECTION_FAILED' },
  // The SDK's servers answer params that fail their schema with -32603 and the zod issues as text.
  { pattern: /\b(?:invalid_type|invalid input|input validation error|invalid arguments?)\b/i, class: 'invalid_params', code: 'INVALID_PARAMS' },
];

/** `MCP error -32602: …`: the SDK's text for a JSON-RPC error a server turned into an isError result. */
const EMBEDDED_JSONRPC_CODE = /\bMCP error (-32\d{3})\b/;
const UPPER_SNAKE = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b(?:UNAUTHENTICATED|UNAUTHORIZED|FORBIDDEN|THROTTLED|TIMEOUT|ETIMEDOUT|ECONNREFUSED|ECONNRESET|EPIPE|UNAVAILABLE|CANCELLED)\b/g;
const DATA_CODE_KEYS = ['code', 'error_code', 'errorCode', 'error', 'type', 'reason', 'status'] as const;
const PATTERN_CHARS = 2000;

export interface FailureFacts {
  /** A JSON-RPC error object from the response. */
  rpcError?: { code?: unknown; message?: unknown; data?: unknown };
  /** A tools/call result with isError: true: its text, and where servers put machine-readable codes. */
  isErrorResult?: { text: string; structured?: unknown; meta?: unknown };
  answeredByRecorder?: boolean;
  /** The recorder's reason, when it answered. */
  recorderReason?: 'timeout' | 'server_crash' | 'denied' | 'transport';
  cancelled?: boolean;
  /** The HTTP status of the exchange that failed (remote servers). */
  httpStatus?: number;
  /** The tool is idempotent (its `idempotent` tag: annotations, policy override or default). */
  idempotent: boolean;
  /** For policy rules scoped by server or tool. */
  server?: string;
  tool?: string;
}

export function classifyFailure(f: FailureFacts, rules?: PolicyRules): CallError {
  const { error_class, error_code, message } = classOf(f, rules);
  const rule = classRule(error_class, rules);
  const retry_safe = rule.retry === 'always' || (rule.retry === 'if_idempotent' && f.idempotent);
  return { error_class, error_code, message, recoverable: rule.recoverable, recovery_action: rule.recovery_action, retry_safe };
}

/** The recovery fields of a class: the built-in row, with the policy's replacements. */
export function classRule(cls: ErrorClass, rules?: PolicyRules): ClassRule {
  const base = ERROR_CLASS_RULES[cls];
  const o = rules?.classFields[cls];
  if (!o) return base;
  return { recoverable: o.recoverable ?? base.recoverable, recovery_action: o.recoveryAction ?? base.recovery_action, retry: o.retrySafe ?? base.retry };
}

type Classified = { error_class: ErrorClass; error_code: number | string | null; message: string };

function classOf(f: FailureFacts, rules: PolicyRules | undefined): Classified {
  if (f.cancelled) return { error_class: 'cancelled', error_code: 'CANCELLED', message: 'cancelled by the requester' };
  const rpcCode = typeof f.rpcError?.code === 'number' ? f.rpcError.code : null;
  const message = f.isErrorResult ? f.isErrorResult.text : typeof f.rpcError?.message === 'string' ? f.rpcError.message : 'request failed';
  const stringCodes = collectStringCodes(f);

  // The recorder's own answers are facts about what it did, not evidence to interpret.
  if (f.answeredByRecorder) {
    if (stringCodes.includes('SPEND_LIMIT')) return { error_class: 'spend_limit', error_code: 'SPEND_LIMIT', message };
    if (f.recorderReason === 'denied') return { error_class: 'policy_denied', error_code: stringCodes.includes('POLICY_DENIED') ? 'POLICY_DENIED' : rpcCode, message };
    if (f.recorderReason === 'timeout') return { error_class: 'timeout', error_code: rpcCode, message };
    if (f.recorderReason === 'server_crash') return { error_class: 'server_crash', error_code: rpcCode, message };
  }

  const user = rules && userRule(rules, f, rpcCode, stringCodes, message);
  if (user) return user;

  if (f.httpStatus !== undefined) {
    const cls = httpClass(f.httpStatus);
    if (cls) return { error_class: cls, error_code: f.httpStatus, message };
  }
  for (const c of stringCodes) {
    const cls = STRING_CODE_CLASSES[c];
    if (cls) return { error_class: cls, error_code: c, message };
  }
  const embedded = f.isErrorResult ? EMBEDDED_JSONRPC_CODE.exec(message.slice(0, PATTERN_CHARS)) : null;
  const code = rpcCode ?? (embedded ? Number(embedded[1]) : null);
  const byCode = code !== null ? JSONRPC_CODE_CLASSES[code] : undefined;
  if (byCode && !byCode.weak) return { error_class: byCode.class, error_code: code, message };
  const head = message.slice(0, PATTERN_CHARS);
  for (const p of MESSAGE_PATTERNS) {
    if (p.pattern.test(head)) return { error_class: p.class, error_code: code ?? p.code, message };
  }
  if (f.isErrorResult) return { error_class: 'tool_error', error_code: code ?? 'TOOL_ERROR', message };
  if (byCode) return { error_class: byCode.class, error_code: code, message };
  if (f.answeredByRecorder) return { error_class: 'transport_error', error_code: code, message };
  return { error_class: code === null ? 'protocol_violation' : 'internal_error', error_code: code, message };
}

function userRule(rules: PolicyRules, f: FailureFacts, rpcCode: number | null, stringCodes: string[], message: string): Classified | undefined {
  if (rules.errorRules.length === 0) return undefined;
  let lower: string | undefined;
  for (const r of rules.errorRules) {
    if (r.server && !r.server(f.server ?? '')) continue;
    if (r.tool && !r.tool(f.tool ?? '')) continue;
    let code: number | string | null = null;
    if (r.code !== undefined) {
      if (typeof r.code === 'number') {
        if (r.code === rpcCode || r.code === f.httpStatus) code = r.code;
        else continue;
      } else if (stringCodes.includes(r.code)) code = r.code;
      else continue;
    }
    if (r.messageIncludes !== undefined) {
      lower ??= message.slice(0, PATTERN_CHARS * 4).toLowerCase();
      if (!lower.includes(r.messageIncludes)) continue;
    }
    return { error_class: r.class, error_code: code ?? f.httpStatus ?? rpcCode ?? stringCodes[0] ?? null, message };
  }
  return undefined;
}

/** Stable string codes the failure carries, upper-cased, most explicit first. */
function collectStringCodes(f: FailureFacts): string[] {
  const out: string[] = [];
  const fromObject = (o: unknown) => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return;
    for (const k of DATA_CODE_KEYS) {
      const v = (o as Record<string, unknown>)[k];
      if (typeof v === 'string' && v.length <= 64 && /^[A-Za-z][A-Za-z0-9_.-]*$/.test(v)) out.push(v.toUpperCase().replace(/[.-]/g, '_'));
      else if (typeof v === 'object' && v !== null && k === 'error') fromObject(v);
    }
  };
  fromObject(f.rpcError?.data);
  fromObject(f.isErrorResult?.structured);
  fromObject(f.isErrorResult?.meta);
  const text = f.isErrorResult?.text ?? (typeof f.rpcError?.message === 'string' ? f.rpcError.message : '');
  for (const m of text.slice(0, PATTERN_CHARS).matchAll(UPPER_SNAKE)) if (STRING_CODE_CLASSES[m[0]]) out.push(m[0]);
  return out;
}

export function httpClass(status: number): ErrorClass | undefined {
  for (const r of HTTP_STATUS_CLASSES) {
    if (typeof r.status === 'number' ? r.status === status : status >= r.status[0] && status <= r.status[1]) return r.class;
  }
  return undefined;
}
