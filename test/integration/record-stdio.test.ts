import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ListRootsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Call } from '../../src/core/model/calls';
import { CLI, EVERYTHING, FILESYSTEM, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession, toolCalls } from '../helpers/journal';

/**
 * The SDK's real Client, through the real `mcp-flight record` process, to the real reference
 * servers. Every assertion is on what the recorder wrote.
 */

function recordTransport(store: string, name: string, server: string[]): StdioClientTransport {
  return new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', name, '--', ...server], stderr: 'pipe' });
}

function byTool(calls: Call[], tool: string): Call {
  const found = toolCalls(calls, tool);
  assert.equal(found.length, 1, `exactly one call of ${tool}`);
  return found[0]!;
}

describe('mcp-flight record (stdio) with server-everything', () => {
  const store = tempDir();
  let calls: Call[] = [];
  let recordsText = '';
  const received: { progress: number[]; logs: number; rootsRequests: number } = { progress: [], logs: 0, rootsRequests: 0 };

  before(async () => {
    requireBuiltCli();
    const client = new Client({ name: 'flight-test-agent', version: '7.1.0' }, { capabilities: { roots: { listChanged: true } } });
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      received.rootsRequests++;
      return { roots: [{ uri: 'file:///tmp/project', name: 'project' }] };
    });
    client.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).LoggingMessageNotificationSchema, () => {
      received.logs++;
    });
    await client.connect(recordTransport(store, 'everything', [NODE, EVERYTHING]));

    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'echo'));
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello flight' } });
    assert.deepEqual(echo.content, [{ type: 'text', text: 'Echo: hello flight' }]);
    await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    const bad = await client.callTool({ name: 'get-sum', arguments: { a: 'two' } });
    assert.equal(bad.isError, true);
    await assert.rejects(client.request({ method: 'flight/unknown', params: {} }, (await import('zod')).z.object({}).passthrough()), (e: unknown) => e instanceof McpError && e.code === -32601);
    await assert.rejects(client.getPrompt({ name: 'no-such-prompt' }), (e: unknown) => e instanceof McpError && e.code === -32602);
    await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
      onprogress: (p) => received.progress.push(p.progress),
    });
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await client.callTool({ name: 'get-roots-list', arguments: {} });

    const abort = new AbortController();
    const cancelled = client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 25 } }, undefined, { signal: abort.signal, onprogress: () => undefined });
    setTimeout(() => abort.abort('test cancels'), 500);
    await assert.rejects(cancelled);

    await client.close();
    // The record process exits after the server closes; wait for its session_end.
    for (let i = 0; i < 100 && !fs.readdirSync(path.join(store, 'journal')).some((f) => fs.readFileSync(path.join(store, 'journal', f), 'utf8').includes('"session_end"')); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const session = onlySession(store);
    calls = session.calls;
    recordsText = JSON.stringify(session.records);
  });

  after(() => (process.env.KEEP_STORE ? console.log(store) : fs.rmSync(store, { recursive: true, force: true })));

  test('records the handshake: agent identity, server identity, launch command', () => {
    const { assembler } = onlySession(store);
    const conn = assembler.session!.connections[0]!;
    assert.equal(conn.agent?.name, 'flight-test-agent');
    assert.equal(conn.agent?.version, '7.1.0');
    assert.equal(conn.server.name, 'everything');
    assert.match(conn.server.version ?? '', /\d/);
    assert.ok(conn.server.protocol_version);
    assert.equal(conn.server.command, NODE);
    assert.deepEqual(conn.server.args, [EVERYTHING]);
    assert.equal(conn.upstream, 'stdio');
    assert.ok(conn.process?.pid);
    assert.equal(assembler.session!.recorder.kind, 'cli-record');
    assert.ok(assembler.session!.ended_at, 'session_end recorded on a clean shutdown');
    assert.ok(conn.stderr_lines >= 1, 'the server banner on stderr is recorded');
  });

  test('pairs every request with its response and records outcomes', () => {
    const init = calls.find((c) => c.method === 'initialize')!;
    assert.equal(init.outcome, 'success');
    assert.equal(init.agent_id, 'flight-test-agent/7.1.0');
    assert.equal(calls.find((c) => c.method === 'tools/list')!.outcome, 'success');

    const echo = byTool(calls, 'echo');
    assert.equal(echo.outcome, 'success');
    assert.deepEqual(echo.input, { message: 'hello flight' });
    assert.deepEqual((echo.output as { content: unknown }).content, [{ type: 'text', text: 'Echo: hello flight' }]);
    assert.ok(echo.duration_ms !== undefined && echo.duration_ms >= 0);
    assert.equal(echo.server.name, 'everything');

    const sums = toolCalls(calls, 'get-sum');
    assert.equal(sums.length, 2);
    assert.equal(sums[0]!.outcome, 'success');
    assert.equal(sums[1]!.outcome, 'error');
    // Bad arguments come back as an isError result carrying the SDK's "MCP error -32602".
    assert.equal(sums[1]!.error?.error_class, 'invalid_params');
    assert.equal(sums[1]!.error?.error_code, -32602);

    const unknown = calls.find((c) => c.method === 'flight/unknown')!;
    assert.equal(unknown.outcome, 'error');
    assert.equal(unknown.error?.error_code, -32601);
    assert.equal(unknown.error?.error_class, 'method_not_found');

    const prompt = calls.find((c) => c.method === 'prompts/get')!;
    assert.equal(prompt.error?.error_code, -32602);
    assert.equal(prompt.error?.error_class, 'invalid_params');
  });

  test('attaches progress notifications to their call', () => {
    const [longRun] = toolCalls(calls, 'trigger-long-running-operation');
    assert.equal(longRun!.outcome, 'success');
    assert.deepEqual(longRun!.progress.map((p) => (p.params as { progress: number }).progress), [1, 2, 3]);
    assert.ok(received.progress.includes(1) && received.progress.includes(2), `the client still got its progress: ${received.progress}`);
  });

  test('attaches logging notifications to the call in flight', () => {
    const toggles = toolCalls(calls, 'toggle-simulated-logging');
    assert.equal(toggles.length, 2);
    assert.equal(toggles[0]!.logs.length, 1, 'the first log message is sent while the call is open');
    assert.equal(toggles[0]!.logs[0]!.method, 'notifications/message');
    assert.ok(received.logs >= 1);
  });

  test('records server→client roots/list requests and their answers', () => {
    // server-everything asks for roots right after initialization and caches them for get-roots-list.
    const rootsCall = byTool(calls, 'get-roots-list');
    assert.equal(rootsCall.outcome, 'success');
    const asked = calls.filter((c) => c.direction === 'server_to_client' && c.method === 'roots/list');
    assert.ok(asked.length >= 1);
    assert.equal(asked.length, received.rootsRequests, 'every request the client answered is recorded');
    for (const r of asked) {
      assert.equal(r.outcome, 'success');
      assert.deepEqual((r.output as { roots: unknown }).roots, [{ uri: 'file:///tmp/project', name: 'project' }]);
      if (r.parent_call_id) assert.ok(calls.find((c) => c.call_id === r.parent_call_id)!.nested_call_ids.includes(r.call_id));
    }
  });

  test('records a cancellation', () => {
    const runs = toolCalls(calls, 'trigger-long-running-operation');
    assert.equal(runs.length, 2);
    const cancelled = runs[1]!;
    assert.equal(cancelled.outcome, 'cancelled');
    assert.equal(cancelled.cancelled?.method, 'notifications/cancelled');
    assert.equal(cancelled.error?.error_class, 'cancelled');
    assert.ok(cancelled.progress.length >= 1 && cancelled.progress.length < 25, `progress before the cancellation: ${cancelled.progress.length}`);
  });

  test('keeps every message verbatim, in sequence', () => {
    const { records } = onlySession(store);
    const seqs = records.map((r) => r.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'per-session sequence numbers have no gaps');
    assert.ok(recordsText.includes('hello flight'));
    for (const r of records) {
      if (r.type === 'message') assert.ok(r.size > 0);
    }
  });
});

