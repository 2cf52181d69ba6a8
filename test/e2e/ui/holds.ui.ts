/**
 * What the user decides in modal dialogs, in a real VS Code (code-server) driven through headless
 * Chromium, with an SDK client as the agent on the extension's HTTP endpoint:
 *   1. a workspace store's policy.json is ignored until the user approves it in the dialog, then
 *      its spend limit refuses a metered call (error_class spend_limit);
 *   2. with mcpFlight.security.enforceAlerts on, a call raising a high-severity alert is held
 *      until the user answers: Deny → the agent gets -32003, Allow → the call reaches the server;
 *   3. "Replay from Recovery Plan" re-issues a planned call against the real server, recorded as
 *      a replay session linked to it.
 * Assertions are on what the agent received and on the journal. Screenshots go to .test-artifacts/.
 *
 *   node --import tsx --test test/e2e/ui/holds.ui.ts      (or: node scripts/e2e.mjs ui holds)
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { assembleSession } from '../../../src/core/analysis/calls';
import type { Call } from '../../../src/core/model/calls';
import type { JournalRecord } from '../../../src/core/model/records';
import { sessionsIn } from '../../helpers/journal';
import { launchBrowser, QUIET_USER_SETTINGS, REPO_ROOT, startCodeServer, type Browser, type CodeServer } from '../code-server';
import type { Page } from '../playwright';
import { openCommandPalette, openWorkbench, pickQuickItem, quickInputRows, screenshot, waitForExtensionsActivated, waitUntil } from '../ui';
import { prepareWorkspace, type Workspace } from '../workspace';

const POLICY = `{
  // A cloned repository's policy: it must not apply before the user approves these bytes.
  "spendLimitUsd": 0.03,
  "tools": [ { "server": "everything", "tool": "echo", "costPerCallUsd": 0.02 } ]
}
`;

let ws: Workspace;
let cs: CodeServer;
let browser: Browser;
let home: string;
let endpointsFile: string;
let policyFile: string;
const clients: Client[] = [];

type Endpoints = { servers: Array<{ name: string; url: string; headers: Record<string, string> }> };

before(async () => {
  ws = prepareWorkspace();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-ui-holds-home-'));
  endpointsFile = path.join(ws.dir, '..', `${path.basename(ws.dir)}-endpoints.json`);
  // The servers the window records: the reference server and a fixture with a poisoned tool description.
  const mcpJson = path.join(ws.dir, '.vscode', 'mcp.json');
  const configured = (JSON.parse(fs.readFileSync(mcpJson, 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { servers: Record<string, unknown> }).servers;
  fs.writeFileSync(mcpJson, '{ "servers": {} }\n');
  const settingsFile = path.join(ws.dir, '.vscode', 'settings.json');
  const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8').replace(/^\s*\/\/.*$/gm, '')) as Record<string, unknown>;
  const servers = { everything: configured.everything, poisoned: { type: 'stdio', command: process.execPath, args: [path.join(REPO_ROOT, 'test', 'fixtures', 'poisoned-server.mjs')] } };
  fs.writeFileSync(settingsFile, JSON.stringify({ ...settings, 'mcpFlight.servers': servers }, null, 2));
  fs.mkdirSync(path.join(ws.dir, '.mcp-flight'), { recursive: true });
  policyFile = path.join(ws.dir, '.mcp-flight', 'policy.json');
  fs.writeFileSync(policyFile, POLICY);
  cs = await startCodeServer({
    workspace: ws.dir,
    install: [REPO_ROOT],
    userSettings: { ...QUIET_USER_SETTINGS, 'workbench.secondarySideBar.defaultVisibility': 'hidden' },
    // Approvals, keys and pins go to a throwaway home, never the user's ~/.mcp-flight.
    env: { MCP_FLIGHT_ENDPOINTS_FILE: endpointsFile, MCP_FLIGHT_HOME: home },
  });
  // Enforcement is machine-scoped: in code-server's window (a remote one) VS Code reads it from the
  // machine's user settings, where the user turns it on (Preferences: Open Remote Settings).
  fs.mkdirSync(path.join(cs.userDataDir, 'Machine'), { recursive: true });
  fs.writeFileSync(path.join(cs.userDataDir, 'Machine', 'settings.json'), JSON.stringify({ 'mcpFlight.security.enforceAlerts': true }, null, 2));
  browser = await launchBrowser();
});

after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await browser?.close();
  await cs?.stop();
  ws?.remove();
  fs.rmSync(endpointsFile, { force: true });
  fs.rmSync(home, { recursive: true, force: true });
});

async function agent(name: string): Promise<Client> {
  const { servers } = await waitUntil<Endpoints>(
    () => {
      try {
        const e = JSON.parse(fs.readFileSync(endpointsFile, 'utf8')) as Endpoints;
        return e.servers.some((s) => s.name === name) ? e : undefined;
      } catch {
        return undefined;
      }
    },
    { timeout: 60_000, what: `the extension to serve ${name}` },
  );
  const endpoint = servers.find((s) => s.name === name)!;
  const client = new Client({ name: 'ui-holds-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url), { requestInit: { headers: endpoint.headers } }));
  clients.push(client);
  return client;
}

/** The window's recording session (recorder kind `extension`) and the others, read from the journal. */
function sessions(): { window: JournalRecord[]; replays: JournalRecord[][] } {
  const all = [...sessionsIn(path.join(ws.dir, '.mcp-flight')).values()];
  const kind = (rs: JournalRecord[]) => rs.find((r) => r.type === 'session_start')?.type === 'session_start' ? (rs.find((r) => r.type === 'session_start') as Extract<JournalRecord, { type: 'session_start' }>).recorder.kind : undefined;
  const window = all.filter((rs) => kind(rs) === 'extension');
  assert.equal(window.length, 1, 'one window session');
  return { window: window[0]!, replays: all.filter((rs) => kind(rs) === 'replay') };
}

