// `npm test`: the whole suite on a fresh machine of this kind. Installs what it needs (npm
// dependencies; Debian's chromium, Node 24, code-server and the MCP Inspector into tools/),
// builds the bundles, type-checks, then runs every test with node's test runner.
//
//   npm test                 everything
//   npm test -- unit         only test/unit (fast, no tools needed)
//   npm test -- FILTER...    only test files whose path contains one of the filters
import fs from 'node:fs';
import path from 'node:path';
import { ensureDeps, root, run } from './ensure-deps.mjs';

const filters = process.argv.slice(2);

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

try {
  ensureDeps();
  const files = [...testFiles('test/unit'), ...testFiles('test/integration')].filter((f) => !filters.length || filters.some((x) => f.includes(x)));
  const needsTools = files.some((f) => !f.startsWith('test/unit'));
  if (needsTools) {
    const { ensureTools } = await import('./setup-tools.mjs');
    await ensureTools();
  }
  run(process.execPath, ['esbuild.mjs']);
  run(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit']);
  if (!files.length) throw new Error(`no test files match ${filters.join(' ')}`);
  // Integration tests spawn servers and recorders; two at a time keeps a 2-core machine honest.
  run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files]);
} catch (err) {
  console.error(`\nnpm test: ${err.message}`);
  process.exit(err.exitCode ?? 1);
}
