import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MARKER_PATTERN, Redactor, type Redaction } from '../../src/core/audit/redaction';
import { classifyKey, KEY_ANCHORS } from '../../src/core/audit/redaction-patterns';
import type { JournalRecord, MessageRecord } from '../../src/core/model/records';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter, listSegments, readSegment } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';

/**
 * Redaction: the corpus (true positives of every kind vanish, look-alikes stay), encoded and
 * nested forms, markers and fingerprints, settings, the Recorder's use of it, linear time on
 * hostile input, and two properties (never throws; never lets an inserted secret through).
 */

const CORPUS = path.join(__dirname, 'redaction-corpus');
const load = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(CORPUS, file), 'utf8')) as T;
const join = (t: string | string[]): string => (Array.isArray(t) ? t.join('') : t);

interface TruePositive {
  name: string;
  kind: string;
  secret: string[];
  text: string | string[];
}
const TRUE_POSITIVES = load<TruePositive[]>('true-positives.json').map((t) => ({ ...t, secret: t.secret.join(''), text: join(t.text).replace('{secret}', t.secret.join('')) }));
const SECRET_KEYS = load<Array<{ key: string; value: string | number; kind: string }>>('secret-keys.json');
const FALSE_POSITIVES = load<Array<{ name: string; value: unknown }>>('false-positives.json');

const KEY = Buffer.from('unit-test fingerprint key');
const redactor = new Redactor({ fingerprintKey: KEY });
const MARKER = /^\[REDACTED:[a-z0-9_]+:[0-9a-f]{6}\]$/;
const fp = (secret: string, key = KEY) => crypto.createHmac('sha256', key).update(secret).digest('hex').slice(0, 6);

function call(args: Record<string, unknown>, id: number | string = 1): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: args, _meta: { progressToken: 'p-1' } } };
}

/** The message as the recorder gets it: parsed from its wire text. */
function viaWire<T>(r: Redactor, v: T): { value: T; redactions: Redaction[] } {
  const text = JSON.stringify(v);
  return r.redactMessage(JSON.parse(text) as T);
}

describe('true positives: every kind in the corpus is replaced', () => {
  for (const tp of TRUE_POSITIVES) {
    test(`${tp.name} (${tp.kind})`, () => {
      const t = redactor.redactText(tp.text);
      assert.ok(!t.text.includes(tp.secret), `secret left in: ${t.text}`);
      assert.ok(t.text.includes(`[REDACTED:${tp.kind}:`), `no ${tp.kind} marker in: ${t.text}`);
      assert.ok(t.redactions.some((r) => r.kind === tp.kind));

      const m = viaWire(redactor, call({ note: tp.text }));
      assert.ok(!JSON.stringify(m.value).includes(tp.secret));
      assert.ok(m.redactions.some((r) => r.path === '/params/arguments/note' && r.kind === tp.kind), JSON.stringify(m.redactions));
    });
  }

  test('every value detector kind the issue names is covered by the corpus', () => {
    const kinds = new Set(TRUE_POSITIVES.map((t) => t.kind));
    for (const k of ['aws_access_key_id', 'aws_secret_access_key', 'github_pat', 'github_oauth', 'github_app_user', 'github_app_server', 'github_refresh', 'gitlab_token', 'openai_key', 'anthropic_key', 'slack_token', 'slack_webhook', 'stripe_key', 'google_api_key', 'npm_token', 'sendgrid_key', 'twilio_api_key', 'jwt', 'private_key', 'bearer_token', 'basic_auth', 'url_password', 'azure_storage_key', 'azure_sas']) {
      assert.ok(kinds.has(k), `no corpus entry for ${k}`);
    }
  });
});

