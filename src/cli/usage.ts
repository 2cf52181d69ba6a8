/** A mistake in how the command was called: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command was right but could not do its job (missing store, unknown session): exit code 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}

export const DEFAULT_STORE_ENV = 'MCP_FLIGHT_STORE';

/** `--store DIR`, else $MCP_FLIGHT_STORE, else `.mcp-flight` in the current folder. */
export function storeDir(flag: string | undefined): string {
  return flag ?? process.env[DEFAULT_STORE_ENV] ?? '.mcp-flight';
}

export const GLOBAL_HELP = `mcp-flight — records every message between MCP clients and MCP servers.

Usage:
  mcp-flight record  [--store DIR] [--name NAME] [--policy FILE] [--watch DIR]... -- COMMAND [ARGS...]
  mcp-flight record  [--store DIR] [--name NAME] [--policy FILE] --url URL [--header "K: V"]... [--transport http|sse]
  mcp-flight serve   [--store DIR] [--port N] [--config FILE] [--policy FILE]
  mcp-flight sessions [--store DIR] [--json]
  mcp-flight export  [--store DIR] [--session ID|latest] [--format json|jsonl|otlp] [--out FILE] [--policy FILE]
  mcp-flight summary [--store DIR] [--session ID|latest] [--json] [--policy FILE]
  mcp-flight plan    [--store DIR] [SESSION] [--json]
  mcp-flight verify  [--store DIR | FILE] [--key KEY]... [--json]
  mcp-flight diff    [--store DIR] [--json] SESSION_A SESSION_B | SESSION_A:CALL_A SESSION_B:CALL_B
  mcp-flight policy  show|check|approve|revoke [--store DIR] [--policy FILE]

record and serve push spans live to an OpenTelemetry collector with --otlp-endpoint URL.
The store defaults to $MCP_FLIGHT_STORE, else ./.mcp-flight.
Run "mcp-flight COMMAND --help" for a command's options.`;
