import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const GOLDEN_DIR = path.join(__dirname, '..', 'golden');

/** Compares text with test/golden/NAME; UPDATE_GOLDEN=1 (re)writes the file instead. */
export function assertGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  const update = process.env.UPDATE_GOLDEN === '1';
  if (update) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  if (!fs.existsSync(file)) assert.fail(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to create it`);
  const expected = fs.readFileSync(file, 'utf8');
  if (actual === expected) return;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const i = a.findIndex((line, n) => line !== e[n]);
  assert.fail(`${name} differs from the golden file at line ${i + 1} (run with UPDATE_GOLDEN=1 to accept):\n  expected: ${(e[i] ?? '<end of file>').slice(0, 300)}\n  actual:   ${(a[i] ?? '<end of file>').slice(0, 300)}`);
}