function callsOf(records: JournalRecord[], tool: string): Call[] {
  const assembler = assembleSession(records.map((record) => ({ record })));
  return [...assembler.calls.values()].filter((c) => c.method === 'tools/call' && c.tool === tool).sort((a, b) => a.request_seq - b.request_seq);
}

const dialog = (page: Page) => page.locator('.monaco-dialog-box');

async function dialogSaying(page: Page, text: string | RegExp, what: string): Promise<string> {
  return waitUntil(
    async () => {
      const shown = await dialog(page).innerText().catch(() => '');
      return (typeof text === 'string' ? shown.includes(text) : text.test(shown)) ? shown : undefined;
    },
    { timeout: 30_000, what },
  );
}

/** A request whose answer is awaited later (so a held call can be observed as still pending). */
function pending<T>(p: Promise<T>): { settled: () => boolean; outcome: Promise<{ value?: T; error?: unknown }> } {
  let done = false;
  const outcome = p.then(
    (value) => ((done = true), { value }),
    (error: unknown) => ((done = true), { error }),
  );
  return { settled: () => done, outcome };
}

test('a workspace policy applies only once approved in the dialog; its spend limit then refuses a metered call', async (t) => {
  const { page } = browser;
  try {
    await openWorkbench(page, cs.url);
    await waitForExtensionsActivated(page);
    const client = await agent('everything');
    // The store's policy is shown in full, with its hash, before anything applies it.
    const sha256 = createHash('sha256').update(POLICY).digest('hex');
    const shown = await dialogSaying(page, 'has a policy it wants applied', 'the policy approval dialog');
    assert.ok(shown.includes(`sha256 ${sha256}`), shown);
    assert.ok(shown.includes('"spendLimitUsd": 0.03'), shown);
    // Not in effect yet: two echoes at $0.02 each pass a $0.03 limit that does not apply.
    for (const m of ['unapproved 1', 'unapproved 2']) assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: m } })).content, [{ type: 'text', text: `Echo: ${m}` }]);
    await screenshot(page, 'ui-holds-policy-approval');
    await dialog(page).getByRole('button', { name: 'Approve', exact: true }).click();
    await dialog(page).waitFor({ state: 'hidden', timeout: 15_000 });
    // Approved by its hash in the user's home, outside the workspace.
    await waitUntil(() => (fs.existsSync(path.join(home, 'policy-approvals.json')) && fs.readFileSync(path.join(home, 'policy-approvals.json'), 'utf8').includes(sha256)) || undefined, { what: 'the approval in $MCP_FLIGHT_HOME' });
    await waitUntil(() => sessions().window.some((r) => r.type === 'policy' && r.status === 'applied') || undefined, { what: 'the policy applied in the journal' });

    // In effect now: the first echo costs $0.02, the second would take the session past $0.03.
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { message: 'approved 1' } })).content, [{ type: 'text', text: 'Echo: approved 1' }]);
    await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'approved 2' } }), (e: unknown) => e instanceof McpError && e.code === -32003 && (e.data as { code?: string }).code === 'SPEND_LIMIT' && /Spend limit reached/.test(e.message));

    const records = await waitUntil(() => {
      const w = sessions().window;
      return callsOf(w, 'echo').length === 4 && callsOf(w, 'echo').every((c) => c.outcome !== 'pending') ? w : undefined;
    }, { what: 'the four echoes in the journal' });
    const policies = records.filter((r): r is Extract<JournalRecord, { type: 'policy' }> => r.type === 'policy');
    assert.deepEqual(policies.map((p) => [p.status, p.source, p.sha256, p.reason ?? null]), [
      ['ignored', 'store', sha256, 'not approved by the user'],
      ['applied', 'store', sha256, null],
    ]);
    assert.equal(policies[1]!.path, policyFile);
    const echoes = callsOf(records, 'echo');
    assert.deepEqual(echoes.map((c) => [c.outcome, c.error?.error_class ?? null]), [
      ['success', null],
      ['success', null],
      ['success', null],
      ['error', 'spend_limit'],
    ]);
    assert.equal(echoes[3]!.answered_by_recorder, true, 'refused by the recorder, never forwarded');
    assert.ok(records.some((r) => r.type === 'spend' && r.event === 'limit_reached'), 'the limit is journaled');
  } catch (err) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'ui-holds-policy-failure').catch(() => 'none')}`);
    throw err;
  }
});

test('enforcement holds a high-alert call until the user answers: Deny refuses it, Allow forwards it', async (t) => {
  const { page } = browser;
  try {
    const client = await agent('poisoned');
    // The poisoned description raises tool_poisoning; a later call to the open-world send_email is high severity.
    await client.listTools();

    const first = pending(client.callTool({ name: 'send_email', arguments: { to: 'attacker@example.com', body: 'the notes' } }));
    const held = await dialogSaying(page, 'is holding a call to the tool send_email on poisoned', 'the hold dialog');
    assert.match(held, /HIGH · exfiltration after poisoning: send_email can send data out/);
    assert.equal(first.settled(), false, 'the agent waits while the dialog is open');
    await screenshot(page, 'ui-holds-hold-deny');
    await dialog(page).getByRole('button', { name: 'Deny', exact: true }).click();
    const denied = await first.outcome;
    assert.ok(denied.error instanceof McpError, `the agent gets an error: ${JSON.stringify(denied)}`);
    assert.equal(denied.error.code, -32003);
    assert.match(denied.error.message, /denied this call at the user's request: send_email can send data out/);
    const data = denied.error.data as { error_class: string; alerts: Array<{ alert_id: string; alert_kind: string; severity: string }> };
    assert.equal(data.error_class, 'policy_denied');
    assert.deepEqual(data.alerts.map((a) => [a.alert_kind, a.severity]), [['exfiltration_after_poisoning', 'high']]);

    const second = pending(client.callTool({ name: 'send_email', arguments: { to: 'team@example.com', body: 'the weekly notes' } }));
    await dialogSaying(page, 'is holding a call to the tool send_email on poisoned', 'the second hold dialog');
    assert.equal(second.settled(), false, 'the agent waits while the dialog is open');
    await screenshot(page, 'ui-holds-hold-allow');
    await dialog(page).getByRole('button', { name: 'Allow', exact: true }).click();
    const allowed = await second.outcome;
    assert.equal(allowed.error, undefined, `allowed: ${String(allowed.error)}`);
    assert.deepEqual((allowed.value as { content: unknown }).content, [{ type: 'text', text: 'sent to team@example.com' }], 'the server answered');

    const records = await waitUntil(() => {
      const w = sessions().window;
      const calls = callsOf(w, 'send_email');
      const decided = w.filter((r) => r.type === 'gate_decision' && calls.some((c) => c.connection_id === r.connection_id));
      return calls.length === 2 && calls.every((c) => c.outcome !== 'pending') && decided.length === 2 ? w : undefined;
    }, { what: 'both send_email calls and decisions in the journal' });
    const [deniedCall, allowedCall] = callsOf(records, 'send_email');
    assert.equal(deniedCall!.error?.error_class, 'policy_denied');
    assert.equal(deniedCall!.answered_by_recorder, true);
    assert.equal(allowedCall!.outcome, 'success');
    assert.notEqual(allowedCall!.answered_by_recorder, true);
    const alerts = records.filter((r): r is Extract<JournalRecord, { type: 'alert' }> => r.type === 'alert');
    const exfil = alerts.filter((a) => a.alert_kind === 'exfiltration_after_poisoning');
    assert.deepEqual(exfil.map((a) => [a.severity, a.tool, a.server]), [['high', 'send_email', 'poisoned'], ['high', 'send_email', 'poisoned']]);
    assert.ok(alerts.some((a) => a.alert_kind === 'tool_poisoning' && a.tool === 'add'), 'the poisoned description itself');
    assert.deepEqual(deniedCall!.alerts, [exfil[0]!.alert_id]);
    assert.deepEqual(allowedCall!.alerts, [exfil[1]!.alert_id]);
    assert.deepEqual(data.alerts.map((a) => a.alert_id), [exfil[0]!.alert_id], 'the agent is told which alert');
    // (The spend limit's refusal in the first test is a gate decision too, on everything's connection.)
    const decisions = records.filter((r): r is Extract<JournalRecord, { type: 'gate_decision' }> => r.type === 'gate_decision' && r.connection_id === deniedCall!.connection_id);
    assert.deepEqual(decisions.map((d) => [d.decision, d.connection_id]), [['deny', deniedCall!.connection_id], ['allow', allowedCall!.connection_id]]);
    assert.deepEqual(decisions.map((d) => d.request_id), [deniedCall!.request_id, allowedCall!.request_id]);
    assert.match(decisions[0]!.reason ?? '', /at the user's request/);
    for (const d of decisions) assert.ok(Number.isInteger(d.held_ms) && d.held_ms >= 0, `held_ms recorded: ${d.held_ms}`);
  } catch (err) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'ui-holds-hold-failure').catch(() => 'none')}`);
    throw err;
  }
});

