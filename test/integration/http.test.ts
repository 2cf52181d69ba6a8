import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EmptyResultSchema, ListRootsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { targetOf, type RemoteServerSpec, type ServerSpec } from '../../src/core/config/servers';
import type { ConnectionCloseRecord, HttpExchangeRecord, JournalRecord, MessageRecord, TransportErrorRecord } from '../../src/core/model/records';
import { RemoteClientChannel } from '../../src/core/recording/downstream/remote';
import { RecordingTransport } from '../../src/core/recording/transport';
import { RecordingHttpEndpoint, type EndpointConnectionEvent, type EndpointServerHandle } from '../../src/core/recording/upstream/http-endpoint';
import { findEventEnd, SseParser, type SseEvent } from '../../src/core/recording/upstream/sse';
import { EVERYTHING, INITIALIZE, messagesOf, postMessages, rawRequest, sseMessages, startEverything, tempStore, type EverythingServer, type TempStore } from './helpers-http';

/**
 * Real peers only: the SDK's Client, the recorder's HTTP endpoint / reverse proxy / remote
 * channel, and server-everything over stdio, over its own Streamable HTTP and over legacy SSE.
 * Every scenario is checked on what the journal holds, not only on what the client saw.
 */

const ROOT = { uri: 'file:///tmp/mcpf-root', name: 'test-root' };
const CLIENT_INFO = { name: 'http-test-client', version: '1.2.3' };
const STDIO_SPEC: ServerSpec = { name: 'Everything (stdio)', type: 'stdio', command: process.execPath, args: [EVERYTHING] };

function makeClient(): Client {
  const client = new Client(CLIENT_INFO, { capabilities: { roots: { listChanged: true } } });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [ROOT] }));
  return client;
}

type Msg = { jsonrpc: '2.0'; id?: string | number | null; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } };
const msg = (r: MessageRecord) => r.message as Msg;

interface Scenario {
  /** Connects a fresh client through the recorder; `close` ends the session the way a well-behaved client does. */
  connect(): Promise<{ client: Client; sessionId(): string | undefined; close(): Promise<void> }>;
  /** Which recorded messages must carry the Streamable HTTP session id. */
  sessionIds: 'client_to_server' | 'both' | 'none';
  /** The reverse proxy also records each HTTP exchange. */
  httpExchanges: boolean;
  /** How the connection must end in the record. */
  closeReason: RegExp;
  /**
   * The SDK's Protocol runs notification handlers a microtask later than response handlers, so
   * when the last progress notification and the result are delivered in the same turn (the
   * legacy SSE client dispatches a chunk's events back to back) the client drops that progress
   * as "unknown token". The journal must still hold all of them.
   */
  clientMayMissLastProgress?: boolean;
}