describe('by key', () => {
  for (const { key, value, kind } of SECRET_KEYS) {
    test(`"${key}" is a ${kind}`, () => {
      const { value: out, redactions } = viaWire(redactor, call({ [key]: value, other: 'kept' }));
      const args = (out.params as { arguments: Record<string, unknown> }).arguments;
      assert.match(String(args[key]), MARKER);
      assert.ok(String(args[key]).startsWith(`[REDACTED:${kind}:`), `${key} → ${String(args[key])}`);
      assert.equal(args.other, 'kept');
      assert.deepEqual(redactions, [{ path: `/params/arguments/${key}`, kind }]);
    });
  }

  test('names that only look like secrets are kept (whole words, allow-list)', () => {
    for (const k of ['progressToken', 'maxTokens', 'max_tokens', 'tokenCount', 'totalTokens', 'token_type', 'tokenType', 'input_tokens', 'nextPageToken', 'pageToken', 'cursor', 'tokenizer', 'passwordPolicy', 'password_min_length', 'secretName', 'isSecret', 'author', 'authorName', 'authority', 'keyboard', 'key', 'monkey', 'publicKey', 'sessionId', 'tokens', 'token_url', 'tokenEndpoint', 'AWS_ACCESS_KEY_ID', 'cookieDomain']) {
      assert.equal(classifyKey(k) === null || k === 'isSecret', true, `${k} classified as ${classifyKey(k)}`);
      const v = { [k]: 'abc123def456ghi' };
      if (k !== 'isSecret') assert.equal(redactor.redactValue(v).value, v, k);
    }
  });

  test('every word that makes a key secret is one the text scan looks for (key = value inside strings)', () => {
    const anchors = new RegExp(KEY_ANCHORS.map((a) => a.replace(/[-_]/g, '[-_]')).join('|'), 'i');
    for (const { key } of SECRET_KEYS) assert.ok(anchors.test(key), key);
  });

  test('arrays under a secret key, numbers, and { value } objects under one; booleans, null and placeholders stay', () => {
    const v = { api_keys: ['k1-abcdef', 'k2-abcdef'], pin_password: 123456, password: { value: 'hunter2', hint: 'a cat' }, secret: true, token: null, passwd: '********', auth: '${input:token}' };
    const { value: out } = redactor.redactValue(v);
    const o = out as Record<string, unknown>;
    assert.match((o.api_keys as string[])[0]!, MARKER);
    assert.match((o.api_keys as string[])[1]!, MARKER);
    assert.match(String(o.pin_password), MARKER);
    assert.match(String((o.password as { value: string }).value), MARKER);
    assert.equal((o.password as { hint: string }).hint, 'a cat');
    assert.equal(o.secret, true);
    assert.equal(o.token, null);
    assert.equal(o.passwd, '********');
    assert.equal(o.auth, '${input:token}');
  });

  test('"Bearer <token>" under authorization keeps the scheme and names the token', () => {
    const gh = TRUE_POSITIVES.find((t) => t.kind === 'github_pat')!.secret;
    const { value } = redactor.redactValue({ headers: { Authorization: `Bearer ${gh}` } });
    assert.equal((value as { headers: { Authorization: string } }).headers.Authorization, `Bearer [REDACTED:github_pat:${fp(gh)}]`);
  });
});

describe('false positives stay untouched', () => {
  for (const { name, value } of FALSE_POSITIVES) {
    test(name, () => {
      const r = redactor.redactValue(value);
      assert.equal(r.value, value, `changed: ${JSON.stringify(r.redactions)}`);
      assert.deepEqual(r.redactions, []);
      if (typeof value === 'string') assert.equal(redactor.redactText(value).text, value);
      const m = viaWire(redactor, value);
      assert.deepEqual(m.redactions, []);
    });
  }
});

