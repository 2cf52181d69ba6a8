/**
 * Bundles the extension-host suite — test/e2e/suite/index.ts plus every
 * test/e2e/suite/**\/*.test.ts — into one CommonJS file, dist-test/e2e/suite/index.js, that any
 * VS Code (code-server here, a downloaded one through @vscode/test-electron elsewhere) can load
 * as `extensionTestsPath`. `vscode` stays external (the extension host provides it); mocha and
 * everything else is bundled, so the file does not depend on where it is loaded from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './code-server';

export const SUITE_DIR = path.join(__dirname, 'suite');
export const SUITE_BUNDLE = path.join(REPO_ROOT, 'dist-test', 'e2e', 'suite', 'index.js');
const VIRTUAL = 'mcp-flight-e2e:suite-files';

/** Suite files relative to test/e2e/suite, sorted; `filters` keep those whose path contains one. */
export function suiteFiles(filters: string[] = []): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts')) out.push(path.relative(SUITE_DIR, p));
    }
  };
  walk(SUITE_DIR);
  return out.sort().filter((f) => !filters.length || filters.some((x) => f.includes(x)));
}

export async function buildSuite(opts: { filters?: string[]; outfile?: string } = {}): Promise<{ outfile: string; files: string[] }> {
  const files = suiteFiles(opts.filters);
  if (!files.length) throw new Error(`no test/e2e/suite/**/*.test.ts matches ${opts.filters?.join(' ') ?? ''}`);
  const outfile = opts.outfile ?? SUITE_BUNDLE;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const listing = `module.exports.files = [\n${files
    .map((f) => `  { file: ${JSON.stringify(f)}, load: () => require(${JSON.stringify(path.join(SUITE_DIR, f))}) },`)
    .join('\n')}\n];\n`;
  await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [path.join(SUITE_DIR, 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // A linked .map: the runners map the extension host's stack traces back to the .ts files.
    sourcemap: true,
    sourcesContent: false,
    external: ['vscode'],
    // jsonc-parser's UMD "main" defeats bundling (as in esbuild.mjs).
    mainFields: ['module', 'main'],
    logLevel: 'warning',
    // mocha's parallel mode (unused here) require.resolve()s worker files the bundle does not need.
    logOverride: { 'require-resolve-not-external': 'silent' },
    plugins: [
      {
        name: 'suite-files',
        setup(build) {
          build.onResolve({ filter: /^mcp-flight-e2e:suite-files$/ }, () => ({ path: VIRTUAL, namespace: 'suite-files' }));
          build.onLoad({ filter: /.*/, namespace: 'suite-files' }, () => ({ contents: listing, loader: 'js', resolveDir: SUITE_DIR }));
        },
      },
    ],
  });
  return { outfile, files };
}

/**
 * Rewrites `…/dist-test/e2e/suite/index.js:LINE:COL` in stack traces to the original
 * `test/e2e/suite/x.test.ts:LINE:COL` (or node_modules/…) using the bundle's source map.
 * Returns the text unchanged when there is no map.
 */
export function sourceMapper(bundle: string = SUITE_BUNDLE): (text: string) => string {
  let map: import('node:module').SourceMap | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SourceMap } = require('node:module') as typeof import('node:module');
    map = new SourceMap(JSON.parse(fs.readFileSync(`${bundle}.map`, 'utf8')));
  } catch {
    return (text) => text;
  }
  const mapDir = path.dirname(bundle);
  const re = new RegExp(`${bundle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+)`, 'g');
  return (text) =>
    text.replace(re, (whole, line: string, col: string) => {
      const e = map!.findEntry(Number(line) - 1, Number(col) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (!e?.originalSource || e.originalLine === undefined) return whole;
      const src = e.originalSource.startsWith('file:') ? new URL(e.originalSource).pathname : path.resolve(mapDir, e.originalSource);
      return `${path.relative(REPO_ROOT, src)}:${e.originalLine + 1}:${(e.originalColumn ?? 0) + 1}`;
    });
}
