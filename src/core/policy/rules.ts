import picomatch from 'picomatch';
import type { ErrorClass } from '../model/calls';
import type { ClassFields, PolicyDocument, Reversibility } from './policy';

/**
 * A policy compiled for lookups: globs compiled once, and what applies to a (server, tool) pair
 * resolved once and cached, so the recorder's hot path pays one Map lookup per call.
 */

/** What the policy says about one server/tool: for each field, the first matching entry that sets it. */
export interface ToolPolicy {
  costPerCallUsd?: number;
  /** Counted against the spend limit: a fixed cost above zero, or `metered: true`. */
  metered: boolean;
  reversibility?: Reversibility;
  idempotent?: boolean;
  sideEffects?: string[];
  deny?: { reason?: string };
  /** Indexes of the `tools` entries that matched, in order. */
  entries: number[];
}

export interface CompiledErrorRule {
  code?: number | string;
  messageIncludes?: string;
  server?: (name: string) => boolean;
  tool?: (name: string) => boolean;
  class: ErrorClass;
}

const NO_RULES: ToolPolicy = Object.freeze({ metered: false, entries: [] as number[] }) as ToolPolicy;
const MAX_CACHE = 10_000;

export class PolicyRules {
  readonly spendLimitUsd?: number;
  readonly errorRules: CompiledErrorRule[];
  readonly classFields: Partial<Record<ErrorClass, ClassFields>>;
  private readonly tools: Array<{ server: (s: string) => boolean; tool: (t: string) => boolean; index: number }>;
  private readonly cache = new Map<string, ToolPolicy>();

  constructor(readonly document: PolicyDocument) {
    if (document.spendLimitUsd !== undefined) this.spendLimitUsd = document.spendLimitUsd;
    this.tools = (document.tools ?? []).map((t, index) => ({ server: glob(t.server), tool: glob(t.tool), index }));
    this.errorRules = (document.errors?.rules ?? []).map((r) => ({
      ...(r.code !== undefined ? { code: typeof r.code === 'string' ? r.code.toUpperCase() : r.code } : {}),
      ...(r.messageIncludes !== undefined ? { messageIncludes: r.messageIncludes.toLowerCase() } : {}),
      ...(r.server !== undefined ? { server: glob(r.server) } : {}),
      ...(r.tool !== undefined ? { tool: glob(r.tool) } : {}),
      class: r.class,
    }));
    this.classFields = document.errors?.classes ?? {};
  }

  /** The policy for a tool of a server (the server's configured name). */
  tool(server: string, tool: string): ToolPolicy {
    if (this.tools.length === 0) return NO_RULES;
    const key = `${server}\u0000${tool}`;
    let hit = this.cache.get(key);
    if (hit) return hit;
    hit = this.resolve(server, tool);
    // Tool names come from the wire: bound the cache so a hostile client cannot grow it forever.
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(key, hit);
    return hit;
  }

  private resolve(server: string, tool: string): ToolPolicy {
    const out: ToolPolicy = { metered: false, entries: [] };
    const entries = this.document.tools ?? [];
    let metered: boolean | undefined;
    let deny: boolean | undefined;
    for (const m of this.tools) {
      if (!m.server(server) || !m.tool(tool)) continue;
      const e = entries[m.index]!;
      out.entries.push(m.index);
      if (out.costPerCallUsd === undefined && e.costPerCallUsd !== undefined) out.costPerCallUsd = e.costPerCallUsd;
      if (metered === undefined && e.metered !== undefined) metered = e.metered;
      if (out.reversibility === undefined && e.reversibility !== undefined) out.reversibility = e.reversibility;
      if (out.idempotent === undefined && e.idempotent !== undefined) out.idempotent = e.idempotent;
      if (out.sideEffects === undefined && e.sideEffects !== undefined) out.sideEffects = [...e.sideEffects];
      if (deny === undefined && e.deny !== undefined) {
        deny = e.deny;
        if (deny) out.deny = e.reason !== undefined ? { reason: e.reason } : {};
      }
    }
    // An explicit `metered` wins; otherwise a fixed cost above zero meters the tool.
    out.metered = metered ?? (out.costPerCallUsd ?? 0) > 0;
    return out;
  }
}

function glob(pattern: string): (name: string) => boolean {
  return picomatch(pattern, { dot: true });
}
