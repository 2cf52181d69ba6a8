/** Calls, details and hostile strings for the webview tests. Plain data, typed by the protocol. */
import type { CallDetail, CallRow, Outcome, Payload } from '../../src/shared/protocol';

export const T0 = Date.parse('2026-11-25T10:00:00.000Z');
export const SESSION = 'ses-1';

/** A tiny red-dot PNG (1×1). */
export const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
/** An SVG with a script: must never be displayed. */
export const SVG_HOSTILE = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=1"><script>window.__pwned=1</script></svg>').toString('base64');

export function row(p: Partial<CallRow> & { call_id: string }): CallRow {
  return {
    session_id: SESSION,
    server: 'filesystem',
    tool: 'read_file',
    method: 'tools/call',
    direction: 'client_to_server',
    outcome: 'success',
    start_ms: T0,
    duration_ms: 40,
    input_summary: '{"path":"README.md"}',
    alerts: 0,
    agent_id: 'copilot/1.0',
    ...p,
  };
}

const TOOLS: Record<string, string[]> = {
  filesystem: ['read_file', 'write_file', 'list_directory', 'search_files'],
  github: ['create_issue', 'get_pull_request', 'search_code'],
  everything: ['echo', 'add', 'longRunningOperation', 'sampleLLM'],
};

/** A realistic small recording: three servers, a few hundred calls, failures, alerts, pending ones. */
export function sampleCalls(n = 240, now = T0 + 120_000): CallRow[] {
  const out: CallRow[] = [];
  const servers = Object.keys(TOOLS);
  let t = now - 110_000;
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let k = 0; k < n; k++) {
    const server = servers[k % 3 === 2 ? 2 : k % 5 === 0 ? 1 : 0]!;
    const tools = TOOLS[server]!;
    const tool = tools[Math.floor(rnd() * tools.length)]!;
    t += 120 + rnd() * 700;
    const r = rnd();
    const outcome: Outcome = k >= n - 3 ? 'pending' : r < 0.07 ? 'error' : r < 0.09 ? 'timeout' : r < 0.1 ? 'cancelled' : 'success';
    const dur = tool === 'longRunningOperation' ? 2500 + rnd() * 4000 : 20 + rnd() * (rnd() < 0.1 ? 3000 : 400);
    out.push(row({
      call_id: `c${k}`,
      server,
      tool,
      start_ms: Math.round(t),
      duration_ms: outcome === 'pending' ? undefined : Math.round(outcome === 'timeout' ? 5000 : dur),
      outcome,
      error_class: outcome === 'error' ? 'tool_error' : outcome === 'timeout' ? 'timeout' : undefined,
      error_message: outcome === 'error' ? `ENOENT: no such file or directory, open 'src/missing-${k}.ts'` : outcome === 'timeout' ? 'Request timed out after 5000 ms' : undefined,
      input_summary: server === 'filesystem' ? `{"path":"src/file-${k}.ts"}` : server === 'github' ? `{"repo":"acme/web","query":"issue ${k}"}` : `{"message":"hello ${k}"}`,
      alerts: k % 37 === 5 ? 1 : 0,
    }));
  }
  return out;
}

export function json(value: unknown): Payload {
  return { kind: 'json', value };
}

