import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { ServerSpec } from '../../src/core/config/servers';
import { RecordingHttpEndpoint, type EndpointServerHandle } from '../../src/core/recording/upstream/http-endpoint';
import { EVERYTHING, INITIALIZE, rawRequest, tempStore, type TempStore } from './helpers-http';

/**
 * The local endpoint beyond POST refusals (http.test.ts covers no token, wrong token, foreign
 * Origin and Host on POST): it listens on 127.0.0.1 only; an established session's stream (GET)
 * and its end (DELETE) need the token too; DNS-rebinding and look-alike Host and Origin values,
 * and a request with no Host at all, are refused — with the real server-everything behind it.
 */

const SPEC: ServerSpec = { name: 'everything', type: 'stdio', command: process.execPath, args: [EVERYTHING] };

/** A non-loopback IPv4 address of this machine, if it has one. */
function externalAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/** Raw bytes to the port: for requests node:http will not send (no Host header). */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')));
  });
}

describe('local endpoint hardening', () => {
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;

  before(async () => {
    store = tempStore();
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    handle = endpoint.addServer(SPEC);
  });
  after(async () => {
    await endpoint.close();
    store.close();
  });

  const traces = () => store.records().filter((r) => r.type === 'message' || r.type === 'http_exchange').length;

  test('listens on 127.0.0.1 only: the URL is loopback, and another interface of this machine is not served', async (t) => {
    assert.match(handle.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp\//);
    const external = externalAddress();
    if (!external) {
      t.skip('this machine has no non-loopback IPv4 address');
      return;
    }
    const result = await new Promise<string>((resolve) => {
      const socket = net.connect(endpoint.port, external, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.setTimeout(5000, () => {
        socket.destroy();
        resolve('timeout');
      });
    });
    assert.equal(result, 'ECONNREFUSED', `connecting to ${external}:${endpoint.port}`);
  });

  test('an open session\'s GET stream and DELETE need the token too; a refused DELETE leaves the session alive', async () => {
    const init = await rawRequest(handle.url, { method: 'POST', headers: { ...handle.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: INITIALIZE() });
    assert.equal(init.status, 200);
    const session = init.headers['mcp-session-id'] as string;
    assert.ok(session);
    const before = traces();
    const sessionHeaders = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const wrong = { Authorization: `Bearer ${'x'.repeat(43)}` };
    assert.equal((await rawRequest(handle.url, { method: 'GET', headers: { ...sessionHeaders, accept: 'text/event-stream' } })).status, 401, 'GET without a token');
    assert.equal((await rawRequest(handle.url, { method: 'GET', headers: { ...sessionHeaders, ...wrong, accept: 'text/event-stream' } })).status, 401, 'GET with a wrong token');
    assert.equal((await rawRequest(handle.url, { method: 'GET', headers: { ...sessionHeaders, ...handle.headers, Origin: 'http://evil.example', accept: 'text/event-stream' } })).status, 403, 'GET from a foreign Origin');
    assert.equal((await rawRequest(handle.url, { method: 'DELETE', headers: sessionHeaders })).status, 401, 'DELETE without a token');
    assert.equal((await rawRequest(handle.url, { method: 'DELETE', headers: { ...sessionHeaders, ...wrong } })).status, 401, 'DELETE with a wrong token');
    assert.equal((await rawRequest(handle.url, { method: 'DELETE', headers: { ...sessionHeaders, ...handle.headers, Host: `evil.example:${endpoint.port}` } })).status, 403, 'DELETE with a foreign Host');
    assert.equal(traces(), before, 'nothing of the refused requests was recorded');
    // The session is still there: an authorised request in it is answered.
    const ping = await rawRequest(handle.url, { method: 'POST', headers: { ...handle.headers, ...sessionHeaders, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) });
    assert.equal(ping.status, 200, ping.body);
    assert.match(ping.body, /"id":2/);
  });

  test('DNS rebinding and look-alikes: Host and Origin that only resemble loopback are refused; no Host at all is refused', async () => {
    const port = endpoint.port;
    const post = (headers: Record<string, string>) => rawRequest(handle.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...handle.headers, ...headers }, body: INITIALIZE(9) });
    const before = traces();
    for (const host of [`127.0.0.1.nip.io:${port}`, `localhost.evil.example:${port}`, `evil.example`, `127.0.0.1`, `0.0.0.0:${port}`, `127.0.0.2:${port}`, `[::1]:${port + 1}`]) {
      assert.equal((await post({ Host: host })).status, 403, `Host: ${host}`);
    }
    for (const origin of ['http://127.0.0.1.evil.example', 'http://localhost.evil.example:80', 'https://evil.example', 'file://', 'vscode-webview://x', 'chrome-extension://abc']) {
      assert.equal((await post({ Origin: origin })).status, 403, `Origin: ${origin}`);
    }
    const path = new URL(handle.url).pathname;
    const noHost = await rawExchange(port, `POST ${path} HTTP/1.0\r\nAuthorization: ${handle.headers.Authorization}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(INITIALIZE(10))}\r\n\r\n${INITIALIZE(10)}`);
    assert.match(noHost, /^HTTP\/1\.[01] 403/, noHost.slice(0, 100));
    assert.equal(traces(), before, 'nothing of the refused requests was recorded');
  });
});