/** The same conversation for every path, then exact assertions on the journal. */
function conversation(store: () => TempStore, scenario: Scenario): void {
  let client: Client;
  let sessionId: string | undefined;
  let close: () => Promise<void>;
  const progress: number[] = [];

  let closed = false;
  before(async () => {
    const c = await scenario.connect();
    client = c.client;
    close = async () => {
      closed = true;
      await c.close();
    };
    sessionId = c.sessionId();
  });
  after(async () => {
    // When the journal test did not run (filtered, or an earlier failure), still end the session.
    if (!closed) await close().catch(() => undefined);
  });

  test('lists tools (roots capability seen by the server)', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['echo', 'trigger-long-running-operation', 'get-roots-list']) assert.ok(names.includes(n), `${n} listed`);
  });

  test('calls echo', async () => {
    const r = await client.callTool({ name: 'echo', arguments: { message: 'hello over http' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'Echo: hello over http' }]);
  });

  test('receives progress of a long-running call', async () => {
    const r = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    if (scenario.clientMayMissLastProgress && progress.length === 2) assert.deepEqual(progress, [1, 2]);
    else assert.deepEqual(progress, [1, 2, 3]);
    assert.match(JSON.stringify(r.content), /Long running operation completed/);
  });

  test('answers the server’s roots/list request', async () => {
    const r = await client.callTool({ name: 'get-roots-list', arguments: {} });
    assert.match(JSON.stringify(r.content), /file:\/\/\/tmp\/mcpf-root/);
  });

  test('gets an isError result for bad arguments', async () => {
    const r = await client.callTool({ name: 'echo', arguments: {} });
    assert.equal(r.isError, true);
  });

  test('gets -32601 for an unknown method', async () => {
    await assert.rejects(client.request({ method: 'mcp-flight/no-such-method', params: {} }, EmptyResultSchema), (e: unknown) => e instanceof McpError && e.code === -32601);
  });

  test('cancels a long-running call, and the session goes on', async () => {
    const abort = new AbortController();
    const call = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 30 } }, undefined, {
      signal: abort.signal,
      onprogress: () => abort.abort('test cancels'),
    });
    await assert.rejects(call);
    const r = await client.callTool({ name: 'echo', arguments: { message: 'after cancel' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'Echo: after cancel' }]);
  });

  test('the journal holds the whole conversation, exactly', async () => {
    await close();
    await waitFor(() => store().records().some((r) => r.type === 'connection_close' && connectionOf(store().records()) === r.connection_id));
    const records = store().records();
    const conn = connectionOf(records);
    assert.ok(conn, 'a connection carries our initialize');
    const mine = records.filter((r) => 'connection_id' in r && r.connection_id === conn);
    const msgs = messagesOf(mine);
    const c2s = msgs.filter((m) => m.dir === 'client_to_server');
    const s2c = msgs.filter((m) => m.dir === 'server_to_client');

    const open = mine.find((r) => r.type === 'connection_open');
    assert.ok(open && open.type === 'connection_open');

    // The handshake, with the client's identity.
    const init = c2s.find((m) => msg(m).method === 'initialize');
    assert.ok(init);
    assert.deepEqual(msg(init).params?.clientInfo, CLIENT_INFO);
    assert.deepEqual(msg(init).params?.capabilities, { roots: { listChanged: true } });
    const initResult = s2c.find((m) => msg(m).id === msg(init).id);
    assert.equal((msg(initResult!).result?.serverInfo as { name?: string }).name, 'mcp-servers/everything');
    assert.ok(c2s.some((m) => msg(m).method === 'notifications/initialized'));

    // Every client request, except the cancelled one, has exactly one answer with its id.
    const requests = c2s.filter((m) => msg(m).method !== undefined && msg(m).id !== undefined);
    const cancelledIds = c2s.filter((m) => msg(m).method === 'notifications/cancelled').map((m) => msg(m).params?.requestId);
    assert.equal(cancelledIds.length, 1, 'one notifications/cancelled recorded');
    assert.equal(new Set(requests.map((m) => msg(m).id)).size, requests.length, 'request ids are unique');
    for (const req of requests) {
      const answers = s2c.filter((m) => msg(m).id === msg(req).id && msg(m).method === undefined);
      if (cancelledIds.includes(msg(req).id)) assert.ok(answers.length <= 1);
      else assert.equal(answers.length, 1, `one answer for ${msg(req).method} #${msg(req).id}`);
      for (const a of answers) assert.ok(a.seq > req.seq, 'answer recorded after request');
    }

    const toolCall = (pred: (p: Record<string, unknown>) => boolean) => requests.filter((m) => msg(m).method === 'tools/call' && pred(msg(m).params ?? {}));
    const answerOf = (req: MessageRecord) => s2c.find((m) => msg(m).id === msg(req).id && msg(m).method === undefined);

    const echo = toolCall((p) => (p.arguments as { message?: string }).message === 'hello over http');
    assert.equal(echo.length, 1);
    assert.deepEqual(msg(answerOf(echo[0]!)!).result?.content, [{ type: 'text', text: 'Echo: hello over http' }]);

    // Progress: three notifications naming the call's own progressToken, before its result.
    const longCalls = toolCall((p) => p.name === 'trigger-long-running-operation');
    assert.equal(longCalls.length, 2);
    const long = longCalls.find((m) => !cancelledIds.includes(msg(m).id))!;
    const token = (msg(long).params?._meta as { progressToken?: unknown }).progressToken;
    assert.ok(token !== undefined, 'the client asked for progress');
    const progressMsgs = s2c.filter((m) => msg(m).method === 'notifications/progress' && msg(m).params?.progressToken === token);
    assert.deepEqual(
      progressMsgs.map((m) => msg(m).params?.progress),
      [1, 2, 3],
    );
    const longAnswer = answerOf(long)!;
    assert.ok(progressMsgs.every((p) => p.seq < longAnswer.seq));

    // The cancelled call: its progressToken too, and the cancellation names it.
    const cancelled = longCalls.find((m) => cancelledIds.includes(msg(m).id));
    assert.ok(cancelled, 'the cancelled call was recorded');

    // A server→client request answered by the client, paired by id.
    const rootsReqs = s2c.filter((m) => msg(m).method === 'roots/list');
    assert.ok(rootsReqs.length >= 1, 'roots/list recorded');
    for (const rq of rootsReqs) {
      const reply = c2s.filter((m) => msg(m).id === msg(rq).id && msg(m).method === undefined);
      assert.equal(reply.length, 1, 'the client answered roots/list once');
      assert.deepEqual(msg(reply[0]!).result?.roots, [ROOT]);
      assert.ok(reply[0]!.seq > rq.seq);
    }

    const bad = toolCall((p) => p.name === 'echo' && Object.keys((p.arguments as object) ?? {}).length === 0);
    assert.equal(bad.length, 1);
    assert.equal(msg(answerOf(bad[0]!)!).result?.isError, true);

    const unknown = requests.find((m) => msg(m).method === 'mcp-flight/no-such-method');
    assert.ok(unknown);
    assert.equal(msg(answerOf(unknown)!).error?.code, -32601);

    // Session ids on the records.
    if (scenario.sessionIds !== 'none') {
      assert.ok(sessionId, 'the transport had a session id');
      for (const m of c2s) if (m !== init || scenario.sessionIds === 'client_to_server') assert.equal(m.mcp_session_id, sessionId, `c2s #${m.seq} carries the session id`);
      if (scenario.sessionIds === 'both') for (const m of s2c) assert.equal(m.mcp_session_id, sessionId, `s2c #${m.seq} carries the session id`);
    }

    if (scenario.httpExchanges) {
      const ex = mine.filter((r): r is HttpExchangeRecord => r.type === 'http_exchange');
      assert.ok(ex.some((e) => e.method === 'POST' && (e.status === 200 || e.status === 202)));
      assert.ok(ex.some((e) => e.method === 'GET' && e.status === 200 && /text\/event-stream/.test(e.content_type ?? '')));
      assert.ok(ex.every((e) => e.status < 300), JSON.stringify(ex.filter((e) => e.status >= 300)));
    }

    const closed = mine.filter((r): r is ConnectionCloseRecord => r.type === 'connection_close');
    assert.equal(closed.length, 1);
    assert.match(closed[0]!.reason, scenario.closeReason);
    assert.equal(mine.filter((r) => r.type === 'non_json' || r.type === 'opaque').length, 0);
    // A clean conversation leaves no transport errors behind (aborted streams on close included).
    assert.deepEqual(mine.filter((r) => r.type === 'transport_error'), []);
  });
}

