#!/usr/bin/env node
// Real-VS-Code tests: the extension-host suite (test/e2e/suite, mocha inside code-server's
// extension host) and the workbench UI tests (test/e2e/ui/*.ui.ts, node:test + playwright).
// Installs what is missing (npm deps; chromium, Node 24 and code-server into tools/), builds the
// product (node esbuild.mjs), runs, and ends with one line: "N passed, N failed".
//
//   node scripts/e2e.mjs                     both
//   node scripts/e2e.mjs extension [ARGS]    extension-host suite; ARGS go to
//                                            test/e2e/run-extension-tests.ts (FILTER..., --grep RE,
//                                            --verbose, --keep, --timeout S)
//   node scripts/e2e.mjs ui [FILTER...]      UI tests whose file name contains a FILTER
//   --no-build                               skip node esbuild.mjs
//   MCPF_E2E_TOTALS=FILE                     also write {"passed","failed"} to FILE (scripts/test.mjs)
//                                            (a phase that broke counts as one failure)
//
// Exit code 0 only when every phase ran and nothing failed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDeps, root, run } from './ensure-deps.mjs';

const MODES = ['extension', 'ui', 'all'];
const argv = process.argv.slice(2);
const noBuild = argv.includes('--no-build');
const rest = argv.filter((a) => a !== '--no-build');
const mode = MODES.includes(rest[0]) ? rest.shift() : 'all';
if ((mode === 'all' && rest.length) || rest.includes('--help') || rest.includes('-h')) {
  console.error('usage: node scripts/e2e.mjs [all | extension [FILTER...] [--grep RE] [--verbose] | ui [FILTER...]] [--no-build]');
  process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-e2e-run-'));
const totals = { passed: 0, failed: 0 };
const phases = [];
let broken = false;

/** A phase that broke without a failed test still counts as one failure in the totals. */
function tally(passed, failed, phaseBroken) {
  totals.passed += passed;
  totals.failed += failed || (phaseBroken ? 1 : 0);
  if (phaseBroken) broken = true;
}

function node(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function extensionPhase() {
  const summary = path.join(tmp, 'extension.json');
  const t = Date.now();
  const code = node(['--import', 'tsx', path.join('test', 'e2e', 'run-extension-tests.ts'), '--json-summary', summary, ...(mode === 'extension' ? rest : [])]);
  const s = fs.existsSync(summary) ? JSON.parse(fs.readFileSync(summary, 'utf8')) : null;
  const passed = s?.passed ?? 0;
  const failed = s?.failed ?? 0;
  const phaseBroken = !s || Boolean(s.broken) || (code !== 0 && !failed);
  tally(passed, failed, phaseBroken);
  phases.push(`extension host: ${passed} passed, ${failed} failed${phaseBroken ? ' (run broken)' : ''} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
}

function uiPhase() {
  const dir = path.join(root, 'test', 'e2e', 'ui');
  const filters = mode === 'ui' ? rest : [];
  const files = (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
    .filter((f) => f.endsWith('.ui.ts') && (!filters.length || filters.some((x) => f.includes(x))))
    .sort()
    .map((f) => path.join('test', 'e2e', 'ui', f));
  if (!files.length) {
    phases.push(`ui: no test/e2e/ui/*.ui.ts${filters.length ? ` matches ${filters.join(' ')}` : ''}`);
    if (filters.length) tally(0, 0, true);
    return;
  }
  const tap = path.join(tmp, 'ui.tap');
  const t = Date.now();
  // Each UI file starts its own code-server and chromium: one at a time on a 2-core machine.
  const code = node([
    '--import', 'tsx', '--test', '--test-concurrency=1',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files,
  ]);
  const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
  const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  const phaseBroken = !text || (code !== 0 && failed === 0);
  tally(passed, failed, phaseBroken);
  phases.push(`ui: ${passed} passed, ${failed} failed${phaseBroken ? ' (run broken)' : ''} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
}

try {
  ensureDeps();
  const { ensureTools } = await import('./setup-tools.mjs');
  ensureTools();
  if (!noBuild) run(process.execPath, ['esbuild.mjs']);
  if (mode === 'extension' || mode === 'all') extensionPhase();
  if (mode === 'ui' || mode === 'all') uiPhase();
} catch (err) {
  console.error(`\ne2e: ${err.message}`);
  tally(0, 0, true);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log('');
for (const p of phases) console.log(`e2e ${p}`);
if (broken) console.log('e2e: a phase did not complete (see above)');
// npm test adds these to its own totals.
if (process.env.MCPF_E2E_TOTALS) fs.writeFileSync(process.env.MCPF_E2E_TOTALS, JSON.stringify(totals));
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed > 0 || broken ? 1 : 0);
