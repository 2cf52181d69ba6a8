import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MessageRecord, StderrRecord } from '../../src/core/model/records';
import { CLI, EVERYTHING, fixture, NODE, requireBuiltCli, tempDir } from '../helpers/env';
import { onlySession } from '../helpers/journal';
import { RawRecordClient } from '../helpers/raw-client';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';
import { filesUnder } from '../helpers/files';

/**
 * Redaction end to end, through the real `mcp-flight record` process: secrets cross the
 * recorder untouched (the client and the server see them), and no byte of them reaches the
 * store — journal segments, index, anything else under it — nor an export or a summary.
 */

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function random(alphabet: string, n: number): string {
  const bytes = crypto.randomBytes(n);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}
/** An AWS secret access key: 40 random base64 characters, with both cases and a digit (as real ones have). */
function awsSecretKey(): string {
  for (;;) {
    const k = crypto.randomBytes(30).toString('base64');
    if (/[a-z]/.test(k) && /[A-Z]/.test(k) && /[0-9]/.test(k)) return k;
  }
}

// Made fresh for every run: random, format-valid, never real.
const GH = `ghp_${random(ALNUM, 36)}`;
const AWS_ID = `AKIA${random(UPPER, 16)}`;
const AWS_SECRET = awsSecretKey();
const PASSWORD = `pw-${random(ALNUM, 16)}`;
const DB_PASSWORD = random(ALNUM, 18);
const SECRETS = { GH, AWS_ID, AWS_SECRET, PASSWORD, DB_PASSWORD };

const dirs: string[] = [];
function store(): string {
  const dir = tempDir('mcpf-redact-');
  dirs.push(dir);
  return dir;
}

/** Fails with the file and the secret's name when any of `secrets` is in the bytes. */
function assertNoSecrets(where: string, bytes: Buffer, secrets: Record<string, string> = SECRETS): void {
  for (const [name, secret] of Object.entries(secrets)) {
    assert.ok(!bytes.includes(Buffer.from(secret)), `${name} found in ${where}`);
    // Also not as it would be written if JSON-escaped (it has no characters to escape, but AWS secrets may hold "/").
    assert.ok(!bytes.includes(Buffer.from(JSON.stringify(secret).slice(1, -1))), `${name} (escaped) found in ${where}`);
  }
}

function assertStoreClean(dir: string, secrets?: Record<string, string>): number {
  const files = filesUnder(dir);
  assert.ok(files.length > 0);
  for (const f of files) assertNoSecrets(path.relative(dir, f), fs.readFileSync(f), secrets);
  return files.length;
}

