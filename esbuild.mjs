// Builds the three bundles — extension host, CLI, webview — and copies sql.js's wasm beside them.
// `node esbuild.mjs [--watch] [--production]`; types are checked separately by `tsc --noEmit`.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const root = path.dirname(new URL(import.meta.url).pathname);
const dist = path.join(root, 'dist');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // jsonc-parser's UMD "main" uses dynamic requires esbuild cannot follow; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
};

/** @type {esbuild.BuildOptions[]} */
const builds = [
  { ...node, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];
if (fs.existsSync(path.join(root, 'src/extension/extension.ts'))) {
  builds.push({ ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode', './runtime'],
    // Activation cost = loading this bundle (first to last line) + running activate().
    banner: { js: 'globalThis.__mcpFlightLoad = { start: performance.now() };' },
    footer: { js: 'globalThis.__mcpFlightLoad.end = performance.now();' } });
  builds.push({ ...node, entryPoints: ['src/extension/runtime.ts'], outfile: 'dist/runtime.js', external: ['vscode'] });
  builds.push({ ...node, entryPoints: ['src/extension/uninstall.ts'], outfile: 'dist/uninstall.js' });
}
if (fs.existsSync(path.join(root, 'webview/main.ts'))) {
  builds.push({ bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: !production, minify: production, logLevel: 'warning', entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js' });
}

fs.mkdirSync(dist, { recursive: true });
fs.copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), path.join(dist, 'sql-wasm.wasm'));

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.error('esbuild: watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
}
