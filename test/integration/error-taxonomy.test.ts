import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Call } from '../../src/core/model/calls';
import { targetOf, type StdioServerSpec } from '../../src/core/config/servers';
import { openDownstream } from '../../src/core/recording/downstream';
import { Recorder } from '../../src/core/recording/recorder';
import { RecordingTransport } from '../../src/core/recording/transport';
import { JournalWriter } from '../../src/core/store/journal';
import { CLI, EVERYTHING, FILESYSTEM, fixture, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';
import { startServe } from '../helpers/serve';

/**
 * Every error class produced for real and classified from what the recorder saw: server-everything
 * (a -32602, a cancellation), fixtures that hang and crash, and an HTTP server answering 401, 403,
 * 429 and 503 and isError results with stable codes — reached through `mcp-flight serve`'s reverse
 * proxy and through `mcp-flight record --url`. Reversibility and idempotency come from the real
 * annotations of server-everything and server-filesystem, and from a policy's overrides.
 */

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
before(() => requireBuiltCli());

function errorOf(c: Call | undefined): Record<string, unknown> | undefined {
  if (!c?.error) return undefined;
  const { message: _m, ...rest } = c.error;
  return rest;
}

async function inProcess(spec: StdioServerSpec, body: (client: Client) => Promise<void>, options: { requestTimeoutMs?: number } = {}): Promise<Call[]> {
  const store = tempDir();
  dirs.push(store);
  const journal = JournalWriter.open(store);
  const recorder = new Recorder({ kind: 'test', journal });
  const client = new Client({ name: 'taxonomy-test', version: '1' });
  await client.connect(new RecordingTransport({ recorder, server: targetOf(spec), downstream: (c) => openDownstream(spec, c), ...options }));
  try {
    await body(client);
  } finally {
    await client.close().catch(() => undefined);
    recorder.end();
    journal.close();
  }
  return onlySession(store).calls;
}

describe('error classes from stdio servers', () => {
  test('server-everything: a -32602 (in an isError result), a params schema failure (a JSON-RPC error) and a cancellation', async () => {
    const calls = await inProcess({ name: 'everything', type: 'stdio', command: NODE, args: [EVERYTHING] }, async (client) => {
      await client.listTools();
      const bad = await client.callTool({ name: 'echo', arguments: {} });
      assert.equal(bad.isError, true);
      await assert.rejects(client.request({ method: 'tools/call', params: { arguments: {} } as never }, CallToolResultSchema));
      const controller = new AbortController();
      const long = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 10, steps: 10 } }, undefined, { signal: controller.signal });
      setTimeout(() => controller.abort('user gave up'), 300);
      await assert.rejects(long);
    });
    const [isErrorForm] = toolCalls(calls, 'echo');
    assert.deepEqual(errorOf(isErrorForm), { error_class: 'invalid_params', error_code: -32602, recoverable: true, recovery_action: 'fix_arguments', retry_safe: false });
    assert.match(isErrorForm!.error!.message, /Input validation error/);
    const rpcForm = calls.find((c) => c.method === 'tools/call' && c.tool === 'tools/call')!;
    // The SDK's server reports a params schema failure as -32603 with the zod issues: the message decides.
    assert.deepEqual(errorOf(rpcForm), { error_class: 'invalid_params', error_code: -32603, recoverable: true, recovery_action: 'fix_arguments', retry_safe: false });
    assert.match(rpcForm.error!.message, /invalid_type/);
    const cancelled = toolCalls(calls, 'trigger-long-running-operation')[0]!;
    assert.equal(cancelled.outcome, 'cancelled');
    // Read-only by its annotations: repeating it is safe.
    assert.deepEqual(errorOf(cancelled), { error_class: 'cancelled', error_code: 'CANCELLED', recoverable: true, recovery_action: 'retry', retry_safe: true });
  });

  test('a server that never answers: timeout; a server that dies mid-call: server_crash', async () => {
    const hung = await inProcess({ name: 'hang', type: 'stdio', command: NODE, args: [fixture('hang-server.mjs')] }, async (client) => {
      await client.listTools();
      await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'hello?' } }));
    }, { requestTimeoutMs: 2000 });
    const t = toolCalls(hung, 'echo')[0]!;
    assert.equal(t.outcome, 'timeout');
    assert.equal(t.answered_by_recorder, true);
    // No annotations: the spec's defaults (not idempotent) make a blind retry unsafe.
    assert.deepEqual(errorOf(t), { error_class: 'timeout', error_code: -32001, recoverable: true, recovery_action: 'retry_with_backoff', retry_safe: false });
    assert.deepEqual([t.idempotent, t.idempotent_source, t.reversibility, t.reversibility_source], [false, 'default', 'permanent', 'default']);

    const crashed = await inProcess({ name: 'crash', type: 'stdio', command: NODE, args: [fixture('crash-server.mjs')] }, async (client) => {
      await client.listTools();
      await assert.rejects(client.callTool({ name: 'crash', arguments: {} }));
    });
    const c = toolCalls(crashed, 'crash')[0]!;
    assert.deepEqual(errorOf(c), { error_class: 'server_crash', error_code: -32000, recoverable: true, recovery_action: 'restart_server', retry_safe: false });
  });
});

