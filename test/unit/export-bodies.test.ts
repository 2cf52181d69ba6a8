import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { assembleSession } from '../../src/core/analysis/calls';
import { callJson, objectJson, toExportedCall } from '../../src/core/export/session-json';
import type { JournalRecord } from '../../src/core/model/records';

/**
 * The JSON exports assemble with `keepBodies: 'json'`: each input and output is serialised once as
 * it arrives and its summary cut from that text. Every call item must be exactly what serialising
 * the call with its parsed bodies gives (`keepBodies: true`), whatever the bodies hold.
 */

function session(args: unknown, result: unknown, error: unknown, params: unknown): JournalRecord[] {
  let seq = 0;
  const s = () => ({ session_id: 's', seq: ++seq, ts: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, seq)).toISOString(), mono: seq });
  const msg = (dir: 'client_to_server' | 'server_to_client', message: unknown): JournalRecord => ({ type: 'message', ...s(), connection_id: 'c1', dir, size: 1, message }) as JournalRecord;
  return [
    { type: 'session_start', ...s(), recorder: { kind: 'test', version: '0', pid: 1, hostname: 'h', user: 'u' } },
    { type: 'connection_open', ...s(), connection_id: 'c1', server: { name: 'srv', transport: 'stdio' }, upstream: 'stdio' },
    msg('client_to_server', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: args } }),
    msg('server_to_client', { jsonrpc: '2.0', id: 1, result }),
    msg('client_to_server', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 't', arguments: args } }),
    msg('server_to_client', { jsonrpc: '2.0', id: 2, error }),
    msg('client_to_server', { jsonrpc: '2.0', id: 3, method: 'resources/read', params }),
    msg('server_to_client', { jsonrpc: '2.0', id: 3, result: { contents: [result] } }),
    msg('client_to_server', { jsonrpc: '2.0', id: 4, method: 'ping' }),
    { type: 'session_end', ...s(), reason: 'shutdown' },
  ];
}

function itemsBoth(records: JournalRecord[]): Array<[string, string, string, string]> {
  const items = records.map((record) => ({ record }));
  const parsed = assembleSession(items, { keepBodies: true });
  const json = assembleSession(items, { keepBodies: 'json' });
  const a = [...parsed.calls.values()];
  const b = [...json.calls.values()];
  assert.equal(a.length, b.length);
  return a.map((c, i) => [objectJson(toExportedCall(c)), callJson(b[i]!), c.input_summary + '|' + (c.output_summary ?? ''), b[i]!.input_summary + '|' + (b[i]!.output_summary ?? '')]);
}

describe("keepBodies: 'json'", () => {
  it('gives every call item and summary exactly as serialising the parsed bodies does (property test)', () => {
    const obj = fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.jsonValue({ maxDepth: 4 }));
    fc.assert(
      fc.property(obj, fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3 }), obj, (args, result, error, params) => {
        for (const [expected, actual, summaries, jsonSummaries] of itemsBoth(session(args, result, error, params))) {
          assert.equal(actual, expected);
          assert.equal(jsonSummaries, summaries);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('holds for long strings, escapes, surrogates and member names that look like the item’s own', () => {
    const tricky = {
      text: 'x'.repeat(70_000),
      quote: 'a "quoted" \\ back\nslash\u0000',
      emoji: '😀'.repeat(150),
      lone: '\ud800 lone',
      input: null,
      output: null,
      ',"input":null,"input_summary":': ',"output":null,"output_summary":',
      nested: { input: null, input_summary: 'x', output: null, output_summary: 'y' },
    };
    for (const [expected, actual, summaries, jsonSummaries] of itemsBoth(session(tricky, { content: [{ type: 'text', text: tricky.quote }], isError: true, extra: tricky }, { code: -32602, message: 'bad', data: tricky }, tricky))) {
      assert.equal(actual, expected);
      assert.equal(jsonSummaries, summaries);
    }
  });
});