describe('the envelope, _meta and binary content are never rewritten', () => {
  test('jsonrpc, id, method and _meta keep their values even when they look like secrets', () => {
    const gh = TRUE_POSITIVES.find((t) => t.kind === 'github_pat')!.secret;
    const msg = { jsonrpc: '2.0', id: gh, method: `x/${gh}`, params: { _meta: { progressToken: gh, token: gh }, text: gh } };
    const { value } = redactor.redactMessage(msg);
    assert.equal(value.id, gh);
    assert.equal(value.method, `x/${gh}`);
    assert.deepEqual(value.params._meta, { progressToken: gh, token: gh });
    assert.match(value.params.text, MARKER);
  });

  test('image/audio data and resource blobs are not scanned; the text beside them is', () => {
    const aws = TRUE_POSITIVES.find((t) => t.kind === 'aws_access_key_id')!.secret;
    const data = Buffer.from(`x ${aws} y`).toString('base64') + aws;
    const msg = { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'image', data, mimeType: 'image/png' }, { type: 'audio', data, mimeType: 'audio/wav' }, { type: 'resource', resource: { uri: 'a', blob: data } }, { type: 'text', text: aws }] } };
    const { value } = redactor.redactMessage(msg);
    const c = value.result.content;
    assert.equal(c[0]!.data, data);
    assert.equal(c[1]!.data, data);
    assert.equal((c[2]!.resource as { blob: string }).blob, data);
    assert.match(c[3]!.text!, MARKER);
  });

  test('a batch: every element keeps its envelope', () => {
    const batch = [call({ password: 'hunter2' }, 1), call({ password: 'hunter2' }, 2)];
    const { value, redactions } = redactor.redactMessage(batch);
    assert.deepEqual(value.map((m) => m.id), [1, 2]);
    assert.deepEqual(redactions.map((r) => r.path), ['/0/params/arguments/password', '/1/params/arguments/password']);
  });

  test('the input is never mutated, and an untouched message is returned as the same object', () => {
    const msg = call({ password: 'hunter2', nested: { list: ['a', { token: 'x1y2z3' }] } });
    const before = JSON.stringify(msg);
    const { value } = redactor.redactMessage(msg);
    assert.equal(JSON.stringify(msg), before);
    assert.notEqual(value, msg);
    const clean = call({ message: 'hello' });
    assert.equal(redactor.redactMessage(clean).value, clean);
  });
});

