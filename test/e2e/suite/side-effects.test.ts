import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import * as vscode from 'vscode';
import { targetOf, type ServerSpec } from '../../../src/core/config/servers';
import type { JournalRecord, SideEffectRecord } from '../../../src/core/model/records';
import { openDownstream } from '../../../src/core/recording/downstream';
import { RecordingTransport } from '../../../src/core/recording/transport';
import { listSegments, readSegment } from '../../../src/core/store/journal';
import { storeLayout } from '../../../src/core/store/layout';
import type { Store } from '../../../src/core/store/store';
import type { FlightApi } from '../../../src/extension/extension';
import { until, workspaceRoot } from './workspace';

/**
 * The side-effect ledger in a real VS Code: server-filesystem, reached through the window's
 * recorder, writes a file in the test workspace; VS Code's file watcher (in the extension) sees it
 * and the store attributes it to the call. A file the user saves in the editor is not an effect.
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';

function filesystemSpec(): ServerSpec {
  const text = fs.readFileSync(path.join(workspaceRoot(), '.vscode', 'mcp.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const fsServer = (JSON.parse(text) as { servers: Record<string, { command: string; args: string[] }> }).servers.filesystem!;
  return { name: 'e2e-filesystem', type: 'stdio', command: fsServer.command, args: fsServer.args };
}

suite('side effects seen by VS Code\'s file watcher', function () {
  this.timeout(120_000);
  let api: FlightApi;
  let store: Store;
  let client: Client;

  const effectRecords = (): SideEffectRecord[] => {
    const out: SideEffectRecord[] = [];
    for (const file of listSegments(storeLayout(api.flight.storeRoot!))) {
      for (const { record } of readSegment(file, 0, { final: false }).records) if ((record as JournalRecord).type === 'side_effect') out.push(record as SideEffectRecord);
    }
    return out;
  };

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<FlightApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    const recorder = api.flight.recorder();
    store = await api.flight.store();
    // The watcher is live once a change made now is journaled (no call is in flight: unattributed).
    const probe = path.join(workspaceRoot(), 'e2e-watcher-probe.txt');
    fs.writeFileSync(probe, 'probe');
    await until('the watcher to report the probe', () => effectRecords().some((r) => r.path === probe));
    const spec = filesystemSpec();
    client = new Client({ name: 'e2e-effects', version: '1.0.0' });
    await client.connect(new RecordingTransport({ recorder, server: targetOf(spec), spec, downstream: (connection) => openDownstream(spec, connection) }));
  });

  suiteTeardown(async () => {
    await client?.close();
  });

  test('a file written by server-filesystem is an effect of the call, named in its arguments', async () => {
    const target = path.join(workspaceRoot(), 'written-by-tool.txt');
    await client.callTool({ name: 'write_file', arguments: { path: target, content: 'from the tool' } });
    const call = await until('the write_file call with its side effect', () => {
      store.catchUp();
      return store.calls({ server: 'e2e-filesystem', tool: 'write_file', limit: 10 }).find((c) => c.side_effects?.some((e) => e.path === target));
    });
    const effect = call.side_effects!.find((e) => e.path === target)!;
    assert.equal(effect.kind, 'file_created');
    assert.equal(effect.attribution, 'named_in_arguments');
    assert.ok(effect.in_flight?.includes(call.call_id));
    assert.equal(effectRecords().find((r) => r.path === target)?.watcher, 'vscode');
  });

  test('the user\'s own editor save is not an effect', async () => {
    const mine = path.join(workspaceRoot(), 'edited-by-user.txt');
    fs.writeFileSync(mine, 'first\n');
    await until('the creation to be seen', () => effectRecords().some((r) => r.path === mine));
    // The watcher may report the creation as created then changed: let it drain (a later change seen).
    const drained = path.join(workspaceRoot(), 'before-the-save.txt');
    fs.writeFileSync(drained, 'marker');
    await until('the first marker to be seen', () => effectRecords().some((r) => r.path === drained));
    const before = effectRecords().filter((r) => r.path === mine).length;
    const savedAt = new Date().toISOString();
    const doc = await vscode.workspace.openTextDocument(mine);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(1, 0), 'typed by the user\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(await doc.save());
    assert.match(fs.readFileSync(mine, 'utf8'), /typed by the user/);
    // A change made after the save is seen: by then the save's own events have been handled.
    const marker = path.join(workspaceRoot(), 'after-the-save.txt');
    fs.writeFileSync(marker, 'marker');
    await until('the marker to be seen', () => effectRecords().some((r) => r.path === marker));
    const mineNow = effectRecords().filter((r) => r.path === mine);
    assert.equal(mineNow.length, before, `no effect recorded for the saved file (saved at ${savedAt}): ${JSON.stringify(mineNow.map((r) => [r.effect, r.ts]))}`);
  });

  test('the store itself never appears', () => {
    assert.ok(effectRecords().length >= 3);
    for (const r of effectRecords()) assert.ok(!r.path.includes('.mcp-flight'), r.path);
  });
});