function connOfSession(records: JournalRecord[], sid: string): string | undefined {
  return messagesOf(records).find((m) => m.mcp_session_id === sid)?.connection_id;
}

/** The connection whose initialize came from our test client. */
function connectionOf(records: JournalRecord[]): string | undefined {
  const init = messagesOf(records).find((m) => m.dir === 'client_to_server' && msg(m).method === 'initialize' && (msg(m).params?.clientInfo as { name?: string } | undefined)?.name === CLIENT_INFO.name);
  return init?.connection_id;
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function viaEndpoint(handle: () => EndpointServerHandle, kind: 'http' | 'sse' = 'http') {
  return async () => {
    const client = makeClient();
    const h = handle();
    if (kind === 'sse') {
      const transport = new SSEClientTransport(new URL(h.url), { requestInit: { headers: h.headers } });
      await client.connect(transport);
      return { client, sessionId: () => undefined, close: () => client.close() };
    }
    const transport = new StreamableHTTPClientTransport(new URL(h.url), { requestInit: { headers: h.headers } });
    await client.connect(transport);
    return {
      client,
      sessionId: () => transport.sessionId,
      close: async () => {
        await transport.terminateSession();
        await client.close();
      },
    };
  };
}

function viaRemoteChannel(store: () => TempStore, spec: () => RemoteServerSpec) {
  return async () => {
    const client = makeClient();
    let channel: RemoteClientChannel | undefined;
    const transport = new RecordingTransport({
      recorder: store().recorder,
      server: targetOf(spec()),
      downstream: (connection) => (channel = new RemoteClientChannel(spec(), connection)),
    });
    await client.connect(transport);
    return { client, sessionId: () => channel?.sessionId, close: () => client.close() };
  };
}

// ---------------------------------------------------------------------------

describe('HTTP endpoint → stdio server-everything', () => {
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;
  const events: EndpointConnectionEvent[] = [];

  before(async () => {
    store = tempStore();
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    endpoint.onDidChangeConnections((e) => events.push(e));
    handle = endpoint.addServer(STDIO_SPEC);
  });
  after(async () => {
    await endpoint.close();
    store.close();
  });

  test('addServer hands out a loopback URL, a 256-bit token and the header to send', () => {
    assert.match(handle.url, new RegExp(`^http://127\\.0\\.0\\.1:${endpoint.port}/mcp/everything-stdio$`));
    assert.equal(Buffer.from(handle.token, 'base64url').length, 32);
    assert.deepEqual(handle.headers, { Authorization: `Bearer ${handle.token}` });
    assert.equal(handle.tokenUrl, `${handle.url}/${handle.token}`);
  });

  describe('SDK Client (Streamable HTTP)', () => {
    conversation(() => store, {
      connect: viaEndpoint(() => handle),
      sessionIds: 'client_to_server',
      httpExchanges: false,
      // RecordingProxy reports the child's exit as the reason when the child exits while it closes.
      closeReason: /client ended the session \(HTTP DELETE\)|server process (exited|killed)/,
    });
  });

  test('each session is a connection of its own, announced as opened and closed', () => {
    const opened = events.filter((e) => e.type === 'open');
    const closedEv = events.filter((e) => e.type === 'close');
    assert.equal(opened.length, 1);
    assert.equal(closedEv.length, 1);
    assert.equal(opened[0]!.connectionId, closedEv[0]!.connectionId);
    assert.equal(opened[0]!.server, STDIO_SPEC.name);
    const open = store.records().find((r) => r.type === 'connection_open' && r.connection_id === opened[0]!.connectionId);
    assert.ok(open && open.type === 'connection_open');
    assert.equal(open.upstream, 'http');
    assert.equal(open.server.transport, 'stdio');
  });

  test('raw HTTP: a session via the path token, a batch answered on one stream, 202 for notifications, 404 after DELETE', async () => {
    const url = handle.tokenUrl;
    const init = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: INITIALIZE(1, '2025-03-26') });
    assert.equal(init.status, 200);
    const sid = String(init.headers['mcp-session-id']);
    assert.match(sid, /^[0-9a-f-]{36}$/);
    assert.equal((postMessages(init)[0] as Msg).id, 1);

    const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' };
    const note = await rawRequest(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    assert.equal(note.status, 202);

    const batch = await rawRequest(url, {
      method: 'POST',
      headers: h,
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 'b1', method: 'ping' },
        { jsonrpc: '2.0', id: 'b2', method: 'tools/call', params: { name: 'echo', arguments: { message: 'batched' } } },
      ]),
    });
    assert.equal(batch.status, 200);
    // Other server messages may share the stream (it was the only one open); the answers are what counts.
    const answers = (postMessages(batch) as Msg[]).filter((a) => a.id !== undefined);
    assert.deepEqual(answers.map((a) => a.id).sort(), ['b1', 'b2']);
    assert.deepEqual(answers.find((a) => a.id === 'b2')!.result?.content, [{ type: 'text', text: 'Echo: batched' }]);

    // A client that accepts only JSON gets a JSON body.
    const json = await rawRequest(url, { method: 'POST', headers: { ...h, accept: 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' }) });
    assert.equal(json.status, 200);
    assert.deepEqual(JSON.parse(json.body), { jsonrpc: '2.0', id: 7, result: {} });

    const del = await rawRequest(url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    assert.equal(del.status, 200);
    const gone = await rawRequest(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' }) });
    assert.equal(gone.status, 404);

    await waitFor(() => store.records().some((r) => r.type === 'connection_close' && messagesOf(store.records(), r.connection_id).some((m) => m.mcp_session_id === sid)));
    const recs = store.records();
    const batchMsgs = messagesOf(recs).filter((m) => m.dir === 'client_to_server' && m.mcp_session_id === sid && (msg(m).id === 'b1' || msg(m).id === 'b2'));
    assert.equal(batchMsgs.length, 2, 'each batched request recorded on its own');
    const conn = batchMsgs[0]!.connection_id;
    const answered = messagesOf(recs, conn).filter((m) => m.dir === 'server_to_client' && (msg(m).id === 'b1' || msg(m).id === 'b2'));
    assert.equal(answered.length, 2);
    assert.ok(recs.some((r) => r.type === 'connection_close' && r.connection_id === conn && /DELETE|server process/.test(r.reason)));
  });

  test('raw HTTP: a server request sent while no stream is open waits for the GET stream, and its answer is recorded', async () => {
    const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...handle.headers };
    const initBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { roots: {} }, clientInfo: { name: 'late-getter', version: '1' } } });
    const init = await rawRequest(handle.url, { method: 'POST', headers: base, body: initBody });
    const sid = String(init.headers['mcp-session-id']);
    const h = { ...base, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    assert.equal((await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).status, 202);
    // server-everything asks for roots 350 ms after initialized; nothing is open to carry it yet.
    await waitFor(() => messagesOf(store.records()).some((m) => m.mcp_session_id === sid && msg(m).method === 'roots/list' && m.connection_id === connOfSession(store.records(), sid)));
    const first = await new Promise<Msg>((resolve, reject) => {
      const req = http.get(handle.url, { headers: { ...handle.headers, accept: 'text/event-stream', 'mcp-session-id': sid } }, (res) => {
        assert.equal(res.statusCode, 200);
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          // The backlog comes first, in order (list_changed notifications, then roots/list).
          const got = sseMessages(text.slice(0, text.lastIndexOf('\n\n') + 2)) as Msg[];
          const roots = got.find((m) => m.method === 'roots/list');
          if (roots) {
            req.destroy();
            resolve(roots);
          }
        });
      });
      req.on('error', reject);
    });
    assert.equal(first.method, 'roots/list');
    const reply = await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: first.id, result: { roots: [] } }) });
    assert.equal(reply.status, 202);
    const conn = connOfSession(store.records(), sid);
    const answered = messagesOf(store.records(), conn).filter((m) => m.dir === 'client_to_server' && msg(m).id === first.id && msg(m).result !== undefined);
    assert.equal(answered.length, 1);
    assert.equal((await rawRequest(handle.url, { method: 'DELETE', headers: { ...handle.headers, 'mcp-session-id': sid } })).status, 200);
  });

  test('raw HTTP: an answer slower than the stream deadline (100 ms) comes as an SSE stream, even to a client that accepts JSON', async () => {
    const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...handle.headers };
    const init = await rawRequest(handle.url, { method: 'POST', headers: base, body: INITIALIZE(1) });
    const sid = String(init.headers['mcp-session-id']);
    const h = { ...base, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    // No progress token: nothing but the result, which the tool sends after 1 s at the earliest.
    const r = await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 1 } } }) });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    const answer = (sseMessages(r.body) as Msg[]).find((m) => m.id === 41);
    assert.match(JSON.stringify(answer?.result), /Long running operation completed/);
    assert.equal((await rawRequest(handle.url, { method: 'DELETE', headers: { ...handle.headers, 'mcp-session-id': sid } })).status, 200);
  });

  test('raw HTTP: no session and no initialize is a 400 with a JSON-RPC error; unknown session is 404', async () => {
    const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...handle.headers };
    const r = await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
    assert.equal(r.status, 400);
    const body = JSON.parse(r.body) as Msg;
    assert.equal(body.id, 3);
    assert.equal(body.error?.code, -32000);
    const u = await rawRequest(handle.url, { method: 'POST', headers: { ...h, 'mcp-session-id': 'no-such-session' }, body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' }) });
    assert.equal(u.status, 404);
  });

  test('raw HTTP: a request of the stateless revision (newer version, no session) is served and recorded', async () => {
    const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', ...handle.headers };
    const r = await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 'sl-1', method: 'ping', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['mcp-session-id'], undefined);
    const answer = postMessages(r)[0] as Msg;
    assert.equal(answer.id, 'sl-1');
    const recorded = messagesOf(store.records()).filter((m) => msg(m).id === 'sl-1');
    assert.deepEqual(recorded.map((m) => m.dir), ['client_to_server', 'server_to_client']);
    assert.equal(recorded[0]!.mcp_session_id, undefined);
  });
});

