/**
 * Runs the extension-host integration suite (test/e2e/suite) inside a real VS Code: code-server
 * 4.139.1 with the smoke-test driver, driven by headless chromium.
 *
 *   node --import tsx test/e2e/run-extension-tests.ts [FILTER...] [--grep RE] [--timeout SECONDS]
 *        [--verbose] [--keep] [--json-summary FILE]
 *
 *   FILTER          only suite files whose path (relative to test/e2e/suite) contains one
 *   --grep RE       only tests whose full title matches RE (mocha grep)
 *   --timeout S     overall limit (default 300 s); MCPF_E2E_TIMEOUT_MS sets the per-test one
 *   --verbose       also print code-server's own output and the workbench's browser console
 *   --keep          keep the workspace copy and code-server's run dir (paths are printed)
 *   --json-summary  write { passed, failed, pending, durationMs, exitCode } to FILE
 *
 * Expects dist/extension.js to be built (`node esbuild.mjs`; scripts/e2e.mjs does it). Exits with
 * the number of failed tests (1 if the run broke before mocha could count).
 *
 * How it works: the workbench URL carries a payload with `extensionDevelopmentPath` (this repo)
 * and `extensionTestsPath` (the bundled suite), both as vscode-remote:// URIs; the extension host
 * calls the suite's run(); when it settles VS Code calls `window.codeAutomationExit(code, logs)`,
 * which playwright exposes to us, and `window.codeAutomationLog(level, message)` carries the
 * workbench's log (including the extension host's console, where mocha's spec reporter writes).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { buildSuite, sourceMapper, SUITE_BUNDLE } from './build-suite';
import { artifactPath, launchBrowser, QUIET_USER_SETTINGS, REPO_ROOT, startCodeServer, tools, type Browser, type CodeServer } from './code-server';
import type { Page } from './playwright';
import type { SuiteResults } from './suite/index';
import { prepareWorkspace, type Workspace } from './workspace';

interface Args {
  filters: string[];
  grep?: string;
  timeoutS: number;
  verbose: boolean;
  keep: boolean;
  jsonSummary?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { filters: [], timeoutS: 300, verbose: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${x} needs a value`);
      return v;
    };
    if (x === '--grep') a.grep = value();
    else if (x === '--timeout') a.timeoutS = Number(value());
    else if (x === '--verbose') a.verbose = true;
    else if (x === '--keep') a.keep = true;
    else if (x === '--json-summary') a.jsonSummary = value();
    else if (x.startsWith('--')) throw new Error(`unknown option ${x}`);
    else a.filters.push(x);
  }
  if (!(a.timeoutS > 0)) throw new Error('--timeout must be a positive number of seconds');
  return a;
}

/**
 * Workbench log lines that say nothing about the suite (startup chatter, and what a machine
 * without internet or a GitHub account provokes). Shown with --verbose.
 */
const NOISE = [
  /ENOTFOUND/,
  /vsda/,
  /open-vsx\.org/,
  /marketplace/i,
  /Failed to fetch/,
  /net::ERR_/,
  /^\[(AgentHost|AgentHost:remote|ChatModelSelection|AccountPolicyGate|Service Worker|reconnection-grace-time)\]/,
  /^(Resolving|Resolved) connection token/,
  /^Creating a socket/,
  /^Updating additional builtin extensions cache/,
  /authentication provider 'github'/,
  /^Creation of workbench contribution '[^']+' took \d+ms/,
];