/** A detail with everything the pane can show. */
export function fullDetail(r: CallRow, extra: Partial<CallDetail> = {}): CallDetail {
  const ts = new Date(r.start_ms).toISOString();
  return {
    row: r,
    timestamp: ts,
    ended_at: r.duration_ms !== undefined ? new Date(r.start_ms + r.duration_ms).toISOString() : undefined,
    request_id: 42,
    input: json({ path: 'src/missing.ts', options: { encoding: 'utf8', lines: [1, 2, 3] }, tags: Array.from({ length: 250 }, (_, i) => `tag-${i}`) }),
    output: r.outcome === 'error' ? json({ code: -32602, message: r.error_message ?? 'failed' }) : json({ content: [{ type: 'text', text: 'file contents…\nline 2' }] }),
    error: r.outcome === 'error' ? { error_class: 'tool_error', error_code: -32602, message: r.error_message ?? 'failed', recoverable: true, recovery_action: 'fix_arguments', retry_safe: false } : undefined,
    progress: [
      { seq: 11, ts: new Date(r.start_ms + 5).toISOString(), method: 'notifications/progress', params: json({ progressToken: 'p1', progress: 1, total: 4, message: 'opening file' }) },
      { seq: 12, ts: new Date(r.start_ms + 15).toISOString(), method: 'notifications/progress', params: json({ progressToken: 'p1', progress: 3, total: 4, message: 'reading' }) },
    ],
    logs: [
      { seq: 13, ts: new Date(r.start_ms + 20).toISOString(), method: 'notifications/message', params: json({ level: 'error', logger: 'fs', data: 'permission check failed' }) },
      { seq: 14, ts: new Date(r.start_ms + 22).toISOString(), method: 'notifications/message', params: json({ level: 'info', logger: 'fs', data: { attempt: 2 } }) },
    ],
    nested: [row({ call_id: 'nested-1', tool: 'sampling/createMessage', method: 'sampling/createMessage', direction: 'server_to_client', start_ms: r.start_ms + 8, duration_ms: 12 })],
    images: [],
    raw: [
      { seq: 10, ts, dir: 'client_to_server', text: JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: r.tool, arguments: { path: 'src/missing.ts' } } }), truncated: false },
      { seq: 15, ts: new Date(r.start_ms + 40).toISOString(), dir: 'server_to_client', text: JSON.stringify({ jsonrpc: '2.0', id: 42, error: { code: -32602, message: r.error_message ?? 'failed' } }), truncated: false },
    ],
    answered_by_recorder: false,
    ...extra,
  };
}

/** Strings that would run code, load things or spoof text if rendered as HTML or shown raw. */
export const HOSTILE = {
  script: '<script>window.__pwned=1</script>',
  img: '<img src=x onerror="window.__pwned=1">',
  js: 'javascript:window.__pwned=1',
  ansi: '\u001b[31mRED\u001b[0m',
  bidi: 'safe_tool\u202Eexe.txt',
  zw: 'read\u200Bfile',
  svgInline: '<svg onload="window.__pwned=1"></svg>',
  iframe: '<iframe src="javascript:window.__pwned=1"></iframe>',
  style: '<style>body{display:none}</style>',
};

export function hostileCalls(): CallRow[] {
  return [
    row({ call_id: 'h1', tool: HOSTILE.script, server: HOSTILE.img, input_summary: HOSTILE.js, start_ms: T0 + 1000, duration_ms: 900 }),
    row({ call_id: 'h2', tool: HOSTILE.ansi, server: HOSTILE.img, outcome: 'error', error_class: 'tool_error', error_message: HOSTILE.svgInline + HOSTILE.iframe, start_ms: T0 + 2500, duration_ms: 600, alerts: 1 }),
    row({ call_id: 'h3', tool: HOSTILE.bidi, server: `${HOSTILE.style}srv`, input_summary: HOSTILE.zw, start_ms: T0 + 4000, duration_ms: 1500, alerts: 2 }),
  ];
}

