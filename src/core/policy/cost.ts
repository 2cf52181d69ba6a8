/**
 * What a call costs: a cost the server reports in the result's `_meta`, else the policy's fixed
 * `costPerCallUsd`. Shared by the spend governor (live) and the call assembler (after the fact),
 * so both count the same money.
 *
 * Reported-cost keys in `result._meta`, first found wins (docs/policy.md):
 * - `mcp-flight/costUsd` — ours, namespaced as the MCP spec asks of `_meta` keys;
 * - `costUsd`, `cost_usd` — the unprefixed spellings servers use for the same thing;
 * - `cost: {amount, currency: "USD"}` — the money-object shape of billing APIs.
 * A value must be a finite number, 0 ≤ value ≤ 1,000,000; anything else is ignored.
 */

export const REPORTED_COST_KEY = 'mcp-flight/costUsd';
const MAX_REPORTED_USD = 1_000_000;

export type CostSource = 'reported' | 'policy';

export function reportedCostUsd(result: unknown): number | undefined {
  const meta = (result as { _meta?: unknown } | undefined)?._meta;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const m = meta as Record<string, unknown>;
  for (const k of [REPORTED_COST_KEY, 'costUsd', 'cost_usd']) {
    const v = usd(m[k]);
    if (v !== undefined) return v;
  }
  const cost = m.cost as { amount?: unknown; currency?: unknown } | undefined;
  if (typeof cost === 'object' && cost !== null && typeof cost.currency === 'string' && cost.currency.toUpperCase() === 'USD') return usd(cost.amount);
  return undefined;
}

function usd(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_REPORTED_USD ? v : undefined;
}

/** Sums of money in floating point drift (0.1 + 0.2); amounts are kept to a micro-dollar. */
export function roundUsd(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
