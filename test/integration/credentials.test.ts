import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { assembleSession } from '../../src/core/analysis/calls';
import { summarizeSession } from '../../src/core/analysis/summary';
import { defaultRedactorInstance } from '../../src/core/audit/redaction';
import type { CredentialsRecord } from '../../src/core/model/records';
import { RecordingHttpEndpoint } from '../../src/core/recording/upstream/http-endpoint';
import { CLI, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';
import { startEverything, tempStore, type EverythingServer, type TempStore } from './helpers-http';
import { bytesUnder } from '../helpers/files';

/**
 * Credential attribution against a real HTTP server (server-everything, Streamable HTTP): a
 * static Authorization header given to `mcp-flight record --url`, and a client's own
 * Authorization (OAuth) passed through the extension's endpoint. Names and fingerprints are
 * recorded; the values never reach the disk.
 */

const STATIC_TOKEN = 'static-' + 'k9'.repeat(16);
const OAUTH_TOKENS = ['oauth-first-' + 'x7'.repeat(12), 'oauth-refreshed-' + 'y5'.repeat(12)];
const API_KEY = 'apikey-' + 'q3'.repeat(14);

/** The fingerprint in the redaction marker that replaces this header in a recorded message. */
function markerFingerprint(name: string, value: string): string {
  const out = defaultRedactorInstance().redactValue({ headers: { [name]: value } }).value as { headers: Record<string, string> };
  const m = /\[REDACTED:[a-z0-9_]+:([0-9a-f]{6})\]/.exec(out.headers[name] ?? '');
  assert.ok(m, `the redactor replaces ${name}`);
  return m[1]!;
}

describe('credentials: static Authorization header (mcp-flight record --url --header)', () => {
  let server: EverythingServer;
  const store = tempDir('mcpf-store-');
  let creds: CredentialsRecord[] = [];

  before(async () => {
    requireBuiltCli();
    server = await startEverything('streamableHttp');
    const client = new Client({ name: 'cred-test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: NODE,
        args: [CLI, 'record', '--store', store, '--name', 'everything-http', '--url', server.url, '--header', `Authorization: Bearer ${STATIC_TOKEN}`, '--header', 'Accept-Language: en'],
        env: { ...getDefaultEnvironment(), MCP_FLIGHT_HOME: process.env.MCP_FLIGHT_HOME ?? '' },
        stderr: 'pipe',
      }),
    );
    await client.callTool({ name: 'echo', arguments: { message: 'with a static header' } });
    await client.close();
    for (let i = 0; i < 200 && !bytesUnder(store).includes(Buffer.from('"session_end"')); i++) await new Promise((r) => setTimeout(r, 50));
    creds = onlySession(store).records.filter((r): r is CredentialsRecord => r.type === 'credentials');
  });

  after(async () => {
    await server.stop();
    fs.rmSync(store, { recursive: true, force: true });
  });

  test('mode headers, the header name, the token\'s fingerprint', () => {
    assert.equal(creds.length, 1);
    assert.equal(creds[0]!.mode, 'headers');
    assert.deepEqual(creds[0]!.entries, [{ name: 'Authorization', mode: 'headers', fingerprint: markerFingerprint('Authorization', `Bearer ${STATIC_TOKEN}`), origin: 'configured' }]);
  });

  test('the tool call names the set, and the summary lists it', () => {
    const { assembler, calls } = onlySession(store);
    const echo = toolCalls(calls, 'echo')[0]!;
    assert.deepEqual(echo.credentials, { set_id: creds[0]!.set_id, mode: 'headers', names: ['Authorization'], fingerprints: [creds[0]!.entries[0]!.fingerprint] });
    assert.deepEqual(summarizeSession(assembler, { writerAlive: false }).credentials_used, [{ server: 'everything-http', mode: 'headers', names: ['Authorization'], fingerprints: { Authorization: [creds[0]!.entries[0]!.fingerprint] } }]);
  });

  test('the token is nowhere in the store', () => {
    assert.equal(bytesUnder(store).includes(Buffer.from(STATIC_TOKEN)), false);
  });
});

describe('credentials: a client\'s own Authorization through the reverse proxy (OAuth)', () => {
  let server: EverythingServer;
  let store: TempStore;
  let endpoint: RecordingHttpEndpoint;
  let creds: CredentialsRecord[] = [];
  let storeDir = '';

  before(async () => {
    server = await startEverything('streamableHttp');
    store = tempStore();
    storeDir = store.dir;
    endpoint = new RecordingHttpEndpoint({ recorder: store.recorder });
    await endpoint.start();
    const handle = endpoint.addServer({ name: 'remote-oauth', type: 'http', url: server.url, headers: { 'X-Api-Key': API_KEY } });
    // The token in the path authenticates to the recorder, so the client's Authorization belongs to the remote.
    for (const token of OAUTH_TOKENS) {
      const client = new Client({ name: 'oauth-client', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(handle.tokenUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
      await client.callTool({ name: 'echo', arguments: { message: 'with my own token' } });
      await client.close();
    }
    await endpoint.close();
    creds = store.records().filter((r): r is CredentialsRecord => r.type === 'credentials');
  });

  after(async () => {
    await server.stop();
    store.close();
  });

  test('each connection: the static key at open, then the client\'s token as oauth', () => {
    const fp = (s: string) => defaultRedactorInstance().fingerprint(s);
    assert.equal(markerFingerprint('X-Api-Key', API_KEY), fp(API_KEY));
    const byConn = new Map<string, CredentialsRecord[]>();
    for (const r of creds) byConn.set(r.connection_id, [...(byConn.get(r.connection_id) ?? []), r]);
    const withOauth = [...byConn.values()].filter((list) => list.some((r) => r.mode === 'oauth'));
    assert.equal(withOauth.length, 2, JSON.stringify(creds));
    withOauth.forEach((list, i) => {
      assert.deepEqual(list[0]!.entries, [{ name: 'X-Api-Key', mode: 'headers', fingerprint: fp(API_KEY), origin: 'configured' }]);
      assert.equal(list[0]!.reason, 'connection_open');
      const oauth = list.find((r) => r.mode === 'oauth')!;
      assert.equal(oauth.reason, 'authorization_changed');
      assert.deepEqual(oauth.entries, [
        { name: 'X-Api-Key', mode: 'headers', fingerprint: fp(API_KEY), origin: 'configured' },
        { name: 'Authorization', mode: 'oauth', fingerprint: markerFingerprint('authorization', `Bearer ${OAUTH_TOKENS[i]!}`), origin: 'client' },
      ]);
    });
  });

  test('tool calls run under the oauth set; the summary shows both tokens', () => {
    const a = assembleSession(store.records().map((record) => ({ record })));
    const echoes = toolCalls([...a.calls.values()], 'echo');
    assert.equal(echoes.length, 2);
    for (const c of echoes) assert.equal(c.credentials?.mode, 'oauth');
    const used = summarizeSession(a, { writerAlive: true }).credentials_used ?? [];
    assert.equal(used.length, 1);
    assert.equal(used[0]!.mode, 'oauth');
    assert.deepEqual(used[0]!.fingerprints.Authorization, OAUTH_TOKENS.map((t) => markerFingerprint('authorization', `Bearer ${t}`)));
  });

  test('no token or key is on disk', () => {
    store.recorder.journal.sync();
    const bytes = bytesUnder(storeDir);
    for (const secret of [...OAUTH_TOKENS, API_KEY]) assert.equal(bytes.includes(Buffer.from(secret)), false, secret);
  });
});