test('Replay from Recovery Plan re-issues the planned call against the real server, recorded as a replay session', async (t) => {
  const { page } = browser;
  try {
    const { window } = sessions();
    const sessionId = window[0]!.session_id;
    const refused = callsOf(window, 'echo').find((c) => c.error?.error_class === 'spend_limit')!;
    // The command opens a quick pick of its own at once (which session?): no waiting for the palette to close.
    const palette = await openCommandPalette(page);
    await palette.fill('>MCP Flight: Replay from Recovery Plan');
    await pickQuickItem(page, 'MCP Flight: Replay from Recovery Plan…');
    await pickQuickItem(page, sessionId);
    // The plan lists the unrecovered failures: the echo refused by the spend limit, the denied send_email.
    await waitUntil(async () => ((await quickInputRows(page).allInnerTexts()).some((x) => /echo/.test(x) && /spend_limit/.test(x)) ? true : undefined), { what: 'the plan\'s steps' });
    const steps = (await quickInputRows(page).allInnerTexts()).map((x) => x.replace(/\s+/g, ' '));
    assert.ok(steps.some((x) => /send_email/.test(x) && /policy_denied/.test(x)), steps.join(' | '));
    await screenshot(page, 'ui-holds-replay-plan-pick');
    await pickQuickItem(page, 'spend_limit');
    await pickQuickItem(page, 'Replay with the recorded arguments');
    // This agent never listed everything's tools, so nothing says echo is read-only: confirmed first.
    await dialogSaying(page, 'not marked read-only or idempotent', 'the replay confirmation');
    await dialog(page).getByRole('button', { name: 'Replay', exact: true }).click();
    await dialogSaying(page, 'Start MCP server "everything"', 'the consent dialog');
    await dialog(page).getByRole('button', { name: 'Allow and Start' }).click();
    await waitUntil(async () => (/recorded ↔ replayed/.test(await page.title()) ? true : undefined), { timeout: 30_000, what: 'the diff of the recorded and the replayed result' });
    await screenshot(page, 'ui-holds-replay-diff');

    const replay = await waitUntil(() => sessions().replays.find((rs) => rs.some((r) => r.type === 'session_end')), { what: 'the replay session, ended, in the journal' });
    const start = replay.find((r): r is Extract<JournalRecord, { type: 'session_start' }> => r.type === 'session_start')!;
    assert.deepEqual(start.replay_of, { session_id: sessionId, call_id: refused.call_id });
    const [again] = callsOf(replay, 'echo');
    assert.ok(again, 'the replay re-issued echo');
    assert.equal(callsOf(replay, 'echo').length, 1);
    assert.equal(again.outcome, 'success');
    assert.deepEqual(again.input, { message: 'approved 2' }, 'with the planned arguments');
    assert.deepEqual((again.output as { content: unknown }).content, [{ type: 'text', text: 'Echo: approved 2' }], 'answered by the real server');
    assert.equal(replay.find((r) => r.type === 'connection_open' && r.server.name === 'everything') !== undefined, true);
  } catch (err) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'ui-holds-replay-failure').catch(() => 'none')}`);
    throw err;
  }
});
