/**
 * A real VS Code (code-server 4.139.1 = VS Code 1.139.1, Node extension host) and a real browser
 * (Debian's chromium through playwright-core), both from tools/ (scripts/setup-tools.mjs).
 *
 * Shared by the extension-host test runner, the workbench UI tests and `npm start`, so nothing
 * here assumes a test: it starts a code-server on 127.0.0.1 in a throwaway run directory, with
 * optional extensions installed, and hands back its URL. See docs/real-vscode-testing.md
 * (/work/shared/docs) for why each flag is there.
 *
 *   const cs = await startCodeServer({ workspace, install: [repoRoot] });
 *   const { page, close } = await launchBrowser();
 *   await page.goto(cs.url);
 *   ...
 *   await close(); await cs.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadChromium, type BrowserContext, type Page } from './playwright';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, '.test-artifacts');

// scripts/setup-tools.mjs is ESM and this file CommonJS: a dynamic import (a static one, even
// type-only, would need a resolution-mode attribute).
const setupTools = () => import('../../scripts/setup-tools.mjs');
export type ToolPaths = ReturnType<Awaited<ReturnType<typeof setupTools>>['ensureTools']>;

/** Paths of the tools (installs them when missing — a no-op taking milliseconds when present). */
export async function tools(): Promise<ToolPaths> {
  return (await setupTools()).ensureTools({ quiet: true });
}

// ---------------------------------------------------------------------------------- code-server

export interface CodeServerOptions {
  /** Folder the workbench opens (absolute). Omit for an empty window. */
  workspace?: string;
  /**
   * Load this extension folder (the repo root, say) as a development extension: it is put in the
   * returned `url`'s payload, as VS Code's `--extensionDevelopmentPath` would.
   */
  extensionDevelopmentPath?: string;
  /** With `extensionDevelopmentPath`: the `run()` module the extension host runs as its tests. */
  extensionTestsPath?: string;
  /**
   * Extensions to install before start: `.vsix` files (code-server --install-extension) and/or
   * unpacked extension folders (copied to `<extensionsDir>/<publisher>.<name>-<version>`, only
   * the files a VSIX would ship: package.json, dist/, media/, README/CHANGELOG/LICENSE).
   */
  install?: string[];
  /** Use this extensions dir instead of a fresh one (e.g. one prepared earlier). */
  extensionsDir?: string;
  /** Written to `<userDataDir>/User/settings.json` before start. */
  userSettings?: Record<string, unknown>;
  /** Extra environment for code-server and so for its extension host. */
  env?: Record<string, string | undefined>;
  /** TCP port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Adds `--vscode-option enable-smoke-test-driver` (needed for extension tests: codeAutomationExit). */
  smokeTestDriver?: boolean;
  /** More code-server arguments (e.g. `['--vscode-option', 'log=trace']`). */
  extraArgs?: string[];
  /** Copy code-server's output to this process's stderr as well as to its log file. */
  verbose?: boolean;
  /** Keep the run directory after stop() (default: remove it). */
  keepRunDir?: boolean;
  /** Default 30 s. */
  startTimeoutMs?: number;
  /** Tool paths (default: tools()). */
  toolPaths?: ToolPaths;
}

export interface CodeServer {
  /** Open this in a browser: the workbench on `workspace` (and the dev/test payload, if any). */
  url: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** The `vscode-remote://127.0.0.1:<port>` authority: `remoteUri('/abs/path')` is how the workbench names a file. */
  remoteUri(absPath: string): string;
  /** Builds a workbench URL for another folder and/or payload on this server. */
  workbenchUrl(opts?: { folder?: string; extensionDevelopmentPath?: string; extensionTestsPath?: string }): string;
  runDir: string;
  userDataDir: string;
  extensionsDir: string;
  /** code-server's stdout+stderr. */
  logFile: string;
  pid: number;
  /** Resolves when code-server exits (for whatever reason). */
  exited: Promise<number | null>;
  /**
   * Stops the whole process group (code-server, its extension host, the MCP servers that spawned)
   * and waits for it: SIGTERM, then SIGKILL after `graceMs` (default 5000; throwaway test servers
   * can pass less). Removes the run dir unless keepRunDir. Idempotent.
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/**
 * User settings for an unattended workbench: no welcome page, tips, release notes or extension
 * update checks (no marketplace is reachable here anyway). Nothing MCP- or chat-related: VS Code's
 * MCP client must behave as it does for users.
 */
export const QUIET_USER_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'git.openRepositoryInParentFolders': 'never',
};

