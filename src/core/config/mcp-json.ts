import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { ServerSpec } from './servers';

/**
 * Reads MCP server configurations in the `.vscode/mcp.json` format (`servers`, `inputs`, JSONC
 * with comments) and, for convenience, the `mcpServers` map other clients use. Predefined
 * variables are resolved here; `${input:…}` values come from the caller, because only the host
 * (VS Code's SecretStorage, the CLI's environment) knows them.
 */

export interface InputDefinition {
  id: string;
  type?: string;
  description?: string;
  password?: boolean;
}

export interface McpConfig {
  servers: ServerSpec[];
  inputs: InputDefinition[];
  /** Entries that could not be used, with why — shown to the user, never silently dropped. */
  problems: string[];
}

export interface VariableContext {
  workspaceFolder?: string;
  userHome?: string;
  env?: NodeJS.ProcessEnv;
  /** Returns the value of `${input:id}`, or undefined when it is not available. */
  input?: (id: string) => string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseMcpConfig(text: string, source: string, ctx: VariableContext = {}): McpConfig {
  const errors: ParseError[] = [];
  const raw = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false }) as unknown;
  if (errors.length) {
    const e = errors[0]!;
    throw new ConfigError(`${source}: ${printParseErrorCode(e.error)} at offset ${e.offset}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(`${source}: expected a JSON object`);
  const obj = raw as { servers?: unknown; mcpServers?: unknown; inputs?: unknown };
  const map = (obj.servers ?? obj.mcpServers) as Record<string, unknown> | undefined;
  const config: McpConfig = { servers: [], inputs: Array.isArray(obj.inputs) ? (obj.inputs as InputDefinition[]) : [], problems: [] };
  if (map === undefined) return config;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new ConfigError(`${source}: "servers" must be an object`);
  for (const [name, entry] of Object.entries(map)) {
    try {
      config.servers.push(resolveVariables(toSpec(name, entry), ctx));
    } catch (err) {
      config.problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  return config;
}

function toSpec(name: string, entry: unknown): ServerSpec {
  if (typeof entry !== 'object' || entry === null) throw new ConfigError('not an object');
  const e = entry as Record<string, unknown>;
  const type = typeof e.type === 'string' ? e.type : typeof e.url === 'string' ? 'http' : 'stdio';
  if (type === 'stdio') {
    if (typeof e.command !== 'string' || !e.command) throw new ConfigError('stdio server without "command"');
    return {
      name,
      type: 'stdio',
      command: e.command,
      args: Array.isArray(e.args) ? e.args.map(String) : [],
      ...(isRecord(e.env) ? { env: e.env as Record<string, string | number | null> } : {}),
      ...(typeof e.envFile === 'string' ? { envFile: e.envFile } : {}),
      ...(typeof e.cwd === 'string' ? { cwd: e.cwd } : {}),
    };
  }
  if (type === 'http' || type === 'sse' || type === 'streamable-http' || type === 'streamableHttp') {
    if (typeof e.url !== 'string' || !e.url) throw new ConfigError(`${type} server without "url"`);
    return { name, type: type === 'sse' ? 'sse' : 'http', url: e.url, ...(isRecord(e.headers) ? { headers: e.headers as Record<string, string> } : {}) };
  }
  throw new ConfigError(`unknown server type "${type}"`);
}

const VARIABLE = /\$\{([^}]+)\}/g;

export function resolveVariables(spec: ServerSpec, ctx: VariableContext): ServerSpec {
  const env = ctx.env ?? process.env;
  const sub = (value: string): string =>
    value.replace(VARIABLE, (match, name: string) => {
      if (name === 'workspaceFolder' || name === 'workspaceRoot') return need(ctx.workspaceFolder, match);
      if (name === 'workspaceFolderBasename') return path.basename(need(ctx.workspaceFolder, match));
      if (name === 'userHome') return ctx.userHome ?? os.homedir();
      if (name === 'pathSeparator' || name === '/') return path.sep;
      if (name.startsWith('env:')) return env[name.slice(4)] ?? '';
      if (name.startsWith('input:')) {
        const v = ctx.input?.(name.slice(6));
        if (v === undefined) throw new ConfigError(`no value for ${match}`);
        return v;
      }
      return match;
    });
  const mapValues = <T>(rec: Record<string, T> | undefined): Record<string, T> | undefined =>
    rec && Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, (typeof v === 'string' ? sub(v) : v) as T]));
  if (spec.type === 'stdio') {
    return { ...spec, command: sub(spec.command), args: spec.args?.map(sub), ...(spec.env ? { env: mapValues(spec.env) } : {}), ...(spec.envFile ? { envFile: sub(spec.envFile) } : {}), ...(spec.cwd ? { cwd: sub(spec.cwd) } : {}) };
  }
  return { ...spec, url: sub(spec.url), ...(spec.headers ? { headers: mapValues(spec.headers) } : {}) };
}

function need(value: string | undefined, variable: string): string {
  if (value === undefined) throw new ConfigError(`${variable} is not defined here`);
  return value;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
