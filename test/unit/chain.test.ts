import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { canonicalize } from '../../src/core/audit/canonical';
import { CHAIN_PREFIX_LENGTH, ChainSealer, chainedLine, chainSessionId, GENESIS, leafOf, linkOf, macOf, openLine, parseOpened, sha256, stripChain } from '../../src/core/audit/chain';
import { describeSegment, digestOf, readJsonLines, signatureValid, signRecord, writerLogFile } from '../../src/core/audit/checkpoints';
import { deriveKeys, fingerprintOf, loadAuditKeys, parseTrustedKey, publicKeyFromRaw } from '../../src/core/audit/keys';
import { verifyStore } from '../../src/core/audit/verify';
import type { CheckpointRecord, SegmentHeader } from '../../src/core/model/records';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter, listSegments, readRecordAt, readSegment } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';
import { openStore } from '../../src/core/store/store';

/**
 * The audit trail's building blocks: RFC 8785 canonicalisation, the chained line format, keys,
 * checkpoint signatures, and the JournalWriter that writes them (docs/audit-trail.md).
 */

const temps: string[] = [];
function temp(prefix = 'mcpf-chain-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
}
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

// -------------------------------------------------------------------------------------------------

describe('RFC 8785 canonicalisation', () => {
  test('the RFC 8785 §3.2.3 example', () => {
    // The RFC's input, written as JavaScript parses it.
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(canonicalize(input), '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  test('member names are sorted by UTF-16 code units (RFC 8785 §3.2.3 sorting example)', () => {
    const input = JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}');
    const keys = Object.keys(JSON.parse(canonicalize(input)) as object);
    // (Integer-like keys come first in any JS object; the canonical text is what matters.)
    assert.equal(canonicalize(input), '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}');
    assert.equal(keys.length, 7);
  });

  test('numbers as ECMAScript writes them (RFC 8785 Appendix B samples)', () => {
    const samples: Array<[number, string]> = [
      [0, '0'],
      [-0, '0'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [9007199254740992, '9007199254740992'],
      [295147905179352830000, '295147905179352830000'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [0.000001, '0.000001'],
      [-1.5, '-1.5'],
      [333333333.3333332, '333333333.3333332'],
    ];
    for (const [n, s] of samples) assert.equal(canonicalize(n), s, String(n));
    assert.throws(() => canonicalize(Number.NaN));
    assert.throws(() => canonicalize(Infinity));
    assert.throws(() => canonicalize(10n));
  });

  test('agrees with a straightforward reference on random JSON (strings with escapes and surrogates, nesting, numbers)', () => {
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0001', '\u001f', 'é', '€', '\ud83d\ude00', '\ud800', '\udfff', '\u2028', '/', '\u007f'];
    const str = (): string => Array.from({ length: Math.floor(rnd() * 8) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 4 || r < 0.3) return [null, true, false, rnd() * 1e6 - 5e5, Math.floor(rnd() * 1e15), rnd() * 1e-9, str()][Math.floor(rnd() * 7)];
      if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(rnd() * 6); i++) o[str()] = value(depth + 1);
      return o;
    };
    const reference = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
      if (v && typeof v === 'object') {
        return `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${reference((v as Record<string, unknown>)[k])}`)
          .join(',')}}`;
      }
      return JSON.stringify(v);
    };
    for (let i = 0; i < 3000; i++) {
      const v = JSON.parse(JSON.stringify(value(0))) as unknown;
      assert.equal(canonicalize(v), reference(v));
      // Idempotent: the canonical text parses back to something with the same canonical text.
      assert.equal(canonicalize(JSON.parse(canonicalize(v))), canonicalize(v));
    }
  });
});

// -------------------------------------------------------------------------------------------------

describe('the chained line', () => {
  const macKey = crypto.randomBytes(32);

  test('chain members lead the line at fixed offsets; the rest is the record text untouched', () => {
    const sealer = new ChainSealer(macKey);
    const json = '{"type":"message","session_id":"s1","seq":1,"message":{"z":1,  "a":[1.0, 2]}}';
    const line = sealer.seal(json)!;
    assert.ok(line.endsWith(json.slice(1)), 'the record text is kept verbatim (spacing, key order, number spelling)');
    assert.equal(line.length, CHAIN_PREFIX_LENGTH + json.length - 1);
    assert.equal(stripChain(line), json);
    const opened = openLine(Buffer.from(line))!;
    assert.deepEqual(parseOpened(opened), JSON.parse(json));
    const leaf = leafOf(JSON.parse(json));
    assert.equal(opened.h, linkOf(GENESIS, leaf, 's1').toString('hex'));
    assert.equal(opened.mac, macOf(macKey, Buffer.from(opened.h, 'hex'), json).toString('hex'));
    assert.ok(macOf(macKey, Buffer.from(opened.h, 'hex'), opened).equals(Buffer.from(opened.mac, 'hex')), 'MAC over the bytes as read');
  });

  test('each line links to the one before it, and the session id is bound into the link', () => {
    const sealer = new ChainSealer(macKey);
    const a = openLine(Buffer.from(sealer.seal('{"type":"x","session_id":"s1","seq":1}')!))!;
    const b = openLine(Buffer.from(sealer.seal('{"type":"x","session_id":"s1","seq":2}')!))!;
    assert.equal(b.h, linkOf(Buffer.from(a.h, 'hex'), leafOf({ type: 'x', session_id: 's1', seq: 2 }), 's1').toString('hex'));
    assert.notEqual(linkOf(GENESIS, leafOf({ a: 1 }), 's1').toString('hex'), linkOf(GENESIS, leafOf({ a: 1 }), 's2').toString('hex'));
    assert.equal(chainSessionId({ session_id: 7 }), '');
  });

  test('what cannot be chained is left alone: not JSON, not an object, an empty object', () => {
    const sealer = new ChainSealer(macKey);
    for (const bad of ['{"type":"message", this is not json', '[1,2]', '{}', '{ }', 'null', '"x"']) assert.equal(sealer.seal(bad), undefined, bad);
    assert.equal(openLine(Buffer.from('{"type":"message"}')), undefined);
    // Upper-case hex is not what the writer writes: a flipped case bit must not pass as the same value.
    const line = sealer.seal('{"a":1}')!;
    const upper = line.slice(0, 6) + line.slice(6, 70).toUpperCase() + line.slice(70);
    assert.equal(openLine(Buffer.from(upper)), undefined);
  });

  test('the bytes the writer writes are the line, newline included, for any text and key length', () => {
    // The sealer computes its HMAC by hand (RFC 2104 from one-shot hashes); createHmac is the reference.
    for (const key of [crypto.randomBytes(1), crypto.randomBytes(32), crypto.randomBytes(64), crypto.randomBytes(65), crypto.randomBytes(200)]) {
      const sealer = new ChainSealer(key);
      let prev: Buffer = GENESIS;
      for (const json of ['{"a":1}', '{"type":"x","session_id":"s","t":"é€😀\\u0000"}', `{"big":"${'x'.repeat(70000)}"}`, '{ "spaced" : [1.0, 2e3] }']) {
        const h = linkOf(prev, leafOf(JSON.parse(json)), chainSessionId(JSON.parse(json)));
        const expected = chainedLine(h, crypto.createHmac('sha256', key).update(h).update(json, 'utf8').digest(), json) + '\n';
        const line = sealer.sealBytes(json)!;
        assert.equal(line.toString('utf8'), expected, `key of ${key.length} bytes`);
        const reference = crypto.createHmac('sha256', key).update(h).update(json, 'utf8').digest();
        assert.ok(macOf(key, h, json).equals(reference), 'macOf over the text');
        assert.ok(macOf(key, h, openLine(line.subarray(0, line.length - 1))!).equals(reference), 'macOf over the bytes as read');
        prev = h;
      }
      assert.equal(sealer.sealBytes('{}'), undefined);
      assert.equal(sealer.sealBytes('not json'), undefined);
    }
  });

  test('given the parsed record, the sealer produces the same line without parsing', () => {
    const s1 = new ChainSealer(macKey);
    const s2 = new ChainSealer(macKey);
    const recs = [
      { type: 'message', session_id: 's', seq: 1, mono: 1.5, message: { jsonrpc: '2.0', id: 1, result: { text: 'é\ud83d\ude00\ud800', n: -0, x: [1e21, null] } } },
      { type: 'stderr', session_id: 's', seq: 2, text: 'line', skipped: undefined },
    ];
    for (const r of recs) assert.equal(s2.seal(JSON.stringify(r), r), s1.seal(JSON.stringify(r)));
  });
});

// -------------------------------------------------------------------------------------------------

describe('keys', () => {
  test('one user-only secret under MCP_FLIGHT_HOME, created once, derived the same by every process', () => {
    const home = path.join(temp(), 'home');
    assert.equal(loadAuditKeys({ home }), undefined, 'readers never create it');
    const a = loadAuditKeys({ home, create: true })!;
    const b = loadAuditKeys({ home, create: true })!;
    assert.equal(a.fingerprint, b.fingerprint);
    assert.ok(a.macKey.equals(b.macKey));
    assert.match(a.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.fingerprint, fingerprintOf(a.publicKeyRaw));
    if (process.platform !== 'win32') {
      assert.equal(fs.statSync(path.join(home, 'keys')).mode & 0o777, 0o700);
      assert.equal(fs.statSync(a.secretFile).mode & 0o777, 0o600);
      assert.equal(fs.statSync(home).mode & 0o777, 0o700);
      fs.chmodSync(a.secretFile, 0o644);
      assert.match(loadAuditKeys({ home })!.warnings.join(), /readable by other users/);
    }
    assert.ok(!fs.readdirSync(path.join(home, 'keys')).some((n) => n.startsWith('.')), 'no temporary file left behind');
  });

  test('concurrent creation by several processes ends with one secret', async () => {
    const home = path.join(temp(), 'home');
    const { spawn } = await import('node:child_process');
    const script = `const {loadAuditKeys}=require(${JSON.stringify(path.resolve(__dirname, '../../src/core/audit/keys.ts'))});process.stdout.write(loadAuditKeys({home:${JSON.stringify(home)},create:true}).fingerprint)`;
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', '-e', script]);
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      })),
    );
    assert.equal(new Set(runs).size, 1, runs.join(' '));
  });

  test('trusted keys given as a fingerprint, bare hex, a base64 public key, or a file', () => {
    const k = deriveKeys(Buffer.alloc(32, 1));
    assert.equal(parseTrustedKey(k.fingerprint), k.fingerprint);
    assert.equal(parseTrustedKey(k.fingerprint.slice(7).toUpperCase()), k.fingerprint);
    assert.equal(parseTrustedKey(k.publicKeyRaw.toString('base64')), k.fingerprint);
    const file = path.join(temp(), 'key.pub');
    fs.writeFileSync(file, k.publicKey.export({ format: 'pem', type: 'spki' }) as string);
    assert.equal(parseTrustedKey(file), k.fingerprint);
    assert.throws(() => parseTrustedKey('not-a-key'));
    assert.equal(fingerprintOf(Buffer.from((publicKeyFromRaw(k.publicKeyRaw).export({ format: 'jwk' }) as { x: string }).x, 'base64url')), k.fingerprint);
  });

  test('signatures: valid, then any changed member or a re-encoded signature fails', () => {
    const k = deriveKeys(crypto.randomBytes(32));
    const other = deriveKeys(crypto.randomBytes(32));
    const rec = signRecord<{ a: number; b: string; sig: string }>(k, { a: 1, b: 'x' });
    assert.ok(signatureValid(k.publicKey, rec));
    assert.ok(!signatureValid(other.publicKey, rec));
    assert.ok(!signatureValid(k.publicKey, { ...rec, a: 2 }));
    assert.ok(!signatureValid(k.publicKey, { ...rec, sig: rec.sig.replace(/=*$/, '') }), 'one encoding per signature');
    assert.notEqual(digestOf(rec), digestOf({ ...rec, b: 'y' }));
  });
});

// -------------------------------------------------------------------------------------------------

describe('JournalWriter with the audit trail', () => {
  const home = temp('mcpf-home-');
  const keys = loadAuditKeys({ home, create: true })!;

  function lines(file: string): Array<{ h: string; rec: Record<string, unknown> }> {
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const o = openLine(Buffer.from(l))!;
        return { h: o.h, rec: parseOpened(o) as Record<string, unknown> };
      });
  }

  test('a checkpoint every N lines (N ≤ 50), a final one on close, copied outside the workspace after fsync', () => {
    const root = temp();
    const journal = JournalWriter.open(root, { audit: { home, checkpointEvery: 7 } });
    assert.ok(journal.tamperEvident);
    const rec = new Recorder({ kind: 'test', journal });
    const conn = rec.openConnection({ name: 's', transport: 'stdio' }, 'stdio');
    for (let i = 0; i < 20; i++) conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }));
    rec.end();
    journal.close();
    const all = lines(journal.currentSegment);
    const cps = all.map((l, i) => ({ ...l, i })).filter((l) => l.rec.type === 'checkpoint');
    assert.deepEqual(
      cps.map((c) => c.rec.k),
      cps.map((_, i) => i + 1),
    );
    for (const c of cps) {
      const cp = c.rec as unknown as CheckpointRecord;
      assert.equal(cp.upto, c.i, 'seals every line before it');
      assert.equal(cp.h, all[c.i - 1]!.h);
      assert.ok(signatureValid(keys.publicKey, cp));
    }
    for (let i = 1; i < cps.length; i++) assert.equal((cps[i]!.rec as unknown as CheckpointRecord).prev, digestOf(cps[i - 1]!.rec));
    const last = cps[cps.length - 1]!;
    assert.equal(last.i, all.length - 1, 'the final checkpoint is the last line');
    assert.equal(last.rec.final, true);
    assert.equal(last.rec.reason, 'close');
    // Between checkpoints: at most 7 lines.
    let prev = -1;
    for (const c of cps) {
      assert.ok(c.i - prev - 1 <= 7);
      prev = c.i;
    }
    const header = all[0]!.rec as unknown as SegmentHeader;
    const external = readJsonLines(writerLogFile(home, header.audit!.store_id, journal.writerId));
    assert.equal(external.lines[0]!.value && (external.lines[0]!.value as { type: string }).type, 'writer');
    assert.deepEqual(
      external.lines.slice(1).map((l) => l.value),
      cps.map((c) => c.rec),
    );
    if (process.platform !== 'win32') assert.equal(fs.statSync(writerLogFile(home, header.audit!.store_id, journal.writerId)).mode & 0o777, 0o600);
  });

  test('a checkpoint when a line has waited long enough, even with no more traffic', async () => {
    const root = temp();
    const journal = JournalWriter.open(root, { fsyncIntervalMs: 20, audit: { home, checkpointIntervalMs: 60 } });
    const rec = new Recorder({ kind: 'test', journal });
    await new Promise((r) => setTimeout(r, 300));
    const all = lines(journal.currentSegment);
    assert.equal(all[all.length - 1]!.rec.type, 'checkpoint');
    assert.equal(all[all.length - 1]!.rec.reason, 'time');
    assert.equal(verifyStore(root, { home }).verdict, 'intact', 'sealed without closing');
    rec.end();
    journal.close();
  });

  test('background fsyncs interleaved with writes and rotations: every checkpoint copied outside, in order, the store intact', async () => {
    const root = temp();
    const journal = JournalWriter.open(root, { fsyncIntervalMs: 2, maxSegmentBytes: 4096, audit: { home, checkpointEvery: 3 } });
    const rec = new Recorder({ kind: 'test', journal });
    const conn = rec.openConnection({ name: 's', transport: 'stdio' }, 'stdio');
    for (let i = 0; i < 60; i++) {
      conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(150) } } }));
      // Let the timer's fsync start between writes, so rotations meet one in flight.
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 3));
    }
    rec.end();
    journal.close();
    const segs = listSegments(storeLayout(root));
    assert.ok(segs.length >= 3, `${segs.length} segments`);
    const cps = segs.flatMap((seg) => lines(seg).filter((l) => l.rec.type === 'checkpoint').map((l) => l.rec));
    const header = lines(segs[0]!)[0]!.rec as unknown as SegmentHeader;
    const external = readJsonLines(writerLogFile(home, header.audit!.store_id, journal.writerId));
    assert.deepEqual(
      external.lines.map((l) => l.value).filter((v) => (v as { type?: string }).type === 'checkpoint'),
      cps,
    );
    assert.equal(verifyStore(root, { home }).verdict, 'intact');
  });

  test('a rotation that cannot open the next segment keeps no descriptor: a file opened afterwards is never written or closed by the journal', () => {
    const root = temp();
    const journal = JournalWriter.open(root, { maxSegmentBytes: 2048, audit: { home } });
    const journalDir = path.dirname(journal.currentSegment);
    const line = (i: number) => JSON.stringify({ type: 'probe', i, pad: 'p'.repeat(100) });
    // The journal folder goes away under the writer (the user moved the store): the next segment cannot be created.
    fs.renameSync(journalDir, `${journalDir}.moved`);
    let failed = 0;
    for (let i = 0; i < 40 && failed === 0; i++) {
      try {
        journal.appendLine(line(i));
      } catch {
        failed++;
      }
    }
    assert.equal(failed, 1, 'the rotation failed');
    // A file this process opens now may get the number of the descriptor the journal closed.
    const other = path.join(root, 'other.txt');
    const fd = fs.openSync(other, 'w');
    for (let i = 0; i < 3; i++) assert.throws(() => journal.appendLine(line(100 + i)), /ENOENT/, 'still no journal folder: the append fails, visibly');
    fs.closeSync(fd); // throws EBADF if the journal closed it
    assert.equal(fs.readFileSync(other, 'utf8'), '', 'no journal line went into an unrelated file');
    // The folder is back: recording goes on in a new segment, and the store verifies.
    fs.renameSync(`${journalDir}.moved`, journalDir);
    journal.appendLine(line(200));
    journal.close();
    const segs = listSegments(storeLayout(root));
    assert.equal(segs.length, 2);
    assert.equal(lines(segs[1]!).at(-2)!.rec.i, 200);
    const report = verifyStore(root, { home });
    assert.equal(report.verdict, 'intact', JSON.stringify(report.findings ?? report, null, 1).slice(0, 2000));
  });

  test('rotation ends a segment with a checkpoint; the next header names its last chain value', () => {
    const root = temp();
    const journal = JournalWriter.open(root, { maxSegmentBytes: 4096, audit: { home } });
    const rec = new Recorder({ kind: 'test', journal });
    const conn = rec.openConnection({ name: 's', transport: 'stdio' }, 'stdio');
    for (let i = 0; i < 40; i++) conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(200) } } }));
    rec.end();
    journal.close();
    const segs = listSegments(storeLayout(root));
    assert.ok(segs.length >= 3);
    for (let n = 1; n < segs.length; n++) {
      const before = lines(segs[n - 1]!);
      const header = lines(segs[n]!)[0]!.rec as unknown as SegmentHeader;
      assert.equal(before[before.length - 1]!.rec.reason, 'rotate');
      assert.equal(header.audit!.prev, before[before.length - 1]!.h);
    }
    assert.equal(verifyStore(root, { home }).verdict, 'intact');
  });

  test('readers see records as the recorder wrote them: chain members stripped, checkpoints apart, nothing indexed twice', async () => {
    const root = temp();
    const journal = JournalWriter.open(root, { audit: { home, checkpointEvery: 3 } });
    const rec = new Recorder({ kind: 'test', journal });
    const conn = rec.openConnection({ name: 's', transport: 'stdio' }, 'stdio');
    conn.message('client_to_server', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } }));
    const loc = journal.appendRecord({ type: 'stderr', session_id: rec.sessionId, seq: 99, ts: new Date().toISOString(), mono: 1, connection_id: 'c1', text: 'hello' });
    conn.message('server_to_client', JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [] } }));
    rec.end();
    journal.close();
    const r = readSegment(journal.currentSegment, 0, { final: true });
    assert.deepEqual(r.problems, []);
    assert.ok(r.checkpoints.length >= 2);
    assert.ok(r.records.every((x) => !('h' in x.record) && !('mac' in x.record) && x.record.type !== ('checkpoint' as string)));
    assert.equal(r.header?.audit?.chain, 'mcp-flight.chain/v1');
    assert.deepEqual(readRecordAt(loc.file, loc.offset, loc.length), { type: 'stderr', session_id: rec.sessionId, seq: 99, ts: (r.records.find((x) => x.record.seq === 99)!.record as { ts: string }).ts, mono: 1, connection_id: 'c1', text: 'hello' });
    const store = await openStore(root);
    assert.deepEqual(store.initialCatchUp!.problems, [], 'the index skips checkpoints');
    assert.equal(store.session(rec.sessionId)!.calls, 1);
    const recs = [...store.readSessionRecords(rec.sessionId)].map((x) => x.record);
    assert.ok(recs.every((x) => !('h' in x) && (x.type as string) !== 'checkpoint'));
    store.close();
  });

  test('without a usable key the writer records anyway, plainly, and verification says so', () => {
    const root = temp();
    const badHome = path.join(temp(), 'home');
    fs.mkdirSync(path.join(badHome, 'keys'), { recursive: true });
    fs.writeFileSync(path.join(badHome, 'keys', 'audit.secret'), 'garbage');
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => void errors.push(a.join(' '));
    try {
      const journal = JournalWriter.open(root, { audit: { home: badHome } });
      assert.equal(journal.tamperEvident, false);
      const rec = new Recorder({ kind: 'test', journal });
      rec.end();
      journal.close();
    } finally {
      console.error = orig;
    }
    assert.match(errors.join(), /without tamper evidence/);
    const report = verifyStore(root, { home });
    assert.equal(report.verdict, 'unverifiable');
    assert.equal(report.first?.kind, 'unchained');
  });

  test('what a pruned record says of a segment: its last chain value and final checkpoint', () => {
    const root = temp();
    const journal = JournalWriter.open(root, { audit: { home } });
    new Recorder({ kind: 'test', journal }).end();
    journal.close();
    const d = describeSegment(journal.currentSegment);
    const all = lines(journal.currentSegment);
    assert.equal(d.last_h, all[all.length - 1]!.h);
    assert.equal(d.last_checkpoint, all[all.length - 1]!.rec.k);
    assert.equal(d.writer_id, journal.writerId);
    assert.equal(d.segment, 0);
  });

  test('cost per message of sealing (chain + HMAC), measured: 1 KB and 4 KB', (t) => {
    const sealer = new ChainSealer(keys.macKey);
    const sid = crypto.randomUUID();
    const measure = (text: string): number => {
      const make = (i: number) => `{"type":"message","session_id":"${sid}","seq":${i},"ts":"2026-01-01T00:00:00.000Z","mono":1.5,"connection_id":"c1","dir":"server_to_client","size":${text.length},"message":${text}}`;
      for (let i = 0; i < 3000; i++) sealer.sealBytes(make(i));
      const runs: number[] = [];
      for (let r = 0; r < 5; r++) {
        const c = process.cpuUsage();
        for (let i = 0; i < 1000; i++) sealer.sealBytes(make(i));
        const d = process.cpuUsage(c);
        runs.push((d.user + d.system) / 1000);
      }
      return runs.sort((a, b) => a - b)[2]!;
    };
    const text = (n: number) => JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x'.repeat(n - 70) }] } });
    const structured = (n: number) => JSON.stringify({ jsonrpc: '2.0', id: 1, result: { structuredContent: { items: Array.from({ length: Math.floor(n / 75) }, (_, i) => ({ name: `file-${i}.ts`, size: i * 37, kind: 'file', mtime: 1700000000000 + i })) } } });
    const costs = { '1 KB text': measure(text(1024)), '4 KB text': measure(text(4096)), '1 KB structured': measure(structured(1024)), '4 KB structured': measure(structured(4096)) };
    t.diagnostic(`sealing CPU per message (µs): ${JSON.stringify(Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, Math.round(v * 10) / 10])))}`);
    // Generous bound (shared CI machines): the budget is ≈ 100 µs per message for everything.
    for (const [k, v] of Object.entries(costs)) assert.ok(v < 1000, `${k}: ${v} µs`);
    assert.ok(sha256('x').length === 32);
  });
});
