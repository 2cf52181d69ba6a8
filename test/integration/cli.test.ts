import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI, EVERYTHING, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';

/** The read side of the CLI — sessions, summary, export — over a store recorded for real. */

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('mcp-flight sessions, summary and export', () => {
  const store = tempDir();
  const out = tempDir('mcpf-out-');

  before(async () => {
    requireBuiltCli();
    for (const message of ['first', 'second']) {
      const client = new Client({ name: 'cli-test-agent', version: '2.0.0' });
      await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'everything', '--', NODE, EVERYTHING], stderr: 'ignore' }));
      await client.callTool({ name: 'echo', arguments: { message } });
      await client.callTool({ name: 'get-sum', arguments: { a: 'not a number' } });
      await client.close();
    }
    await new Promise((r) => setTimeout(r, 300));
  });
  after(() => {
    fs.rmSync(store, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  });

  test('sessions lists both sessions, newest first, with counts and state', () => {
    const r = cli('sessions', '--store', store, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{ session_id: string; tool_calls: number; failed: number; terminal_state: string; servers: string[]; started_at: string }>;
    assert.equal(rows.length, 2);
    assert.ok(rows[0]!.started_at >= rows[1]!.started_at);
    for (const row of rows) {
      assert.equal(row.tool_calls, 2);
      assert.equal(row.failed, 1);
      assert.equal(row.terminal_state, 'partial_success');
      assert.deepEqual(row.servers, ['everything']);
    }
    const text = cli('sessions', '--store', store);
    assert.match(text.stdout, /SESSION\s+STARTED/);
    assert.match(text.stdout, /partial_success/);
  });

  test('summary --json of the latest session', () => {
    const r = cli('summary', '--store', store, '--json');
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.tool_calls, 2);
    assert.equal(s.successful_calls, 1);
    assert.equal(s.failed_calls, 1);
    assert.equal(s.terminal_state, 'partial_success');
    // get-sum's bad argument comes back as an isError result carrying the SDK's "MCP error -32602".
    assert.deepEqual(s.errors_by_class, { invalid_params: 1 });
    assert.equal(s.agents[0].agent_id, 'cli-test-agent/2.0.0');
  });

  test('export writes a schema-valid JSON file, and JSONL to stdout', () => {
    const sessions = JSON.parse(cli('sessions', '--store', store, '--json').stdout) as Array<{ session_id: string }>;
    const older = sessions[1]!.session_id;
    const file = path.join(out, 'older.json');
    const r = cli('export', '--store', store, '--session', older.slice(0, 8), '--out', file);
    assert.equal(r.code, 0, r.stderr);
    const doc = assertValidJsonExport(fs.readFileSync(file, 'utf8')) as { format: string; session: { session_id: string }; calls: Array<{ tool: string; input: unknown; outcome: string }> };
    assert.equal(doc.format, 'mcp-flight.session/v1');
    assert.equal(doc.session.session_id, older, 'a unique prefix selects the session');
    const echo = doc.calls.find((c) => c.tool === 'echo')!;
    assert.deepEqual(echo.input, { message: 'first' });
    assert.equal(echo.outcome, 'success');

    const jsonl = cli('export', '--store', store, '--format', 'jsonl');
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const lines = assertValidJsonlExport(jsonl.stdout);
    assert.equal(lines[0]!.kind, 'session');
    assert.equal(lines[lines.length - 1]!.kind, 'summary');
    assert.ok(lines.some((l) => l.kind === 'call' && l.tool === 'echo' && (l.input as { message: string }).message === 'second'));
  });

  test('--help everywhere, and clear errors with non-zero exits', () => {
    for (const command of ['record', 'serve', 'sessions', 'export', 'summary']) {
      const r = cli(command, '--help');
      assert.equal(r.code, 0, command);
      assert.match(r.stdout, new RegExp(`mcp-flight ${command}`));
    }
    assert.equal(cli('--help').code, 0);
    const none = cli();
    assert.equal(none.code, 2);
    assert.match(none.stdout, /Usage/);

    const unknown = cli('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);

    const badFlag = cli('sessions', '--store', store, '--bogus');
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /bogus/);

    const missing = cli('sessions', '--store', path.join(out, 'nowhere'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No MCP Flight Recorder store/);

    const noSession = cli('export', '--store', store, '--session', 'ffffffff-0000');
    assert.equal(noSession.code, 1);
    assert.match(noSession.stderr, /no session "ffffffff-0000"/);

    const badFormat = cli('export', '--store', store, '--format', 'xml');
    assert.equal(badFormat.code, 2);

    const nothing = cli('record', '--store', store);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to record/);
  });
});
