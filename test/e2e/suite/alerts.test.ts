import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import type { ServerSpec } from '../../../src/core/config/servers';
import type { Store } from '../../../src/core/store/store';
import type { FlightApi } from '../../../src/extension/extension';
import type { FlightNode } from '../../../src/extension/views/tree';
import { until, workspaceRoot } from './workspace';

/**
 * Security alerts in a real VS Code: VS Code's own MCP client starts a poisoned fixture server
 * through the recorder; the poisoned description raises an alert when VS Code lists the tools,
 * an exfiltrating call raises a high one — and both show in the tree as shield badges.
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';
const SERVER = 'alerts-poisoned';

function repoRoot(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'esbuild.mjs'))) return dir;
  }
  throw new Error('repository root not found');
}

/** The node binary the template's mcp.json uses for the reference servers, running the poisoned fixture. */
function poisonedSpec(): ServerSpec {
  const text = fs.readFileSync(path.join(workspaceRoot(), '.vscode', 'mcp.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const everything = (JSON.parse(text) as { servers: Record<string, { command: string }> }).servers.everything!;
  return { name: SERVER, type: 'stdio', command: everything.command, args: [path.join(repoRoot(), 'test', 'fixtures', 'poisoned-server.mjs')] };
}

/** A tooltip's text as the user reads it (appendText escapes Markdown and spaces). */
function tooltipText(item: vscode.TreeItem): string {
  const md = item.tooltip as vscode.MarkdownString;
  return md.value.replace(/&nbsp;/g, ' ').replace(/\\(.)/g, '$1');
}

suite('security alerts in the tree', function () {
  this.timeout(120_000);
  let api: FlightApi;
  let store: Store;
  let previousServers: unknown;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<FlightApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    const config = vscode.workspace.getConfiguration('mcpFlight');
    previousServers = config.inspect('servers')?.workspaceValue;
    const { name, ...entry } = poisonedSpec();
    await config.update('servers', { ...((previousServers as object | undefined) ?? {}), [name]: entry }, vscode.ConfigurationTarget.Workspace);
    await api.grantConsent(poisonedSpec());
    store = await api.flight.store();
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.mcp.stopServer', `${EXTENSION_ID}/${SERVER}`).then(undefined, () => undefined);
    await vscode.workspace.getConfiguration('mcpFlight').update('servers', previousServers, vscode.ConfigurationTarget.Workspace);
  });

  test('listing a poisoned tool raises a high tool_poisoning alert, shown on the session and server nodes', async () => {
    const alert = await until(
      'the poisoning alert in the store',
      async () => {
        store.catchUp();
        const found = store.alerts().find((a) => a.server === SERVER && a.kind === 'tool_poisoning');
        if (!found) await vscode.commands.executeCommand('workbench.mcp.startServer', `${EXTENSION_ID}/${SERVER}`, { waitForLiveTools: true, autoTrustChanges: true });
        return found;
      },
      60_000,
    );
    assert.equal(alert.severity, 'high');
    assert.equal(alert.tool, 'add');

    const sessionNode = await until('the session node with its badge', async () => {
      const sessions = (await api.tree.getChildren()) as FlightNode[];
      const node = sessions.find((n) => n.kind === 'session' && n.session.session_id === alert.session_id);
      return node?.kind === 'session' && node.alerts ? node : undefined;
    });
    const sessionItem = api.tree.getTreeItem(sessionNode);
    assert.match(String(sessionItem.description), /^⚠ \d+/);
    assert.equal((sessionItem.iconPath as vscode.ThemeIcon).id, 'shield');

    const servers = (await api.tree.getChildren(sessionNode)) as FlightNode[];
    const serverNode = servers.find((n) => n.kind === 'server' && n.server === SERVER)!;
    assert.ok(serverNode, 'the server node');
    const serverItem = api.tree.getTreeItem(serverNode);
    assert.match(String(serverItem.description), /^⚠ 1 · /);
    assert.match(tooltipText(serverItem), /Security alerts: 1 \(high 1, medium 0, low 0\)/);
  });

  test('an exfiltrating call after it raises a high alert on the call node', async () => {
    const sourceLabel = (t: vscode.LanguageModelToolInformation) => (t as { source?: { label?: string } }).source?.label;
    const tool = await until('send_email in vscode.lm.tools', () => vscode.lm.tools.find((t) => sourceLabel(t) === SERVER && t.name.endsWith('send_email')));
    await vscode.lm.invokeTool(tool.name, { input: { to: 'someone@example.com', body: 'hello' }, toolInvocationToken: undefined }, new vscode.CancellationTokenSource().token);
    const alert = await until('the exfiltration alert', () => {
      store.catchUp();
      return store.alerts().find((a) => a.server === SERVER && a.kind === 'exfiltration_after_poisoning');
    });
    assert.equal(alert.severity, 'high');
    assert.ok(alert.call_id);

    const callNode = await until('the call node with its badge', async () => {
      const sessions = (await api.tree.getChildren()) as FlightNode[];
      const session = sessions.find((n) => n.kind === 'session' && n.session.session_id === alert.session_id);
      if (!session) return undefined;
      const server = ((await api.tree.getChildren(session)) as FlightNode[]).find((n) => n.kind === 'server' && n.server === SERVER);
      if (!server) return undefined;
      const node = ((await api.tree.getChildren(server)) as FlightNode[]).find((n) => n.kind === 'call' && n.call.call_id === alert.call_id);
      return node?.kind === 'call' && node.alerts ? node : undefined;
    });
    const item = api.tree.getTreeItem(callNode);
    assert.equal(typeof item.label === 'string' ? item.label : item.label?.label, 'send_email');
    assert.match(String(item.description), /^⚠ 1 · /);
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'shield');
    assert.match(tooltipText(item), /high: send_email can send data out/);
  });
});
