// Installs the project's npm dependencies when they are missing or stale, so that `npm test`
// and `npm start` work on a fresh clone with nothing but Node and npm. A stamp holds the hash
// of package-lock.json; when it matches, this costs one file read.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function ensureDeps() {
  const lock = path.join(root, 'package-lock.json');
  const stamp = path.join(root, 'node_modules', '.mcp-flight-deps-stamp');
  const hash = createHash('sha256').update(fs.readFileSync(lock)).digest('hex');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) return;
  console.error('[setup] installing npm dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`npm ci failed with exit code ${r.status}`);
  fs.writeFileSync(stamp, hash);
}

/** Runs a command in the repository, inheriting output; throws on failure. */
export function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    const e = new Error(`${cmd} ${args.join(' ')} failed with exit code ${r.status ?? r.signal}`);
    e.exitCode = r.status ?? 1;
    throw e;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureDeps();
