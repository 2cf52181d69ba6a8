import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { envelopeOf, errorResponse, idKey, jsonArrayItems, jsonDepthExceeds, jsonMemberCount, jsonMembersWithin } from '../../src/core/model/jsonrpc';

test('depth scan counts nesting, ignoring brackets inside strings and escaped quotes', () => {
  assert.equal(jsonDepthExceeds('[[[]]]', 3), false);
  assert.equal(jsonDepthExceeds('[[[[]]]]', 3), true);
  assert.equal(jsonDepthExceeds('{"a":"[[[[[[[[\\"[[[["}', 2), false);
  assert.equal(jsonDepthExceeds('['.repeat(100_000) + ']'.repeat(100_000), 64), true);
  assert.equal(jsonDepthExceeds('["\\\\", [["\\\\\\"[["]]]', 3), false, 'a string ending in an escaped backslash, then one holding an escaped quote');
  assert.equal(jsonDepthExceeds('["\\\\", [["\\\\\\"[["]]]', 2), true);
  assert.equal(jsonDepthExceeds('[[["unterminated [[[[', 2), true, 'depth reached before the string');
  assert.equal(jsonDepthExceeds('[["unterminated [[[[', 2), false, 'brackets inside an unterminated string do not count');
});

/** The depth of a parsed value: what the scan must agree with. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

test('depth scan agrees with the depth of the parsed value, whatever the strings hold (property)', () => {
  const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' ', '\n', 'é') });
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.constant(null), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(text, tie('node'), { maxKeys: 4 })),
  })).node;
  fc.assert(
    fc.property(value, fc.constantFrom(0, 2), (v, indent) => {
      const json = JSON.stringify(v, null, indent);
      const depth = depthOf(v);
      for (let limit = 0; limit <= depth + 1; limit++) assert.equal(jsonDepthExceeds(json, limit), depth > limit, `${json} at limit ${limit}`);
      assert.equal(jsonMembersWithin(json, depth), jsonMemberCount(v), `members of ${json}`);
      const items = jsonArrayItems(json);
      if (Array.isArray(v)) assert.deepEqual(items?.map((t) => JSON.parse(t) as unknown), JSON.parse(json), `items of ${json}`);
      else assert.equal(items, undefined);
    }),
    { numRuns: 500 },
  );
});

test('member count: duplicate keys make the text write more members than the parsed value holds', () => {
  const text = '{"a" : "x", "b":{"a":1,"a" :2, "k\\\\":"v:"}, "a":"\\":"}';
  assert.equal(jsonMembersWithin(text, 64), 6);
  assert.equal(jsonMemberCount(JSON.parse(text)), 4);
  assert.equal(jsonMembersWithin('["a", "b:", {"c"\t\r\n:[]}]', 64), 1, 'a colon inside a string or after an array element is no member');
  assert.equal(jsonMembersWithin('[[{"a":1}]]', 1), -1, 'too deep');
});

test('array items: each element as written, commas and brackets inside strings and nested values left alone', () => {
  assert.deepEqual(jsonArrayItems(' [ {"a":[1,2],"b":"x,]\\\\"} ,\n"s,\\"]" , [[]],3 ] '), ['{"a":[1,2],"b":"x,]\\\\"}', '"s,\\"]"', '[[]]', '3']);
  assert.deepEqual(jsonArrayItems('[]'), []);
  assert.equal(jsonArrayItems('{"a":[1]}'), undefined);
  const deep = `{"id":1,"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  assert.deepEqual(jsonArrayItems(`[${deep},{"id":2}]`), [deep, '{"id":2}'], 'no recursion, whatever the depth');
});

test('envelopes of every JSON-RPC message kind', () => {
  assert.deepEqual(envelopeOf({ jsonrpc: '2.0', id: 1, method: 'tools/call' }), { kind: 'request', id: 1, method: 'tools/call' });
  assert.deepEqual(envelopeOf({ jsonrpc: '2.0', method: 'notifications/progress' }), { kind: 'notification', method: 'notifications/progress' });
  assert.deepEqual(envelopeOf({ jsonrpc: '2.0', id: 'a', result: {} }), { kind: 'response', id: 'a' });
  assert.deepEqual(envelopeOf({ jsonrpc: '2.0', id: null, error: { code: -32700 } }), { kind: 'error', id: null });
  assert.deepEqual(envelopeOf({ hello: 'world' }), { kind: 'invalid' });
  assert.deepEqual(envelopeOf([{ jsonrpc: '2.0', id: 1, method: 'x' }]), { kind: 'invalid' });
  assert.deepEqual(envelopeOf({ jsonrpc: '1.0', id: 1, method: 'x' }), { kind: 'invalid' });
});

test('ids 1 and "1" are different keys', () => {
  assert.notEqual(idKey(1), idKey('1'));
});

test('error responses are valid JSON-RPC', () => {
  assert.deepEqual(JSON.parse(errorResponse(7, -32000, 'gone', { http_status: 502 })), { jsonrpc: '2.0', id: 7, error: { code: -32000, message: 'gone', data: { http_status: 502 } } });
});
