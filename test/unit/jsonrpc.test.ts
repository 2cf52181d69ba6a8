import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envelopeOf, errorResponse, idKey, jsonDepthExceeds } from '../../src/core/model/jsonrpc';

test('depth scan counts nesting, ignoring brackets inside strings and escaped quotes', () => {
  assert.equal(jsonDepthExceeds('[[[]]]', 3), false);
  assert.equal(jsonDepthExceeds('[[[[]]]]', 3), true);
  assert.equal(jsonDepthExceeds('{"a":"[[[[[[[[\\"[[[["}', 2), false);
  assert.equal(jsonDepthExceeds('['.repeat(100_000) + ']'.repeat(100_000), 64), true);
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
