import { idKey, RecorderErrorCode } from '../model/jsonrpc';
import type { SpendRecord } from '../model/records';
import { ALLOW, type Gate, type GateDecision, type GateRequest, type GateResponse } from '../recording/gate';
import type { Recorder } from '../recording/recorder';
import { reportedCostUsd, roundUsd } from './cost';
import { policyRecords, type PolicyResolution } from './load';
import type { LoadedPolicy } from './policy';
import { PolicyRules } from './rules';

/**
 * The policy on the call path, as a gate: tools the policy denies are refused, and the spend
 * governor enforces the session's `spendLimitUsd`.
 *
 * Spend: a forwarded tool call is charged its fixed `costPerCallUsd` when it is let through; a
 * cost the server reports in the result's `_meta` replaces that charge when the answer arrives
 * (src/core/policy/cost.ts) — the call assembler prices calls by the same rules, so the live
 * figure and the summary agree. Crossing 80 % of the limit records a `spend` warning once;
 * after that, a metered call is refused — with a JSON-RPC error the agent sees, recorded with
 * `error_class: spend_limit` — when the session has reached the limit or when the call's fixed
 * cost would take it past the limit (the limit is never overrun by a known cost). A call is
 * metered when a policy entry gives it a cost above zero or `metered: true`, or when its server
 * reported a cost for the same tool earlier in the session.
 *
 * Cost per call: one Map lookup for the tool's policy (cached per server/tool), one for the
 * open-call entry; nothing grows with the session but the set of tools learned to be metered.
 */

export const SPEND_WARNING_RATIO = 0.8;
const MAX_OPEN = 10_000;

export interface SpendState {
  spent_usd: number;
  limit_usd: number | null;
  warned: boolean;
  limit_reached: boolean;
  refused_calls: number;
}

export interface PolicyGateOptions {
  policy: LoadedPolicy;
  /** Where spend warnings are journaled (the session the gate guards). */
  recorder?: Recorder;
  /** Told of each spend record as it is written (the CLI prints it, the extension shows it). */
  onSpend?: (event: Omit<SpendRecord, 'session_id' | 'seq' | 'ts' | 'mono'>) => void;
  /** What the session already spent under the policy this gate replaces (a policy changed mid-session). */
  carryOver?: SpendState;
}

interface OpenCall {
  server: string;
  tool: string;
  charged: number;
}

export class PolicyGate implements Gate {
  readonly rules: PolicyRules;
  private spent = 0;
  private warned = false;
  private limitReached = false;
  private refused = 0;
  private readonly open = new Map<string, OpenCall>();
  private readonly learnedMetered = new Set<string>();

  get policy(): LoadedPolicy {
    return this.options.policy;
  }

  constructor(private readonly options: PolicyGateOptions) {
    this.rules = new PolicyRules(options.policy.document);
    const prior = options.carryOver;
    if (prior) {
      this.spent = prior.spent_usd;
      this.refused = prior.refused_calls;
      // Thresholds already announced are not announced again unless the new limit moves them.
      const limit = this.rules.spendLimitUsd;
      if (limit !== undefined) {
        this.warned = prior.warned && prior.limit_usd !== null && prior.limit_usd <= limit && this.spent >= SPEND_WARNING_RATIO * limit - 1e-9;
        this.limitReached = prior.limit_reached && prior.limit_usd !== null && prior.limit_usd <= limit && this.spent >= limit - 1e-9;
      }
    }
  }

  get state(): SpendState {
    return { spent_usd: roundUsd(this.spent), limit_usd: this.rules.spendLimitUsd ?? null, warned: this.warned, limit_reached: this.limitReached, refused_calls: this.refused };
  }

