import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { canonicalize } from '../../src/core/audit/canonical';
import { chainedLine, leafOf, linkOf, macOf, openLine, parseOpened, chainSessionId, GENESIS } from '../../src/core/audit/chain';
import { prunedLogFile, recordPruned, signRecord, storeCheckpointDir } from '../../src/core/audit/checkpoints';
import type { ExportAudit } from '../../src/core/audit/export-audit';
import { type AuditKeys, deriveKeys, loadAuditKeys } from '../../src/core/audit/keys';
import { type VerifyReport, verifyExport, verifyExportContent, verifyStore } from '../../src/core/audit/verify';
import { exportSessionJsonlToString } from '../../src/core/export/jsonl';
import { exportSessionToString } from '../../src/core/export/session-json';
import type { CheckpointRecord } from '../../src/core/model/records';
import { type ConnectionRecorder, Recorder } from '../../src/core/recording/recorder';
import { JournalWriter, listSegments } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';
import { clearHistory } from '../../src/core/store/retention';
import { openStore } from '../../src/core/store/store';
import { CLI, EVERYTHING, fixture, NODE, requireBuiltCli } from '../helpers/env';
import { RawRecordClient } from '../helpers/raw-client';
import { assertValidJsonExport, assertValidJsonlExport } from '../helpers/schema';

/**
 * Tamper evidence, attacked: byte flips, deleted, duplicated and swapped records, truncation
 * before and after checkpoints, rollback, rewrites without the key, forged checkpoints — over
 * stores written by the real Recorder and JournalWriter (and by real `mcp-flight record`
 * processes), and over exported files. Verification runs in-process through the core API; the
 * CLI is checked for its exit codes and the checks it lists.
 */

const temps: string[] = [];
function temp(prefix = 'mcpf-tamper-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
}
// Keys and checkpoints outside the workspace: a home of its own (the CLI children inherit it).
const HOME = temp('mcpf-tamper-home-');
process.env.MCP_FLIGHT_HOME = HOME;
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

let seed = 20261125;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
/** A non-zero XOR mask: the byte always changes. */
const mask = (): number => 1 + Math.floor(random() * 255);

const up = 'client_to_server' as const;
const down = 'server_to_client' as const;
const rpc = (o: Record<string, unknown>): string => JSON.stringify({ jsonrpc: '2.0', ...o });

function traffic(conn: ConnectionRecorder, calls: number, tag: string, firstId = 1): void {
  conn.message(up, rpc({ id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'agent', version: '1' } } }));
  conn.message(down, rpc({ id: 0, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'srv', version: '1.0.0' } } }));
  for (let i = firstId; i < firstId + calls; i++) {
    conn.message(up, rpc({ id: i, method: 'tools/call', params: { name: 'echo', arguments: { message: `${tag} ${i} ${'é€😀'.repeat(i % 3)}` } } }));
    conn.message(down, rpc({ id: i, result: { content: [{ type: 'text', text: `Echo: ${tag} ${i}` }], ...(i % 4 === 0 ? { isError: true } : {}) } }));
  }
}

interface Built {
  root: string;
  journal: JournalWriter;
  sessions: string[];
}

/** A store recorded in-process: one writer, `calls` calls, checkpoints every `every` lines, closed cleanly unless told not to. */
function recordStore(opts: { calls: number; every?: number; close?: boolean; root?: string; maxSegmentBytes?: number; replay?: boolean; home?: string }): Built {
  const root = opts.root ?? path.join(temp(), 'store');
  const journal = JournalWriter.open(root, { ...(opts.maxSegmentBytes ? { maxSegmentBytes: opts.maxSegmentBytes } : {}), audit: { home: opts.home ?? HOME, checkpointEvery: opts.every ?? 50, checkpointIntervalMs: 9000 } });
  const main = new Recorder({ kind: 'test', journal });
  const conn = main.openConnection({ name: 'srv', transport: 'stdio', command: 'node' }, 'stdio');
  const sessions = [main.sessionId];
  if (opts.replay) {
    // A replay recorded into the same writer while the session runs: interleaved lines of another session.
    traffic(conn, Math.ceil(opts.calls / 2), 'main');
    const replay = new Recorder({ kind: 'replay', journal, replayOf: { session_id: main.sessionId, call_id: 'c1:3' } });
    traffic(replay.openConnection({ name: 'srv', transport: 'stdio' }, 'stdio'), 2, 'replay');
    replay.end('replay done');
    sessions.push(replay.sessionId);
    traffic(conn, Math.floor(opts.calls / 2), 'main', 100);
  } else traffic(conn, opts.calls, 'main');
  if (opts.close !== false) {
    main.end();
    journal.close();
  }
  return { root, journal, sessions };
}

function verify(root: string, keys?: AuditKeys | null): VerifyReport {
  return verifyStore(root, { home: HOME, ...(keys !== undefined ? { keys } : {}) });
}

/** Files whose bytes are the evidence: segments, the pruned log, the store's identity. */
function evidenceFiles(root: string): string[] {
  const layout = storeLayout(root);
  return [...listSegments(layout), prunedLogFile(layout), path.join(root, 'audit.json')].filter((f) => fs.existsSync(f));
}