describe('error classes from a remote server over HTTP', () => {
  let remote: ChildProcess;
  let remoteUrl = '';
  before(async () => {
    remote = spawn(NODE, [fixture('http-status-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    remoteUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      remote.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on port (\d+)/.exec(out);
        if (m) resolve(`http://127.0.0.1:${m[1]}/mcp`);
      });
      remote.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
    });
  });
  after(() => {
    remote.kill('SIGTERM');
  });

  async function exercise(client: Client): Promise<void> {
    await client.listTools();
    assert.deepEqual((await client.callTool({ name: 'ok', arguments: {} })).content, [{ type: 'text', text: 'fine' }]);
    for (const name of ['needs-auth', 'forbidden', 'busy', 'flaky']) await assert.rejects(client.callTool({ name, arguments: {} }), `${name} fails`);
    for (const name of ['revoked', 'boom']) assert.equal((await client.callTool({ name, arguments: {} })).isError, true);
    await client.callTool({ name: 'paid', arguments: {} });
  }

  function checkRemote(calls: Call[], via: string): void {
    const one = (tool: string) => errorOf(toolCalls(calls, tool)[0]);
    assert.deepEqual(one('needs-auth'), { error_class: 'auth_expired', error_code: 401, recoverable: true, recovery_action: 'reauth', retry_safe: true }, via);
    assert.deepEqual(one('forbidden'), { error_class: 'auth_denied', error_code: 403, recoverable: false, recovery_action: 'manual', retry_safe: true }, via);
    assert.deepEqual(one('busy'), { error_class: 'rate_limited', error_code: 429, recoverable: true, recovery_action: 'retry_with_backoff', retry_safe: true }, via);
    assert.deepEqual(one('flaky'), { error_class: 'transport_error', error_code: 503, recoverable: true, recovery_action: 'retry_with_backoff', retry_safe: false }, via);
    assert.deepEqual(one('revoked'), { error_class: 'auth_expired', error_code: 'TOKEN_REVOKED', recoverable: true, recovery_action: 'reauth', retry_safe: true }, via);
    assert.deepEqual(one('boom'), { error_class: 'tool_error', error_code: 'TOOL_ERROR', recoverable: true, recovery_action: 'manual', retry_safe: false }, via);
    for (const t of ['needs-auth', 'forbidden', 'busy', 'flaky', 'revoked', 'boom']) assert.equal(toolCalls(calls, t)[0]!.outcome, 'error', `${via}: ${t}`);
    const paid = toolCalls(calls, 'paid')[0]!;
    assert.deepEqual([paid.cost_usd, paid.cost_source], [0.25, 'reported'], via);
  }

  test('through mcp-flight serve (the reverse proxy sees the HTTP statuses)', async () => {
    const store = tempDir();
    const work = tempDir('mcpf-remote-');
    dirs.push(store, work);
    const config = path.join(work, 'mcp.json');
    fs.writeFileSync(config, JSON.stringify({ servers: { remote: { type: 'http', url: remoteUrl } } }));
    const serve = await startServe(['--store', store, '--config', config]);
    const served = serve.servers[0]!;
    const client = new Client({ name: 'remote-agent', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(served.url), { requestInit: { headers: { Authorization: `Bearer ${served.token}` } } }));
    await exercise(client);
    await client.close();
    await serve.stop();
    const { calls, records } = onlySession(store);
    const refusal = records.find((r) => r.type === 'http_exchange' && r.status === 401);
    assert.ok(refusal && refusal.type === 'http_exchange' && refusal.request_ids?.length === 1, 'the exchange names the refused request');
    assert.match(refusal.www_authenticate ?? '', /invalid_token/);
    checkRemote(calls, 'serve');
    // The 429's JSON-RPC body refined the call: its message is the server's.
    assert.match(toolCalls(calls, 'busy')[0]!.error!.message, /Too many requests, slow down/);
  });

  test('through mcp-flight record --url (the SDK transport reports the HTTP statuses)', async () => {
    const store = tempDir();
    dirs.push(store);
    const client = new Client({ name: 'remote-agent', version: '1' });
    await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'remote', '--url', remoteUrl], stderr: 'ignore' }));
    await exercise(client);
    await client.close();
    const { calls } = onlySession(store);
    checkRemote(calls, 'record --url');
  });
});

