import { RecorderErrorCode } from '../model/jsonrpc';
import type { AlertRecord } from '../model/records';
import type { Gate, GateDecision, GateRequest } from '../recording/gate';
import { ALLOW } from '../recording/gate';
import type { AlertEngine } from './engine';

/**
 * Enforcement (off by default): a call that raised a high-severity alert is not forwarded until
 * `decide` says so. The CLI decides by policy (deny); the extension asks the user (a modal
 * Allow / Deny) and holds the call meanwhile. A check of the combinable gate
 * (src/core/recording/gate.ts `composeGates`), so a spend governor can sit beside it.
 *
 * The gate says `inspectsFirst`: the engine inspects each request before the proxy asks the
 * gate, so the alerts of the request in question are known when `check` runs.
 */

export type AlertDecider = (request: GateRequest, alerts: AlertRecord[]) => GateDecision | Promise<GateDecision>;

export function alertGate(engine: AlertEngine, decide: AlertDecider): Gate {
  return {
    inspectsFirst: true,
    check(request) {
      const alerts = engine.takeAlerts(request.connectionId, request.id);
      const high = alerts.filter((a) => a.severity === 'high');
      if (!high.length) return ALLOW;
      return decide(request, high);
    },
  };
}

/** The denial the agent receives: a JSON-RPC error (classified `policy_denied`) naming the alerts. */
export function denyForAlerts(alerts: AlertRecord[], by: 'policy' | 'user'): GateDecision {
  const first = alerts[0];
  return {
    action: 'deny',
    code: RecorderErrorCode.Denied,
    message: `MCP Flight Recorder ${by === 'user' ? 'denied this call at the user\'s request' : 'denied this call by policy'}: ${first ? first.title : 'security alert'}${alerts.length > 1 ? ` (and ${alerts.length - 1} more alert${alerts.length > 2 ? 's' : ''})` : ''}`,
    data: { error_class: 'policy_denied', alerts: alerts.map((a) => ({ alert_id: a.alert_id, alert_kind: a.alert_kind, severity: a.severity })) },
  };
}

/** The CLI's policy: deny every call that raised a high-severity alert. */
export function denyHighAlerts(engine: AlertEngine): Gate {
  return alertGate(engine, (_req, alerts) => denyForAlerts(alerts, 'policy'));
}
