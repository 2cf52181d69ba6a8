import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ServerSpec } from '../../../src/core/config/servers';

/** What the extension-host suites share: the test workspace, its reference server, and polling. */

export function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test workspace is open');
  return folder.uri.fsPath;
}

/** server-everything as the template's .vscode/mcp.json launches it (absolute paths), under the name `name`. */
export function everythingSpec(name: string): ServerSpec {
  const text = fs.readFileSync(path.join(workspaceRoot(), '.vscode', 'mcp.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const everything = (JSON.parse(text) as { servers: Record<string, { command: string; args: string[] }> }).servers.everything!;
  return { name, type: 'stdio', command: everything.command, args: everything.args };
}

/** Polls `probe` every 200 ms until it gives a value (not undefined, not false); throws after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
