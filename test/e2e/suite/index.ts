/**
 * The extension-host test entry (the `run()` contract of @vscode/test-electron, which code-server's
 * `extensionTestsPath` honours too). Bundled with every `*.test.ts` of this folder into
 * dist-test/e2e/suite/index.js by test/e2e/build-suite.ts.
 *
 * Write tests with mocha's TDD names imported from 'mocha':
 *   import { suite, test, suiteSetup } from 'mocha';
 *
 * Environment (set by the runners; all optional):
 *   MCPF_E2E_GREP        only tests whose full title matches this regular expression
 *   MCPF_E2E_TIMEOUT_MS  per-test timeout (default 60000)
 *   MCPF_E2E_RESULTS     write a JSON summary here ({ passed, failed, pending, failures })
 */
import * as fs from 'node:fs';
import Mocha from 'mocha';
import { files } from 'mcp-flight-e2e:suite-files';

export interface SuiteResults {
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
  failures: Array<{ title: string; error: string }>;
}

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'tdd',
    reporter: 'spec',
    color: false,
    timeout: Number(process.env.MCPF_E2E_TIMEOUT_MS) || 60_000,
    grep: process.env.MCPF_E2E_GREP || undefined,
  });
  const results: SuiteResults = { passed: 0, failed: 0, pending: 0, durationMs: 0, failures: [] };
  const started = Date.now();
  const report = () => {
    results.durationMs = Date.now() - started;
    const out = process.env.MCPF_E2E_RESULTS;
    if (out) fs.writeFileSync(out, JSON.stringify(results, null, 2));
  };
  // What mocha.loadFiles() does for files on disk, for the bundled ones.
  const context = globalThis as unknown as Mocha.MochaGlobals;
  for (const f of files) {
    try {
      mocha.suite.emit('pre-require', context, f.file, mocha);
      mocha.suite.emit('require', f.load(), f.file, mocha);
      mocha.suite.emit('post-require', context, f.file, mocha);
    } catch (err) {
      // A file that throws while loading is a failure, not a silently smaller suite.
      results.failed++;
      results.failures.push({ title: `loading ${f.file}`, error: String((err as Error)?.stack ?? err) });
      report();
      return Promise.reject(err);
    }
  }
  return new Promise<void>((resolve, reject) => {
    const runner = mocha.run((failures) => {
      report();
      if (failures > 0) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
    runner.on('pass', () => results.passed++);
    runner.on('pending', () => results.pending++);
    runner.on('fail', (t, err: Error) => {
      results.failed++;
      results.failures.push({ title: t.fullTitle(), error: String(err?.stack ?? err) });
    });
  });
}
