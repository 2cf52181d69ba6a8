import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite, suiteSetup, test } from 'mocha';
import * as vscode from 'vscode';
import { verifyExport } from '../../../src/core/audit/verify';
import type { ServerSpec } from '../../../src/core/config/servers';
import type { AuditVerification } from '../../../src/extension/commands/verify';
import type { FlightApi } from '../../../src/extension/extension';
import { everythingSpec } from './workspace';

/**
 * Verify Audit Trail in a real VS Code: a call recorded through the window's endpoint (the real
 * server-everything behind it) verifies as intact — the live writer seals it first — and a byte
 * flipped in a journal segment is reported as the first bad record, with its line and why.
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';
const SERVER = 'verify-everything';

/** One JSON-RPC POST to the recorder's streamable-HTTP endpoint; the answer may come as JSON or as an SSE stream. */
async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; session?: string; messages: unknown[] }> {
  const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify(body) });
  const text = await res.text();
  const messages = (res.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)) as unknown)
    : text.trim()
      ? [JSON.parse(text) as unknown]
      : [];
  return { status: res.status, session: res.headers.get('mcp-session-id') ?? undefined, messages };
}

suite('Verify Audit Trail', function () {
  this.timeout(120_000);
  let api: FlightApi;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<FlightApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    await api.flight.store();
  });

  test('a recorded call verifies as intact once the live writer sealed it; the checks that ran are listed', async () => {
    const handle = await api.flight.serve(everythingSpec(SERVER));
    const init = await post(handle.url, handle.headers, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'verify-e2e', version: '1' } } });
    assert.equal(init.status, 200);
    const headers = { ...handle.headers, ...(init.session ? { 'mcp-session-id': init.session, 'mcp-protocol-version': '2025-06-18' } : {}) };
    await post(handle.url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = await post(handle.url, headers, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'verify me' } } });
    assert.match(JSON.stringify(call.messages), /Echo: verify me/);
    const store = await api.flight.store();
    store.catchUp();
    assert.ok(store.calls({ server: SERVER, tool: 'echo', limit: 10 }).some((c) => c.input_summary.includes('verify me')), 'the call is in the store');

    const result = (await vscode.commands.executeCommand('mcpFlight.verifyAuditTrail')) as AuditVerification;
    assert.ok(result, 'the command returns its result');
    assert.equal(result.verdict, 'intact', result.text);
    assert.equal(result.intact, true);
    assert.equal(result.unsealed, 0, 'the live writer sealed what it had recorded');
    assert.equal(result.first, undefined);
    const ids = result.checks.map((c) => c.id);
    for (const id of ['key', 'hash-chain', 'hmac', 'signatures', 'checkpoints', 'external', 'sealed']) assert.ok(ids.includes(id), `check ${id} ran: ${ids.join(', ')}`);
    assert.ok(result.checks.every((c) => c.status === 'pass'), result.text);
    // The report is shown as a read-only document.
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.scheme, 'mcp-flight');
    assert.match(doc!.getText(), /Checks:[\s\S]*hash-chain[\s\S]*Result: /);
  });

  test('exporting the live session seals it first: the export verifies as intact, not unsealed', async () => {
    // Something recorded after the last seal, so there is something to seal.
    const handle = await api.flight.serve(everythingSpec(SERVER));
    const init = await post(handle.url, handle.headers, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'verify-e2e', version: '1' } } });
    assert.equal(init.status, 200);
    const sessionId = api.flight.sessionId;
    assert.ok(sessionId, 'this window is recording');
    await api.flight.refresh();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-e2e-verify-export-'));
    try {
      for (const name of ['session.json', 'session.jsonl']) {
        const target = vscode.Uri.file(path.join(dir, name));
        await vscode.commands.executeCommand('mcpFlight.exportSession', { session_id: sessionId }, target);
        const report = verifyExport(target.fsPath);
        assert.equal(report.verdict, 'intact', `${name}: ${report.summary}`);
        assert.equal(report.stats.unsealed, 0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a byte flipped in a journal segment: not intact, the first bad record named with its line and why', async () => {
    const journalDir = path.join(api.flight.storeRoot!, 'journal');
    const segments = fs.readdirSync(journalDir).filter((f) => f.endsWith('.jsonl')).sort();
    assert.ok(segments.length > 0);
    // The echo call's request line, in whichever segment holds it.
    let target: { file: string; line: number; offset: number } | undefined;
    for (const name of segments) {
      const lines = fs.readFileSync(path.join(journalDir, name), 'utf8').split('\n');
      let offset = 0;
      for (let i = 0; i < lines.length; i++) {
        const at = lines[i]!.indexOf('verify me');
        if (at !== -1 && lines[i]!.includes('"tools/call"')) {
          target = { file: name, line: i + 1, offset: offset + Buffer.byteLength(lines[i]!.slice(0, at)) };
          break;
        }
        offset += Buffer.byteLength(lines[i]!) + 1;
      }
      if (target) break;
    }
    assert.ok(target, 'the echo request is in a segment');
    const file = path.join(journalDir, target.file);
    const fd = fs.openSync(file, 'r+');
    const original = Buffer.alloc(1);
    try {
      fs.readSync(fd, original, 0, 1, target.offset);
      fs.writeSync(fd, Buffer.from([original[0]! ^ 0x01]), 0, 1, target.offset); // "v" → "w"
      const result = (await vscode.commands.executeCommand('mcpFlight.verifyAuditTrail')) as AuditVerification;
      assert.equal(result.intact, false);
      assert.equal(result.verdict, 'tampered', result.text);
      assert.ok(result.first, result.text);
      assert.equal(result.first.kind, 'modified', result.text);
      assert.equal(result.first.file, target.file);
      assert.equal(result.first.line, target.line);
      assert.match(result.first.text, /^modified /);
      assert.match(result.text, /First problem: modified/);
    } finally {
      // Put the byte back: later suites read this store.
      fs.writeSync(fd, original, 0, 1, target.offset);
      fs.closeSync(fd);
    }
    const again = (await vscode.commands.executeCommand('mcpFlight.verifyAuditTrail')) as AuditVerification;
    assert.equal(again.verdict, 'intact', again.text);
  });
});