describe('mcp-flight record (stdio) with server-filesystem', () => {
  const store = tempDir();
  const work = tempDir('mcpf-fs-');
  let calls: Call[] = [];

  before(async () => {
    requireBuiltCli();
    const client = new Client({ name: 'fs-agent', version: '1.0.0' });
    await client.connect(recordTransport(store, 'filesystem', [NODE, FILESYSTEM, work]));
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t) => t.name === 'write_file'));
    await client.callTool({ name: 'write_file', arguments: { path: path.join(work, 'notes.txt'), content: 'flight recorder' } });
    const read = await client.callTool({ name: 'read_text_file', arguments: { path: path.join(work, 'notes.txt') } });
    assert.match(JSON.stringify(read.content), /flight recorder/);
    const outside = await client.callTool({ name: 'read_text_file', arguments: { path: '/etc/hostname' } });
    assert.equal(outside.isError, true);
    await client.close();
    await new Promise((r) => setTimeout(r, 300));
    calls = onlySession(store).calls;
  });

  after(() => {
    fs.rmSync(store, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('records real file writes and a refused read', () => {
    assert.equal(fs.readFileSync(path.join(work, 'notes.txt'), 'utf8'), 'flight recorder');
    const write = byTool(calls, 'write_file');
    assert.equal(write.outcome, 'success');
    assert.deepEqual(write.input, { path: path.join(work, 'notes.txt'), content: 'flight recorder' });
    const reads = toolCalls(calls, 'read_text_file');
    assert.equal(reads.length, 2);
    assert.equal(reads[0]!.outcome, 'success');
    assert.equal(reads[1]!.outcome, 'error');
    assert.equal(reads[1]!.error?.error_class, 'tool_error');
    assert.match(reads[1]!.error?.message ?? '', /denied|outside|not allowed/i);
  });
});
