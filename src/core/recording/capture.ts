/**
 * Capture level "metadata": what is kept of a message when its payload must not be recorded
 * (the user chose metadata only, or paused recording). Enough to pair calls, name the tool,
 * attach progress and cancellations and tell success from failure — no arguments, no results,
 * no error text. The record says so (`capture: "metadata"`), and the size of what was left out.
 */
export type CaptureLevel = 'full' | 'metadata';

export function metadataOnly(message: unknown, size: number): Record<string, unknown> {
  const m = message as Record<string, unknown>;
  const out: Record<string, unknown> = { jsonrpc: m.jsonrpc };
  if ('id' in m) out.id = m.id;
  if (typeof m.method === 'string') out.method = m.method;
  const params = m.params as Record<string, unknown> | undefined;
  if (params && typeof params === 'object') {
    const kept: Record<string, unknown> = {};
    if (m.method === 'tools/call' && typeof params.name === 'string') kept.name = params.name;
    const meta = params._meta as { progressToken?: unknown } | undefined;
    if (meta?.progressToken !== undefined) kept._meta = { progressToken: meta.progressToken };
    if (m.method === 'notifications/progress') for (const k of ['progressToken', 'progress', 'total']) if (k in params) kept[k] = params[k];
    if (m.method === 'notifications/cancelled' && 'requestId' in params) kept.requestId = params.requestId;
    if (m.method === 'initialize') for (const k of ['protocolVersion', 'clientInfo']) if (k in params) kept[k] = params[k];
    out.params = kept;
  }
  const result = m.result as Record<string, unknown> | undefined;
  if (result && typeof result === 'object') {
    const kept: Record<string, unknown> = {};
    if (result.isError === true) kept.isError = true;
    for (const k of ['protocolVersion', 'serverInfo']) if (k in result) kept[k] = result[k];
    out.result = kept;
  }
  const error = m.error as { code?: unknown } | undefined;
  if (error && typeof error === 'object') out.error = { code: error.code, message: '[not recorded: metadata only]' };
  out._mcp_flight = { omitted_bytes: size };
  return out;
}
