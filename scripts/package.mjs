// `npm run package`: production bundles, then a VSIX for desktop VS Code with @vscode/vsce.
// The bundles carry their dependencies, so the VSIX ships no node_modules.
import fs from 'node:fs';
import path from 'node:path';
import { ensureDeps, root, run } from './ensure-deps.mjs';

try {
  ensureDeps();
  run(process.execPath, ['esbuild.mjs', '--production']);
  // Source maps stay out of the package (.vscodeignore), but old ones must not linger next to new bundles.
  for (const f of fs.readdirSync(path.join(root, 'dist'))) if (f.endsWith('.map')) fs.rmSync(path.join(root, 'dist', f));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const out = `${pkg.name}-${pkg.version}.vsix`;
  run(process.execPath, [path.join('node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--skip-license', '--out', out]);
  const size = fs.statSync(path.join(root, out)).size;
  console.log(`${out}: ${(size / 1024 / 1024).toFixed(2)} MB`);
} catch (err) {
  console.error(`\nnpm run package: ${err.message}`);
  process.exit(err.exitCode ?? 1);
}