describe('idempotency and reversibility from real annotations and from overrides', () => {
  test('server-everything and server-filesystem, then a policy overriding write_file', async () => {
    const everything = await inProcess({ name: 'everything', type: 'stdio', command: NODE, args: [EVERYTHING] }, async (client) => {
      await client.listTools();
      await client.callTool({ name: 'echo', arguments: { message: 'x' } });
      await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    });
    const tags = (c: Call | undefined) => [c?.idempotent, c?.idempotent_source, c?.reversibility, c?.reversibility_source];
    assert.deepEqual(tags(toolCalls(everything, 'echo')[0]), [true, 'annotation', 'no_effect', 'annotation']);
    // readOnlyHint false, destructiveHint false, openWorldHint false, idempotentHint false.
    assert.deepEqual(tags(toolCalls(everything, 'toggle-simulated-logging')[0]), [false, 'annotation', 'reversible', 'annotation']);

    const work = tempDir('mcpf-fs-');
    dirs.push(work);
    const run = async (policyFile?: string) => {
      const store = tempDir();
      dirs.push(store);
      const client = new Client({ name: 'fs-agent', version: '1' });
      await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'filesystem', ...(policyFile ? ['--policy', policyFile] : []), '--', NODE, FILESYSTEM, work], stderr: 'ignore', env: { ...process.env } as Record<string, string> }));
      await client.listTools();
      await client.callTool({ name: 'create_directory', arguments: { path: path.join(work, 'd') } });
      await client.callTool({ name: 'write_file', arguments: { path: path.join(work, 'd', 'a.txt'), content: 'one' } });
      await client.callTool({ name: 'edit_file', arguments: { path: path.join(work, 'd', 'a.txt'), edits: [{ oldText: 'one', newText: 'two' }] } });
      await client.callTool({ name: 'read_text_file', arguments: { path: path.join(work, 'd', 'a.txt') } });
      await client.close();
      return onlySession(store).calls;
    };
    const fsCalls = await run();
    assert.deepEqual(tags(toolCalls(fsCalls, 'create_directory')[0]), [true, 'annotation', 'reversible', 'annotation']);
    assert.deepEqual(tags(toolCalls(fsCalls, 'write_file')[0]), [true, 'annotation', 'permanent', 'annotation']);
    assert.deepEqual(tags(toolCalls(fsCalls, 'edit_file')[0]), [false, 'annotation', 'permanent', 'annotation']);
    assert.deepEqual(tags(toolCalls(fsCalls, 'read_text_file')[0]), [true, 'annotation', 'no_effect', 'annotation']);

    const policy = path.join(work, '..', `${path.basename(work)}-policy.json`);
    dirs.push(policy);
    fs.writeFileSync(policy, JSON.stringify({ tools: [{ server: 'file*', tool: 'write_file', reversibility: 'reversible', idempotent: false }, { server: '*', tool: '*_file', reversibility: 'permanent' }] }));
    const overridden = await run(policy);
    assert.deepEqual(tags(toolCalls(overridden, 'write_file')[0]), [false, 'override', 'reversible', 'override']);
    // The second entry sets only reversibility: idempotency still comes from the annotations.
    assert.deepEqual(tags(toolCalls(overridden, 'read_text_file')[0]), [true, 'annotation', 'permanent', 'override']);
    assert.deepEqual(tags(toolCalls(overridden, 'create_directory')[0]), [true, 'annotation', 'reversible', 'annotation']);
  });
});