describe('nested and encoded forms', () => {
  const gh = TRUE_POSITIVES.find((t) => t.kind === 'github_pat')!.secret;
  const ghMarker = `[REDACTED:github_pat:${fp(gh)}]`;

  test('nested JSON values', () => {
    const { value, redactions } = redactor.redactValue({ a: [{ b: { c: [`see ${gh}`] } }] });
    assert.equal((value as { a: [{ b: { c: string[] } }] }).a[0].b.c[0], `see ${ghMarker}`);
    assert.deepEqual(redactions, [{ path: '/a/0/b/c/0', kind: 'github_pat' }]);
  });

  test('JSON encoded in a string (pretty-printed: the indentation is kept), keys inside count', () => {
    const env = JSON.stringify({ HOME: '/home/u', GITHUB_TOKEN: gh, DB_PASSWORD: 'hunter2', maxTokens: 5 }, null, 2);
    const { value, redactions } = redactor.redactValue({ content: [{ type: 'text', text: env }] });
    const text = (value as unknown as { content: [{ text: string }] }).content[0].text;
    const inner = JSON.parse(text) as Record<string, unknown>;
    assert.equal(inner.GITHUB_TOKEN, ghMarker);
    assert.match(String(inner.DB_PASSWORD), /^\[REDACTED:password:/);
    assert.equal(inner.HOME, '/home/u');
    assert.equal(inner.maxTokens, 5);
    assert.ok(text.includes('\n  "HOME"'), 'kept two-space indentation');
    assert.deepEqual(redactions.map((r) => [r.path, r.kind, r.encoding]), [['/content/0/text', 'github_pat', 'json'], ['/content/0/text', 'password', 'json']]);
  });

  test('JSON in a string in a string', () => {
    const twice = JSON.stringify({ payload: JSON.stringify({ password: 'hunter2' }) });
    const { text, redactions } = redactor.redactText(twice);
    assert.ok(!text.includes('hunter2'));
    assert.equal(redactions[0]!.encoding, 'json+json');
  });

  for (const [name, encode] of [
    ['base64', (s: string) => Buffer.from(s).toString('base64')],
    ['base64 without padding', (s: string) => Buffer.from(s).toString('base64').replace(/=+$/, '')],
    ['base64url', (s: string) => Buffer.from(s).toString('base64url')],
  ] as const) {
    test(`${name}: a whole value (any text inside), and base64 JSON inside text`, () => {
      for (const [payload, secret, json] of [[JSON.stringify({ token: gh }), gh, true], [JSON.stringify({ user: 'bob', password: 'hunter2-x' }), 'hunter2-x', true], [`x-${gh}`, gh, false], [`deploy key: ${gh}`, gh, false]] as const) {
        const enc = encode(payload);
        const v = { blobby: enc, ...(json ? { nested: `state=${enc}; next` } : {}) };
        const { value, redactions } = viaWire(redactor, v);
        const out = value as { blobby: string; nested?: string };
        assert.notEqual(out.blobby, enc);
        const decoded = Buffer.from(out.blobby, 'base64').toString('utf8');
        assert.ok(!decoded.includes(secret) && decoded.includes('[REDACTED:'), decoded);
        if (json) assert.ok(!Buffer.from(out.nested!.slice(6, -6), 'base64').toString('utf8').includes(secret), out.nested);
        assert.ok(redactions.length > 0 && redactions.every((r) => r.encoding?.startsWith('base64')));
      }
    });
  }

  test('URL-encoded: a query string, form body and encoded JSON', () => {
    const cases = [
      [`https://x.example/cb?state=1&token=${encodeURIComponent(gh)}`, gh],
      [`payload=${encodeURIComponent(JSON.stringify({ password: 'p@ss w0rd!' }))}`, 'p@ss w0rd!'],
      [`next=${encodeURIComponent('postgres://app:Sup3rS3cret@db/x')}`, 'Sup3rS3cret'],
    ] as const;
    for (const [text, secret] of cases) {
      const r = redactor.redactText(text);
      assert.ok(!r.text.includes(secret) && !r.text.includes(encodeURIComponent(secret)) && !decodeURIComponent(r.text.replace(/\[REDACTED:[^\]]*\]/g, '')).includes(secret), r.text);
      assert.ok(r.text.includes('[REDACTED:'), r.text);
    }
  });

  test('base64 of URL-encoded JSON (three layers)', () => {
    const enc = Buffer.from(`q=${encodeURIComponent(JSON.stringify({ api_key: 'k-12345678' }))}`).toString('base64');
    const r = redactor.redactValue({ v: enc });
    const back = decodeURIComponent(Buffer.from((r.value as { v: string }).v, 'base64').toString('utf8'));
    assert.ok(!back.includes('k-12345678'), back);
    assert.equal(r.redactions[0]!.encoding, 'base64+url+json');
  });

  test('log notifications (notifications/message data: string and object) and stderr lines', () => {
    const log = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', logger: 'db', data: `connecting with postgres://app:Sup3rS3cret@db/x` } };
    const obj = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'debug', data: { request: { headers: { authorization: `token ${gh}`, cookie: 'sid=abcdef123456' } } } } };
    for (const m of [log, obj]) {
      const { value, redactions } = redactor.redactMessage(m);
      const s = JSON.stringify(value);
      assert.ok(!s.includes('Sup3rS3cret') && !s.includes(gh) && !s.includes('sid=abcdef123456'), s);
      assert.ok(redactions.length > 0);
      assert.equal(value.method, 'notifications/message');
    }
    const ev = redactor.redactEvent({ type: 'stderr', text: `[warn] retrying with GITHUB_TOKEN=${gh}` });
    assert.equal(ev.text, `[warn] retrying with GITHUB_TOKEN=${ghMarker}`);
  });

  test('launch arguments, URLs and error text of connection events', () => {
    const open = redactor.redactEvent({ type: 'connection_open', server: { name: 's', transport: 'stdio', command: 'node', args: ['server.js', '--api-key', 'abc123secret', `--token=${gh}`, '--verbose'] }, upstream: 'stdio' });
    assert.deepEqual(open.server.args.slice(0, 2), ['server.js', '--api-key']);
    assert.match(open.server.args[2]!, /^\[REDACTED:api_key:/);
    assert.equal(open.server.args[3], `--token=${ghMarker}`);
    assert.equal(open.server.args[4], '--verbose');
    const remote = redactor.redactEvent({ type: 'connection_open', server: { name: 'r', transport: 'http', url: 'https://bob:Sup3rS3cret@mcp.example.com/mcp?key=1' }, upstream: 'http' });
    assert.ok(!remote.server.url.includes('Sup3rS3cret'));
    const err = redactor.redactEvent({ type: 'transport_error', side: 'downstream', message: `401 for https://x.example/?access_token=abc123def456` });
    assert.ok(!err.message.includes('abc123def456'));
    const same = { type: 'process_exit', code: 0, signal: null };
    assert.equal(redactor.redactEvent(same), same);
  });

  test('opaque frames (JSON scanned as text): base64 blobs are skipped, the rest is redacted', () => {
    const aws = TRUE_POSITIVES.find((t) => t.kind === 'aws_access_key_id')!.secret;
    const blob = crypto.randomBytes(3000).toString('base64').slice(0, 2000) + aws + crypto.randomBytes(300).toString('base64');
    const raw = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'image', data: blob, mimeType: 'image/png' }, { type: 'text', text: `key ${gh}` }], blob: { blob } } }, null, 1);
    const r = redactor.redactText(raw, { parse: false });
    assert.ok(r.text.includes(blob), 'blob kept byte for byte');
    assert.ok(!r.text.includes(gh));
    assert.deepEqual(r.redactions, [{ path: '', kind: 'github_pat' }]);
  });

  test('bytes that are not UTF-8 are redacted byte for byte elsewhere', () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(` ${gh} `), Buffer.from([0x80])]);
    const out = redactor.redactBytes(bytes).bytes;
    assert.ok(!out.includes(Buffer.from(gh)));
    assert.deepEqual([...out.subarray(0, 2)], [0xff, 0xfe]);
    assert.equal(out[out.length - 1], 0x80);
  });
});

