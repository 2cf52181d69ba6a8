import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Every byte stored under `dir` (journal, index, audit files…), for "never on disk" checks. */
export function bytesUnder(dir: string): Buffer {
  return Buffer.concat(filesUnder(dir).map((f) => fs.readFileSync(f)));
}
