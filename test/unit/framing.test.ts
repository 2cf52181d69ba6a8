import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../src/core/recording/framing';

function split(chunks: Buffer[]): { lines: string[]; rest?: string } {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l.toString('hex')));
  for (const c of chunks) s.push(c);
  const rest = s.flush();
  return { lines, ...(rest ? { rest: rest.toString('hex') } : {}) };
}

const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');

test('splits on LF only, keeping CR and every other byte', () => {
  assert.deepEqual(split([Buffer.from('a\r\nb\n')]).lines, [hex('a\r'), hex('b')]);
});

test('reassembles a line split inside a multi-byte UTF-8 character', () => {
  const full = Buffer.from('{"t":"😀"}\n');
  for (let cut = 1; cut < full.length; cut++) {
    assert.deepEqual(split([full.subarray(0, cut), full.subarray(cut)]).lines, [hex('{"t":"😀"}')], `cut at ${cut}`);
  }
});

test('many lines in one chunk, a line across many chunks, and a tail without newline', () => {
  const r = split([Buffer.from('1\n2\n3\n4'), Buffer.from('5'), Buffer.from('6\n7')]);
  assert.deepEqual(r.lines, ['1', '2', '3', '456'].map(hex));
  assert.equal(r.rest, hex('7'));
});

test('invalid UTF-8 passes through as the same bytes; empty lines are skipped', () => {
  const bad = Buffer.from([0xff, 0xfe, 0x41]);
  assert.deepEqual(split([Buffer.concat([bad, Buffer.from('\n\n\r\n')])]).lines, [bad.toString('hex')]);
});

test('the splitter does not keep a reference to a reused chunk buffer', () => {
  const lines: string[] = [];
  const s = new LineSplitter((l) => lines.push(l.toString()));
  const buf = Buffer.from('abc');
  s.push(buf);
  buf.write('xyz');
  s.push(Buffer.from('\n'));
  assert.deepEqual(lines, ['abc']);
});
