import type { JsonRpcId, ServerTarget } from '../model/records';

/**
 * The gate sits on the call path between client and server. It is unused by default; security
 * alerts (hold a suspicious call until the user decides) and the policy (denied tools, the spend
 * governor refusing calls past the limit) plug in here, several at once through `composeGates`.
 * A synchronous answer costs nothing; a promise holds the call.
 */
export interface GateRequest {
  sessionId: string;
  connectionId: string;
  server: ServerTarget;
  id: JsonRpcId;
  method: string;
  /** The parsed request (params included). */
  message: unknown;
}

/** A server's answer to a request the gate let through: the request's identity, with the parsed response (result or error) as `message`. */
export type GateResponse = GateRequest;

export type GateDecision =
  | { action: 'allow' }
  | { action: 'deny'; message: string; code?: number; data?: unknown };

export interface Gate {
  check(request: GateRequest): GateDecision | Promise<GateDecision>;
  /**
   * The gate decides with what the message inspectors (the alert engine) found on the request,
   * so they must see it before `check`. Otherwise the proxy forwards first and inspects after.
   */
  readonly inspectsFirst?: boolean;
  /** Told of each server answer to a request that was forwarded (the spend governor reads reported costs here). */
  onResponse?(response: GateResponse): void;
}

export const ALLOW: GateDecision = Object.freeze({ action: 'allow' });

/**
 * Several gates as one: each is asked in order and the first refusal wins; a gate that holds the
 * call delays the ones after it until it decides. A gate that counts what it lets through (the
 * spend governor) goes last, so it only counts calls that are really forwarded.
 */
export function composeGates(...gates: Array<Gate | undefined>): Gate | undefined {
  const list = gates.filter((g): g is Gate => g !== undefined);
  if (list.length <= 1) return list[0];
  const listeners = list.filter((g) => g.onResponse);
  return {
    check(request) {
      return checkFrom(list, 0, request);
    },
    ...(list.some((g) => g.inspectsFirst) ? { inspectsFirst: true } : {}),
    ...(listeners.length
      ? {
          onResponse(response: GateResponse) {
            for (const g of listeners) g.onResponse!(response);
          },
        }
      : {}),
  };
}

function checkFrom(gates: Gate[], start: number, request: GateRequest): GateDecision | Promise<GateDecision> {
  for (let i = start; i < gates.length; i++) {
    const d = gates[i]!.check(request);
    if (isPromise(d)) return d.then((held) => (held.action === 'allow' ? checkFrom(gates, i + 1, request) : held));
    if (d.action !== 'allow') return d;
  }
  return ALLOW;
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}
