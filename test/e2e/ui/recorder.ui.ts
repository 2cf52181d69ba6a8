/**
 * The recorder as a user sees it, in a real VS Code (code-server) driven through headless
 * Chromium: calls made by an agent over the recorder's HTTP endpoint show up live in the tree; a
 * failed call opens its inputs; the timeline webview lists the calls and its detail pane shows
 * the arguments; after a reload the history is still there. Screenshots go to .test-artifacts/.
 *
 *   node --import tsx --test test/e2e/ui/recorder.ui.ts      (or: node scripts/e2e.mjs ui)
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { launchBrowser, QUIET_USER_SETTINGS, REPO_ROOT, startCodeServer, type Browser, type CodeServer } from '../code-server';
import { activityBarItem, answerInputBox, openWorkbench, pickQuickItem, runCommand, screenshot, treeRow, treeRows, waitForExtensionsActivated, waitUntil, webviewFrame } from '../ui';
import { prepareWorkspace, type Workspace } from '../workspace';

/** Random and format-valid, never real. */
const TOKEN = `ghp_${Array.from({ length: 36 }, (_, i) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789'[(i * 7 + Date.now()) % 46]).join('')}`;

/** Journal records of the workspace store (the chain members are just two more JSON members). */
function journalRecords(dir: string): Array<Record<string, unknown>> {
  const journal = path.join(dir, '.mcp-flight', 'journal');
  return fs
    .readdirSync(journal)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => fs.readFileSync(path.join(journal, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let ws: Workspace;
let cs: CodeServer;
let browser: Browser;
let endpointsFile: string;

/** The workspace after "Route Workspace Servers Through the Recorder": servers in mcpFlight.servers, none left in mcp.json. */
function routeServers(dir: string): void {
  const mcpJson = path.join(dir, '.vscode', 'mcp.json');
  const servers = (JSON.parse(fs.readFileSync(mcpJson, 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { servers: Record<string, unknown> }).servers;
  fs.writeFileSync(mcpJson, '{ "servers": {} }\n');
  const settingsFile = path.join(dir, '.vscode', 'settings.json');
  const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8').replace(/^\s*\/\/.*$/gm, '')) as Record<string, unknown>;
  fs.writeFileSync(settingsFile, JSON.stringify({ ...settings, 'mcpFlight.servers': servers }, null, 2));
}

async function agent(): Promise<Client> {
  type Endpoints = { servers: Array<{ name: string; url: string; headers: Record<string, string> }> };
  const { servers } = await waitUntil<Endpoints>(
    () => {
      try {
        const e = JSON.parse(fs.readFileSync(endpointsFile, 'utf8')) as Endpoints;
        return e.servers.some((s) => s.name === 'everything') ? e : undefined;
      } catch {
        return undefined;
      }
    },
    { timeout: 60_000, what: 'the extension to serve the recorded servers' },
  );
  const everything = servers.find((s) => s.name === 'everything')!;
  const client = new Client({ name: 'ui-test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(everything.url), { requestInit: { headers: everything.headers } }));
  return client;
}

before(async () => {
  ws = prepareWorkspace();
  routeServers(ws.dir);
  endpointsFile = path.join(ws.dir, '..', `${path.basename(ws.dir)}-endpoints.json`);
  cs = await startCodeServer({
    workspace: ws.dir,
    install: [REPO_ROOT],
    userSettings: { ...QUIET_USER_SETTINGS, 'workbench.secondarySideBar.defaultVisibility': 'hidden', 'workbench.colorTheme': 'Default Dark Modern' },
    env: { MCP_FLIGHT_ENDPOINTS_FILE: endpointsFile },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cs?.stop();
  ws?.remove();
  fs.rmSync(endpointsFile, { force: true });
});

test('calls stream into the tree, a failure opens its inputs, the timeline shows the detail, history survives a reload', async (t) => {
  const { page } = browser;
  try {
    await openWorkbench(page, cs.url);
    await waitForExtensionsActivated(page);
    const client = await agent();
    // A token inside a longer string: recorded as a marker, asked for again by Replay.
    await client.callTool({ name: 'echo', arguments: { message: `hello from the UI test, deploy with ${TOKEN} now` } });
    const bad = await client.callTool({ name: 'get-sum', arguments: { a: 'one', b: 2 } });
    assert.equal(bad.isError, true);

    // The tree: Sessions → Servers → Calls.
    await activityBarItem(page, 'MCP Flight Recorder').click();
    const session = treeRows(page, 'Sessions').first();
    await session.waitFor({ state: 'visible', timeout: 30_000 });
    await session.click();
    await page.keyboard.press('ArrowRight');
    const server = treeRow(page, 'Sessions', /everything/);
    await server.waitFor({ state: 'visible', timeout: 15_000 });
    await server.click();
    await page.keyboard.press('ArrowRight');
    await treeRow(page, 'Sessions', /^echo/).waitFor({ state: 'visible', timeout: 15_000 });

    // Live: a call made now appears without any action in the view.
    await client.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } });
    await waitUntil(async () => (await treeRows(page, 'Sessions').allInnerTexts()).filter((x) => /^get-sum/.test(x)).length >= 2 || undefined, { timeout: 15_000, what: 'the new call in the tree' });
    await screenshot(page, 'ui-tree-live');

    // From the failure to its inputs: one click on the failed call.
    // Bad arguments come back as an isError result carrying the SDK's "MCP error -32602": invalid_params.
    const failed = treeRow(page, 'Sessions', /get-sum.*invalid_params/);
    await failed.first().click();
    // The window title names the active editor: the failed call's arguments document.
    await waitUntil(async () => (/arguments\.json/.test(await page.title()) ? true : undefined), { timeout: 15_000, what: 'the arguments document' });
    const editorText = await waitUntil(async () => {
      const t = (await page.locator('.part.editor .view-lines').first().innerText()).replace(/\s+/g, ' ');
      return t.includes('"a": "one"') ? t : undefined;
    }, { timeout: 15_000, what: 'the arguments in the editor' });
    assert.match(editorText, /"b": 2/);
    await screenshot(page, 'ui-failed-call-inputs');

    // More calls than the timeline's first message holds (the newest 200): the echo call above
    // then reaches the webview in a history chunk, through VS Code's own postMessage.
    for (let k = 0; k < 240; k++) await client.callTool({ name: 'get-sum', arguments: { a: k, b: 1 } });

    // The timeline webview lists the calls; its detail pane shows the arguments.
    await runCommand(page, 'MCP Flight: Open Timeline');
    const frame = webviewFrame(page);
    await frame.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
    const counts = await waitUntil(async () => {
      const text = await frame.locator('.counts').innerText().catch(() => '');
      return /^[\d,]+ calls/.test(text) && !/loading/.test(text) ? text : undefined;
    }, { timeout: 30_000, what: 'every call loaded in the timeline' });
    assert.ok(Number(/^([\d,]+) calls/.exec(counts)![1]!.replace(/,/g, '')) >= 243, counts);
    await frame.getByRole('button', { name: /List/ }).first().click();
    await frame.locator('input[type=search]').fill('hello from the UI test');
    const echoRow = frame.locator('.lrow', { hasText: 'echo' }).first();
    await echoRow.waitFor({ timeout: 15_000 });
    await echoRow.click();
    await page.keyboard.press('Enter');
    const detail = frame.locator('.detail');
    await waitUntil(async () => ((await detail.innerText().catch(() => '')).includes('hello from the UI test') ? true : undefined), { timeout: 15_000, what: 'the arguments in the detail pane' });
    await screenshot(page, 'ui-timeline-detail');

    // Replay the echo call from the detail pane: as recorded, in a session of its own, with the
    // new result beside the old one.
    await frame.getByRole('button', { name: /Replay/ }).first().click();
    await pickQuickItem(page, 'Replay with the recorded arguments');
    // The token was redacted inside the message: its value is asked for (once), not sent as the marker.
    await waitUntil(async () => ((await page.locator('.quick-input-widget').innerText().catch(() => '')).includes('[REDACTED:github_pat:') ? true : undefined), { timeout: 15_000, what: 'the prompt for the redacted token' });
    await screenshot(page, 'ui-replay-redacted-prompt');
    await answerInputBox(page, TOKEN);
    // This agent never listed tools, so nothing says echo is read-only: the replay is confirmed first.
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await dialog.innerText(), /not marked read-only or idempotent/);
    assert.ok(!(await dialog.innerText()).includes(TOKEN), 'the confirmation shows the marker, not the token typed in');
    await dialog.getByRole('button', { name: 'Replay' }).click();
    // Launching the server for the replay is a trust decision: asked with the exact command line.
    await waitUntil(async () => ((await dialog.innerText().catch(() => '')).includes('Start MCP server "everything"') ? true : undefined), { timeout: 15_000, what: 'the consent dialog' });
    assert.match(await dialog.innerText(), /server-everything\/dist\/index\.js/);
    await screenshot(page, 'ui-consent');
    await dialog.getByRole('button', { name: 'Allow and Start' }).click();
    await waitUntil(async () => (/recorded ↔ replayed/.test(await page.title()) ? true : undefined), { timeout: 30_000, what: 'the diff of the recorded and the replayed result' });
    await screenshot(page, 'ui-replay-diff');
    // The replay sent the token inside the message: its record redacted it again (had the marker
    // been sent as text, there would be nothing to redact), and the journal holds no token.
    const replayed = await waitUntil(() => {
      const records = journalRecords(ws.dir);
      const replaySessions = new Set(records.filter((r) => r.type === 'session_start' && r.replay_of).map((r) => r.session_id));
      return records.find((r) => replaySessions.has(r.session_id) && r.type === 'message' && (r.message as { method?: string }).method === 'tools/call');
    }, { timeout: 15_000, what: 'the replayed call in the journal' });
    assert.deepEqual((replayed.redacted as Array<{ path: string; kind: string }>).map((x) => [x.path, x.kind]), [['/params/arguments/message', 'github_pat']]);
    assert.match((replayed.message as { params: { arguments: { message: string } } }).params.arguments.message, /^hello from the UI test, deploy with \[REDACTED:github_pat:[0-9a-f]{6}\] now$/);
    const original = journalRecords(ws.dir).find((r) => r.type === 'message' && String((r.message as { params?: { arguments?: { message?: string } } }).params?.arguments?.message ?? '').startsWith('hello from the UI test') && r.session_id !== replayed.session_id);
    assert.equal((replayed.message as { params: { arguments: { message: string } } }).params.arguments.message, (original?.message as { params: { arguments: { message: string } } } | undefined)?.params.arguments.message, 'the same token: the same marker as recorded');
    assert.ok(!fs.readdirSync(path.join(ws.dir, '.mcp-flight', 'journal')).some((f) => fs.readFileSync(path.join(ws.dir, '.mcp-flight', 'journal', f)).includes(TOKEN)), 'no token on disk');
    await runCommand(page, 'MCP Flight Recorder: Focus on Sessions View');
    // The tree is scrolled down to the failed call, past the 240 calls above: back to the top,
    // where the newest session (the replay) is.
    await page.keyboard.press('Home');
    await waitUntil(async () => ((await treeRows(page, 'Sessions').allInnerTexts()).some((l) => /replay/.test(l)) ? true : undefined), { timeout: 15_000, what: 'the replay session in the tree' });
    await client.close();

    // History after a reload: the window restarts its extension host; the session is still listed.
    await page.reload();
    await openWorkbench(page, cs.url);
    await waitForExtensionsActivated(page);
    await activityBarItem(page, 'MCP Flight Recorder').click();
    await treeRows(page, 'Sessions').first().waitFor({ state: 'visible', timeout: 30_000 });
    const labels = await treeRows(page, 'Sessions').allInnerTexts();
    assert.ok(labels.some((l) => /extension/.test(l) && /calls/.test(l)), `the recorded session is listed after the reload: ${labels.join(' | ')}`);
    await screenshot(page, 'ui-history-after-reload');
  } catch (err) {
    t.diagnostic(`screenshot: ${await screenshot(page, 'ui-recorder-failure').catch(() => 'none')}`);
    throw err;
  }
});
