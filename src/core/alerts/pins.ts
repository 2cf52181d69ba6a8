import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canonicalize } from '../audit/canonical';
import { flightHome } from '../audit/keys';

/**
 * Tool pinning ("trust on first use"): what a server showed the model the first time — each
 * tool's definition (title, description, input and output schemas, annotations), the server's
 * instructions, and the command that launched it — fingerprinted per configured server name, so
 * a later change (a "rug pull": a harmless tool that turns malicious after approval) is noticed,
 * whether it happens in a later session or within one after `notifications/tools/list_changed`.
 *
 * Fingerprints are of canonical JSON (RFC 8785: key order does not matter), with the tool list
 * sorted by name and `required` lists sorted: a server that merely reorders what it lists does
 * not raise an alert.
 */

export interface ToolPin {
  hash: string;
  /** The canonical definition, kept so a change can be shown as a diff. */
  definition: Record<string, unknown>;
}

export interface ServerPin {
  tools?: Record<string, ToolPin>;
  instructions?: { hash: string; text: string | null };
  launch?: { hash: string; definition: Record<string, unknown> };
  updated_at: string;
}

export interface DefinitionChange {
  /** `tool:<name>`, `instructions` or `launch`. */
  subject: string;
  change: 'added' | 'removed' | 'changed';
  /** For `changed`: which field (description, inputSchema…); `*` for the whole subject. */
  field?: string;
  before?: string;
  after?: string;
}

const FORMAT = 'mcp-flight.pins/v1';
const MAX_SHOWN = 2000;

/** The parts of a tool definition that are pinned, in canonical form. */
export function pinnedTool(tool: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { name: tool.name };
  for (const k of ['title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const) {
    if (tool[k] !== undefined) out[k] = normalise(tool[k], 0);
  }
  return out;
}

/** `required` is a set: its order means nothing. */
function normalise(v: unknown, depth: number): unknown {
  if (depth > 64 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => normalise(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[k] = k === 'required' && Array.isArray(x) && x.every((s) => typeof s === 'string') ? [...(x as string[])].sort() : normalise(x, depth + 1);
  }
  return out;
}

export function hashOf(v: unknown): string {
  return `sha256:${crypto.createHash('sha256').update(canonicalize(v)).digest('hex')}`;
}

export function toolPins(tools: ReadonlyArray<Record<string, unknown>>): Record<string, ToolPin> {
  const out: Record<string, ToolPin> = {};
  const sorted = tools.filter((t) => typeof t.name === 'string').sort((a, b) => ((a.name as string) < (b.name as string) ? -1 : (a.name as string) > (b.name as string) ? 1 : 0));
  for (const t of sorted) {
    const definition = pinnedTool(t);
    out[t.name as string] = { hash: hashOf(definition), definition };
  }
  return out;
}

/** What changed between two pinned tool lists, field by field. */
export function diffTools(before: Record<string, ToolPin>, after: Record<string, ToolPin>): DefinitionChange[] {
  const changes: DefinitionChange[] = [];
  for (const name of Object.keys(before).sort()) {
    if (!(name in after)) changes.push({ subject: `tool:${name}`, change: 'removed', before: shown(before[name]!.definition) });
  }
  for (const name of Object.keys(after).sort()) {
    const b = before[name];
    const a = after[name]!;
    if (!b) {
      changes.push({ subject: `tool:${name}`, change: 'added', after: shown(a.definition) });
      continue;
    }
    if (b.hash === a.hash) continue;
    const fields = new Set([...Object.keys(b.definition), ...Object.keys(a.definition)]);
    for (const f of [...fields].sort()) {
      const x = b.definition[f];
      const y = a.definition[f];
      if (canonicalize(x ?? null) === canonicalize(y ?? null)) continue;
      changes.push({ subject: `tool:${name}`, change: 'changed', field: f, ...(x !== undefined ? { before: shown(x) } : {}), ...(y !== undefined ? { after: shown(y) } : {}) });
    }
  }
  return changes;
}

/** A change as readable lines: `tool "add": description changed`, then `- old` / `+ new`. */
export function formatChanges(changes: DefinitionChange[], max = 20): string {
  const lines: string[] = [];
  for (const c of changes.slice(0, max)) {
    const subject = c.subject.startsWith('tool:') ? `tool "${c.subject.slice(5)}"` : c.subject;
    lines.push(c.change === 'changed' ? `${subject}: ${c.field === '*' || !c.field ? '' : `${c.field} `}changed` : `${subject} ${c.change}`);
    if (c.change === 'changed') {
      if (c.before !== undefined) lines.push(...prefixLines('- ', c.before));
      if (c.after !== undefined) lines.push(...prefixLines('+ ', c.after));
    }
  }
  if (changes.length > max) lines.push(`… and ${changes.length - max} more changes`);
  return lines.join('\n');
}

function prefixLines(prefix: string, text: string): string[] {
  const lines = text.split('\n');
  const kept = lines.slice(0, 12).map((l) => `${prefix}${l}`);
  if (lines.length > 12) kept.push(`${prefix}… (${lines.length - 12} more lines)`);
  return kept;
}

function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : canonicalize(v);
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 1)}…` : s;
}

export function shownText(s: string): string {
  return shown(s);
}

/**
 * Pins of one store, in the user's home (`$MCP_FLIGHT_HOME/pins/<store id>.json`, the folder
 * 0700, the file 0600), not in the workspace: the audited agent can write the workspace (its
 * tools edit files there), so pins kept beside the journal could be rewritten together with a
 * rug pull and nothing would be noticed. Like the audit key, this protects against what the
 * agent can do through the workspace, not against a process of the user that edits the home.
 * Keyed by the store's id so two workspaces that configure the same server name do not share
 * (and fight over) pins.
 */
export class PinStore {
  private data: { format: string; store_id: string; servers: Record<string, ServerPin> };
  /** Why the pins could not be read (then nothing is compared, and nothing is written). */
  readonly problem?: string;

  constructor(
    readonly file: string,
    storeId: string,
  ) {
    this.data = { format: FORMAT, store_id: storeId, servers: {} };
    try {
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { format?: unknown; servers?: unknown };
      if (parsed.format !== FORMAT || typeof parsed.servers !== 'object' || parsed.servers === null) throw new Error(`not a ${FORMAT} file`);
      this.data.servers = parsed.servers as Record<string, ServerPin>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem = `the pins ${file} could not be read (${(err as Error).message}); definitions are compared within this session only`;
    }
  }

  static forStore(storeId: string, home: string = flightHome()): PinStore {
    return new PinStore(path.join(home, 'pins', `${storeId.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`), storeId);
  }

  get(server: string): ServerPin | undefined {
    return Object.prototype.hasOwnProperty.call(this.data.servers, server) ? this.data.servers[server] : undefined;
  }

  set(server: string, update: Partial<Omit<ServerPin, 'updated_at'>>): void {
    const prev = this.get(server);
    this.data.servers[server] = { ...prev, ...update, updated_at: new Date().toISOString() };
    if (this.problem) return; // never overwrite pins we could not read
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(this.data, null, 1) + '\n', { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } catch {
      // Pins are a convenience for the next session; this session keeps comparing in memory.
    }
  }
}
