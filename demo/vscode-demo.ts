import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits, modify, parse as parseJsonc } from 'jsonc-parser';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { artifactPath, launchBrowser, startCodeServer, QUIET_USER_SETTINGS, REPO_ROOT } from '../test/e2e/code-server';
import type { Page } from '../test/e2e/playwright';
import { runDemoAgent } from './agent';

/**
 * `npm start`: a real VS Code (code-server) at a printed 127.0.0.1 URL, with the extension
 * installed, on a demo workspace whose servers are routed through the recorder; then a scripted
 * agent — the SDK's client, on the same HTTP path VS Code's agent uses — runs a workflow with a
 * few failures, so calls stream into the tree and the timeline live.
 *
 *   npm start               keeps VS Code running until Ctrl+C
 *   npm start -- --once     exits after the demo (for checks)
 */

const once = process.argv.includes('--once');
const runDir = path.join(REPO_ROOT, '.demo-run');
const workspace = path.join(runDir, 'workspace');
const endpointsFile = path.join(runDir, 'endpoints.json');

/** The demo workspace as the user would have it after "Route Workspace Servers Through the Recorder". */
function prepareWorkspace(): void {
  if (!fs.existsSync(workspace)) {
    // The template only: a store or files left there by the CLI demo are not part of it.
    fs.cpSync(path.join(REPO_ROOT, 'demo', 'workspace'), workspace, { recursive: true, filter: (src) => !/[/\\](\.mcp-flight|notes)([/\\]|$)/.test(src) });
    const mcpJson = path.join(workspace, '.vscode', 'mcp.json');
    let text = fs.readFileSync(mcpJson, 'utf8').replace(/\$\{workspaceFolder\}\/\.\.\/\.\.\/node_modules/g, path.join(REPO_ROOT, 'node_modules'));
    const servers = (parseJsonc(text) as { servers: Record<string, unknown> }).servers;
    for (const name of Object.keys(servers)) text = applyEdits(text, modify(text, ['servers', name], undefined, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
    fs.writeFileSync(mcpJson, text.replace('"servers"', '// These servers were routed through MCP Flight Recorder (see .vscode/settings.json).\n  "servers"'));
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'mcpFlight.servers': servers }, null, 2) + '\n');
  }
}

async function waitForEndpoints(timeoutMs: number): Promise<Array<{ name: string; url: string; headers: Record<string, string> }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { servers } = JSON.parse(fs.readFileSync(endpointsFile, 'utf8')) as { servers: Array<{ name: string; url: string; headers: Record<string, string> }> };
      if (servers.some((s) => s.name === 'everything') && servers.some((s) => s.name === 'filesystem')) return servers;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`the extension did not publish its endpoints within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Opens the recorder's view and its timeline in the headless window, and keeps a screenshot of each. */
async function showRecorder(page: Page): Promise<void> {
  try {
    await page.locator('.activitybar [aria-label^="MCP Flight Recorder"]').first().click({ timeout: 10_000 });
    await page.locator('.monaco-list-row[aria-level="1"]').first().click({ timeout: 10_000 });
    await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(800);
    await page.screenshot({ path: artifactPath('demo-workbench.png') });
    await page.keyboard.press('F1');
    await page.keyboard.type('MCP Flight: Open Timeline');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(2500);
    await page.screenshot({ path: artifactPath('demo-timeline.png') });
  } catch (err) {
    await page.screenshot({ path: artifactPath('demo-workbench.png') });
    console.error(`(could not open the recorder's view in the headless window: ${(err as Error).message})`);
  }
}

(async () => {
  fs.mkdirSync(runDir, { recursive: true });
  prepareWorkspace();
  fs.rmSync(endpointsFile, { force: true });
  const server = await startCodeServer({
    workspace,
    install: [REPO_ROOT],
    userSettings: { ...QUIET_USER_SETTINGS, 'workbench.colorTheme': 'Default Dark Modern' },
    env: { MCP_FLIGHT_ENDPOINTS_FILE: endpointsFile },
    keepRunDir: !!process.env.MCPF_KEEP_RUN,
  });
  console.log(`\nMCP Flight Recorder is running in VS Code at:\n\n  ${server.url}\n`);
  // A headless window keeps the extension host (and so the recorder) running even before you open one.
  const browser = await launchBrowser();
  await browser.page.goto(server.url);
  const endpoints = await waitForEndpoints(60_000);
  const transport = (name: string) => () => {
    const e = endpoints.find((x) => x.name === name)!;
    return new StreamableHTTPClientTransport(new URL(e.url), { requestInit: { headers: e.headers } });
  };
  console.log('The demo agent works through the recorder:\n');
  await runDemoAgent({ everything: transport('everything'), filesystem: transport('filesystem'), workspace }, (line) => console.log(`  ${line}`));
  await new Promise((r) => setTimeout(r, 1500));
  await showRecorder(browser.page);
  console.log(`\nOpen ${server.url} — the "MCP Flight Recorder" view in the activity bar shows the calls; "MCP Flight: Open Timeline" the timeline.`);
  console.log(`The recording is in ${path.join(workspace, '.mcp-flight')}; try: node dist/cli.js summary --store ${path.relative(process.cwd(), path.join(workspace, '.mcp-flight'))}`);
  if (once) {
    await browser.close();
    await server.stop();
    return;
  }
  console.log('\nCtrl+C stops VS Code.');
  const stop = async () => {
    await browser.close();
    await server.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
})().catch((err: unknown) => {
  console.error(`npm start: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
