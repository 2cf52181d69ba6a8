/**
 * Workbench UI sample: the extension installed (unpacked, as from a VSIX) into a real code-server,
 * the e2e workspace open in headless chromium. Checks that the workbench loads with the
 * recorder's activity-bar entry and Sessions view, and saves screenshots to .test-artifacts/.
 *
 *   node --import tsx --test test/e2e/ui/workbench.ui.ts      (or: node scripts/e2e.mjs ui)
 *
 * Needs dist/ built (node esbuild.mjs).
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, QUIET_USER_SETTINGS, REPO_ROOT, startCodeServer, type Browser, type CodeServer } from '../code-server';
import { activityBarItem, openWorkbench, runCommand, screenshot, treeRows, viewPane, viewWelcome, waitForExtensionsActivated, WORKBENCH } from '../ui';
import { prepareWorkspace, type Workspace } from '../workspace';

let ws: Workspace;
let cs: CodeServer;
let browser: Browser;

before(async () => {
  ws = prepareWorkspace();
  cs = await startCodeServer({
    workspace: ws.dir,
    install: [REPO_ROOT],
    // The chat view would take a third of every screenshot.
    userSettings: { ...QUIET_USER_SETTINGS, 'workbench.secondarySideBar.defaultVisibility': 'hidden' },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await cs?.stop({ graceMs: 1000 });
  ws?.remove();
});

test('the workbench loads with the recorder in the activity bar', async (t) => {
  const { page } = browser;
  const t0 = Date.now();
  const mark = (what: string) => t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  try {
    await openWorkbench(page, cs.url);
    mark('workbench shown');
    assert.equal(await page.locator(WORKBENCH).count(), 1);
    const entry = activityBarItem(page, 'MCP Flight Recorder');
    await entry.waitFor({ state: 'visible', timeout: 30_000 });
    mark('activity bar entry shown');
    await waitForExtensionsActivated(page);
    mark('extensions activated');
    await screenshot(page, 'ui-workbench');

    await runCommand(page, 'MCP Flight Recorder: Focus on Sessions View');
    await viewPane(page, 'Sessions').waitFor({ state: 'visible', timeout: 15_000 });
    mark('Sessions view shown');
    assert.equal(await viewPane(page, 'mcpFlight.sessions').count(), 1, 'the Sessions pane is found by its id too');
    assert.match(await page.locator('.part.sidebar .composite.title').innerText(), /MCP Flight Recorder/i);
    // Rows once there is data, the viewsWelcome content while there is none.
    const rows = await treeRows(page, 'Sessions').count();
    const welcome = await viewWelcome(page, 'Sessions').isVisible();
    t.diagnostic(`Sessions view: ${rows} row(s), welcome content ${welcome ? 'shown' : 'hidden'}`);
    assert.ok(rows > 0 || welcome, 'the Sessions view shows rows or its welcome content');
    await screenshot(page, 'ui-sessions-view');
  } catch (err) {
    await screenshot(page, 'ui-workbench-failure').catch(() => undefined);
    throw err;
  }
});
