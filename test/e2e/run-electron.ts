/**
 * The same extension-host suite (test/e2e/suite) in desktop VS Code through @vscode/test-electron,
 * for machines that can download VS Code (or have one: VSCODE_EXECUTABLE_PATH=/path/to/code).
 * Not part of `npm test` on machines without internet — there, use run-extension-tests.ts
 * (code-server), which runs the very same bundle.
 *
 *   node --import tsx test/e2e/run-electron.ts [FILTER...] [--grep RE]
 *   VSCODE_VERSION=1.139.1 node --import tsx test/e2e/run-electron.ts     (default: stable)
 *   On Linux without a display: xvfb-run -a node --import tsx test/e2e/run-electron.ts
 *
 * Exit code: number of failed tests; 1 when the run broke; 2 when VS Code could not be obtained.
 * Needs dist/ built (node esbuild.mjs).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSuite, sourceMapper } from './build-suite';
import { QUIET_USER_SETTINGS, REPO_ROOT } from './code-server';
import type { SuiteResults } from './suite/index';
import { prepareWorkspace } from './workspace';

const EXIT_NO_VSCODE = 2;

export async function main(argv: string[]): Promise<number> {
  const filters: string[] = [];
  let grep: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--grep') grep = argv[++i];
    else if (argv[i]!.startsWith('--')) throw new Error(`unknown option ${argv[i]}`);
    else filters.push(argv[i]!);
  }
  const started = Date.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const testElectron = require('@vscode/test-electron') as typeof import('@vscode/test-electron');
  const { outfile, files } = await buildSuite({ filters });
  const mapStack = sourceMapper(outfile);

  let vscodeExecutablePath = process.env.VSCODE_EXECUTABLE_PATH;
  if (!vscodeExecutablePath) {
    const version = process.env.VSCODE_VERSION || 'stable';
    try {
      vscodeExecutablePath = await testElectron.downloadAndUnzipVSCode({
        version,
        cachePath: path.join(REPO_ROOT, '.vscode-test'),
        timeout: 30_000,
      });
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      console.error(
        [
          '',
          `[e2e:electron] VS Code ${version} could not be downloaded: ${msg.split('\n')[0]}`,
          '[e2e:electron] @vscode/test-electron downloads VS Code from update.code.visualstudio.com at run time.',
          '[e2e:electron] Without internet: run the same suite in code-server instead:',
          '[e2e:electron]     node scripts/e2e.mjs extension',
          '[e2e:electron] Or point at an installed VS Code: VSCODE_EXECUTABLE_PATH=/path/to/code node --import tsx test/e2e/run-electron.ts',
          '',
        ].join('\n'),
      );
      return EXIT_NO_VSCODE;
    }
  }

  const ws = prepareWorkspace();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-vscode-profile-'));
  const userDataDir = path.join(profile, 'user-data');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(QUIET_USER_SETTINGS, null, 2));
  const resultsFile = path.join(profile, 'results.json');
  let exitCode: number;
  let broken = '';
  try {
    console.log(`[e2e:electron] ${vscodeExecutablePath}, workspace ${ws.dir}, ${files.length} suite file(s): ${files.join(', ')}`);
    exitCode = await testElectron.runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: outfile,
      launchArgs: [ws.dir, `--user-data-dir=${userDataDir}`, `--extensions-dir=${path.join(profile, 'extensions')}`, '--disable-telemetry'],
      extensionTestsEnv: { MCPF_E2E_RESULTS: resultsFile, MCPF_E2E_GREP: grep, MCPF_E2E_TIMEOUT_MS: process.env.MCPF_E2E_TIMEOUT_MS },
      stdout: { write: (c: string | Buffer) => process.stdout.write(mapStack(String(c))) } as NodeJS.WritableStream,
    });
  } catch (err) {
    // runTests rejects with TestRunFailedError when VS Code exits non-zero (failed tests too).
    if (err instanceof testElectron.TestRunFailedError) exitCode = err.code ?? -1;
    else {
      exitCode = -1;
      broken = (err as Error).message ?? String(err);
    }
  }
  const results = fs.existsSync(resultsFile) ? (JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as SuiteResults) : undefined;
  ws.remove();
  fs.rmSync(profile, { recursive: true, force: true });
  if (!broken && !results) broken = `VS Code exited with ${exitCode} before mocha reported`;
  else if (!broken && exitCode !== 0 && results?.failed === 0) broken = `VS Code exited with ${exitCode}`;
  for (const f of results?.failures ?? []) console.log(`[e2e:electron] FAILED: ${f.title} — ${f.error.split('\n')[0]}`);
  if (broken) console.log(`[e2e:electron] run broken: ${broken}`);
  const failed = results?.failed ?? 0;
  console.log(
    `\nextension tests (VS Code desktop): ${results?.passed ?? 0} passed, ${failed} failed${broken ? ' (run broken)' : ''} in ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
  return broken ? Math.max(failed, 1) : failed;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(Math.min(code, 255)),
    (err: Error) => {
      console.error(`[e2e:electron] ${err.message}`);
      process.exit(1);
    },
  );
}