function withBytes<T>(file: string, change: (b: Buffer) => Buffer, check: () => T): T {
  const original = fs.readFileSync(file);
  fs.writeFileSync(file, change(Buffer.from(original)));
  try {
    return check();
  } finally {
    fs.writeFileSync(file, original);
  }
}

function splitLines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}

function withLines<T>(file: string, change: (lines: string[]) => string[], check: () => T): T {
  return withBytes(file, () => Buffer.from(change(splitLines(file)).join('\n') + '\n'), check);
}

/** Is the flipped text the same JSON document (a whitespace-only change)? */
function sameJson(a: string, b: string, jsonl: boolean): boolean {
  try {
    const parse = (t: string): unknown => (jsonl ? t.split('\n').map((l) => (l === '' ? '' : JSON.parse(l))) : JSON.parse(t));
    return canonicalize(parse(a)) === canonicalize(parse(b));
  } catch {
    return false;
  }
}

const keys = (): AuditKeys => loadAuditKeys({ home: HOME })!;

// -------------------------------------------------------------------------------------------------

describe('an untouched store', () => {
  test('verifies intact, repeatedly, with every check run', () => {
    const { root } = recordStore({ calls: 30, every: 9, replay: true });
    for (let i = 0; i < 10; i++) {
      const r = verify(root);
      assert.equal(r.verdict, 'intact', JSON.stringify(r.findings.slice(0, 3)));
      assert.deepEqual(r.findings, []);
      assert.ok(r.checks.every((c) => c.status === 'pass'), JSON.stringify(r.checks));
      assert.equal(r.stats.unsealed, 0);
      assert.ok(r.stats.checkpoints >= 8);
    }
  });
});

