import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { suite, suiteSetup, test } from 'mocha';
import * as vscode from 'vscode';
import type { CallComparison, SessionDiffReport } from '../../../src/core/analysis/diff';
import type { CallRow, Store } from '../../../src/core/store/store';
import type { FlightApi } from '../../../src/extension/extension';
import { until, workspaceRoot } from './workspace';

/**
 * Compare in a real VS Code: two sessions recorded by `mcp-flight record` (the SDK's Client and
 * server-everything) into the workspace's store, then "Select for Compare" / "Compare with
 * Selected Call" (VS Code's diff editor) and "Compare Sessions…" (the report document).
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';

function everything(): { command: string; args: string[] } {
  const text = fs.readFileSync(path.join(workspaceRoot(), '.vscode', 'mcp.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  return (JSON.parse(text) as { servers: Record<string, { command: string; args: string[] }> }).servers.everything!;
}

function repoRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'esbuild.mjs'))) return dir;
  }
  throw new Error('repository root not found');
}

/**
 * The SDK gives a stdio child a minimal environment; the recorders here must see
 * MCP_FLIGHT_HOME like the extension does, or they sign with other keys than the store's.
 */
function inheritedEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
}

async function record(storeRoot: string, name: string, calls: Array<{ name: string; arguments: Record<string, unknown> }>): Promise<void> {
  const server = everything();
  const client = new Client({ name: 'diff-e2e-agent', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: server.command, args: [path.join(repoRoot(), 'dist', 'cli.js'), 'record', '--store', storeRoot, '--name', name, '--', server.command, ...server.args], stderr: 'ignore', env: inheritedEnv() }));
  for (const c of calls) await client.callTool(c);
  await client.close();
}

suite('compare calls and sessions', function () {
  this.timeout(120_000);
  let store: Store;
  let echoA: CallRow;
  let echoB: CallRow;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<FlightApi>(EXTENSION_ID);
    assert.ok(ext);
    const api = await ext.activate();
    store = await api.flight.store();
    const server = `diff-everything-${process.pid}`;
    await record(store.root, server, [{ name: 'echo', arguments: { message: 'alpha' } }]);
    await record(store.root, server, [
      { name: 'echo', arguments: { message: 'beta' } },
      { name: 'get-sum', arguments: { a: 2, b: 3 } },
    ]);
    const echoes = await until('both recorded sessions in the store', () => {
      store.catchUp();
      const calls = store.calls({ server, tool: 'echo', limit: 10, order: 'asc' });
      return calls.length === 2 && calls.every((c) => c.outcome === 'success') && store.session(calls[1]!.session_id)?.ended ? calls : undefined;
    });
    [echoA, echoB] = echoes as [CallRow, CallRow];
    assert.notEqual(echoA.session_id, echoB.session_id);
  });

  test('Select for Compare, then Compare with Selected Call, opens the diff editor on both calls', async () => {
    await vscode.commands.executeCommand('mcpFlight.selectForCompare', { kind: 'call', call: echoA });
    const cmp = (await vscode.commands.executeCommand('mcpFlight.compareWithSelected', { kind: 'call', call: echoB })) as CallComparison;
    assert.deepEqual(cmp.changes, ['arguments', 'result']);
    const tab = await until('the diff editor', () => {
      const t = vscode.window.tabGroups.activeTabGroup.activeTab;
      return t?.input instanceof vscode.TabInputTextDiff ? t : undefined;
    });
    const input = tab.input as vscode.TabInputTextDiff;
    assert.equal(input.original.scheme, 'mcp-flight');
    assert.equal(input.modified.scheme, 'mcp-flight');
    assert.match(tab.label, /echo .*↔ echo/);
    const left = JSON.parse((await vscode.workspace.openTextDocument(input.original)).getText()) as { tool: string; arguments: unknown; result: { content: Array<{ text: string }> }; call_id: string };
    const right = JSON.parse((await vscode.workspace.openTextDocument(input.modified)).getText()) as typeof left;
    assert.deepEqual([left.tool, left.arguments, left.call_id], ['echo', { message: 'alpha' }, echoA.call_id]);
    assert.deepEqual([right.tool, right.arguments, right.call_id], ['echo', { message: 'beta' }, echoB.call_id]);
    assert.equal(left.result.content[0]!.text, 'Echo: alpha');
    assert.equal(right.result.content[0]!.text, 'Echo: beta');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('Compare Sessions… opens the report of calls added, missing and changed', async () => {
    const report = (await vscode.commands.executeCommand('mcpFlight.compareSessions', { session_id: echoA.session_id }, echoB.session_id)) as SessionDiffReport;
    assert.equal(report.identical, false);
    assert.deepEqual(report.added.map((c) => c.tool), ['get-sum']);
    assert.deepEqual(report.missing, []);
    assert.deepEqual(report.changed.map((p) => [p.a.tool, p.changes]), [['echo', ['arguments', 'result']]]);
    const editor = await until('the report document', () => {
      const e = vscode.window.activeTextEditor;
      return e?.document.uri.scheme === 'mcp-flight' && /Different:/.test(e.document.getText()) ? e : undefined;
    });
    const text = editor.document.getText();
    assert.match(text, /^Different: 1 added, 0 missing, 1 changed, 0 slower/m);
    assert.match(text, /arguments {2}changed {2}\/message {2}"alpha" → "beta"/);
    assert.match(text, /\+ diff-everything-\d+ · get-sum/);
    assert.equal(editor.document.languageId, 'plaintext');
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('Compare Sessions… takes an exported file as the other side', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-e2e-diff-'));
    const target = vscode.Uri.file(path.join(dir, 'b.jsonl'));
    await vscode.commands.executeCommand('mcpFlight.exportSession', { session_id: echoB.session_id }, target);
    const report = (await vscode.commands.executeCommand('mcpFlight.compareSessions', { session_id: echoB.session_id }, target)) as SessionDiffReport;
    assert.equal(report.identical, true, 'a session and its own export are identical');
    assert.match(report.b.source, /^file:.*b\.jsonl$/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