describe('markers and fingerprints', () => {
  const [a, b] = TRUE_POSITIVES.filter((t) => t.kind === 'github_pat').map((t) => t.secret);

  test('format: [REDACTED:<kind>:<6 hex>], the first 6 hex of HMAC-SHA256(key, secret)', () => {
    const out = redactor.redactText(`x ${a} y`).text;
    assert.equal(out, `x [REDACTED:github_pat:${fp(a!)}] y`);
    assert.equal(redactor.fingerprint(a!), fp(a!));
    assert.match(redactor.marker('password', 'hunter2'), MARKER);
  });

  test('the same secret gives the same marker across calls, fields, encodings and Redactor instances with the same key', () => {
    const other = new Redactor({ fingerprintKey: Buffer.from(KEY) });
    const m1 = redactor.redactText(a!).text;
    const m2 = other.redactValue({ deep: [{ x: `token=${a}` }] }).value as { deep: [{ x: string }] };
    const m3 = redactor.redactText(Buffer.from(JSON.stringify({ t: a })).toString('base64')).text;
    assert.equal(m2.deep[0].x, `token=${m1}`);
    assert.ok(Buffer.from(m3, 'base64').toString().includes(m1));
  });

  test('different secrets, or different keys, give different fingerprints', () => {
    assert.notEqual(redactor.redactText(a!).text, redactor.redactText(b!).text);
    const otherKey = new Redactor({ fingerprintKey: Buffer.from('another user') });
    assert.notEqual(redactor.redactText(a!).text, otherKey.redactText(a!).text);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(redactor.fingerprint(`secret-${i}`));
    assert.ok(seen.size > 195, 'fingerprints spread');
  });

  test('without a key: one random key per process (markers still correlate inside it)', () => {
    const x = new Redactor();
    const y = new Redactor();
    assert.equal(x.redactText(a!).text, y.redactText(a!).text);
    assert.notEqual(x.fingerprint(a!), fp(a!));
  });

  test('redacting twice changes nothing more (markers are not secrets)', () => {
    for (const tp of TRUE_POSITIVES) {
      const once = redactor.redactText(tp.text);
      const twice = redactor.redactText(once.text);
      assert.equal(twice.text, once.text, tp.name);
      assert.deepEqual(twice.redactions, [], tp.name);
    }
  });
});

describe('settings: extra patterns and allow-lists', () => {
  test('extraPatterns (group 1 is the secret), allowKeys, allowValues', () => {
    const r = new Redactor({
      fingerprintKey: KEY,
      extraPatterns: [{ kind: 'acme_key', regex: /\bACME-([0-9A-F]{16})\b/ }, { kind: 'Internal Ticket', regex: 'TKT_[0-9]{6}' }],
      allowKeys: ['session_token'],
      allowValues: ['hunter2'],
    });
    const msg = call({ note: 'use ACME-0123456789ABCDEF and TKT_123456', session_token: 'keep-me-123', password: 'hunter2', token: 'drop-me-123' });
    const { value, redactions } = r.redactMessage(msg);
    const args = (value.params as { arguments: Record<string, string> }).arguments;
    assert.equal(args.note, `use ACME-[REDACTED:acme_key:${fp('0123456789ABCDEF')}] and [REDACTED:internal_ticket:${fp('TKT_123456')}]`);
    assert.equal(args.session_token, 'keep-me-123');
    assert.equal(args.password, 'hunter2');
    assert.match(args.token!, MARKER);
    assert.deepEqual(redactions.map((x) => x.kind).sort(), ['acme_key', 'internal_ticket', 'token']);
    assert.equal(r.redactText('AKIA' + 'IOSFODNN7EXAMPLE').text.startsWith('[REDACTED:aws_access_key_id:'), true, 'built-ins stay on');
  });
});