describe('single-byte flips', () => {
  test('every byte of a small store: each flip is detected', () => {
    const { root } = recordStore({ calls: 3, every: 4 });
    assert.equal(verify(root).verdict, 'intact');
    let flips = 0;
    for (const file of evidenceFiles(root)) {
      const size = fs.statSync(file).size;
      const isIdentity = file.endsWith('audit.json');
      const original = fs.readFileSync(file, 'utf8');
      for (let pos = 0; pos < size; pos++) {
        const m = mask();
        withBytes(
          file,
          (b) => {
            b[pos] = b[pos]! ^ m;
            return b;
          },
          () => {
            const r = verify(root);
            flips++;
            // The identity file is pretty-printed JSON: a whitespace-for-whitespace flip changes nothing in it.
            if (isIdentity && sameJson(original, fs.readFileSync(file, 'utf8'), false)) return;
            assert.equal(r.verdict, 'tampered', `flip of byte ${pos} of ${path.basename(file)} (xor ${m}) went unnoticed: ${r.summary}`);
          },
        );
      }
    }
    assert.equal(verify(root).verdict, 'intact', 'restored');
    assert.ok(flips > 3000, `${flips} flips`);
  });

  test('a few thousand seeded positions of a larger store (two writers, rotation, interleaved sessions, a pruned segment)', () => {
    const root = path.join(temp(), 'store');
    recordStore({ root, calls: 24, every: 11, maxSegmentBytes: 6000, replay: true });
    recordStore({ root, calls: 16, every: 50, maxSegmentBytes: 6000 });
    const layout = storeLayout(root);
    // Retention's way: a signed pruned record first, then the file.
    const oldest = listSegments(layout)[0]!;
    assert.equal(recordPruned(layout, [oldest], 'test retention').error, undefined);
    fs.rmSync(oldest);
    const clean = verify(root);
    assert.equal(clean.verdict, 'intact', clean.summary);
    assert.equal(clean.stats.pruned_segments, 1);
    assert.ok(clean.stats.segments >= 5, `${clean.stats.segments} segments`);
    const files = evidenceFiles(root);
    const identity = fs.readFileSync(path.join(root, 'audit.json'), 'utf8');
    const sizes = files.map((f) => fs.statSync(f).size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const FLIPS = 2500;
    for (let i = 0; i < FLIPS; i++) {
      let at = Math.floor(random() * total);
      let fi = 0;
      while (at >= sizes[fi]!) at -= sizes[fi++]!;
      const file = files[fi]!;
      const m = mask();
      withBytes(
        file,
        (b) => {
          b[at] = b[at]! ^ m;
          return b;
        },
        () => {
          const r = verify(root);
          // The identity file is pretty-printed JSON: a whitespace-for-whitespace flip changes nothing in it.
          if (file.endsWith('audit.json') && sameJson(identity, fs.readFileSync(file, 'utf8'), false)) return;
          assert.equal(r.verdict, 'tampered', `flip #${i} at byte ${at} of ${path.basename(file)} (xor ${m}) went unnoticed: ${r.summary}`);
        },
      );
    }
    assert.equal(verify(root).verdict, 'intact');
  });
});

describe('records deleted, duplicated, swapped', () => {
  const { root, journal } = recordStore({ calls: 4, every: 5 });
  const file = journal.currentSegment;
  const n = splitLines(file).length;

  test('each line deleted: missing (the last one: truncated)', () => {
    for (let i = 0; i < n; i++) {
      const r = withLines(file, (ls) => ls.filter((_, j) => j !== i), () => verify(root));
      assert.equal(r.verdict, 'tampered', `line ${i + 1} deleted: ${r.summary}`);
      const expected = i === n - 1 ? 'truncated' : 'missing';
      assert.equal(r.first?.kind, expected, `line ${i + 1} deleted: ${r.summary}`);
      if (i > 0 && i < n - 1) assert.equal(r.first?.line, i + 1, 'names the line where the gap is');
    }
  });

  test('each line duplicated: duplicated', () => {
    for (let i = 1; i < n; i++) {
      const r = withLines(file, (ls) => [...ls.slice(0, i + 1), ls[i]!, ...ls.slice(i + 1)], () => verify(root));
      assert.equal(r.verdict, 'tampered');
      assert.equal(r.first?.kind, 'duplicated', `line ${i + 1} duplicated: ${r.summary}`);
      assert.equal(r.first?.line, i + 2);
    }
    const header = withLines(file, (ls) => [ls[0]!, ...ls], () => verify(root));
    assert.equal(header.verdict, 'tampered');
  });

  test('each pair of neighbours swapped: reordered', () => {
    for (let i = 1; i < n - 1; i++) {
      const r = withLines(file, (ls) => [...ls.slice(0, i), ls[i + 1]!, ls[i]!, ...ls.slice(i + 2)], () => verify(root));
      assert.equal(r.verdict, 'tampered');
      assert.equal(r.first?.kind, 'reordered', `lines ${i + 1} and ${i + 2} swapped: ${r.summary}`);
    }
    const far = withLines(file, (ls) => [ls[0]!, ls[5]!, ...ls.slice(2, 5), ls[1]!, ...ls.slice(6)], () => verify(root));
    assert.equal(far.verdict, 'tampered');
  });

  test('a record inserted from another store (authentic, signed by the same key) is caught', () => {
    const other = recordStore({ calls: 2, every: 5 });
    const foreign = splitLines(other.journal.currentSegment)[3]!;
    const r = withLines(file, (ls) => [...ls.slice(0, 4), foreign, ...ls.slice(4)], () => verify(root));
    assert.equal(r.verdict, 'tampered');
  });
});

describe('truncation and rollback', () => {
  test('cut right after a checkpoint of a sealed store: truncated after checkpoint K', () => {
    const { root, journal } = recordStore({ calls: 6, every: 4 });
    const lines = splitLines(journal.currentSegment);
    const cps = lines.map((l, i) => ({ i, rec: parseOpened(openLine(Buffer.from(l))!) as CheckpointRecord })).filter((x) => x.rec.type === 'checkpoint');
    for (const cp of cps.slice(0, -1)) {
      const r = withLines(journal.currentSegment, (ls) => ls.slice(0, cp.i + 1), () => verify(root));
      assert.equal(r.verdict, 'tampered');
      assert.equal(r.first?.kind, 'truncated');
      assert.equal(r.first?.checkpoint, cp.rec.k, r.summary);
      assert.match(r.summary, new RegExp(`truncated after checkpoint ${cp.rec.k}`));
    }
    // Only the final checkpoint removed.
    const last = withLines(journal.currentSegment, (ls) => ls.slice(0, -1), () => verify(root));
    assert.equal(last.first?.kind, 'truncated');
    // Cut inside sealed records, and mid-line.
    const mid = withLines(journal.currentSegment, (ls) => ls.slice(0, cps[1]!.i - 1), () => verify(root));
    assert.equal(mid.verdict, 'tampered');
    assert.equal(mid.first?.kind, 'truncated');
    const size = fs.statSync(journal.currentSegment).size;
    const torn = withBytes(journal.currentSegment, (b) => b.subarray(0, Math.floor(size / 2)), () => verify(root));
    assert.equal(torn.verdict, 'tampered');
  });

  test('a writer killed after its last checkpoint: its tail is "N unsealed", never verified — and cutting it is not tamper, cutting before the checkpoint is', () => {
    const { root, journal, sessions } = recordStore({ calls: 6, every: 50, close: false });
    journal.checkpoint(); // sealed so far, and copied outside the workspace
    journal.append({ type: 'stderr', session_id: sessions[0]!, seq: 100, ts: new Date().toISOString(), mono: 1, connection_id: 'c1', text: 'a' });
    journal.append({ type: 'stderr', session_id: sessions[0]!, seq: 101, ts: new Date().toISOString(), mono: 2, connection_id: 'c1', text: 'b' });
    journal.append({ type: 'stderr', session_id: sessions[0]!, seq: 102, ts: new Date().toISOString(), mono: 3, connection_id: 'c1', text: 'c' });
    journal.append({ type: 'stderr', session_id: sessions[0]!, seq: 103, ts: new Date().toISOString(), mono: 4, connection_id: 'c1', text: 'd' });
    // The recorder dies: no final checkpoint, its timer stops with it.
    clearInterval((journal as unknown as { timer: NodeJS.Timeout }).timer);
    const lines = splitLines(journal.currentSegment);
    const lastCp = lines.map((l, i) => ({ i, t: (parseOpened(openLine(Buffer.from(l))!) as { type: string }).type })).filter((x) => x.t === 'checkpoint').pop()!.i;
    const unsealedLines = lines.length - 1 - lastCp;
    assert.ok(unsealedLines > 2, `${unsealedLines} unsealed lines`);
    const r = verify(root);
    assert.equal(r.verdict, 'unsealed');
    assert.equal(r.intact, false);
    assert.equal(r.stats.unsealed, unsealedLines);
    assert.equal(r.first?.kind, 'unsealed');
    assert.match(r.summary, new RegExp(`${unsealedLines} unsealed`));
    const sealedCheck = r.checks.find((c) => c.id === 'sealed')!;
    assert.equal(sealedCheck.status, 'incomplete');
    // Cutting unsealed lines cannot be told from the kill itself.
    const cut = withLines(journal.currentSegment, (ls) => ls.slice(0, -2), () => verify(root));
    assert.equal(cut.verdict, 'unsealed');
    assert.equal(cut.stats.unsealed, unsealedLines - 2);
    // A torn last line (killed mid-write): "unsealed / torn tail", not tamper.
    const torn = withBytes(journal.currentSegment, (b) => b.subarray(0, b.length - 40), () => verify(root));
    assert.equal(torn.verdict, 'unsealed');
    assert.ok(torn.findings.some((f) => f.kind === 'torn_tail'));
    // Cutting into what a checkpoint sealed is.
    const deep = withLines(journal.currentSegment, (ls) => ls.slice(0, lastCp - 1), () => verify(root));
    assert.equal(deep.verdict, 'tampered');
    assert.equal(deep.first?.kind, 'truncated');
  });

  test('rolled back to an earlier copy of the journal', () => {
    const root = path.join(temp(), 'store');
    const journal = JournalWriter.open(root, { audit: { home: HOME, checkpointEvery: 5 } });
    const rec = new Recorder({ kind: 'test', journal });
    const conn = rec.openConnection({ name: 'srv', transport: 'stdio' }, 'stdio');
    traffic(conn, 4, 'before');
    journal.checkpoint();
    const snapshot = fs.readFileSync(journal.currentSegment);
    traffic(conn, 4, 'after', 50);
    rec.end();
    journal.close();
    assert.equal(verify(root).verdict, 'intact');
    fs.writeFileSync(journal.currentSegment, snapshot);
    const r = verify(root);
    assert.equal(r.verdict, 'tampered');
    assert.equal(r.first?.kind, 'truncated');
  });

  test('a whole segment, or a whole writer, removed without a pruned record', () => {
    const root = path.join(temp(), 'store');
    recordStore({ root, calls: 20, every: 10, maxSegmentBytes: 3000 });
    const second = recordStore({ root, calls: 2, every: 10 });
    const segs = listSegments(storeLayout(root));
    const middle = segs[1]!;
    const saved = fs.readFileSync(middle);
    fs.rmSync(middle);
    let r = verify(root);
    assert.equal(r.verdict, 'tampered');
    assert.equal(r.first?.kind, 'missing');
    fs.writeFileSync(middle, saved);
    assert.equal(verify(root).verdict, 'intact');
    const secondFile = second.journal.currentSegment;
    const saved2 = fs.readFileSync(secondFile);
    fs.rmSync(secondFile);
    r = verify(root);
    assert.equal(r.verdict, 'tampered');
    assert.ok(r.findings.some((f) => f.kind === 'missing' && f.writer_id === second.journal.writerId));
    fs.writeFileSync(secondFile, saved2);
    // The pruned log is part of the evidence too.
    const layout = storeLayout(root);
    assert.equal(recordPruned(layout, [segs[0]!], 'test').error, undefined);
    fs.rmSync(segs[0]!);
    assert.equal(verify(root).verdict, 'intact');
    fs.rmSync(prunedLogFile(layout));
    r = verify(root);
    assert.equal(r.verdict, 'tampered');
  });
});

describe('rewrites without the key', () => {
  /** The attacker's rewrite: change one record, then recompute what they can. */
  function rewrite(file: string, target: number, opts: { macKey?: Buffer; resign?: AuditKeys; claimKey?: boolean }): void {
    const lines = splitLines(file);
    let prev: Buffer = GENESIS;
    const out: string[] = [];
    lines.forEach((line, i) => {
      const opened = openLine(Buffer.from(line))!;
      let rec = parseOpened(opened) as Record<string, unknown>;
      if (i === target) rec = { ...rec, message: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'nothing to see here' }] } } };
      if (rec.type === 'checkpoint' && opts.resign) {
        const { sig: _sig, ...body } = rec;
        rec = signRecord<CheckpointRecord>(opts.resign, { ...(body as Omit<CheckpointRecord, 'sig'>), h: prev.toString('hex'), ...(opts.claimKey ? { key: opts.resign.fingerprint } : {}) }) as unknown as Record<string, unknown>;
      }
      if (rec.type === 'segment' && opts.claimKey && opts.resign) {
        const h = rec as { audit: { key: string; public_key: string } };
        rec = { ...rec, audit: { ...h.audit, key: opts.resign.fingerprint, public_key: opts.resign.publicKeyRaw.toString('base64') } };
      }
      const json = JSON.stringify(rec);
      const h = linkOf(prev, leafOf(rec), chainSessionId(rec));
      const mac = opts.macKey ? macOf(opts.macKey, h, json) : Buffer.from(opened.mac, 'hex');
      out.push(chainedLine(h, mac, json));
      prev = h;
    });
    fs.writeFileSync(file, out.join('\n') + '\n');
  }

  test('the SHA-256 chain recomputed, the HMAC not: modified', () => {
    const { root, journal } = recordStore({ calls: 4, every: 5 });
    const target = splitLines(journal.currentSegment).findIndex((l) => l.includes('"dir":"server_to_client"'));
    rewrite(journal.currentSegment, target, {});
    const r = verify(root);
    assert.equal(r.verdict, 'tampered');
    assert.equal(r.first?.kind, 'modified');
    assert.equal(r.first?.line, target + 1);
    assert.equal(r.first?.check, 'hmac');
  });

  test('chain and HMAC recomputed with a key of their own: modified', () => {
    const { root, journal } = recordStore({ calls: 4, every: 5 });
    const target = splitLines(journal.currentSegment).findIndex((l) => l.includes('"dir":"server_to_client"'));
    rewrite(journal.currentSegment, target, { macKey: crypto.randomBytes(32) });
    const r = verify(root);
    assert.equal(r.verdict, 'tampered');
    assert.equal(r.first?.kind, 'modified');
  });

  test('checkpoints forged with another Ed25519 key: forged; a whole store re-keyed: caught by the copies outside the workspace', () => {
    const attacker = deriveKeys(crypto.randomBytes(32));
    const a = recordStore({ calls: 4, every: 5 });
    const target = splitLines(a.journal.currentSegment).findIndex((l) => l.includes('"dir":"server_to_client"'));
    rewrite(a.journal.currentSegment, target, { macKey: attacker.macKey, resign: attacker });
    let r = verify(a.root);
    assert.equal(r.verdict, 'tampered');
    assert.ok(r.findings.some((f) => f.kind === 'forged'), r.summary);

    const b = recordStore({ calls: 4, every: 5 });
    rewrite(b.journal.currentSegment, target, { macKey: attacker.macKey, resign: attacker, claimKey: true });
    r = verify(b.root);
    assert.equal(r.verdict, 'tampered', r.summary);
    assert.ok(r.findings.some((f) => f.kind === 'untrusted_key'));
    assert.ok(r.findings.some((f) => f.check === 'external' && f.kind === 'inconsistent'));
    // Trusting the attacker's key does not help them: the checkpoints outside the workspace disagree.
    assert.equal(verifyStore(b.root, { home: HOME, trustedKeys: [attacker.fingerprint] }).verdict, 'tampered');
  });

  test('the store replaced wholesale (new identity): an earlier store at this path is gone', () => {
    const { root } = recordStore({ calls: 2, every: 5 });
    fs.rmSync(root, { recursive: true });
    recordStore({ root, calls: 2, every: 5 });
    const r = verify(root);
    assert.equal(r.verdict, 'tampered');
    assert.equal(r.first?.check, 'identity');
  });

  test('without the HMAC key (a trusted public key only) the store is never reported intact', () => {
    const { root } = recordStore({ calls: 2, every: 5 });
    const r = verifyStore(root, { home: HOME, keys: null, trustedKeys: [keys().fingerprint] });
    assert.equal(r.verdict, 'unverifiable');
    assert.equal(r.checks.find((c) => c.id === 'hmac')!.status, 'incomplete');
    assert.equal(r.checks.find((c) => c.id === 'signatures')!.status, 'pass');
  });
});

