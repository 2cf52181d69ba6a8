/**
 * The slice of playwright-core's API the real-VS-Code tests use, and a loader for it.
 *
 * playwright-core lives under tools/ (installed by scripts/setup-tools.mjs, never a product
 * dependency), which the product's tsconfig cannot see — so its types are restated here
 * structurally. Add members as tests need them; the names and signatures are playwright's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Keyboard {
  press(key: string, opts?: { delay?: number }): Promise<void>;
  type(text: string, opts?: { delay?: number }): Promise<void>;
  insertText(text: string): Promise<void>;
  down(key: string): Promise<void>;
  up(key: string): Promise<void>;
}

export interface Mouse {
  move(x: number, y: number): Promise<void>;
  click(x: number, y: number, opts?: { button?: 'left' | 'right' | 'middle'; clickCount?: number }): Promise<void>;
  wheel(dx: number, dy: number): Promise<void>;
}

interface Timeout {
  timeout?: number;
}

export interface Locator {
  locator(selector: string, opts?: { hasText?: string | RegExp; has?: Locator }): Locator;
  getByRole(role: string, opts?: { name?: string | RegExp; exact?: boolean }): Locator;
  getByText(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  getByLabel(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  getByTitle(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  frameLocator(selector: string): FrameLocator;
  filter(opts: { hasText?: string | RegExp; hasNotText?: string | RegExp; has?: Locator; visible?: boolean }): Locator;
  first(): Locator;
  last(): Locator;
  nth(index: number): Locator;
  count(): Promise<number>;
  all(): Promise<Locator[]>;
  click(opts?: Timeout & { button?: 'left' | 'right' | 'middle'; force?: boolean; modifiers?: string[] }): Promise<void>;
  dblclick(opts?: Timeout): Promise<void>;
  hover(opts?: Timeout): Promise<void>;
  focus(opts?: Timeout): Promise<void>;
  fill(value: string, opts?: Timeout): Promise<void>;
  press(key: string, opts?: Timeout): Promise<void>;
  pressSequentially(text: string, opts?: Timeout & { delay?: number }): Promise<void>;
  check(opts?: Timeout): Promise<void>;
  selectOption(value: string | string[], opts?: Timeout): Promise<string[]>;
  scrollIntoViewIfNeeded(opts?: Timeout): Promise<void>;
  textContent(opts?: Timeout): Promise<string | null>;
  innerText(opts?: Timeout): Promise<string>;
  innerHTML(opts?: Timeout): Promise<string>;
  inputValue(opts?: Timeout): Promise<string>;
  allInnerTexts(): Promise<string[]>;
  allTextContents(): Promise<string[]>;
  getAttribute(name: string, opts?: Timeout): Promise<string | null>;
  isVisible(): Promise<boolean>;
  isEnabled(opts?: Timeout): Promise<boolean>;
  isChecked(opts?: Timeout): Promise<boolean>;
  waitFor(opts?: Timeout & { state?: 'attached' | 'detached' | 'visible' | 'hidden' }): Promise<void>;
  evaluate<R, A = unknown>(fn: string | ((el: any, arg: A) => R | Promise<R>), arg?: A): Promise<R>;
  screenshot(opts?: { path?: string }): Promise<Buffer>;
}

export interface FrameLocator {
  locator(selector: string, opts?: { hasText?: string | RegExp; has?: Locator }): Locator;
  getByRole(role: string, opts?: { name?: string | RegExp; exact?: boolean }): Locator;
  getByText(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  frameLocator(selector: string): FrameLocator;
  owner(): Locator;
}

export interface Frame {
  url(): string;
  name(): string;
  parentFrame(): Frame | null;
  locator(selector: string): Locator;
  evaluate<R, A = unknown>(fn: string | ((arg: A) => R | Promise<R>), arg?: A): Promise<R>;
}

export interface ConsoleMessage {
  type(): string;
  text(): string;
}

export interface Page {
  url(): string;
  title(): Promise<string>;
  goto(url: string, opts?: Timeout & { waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' | 'commit' }): Promise<unknown>;
  reload(opts?: Timeout): Promise<unknown>;
  locator(selector: string, opts?: { hasText?: string | RegExp; has?: Locator }): Locator;
  getByRole(role: string, opts?: { name?: string | RegExp; exact?: boolean }): Locator;
  getByText(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  getByLabel(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  getByTitle(text: string | RegExp, opts?: { exact?: boolean }): Locator;
  frameLocator(selector: string): FrameLocator;
  frames(): Frame[];
  mainFrame(): Frame;
  waitForSelector(selector: string, opts?: Timeout & { state?: 'attached' | 'detached' | 'visible' | 'hidden' }): Promise<unknown>;
  waitForFunction<R, A = unknown>(fn: string | ((arg: A) => R | Promise<R>), arg?: A, opts?: Timeout & { polling?: number | 'raf' }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
  evaluate<R, A = unknown>(fn: string | ((arg: A) => R | Promise<R>), arg?: A): Promise<R>;
  exposeFunction(name: string, fn: (...args: any[]) => unknown): Promise<void>;
  addScriptTag(opts: { path?: string; content?: string; url?: string }): Promise<unknown>;
  screenshot(opts?: { path?: string; fullPage?: boolean }): Promise<Buffer>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  bringToFront(): Promise<void>;
  on(event: 'console', fn: (msg: ConsoleMessage) => void): void;
  on(event: 'pageerror', fn: (err: Error) => void): void;
  on(event: 'close' | 'crash', fn: () => void): void;
  keyboard: Keyboard;
  mouse: Mouse;
  isClosed(): boolean;
  close(): Promise<void>;
}

export interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  grantPermissions(permissions: string[], opts?: { origin?: string }): Promise<void>;
  close(): Promise<void>;
}

export interface ChromiumType {
  launchPersistentContext(userDataDir: string, opts: Record<string, unknown>): Promise<BrowserContext>;
}

/** Loads `chromium` from playwright-core in tools/ (the directory comes from toolPaths()). */
export function loadChromium(playwrightCoreDir: string): ChromiumType {
  if (!fs.existsSync(path.join(playwrightCoreDir, 'package.json'))) {
    throw new Error(`playwright-core is missing at ${playwrightCoreDir}: run "node scripts/setup-tools.mjs"`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(playwrightCoreDir) as { chromium: ChromiumType }).chromium;
}
