import type { JsonRpcId, ServerTarget } from '../model/records';

/**
 * The gate sits on the call path between client and server. It is unused by default; security
 * alerts (hold a suspicious call until the user decides) and the spend governor (refuse calls
 * past the limit) plug in here. A synchronous answer costs nothing; a promise holds the call.
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

export type GateDecision =
  | { action: 'allow' }
  | { action: 'deny'; message: string; code?: number; data?: unknown };

export interface Gate {
  check(request: GateRequest): GateDecision | Promise<GateDecision>;
}

export const ALLOW: GateDecision = Object.freeze({ action: 'allow' });
