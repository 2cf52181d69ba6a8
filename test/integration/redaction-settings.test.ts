import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MessageRecord } from '../../src/core/model/records';
import { CLI, EVERYTHING, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession } from '../helpers/journal';
import { RawRecordClient } from '../helpers/raw-client';

/**
 * `mcp-flight record --redaction FILE` through the real CLI and server-everything: an extra
 * pattern's matches never reach the journal's bytes, an allow-listed key keeps its value, and a
 * file with an entry that could backtrack catastrophically stops the recorder before it starts.
 */

const dirs: string[] = [];
function temp(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}
before(requireBuiltCli);
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function segmentBytes(store: string): Buffer {
  const dir = path.join(store, 'journal');
  return Buffer.concat(fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => fs.readFileSync(path.join(dir, f))));
}

describe('--redaction FILE: extra patterns and allow-lists from the user', () => {
  test('an extra pattern redacts in the journal on disk; an allow-listed key survives; a key not allowed is still redacted', async () => {
    const store = temp('mcpf-redset-');
    const acme = `ACME-${crypto.randomBytes(8).toString('hex').toUpperCase()}`;
    const sessionToken = `st-${crypto.randomBytes(10).toString('hex')}`;
    const apiToken = `at-${crypto.randomBytes(10).toString('hex')}`;
    const file = path.join(temp('mcpf-redset-cfg-'), 'redaction.json');
    fs.writeFileSync(file, JSON.stringify({ extraPatterns: [{ kind: 'acme_key', regex: 'ACME-[0-9A-F]{16}' }], allowKeys: ['session_token'] }));

    const client = new RawRecordClient(store, [NODE, EVERYTHING], ['--redaction', file]);
    await client.initialize();
    client.callTool(1, 'echo', { message: `deploy with ${acme} please`, session_token: sessionToken, api_token: apiToken });
    const echoed = await client.response(1);
    assert.equal((await client.close()).code, 0, client.stderr);
    // Forwarding is untouched: the server saw the value and echoed it back.
    assert.ok(echoed.includes(Buffer.from(acme)), echoed.toString());

    const bytes = segmentBytes(store);
    assert.ok(!bytes.includes(Buffer.from(acme)), 'the extra pattern\'s match is not in any journal segment');
    assert.ok(bytes.includes(Buffer.from(sessionToken)), 'the allow-listed key kept its value');
    assert.ok(!bytes.includes(Buffer.from(apiToken)), 'a secret-named key that is not allow-listed is still redacted');

    const request = onlySession(store).records.find((r): r is MessageRecord => r.type === 'message' && (r.message as { id?: unknown; method?: string }).id === 1 && (r.message as { method?: string }).method === 'tools/call')!;
    const args = (request.message as { params: { arguments: Record<string, string> } }).params.arguments;
    assert.match(args.message!, /^deploy with \[REDACTED:acme_key:[0-9a-f]{6}\] please$/);
    assert.equal(args.session_token, sessionToken);
    assert.match(args.api_token!, /^\[REDACTED:token:[0-9a-f]{6}\]$/);
    assert.deepEqual(request.redacted?.map((r) => [r.path, r.kind]).sort(), [['/params/arguments/api_token', 'token'], ['/params/arguments/message', 'acme_key']]);
  });

  test('a catastrophic pattern, a bad kind and a non-array: refused with every reason, exit 2, nothing recorded', () => {
    const store = temp('mcpf-redset-bad-');
    const file = path.join(temp('mcpf-redset-cfg-'), 'redaction.json');
    fs.writeFileSync(file, JSON.stringify({ extraPatterns: [{ kind: 'evil', regex: '(a+)+$' }, { kind: 'Bad Kind', regex: 'x{3}' }], allowKeys: 'token' }));
    const r = spawnSync(NODE, [CLI, 'record', '--store', store, '--redaction', file, '--', NODE, EVERYTHING], { input: '', timeout: 30_000 });
    const stderr = r.stderr.toString();
    assert.equal(r.status, 2, stderr);
    assert.match(stderr, /extraPatterns\[0\] \(evil\): refused, nested quantifiers/);
    assert.match(stderr, /extraPatterns\[1\]: "kind" must be/);
    assert.match(stderr, /allowKeys must be an array/);
    assert.ok(!fs.existsSync(path.join(store, 'journal')) || fs.readdirSync(path.join(store, 'journal')).every((f) => !f.endsWith('.jsonl')), 'nothing recorded');
  });

  test('a recorder wrapped by the extension (--mcp-flight-wrapped) uses the settings mirrored from VS Code; refused entries are named on stderr, the rest apply', async () => {
    const store = temp('mcpf-redset-wrapped-');
    const home = temp('mcpf-redset-home-');
    const acme = `ACME-${crypto.randomBytes(8).toString('hex').toUpperCase()}`;
    const sessionToken = `st-${crypto.randomBytes(10).toString('hex')}`;
    fs.writeFileSync(path.join(home, 'vscode-redaction.json'), JSON.stringify({ extraPatterns: [{ kind: 'acme_key', regex: 'ACME-[0-9A-F]{16}' }, { kind: 'evil', regex: '(a|aa)+$' }], allowKeys: ['session_token'], allowValues: [] }));
    const saved = process.env.MCP_FLIGHT_HOME;
    process.env.MCP_FLIGHT_HOME = home; // inherited by the recorder
    let client: RawRecordClient;
    try {
      client = new RawRecordClient(store, [NODE, EVERYTHING], ['--mcp-flight-wrapped']);
    } finally {
      if (saved === undefined) delete process.env.MCP_FLIGHT_HOME;
      else process.env.MCP_FLIGHT_HOME = saved;
    }
    await client.initialize();
    client.callTool(1, 'echo', { message: `wrapped ${acme}`, session_token: sessionToken });
    await client.response(1);
    assert.equal((await client.close()).code, 0, client.stderr);
    assert.match(client.stderr, /extraPatterns\[1\] \(evil\): refused, a repeated alternation/);
    const bytes = segmentBytes(store);
    assert.ok(!bytes.includes(Buffer.from(acme)), 'the mirrored extra pattern applied');
    assert.ok(bytes.includes(Buffer.from(sessionToken)), 'the mirrored allowed key applied');
  });

  test('a file that is not JSON: a usage error naming the file', () => {
    const file = path.join(temp('mcpf-redset-cfg-'), 'redaction.json');
    fs.writeFileSync(file, '{ not json');
    const r = spawnSync(NODE, [CLI, 'serve', '--store', temp('mcpf-redset-serve-'), '--redaction', file], { timeout: 30_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr.toString(), /--redaction .*redaction\.json is not valid JSON/);
  });
});