export function hostileDetail(r: CallRow): CallDetail {
  return fullDetail(r, {
    input: json({ [HOSTILE.script]: HOSTILE.img, url: HOSTILE.js, ansi: HOSTILE.ansi, bidi: HOSTILE.bidi, nested: { [HOSTILE.iframe]: [HOSTILE.svgInline, HOSTILE.style] } }),
    output: json({ content: [{ type: 'text', text: `${HOSTILE.script}\n${HOSTILE.ansi}` }, { type: 'image', mimeType: 'image/svg+xml', data: SVG_HOSTILE }] }),
    error: { error_class: 'tool_error', error_code: HOSTILE.img, message: HOSTILE.script + HOSTILE.ansi, recoverable: false, recovery_action: 'manual', retry_safe: false },
    progress: [{ seq: 3, ts: new Date(T0).toISOString(), method: HOSTILE.script, params: json({ progress: 1, total: 2, message: HOSTILE.img }) }],
    logs: [{ seq: 4, ts: HOSTILE.js, method: 'notifications/message', params: json({ level: HOSTILE.ansi, logger: HOSTILE.bidi, data: HOSTILE.iframe }) }],
    nested: [row({ call_id: 'hn', tool: HOSTILE.img, server: HOSTILE.script })],
    images: [
      { mimeType: 'image/svg+xml', data: SVG_HOSTILE },
      { mimeType: HOSTILE.script, data: PNG_1x1 },
      { mimeType: 'image/png', data: PNG_1x1 },
    ],
    alerts: [{ alert_id: HOSTILE.iframe, kind: 'tool_poisoning', severity: 'high', title: `${HOSTILE.script}${HOSTILE.bidi}`, detail: `- ${HOSTILE.img}\n+ ${HOSTILE.ansi}${HOSTILE.zw}` }],
    raw: [
      { seq: 1, ts: HOSTILE.script, dir: 'client_to_server', text: JSON.stringify({ jsonrpc: '2.0', id: 1, method: HOSTILE.script, params: { x: HOSTILE.img } }), truncated: false },
      { seq: 2, ts: new Date(T0).toISOString(), dir: 'server_to_client', text: `${HOSTILE.ansi}${HOSTILE.iframe}not json`, truncated: true },
    ],
    side_effects: [
      { kind: 'file_created', path: `/ws/${HOSTILE.script}`, attribution: 'named_in_arguments', in_flight: [r.call_id, HOSTILE.img], ts: new Date(T0).toISOString() },
      { kind: HOSTILE.iframe, uri: HOSTILE.js, attribution: 'observed_during', in_flight: [], ts: HOSTILE.style },
    ],
    credentials: { set_id: HOSTILE.svgInline, mode: HOSTILE.ansi, names: [HOSTILE.img], fingerprints: [HOSTILE.bidi] },
  });
}

/**
 * Source of a generator run *inside the page* (so 100k rows are not serialized through the
 * debugging protocol): `window.__genCalls(n)` returns n CallRows across 4 servers over ~3 hours.
 */
export const GEN_CALLS_SOURCE = `
window.__genCalls = function (n, t0) {
  var servers = ['filesystem', 'github', 'everything', 'postgres'];
  var tools = [['read_file', 'write_file', 'list_directory'], ['create_issue', 'search_code'], ['echo', 'add', 'longRunningOperation'], ['query', 'describe_table']];
  var out = new Array(n);
  var t = t0;
  var seed = 1;
  function rnd() { seed = (seed * 16807) % 2147483647; return seed / 2147483647; }
  for (var i = 0; i < n; i++) {
    var s = i % 4;
    var tl = tools[s];
    t += rnd() * 200;
    var r = rnd();
    var outcome = r < 0.03 ? 'error' : r < 0.035 ? 'timeout' : r < 0.04 ? 'cancelled' : 'success';
    out[i] = {
      session_id: 'ses-' + (i % 3), call_id: 'c' + i, server: servers[s], tool: tl[i % tl.length], method: 'tools/call',
      direction: 'client_to_server', outcome: outcome, start_ms: Math.round(t), duration_ms: Math.round(5 + rnd() * (r < 0.2 ? 2000 : 150)),
      input_summary: '{"path":"src/module-' + i + '.ts","flag":' + (i % 2 === 0) + '}', alerts: i % 997 === 0 ? 1 : 0,
      error_class: outcome === 'error' ? 'tool_error' : undefined, error_message: outcome === 'error' ? 'failure #' + i : undefined
    };
  }
  return out;
};
`;
