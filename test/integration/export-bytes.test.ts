import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { buildExportAudit } from '../../src/core/audit/export-audit';
import { verifyExportContent } from '../../src/core/audit/verify';
import { exportSessionJsonBytes, exportSessionToString, type ExportRecord } from '../../src/core/export/session-json';
import { Recorder } from '../../src/core/recording/recorder';
import { JournalWriter, listSegments } from '../../src/core/store/journal';
import { storeLayout } from '../../src/core/store/layout';
import { openStore } from '../../src/core/store/store';
import { assertValidJsonExport } from '../helpers/schema';

/**
 * `exportSessionJsonBytes` (what `mcp-flight export` writes) against `exportSessionToString`, over
 * stores written by the real Recorder and JournalWriter: the same document byte for byte (but
 * the audit section's time and signature), verifying; stored lines spliced as the journal holds
 * them; a journal that changed under the export fails it rather than exporting something else.
 */

const temps: string[] = [];
function temp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpf-export-bytes-'));
  temps.push(d);
  return d;
}
const HOME = temp();
process.env.MCP_FLIGHT_HOME = HOME;
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

const up = 'client_to_server' as const;
const down = 'server_to_client' as const;

/** A session with non-ASCII text, escapes, spacing, a 100 KB string, a record reordered on export, and a replay interleaved in the same segment. */
function record(root: string, audit = true): { main: string; replay: string } {
  const journal = JournalWriter.open(root, { audit: audit ? { home: HOME, checkpointEvery: 7, checkpointIntervalMs: 9000 } : false });
  const rec = new Recorder({ kind: 'test', journal });
  const conn = rec.openConnection({ name: 'srv', transport: 'stdio', command: 'node' }, 'stdio');
  for (let i = 0; i < 12; i++) {
    conn.message(up, Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { text: `café ☕ 😀 "${i}"\n`, big: i === 3 ? 'é'.repeat(100_000) : 'x' } } })));
    if (i === 5) {
      const replay = new Recorder({ kind: 'replay', journal, replayOf: { session_id: rec.sessionId, call_id: 'c1:3' } });
      const rc = replay.openConnection({ name: 'srv', transport: 'stdio' }, 'stdio');
      rc.message(up, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}'));
      rc.message(down, Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}'));
      replay.end('replay done');
    }
    conn.message(down, Buffer.from(i % 4 === 1 ? `{ "jsonrpc" : "2.0", "id" : ${i}, "result" : { "content" : [ { "type" : "text", "text" : "caf\\u00e9 ${i}" } ], "n" : 1.50 } }` : JSON.stringify({ jsonrpc: '2.0', id: i, result: { content: [{ type: 'text', text: `ünïcödé ${i}` }], isError: i % 3 === 0 } })));
    if (i === 7) conn.event({ type: 'stderr', text: 'a line ✓' });
  }
  const replayId = [...new Set(fs.readFileSync(listSegments(storeLayout(root))[0]!, 'utf8').match(/"session_id":"[^"]+"/g)!)].map((s) => s.slice(14, -1)).find((s) => s !== rec.sessionId)!;
  rec.end();
  journal.close();
  return { main: rec.sessionId, replay: replayId };
}

function bytesExport(items: () => Iterable<ExportRecord>, opts: Parameters<typeof exportSessionJsonBytes>[2]): string {
  const chunks: Buffer[] = [];
  // The chunk's buffer is reused: copy it.
  exportSessionJsonBytes(items, (c) => chunks.push(Buffer.from(c)), opts);
  return Buffer.concat(chunks).toString('utf8');
}

/** The document without the audit section's export time and signature, which differ between two exports. */
function stable(text: string): string {
  const doc = JSON.parse(text) as { audit?: { exported_at?: string; signature?: unknown } };
  if (doc.audit) {
    delete doc.audit.exported_at;
    delete doc.audit.signature;
  }
  return JSON.stringify(doc);
}

describe('the byte export', () => {
  test('is the string export, byte for byte but for the audit time and signature, in any chunk size, and verifies', async () => {
    const root = path.join(temp(), 'store');
    const { main, replay } = record(root);
    const store = await openStore(root);
    try {
      for (const id of [main, replay]) {
        const items = () => store.readSessionRecords(id);
        const text = exportSessionToString(items, { sessionId: id });
        for (const chunkSize of [undefined, 1, 4096]) {
          const bytes = bytesExport(items, { sessionId: id, ...(chunkSize ? { chunkSize } : {}) });
          const cut = (t: string) => t.slice(0, t.lastIndexOf(',\n"audit":'));
          assert.equal(cut(bytes), cut(text));
          assert.equal(stable(bytes), stable(text));
          assert.equal(verifyExportContent(bytes, 'bytes.json', { home: HOME }).verdict, 'intact');
        }
        assertValidJsonExport(text);
        const doc = JSON.parse(text) as { calls: unknown[]; events: unknown[]; audit: { problems: string[]; events: number } };
        assert.equal(doc.audit.events, doc.events.length);
        assert.deepEqual(doc.audit.problems, []);
        // The audit section built alone (the JSONL export's way) is the one built while writing the events.
        const locations = [...store.readSessionRecords(id)].map((r) => r.location);
        const alone = buildExportAudit(id, locations)!;
        const inline = (JSON.parse(text) as { audit: typeof alone }).audit;
        assert.deepEqual({ ...alone, exported_at: '', signature: null }, { ...inline, exported_at: '', signature: null });
      }
      const text = bytesExport(() => store.readSessionRecords(main), { sessionId: main });
      assert.ok(text.includes('"big":"' + 'é'.repeat(100_000) + '"'));
      assert.ok(text.includes('"text" : "caf\\u00e9 1"'), 'a message as the server spaced and escaped it');
      assert.match(text, /\{"type":"stderr","session_id":/, 'a record whose keys were out of event order is reordered');
    } finally {
      store.close();
    }
  });

  test('of a journal without the audit trail, with a line that is not UTF-8, is still the string export', async () => {
    const root = path.join(temp(), 'store');
    const { main } = record(root, false);
    const segment = listSegments(storeLayout(root))[0]!;
    const bytes = fs.readFileSync(segment);
    const at = bytes.indexOf(Buffer.from('ünïcödé 2'));
    bytes[at + 1] = 0xff; // half of "ü" becomes a byte UTF-8 has no use for
    fs.writeFileSync(segment, bytes);
    const store = await openStore(root);
    try {
      const items = () => store.readSessionRecords(main);
      const text = exportSessionToString(items, { sessionId: main });
      assert.ok(!text.includes('"audit"'));
      assert.ok(text.includes('\ufffd'));
      assert.equal(bytesExport(items, { sessionId: main }), text);
    } finally {
      store.close();
    }
  });

  test('fails when the journal changed under it, rather than writing other records', async () => {
    const root = path.join(temp(), 'store');
    const { main } = record(root);
    const store = await openStore(root);
    try {
      const items = [...store.readSessionRecords(main)];
      const segment = items[0]!.location.file;
      // Every line moves by one byte: no exported record is where it was read any more.
      fs.writeFileSync(segment, Buffer.concat([Buffer.from('\n'), fs.readFileSync(segment)]));
      assert.throws(() => bytesExport(() => items, { sessionId: main }), /no complete record at offset \d+ any more/);
      assert.throws(() => bytesExport(() => items, { sessionId: main, audit: false }), /no complete record at offset \d+ any more/);
    } finally {
      store.close();
    }
  });
});