/** On failure: a screenshot of the workbench and every log (browser side, code-server, extension host). */
async function saveArtifacts(page: Page, cs: CodeServer, logs: Array<{ relativePath: string; contents: string }>): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const shot = artifactPath(`e2e-extension-${stamp}.png`);
  await page.screenshot({ path: shot }).catch(() => undefined);
  const logDir = artifactPath(`e2e-extension-${stamp}-logs`);
  for (const l of logs) {
    const p = path.join(logDir, l.relativePath);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, l.contents);
  }
  fs.mkdirSync(logDir, { recursive: true });
  if (fs.existsSync(cs.logFile)) fs.copyFileSync(cs.logFile, path.join(logDir, 'code-server.log'));
  // The server side's logs: extension host, output channels (the extension's own included).
  const serverLogs = path.join(cs.userDataDir, 'logs');
  if (fs.existsSync(serverLogs)) fs.cpSync(serverLogs, path.join(logDir, 'server'), { recursive: true });
  console.log(`[e2e] screenshot: ${path.relative(REPO_ROOT, shot)}; logs: ${path.relative(REPO_ROOT, logDir)}/`);
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const started = Date.now();
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { main?: string; publisher: string; name: string };
  if (pkg.main && !fs.existsSync(path.join(REPO_ROOT, pkg.main))) {
    throw new Error(`${pkg.main} is missing: build first (node esbuild.mjs, or node scripts/e2e.mjs which does it)`);
  }
  const phase = (what: string) => {
    if (args.verbose) console.log(`[e2e] ${((Date.now() - started) / 1000).toFixed(1)}s ${what}`);
  };
  const t = await tools();
  phase('tools ready');
  // A bundle per run: several checkouts' sessions may run the suite at once, and the extension
  // host loads the file well after the build (a shared index.js could be rebuilt under it).
  const { outfile, files } = await buildSuite({ filters: args.filters, outfile: path.join(path.dirname(SUITE_BUNDLE), `index.run-${process.pid}.js`) });
  const mapStack = sourceMapper(outfile);
  phase('suite bundled');
  const resultsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-e2e-results-')), 'results.json');

  let ws: Workspace | undefined;
  let cs: CodeServer | undefined;
  let browser: Browser | undefined;
  let exitCode: number | undefined;
  let results: SuiteResults | undefined;
  let failureReason = '';
  let interrupted = false;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await Promise.allSettled([
        cs?.stop({ graceMs: 1000 }), // the extension host has exited; nothing left to save
        Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 5000).unref())]),
      ]);
      if (!args.keep) {
        ws?.remove();
        for (const f of [outfile, `${outfile}.map`]) fs.rmSync(f, { force: true });
      }
      fs.rmSync(path.dirname(resultsFile), { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n[e2e] ${sig}: stopping code-server\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    ws = prepareWorkspace();
    if (args.keep) ws.keep();
    cs = await startCodeServer({
      workspace: ws.dir,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: outfile,
      smokeTestDriver: true,
      userSettings: QUIET_USER_SETTINGS,
      env: {
        MCPF_E2E_RESULTS: resultsFile,
        MCPF_E2E_GREP: args.grep,
        MCPF_E2E_TIMEOUT_MS: process.env.MCPF_E2E_TIMEOUT_MS,
      },
      keepRunDir: args.keep,
      verbose: args.verbose,
      toolPaths: t,
    });
    console.log(`[e2e] code-server ${cs.origin} (pid ${cs.pid}), workspace ${ws.dir}, ${files.length} suite file(s): ${files.join(', ')}${args.keep ? `; kept after the run: ${cs.runDir}, ${ws.dir}, ${outfile}` : ''}`);
    phase('code-server healthy');
    browser = await launchBrowser({ toolPaths: t, handleSignals: false });
    const page = browser.page;
    phase('browser launched');

    let settle!: (code: number) => void;
    let finished = false;
    const done = new Promise<number>((r) => (settle = (code) => ((finished = true), r(code))));
    let logs: Array<{ relativePath: string; contents: string }> = [];
    await page.exposeFunction('codeAutomationExit', (code: number, l?: Array<{ relativePath: string; contents: string }>) => {
      if (Array.isArray(l)) logs = l;
      settle(code);
    });
    await page.exposeFunction('codeAutomationLog', (level: string, message: unknown) => {
      // `message` is the console call's argument list (format string first).
      if (finished && !args.verbose) return; // the workbench tearing down after the run
      const text = mapStack(Array.isArray(message) ? util.format(...(message as unknown[])) : String(message));
      if (!args.verbose && NOISE.some((re) => re.test(text))) return;
      const prefix = args.verbose ? `[${((Date.now() - started) / 1000).toFixed(1)}s] ` : '';
      const tag = level === 'error' ? '[error] ' : level === 'warn' ? '[warn] ' : '';
      for (const line of text.split('\n')) process.stdout.write(`${prefix}${tag}${line}\n`);
    });
    page.on('pageerror', (err) => {
      if (args.verbose) process.stderr.write(`[page error] ${err.message}\n`);
    });
    if (args.verbose) page.on('console', (m) => process.stderr.write(`[browser:${m.type()}] ${m.text()}\n`));
    page.on('crash', () => settle(-2));

    const timeout = setTimeout(() => settle(-1), args.timeoutS * 1000);
    void cs.exited.then(() => settle(-3));
    await page.goto(cs.url, { waitUntil: 'domcontentloaded' });
    phase('workbench page loaded');
    exitCode = await done;
    clearTimeout(timeout);
    if (interrupted) return await cleanup().then(() => 130);
    phase(`extension host exited with ${exitCode}`);

    if (fs.existsSync(resultsFile)) results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as SuiteResults;
    if (exitCode === -1) failureReason = `timed out after ${args.timeoutS} s`;
    else if (exitCode === -2) failureReason = 'the browser page crashed';
    else if (exitCode === -3) failureReason = 'code-server exited';
    else if (!results) failureReason = `the extension host exited with ${exitCode} before mocha reported (see the log above)`;
    else if (exitCode !== 0 && results.failed === 0) failureReason = `the extension host exited with ${exitCode}`;

    if (failureReason || (results?.failed ?? 0) > 0) {
      await saveArtifacts(page, cs, logs).catch((err: Error) => console.log(`[e2e] could not save artifacts: ${err.message}`));
    }
  } catch (err) {
    failureReason = (err as Error).stack ?? String(err);
  } finally {
    await cleanup();
    phase('cleaned up');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const passed = results?.passed ?? 0;
  const failed = results ? results.failed : 0;
  if (results?.failures.length) console.log('');
  for (const f of results?.failures ?? []) {
    const at = /\((test\/e2e\/[^)]+)\)/.exec(mapStack(f.error))?.[1];
    console.log(`[e2e] FAILED: ${f.title} — ${f.error.split('\n')[0]}${at ? ` (${at})` : ''}`);
  }
  if (failureReason) console.log(`\n[e2e] run broken: ${failureReason}`);
  const code = failureReason ? Math.max(failed, 1) : failed;
  console.log(
    `\nextension tests (code-server): ${passed} passed, ${failed} failed${results?.pending ? `, ${results.pending} pending` : ''}` +
      `${failureReason ? ' (run broken)' : ''} in ${secs}s`,
  );
  if (args.jsonSummary) {
    fs.writeFileSync(args.jsonSummary, JSON.stringify({ passed, failed, pending: results?.pending ?? 0, durationMs: Date.now() - started, exitCode: code, broken: failureReason || undefined }));
  }
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(Math.min(code, 255)),
    (err: Error) => {
      console.error(`[e2e] ${err.message}`);
      process.exit(1);
    },
  );
}
