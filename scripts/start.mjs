// `npm start`: builds the product and opens it in a real VS Code (code-server, installed into
// tools/ on first run) on a demo workspace, where a scripted agent's calls stream in live.
// `npm start -- --cli` runs the smaller CLI-only demo instead.
import path from 'node:path';
import { ensureDeps, run } from './ensure-deps.mjs';

try {
  ensureDeps();
  const cli = process.argv.includes('--cli');
  if (!cli) {
    const { ensureTools } = await import('./setup-tools.mjs');
    ensureTools();
  }
  run(process.execPath, ['esbuild.mjs']);
  const args = process.argv.slice(2).filter((a) => a !== '--cli');
  run(process.execPath, ['--import', 'tsx', path.join('demo', cli ? 'cli-demo.ts' : 'vscode-demo.ts'), ...args]);
} catch (err) {
  console.error(`\nnpm start: ${err.message}`);
  process.exit(err.exitCode ?? 1);
}
