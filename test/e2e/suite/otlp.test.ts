import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ServerSpec } from '../../../src/core/config/servers';
import type { FlightApi } from '../../../src/extension/extension';
import { everythingSpec } from './workspace';

/**
 * The extension's live OTLP push in a real VS Code: the machine-scoped settings, a local OTLP/HTTP
 * receiver, and the SDK's real Client calling a server through the extension's endpoint.
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';
const SERVER = 'otlp-everything';

type Attr = { key: string; value: { stringValue?: string; intValue?: number | string; boolValue?: boolean } };
type Span = { name: string; attributes: Attr[]; traceId: string; spanId: string; parentSpanId?: string };

suite('OTLP live push from the extension', function () {
  this.timeout(120_000);
  let api: FlightApi;
  let server: http.Server;
  let url = '';
  const spans: Span[] = [];
  const config = () => vscode.workspace.getConfiguration('mcpFlight');

  suiteSetup(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Span[] }> }> };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const ext = vscode.extensions.getExtension<FlightApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
  });

  suiteTeardown(async () => {
    await config().update('otlp.endpoint', undefined, vscode.ConfigurationTarget.Global);
    await api?.flight.stopServer(SERVER).catch(() => undefined);
    await new Promise((r) => server.close(r));
  });

  test('the settings are machine-scoped: a workspace cannot set where traces go', async () => {
    await assert.rejects(Promise.resolve(config().update('otlp.endpoint', 'http://elsewhere.example', vscode.ConfigurationTarget.Workspace)));
    assert.equal(config().inspect('otlp.endpoint')?.workspaceValue, undefined);
  });

  test('a tool call through the extension reaches the collector as an execute_tool span', async () => {
    await config().update('otlp.endpoint', url, vscode.ConfigurationTarget.Global);
    const handle = await api.flight.serve(everythingSpec(SERVER));
    const client = new Client({ name: 'e2e-otlp-agent', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(handle.url), { requestInit: { headers: handle.headers } }));
    await client.callTool({ name: 'echo', arguments: { message: 'otlp e2e trace' } });
    await client.close();
    const attr = (s: Span, k: string) => {
      const v = s.attributes.find((a) => a.key === k)?.value;
      return v?.stringValue ?? v?.intValue ?? v?.boolValue;
    };
    const deadline = Date.now() + 30_000;
    let echo: Span | undefined;
    while (!(echo = spans.find((s) => attr(s, 'gen_ai.tool.name') === 'echo' && attr(s, 'mcp_flight.agent.id') === 'e2e-otlp-agent/1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.ok(echo, `an echo span among ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(echo.name, 'tools/call echo');
    assert.equal(attr(echo, 'mcp.method.name'), 'tools/call');
    assert.equal(attr(echo, 'gen_ai.operation.name'), 'execute_tool');
    assert.equal(attr(echo, 'mcp_flight.server.name'), SERVER);
    assert.equal(attr(echo, 'network.transport'), 'pipe');
    assert.equal(typeof attr(echo, 'mcp.session.id'), 'string', 'the HTTP transport session');
    assert.equal(attr(echo, 'mcp_flight.session.id'), api.flight.sessionId);
    assert.equal(attr(echo, 'gen_ai.tool.call.arguments'), undefined, 'no payload without the opt-in');
    assert.ok(echo.parentSpanId, 'a child of the session span');
  });

  test('Export Session as OpenTelemetry Traces writes OTLP/JSON lines, payloads only when asked', async () => {
    const sessionId = api.flight.sessionId;
    assert.ok(sessionId);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-e2e-otlp-'));
    try {
      const plain = vscode.Uri.file(path.join(dir, 'plain.otlp.jsonl'));
      const full = vscode.Uri.file(path.join(dir, 'full.otlp.jsonl'));
      await vscode.commands.executeCommand('mcpFlight.exportSessionOtlp', { session_id: sessionId }, plain, false);
      await vscode.commands.executeCommand('mcpFlight.exportSessionOtlp', { session_id: sessionId }, full, true);
      const spansIn = (uri: vscode.Uri) =>
        fs
          .readFileSync(uri.fsPath, 'utf8')
          .split('\n')
          .filter(Boolean)
          .flatMap((l) => (JSON.parse(l) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Span[] }> }> }).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
      const isEcho = (s: Span) => s.name === 'tools/call echo';
      const a = spansIn(plain).find(isEcho);
      const b = spansIn(full).find(isEcho);
      assert.ok(a && b);
      assert.equal(a.spanId, b.spanId);
      assert.ok(!a.attributes.some((x) => x.key === 'gen_ai.tool.call.arguments'));
      assert.match(b.attributes.find((x) => x.key === 'gen_ai.tool.call.arguments')?.value.stringValue ?? '', /otlp e2e trace/);
      // The same span as pushed live.
      assert.ok(spans.some((s) => s.spanId === a.spanId && s.traceId === a.traceId));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a new endpoint set during the session gets the whole session so far, then what follows', async () => {
    const second: Span[] = [];
    const other = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Span[] }> }> };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) second.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      await config().update('otlp.endpoint', `http://127.0.0.1:${(other.address() as { port: number }).port}/v1/traces`, vscode.ConfigurationTarget.Global);
      const handle = await api.flight.serve(everythingSpec(SERVER));
      const client = new Client({ name: 'e2e-otlp-agent', version: '2' });
      await client.connect(new StreamableHTTPClientTransport(new URL(handle.url), { requestInit: { headers: handle.headers } }));
      await client.callTool({ name: 'echo', arguments: { message: 'after the switch' } });
      await client.close();
      const agent = (s: Span) => s.attributes.find((a) => a.key === 'mcp_flight.agent.id')?.value.stringValue;
      const tool = (s: Span) => s.attributes.find((a) => a.key === 'gen_ai.tool.name')?.value.stringValue;
      const deadline = Date.now() + 30_000;
      const both = () => second.some((s) => tool(s) === 'echo' && agent(s) === 'e2e-otlp-agent/1') && second.some((s) => tool(s) === 'echo' && agent(s) === 'e2e-otlp-agent/2');
      while (!both() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(both(), `both echo calls at the new endpoint: ${second.map((s) => `${s.name}/${agent(s)}`).join(', ')}`);
      // The same span, same ids, at both endpoints.
      const first = spans.find((s) => tool(s) === 'echo' && agent(s) === 'e2e-otlp-agent/1')!;
      const again = second.filter((s) => s.spanId === first.spanId);
      assert.equal(again.length, 1);
      assert.equal(again[0]!.traceId, first.traceId);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });
});
