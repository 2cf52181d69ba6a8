import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Paths of the real peers the tests talk to, and throwaway folders. */
export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
export const NODE = process.execPath;
export const EVERYTHING = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
export const FILESYSTEM = path.join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');

export function fixture(name: string): string {
  return path.join(ROOT, 'test', 'fixtures', name);
}

export function tempDir(prefix = 'mcpf-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The built CLI is what users run: integration tests go through it, so it must be built first. */
export function requireBuiltCli(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it)`);
}