describe('the Recorder journals the redacted copy; the caller still gets the original', () => {
  const gh = TRUE_POSITIVES.find((t) => t.kind === 'github_pat')!.secret;

  function withRecorder(opts: Partial<ConstructorParameters<typeof Recorder>[0]>, fn: (r: Recorder) => void): { raw: string; records: JournalRecord[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-redact-'));
    try {
      const journal = JournalWriter.open(dir);
      const rec = new Recorder({ kind: 'test', journal, redactor, ...opts });
      fn(rec);
      rec.end();
      journal.close();
      const files = listSegments(storeLayout(dir));
      return { raw: files.map((f) => fs.readFileSync(f, 'utf8')).join(''), records: files.flatMap((f) => readSegment(f).records.map((r) => r.record)) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  test('messages, stderr, non-JSON, invalid UTF-8 and opaque frames', () => {
    let tapped: unknown;
    const { raw, records } = withRecorder({ maxStructuredBytes: 4096 }, (rec) => {
      const conn = rec.openConnection({ name: 's', transport: 'stdio', command: 'node', args: ['s.js', '--token', gh] }, 'stdio');
      tapped = conn.message('client_to_server', JSON.stringify(call({ message: `push with ${gh}`, password: 'hunter2' }))).value;
      conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } }));
      conn.event({ type: 'stderr', text: `debug: GITHUB_TOKEN=${gh}` });
      conn.message('server_to_client', `banner ${gh}`);
      conn.message('server_to_client', Buffer.concat([Buffer.from([0xff]), Buffer.from(` ${gh}`)]));
      conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: `${'x'.repeat(5000)} ${gh}` }] } }));
    });
    assert.ok(!raw.includes(gh), 'the secret reached the journal');
    assert.ok(!raw.includes('hunter2'));
    assert.ok(!raw.includes(Buffer.from(` ${gh}`).toString('base64').slice(4, 30)), 'not in the base64 of the invalid UTF-8 frame either');
    assert.equal(((tapped as { params: { arguments: { password: string } } }).params.arguments.password), 'hunter2', 'the caller (gate, pairing) gets the original');
    const msgs = records.filter((r): r is MessageRecord => r.type === 'message');
    assert.deepEqual(msgs[0]!.redacted, [{ path: '/params/arguments/message', kind: 'github_pat' }, { path: '/params/arguments/password', kind: 'password' }]);
    assert.equal(msgs[1]!.redacted, undefined, 'a clean message has no redacted field (and keeps the raw-text fast path)');
    assert.deepEqual((msgs[0]!.message as { params: { _meta: unknown } }).params._meta, { progressToken: 'p-1' });
    const stderr = records.find((r) => r.type === 'stderr');
    assert.equal(stderr?.type === 'stderr' && stderr.text, `debug: GITHUB_TOKEN=[REDACTED:github_pat:${fp(gh)}]`);
    const opaque = records.find((r) => r.type === 'opaque');
    assert.ok(opaque?.type === 'opaque' && opaque.text?.includes('[REDACTED:github_pat:'));
    const open = records.find((r) => r.type === 'connection_open');
    assert.ok(open?.type === 'connection_open' && open.server.args?.[2]?.startsWith('[REDACTED:token:'));
  });

  test('metadata capture: what little is kept is redacted too', () => {
    const { raw } = withRecorder({ capture: 'metadata' }, (rec) => {
      const conn = rec.openConnection({ name: 's', transport: 'stdio' }, 'stdio');
      conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', clientInfo: { name: `c ${gh}`, version: '1' } } }));
    });
    assert.ok(!raw.includes(gh));
  });
});

