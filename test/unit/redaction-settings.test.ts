import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redactor } from '../../src/core/audit/redaction';
import { checkRedactionSettings, regexProblem } from '../../src/core/audit/redaction-settings';

test('regexProblem refuses the shapes that backtrack catastrophically, and says why', () => {
  const refused: Array<[string, RegExp]> = [
    ['(a+)+$', /nested quantifiers/],
    ['(a*)*b', /nested quantifiers/],
    ['(?:\\w+\\s?)*$', /nested quantifiers/],
    ['([a-z]{1,5}){2,}', /nested quantifiers/],
    ['x((ab)+c)+', /nested quantifiers/],
    ['(a|aa)+b', /repeated alternation/],
    ['(?:foo|bar){2,3}', /repeated alternation/],
    ['(a)\\1', /backreferences/],
    ['(?<x>a)\\k<x>', /backreferences/],
    ['a*', /empty string/],
    ['(', /does not compile/],
    ['', /empty/],
    ['x'.repeat(1001), /longer than 1000/],
  ];
  for (const [source, why] of refused) assert.match(regexProblem(source) ?? 'accepted', why, source);
  assert.match(regexProblem('abc', 'g') ?? '', /flags may only be/);
});

test('regexProblem accepts ordinary anchored patterns, optional groups and quantified classes', () => {
  for (const source of ['ACME-[0-9A-F]{16}', '\\bACME-([0-9A-F]{16})\\b', 'tok_(?:live|test)_[a-z0-9]{24}', '(?:ab)+c', '(?:v1-)?[A-Z]{4}\\d{8}', '[(|)+*]{4}x', 'a\\+b', '(?<=key=)[0-9a-f]{32}']) {
    assert.equal(regexProblem(source), undefined, source);
  }
  assert.equal(regexProblem('acme-[0-9a-f]{16}', 'i'), undefined);
});

test('a refused pattern never reaches the Redactor', () => {
  const { options, errors } = checkRedactionSettings({ extraPatterns: [{ kind: 'evil', regex: '(a+)+$' }] });
  assert.equal(options.extraPatterns, undefined);
  assert.equal(errors.length, 1);
});

test('checkRedactionSettings: one clear error per bad entry; the good ones are kept', () => {
  const { options, errors } = checkRedactionSettings(
    {
      extraPatterns: [{ kind: 'acme_key', regex: 'ACME-[0-9A-F]{16}' }, { name: 'legacy_name', pattern: 'LGC-[0-9]{8}' }, { kind: 'Has Space', regex: 'x{2}' }, 'ACME', { kind: 'nokey' }, { kind: 'badflags', regex: 'x{2}', flags: 'g' }],
      allowKeys: ['session_token', '', 42],
      allowValues: ['AKIAIOSFODNN7EXAMPLE', { regex: 'sk_test_[0-9a-zA-Z]{24}' }, { regex: '(x+)+' }, 7],
    },
    'settings',
  );
  assert.deepEqual(options.extraPatterns?.map((p) => p.kind), ['acme_key', 'legacy_name']);
  assert.deepEqual(options.allowKeys, ['session_token']);
  assert.deepEqual(options.allowValues, ['AKIAIOSFODNN7EXAMPLE']);
  assert.equal(options.allowPatterns?.length, 1);
  assert.equal(errors.length, 8, errors.join('\n'));
  assert.ok(errors.every((e) => e.startsWith('settings: ')));
  assert.ok(errors.some((e) => /extraPatterns\[2\]: "kind" must be/.test(e)));
  assert.ok(errors.some((e) => /extraPatterns\[3\]: expected/.test(e)));
  assert.ok(errors.some((e) => /extraPatterns\[4\] \(nokey\): "regex" must be a string/.test(e)));
  assert.ok(errors.some((e) => /extraPatterns\[5\] \(badflags\): refused, flags/.test(e)));
  assert.ok(errors.some((e) => /allowValues\[2\]: refused, nested quantifiers/.test(e)));
  // Not an object at all, or nothing: no crash.
  assert.deepEqual(checkRedactionSettings(undefined), { options: {}, errors: [] });
  assert.equal(checkRedactionSettings([] as never).errors.length, 1);
  assert.equal(checkRedactionSettings({ extraPatterns: 'x' }).errors[0], 'redaction settings: extraPatterns must be an array');
});

test('the checked settings in a Redactor: extra pattern redacted, allowed key and allowed values kept', () => {
  const { options, errors } = checkRedactionSettings({
    extraPatterns: [{ kind: 'acme_key', regex: 'ACME-([0-9A-F]{16})' }],
    allowKeys: ['session_token'],
    allowValues: ['ghp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { regex: 'sk_test_[0-9a-zA-Z]{24}' }],
  });
  assert.deepEqual(errors, []);
  const r = new Redactor({ ...options, fingerprintKey: Buffer.alloc(32, 7) });
  const stripe = 'sk_test_' + 'abcdefghijklmnopqrstuvwx';
  const other = 'sk_live_' + 'abcdefghijklmnopqrstuvwx';
  const { value } = r.redactValue({ note: 'key ACME-0123456789ABCDEF here', session_token: 'st-1234567890abcdef', api_token: 'at-1234567890abcdef', example: 'ghp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', test: stripe, live: other });
  const v = value as Record<string, string>;
  // Group 1 is the secret: the literal prefix stays readable.
  assert.match(v.note!, /^key ACME-\[REDACTED:acme_key:[0-9a-f]{6}\] here$/);
  assert.equal(v.session_token, 'st-1234567890abcdef');
  assert.match(v.api_token!, /^\[REDACTED:token:/);
  assert.equal(v.example, 'ghp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
  assert.equal(v.test, stripe, 'matched whole by an allow pattern');
  assert.match(v.live!, /^\[REDACTED:stripe_key:/);
});