describe('HTTP endpoint: how a POST is answered (JSON body or SSE stream)', () => {
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;
  let h: Record<string, string>;
  let sid: string;

  before(async () => {
    store = tempStore();
    // Long enough that only the order of messages decides the form, never the machine's speed.
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder, streamAfterMs: 60_000 });
    await endpoint.start();
    handle = endpoint.addServer(STDIO_SPEC);
    const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...handle.headers };
    const init = await rawRequest(handle.url, { method: 'POST', headers: base, body: INITIALIZE(1) });
    sid = String(init.headers['mcp-session-id']);
    h = { ...base, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    assert.equal((await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).status, 202);
    // server-everything announces its conditional tools once initialized; a POST open at that
    // moment would carry the announcement on a stream. Let it pass first.
    await waitFor(() => messagesOf(store.records()).some((m) => m.mcp_session_id === sid && msg(m).method === 'notifications/tools/list_changed'));
  });
  after(async () => {
    await endpoint.close();
    store.close();
  });

  test('a client accepting both gets a response that comes first as one JSON body, with its session id', async () => {
    for (const id of [11, 12, 13]) {
      const r = await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message: `json ${id}` } } }) });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['mcp-session-id'], sid);
      assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
      assert.deepEqual(JSON.parse(r.body), { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `Echo: json ${id}` }] } });
    }
    const conn = connOfSession(store.records(), sid);
    const recorded = messagesOf(store.records(), conn).filter((m) => [11, 12, 13].includes(msg(m).id as number));
    assert.deepEqual(recorded.map((m) => `${m.dir} ${String(msg(m).id)}`), ['client_to_server 11', 'server_to_client 11', 'client_to_server 12', 'server_to_client 12', 'client_to_server 13', 'server_to_client 13']);
  });

  test('a batch answered by one response is a JSON array', async () => {
    const r = await rawRequest(handle.url, { method: 'POST', headers: h, body: JSON.stringify([{ jsonrpc: '2.0', id: 'one', method: 'ping' }]) });
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), [{ jsonrpc: '2.0', id: 'one', result: {} }]);
  });

  test('progress before the response turns the answer into an SSE stream: the progress events, then the result', async () => {
    const r = await rawRequest(handle.url, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ jsonrpc: '2.0', id: 21, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 }, _meta: { progressToken: 'p21' } } }),
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    assert.equal(r.headers['mcp-session-id'], sid);
    const got = sseMessages(r.body) as Msg[];
    assert.deepEqual(got.filter((m) => m.method === 'notifications/progress').map((m) => [m.params?.progressToken, m.params?.progress]), [['p21', 1], ['p21', 2], ['p21', 3]]);
    const last = got[got.length - 1]!;
    assert.equal(last.id, 21);
    assert.match(JSON.stringify(last.result), /Long running operation completed/);
  });

  test('a client accepting only SSE always gets a stream', async () => {
    const r = await rawRequest(handle.url, { method: 'POST', headers: { ...h, accept: 'text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 31, method: 'ping' }) });
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    assert.deepEqual(sseMessages(r.body), [{ jsonrpc: '2.0', id: 31, result: {} }]);
  });
});

describe('HTTP endpoint refusals', () => {
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;
  let remote: http.Server;
  let remoteHits = 0;
  let remoteHandle: EndpointServerHandle;

  before(async () => {
    store = tempStore();
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    handle = endpoint.addServer(STDIO_SPEC);
    remote = http.createServer((req, res) => {
      remoteHits++;
      req.resume();
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
    remoteHandle = endpoint.addServer({ name: 'remote', type: 'http', url: `http://127.0.0.1:${(remote.address() as { port: number }).port}/mcp` });
  });
  after(async () => {
    await endpoint.close();
    await new Promise((r) => remote.close(r));
    store.close();
  });

  const post = (url: string, headers: Record<string, string>) =>
    rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: INITIALIZE() });
  const traces = () => store.records().filter((r) => r.type === 'message' || r.type === 'connection_open' || r.type === 'http_exchange' || r.type === 'non_json').length;

  test('missing token, wrong token, wrong path token → 401; foreign Origin or Host → 403; nothing recorded or forwarded', async () => {
    const before = traces();
    const port = endpoint.port;
    const wrong = 'x'.repeat(43);
    for (const h of [handle, remoteHandle]) {
      assert.equal((await post(h.url, {})).status, 401, 'no token');
      assert.equal((await post(h.url, { Authorization: `Bearer ${wrong}` })).status, 401, 'wrong token');
      assert.equal((await post(h.url, { Authorization: `Bearer ${h.token.slice(0, -1)}` })).status, 401, 'token off by one character');
      assert.equal((await post(`${h.url}/${wrong}`, {})).status, 401, 'wrong path token');
      assert.equal((await post(h.url, { ...h.headers, Origin: 'http://evil.example' })).status, 403, 'foreign Origin');
      assert.equal((await post(h.url, { ...h.headers, Origin: 'null' })).status, 403, 'opaque Origin');
      assert.equal((await post(h.url, { ...h.headers, Host: `evil.example:${port}` })).status, 403, 'foreign Host');
      assert.equal((await post(h.url, { ...h.headers, Host: `127.0.0.1:${port + 1}` })).status, 403, 'other port in Host');
    }
    const none = await post(`${endpoint.origin}/mcp/no-such-server`, handle.headers);
    assert.equal(none.status, 404);
    assert.equal(traces(), before, 'no record of any refused request');
    assert.equal(remoteHits, 0, 'nothing reached the remote server');
  });

  test('control: the same request with the right token (header, path, loopback Origin) gets through', async () => {
    const before = traces();
    const ok = await post(handle.url, { ...handle.headers, Origin: `http://localhost:${endpoint.port}` });
    assert.equal(ok.status, 200);
    const okPath = await post(handle.tokenUrl, { Host: `localhost:${endpoint.port}` });
    assert.equal(okPath.status, 200);
    assert.ok(traces() > before);
    const viaProxy = await post(remoteHandle.url, remoteHandle.headers);
    assert.equal(viaProxy.status, 500);
    assert.equal(remoteHits, 1);
  });
});

describe('remote server-everything (Streamable HTTP)', () => {
  let server: EverythingServer;
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;
  let spec: RemoteServerSpec;

  before(async () => {
    server = await startEverything('streamableHttp');
    spec = { name: 'everything-http', type: 'http', url: server.url, headers: { 'X-Test-Header': 'from-spec' } };
    store = tempStore();
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    handle = endpoint.addServer(spec);
  });
  after(async () => {
    await endpoint.close();
    await server.stop();
    store.close();
  });

  describe('(a) SDK Client → RecordingTransport → RemoteClientChannel', () => {
    let local: TempStore;
    before(() => {
      local = tempStore();
    });
    conversation(() => local, {
      connect: viaRemoteChannel(() => local, () => spec),
      sessionIds: 'none',
      httpExchanges: false,
      closeReason: /client closed the transport/,
    });
    // After conversation()'s own hook (hooks run in registration order), which ends the client.
    after(() => local.close());
  });

  describe('(b) SDK Client → endpoint reverse proxy', () => {
    conversation(() => store, {
      connect: viaEndpoint(() => handle),
      sessionIds: 'both',
      httpExchanges: true,
      closeReason: /client ended the session \(HTTP DELETE\)/,
    });
  });
});

describe('remote server-everything (legacy SSE)', () => {
  let server: EverythingServer;
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;
  let spec: RemoteServerSpec;

  before(async () => {
    server = await startEverything('sse');
    spec = { name: 'everything-sse', type: 'sse', url: server.url };
    store = tempStore();
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    handle = endpoint.addServer(spec);
  });
  after(async () => {
    await endpoint.close();
    await server.stop();
    store.close();
  });

  describe('(a) SDK Client → RecordingTransport → RemoteClientChannel', () => {
    let local: TempStore;
    before(() => {
      local = tempStore();
    });
    conversation(() => local, {
      connect: viaRemoteChannel(() => local, () => spec),
      sessionIds: 'none',
      httpExchanges: false,
      closeReason: /client closed the transport/,
      clientMayMissLastProgress: true,
    });
    // After conversation()'s own hook (hooks run in registration order), which ends the client.
    after(() => local.close());
  });

  describe('(b) SDK SSE client → endpoint reverse proxy', () => {
    conversation(() => store, {
      connect: viaEndpoint(() => handle, 'sse'),
      sessionIds: 'none',
      httpExchanges: true,
      clientMayMissLastProgress: true,
      closeReason: /client closed the SSE stream|SSE stream ended/,
    });
  });

  test('the endpoint event was rewritten to the proxy (and only that)', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const req = http.get(handle.url, { headers: { ...handle.headers, accept: 'text/event-stream' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if (/\n\n/.test(text)) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
    });
    assert.match(r, /^event: endpoint\ndata: \/mcp\/everything-sse\/message\?sessionId=[0-9a-f-]+\n\n/);
  });
});

describe('a remote that answers 401', () => {
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let handle: EndpointServerHandle;
  let remote: http.Server;
  let remoteUrl: string;
  const seen: Array<{ method?: string; url?: string; authorization?: string; xKey?: string; host?: string }> = [];
  const challenge = () => `Bearer resource_metadata="${remoteUrl.replace('/mcp', '')}/.well-known/oauth-protected-resource/mcp"`;

  before(async () => {
    remote = http.createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, xKey: req.headers['x-api-key'] as string | undefined, host: req.headers.host });
      req.resume();
      if (req.url?.startsWith('/.well-known/oauth-protected-resource')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: remoteUrl, authorization_servers: ['https://auth.example'] }));
        return;
      }
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': challenge() }).end(JSON.stringify({ error: 'invalid_token' }));
    });
    await new Promise<void>((r) => remote.listen(0, '127.0.0.1', r));
    remoteUrl = `http://127.0.0.1:${(remote.address() as { port: number }).port}/mcp`;
    store = tempStore();
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    handle = endpoint.addServer({ name: 'guarded', type: 'http', url: remoteUrl, headers: { 'X-Api-Key': 'k-123' } });
  });
  after(async () => {
    await endpoint.close();
    await new Promise((r) => remote.close(r));
    store.close();
  });

  test('reverse proxy: status and WWW-Authenticate pass through; the client’s own Authorization reaches the remote with the path token', async () => {
    const r = await rawRequest(handle.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...handle.headers }, body: INITIALIZE(1) });
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], challenge());
    assert.deepEqual(JSON.parse(r.body), { error: 'invalid_token' });
    const last = seen.at(-1)!;
    assert.equal(last.authorization, undefined, 'our token never reaches the remote');
    assert.equal(last.xKey, 'k-123', 'spec headers are added');
    assert.equal(last.host, new URL(remoteUrl).host);
    assert.equal(last.url, '/mcp');

    const withOAuth = await rawRequest(handle.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer remote-oauth-token' }, body: INITIALIZE(2) });
    assert.equal(withOAuth.status, 401);
    assert.equal(seen.at(-1)!.authorization, 'Bearer remote-oauth-token');

    const records = store.records();
    const ex = records.filter((x): x is HttpExchangeRecord => x.type === 'http_exchange');
    assert.equal(ex.length, 2);
    for (const e of ex) {
      assert.equal(e.status, 401);
      assert.equal(e.method, 'POST');
      assert.equal(e.path, '/mcp');
      assert.equal(e.www_authenticate, challenge());
    }
    const inits = messagesOf(records).filter((m) => m.dir === 'client_to_server' && msg(m).method === 'initialize');
    assert.deepEqual(inits.map((m) => msg(m).id), [1, 2]);
    const closes = records.filter((x): x is ConnectionCloseRecord => x.type === 'connection_close');
    assert.deepEqual(closes.map((c) => c.reason), ['initialize refused: HTTP 401', 'initialize refused: HTTP 401']);
    assert.ok(!JSON.stringify(records).includes(handle.token), 'the token never enters the journal');
  });

  test('reverse proxy: OAuth discovery documents pass without the token (GET only)', async () => {
    const rootForm = await rawRequest(`${endpoint.origin}/.well-known/oauth-protected-resource/mcp/${handle.id}`);
    assert.equal(rootForm.status, 200);
    assert.equal(seen.at(-1)!.url, '/.well-known/oauth-protected-resource/mcp');
    assert.deepEqual(JSON.parse(rootForm.body), { resource: remoteUrl, authorization_servers: ['https://auth.example'] });
    const underForm = await rawRequest(`${handle.url}/.well-known/oauth-protected-resource`);
    assert.equal(underForm.status, 200);
    assert.equal(seen.at(-1)!.url, '/.well-known/oauth-protected-resource');
    assert.equal(seen.at(-1)!.xKey, undefined, 'no spec credentials on token-less requests');
    const postNoToken = await rawRequest(`${handle.url}/.well-known/oauth-protected-resource`, { method: 'POST', body: '{}' });
    assert.equal(postNoToken.status, 401);
    const hits = seen.length;
    const elsewhere = await rawRequest(`${handle.url}/admin`, { headers: handle.headers });
    assert.equal(elsewhere.status, 404, 'other paths of the remote origin are not reachable through the proxy');
    assert.equal(seen.length, hits);
  });

  test('RemoteClientChannel: the 401 reaches the client as a recorded JSON-RPC error', async () => {
    const local = tempStore();
    try {
      const spec: RemoteServerSpec = { name: 'guarded', type: 'http', url: remoteUrl };
      const client = makeClient();
      const transport = new RecordingTransport({ recorder: local.recorder, server: targetOf(spec), downstream: (c) => new RemoteClientChannel(spec, c) });
      await assert.rejects(client.connect(transport), (e: unknown) => e instanceof McpError && e.code === -32000 && /401/.test(e.message));
      await client.close();
      const records = local.records();
      const errors = messagesOf(records).filter((m) => m.dir === 'server_to_client');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.origin, 'recorder');
      const e = msg(errors[0]!);
      assert.equal(e.id, 0);
      assert.equal(e.error?.code, -32000);
      assert.deepEqual(e.error?.data, { http_status: 401 });
      const te = records.filter((r): r is TransportErrorRecord => r.type === 'transport_error');
      assert.equal(te.length, 1, JSON.stringify(te));
      assert.equal(te[0]!.http_status, 401);
      assert.equal(te[0]!.side, 'downstream');
    } finally {
      local.close();
    }
  });
});

