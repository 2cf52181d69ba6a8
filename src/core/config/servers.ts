import type { ServerTarget } from '../model/records';

/**
 * One configured MCP server, in the shape of a `.vscode/mcp.json` entry (the format the other
 * clients' configs are converted to). Variables such as `${workspaceFolder}` are already resolved.
 */
export type ServerSpec = StdioServerSpec | RemoteServerSpec;

export interface StdioServerSpec {
  name: string;
  type: 'stdio';
  command: string;
  args?: string[];
  /** A `null` value removes the variable from the inherited environment. */
  env?: Record<string, string | number | null>;
  envFile?: string;
  cwd?: string;
  /** Env entries whose value came from a VS Code `${input:…}` (set by the extension when it resolves them). */
  credentialInputs?: string[];
}

export interface RemoteServerSpec {
  name: string;
  /** `http` is Streamable HTTP; `sse` the legacy HTTP+SSE transport. */
  type: 'http' | 'sse';
  url: string;
  headers?: Record<string, string>;
  /** Headers whose value came from a VS Code `${input:…}` (set by the extension when it resolves them). */
  credentialInputs?: string[];
}

/** What the record says about a server: where it runs, and the names (never values) of its env and headers. */
export function targetOf(spec: ServerSpec): ServerTarget {
  if (spec.type === 'stdio') {
    return {
      name: spec.name,
      transport: 'stdio',
      command: spec.command,
      args: spec.args ?? [],
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
      ...(spec.env ? { env_names: Object.keys(spec.env) } : {}),
    };
  }
  return {
    name: spec.name,
    transport: spec.type,
    url: spec.url,
    ...(spec.headers ? { header_names: Object.keys(spec.headers) } : {}),
  };
}

/** Env entries and headers whose configured (unresolved) value holds a `${input:…}`: their mode is `input_secret`. */
export function credentialInputsOf(spec: ServerSpec): string[] {
  const entries = spec.type === 'stdio' ? Object.entries(spec.env ?? {}) : Object.entries(spec.headers ?? {});
  return entries.filter(([, v]) => typeof v === 'string' && /\$\{input:[^}]+\}/.test(v)).map(([k]) => k);
}