describe('linear time on hostile input (no catastrophic backtracking)', () => {
  const MB = 1024 * 1024;
  const cases: Array<[string, string]> = [
    ['repeated PEM headers without END', '-----BEGIN PRIVATE KEY-----'.repeat(MB / 27)],
    ['one PEM header then 1 MB of body', '-----BEGIN PRIVATE KEY-----\n' + 'A'.repeat(MB)],
    ['repeated anchors', 'sk-ghp_AKIAxoxb-eyJ://token=passw'.repeat(MB / 32)],
    ['long token-like runs', 'ghp_' + 'a'.repeat(MB)],
    ['URL userinfo without @', ('https://' + 'u'.repeat(200) + ':' + 'p'.repeat(200)).repeat(MB / 410)],
    ['key=value pairs', 'token=abc123def&'.repeat(MB / 16)],
    ['percent signs', '%41%'.repeat(MB / 5)],
    ['base64 signatures', ('Z2hwX' + 'A'.repeat(40) + ' ').repeat(MB / 46)],
    ['quotes after key words', 'password:"'.repeat(MB / 10)],
    ['JWT-ish dots', ('eyJ' + 'a'.repeat(20) + '.').repeat(MB / 24)],
  ];
  for (const [name, text] of cases) {
    test(name, () => {
      const t0 = performance.now();
      redactor.redactText(text);
      redactor.redactText(text, { parse: false });
      const ms = performance.now() - t0;
      // A backtracking blow-up takes minutes; linear work on 1 MB takes well under a second even on a loaded machine.
      assert.ok(ms < 5000, `${name}: ${ms.toFixed(0)} ms`);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const URLSAFE = `${ALNUM}-_`;
const chars = (alphabet: string, n: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: n, maxLength: n });

/** Random secrets of several documented formats (bodies random, so no two runs test the same token). */
const secretArb: fc.Arbitrary<string> = fc.oneof(
  chars(ALNUM, 36).map((b) => `ghp_${b}`),
  chars(`${ALNUM}_`, 82).map((b) => `github_pat_${b}`),
  chars(UPPER, 16).map((b) => `AKIA${b}`),
  chars(URLSAFE, 20).map((b) => `glpat-${b}`),
  chars(URLSAFE, 93).map((b) => `sk-ant-api03-${b}AA`),
  chars(URLSAFE, 64).map((b) => `sk-proj-${b}`),
  fc.tuple(chars('0123456789', 11), chars('0123456789', 13), chars(ALNUM, 24)).map(([a, b, c]) => `xoxb-${a}-${b}-${c}`),
  chars(ALNUM, 24).map((b) => `sk_live_${b}`),
  chars(URLSAFE, 35).map((b) => `AIza${b}`),
  chars(ALNUM, 36).map((b) => `npm_${b}`),
  fc.tuple(chars(URLSAFE, 22), chars(URLSAFE, 43)).map(([a, b]) => `SG.${a}.${b}`),
  fc.tuple(chars(URLSAFE, 20), chars(URLSAFE, 30), chars(URLSAFE, 43)).map(([a, b, c]) => `eyJ${a}.eyJ${b}.${c}`),
);

/** How the secret is planted: bare, in a sentence, under a key, or wrapped in an encoding. */
type Plant = (secret: string) => unknown;
const plantArb: fc.Arbitrary<{ name: string; plant: Plant }> = fc.oneof(
  fc.constant({ name: 'bare', plant: (s: string) => s }),
  fc.tuple(fc.string(), fc.string()).map(([a, b]) => ({ name: 'in text', plant: (s: string) => `${a} ${s}\n${b}` })),
  fc.constant({ name: 'under a password key', plant: (s: string) => ({ password: s }) }),
  fc.constant({ name: 'JSON in a string', plant: (s: string) => JSON.stringify({ note: `see ${s}` }) }),
  fc.constant({ name: 'base64 of a JSON with a token', plant: (s: string) => Buffer.from(JSON.stringify({ token: s })).toString('base64') }),
  fc.constant({ name: 'URL-encoded', plant: (s: string) => `q=${encodeURIComponent(JSON.stringify({ note: s }))}` }),
  fc.constant({ name: 'env dump line', plant: (s: string) => `HOME=/root\nAPI_TOKEN=${s}\n` }),
);

const SKIPPED_KEYS = new Set(['_meta', 'blob', 'data']);

/** Puts `planted` somewhere in `json`, guided by `choices` (never under a key that is skipped by design). */
function insert(json: unknown, planted: unknown, choices: number[], key: string): unknown {
  let i = 0;
  const pick = (n: number) => (n <= 0 ? 0 : (choices[i++ % Math.max(1, choices.length)] ?? 0) % n);
  const go = (v: unknown): unknown => {
    if (typeof v === 'string' && typeof planted === 'string' && pick(2) === 0) {
      const at = pick(v.length + 1);
      return `${v.slice(0, at)} ${planted} ${v.slice(at)}`;
    }
    if (Array.isArray(v)) {
      const at = pick(v.length + 1);
      if (at < v.length && pick(2) === 0) return v.map((x, j) => (j === at ? go(x) : x));
      return [...v.slice(0, at), planted, ...v.slice(at)];
    }
    if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v).filter((k) => !SKIPPED_KEYS.has(k));
      const at = pick(keys.length + 1);
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: (v as Record<string, unknown>)[k], enumerable: true, writable: true, configurable: true });
      if (at < keys.length) out[keys[at]!] = go(out[keys[at]!]);
      else Object.defineProperty(out, SKIPPED_KEYS.has(key) ? `x${key}` : key, { value: planted, enumerable: true, writable: true, configurable: true });
      return out;
    }
    return [v, planted];
  };
  return go(json);
}