// -------------------------------------------------------------------------------------------------

describe('exports of stored records', () => {
  test('carry each message as the server wrote it (its spacing, escapes and number spelling), still verify, and still assemble', async () => {
    const root = path.join(temp(), 'store');
    const journal = JournalWriter.open(root, { audit: { home: HOME, checkpointEvery: 5, checkpointIntervalMs: 9000 } });
    const rec = new Recorder({ kind: 'test', journal });
    const conn = rec.openConnection({ name: 'srv', transport: 'stdio' }, 'stdio');
    const request = '{ "jsonrpc" : "2.0", "id" : 7, "method" : "tools/call", "params" : { "name" : "echo", "arguments" : { "text" : "caf\\u00e9", "n" : 1.50 } } }';
    const response = '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"ok"}],"structuredContent":{"big":1E3}}}';
    conn.message('client_to_server', Buffer.from(request));
    conn.message('server_to_client', Buffer.from(response));
    conn.event({ type: 'stderr', text: 'a line' }); // keys not in event order: serialised again
    rec.end();
    journal.close();
    const store = await openStore(root);
    const json = exportSessionToString(() => store.readSessionRecords(rec.sessionId), { sessionId: rec.sessionId });
    const jsonl = exportSessionJsonlToString(() => store.readSessionRecords(rec.sessionId), { sessionId: rec.sessionId });
    store.close();
    for (const text of [json, jsonl]) {
      assert.ok(text.includes(`"message":${request}}`), 'the request frame verbatim');
      assert.ok(text.includes(`"message":${response}}`), 'the response frame verbatim');
      assert.match(text, /\{("kind":"event",)?"type":"stderr","session_id":/, 'a record whose keys were out of event order is reordered');
    }
    assertValidJsonExport(json);
    const call = (JSON.parse(json) as { calls: Array<{ method: string; input: unknown; outcome: string }> }).calls.find((c) => c.method === 'tools/call')!;
    assert.deepEqual(call.input, { text: 'café', n: 1.5 });
    assert.equal(call.outcome, 'success');
    assert.equal(verifyExportContent(json, 'spaced.json', { home: HOME }).verdict, 'intact');
    assert.equal(verifyExportContent(jsonl, 'spaced.jsonl', { home: HOME }).verdict, 'intact');
  });
});

describe('exports', () => {
  let root = '';
  let mainSession = '';
  let json = '';
  let jsonl = '';

  before(async () => {
    const built = recordStore({ calls: 8, every: 6, replay: true });
    root = built.root;
    mainSession = built.sessions[0]!;
    const store = await openStore(root);
    json = exportSessionToString(() => store.readSessionRecords(mainSession), { sessionId: mainSession });
    jsonl = exportSessionJsonlToString(() => store.readSessionRecords(mainSession), { sessionId: mainSession });
    const replayJson = exportSessionToString(() => store.readSessionRecords(built.sessions[1]!), { sessionId: built.sessions[1]! });
    store.close();
    assert.equal(verifyExportContent(replayJson, 'replay.json', { home: HOME }).verdict, 'intact');
  });

  const check = (text: string, name = 'x.json', opts: { keys?: AuditKeys | null; trustedKeys?: string[]; home?: string } = {}): VerifyReport => verifyExportContent(text, name, { home: HOME, ...opts });

  test('carry the chain, the checkpoints and the public key; verify intact offline; validate against the schema', () => {
    const doc = assertValidJsonExport(json);
    assertValidJsonlExport(jsonl);
    const audit = doc.audit as ExportAudit;
    assert.equal(audit.public_key.fingerprint, keys().fingerprint);
    assert.ok(audit.signature);
    assert.ok(audit.parts.some((p) => p.entries.some((e) => 'other' in e)), "the replay's lines are in the chain as leaves only");
    assert.ok(!json.includes('"replay 1'), 'no content of the other session');
    for (const [text, name] of [
      [json, 'x.json'],
      [jsonl, 'x.jsonl'],
    ] as const) {
      const r = check(text, name);
      assert.equal(r.verdict, 'intact', JSON.stringify(r.findings.slice(0, 3)));
      assert.ok(r.checks.every((c) => c.status === 'pass'), JSON.stringify(r.checks));
    }
    // Offline: no HMAC key, no checkpoints outside the workspace — the public key, trusted by fingerprint.
    const elsewhere = temp('mcpf-elsewhere-');
    assert.equal(check(json, 'x.json', { home: elsewhere, trustedKeys: [keys().fingerprint] }).verdict, 'intact');
    const untrusted = check(json, 'x.json', { home: elsewhere });
    assert.equal(untrusted.verdict, 'unverifiable');
    assert.equal(untrusted.first?.kind, 'untrusted_key');
  });

  test('single-byte flips of the JSON export: every change of content detected, whitespace-only flips are no false alarm', () => {
    const bytes = Buffer.from(json);
    const positions = Math.min(bytes.length, 2000);
    let detected = 0;
    for (let i = 0; i < positions; i++) {
      const at = positions === bytes.length ? i : Math.floor(random() * bytes.length);
      const b = Buffer.from(bytes);
      const m = mask();
      b[at] = b[at]! ^ m;
      const text = b.toString('utf8');
      const r = check(text);
      if (sameJson(json, text, false)) assert.equal(r.verdict, 'intact', `whitespace flip at ${at} raised ${r.summary}`);
      else {
        assert.notEqual(r.verdict, 'intact', `flip at byte ${at} (xor ${m}) went unnoticed`);
        detected++;
      }
    }
    assert.ok(detected > positions * 0.9);
  });

  test('single-byte flips of the JSONL export', () => {
    const bytes = Buffer.from(jsonl);
    for (let i = 0; i < 1000; i++) {
      const at = Math.floor(random() * bytes.length);
      const b = Buffer.from(bytes);
      b[at] = b[at]! ^ mask();
      const text = b.toString('utf8');
      const r = check(text, 'x.jsonl');
      if (sameJson(jsonl, text, true)) assert.equal(r.verdict, 'intact');
      else assert.notEqual(r.verdict, 'intact', `flip at byte ${at} went unnoticed`);
    }
  });

  test('events deleted, duplicated, swapped, edited; derived sections edited', () => {
    const doc = JSON.parse(json) as { events: unknown[]; calls: Array<{ output: unknown }>; session: { tool_calls: number } };
    const n = doc.events.length;
    const variant = (f: (d: typeof doc) => void): string => {
      const d = JSON.parse(json) as typeof doc;
      f(d);
      return JSON.stringify(d);
    };
    for (let i = 0; i < n; i++) {
      const del = check(variant((d) => d.events.splice(i, 1)));
      assert.equal(del.verdict, 'tampered', `event ${i} deleted`);
      const dup = check(variant((d) => d.events.splice(i, 0, d.events[i])));
      assert.equal(dup.verdict, 'tampered', `event ${i} duplicated`);
      assert.equal(dup.first?.kind, 'duplicated', `event ${i} duplicated: ${dup.summary}`);
      if (i < n - 1) {
        const swap = check(variant((d) => d.events.splice(i, 2, d.events[i + 1], d.events[i])));
        assert.equal(swap.verdict, 'tampered');
        assert.equal(swap.first?.kind, 'reordered', `events ${i}/${i + 1} swapped: ${swap.summary}`);
      }
    }
    const mid = check(variant((d) => d.events.splice(5, 1)));
    assert.equal(mid.first?.kind, 'missing', mid.summary);
    assert.equal(mid.first?.event, 5);
    const edited = check(variant((d) => ((d.events[6] as { ts: string }).ts = '2020-01-01T00:00:00.000Z')));
    assert.equal(edited.first?.kind, 'modified');
    assert.equal(edited.first?.event, 6);
    const derived = check(variant((d) => (d.calls[0]!.output = { content: [] })));
    assert.equal(derived.verdict, 'tampered');
    assert.equal(derived.first?.check, 'derived');
    assert.equal(check(variant((d) => (d.session.tool_calls = 99))).first?.check, 'derived');
  });

  test('cut short, cut after a checkpoint, unsigned, or re-signed by someone else', () => {
    const lines = jsonl.slice(0, -1).split('\n');
    assert.equal(check(lines.slice(0, -1).join('\n') + '\n', 'x.jsonl').first?.kind, 'truncated');
    // Events after a checkpoint removed, and the audit section adjusted to match: the exporter's signature breaks.
    const doc = JSON.parse(json) as { events: unknown[]; audit: ExportAudit };
    const part = doc.audit.parts[doc.audit.parts.length - 1]!;
    const cpAt = part.entries.findIndex((e, i) => i > 0 && 'checkpoint' in e);
    const keptEvents = part.entries.slice(0, cpAt + 1).reduce((n, e) => n + ('events' in e ? e.events : 0), 0) + doc.audit.parts.slice(0, -1).reduce((n, p) => n + p.entries.reduce((m, e) => m + ('events' in e ? e.events : 0), 0), 0);
    const cut = JSON.parse(json) as typeof doc;
    cut.events = cut.events.slice(0, keptEvents);
    cut.audit.events = keptEvents;
    const lastPart = cut.audit.parts[cut.audit.parts.length - 1]!;
    lastPart.entries = lastPart.entries.slice(0, cpAt + 1);
    lastPart.end = { line: lastPart.start + cpAt, h: (lastPart.entries[cpAt] as { h: string }).h };
    const cutReport = check(JSON.stringify(cut));
    assert.equal(cutReport.verdict, 'tampered');
    assert.ok(cutReport.findings.some((f) => f.check === 'manifest' && f.kind === 'forged'));
    const unsigned = JSON.parse(JSON.stringify(cut)) as typeof doc;
    unsigned.audit.signature = null;
    assert.notEqual(check(JSON.stringify(unsigned)).verdict, 'intact');
    // Everything re-signed with another key (and that key embedded): not trusted.
    const attacker = deriveKeys(crypto.randomBytes(32));
    const forged = JSON.parse(json) as typeof doc;
    forged.audit.public_key = { alg: 'Ed25519', raw: attacker.publicKeyRaw.toString('base64'), fingerprint: attacker.fingerprint };
    for (const p of forged.audit.parts)
      for (const e of p.entries) {
        if ('checkpoint' in e) {
          const { sig: _s, ...body } = e.checkpoint;
          e.checkpoint = signRecord<CheckpointRecord>(attacker, { ...body, key: attacker.fingerprint });
        }
      }
    const { signature: _sig, ...body } = forged.audit;
    forged.audit.signature = { key: attacker.fingerprint, sig: crypto.sign(null, Buffer.from(canonicalize(body)), attacker.privateKey).toString('base64') };
    const fr = check(JSON.stringify(forged));
    assert.notEqual(fr.verdict, 'intact');
    assert.equal(fr.key?.trusted, false);
  });

  test('an export of a live session: the events after the last checkpoint are "N unsealed"', async () => {
    const { root: liveRoot, journal, sessions } = recordStore({ calls: 5, every: 7, close: false });
    clearInterval((journal as unknown as { timer: NodeJS.Timeout }).timer);
    const store = await openStore(liveRoot);
    const text = exportSessionToString(() => store.readSessionRecords(sessions[0]!), { sessionId: sessions[0]!, writerAlive: true });
    store.close();
    const r = check(text);
    assert.equal(r.verdict, 'unsealed');
    assert.ok(r.stats.unsealed > 0);
    journal.close();
  });
});

// -------------------------------------------------------------------------------------------------

describe('mcp-flight verify (CLI) over real recordings', () => {
  const store = path.join(temp(), 'store');
  const cli = (...args: string[]) => spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, MCP_FLIGHT_HOME: HOME } });

  before(async () => {
    requireBuiltCli();
    const client = new Client({ name: 'tamper-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'everything', '--', NODE, EVERYTHING], stderr: 'ignore', env: { ...process.env, MCP_FLIGHT_HOME: HOME } as Record<string, string> }));
    await client.listTools();
    for (let i = 0; i < 30; i++) await client.callTool({ name: 'echo', arguments: { message: `call ${i}` } });
    await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    await client.close();
    // The recorder shuts down cleanly when its client goes: wait for its final checkpoint.
    for (let i = 0; i < 100 && verifyStore(store, { home: HOME }).verdict !== 'intact'; i++) await new Promise((r) => setTimeout(r, 100));
  });

  test('an intact recording: exit 0, and the checks it ran are listed', () => {
    const r = cli('verify', '--store', store);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const id of ['key', 'identity', 'line-format', 'hash-chain', 'hmac', 'signatures', 'checkpoints', 'segments', 'external', 'sealed']) assert.match(r.stdout, new RegExp(`\\[ok  \\] ${id}\\b`));
    assert.match(r.stdout, /Result: intact/);
    const json = JSON.parse(cli('verify', '--store', store, '--json').stdout) as VerifyReport;
    assert.equal(json.verdict, 'intact');
    assert.ok(json.stats.records > 60);
  });

  test('an exported file verifies, as JSON and JSONL; the key can be printed and passed', () => {
    const out = path.join(temp(), 'session.json');
    assert.equal(cli('export', '--store', store, '--out', out).status, 0);
    const r = cli('verify', out);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[ok  \] manifest/);
    const outl = path.join(temp(), 'session.jsonl');
    assert.equal(cli('export', '--store', store, '--out', outl).status, 0);
    assert.equal(cli('verify', outl).status, 0);
    assert.equal(verifyExport(outl, { home: HOME }).verdict, 'intact');
    const fp = cli('verify', '--print-key').stdout.split('\n')[0]!;
    assert.match(fp, /^sha256:[0-9a-f]{64}$/);
    const elsewhere = temp('mcpf-elsewhere-');
    const offline = spawnSync(NODE, [CLI, 'verify', out], { encoding: 'utf8', env: { ...process.env, MCP_FLIGHT_HOME: elsewhere } });
    assert.equal(offline.status, 3, 'a key nobody vouched for');
    assert.match(offline.stdout, /not trusted/);
    const trusted = spawnSync(NODE, [CLI, 'verify', out, '--key', fp], { encoding: 'utf8', env: { ...process.env, MCP_FLIGHT_HOME: elsewhere } });
    assert.equal(trusted.status, 0, trusted.stdout);
  });

  test('a flipped byte: exit 1 and the first bad record', () => {
    const seg = listSegments(storeLayout(store))[0]!;
    const r = withBytes(
      seg,
      (b) => {
        const at = b.indexOf('call 17');
        b[at + 5] = 0x39; // "call 17" → "call 97"
        return b;
      },
      () => cli('verify', '--store', store),
    );
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /First problem: modified \(.*line \d+.*seq \d+\)/);
    assert.match(r.stdout, /\[FAIL\] hmac/);
    assert.equal(cli('verify', '--store', store).status, 0);
  });

  test('a recorder killed with SIGKILL: exit 3, "unsealed"; then retention prunes it and the store verifies intact', async () => {
    const killed = path.join(temp(), 'store');
    const client = new RawRecordClient(killed, [NODE, fixture('slow-echo-server.mjs')]);
    await client.initialize();
    for (let id = 1; id <= 12; id++) client.callTool(id, 'echo', { message: `m${id}` });
    await client.response(12);
    client.child.kill('SIGKILL');
    await client.exited;
    const r = cli('verify', '--store', killed);
    assert.equal(r.status, 3, r.stdout);
    assert.match(r.stdout, /unsealed/);
    assert.doesNotMatch(r.stdout, /TAMPERED/);
    // Clear History: the dead writer's segments go, with a signed pruned record.
    const pruned = clearHistory(storeLayout(killed));
    assert.equal(pruned.removed.length, 1);
    assert.equal(pruned.auditError, undefined);
    const after = cli('verify', '--store', killed);
    assert.equal(after.status, 0, after.stdout);
    assert.match(after.stdout, /1 segments pruned/);
    fs.rmSync(path.join(killed, 'journal', '_pruned.log'));
    assert.equal(cli('verify', '--store', killed).status, 1);
    assert.ok(fs.existsSync(storeCheckpointDir(HOME, JSON.parse(fs.readFileSync(path.join(killed, 'audit.json'), 'utf8')).store_id)));
  });

  test('usage errors exit 2', () => {
    assert.equal(cli('verify', 'a', 'b').status, 2);
    assert.equal(cli('verify', '--key', 'nonsense', store).status, 2);
    assert.match(cli('verify', '--help').stdout, /Exit status/);
    assert.match(cli('--help').stdout, /mcp-flight verify/);
  });
});