function cli(args: string[]): Buffer {
  const r = spawnSync(NODE, [CLI, ...args], { maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `mcp-flight ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

before(requireBuiltCli);
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('secrets never reach the disk, and cross the recorder untouched', () => {
  test('server-everything: echo with a GitHub token, an AWS key pair and a password argument; get-env exposing GITHUB_TOKEN', async () => {
    const dir = store();
    // The recorder passes its environment on to the server it launches (as VS Code does): get-env returns it.
    const saved = process.env.GITHUB_TOKEN;
    process.env.GITHUB_TOKEN = GH;
    let client: RawRecordClient;
    try {
      client = new RawRecordClient(dir, [NODE, EVERYTHING]);
    } finally {
      if (saved === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = saved;
    }
    await client.initialize();
    const message = `deploy with ${GH}; aws_access_key_id=${AWS_ID} aws_secret_access_key=${AWS_SECRET}`;
    client.callTool(1, 'echo', { message, password: PASSWORD });
    const echoed = await client.response(1);
    client.callTool(2, 'get-env', {});
    const env = await client.response(2);
    assert.equal((await client.close()).code, 0);

    // Forwarding is untouched: the server got the secrets (it echoes them) and the client got them back byte for byte.
    const echoText = (JSON.parse(echoed.toString('utf8')) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text;
    assert.equal(echoText, `Echo: ${message}`);
    assert.ok(echoed.includes(Buffer.from(GH)) && echoed.includes(Buffer.from(AWS_ID)) && echoed.includes(Buffer.from(JSON.stringify(AWS_SECRET).slice(1, -1))));
    const envText = (JSON.parse(env.toString('utf8')) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text;
    assert.equal((JSON.parse(envText) as Record<string, string>).GITHUB_TOKEN, GH, 'get-env really exposed the token to the client');

    // Nothing under the store holds a secret: journal segments, and whatever else is there.
    assertStoreClean(dir);

    // What was recorded instead: markers, with a list of what was replaced; one token, one marker everywhere.
    const { records, calls } = onlySession(dir);
    const messages = records.filter((r): r is MessageRecord => r.type === 'message');
    const request = messages.find((m) => (m.message as { id?: unknown; method?: string }).id === 1 && (m.message as { method?: string }).method === 'tools/call')!;
    assert.deepEqual(
      request.redacted?.map((r) => [r.path, r.kind]).sort(),
      [['/params/arguments/message', 'aws_access_key_id'], ['/params/arguments/message', 'aws_secret_access_key'], ['/params/arguments/message', 'github_pat'], ['/params/arguments/password', 'password']].sort(),
    );
    const args = (request.message as { params: { arguments: { message: string; password: string } } }).params.arguments;
    const ghMarker = /\[REDACTED:github_pat:[0-9a-f]{6}\]/.exec(args.message)?.[0];
    assert.ok(ghMarker, args.message);
    assert.match(args.password, /^\[REDACTED:password:[0-9a-f]{6}\]$/);
    const envRecord = messages.find((m) => (m.message as { id?: unknown }).id === 2 && 'result' in (m.message as object))!;
    assert.deepEqual(envRecord.redacted?.find((r) => r.kind === 'github_pat'), { path: '/result/content/0/text', kind: 'github_pat', encoding: 'json' });
    const recordedEnv = JSON.parse((envRecord.message as { result: { content: Array<{ text: string }> } }).result.content[0]!.text) as Record<string, string>;
    assert.equal(recordedEnv.GITHUB_TOKEN, ghMarker, 'the same token gives the same marker in the request and in get-env\'s answer');
    assert.ok(recordedEnv.PATH, 'the rest of the environment is still recorded');
    // Pairing still works: the envelope was not touched.
    assert.deepEqual(calls.filter((c) => c.method === 'tools/call').map((c) => [c.tool, c.outcome]), [['echo', 'success'], ['get-env', 'success']]);

    // Exports and the summary: schema-valid, and clean.
    const json = cli(['export', '--store', dir, '--format', 'json']);
    assertNoSecrets('export --format json', json);
    assertValidJsonExport(json.toString('utf8'));
    assert.ok(json.includes(Buffer.from(ghMarker)));
    const jsonlFile = path.join(tempDir('mcpf-redact-out-'), 'session.jsonl');
    dirs.push(path.dirname(jsonlFile));
    cli(['export', '--store', dir, '--format', 'jsonl', '--out', jsonlFile]);
    assertNoSecrets('export --format jsonl', fs.readFileSync(jsonlFile));
    assertValidJsonlExport(fs.readFileSync(jsonlFile, 'utf8'));
    assertNoSecrets('summary --json', cli(['summary', '--store', dir, '--json']));
    assertNoSecrets('summary', cli(['summary', '--store', dir]));
    // Reading the store may have written an index beside the journal: still nothing.
    assertStoreClean(dir);
  });

  test('stderr: a secret in a startup line and in a logged line is redacted, the lines are kept', async () => {
    const dir = store();
    const saved = process.env.STDERR_LINE;
    process.env.STDERR_LINE = `config: DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/prod`;
    let client: RawRecordClient;
    try {
      client = new RawRecordClient(dir, [NODE, fixture('secret-stderr-server.mjs')]);
    } finally {
      if (saved === undefined) delete process.env.STDERR_LINE;
      else process.env.STDERR_LINE = saved;
    }
    await client.initialize();
    client.callTool(1, 'log', { line: `retrying with Authorization: Bearer ${GH}` });
    assert.deepEqual((await client.json(1)).result?.content, [{ type: 'text', text: 'logged' }]);
    assert.equal((await client.close()).code, 0);

    assertStoreClean(dir, { GH, DB_PASSWORD });
    const stderr = onlySession(dir).records.filter((r): r is StderrRecord => r.type === 'stderr').map((r) => r.text);
    assert.ok(stderr.some((t) => /^config: DATABASE_URL=postgres:\/\/app:\[REDACTED:url_password:[0-9a-f]{6}\]@db\.internal:5432\/prod$/.test(t)), stderr.join('\n'));
    assert.ok(stderr.some((t) => /^retrying with Authorization: Bearer \[REDACTED:github_pat:[0-9a-f]{6}\]$/.test(t)), stderr.join('\n'));
    assertNoSecrets('export', cli(['export', '--store', dir]), { GH, DB_PASSWORD });
  });

  test('duplicate keys: a secret in a member that a later duplicate overrides (JSON.parse keeps the last) never reaches the store', async () => {
    const dir = store();
    const client = new RawRecordClient(dir, [NODE, EVERYTHING]);
    await client.initialize();
    // The raw text carries the token; the parsed value (all the redaction walk sees) does not.
    client.child.stdin.write(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"note":"${GH}","note":"nothing here"}}\n`);
    assert.equal((await client.json(1)).result?.content instanceof Array, true);
    // The same inside a string holding JSON (a tool argument, a result text): its walk sees the parsed copy only.
    const inner = `{"note":"token ${GH}","note":"nothing here"}`;
    client.callTool(2, 'echo', { message: inner });
    const echoed = await client.response(2);
    assert.ok(echoed.includes(Buffer.from(GH)), 'forwarding is untouched: the server got the token');
    assert.equal((await client.close()).code, 0);

    assertStoreClean(dir, { GH });
    const messages = onlySession(dir).records.filter((r): r is MessageRecord => r.type === 'message');
    const first = messages.find((m) => (m.message as { id?: unknown; method?: string }).id === 1 && (m.message as { method?: string }).method === 'tools/call')!;
    assert.equal((first.message as { params: { note: string } }).params.note, 'nothing here', 'recorded as parsed: the value the JSON-RPC peers act on');
    const second = messages.find((m) => (m.message as { id?: unknown; method?: string }).id === 2 && (m.message as { method?: string }).method === 'tools/call')!;
    assert.deepEqual(second.redacted?.map((r) => r.kind), ['github_pat']);
    assert.match((second.message as { params: { arguments: { message: string } } }).params.arguments.message, /^\{"note":"token \[REDACTED:github_pat:[0-9a-f]{6}\]","note":"nothing here"\}$/, 'the text keeps both members; only the token is replaced');
    assertNoSecrets('export', cli(['export', '--store', dir]), { GH });
  });
});
