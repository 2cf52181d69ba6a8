import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import type { ServerSpec } from './servers';

/**
 * The MCP configurations of other clients — Claude Code `.mcp.json`, Cursor `.cursor/mcp.json`
 * and Claude Desktop's `claude_desktop_config.json` — read into our server specs, each with its
 * own variable syntax, so they can be imported or wrapped in `mcp-flight record`.
 */

export type OtherClient = 'claude-code' | 'cursor' | 'claude-desktop';

export interface OtherClientConfig {
  client: OtherClient;
  file: string;
  servers: ServerSpec[];
  problems: string[];
}

/** Where each client keeps its configuration, for a workspace folder (project-level) and the user. */
export function otherClientConfigFiles(workspaceFolder: string | undefined, platform: NodeJS.Platform = process.platform, home = os.homedir(), env: NodeJS.ProcessEnv = process.env): Array<{ client: OtherClient; file: string }> {
  const files: Array<{ client: OtherClient; file: string }> = [];
  if (workspaceFolder) {
    files.push({ client: 'claude-code', file: path.join(workspaceFolder, '.mcp.json') });
    files.push({ client: 'cursor', file: path.join(workspaceFolder, '.cursor', 'mcp.json') });
  }
  files.push({ client: 'cursor', file: path.join(home, '.cursor', 'mcp.json') });
  files.push({ client: 'claude-desktop', file: claudeDesktopConfig(platform, home, env) });
  return files;
}

export function claudeDesktopConfig(platform: NodeJS.Platform, home: string, env: NodeJS.ProcessEnv): string {
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Claude', 'claude_desktop_config.json');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'Claude', 'claude_desktop_config.json');
}

export function readOtherClientConfig(client: OtherClient, file: string, ctx: { workspaceFolder?: string; env?: NodeJS.ProcessEnv; home?: string } = {}): OtherClientConfig | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseOtherClientConfig(client, file, text, ctx);
}

export function parseOtherClientConfig(client: OtherClient, file: string, text: string, ctx: { workspaceFolder?: string; env?: NodeJS.ProcessEnv; home?: string } = {}): OtherClientConfig {
  const result: OtherClientConfig = { client, file, servers: [], problems: [] };
  const raw = parseJsonc(text) as { mcpServers?: unknown } | undefined;
  const map = raw?.mcpServers;
  if (typeof map !== 'object' || map === null) {
    result.problems.push(`${file}: no "mcpServers" object`);
    return result;
  }
  const expand = expander(client, ctx);
  for (const [name, value] of Object.entries(map as Record<string, unknown>)) {
    const e = value as Record<string, unknown>;
    try {
      if (typeof e.url === 'string') {
        const type = e.type === 'sse' ? 'sse' : 'http';
        const headers = isStringMap(e.headers) ? mapValues(e.headers, expand) : undefined;
        result.servers.push({ name, type, url: expand(e.url), ...(headers ? { headers } : {}) });
      } else if (typeof e.command === 'string') {
        const env = isStringMap(e.env) ? mapValues(e.env, expand) : undefined;
        result.servers.push({
          name,
          type: 'stdio',
          command: expand(e.command),
          args: Array.isArray(e.args) ? e.args.map((a) => expand(String(a))) : [],
          ...(env ? { env } : {}),
          ...(typeof e.cwd === 'string' ? { cwd: expand(e.cwd) } : {}),
          ...(typeof e.envFile === 'string' ? { envFile: expand(e.envFile) } : {}),
        });
      } else {
        result.problems.push(`${name}: neither "command" nor "url"`);
      }
    } catch (err) {
      result.problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  return result;
}

/** Each client's own variable syntax. */
function expander(client: OtherClient, ctx: { workspaceFolder?: string; env?: NodeJS.ProcessEnv; home?: string }): (s: string) => string {
  const env = ctx.env ?? process.env;
  const home = ctx.home ?? os.homedir();
  if (client === 'claude-code') {
    // Claude Code: ${VAR} and ${VAR:-default}.
    return (s) => s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def: string | undefined) => env[name] ?? def ?? '');
  }
  if (client === 'cursor') {
    // Cursor: ${env:NAME}, ${userHome}, ${workspaceFolder}.
    return (s) =>
      s.replace(/\$\{(env:([^}]+)|userHome|workspaceFolder)\}/g, (m, _all: string, envName: string | undefined) => {
        if (envName !== undefined) return env[envName] ?? '';
        if (m === '${userHome}') return home;
        return ctx.workspaceFolder ?? m;
      });
  }
  return (s) => s; // Claude Desktop does no expansion.
}

function isStringMap(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

function mapValues(rec: Record<string, string>, f: (s: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, f(v)]));
}
