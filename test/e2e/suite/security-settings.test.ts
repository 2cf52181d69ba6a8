import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits, modify } from 'jsonc-parser';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import { extensionRedactionFile } from '../../../src/core/audit/redaction-file';
import type { ServerSpec } from '../../../src/core/config/servers';
import type { FlightApi } from '../../../src/extension/extension';
import { everythingSpec, until, workspaceRoot } from './workspace';

/**
 * Security settings in a real VS Code: the user's redaction settings (extra pattern, allowed key)
 * apply to what the window records, while a cloned repository's .vscode/settings.json can neither
 * lower the capture level nor allow a key of its own — checked on the journal's bytes.
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';
const SERVER = 'settings-everything';

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; session?: string; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(body) });
  return { status: res.status, session: res.headers.get('mcp-session-id') ?? undefined, text: await res.text() };
}

function journalBytes(): Buffer {
  const dir = path.join(workspaceRoot(), '.mcp-flight', 'journal');
  return Buffer.concat(fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => fs.readFileSync(path.join(dir, f))));
}

suite('security settings', function () {
  this.timeout(120_000);
  let api: FlightApi;
  const settingsFile = () => path.join(workspaceRoot(), '.vscode', 'settings.json');
  let savedWorkspaceSettings = '';
  // The extension host's $MCP_FLIGHT_HOME (the user's ~/.mcp-flight unless set): the mirror is put back as it was.
  const mirrorFile = extensionRedactionFile();
  let savedMirror: string | undefined;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<FlightApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    savedWorkspaceSettings = fs.readFileSync(settingsFile(), 'utf8');
    savedMirror = fs.existsSync(mirrorFile) ? fs.readFileSync(mirrorFile, 'utf8') : undefined;
  });

  suiteTeardown(async () => {
    fs.writeFileSync(settingsFile(), savedWorkspaceSettings);
    const c = vscode.workspace.getConfiguration('mcpFlight');
    await c.update('redaction.extraPatterns', undefined, vscode.ConfigurationTarget.Global);
    await c.update('redaction.allowKeys', undefined, vscode.ConfigurationTarget.Global);
    api.flight.applySettings();
    // The settings change above rewrites the mirror asynchronously; give it a moment, then put it back.
    await new Promise((r) => setTimeout(r, 500));
    if (savedMirror === undefined) fs.rmSync(mirrorFile, { force: true });
    else fs.writeFileSync(mirrorFile, savedMirror, { mode: 0o600 });
  });

  test('user redaction settings apply; the workspace\'s capture level and allow-list are ignored', async () => {
    const c = vscode.workspace.getConfiguration('mcpFlight');
    await c.update('redaction.extraPatterns', [{ kind: 'acme_key', regex: 'ACME-[0-9A-F]{16}' }], vscode.ConfigurationTarget.Global);
    await c.update('redaction.allowKeys', ['session_token'], vscode.ConfigurationTarget.Global);
    // Mirrored for the recorders wrapped around other clients' servers (outside VS Code).
    await until('the redaction settings mirrored', () => fs.existsSync(mirrorFile) && fs.readFileSync(mirrorFile, 'utf8').includes('acme_key'));
    assert.deepEqual(JSON.parse(fs.readFileSync(mirrorFile, 'utf8')), { extraPatterns: [{ kind: 'acme_key', regex: 'ACME-[0-9A-F]{16}' }], allowKeys: ['session_token'], allowValues: [] });
    assert.equal(fs.statSync(mirrorFile).mode & 0o777, 0o600);
    // What a cloned repository would commit: recording lowered to metadata, a key of its own allowed,
    // and, as a sentinel that VS Code has read the file, a harmless window-scoped setting.
    let text = savedWorkspaceSettings;
    for (const [key, value] of [
      ['mcpFlight.captureLevel', 'metadata'],
      ['mcpFlight.redaction.allowKeys', ['api_token']],
      ['mcpFlight.retention.maxAgeDays', 0.0001],
      ['mcpFlight.notifyOnFailure', false],
    ] as const) {
      text = applyEdits(text, modify(text, [key], value, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
    }
    fs.writeFileSync(settingsFile(), text);
    await until('VS Code to read the workspace settings', () => vscode.workspace.getConfiguration('mcpFlight').get<boolean>('notifyOnFailure') === false);
    // VS Code itself drops machine-scoped values from workspace settings.
    const capture = vscode.workspace.getConfiguration('mcpFlight').inspect<string>('captureLevel');
    assert.notEqual(vscode.workspace.getConfiguration('mcpFlight').get('captureLevel'), 'metadata', `inspect: ${JSON.stringify(capture)}`);
    // … so the extension reads the workspace's settings file itself, to say what it ignores.
    assert.deepEqual(api.ignoredWorkspaceSettings(), ['mcpFlight.captureLevel', 'mcpFlight.redaction.allowKeys', 'mcpFlight.retention.maxAgeDays']);
    api.flight.applySettings();

    const handle = await api.flight.serve(everythingSpec(SERVER));
    const init = await post(handle.url, handle.headers, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'settings-e2e', version: '1' } } });
    assert.equal(init.status, 200);
    const headers = { ...handle.headers, ...(init.session ? { 'mcp-session-id': init.session, 'mcp-protocol-version': '2025-06-18' } : {}) };
    await post(handle.url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
    const acme = `ACME-${Date.now().toString(16).toUpperCase().padStart(16, '0').slice(-16)}`;
    const sessionToken = `st-${Date.now().toString(36)}-session`;
    const apiToken = `at-${Date.now().toString(36)}-apitoken`;
    const call = await post(handle.url, headers, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: `settings ${acme} check`, session_token: sessionToken, api_token: apiToken } } });
    assert.match(call.text, new RegExp(`Echo: settings ${acme} check`), 'forwarded untouched');

    const bytes = await until('the call in the journal', () => {
      const b = journalBytes();
      return b.includes(Buffer.from('settings [REDACTED:acme_key:')) ? b : undefined;
    });
    assert.ok(!bytes.includes(Buffer.from(acme)), 'the user\'s extra pattern redacted the ACME key on disk');
    assert.ok(bytes.includes(Buffer.from(sessionToken)), 'the user\'s allowed key kept its value');
    assert.ok(!bytes.includes(Buffer.from(apiToken)), 'the workspace\'s allowed key was ignored: still redacted');
    // Recorded in full (the message text is in the journal): the workspace's "metadata" was ignored.
    assert.ok(bytes.includes(Buffer.from('"session_token"')), 'arguments recorded in full');

    fs.writeFileSync(settingsFile(), savedWorkspaceSettings);
    await until('the workspace settings restored', () => vscode.workspace.getConfiguration('mcpFlight').get<boolean>('notifyOnFailure') === true);
    assert.deepEqual(api.ignoredWorkspaceSettings(), []);
    // The workspace's allow-list never reached the mirror either.
    assert.ok(!fs.readFileSync(mirrorFile, 'utf8').includes('api_token'));
  });
});
