// `npm start`: builds the product and records a scripted agent's real calls to the reference
// servers of demo/workspace, then prints the session summary. (The VS Code extension's demo
// takes over this command once the extension lands.)
import path from 'node:path';
import { ensureDeps, root, run } from './ensure-deps.mjs';

try {
  ensureDeps();
  run(process.execPath, ['esbuild.mjs']);
  run(process.execPath, ['--import', 'tsx', path.join('demo', 'cli-demo.ts')]);
} catch (err) {
  console.error(`\nnpm start: ${err.message}`);
  process.exit(err.exitCode ?? 1);
}
