/**
 * Helpers for playwright-driven tests of the real workbench (code-server in chromium).
 * Selectors are VS Code 1.139's DOM; everything waits with playwright's auto-waiting locators.
 *
 *   await openWorkbench(page, cs.url);
 *   await runCommand(page, 'MCP Flight Recorder: Focus on Sessions View');
 *   const rows = treeRows(page, 'Sessions');
 *   const web = webviewFrame(page);      // the active webview's content document
 *   await screenshot(page, 'timeline');
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { artifactPath } from './code-server';
import type { FrameLocator, Locator, Page } from './playwright';

export const WORKBENCH = '.monaco-workbench';
const QUICK_INPUT = '.quick-input-widget';

/** Opens a workbench URL and waits until the workbench shell (activity bar included) is on screen. */
export async function openWorkbench(page: Page, url: string, opts: { timeout?: number } = {}): Promise<void> {
  const timeout = opts.timeout ?? 60_000;
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
  await page.locator(`${WORKBENCH} .part.activitybar`).waitFor({ state: 'visible', timeout });
  await page.locator(`${WORKBENCH} .part.statusbar`).waitFor({ state: 'visible', timeout });
}

/**
 * Waits for the status bar's "Activating Extensions..." item to come and go (the extension host
 * has activated what startup asked for). It shows up a few seconds after the workbench does, so
 * this first waits up to `appearTimeout` for it to appear (it may already have gone), then for it
 * to disappear. Call after openWorkbench for stable screenshots.
 */
export async function waitForExtensionsActivated(page: Page, opts: { appearTimeout?: number; timeout?: number } = {}): Promise<void> {
  const item = page.locator('.part.statusbar .statusbar-item').filter({ hasText: 'Activating Extensions' });
  await item.first().waitFor({ state: 'visible', timeout: opts.appearTimeout ?? 10_000 }).catch(() => undefined);
  await item.first().waitFor({ state: 'hidden', timeout: opts.timeout ?? 60_000 });
}

/** The activity bar entry of a view container, by its title (e.g. 'MCP Flight Recorder'). */
export function activityBarItem(page: Page, title: string): Locator {
  return page.locator(`.part.activitybar .action-item a.action-label[aria-label^="${cssString(title)}"]`).first();
}

/**
 * Runs a command from the command palette (F1) by its title as the palette shows it, i.e.
 * "Category: Title" ("MCP Flight: Open Timeline"). Waits for a row whose label matches exactly
 * (or, with `exact: false`, contains the title) and picks it.
 */
export async function runCommand(page: Page, title: string, opts: { exact?: boolean; timeout?: number } = {}): Promise<void> {
  const timeout = opts.timeout ?? 15_000;
  const input = await openCommandPalette(page, timeout);
  await input.fill(`>${title}`);
  const row = quickInputRows(page).filter({ hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout });
  if (opts.exact !== false) {
    const label = (await row.getAttribute('aria-label')) ?? (await row.innerText());
    // The row's aria-label is "<title>, <keybinding>" or "<title>, recently used" etc.
    if (!label.startsWith(title)) throw new Error(`command palette: no command titled "${title}" (best match: "${label}")`);
  }
  await row.click();
  await page.locator(QUICK_INPUT).waitFor({ state: 'hidden', timeout });
}

/** Opens the command palette (F1) and returns its input box. */
export async function openCommandPalette(page: Page, timeout = 15_000): Promise<Locator> {
  // F1, not Ctrl+Shift+P: chromium keeps some Ctrl+Shift chords for itself.
  await page.keyboard.press('F1');
  const input = page.locator(`${QUICK_INPUT} .quick-input-box input`);
  await input.waitFor({ state: 'visible', timeout });
  return input;
}

/** Rows of the open quick pick / command palette. */
export function quickInputRows(page: Page): Locator {
  return page.locator(`${QUICK_INPUT} .monaco-list-row`);
}

/** Picks the quick-pick item whose label contains `label` (after the quick pick is open). */
export async function pickQuickItem(page: Page, label: string, timeout = 15_000): Promise<void> {
  const row = quickInputRows(page).filter({ hasText: label }).first();
  await row.waitFor({ state: 'visible', timeout });
  await row.click();
}

/** Types into an open input box (e.g. showInputBox) and presses Enter. */
export async function answerInputBox(page: Page, text: string, timeout = 15_000): Promise<void> {
  const input = page.locator(`${QUICK_INPUT} .quick-input-box input`);
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(text);
  await input.press('Enter');
}

/**
 * A view's pane (in a side bar or panel) by its name ('Sessions') or its id ('mcpFlight.sessions').
 * Works when the header is hidden too (a container's only view merges its header into the
 * container's title).
 */
export function viewPane(page: Page, nameOrId: string): Locator {
  const header = /^[\w-]+(\.[\w-]+)+$/.test(nameOrId)
    ? `.pane-header .icon.view-${nameOrId.replace(/\./g, '-')}`
    : `.pane-header[aria-label="${cssString(nameOrId)} Section"]`;
  return page.locator(`.pane:has(${header})`).first();
}

/** The welcome content (`viewsWelcome`) of a view, shown while its tree is empty. */
export function viewWelcome(page: Page, view: string): Locator {
  return viewPane(page, view).locator('.welcome-view-content');
}

/** Tree / list rows (`.monaco-list-row`) of a view, e.g. treeRows(page, 'Sessions'). */
export function treeRows(page: Page, view: string): Locator {
  return viewPane(page, view).locator('.monaco-list-row');
}

/** The row of a view whose text contains `text`. */
export function treeRow(page: Page, view: string, text: string | RegExp): Locator {
  return treeRows(page, view).filter({ hasText: text }).first();
}

/** Labels of a view's visible rows (the tree is virtualised: only rendered rows are listed). */
export async function treeRowLabels(page: Page, view: string): Promise<string[]> {
  return (await treeRows(page, view).allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
}

/**
 * The content document of a webview (two iframes deep). `index` selects among several open
 * webviews (in DOM order); the default is the first ready one.
 */
export function webviewFrame(page: Page, index = 0): FrameLocator {
  return page.frameLocator(`iframe.webview.ready >> nth=${index}`).frameLocator('#active-frame');
}

/** Messages of notifications currently shown (toasts and the notification centre). */
export async function notificationMessages(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-list-item-message, .notifications-center .notification-list-item-message').allInnerTexts();
}

/** Text of the editor tabs, active one included. */
export async function editorTabTitles(page: Page): Promise<string[]> {
  return page.locator('.part.editor .tabs-container .tab .label-name').allInnerTexts();
}

/** Saves a PNG of the page into .test-artifacts/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  const file = artifactPath(name.endsWith('.png') ? name : `${name}.png`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, fullPage: opts.fullPage });
  return file;
}

/**
 * Polls `fn` until it returns a truthy value, and returns that value (undefined/null/false mean
 * "not yet"; so do exceptions). After `timeout` it throws, with the last exception if any.
 */
export async function waitUntil<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeout?: number; interval?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeout ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String((last as Error).message ?? last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.interval ?? 200));
  }
}

function cssString(s: string): string {
  return s.replace(/["\\]/g, '\\$&');
}
