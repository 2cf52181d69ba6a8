import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unwrapConfig } from './wrap';

/**
 * The stable launcher other clients' wrapped servers run: `~/.mcp-flight/bin/mcp-flight`, with
 * the CLI bundle copied beside it, so upgrading or moving the extension never breaks their
 * configs. The files wrapped are listed in `~/.mcp-flight/wrapped.json`, so unwrapping needs no
 * editor — the uninstall hook runs it too.
 */

export function flightHome(): string {
  return path.join(os.homedir(), '.mcp-flight');
}

export function launcherPath(): string {
  return path.join(flightHome(), 'bin', process.platform === 'win32' ? 'mcp-flight.cmd' : 'mcp-flight');
}

export function wrappedListPath(): string {
  return path.join(flightHome(), 'wrapped.json');
}

/**
 * Keeps the launcher current: the CLI bundle is copied out of the extension, so the launcher
 * survives the extension being upgraded or moved. It prefers a `node` on PATH and falls back to
 * the editor's own runtime in Node mode.
 */
export function installLauncher(extensionPath: string): string {
  const home = flightHome();
  const lib = path.join(home, 'lib');
  fs.mkdirSync(lib, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(home, 'bin'), { recursive: true, mode: 0o700 });
  const source = path.join(extensionPath, 'dist', 'cli.js');
  const target = path.join(lib, 'cli.js');
  const current = fs.existsSync(target) ? fs.readFileSync(target) : undefined;
  const fresh = fs.readFileSync(source);
  if (!current || !current.equals(fresh)) {
    fs.writeFileSync(`${target}.tmp`, fresh, { mode: 0o600 });
    fs.renameSync(`${target}.tmp`, target);
  }
  for (const extra of ['sql-wasm.wasm']) {
    const from = path.join(extensionPath, 'dist', extra);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(lib, extra));
  }
  const launcher = launcherPath();
  const script =
    process.platform === 'win32'
      ? `@echo off\r\nwhere node >nul 2>nul && (node "${target}" %*) || (set ELECTRON_RUN_AS_NODE=1 && "${process.execPath}" "${target}" %*)\r\n`
      : `#!/bin/sh\n# MCP Flight Recorder launcher: records an MCP server for another client. Managed by the VS Code extension.\nif command -v node >/dev/null 2>&1; then exec node "${target}" "$@"; fi\nELECTRON_RUN_AS_NODE=1 exec "${process.execPath}" "${target}" "$@"\n`;
  if (!fs.existsSync(launcher) || fs.readFileSync(launcher, 'utf8') !== script) fs.writeFileSync(launcher, script, { mode: 0o700 });
  return launcher;
}

export function readWrappedList(): string[] {
  try {
    return JSON.parse(fs.readFileSync(wrappedListPath(), 'utf8')) as string[];
  } catch {
    return [];
  }
}

export function writeWrappedList(files: string[]): void {
  fs.mkdirSync(flightHome(), { recursive: true, mode: 0o700 });
  fs.writeFileSync(wrappedListPath(), JSON.stringify([...new Set(files)], null, 2) + '\n', { mode: 0o600 });
}

/** Unwraps every file we wrapped; used by the command and by the uninstall hook (no vscode there). */
export function unwrapAll(files = readWrappedList()): Array<{ file: string; servers: string[] }> {
  const done: Array<{ file: string; servers: string[] }> = [];
  for (const file of files) {
    try {
      const text = fs.readFileSync(file, 'utf8');
      const r = unwrapConfig(text);
      if (r.unwrapped.length) {
        fs.writeFileSync(`${file}.mcp-flight-backup-${Date.now()}`, text);
        fs.writeFileSync(file, r.text);
      }
      done.push({ file, servers: r.unwrapped });
    } catch {
      // the file is gone or unreadable: nothing left to unwrap there
    }
  }
  writeWrappedList(readWrappedList().filter((f) => !files.includes(f)));
  return done;
}