/** Whether any string in `out` (keys too), or its base64- or percent-decoded form (two layers deep), satisfies `has`. */
function appears(out: unknown, has: (text: string) => boolean): boolean {
  const texts: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') texts.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) {
      texts.push(k);
      collect(x);
    }
  };
  collect(out);
  const seen = (t: string, depth: number): boolean => {
    if (has(t)) return true;
    if (depth === 0) return false;
    try {
      const d = decodeURIComponent(t);
      if (d !== t && seen(d, depth - 1)) return true;
    } catch {
      /* not percent-encoded */
    }
    for (const run of t.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) if (seen(Buffer.from(run, 'base64').toString('utf8'), depth - 1)) return true;
    return false;
  };
  return texts.some((t) => seen(t, 2));
}

describe('properties (fast-check)', () => {
  test('never throws on arbitrary JSON values, messages and strings (deep-ish, weird unicode, lone surrogates)', () => {
    const weird = fc.string({ unit: fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udfff', '\u202e', '\ufeff', '"', '\\', '%', '=', ':', '-----BEGIN PRIVATE KEY-----', 'ghp_', 'eyJ', '://', 'token='), fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c))), maxLength: 80 });
    const deep = fc.integer({ min: 1, max: 63 }).chain((n) => fc.jsonValue({ maxDepth: 2 }).map((leaf) => {
      let v: unknown = leaf;
      for (let i = 0; i < n; i++) v = i % 2 ? [v, leaf] : { password: leaf, k: v };
      return v;
    }));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 6 }), deep, weird, fc.dictionary(weird, fc.oneof(weird, fc.jsonValue({ maxDepth: 2 }))));
    fc.assert(
      fc.property(value, fc.oneof(fc.constant(1), fc.string()), (v, id) => {
        redactor.redactValue(v);
        const msg = { jsonrpc: '2.0', id, method: 'tools/call', params: { arguments: v } };
        const text = JSON.stringify(msg);
        const r = redactor.redactMessage(JSON.parse(text) as typeof msg);
        assert.equal(r.value.id, id);
        JSON.stringify(r.value);
        if (typeof v === 'string') {
          redactor.redactText(v);
          redactor.redactText(v, { parse: false });
          redactor.redactBytes(Buffer.from(v));
        }
      }),
      { numRuns: 400 },
    );
  });

  test('an inserted secret never survives, wherever and however it is planted', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), secretArb, plantArb, fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), fc.string({ maxLength: 12 }), (json, secret, { plant }, choices, key) => {
        const doc = insert(json, plant(secret), choices, key);
        const message = { jsonrpc: '2.0', id: 1, result: doc };
        const text = JSON.stringify(message);
        const { value, redactions } = redactor.redactMessage(JSON.parse(text) as typeof message);
        assert.ok(!appears(value.result, (t) => t.includes(secret)), `leaked ${secret} in ${JSON.stringify(value).slice(0, 400)}`);
        assert.ok(redactions.length > 0);
        // The marker is in plain sight, or inside the encoding the secret was in (base64 is re-encoded, not unwrapped).
        assert.ok(appears(value.result, (t) => new RegExp(MARKER_PATTERN.source).test(t)));
      }),
      { numRuns: 500 },
    );
  });

});
