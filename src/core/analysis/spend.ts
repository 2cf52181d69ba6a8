import type { CallAssembler, SessionPolicy } from './calls';
import { roundUsd } from '../policy/cost';

/**
 * Spend in a session: what its tool calls cost (each call's `cost_usd`, src/core/policy/cost.ts),
 * summed per tool, server and agent; the limit of the policy in effect, whether the governor
 * warned (80 %) or reached the limit, how many calls it refused; and which policy priced the
 * session — the one it recorded, or one given for the summary (`--policy`) — and which store
 * policy was present but ignored.
 */

export interface SpendSummary {
  total_usd: number;
  limit_usd: number | null;
  /** The governor recorded its 80 % warning. */
  warning: boolean;
  limit_reached: boolean;
  /** Tool calls with a cost. */
  priced_calls: number;
  /** Tool calls refused with error_class spend_limit. */
  refused_calls: number;
  by_tool: Array<{ server: string; tool: string; calls: number; usd: number }>;
  by_server: Array<{ server: string; calls: number; usd: number }>;
  by_agent: Array<{ agent_id: string | null; calls: number; usd: number }>;
  /** The most expensive calls, at most 100, most expensive first. */
  calls: Array<{ call_id: string; server: string; tool: string; usd: number; source: 'reported' | 'policy' }>;
  calls_omitted: number;
  policy: { source: 'file' | 'settings' | 'store'; path: string | null; sha256: string; explicit: boolean } | null;
  ignored_policies: Array<{ source: 'file' | 'settings' | 'store'; path: string | null; sha256: string; reason: string }>;
}

const MAX_CALLS = 100;

export function spendOf(assembler: CallAssembler): SpendSummary {
  let total = 0;
  let priced = 0;
  let refused = 0;
  const byTool = new Map<string, { server: string; tool: string; calls: number; usd: number }>();
  const byServer = new Map<string, { server: string; calls: number; usd: number }>();
  const byAgent = new Map<string, { agent_id: string | null; calls: number; usd: number }>();
  const calls: SpendSummary['calls'] = [];
  for (const call of assembler.calls.values()) {
    if (call.method !== 'tools/call') continue;
    if (call.error?.error_class === 'spend_limit') refused++;
    if (call.cost_usd === undefined) continue;
    const usd = call.cost_usd;
    priced++;
    total += usd;
    const server = assembler.connection(call.connection_id)?.server.name ?? call.server.name;
    add(byTool, `${server}\u0000${call.tool}`, () => ({ server, tool: call.tool, calls: 0, usd: 0 }), usd);
    add(byServer, server, () => ({ server, calls: 0, usd: 0 }), usd);
    add(byAgent, call.agent_id ?? '', () => ({ agent_id: call.agent_id ?? null, calls: 0, usd: 0 }), usd);
    calls.push({ call_id: call.call_id, server, tool: call.tool, usd, source: call.cost_source ?? 'policy' });
  }
  calls.sort((a, b) => b.usd - a.usd);
  const p = assembler.policyInEffect;
  return {
    total_usd: roundUsd(total),
    limit_usd: assembler.policy?.spendLimitUsd ?? null,
    warning: assembler.spendEvents.some((e) => e.event === 'warning'),
    limit_reached: assembler.spendEvents.some((e) => e.event === 'limit_reached'),
    priced_calls: priced,
    refused_calls: refused,
    by_tool: sorted(byTool),
    by_server: sorted(byServer),
    by_agent: sorted(byAgent),
    calls: calls.slice(0, MAX_CALLS),
    calls_omitted: Math.max(0, calls.length - MAX_CALLS),
    policy: p ? { source: p.source, path: p.path ?? null, sha256: p.sha256, explicit: p.explicit } : null,
    ignored_policies: assembler.policies.filter((x: SessionPolicy) => x.status === 'ignored').map((x) => ({ source: x.source, path: x.path ?? null, sha256: x.sha256, reason: x.reason ?? '' })),
  };
}

function add<T extends { calls: number; usd: number }>(m: Map<string, T>, key: string, make: () => T, usd: number): void {
  let v = m.get(key);
  if (!v) m.set(key, (v = make()));
  v.calls++;
  v.usd += usd;
}

function sorted<T extends { usd: number }>(m: Map<string, T>): T[] {
  return [...m.values()].map((v) => ({ ...v, usd: roundUsd(v.usd) })).sort((a, b) => b.usd - a.usd);
}