  check(request: GateRequest): GateDecision {
    if (request.method !== 'tools/call') return ALLOW;
    const tool = (request.message as { params?: { name?: unknown } } | undefined)?.params?.name;
    if (typeof tool !== 'string') return ALLOW;
    const server = request.server.name;
    const tp = this.rules.tool(server, tool);
    if (tp.deny) {
      return {
        action: 'deny',
        code: RecorderErrorCode.Denied,
        message: `MCP Flight Recorder policy refuses ${server}/${tool}${tp.deny.reason ? `: ${tp.deny.reason}` : ''}`,
        data: { code: 'POLICY_DENIED', ...(tp.deny.reason ? { reason: tp.deny.reason } : {}), policy_sha256: this.options.policy.sha256 },
      };
    }
    const cost = tp.costPerCallUsd ?? 0;
    const limit = this.rules.spendLimitUsd;
    if (limit !== undefined && (tp.metered || this.learnedMetered.has(`${server}\u0000${tool}`))) {
      // A micro-dollar of slack: sums of costs carry floating-point error.
      if (this.spent >= limit - 1e-9 || (cost > 0 && this.spent + cost > limit + 1e-9)) {
        this.refused++;
        this.markLimit(request, tool);
        const spent = roundUsd(this.spent);
        return {
          action: 'deny',
          code: RecorderErrorCode.Denied,
          message: `Spend limit reached: this session has spent $${spent} of its $${limit} limit, so MCP Flight Recorder refuses ${server}/${tool}${cost > 0 ? ` (cost $${cost})` : ''}`,
          data: { code: 'SPEND_LIMIT', spent_usd: spent, limit_usd: limit, ...(cost > 0 ? { cost_usd: cost } : {}) },
        };
      }
    }
    // Calls that never get an answer (cancelled, timed out) would stay here: the oldest go first.
    if (this.open.size >= MAX_OPEN) this.open.delete(this.open.keys().next().value!);
    this.open.set(`${request.connectionId}\u0000${idKey(request.id)}`, { server, tool, charged: cost });
    if (cost > 0) this.charge(cost, request, tool);
    return ALLOW;
  }

  onResponse(response: GateResponse): void {
    if (response.method !== 'tools/call') return;
    const key = `${response.connectionId}\u0000${idKey(response.id)}`;
    const call = this.open.get(key);
    if (!call) return;
    this.open.delete(key);
    const reported = reportedCostUsd((response.message as { result?: unknown } | undefined)?.result);
    if (reported === undefined) return;
    this.learnedMetered.add(`${call.server}\u0000${call.tool}`);
    this.charge(reported - call.charged, response, call.tool);
  }

  private charge(amount: number, at: GateRequest | GateResponse, tool: string): void {
    this.spent += amount;
    const limit = this.rules.spendLimitUsd;
    if (limit === undefined) return;
    if (!this.warned && this.spent >= SPEND_WARNING_RATIO * limit - 1e-9) {
      this.warned = true;
      this.emit('warning', at, tool);
    }
    if (this.spent >= limit - 1e-9) this.markLimit(at, tool);
  }

  private markLimit(at: GateRequest | GateResponse, tool: string): void {
    if (this.limitReached) return;
    this.limitReached = true;
    if (!this.warned) {
      this.warned = true;
      this.emit('warning', at, tool);
    }
    this.emit('limit_reached', at, tool);
  }

  private emit(event: SpendRecord['event'], at: GateRequest | GateResponse, tool: string): void {
    const record = { type: 'spend' as const, event, spent_usd: roundUsd(this.spent), limit_usd: this.rules.spendLimitUsd ?? 0, connection_id: at.connectionId, request_id: at.id, tool };
    this.options.recorder?.sessionEvent(record);
    this.options.onSpend?.(record);
  }
}

/**
 * Puts a resolved policy in force for a recording session: journals which policy governs it (and
 * which store policy does not), and returns the gate that enforces it, if there is a policy.
 */
export function governSession(recorder: Recorder, resolution: PolicyResolution, onSpend?: PolicyGateOptions['onSpend'], carryOver?: SpendState): PolicyGate | undefined {
  for (const r of policyRecords(resolution)) recorder.sessionEvent(r);
  return resolution.policy ? new PolicyGate({ policy: resolution.policy, recorder, ...(onSpend ? { onSpend } : {}), ...(carryOver ? { carryOver } : {}) }) : undefined;
}
