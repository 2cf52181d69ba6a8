/**
 * Drives the real webview bundle in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core from tools/, never a downloaded browser).
 *
 * The page is what the extension host serves, minus VS Code: an empty body under the same strict
 * CSP (sent as a header, with a fresh nonce per page), media/timeline.css, dist/webview.js, and a
 * nonce'd script defining a fake `acquireVsCodeApi` that records posted messages in
 * `window.__posted` (and can answer `requestDetail` from `window.__details`, `requestOverview` from
 * `window.__overviews`). That fake host is the
 * only stand-in. Messages to the webview go through `window.postMessage`, as VS Code's do.
 *
 * Test-only additions, each outside the product's files: a stylesheet with VS Code Dark Modern's
 * theme variables (VS Code injects them on <html>), a `securitypolicyviolation` recorder, and —
 * for the accessibility test only — axe-core loaded as a nonce'd script, so the CSP stays strict.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FromWebview, ToWebview } from '../../src/shared/protocol';

export const ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS = path.join(ROOT, '.test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const PLAYWRIGHT = path.join(ROOT, 'tools', 'node_modules', 'playwright-core');
const AXE = path.join(ROOT, 'tools', 'node_modules', 'axe-core', 'axe.min.js');
const THEME = path.join(__dirname, 'theme-dark-modern.css');

// ---- the slice of playwright-core's API used here (its types live under tools/, which the
// ---- product's tsconfig does not see) -------------------------------------------------------

export interface Keyboard {
  press(key: string): Promise<void>;
  type(text: string): Promise<void>;
}
export interface Mouse {
  move(x: number, y: number): Promise<void>;
  wheel(dx: number, dy: number): Promise<void>;
  click(x: number, y: number): Promise<void>;
}
export interface Page {
  goto(url: string, opts?: { waitUntil?: 'load' | 'domcontentloaded' }): Promise<unknown>;
  evaluate<T>(fn: string | ((arg: any) => T | Promise<T>), arg?: unknown): Promise<T>;
  screenshot(opts: { path: string; fullPage?: boolean }): Promise<Buffer>;
  click(selector: string, opts?: { timeout?: number }): Promise<void>;
  focus(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  selectOption(selector: string, value: string): Promise<string[]>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  on(event: 'console', fn: (msg: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', fn: (err: Error) => void): void;
  keyboard: Keyboard;
  mouse: Mouse;
  close(): Promise<void>;
}
export interface CDPSession {
  send(method: string, params?: Record<string, unknown>): Promise<any>;
}
interface BrowserContext {
  newPage(): Promise<Page>;
  newCDPSession(page: Page): Promise<CDPSession>;
  pages(): Page[];
  close(): Promise<void>;
}
interface Chromium {
  launchPersistentContext(dir: string, opts: Record<string, unknown>): Promise<BrowserContext>;
}

function loadPlaywright(): Chromium {
  if (!fs.existsSync(path.join(PLAYWRIGHT, 'package.json'))) {
    throw new Error(`playwright-core is missing under tools/: run "node scripts/setup-tools.mjs"`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(PLAYWRIGHT) as { chromium: Chromium }).chromium;
}

// ---- build ----------------------------------------------------------------------------------

/**
 * Makes sure dist/webview.js is built from the current sources. `npm test` runs `node esbuild.mjs`
 * first, and then the bundle is used exactly as built. When a source under webview/ or src/shared/
 * (or esbuild.mjs) is newer — running this test alone after an edit — only the webview bundle is
 * rebuilt, with the options esbuild.mjs uses for it: the other bundles are left alone, since other
 * tests may be running them.
 */
