import type { CallError, ErrorClass, RecoveryAction } from '../model/calls';
import { RecorderErrorCode } from '../model/jsonrpc';

/**
 * A first classification of failed calls, from what the wire shows: JSON-RPC error codes,
 * `isError` results, the recorder's own answers (crash, timeout, gate) and HTTP statuses.
 * The rules are a table so they can be read, documented and refined in one place.
 */

interface ClassRule {
  recoverable: boolean;
  recovery_action: RecoveryAction;
  /** Whether repeating the same call is safe when the tool is idempotent or read-only. */
  retryable: boolean;
}

export const ERROR_CLASS_RULES: Record<ErrorClass, ClassRule> = {
  invalid_params: { recoverable: true, recovery_action: 'fix_arguments', retryable: false },
  method_not_found: { recoverable: false, recovery_action: 'manual', retryable: false },
  tool_error: { recoverable: true, recovery_action: 'manual', retryable: false },
  auth_expired: { recoverable: true, recovery_action: 'reauth', retryable: true },
  auth_denied: { recoverable: false, recovery_action: 'manual', retryable: false },
  rate_limited: { recoverable: true, recovery_action: 'retry_with_backoff', retryable: true },
  timeout: { recoverable: true, recovery_action: 'retry_with_backoff', retryable: true },
  cancelled: { recoverable: true, recovery_action: 'retry', retryable: true },
  server_crash: { recoverable: true, recovery_action: 'restart_server', retryable: true },
  transport_error: { recoverable: true, recovery_action: 'retry_with_backoff', retryable: true },
  protocol_violation: { recoverable: false, recovery_action: 'manual', retryable: false },
  spend_limit: { recoverable: false, recovery_action: 'manual', retryable: false },
  policy_denied: { recoverable: false, recovery_action: 'manual', retryable: false },
  internal_error: { recoverable: true, recovery_action: 'retry', retryable: true },
};

export interface FailureFacts {
  /** A JSON-RPC error object from the response. */
  rpcError?: { code?: unknown; message?: unknown; data?: unknown };
  /** A tools/call result with isError: true. */
  isErrorResult?: { text: string };
  answeredByRecorder?: boolean;
  /** The recorder's reason, when it answered (timeout, crash). */
  recorderReason?: 'timeout' | 'server_crash' | 'denied' | 'transport';
  cancelled?: boolean;
  httpStatus?: number;
  /** The tool is read-only or idempotent by its annotations. */
  idempotent: boolean;
}

export function classifyFailure(f: FailureFacts): CallError {
  const { error_class, error_code, message } = classOf(f);
  const rule = ERROR_CLASS_RULES[error_class];
  return { error_class, error_code, message, recoverable: rule.recoverable, recovery_action: rule.recovery_action, retry_safe: rule.retryable && f.idempotent };
}

function classOf(f: FailureFacts): { error_class: ErrorClass; error_code: number | string | null; message: string } {
  if (f.cancelled) return { error_class: 'cancelled', error_code: 'CANCELLED', message: 'cancelled by the requester' };
  if (f.isErrorResult) return { error_class: 'tool_error', error_code: 'TOOL_ERROR', message: f.isErrorResult.text };
  const code = typeof f.rpcError?.code === 'number' ? f.rpcError.code : null;
  const message = typeof f.rpcError?.message === 'string' ? f.rpcError.message : 'request failed';
  if (f.httpStatus !== undefined) {
    const http = httpClass(f.httpStatus);
    if (http) return { error_class: http, error_code: f.httpStatus, message };
  }
  if (f.answeredByRecorder) {
    if (f.recorderReason === 'timeout') return { error_class: 'timeout', error_code: code, message };
    if (f.recorderReason === 'denied') return { error_class: 'policy_denied', error_code: code, message };
    if (f.recorderReason === 'server_crash') return { error_class: 'server_crash', error_code: code, message };
    return { error_class: 'transport_error', error_code: code, message };
  }
  switch (code) {
    case -32602:
      return { error_class: 'invalid_params', error_code: code, message };
    case -32601:
      return { error_class: 'method_not_found', error_code: code, message };
    case -32600:
    case -32700:
      return { error_class: 'protocol_violation', error_code: code, message };
    case RecorderErrorCode.RequestTimeout:
      return { error_class: 'timeout', error_code: code, message };
    case -32603:
      return { error_class: 'internal_error', error_code: code, message };
    default:
      return { error_class: code === null ? 'protocol_violation' : 'internal_error', error_code: code, message };
  }
}

function httpClass(status: number): ErrorClass | undefined {
  if (status === 401) return 'auth_expired';
  if (status === 403) return 'auth_denied';
  if (status === 429) return 'rate_limited';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 500) return 'transport_error';
  return undefined;
}
