import { applyEdits, modify, parse as parseJsonc, type FormattingOptions } from 'jsonc-parser';

/**
 * Wraps the servers of another client's config (`mcpServers`) in `mcp-flight record`, and
 * unwraps them again. Edits go through jsonc-parser so comments and formatting survive. The
 * wrapped entry carries everything needed to restore the original in its own arguments
 * (`record … -- COMMAND ARGS…` or `record … --url URL --header …`), so unwrapping needs no
 * state besides the file itself — it works even after the extension is gone.
 */

const FORMAT: FormattingOptions = { insertSpaces: true, tabSize: 2, eol: '\n' };

export interface WrapOptions {
  /** The stable launcher path (survives extension upgrades). */
  launcher: string;
  /** The store the wrapped servers record into. */
  store: string;
}

interface Entry {
  type?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
  [k: string]: unknown;
}

export function isWrapped(entry: Entry, launcher?: string): boolean {
  return typeof entry.command === 'string' && (launcher === undefined || entry.command === launcher) && Array.isArray(entry.args) && entry.args[0] === 'record' && entry.args.includes('--mcp-flight-wrapped');
}

/** Returns the new text and the names of the servers it wrapped (already wrapped ones are left alone). */
export function wrapConfig(text: string, options: WrapOptions): { text: string; wrapped: string[] } {
  const servers = serversOf(text);
  let out = text;
  const wrapped: string[] = [];
  for (const [name, entry] of Object.entries(servers)) {
    if (isWrapped(entry)) continue;
    let args: string[];
    if (typeof entry.url === 'string') {
      args = ['record', '--mcp-flight-wrapped', '--store', options.store, '--name', name, '--url', entry.url];
      if (entry.type === 'sse') args.push('--transport', 'sse');
      for (const [k, v] of Object.entries(entry.headers ?? {})) args.push('--header', `${k}: ${v}`);
    } else if (typeof entry.command === 'string') {
      args = ['record', '--mcp-flight-wrapped', '--store', options.store, '--name', name, '--', entry.command, ...(entry.args ?? [])];
    } else {
      continue;
    }
    const replacement: Entry = { ...entry, command: options.launcher, args };
    delete replacement.url;
    delete replacement.headers;
    if (replacement.type !== undefined) replacement.type = 'stdio';
    out = applyEdits(out, modify(out, ['mcpServers', name], replacement, { formattingOptions: FORMAT }));
    wrapped.push(name);
  }
  return { text: out, wrapped };
}

/** Restores every wrapped entry to what it was before wrapping. */
export function unwrapConfig(text: string): { text: string; unwrapped: string[] } {
  const servers = serversOf(text);
  let out = text;
  const unwrapped: string[] = [];
  for (const [name, entry] of Object.entries(servers)) {
    if (!isWrapped(entry)) continue;
    const original = originalOf(entry);
    if (!original) continue;
    out = applyEdits(out, modify(out, ['mcpServers', name], original, { formattingOptions: FORMAT }));
    unwrapped.push(name);
  }
  return { text: out, unwrapped };
}

function originalOf(entry: Entry): Entry | undefined {
  const args = entry.args ?? [];
  const rest: Entry = { ...entry };
  delete rest.command;
  delete rest.args;
  const dashdash = args.indexOf('--');
  if (dashdash !== -1) {
    const [command, ...cmdArgs] = args.slice(dashdash + 1);
    if (command === undefined) return undefined;
    return { ...rest, command, args: cmdArgs };
  }
  const url = valueAfter(args, '--url');
  if (url === undefined) return undefined;
  const headers: Record<string, string> = {};
  args.forEach((a, i) => {
    if (a === '--header' && args[i + 1] !== undefined) {
      const h = args[i + 1]!;
      const c = h.indexOf(':');
      headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
    }
  });
  const transport = valueAfter(args, '--transport');
  const restored: Entry = { ...rest, url, ...(Object.keys(headers).length ? { headers } : {}) };
  if (rest.type !== undefined || transport === 'sse') restored.type = transport === 'sse' ? 'sse' : 'http';
  return restored;
}

function valueAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
}

function serversOf(text: string): Record<string, Entry> {
  const raw = parseJsonc(text) as { mcpServers?: Record<string, Entry> } | undefined;
  return raw?.mcpServers && typeof raw.mcpServers === 'object' ? raw.mcpServers : {};
}