/** Process groups of running code-servers, with the run dir to remove (unless kept). */
const live = new Map<number, string | undefined>();
/** Temp dirs to remove when the process exits (browser profiles not closed yet, workspaces...). */
const exitDirs = new Set<string>();
let exitHookInstalled = false;

/** Synchronous last-resort cleanup: kill every code-server group and remove its run dir. */
function killAllSync(): void {
  for (const [pid, dir] of live) {
    killGroup(pid, 'SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}

/**
 * Removes `dir` when this process exits, even on Ctrl+C (for temp dirs whose owner might not
 * get to clean up). Returns a function that forgets it (call it once you removed it yourself).
 */
export function removeOnExit(dir: string): () => void {
  installExitHook();
  exitDirs.add(dir);
  return () => exitDirs.delete(dir);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when the caller forgot stop() or exits abruptly: code-server runs in its own
  // session (setsid), so nothing else would take its helpers down with us.
  const removeExitDirs = () => {
    for (const dir of exitDirs) fs.rmSync(dir, { recursive: true, force: true });
    exitDirs.clear();
  };
  process.on('exit', () => {
    killAllSync();
    removeExitDirs();
  });
  // A signal's default action skips 'exit' handlers: take the servers down, then, unless the
  // program handles the signal itself (its listeners run too), die of it as we would have
  // (then 'exit' runs: exitDirs go — not before, a closing browser still writes its profile).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      const others = process.listenerCount(sig) - 1; // counted before any once() listener unhooks
      process.removeListener(sig, onSignal);
      if (others === 0) {
        removeExitDirs(); // dying of the signal skips 'exit'
        process.kill(process.pid, sig);
      }
    };
    process.prependListener(sig, onSignal); // first, so the count above sees everyone else's
  }
}

/** Stops every code-server this process started and has not stopped yet. */
export async function stopAllCodeServers(): Promise<void> {
  const pids = [...live.keys()];
  for (const pid of pids) killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (pids.some(groupAlive) && Date.now() < deadline) await sleep(100);
  killAllSync();
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** The environment code-server sees: the caller's, minus variables that would redirect it. */
function childEnv(xdg: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // VSCODE_IPC_HOOK_CLI & co. (a VS Code terminal) make code-server hand the folder to that
    // VS Code instead of serving it; VSCODE_OPTIONS adds flags; CODE_SERVER_CONFIG/PASSWORD would
    // change auth; ELECTRON_RUN_AS_NODE/NODE_OPTIONS leak into the extension host.
    if (/^(VSCODE_|CODE_SERVER_)/.test(k) || ['PASSWORD', 'HASHED_PASSWORD', 'ELECTRON_RUN_AS_NODE', 'NODE_OPTIONS'].includes(k)) continue;
    // npm run exports npm_* (npm_config_user_agent claims the outer Node); harmless but noisy.
    if (/^npm_/i.test(k)) continue;
    env[k] = v;
  }
  env.XDG_CONFIG_HOME = xdg; // else code-server writes ~/.config/code-server/config.yaml
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

interface Manifest {
  publisher: string;
  name: string;
  version: string;
}

/** Files of an unpacked extension that a VSIX would carry (see .vscodeignore). */
const UNPACKED_ENTRIES = ['package.json', 'package.nls.json', 'dist', 'media', 'README.md', 'CHANGELOG.md', 'LICENSE', 'LICENSE.md', 'LICENSE.txt'];

/**
 * Installs extensions into `extensionsDir`: `.vsix` files through code-server's
 * `--install-extension`, folders by copying the shipped files to `<publisher>.<name>-<version>`.
 * Returns the ids (`publisher.name`) installed.
 */
export function installExtensions(
  items: string[],
  opts: { extensionsDir: string; userDataDir: string; xdgConfigHome: string; toolPaths: ToolPaths },
): string[] {
  const ids: string[] = [];
  for (const item of items) {
    const abs = path.resolve(item);
    if (fs.statSync(abs).isDirectory()) {
      const m = JSON.parse(fs.readFileSync(path.join(abs, 'package.json'), 'utf8')) as Manifest;
      const target = path.join(opts.extensionsDir, `${m.publisher}.${m.name}-${m.version}`.toLowerCase());
      fs.rmSync(target, { recursive: true, force: true });
      fs.mkdirSync(target, { recursive: true });
      for (const entry of UNPACKED_ENTRIES) {
        const src = path.join(abs, entry);
        if (fs.existsSync(src)) fs.cpSync(src, path.join(target, entry), { recursive: true, dereference: true });
      }
      ids.push(`${m.publisher}.${m.name}`);
    } else {
      const r = spawnSync(
        opts.toolPaths.node24,
        [
          opts.toolPaths.codeServerEntry,
          '--disable-telemetry',
          '--user-data-dir',
          opts.userDataDir,
          '--extensions-dir',
          opts.extensionsDir,
          '--install-extension',
          abs,
          '--force',
        ],
        { encoding: 'utf8', env: childEnv(opts.xdgConfigHome), timeout: 60_000 },
      );
      if (r.status !== 0) throw new Error(`installing ${abs} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
      const m = /Extension '([^']+)' (?:v[^ ]+ )?was successfully installed/.exec(r.stdout + r.stderr);
      ids.push(m?.[1] ?? path.basename(abs, '.vsix'));
    }
  }
  return ids;
}

export function buildWorkbenchUrl(
  origin: string,
  opts: { folder?: string; extensionDevelopmentPath?: string; extensionTestsPath?: string } = {},
): string {
  const authority = new URL(origin).host;
  const remote = (p: string) => `vscode-remote://${authority}${path.resolve(p)}`;
  const params = new URLSearchParams();
  if (opts.folder) params.set('folder', path.resolve(opts.folder));
  const payload: Array<[string, string]> = [];
  if (opts.extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(opts.extensionDevelopmentPath)]);
  if (opts.extensionTestsPath) payload.push(['extensionTestsPath', remote(opts.extensionTestsPath)]);
  if (payload.length) params.set('payload', JSON.stringify(payload));
  const q = params.toString();
  return `${origin}/${q ? `?${q}` : ''}`;
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  const t = opts.toolPaths ?? (await tools());
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-code-server-'));
  const xdg = path.join(runDir, 'xdg');
  const userDataDir = path.join(runDir, 'user-data');
  const extensionsDir = opts.extensionsDir ?? path.join(runDir, 'extensions');
  const logFile = path.join(runDir, 'code-server.log');
  for (const d of [xdg, path.join(userDataDir, 'User'), extensionsDir]) fs.mkdirSync(d, { recursive: true });
  if (opts.userSettings) {
    fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(opts.userSettings, null, 2) + '\n');
  }
  if (opts.install?.length) installExtensions(opts.install, { extensionsDir, userDataDir, xdgConfigHome: xdg, toolPaths: t });

  const port = opts.port ?? (await freePort());
  const args = [
    t.codeServerEntry,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    ...(opts.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...(opts.extraArgs ?? []),
    ...(opts.workspace ? [path.resolve(opts.workspace)] : []),
  ];
  const out = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // detached: true = setsid(): code-server and all its helpers form one process group that
    // stop() kills at once (`kill -- -pid`); a plain kill leaves the helpers running.
    child = spawn(t.node24, args, {
      cwd: opts.workspace ? path.resolve(opts.workspace) : runDir,
      env: childEnv(xdg, opts.env),
      detached: true,
      stdio: ['ignore', opts.verbose ? 'pipe' : out, opts.verbose ? 'pipe' : out],
    });
  } finally {
    if (!opts.verbose) fs.closeSync(out);
  }
  if (opts.verbose) {
    for (const s of [child.stdout, child.stderr]) {
      s?.on('data', (c: Buffer) => {
        fs.writeSync(out, c);
        process.stderr.write(c);
      });
    }
    child.on('exit', () => fs.closeSync(out));
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${t.node24}`);
  installExitHook();
  live.set(pid, opts.keepRunDir ? undefined : runDir);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));

  let stopped: Promise<void> | undefined;
  const stop = (stopOpts: { graceMs?: number } = {}): Promise<void> =>
    (stopped ??= (async () => {
      killGroup(pid, 'SIGTERM');
      const deadline = Date.now() + (stopOpts.graceMs ?? 5000);
      while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
      if (groupAlive(pid)) killGroup(pid, 'SIGKILL');
      await Promise.race([exited, sleep(2000)]);
      live.delete(pid);
      if (!opts.keepRunDir) fs.rmSync(runDir, { recursive: true, force: true });
    })());

  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) {
      const log = tail(logFile);
      await stop();
      throw new Error(`code-server exited with ${exitCode} before it was ready:\n${log}`);
    }
    try {
      const r = await get(`${origin}/healthz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      const log = tail(logFile);
      await stop();
      throw new Error(`code-server did not answer ${origin}/healthz within ${opts.startTimeoutMs ?? 30_000} ms:\n${log}`);
    }
    await sleep(100);
  }

  const workbenchUrl: CodeServer['workbenchUrl'] = (o = {}) => buildWorkbenchUrl(origin, o);
  return {
    url: workbenchUrl({
      folder: opts.workspace,
      extensionDevelopmentPath: opts.extensionDevelopmentPath,
      extensionTestsPath: opts.extensionTestsPath,
    }),
    origin,
    port,
    remoteUri: (p) => `vscode-remote://127.0.0.1:${port}${path.resolve(p)}`,
    workbenchUrl,
    runDir,
    userDataDir,
    extensionsDir,
    logFile,
    pid,
    exited,
    stop,
  };
}

// ---------------------------------------------------------------------------------- browser

/** Chromium flags verified on this kind of machine (root, no GPU, no network but the registry). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface BrowserOptions {
  /** Default true. */
  headless?: boolean;
  /** Default 1400×900. */
  viewport?: { width: number; height: number };
  /** Extra chromium flags. */
  args?: string[];
  /** Default: tools(). */
  toolPaths?: ToolPaths;
  /**
   * Let playwright close the browser on SIGINT/SIGTERM/SIGHUP (default true). Its SIGINT handler
   * then calls process.exit(130) — pass false when the program cleans up on signals itself.
   */
  handleSignals?: boolean;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  userDataDir: string;
  /** Closes the browser and removes its profile. Idempotent. */
  close(): Promise<void>;
}

/** Debian's chromium through playwright-core from tools/, with a fresh profile. */
export async function launchBrowser(opts: BrowserOptions = {}): Promise<Browser> {
  const t = opts.toolPaths ?? (await tools());
  const chromium = loadChromium(t.playwrightCore);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-chromium-'));
  const forget = removeOnExit(userDataDir);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: t.chromium,
    headless: opts.headless ?? true,
    args: [...CHROMIUM_ARGS, ...(opts.args ?? [])],
    viewport: opts.viewport ?? { width: 1400, height: 900 },
    handleSIGINT: opts.handleSignals ?? true,
    handleSIGTERM: opts.handleSignals ?? true,
    handleSIGHUP: opts.handleSignals ?? true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  let closed: Promise<void> | undefined;
  return {
    context,
    page,
    userDataDir,
    close: () =>
      (closed ??= (async () => {
        await context.close().catch(() => undefined);
        fs.rmSync(userDataDir, { recursive: true, force: true });
        forget();
      })()),
  };
}

/** A file name in .test-artifacts/ (created), e.g. artifactPath('workbench.png'). */
export function artifactPath(name: string): string {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return path.join(ARTIFACTS_DIR, name);
}
