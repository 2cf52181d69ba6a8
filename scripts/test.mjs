// `npm test`: the whole suite on a fresh machine of this kind. Installs what it needs (npm
// dependencies; Debian's chromium, Node 24, code-server and the MCP Inspector into tools/),
// builds the bundles, type-checks, runs every node:test file, then the real-VS-Code tests
// (extension host in code-server, workbench UI through Chromium), and ends with one line:
// "N passed, N failed".
//
//   npm test                 everything
//   npm test -- unit         only test/unit (fast, no tools needed)
//   npm test -- FILTER...    only test files whose path contains one of the filters ("e2e" = the VS Code tests)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureDeps, root, run } from './ensure-deps.mjs';

const filters = process.argv.slice(2);
// The audit key and checkpoint copies live outside the workspace (~/.mcp-flight); tests get their own.
process.env.MCP_FLIGHT_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-home-'));

function testFiles(dir) {
  const out = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts')) out.push(path.relative(root, p));
    }
  };
  walk(path.join(root, dir));
  return out.sort();
}

const totals = { passed: 0, failed: 0 };
let status = 0;
try {
  ensureDeps();
  const files = [...testFiles('test/unit'), ...testFiles('test/integration')].filter((f) => !filters.length || filters.some((x) => f.includes(x)));
  const e2e = !filters.length || filters.includes('e2e');
  if (e2e || files.some((f) => !f.startsWith('test/unit'))) {
    const { ensureTools } = await import('./setup-tools.mjs');
    ensureTools();
  }
  run(process.execPath, ['esbuild.mjs']);
  run(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit']);
  run(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join('webview', 'tsconfig.json'), '--noEmit']);
  if (!files.length && !e2e) throw new Error(`no test files match ${filters.join(' ')}`);

  if (files.length) {
    // Integration tests spawn servers and recorders; two at a time keeps a 2-core machine honest.
    const tap = path.join(root, '.test-artifacts', 'node-tests.tap');
    fs.mkdirSync(path.dirname(tap), { recursive: true });
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files], { cwd: root, stdio: 'inherit' });
    const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
    totals.passed += Number(/^# pass (\d+)/m.exec(text)?.[1] ?? 0);
    totals.failed += Number(/^# fail (\d+)/m.exec(text)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(text)?.[1] ?? 0);
    if (r.status !== 0) status = 1;
  }
  if (e2e) {
    const results = path.join(root, '.test-artifacts', 'e2e-totals.json');
    fs.rmSync(results, { force: true });
    const r = spawnSync(process.execPath, [path.join('scripts', 'e2e.mjs'), '--no-build'], { cwd: root, stdio: 'inherit', env: { ...process.env, MCPF_E2E_TOTALS: results } });
    if (fs.existsSync(results)) {
      const t = JSON.parse(fs.readFileSync(results, 'utf8'));
      totals.passed += t.passed;
      totals.failed += t.failed;
    } else if (r.status !== 0) totals.failed += 1;
    if (r.status !== 0) status = 1;
  }
} catch (err) {
  console.error(`\nnpm test: ${err.message}`);
  status = err.exitCode ?? 1;
  totals.failed += 1;
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed`);
process.exit(status);