export async function buildWebview(): Promise<void> {
  const out = path.join(ROOT, 'dist', 'webview.js');
  const newest = Math.max(...[path.join(ROOT, 'esbuild.mjs'), ...listFiles(path.join(ROOT, 'webview')), ...listFiles(path.join(ROOT, 'src', 'shared'))].map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as { build(o: Record<string, unknown>): Promise<unknown> };
  await esbuild.build({
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    minify: false,
    logLevel: 'warning',
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
  });
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.name.endsWith('.ts') || e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

// ---- server ---------------------------------------------------------------------------------

export interface PageOptions {
  /** Load axe-core (nonce'd script) for the accessibility test. */
  axe?: boolean;
  /** Answer `requestDetail` from `window.__details` like a host would. */
  autoDetail?: boolean;
}

const FAKE_HOST = `
window.__posted = [];
window.__cspViolations = [];
window.__details = {};
window.__overviews = {};
window.__autoDetail = __AUTO__;
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample });
});
(function () {
  var state;
  var acquired = false;
  window.acquireVsCodeApi = function () {
    if (acquired) throw new Error('acquireVsCodeApi may only be called once');
    acquired = true;
    return Object.freeze({
      postMessage: function (m) {
        var copy = JSON.parse(JSON.stringify(m));
        window.__posted.push(copy);
        if (copy.type === 'requestDetail' && window.__autoDetail) {
          var d = window.__details[copy.session_id + '/' + copy.call_id];
          setTimeout(function () {
            window.postMessage(d ? { type: 'detail', requestId: copy.requestId, detail: d }
                                 : { type: 'detail', requestId: copy.requestId, detail: undefined, error: 'not found' }, '*');
          }, 5);
        }
        if (copy.type === 'requestOverview' && window.__autoDetail) {
          var o = window.__overviews[copy.session_id];
          setTimeout(function () {
            window.postMessage({ type: 'overview', requestId: copy.requestId, session_id: copy.session_id, overview: o, error: o ? undefined : 'not found' }, '*');
          }, 5);
        }
      },
      getState: function () { return state; },
      setState: function (s) { state = s; },
    });
  };
})();
`;

function pageHtml(nonce: string, opts: PageOptions): string {
  const fake = FAKE_HOST.replace('__AUTO__', opts.autoDetail === false ? 'false' : 'true');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>MCP Flight Recorder</title>
<link rel="stylesheet" href="/test/theme-dark-modern.css">
<link rel="stylesheet" href="/media/timeline.css">
<script nonce="${nonce}">${fake}</script>
${opts.axe ? `<script nonce="${nonce}" src="/test/axe.min.js"></script>` : ''}
</head>
<body>
<script nonce="${nonce}" src="/dist/webview.js"></script>
</body>
</html>`;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

export interface Server {
  origin: string;
  /** URL of a fresh test page (new nonce each time). */
  url(opts?: PageOptions): string;
  close(): Promise<void>;
}

export async function startServer(): Promise<Server> {
  const pageOpts = new Map<string, PageOptions>();
  let origin = '';
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      res.end(body);
    };
    if (u.pathname === '/' || u.pathname === '/index.html') {
      const nonce = crypto.randomBytes(16).toString('base64');
      const opts = pageOpts.get(u.searchParams.get('p') ?? '') ?? {};
      // The webview's CSP, with the test server standing in for webview.cspSource.
      const csp = `default-src 'none'; img-src blob: ${origin}; style-src ${origin}; script-src 'nonce-${nonce}'; font-src ${origin}`;
      send(200, 'text/html; charset=utf-8', pageHtml(nonce, opts), { 'content-security-policy': csp });
      return;
    }
    if (u.pathname === '/favicon.ico') {
      send(204, 'image/x-icon', '');
      return;
    }
    let file: string | undefined;
    if (u.pathname === '/test/axe.min.js') file = AXE;
    else if (u.pathname === '/test/theme-dark-modern.css') file = THEME;
    else if (/^\/(dist|media)\/[\w.-]+$/.test(u.pathname)) file = path.join(ROOT, u.pathname);
    if (!file || !fs.existsSync(file)) {
      send(404, 'text/plain', 'not found');
      return;
    }
    send(200, TYPES[path.extname(file)] ?? 'application/octet-stream', fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let n = 0;
  return {
    origin,
    url(opts = {}) {
      const id = String(++n);
      pageOpts.set(id, opts);
      return `${origin}/?p=${id}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---- browser --------------------------------------------------------------------------------

export interface Harness {
  server: Server;
  /** A DevTools protocol session on a page (profiling while working on performance). */
  cdp(page: Page): Promise<CDPSession>;
  /** Opens a fresh page on the test server and waits for the webview's `ready`. */
  open(opts?: PageOptions): Promise<WebviewPage>;
  close(): Promise<void>;
}

export interface WebviewPage {
  page: Page;
  /** Errors the page threw or logged. */
  errors: string[];
  post(msg: ToWebview): Promise<void>;
  posted(): Promise<FromWebview[]>;
  /** Waits until a JS expression is truthy in the page. */
  until(expr: string, timeoutMs?: number): Promise<void>;
  eval<T>(expr: string): Promise<T>;
  /** Waits for two animation frames (a render and its paint). */
  frames(n?: number): Promise<void>;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  await buildWebview();
  const chromium = loadPlaywright();
  const server = await startServer();
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'mfr-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    colorScheme: 'dark',
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return {
    server,
    cdp: (page) => context.newCDPSession(page),
    async open(opts = {}) {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      await page.goto(server.url(opts), { waitUntil: 'load' });
      // Polled from here: playwright's waitForFunction evaluates strings inside the page, which
      // the strict CSP (no 'unsafe-eval') rightly refuses.
      const until = async (expr: string, timeoutMs = 10_000): Promise<void> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if (await page.evaluate<unknown>(expr)) return;
          if (Date.now() > deadline) throw new Error(`timed out waiting for: ${expr}`);
          await new Promise((r) => setTimeout(r, 15));
        }
      };
      await until(`window.__posted && window.__posted.some(function (m) { return m.type === 'ready'; })`);
      const wp: WebviewPage = {
        page,
        errors,
        post: async (msg) => {
          await page.evaluate((m: unknown) => (globalThis as unknown as { postMessage(m: unknown, o: string): void }).postMessage(m, '*'), msg);
        },
        posted: () => page.evaluate<FromWebview[]>('window.__posted'),
        until,
        eval: (expr) => page.evaluate(expr),
        frames: async (n = 2) => {
          await page.evaluate(`new Promise(function (r) { var k = ${n}; (function f() { if (k-- <= 0) r(); else requestAnimationFrame(f); })(); })`);
        },
        screenshot: async (name) => {
          const file = path.join(ARTIFACTS, name);
          await page.screenshot({ path: file });
          return file;
        },
        close: () => page.close(),
      };
      return wp;
    },
    async close() {
      await context.close().catch(() => undefined);
      await server.close();
      fs.rmSync(userData, { recursive: true, force: true });
    },
  };
}
