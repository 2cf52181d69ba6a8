/**
 * Throwaway copies of test/e2e/workspace/ for the real-VS-Code tests: the template's
 * `.vscode/mcp.json` names the two reference servers with placeholders that are filled in here
 * with absolute paths (`__NODE__`, `__REPO__`, `__WORKSPACE__`) in every text file.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT, removeOnExit } from './code-server';

export const WORKSPACE_TEMPLATE = path.join(__dirname, 'workspace');

export interface Workspace {
  dir: string;
  /** Removes the copy now. (Otherwise it goes when the process exits, Ctrl+C included.) */
  remove(): void;
  /** Keeps the copy after the process exits (for debugging). */
  keep(): void;
}

export function prepareWorkspace(opts: { template?: string; node?: string; prefix?: string } = {}): Workspace {
  // realpath: VS Code reports workspace folders by their real path (os.tmpdir() may be a symlink).
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix ?? 'mcpf-e2e-ws-')));
  fs.cpSync(opts.template ?? WORKSPACE_TEMPLATE, dir, { recursive: true });
  const values: Record<string, string> = {
    __NODE__: opts.node ?? process.execPath,
    __REPO__: REPO_ROOT,
    __WORKSPACE__: dir,
  };
  // JSON-escaped: the placeholders sit inside JSON(C) strings.
  const fill = (text: string) => text.replace(/__(NODE|REPO|WORKSPACE)__/g, (m) => JSON.stringify(values[m]).slice(1, -1));
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(json|jsonc|md|txt)$/.test(e.name)) {
        const text = fs.readFileSync(p, 'utf8');
        const filled = fill(text);
        if (filled !== text) fs.writeFileSync(p, filled);
      }
    }
  };
  walk(dir);
  const forget = removeOnExit(dir);
  return {
    dir,
    remove: () => {
      fs.rmSync(dir, { recursive: true, force: true });
      forget();
    },
    keep: () => void forget(),
  };
}