describe('SSE framing (the reverse proxy’s parser)', () => {
  const parse = (chunks: Buffer[]) => {
    const events: SseEvent[] = [];
    const p = new SseParser((e) => events.push(e));
    for (const c of chunks) p.push(c);
    p.end();
    return events;
  };
  const bytes = (s: string) => Buffer.from(s, 'utf8');
  const everySplit = (text: string) => {
    const all = bytes(text);
    const results: SseEvent[][] = [];
    for (let i = 0; i <= all.length; i++) results.push(parse([all.subarray(0, i), all.subarray(i)]));
    return results;
  };

  test('events survive any chunk split (CRLF, CR, LF, a multi-byte character, BOM, comments)', () => {
    const text = '\uFEFF: hi\r\nevent: message\r\ndata: {"a":"é😀"}\r\n\r\nid: 7\rdata: one\rdata: two\r\rdata:x\n\ndata: unterminated';
    const expected: SseEvent[] = [
      { event: 'message', data: '{"a":"é😀"}' },
      { event: 'message', data: 'one\ntwo', id: '7' },
      { event: 'message', data: 'x', id: '7' },
    ];
    for (const got of everySplit(text)) assert.deepEqual(got, expected);
  });

  test('findEventEnd cuts after the blank line, and waits when a CR may be half of a CRLF', () => {
    assert.equal(findEventEnd(bytes('event: endpoint\ndata: /m\n\nrest')), 'event: endpoint\ndata: /m\n\n'.length);
    assert.equal(findEventEnd(bytes('data: a\r\n\r\n')), 'data: a\r\n\r\n'.length);
    assert.equal(findEventEnd(bytes('data: a\r\n\r')), -1);
    assert.equal(findEventEnd(bytes('data: a\n')), -1);
  });
});
