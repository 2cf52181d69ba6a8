import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Commands, McpProviderId, Settings, Views } from '../../src/extension/ids';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));

test('every command id in code is contributed, and every contributed command is in code', () => {
  const contributed = (pkg.contributes.commands as Array<{ command: string }>).map((c) => c.command).sort();
  assert.deepEqual(contributed, Object.values(Commands).sort());
});

test('settings in code match the contributed configuration', () => {
  const contributed = Object.keys(pkg.contributes.configuration.properties).sort();
  const inCode = Object.entries(Settings).filter(([k]) => k !== 'section').map(([, v]) => `${Settings.section}.${v}`).sort();
  assert.deepEqual(contributed, inCode);
});

test('views, the MCP provider and its activation event are contributed', () => {
  assert.ok(pkg.contributes.viewsContainers.activitybar.some((c: { id: string }) => c.id === Views.container));
  assert.ok(pkg.contributes.views[Views.container].some((v: { id: string }) => v.id === Views.sessions));
  assert.deepEqual(pkg.contributes.mcpServerDefinitionProviders.map((p: { id: string }) => p.id), [McpProviderId]);
  assert.ok(pkg.activationEvents.includes(`onMcpCollection:${McpProviderId}`));
});

test('menus only name contributed commands', () => {
  const known = new Set(Object.values(Commands) as string[]);
  for (const [menu, items] of Object.entries(pkg.contributes.menus as Record<string, Array<{ command: string }>>)) {
    for (const item of items) assert.ok(known.has(item.command), `${menu}: ${item.command}`);
  }
});

test('engines.vscode is not newer than the VS Code the tests run in (code-server 1.139)', () => {
  const m = /\^?1\.(\d+)/.exec(pkg.engines.vscode);
  assert.ok(m && Number(m[1]) <= 139);
  assert.ok(/1\.(\d+)/.exec(pkg.devDependencies['@types/vscode']) && Number(/1\.(\d+)/.exec(pkg.devDependencies['@types/vscode'])![1]) <= Number(m[1]));
});

test('security settings are machine-scoped: a cloned repository cannot switch them', () => {
  const props = pkg.contributes.configuration.properties as Record<string, { scope?: string }>;
  const security = Object.keys(props).filter((k) => k.startsWith(`${Settings.section}.security.`));
  assert.deepEqual(security.sort(), [Settings.enforceAlerts, Settings.highFrequencyThreshold, Settings.highFrequencyWindowSeconds, Settings.notifyMinSeverity].map((k) => `${Settings.section}.${k}`).sort());
  for (const k of security) assert.equal(props[k]!.scope, 'machine', k);
});
