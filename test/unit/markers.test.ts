import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fillMarkers, findMarkers } from '../../src/core/audit/markers';
import { Redactor } from '../../src/core/audit/redaction';

const redactor = new Redactor({ fingerprintKey: Buffer.alloc(32, 3) });
const GH = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
const PW = 'hunter2-"quoted"\\and/slashed';

test('markers are found whole, inside longer strings, in property names and percent-encoded; one entry per distinct marker', () => {
  const gh = redactor.marker('github_pat', GH);
  const pw = redactor.marker('password', PW);
  const args = {
    token: gh,
    message: `deploy with ${gh} then ${gh} again`,
    nested: [{ note: `password is ${pw}` }],
    [`map ${gh}`]: 1,
    url: `https://example.com/?t=%5BREDACTED%3Agithub_pat%3A${gh.slice(-7, -1)}%5D&x=1`,
    plain: 'no marker here, not even [REDACTED:Bad Kind:123]',
  };
  const found = findMarkers(args);
  assert.deepEqual(
    found.map((m) => [m.marker, m.kind, m.count]),
    [
      [gh, 'github_pat', 5],
      [pw, 'password', 1],
    ],
  );
  assert.deepEqual(found[0]!.paths, ['/token', '/message', `/map ${gh}`, '/url']);
  assert.deepEqual(found[1]!.paths, ['/nested/0/note']);
  assert.equal(found[0]!.fingerprint, gh.slice(-7, -1));
});

test('filling: every occurrence of a marker gets its one value, written the way its surroundings are', () => {
  const gh = redactor.marker('github_pat', GH);
  const pw = redactor.marker('password', PW);
  const recorded = {
    token: gh,
    message: `deploy with ${gh} then ${gh} again`,
    nested: [{ note: `password is ${pw}` }],
    [`map ${gh}`]: 1,
    url: `https://example.com/?p=%5BREDACTED%3Apassword%3A${pw.slice(-7, -1)}%5D&x=1`,
    json: JSON.stringify({ auth: { password: pw, header: `Bearer ${gh}` } }),
    untouched: 42,
  };
  const before = JSON.stringify(recorded);
  const filled = fillMarkers(recorded, new Map([[gh, GH], [pw, PW]]));
  assert.equal(JSON.stringify(recorded), before, 'never mutates');
  assert.equal(filled.token, GH);
  assert.equal(filled.message, `deploy with ${GH} then ${GH} again`);
  assert.equal(filled.nested[0]!.note, `password is ${PW}`);
  assert.ok(Object.hasOwn(filled, `map ${GH}`), 'a marker in a property name is filled too');
  assert.equal(filled.url, `https://example.com/?p=${encodeURIComponent(PW)}&x=1`);
  assert.deepEqual(JSON.parse(filled.json), { auth: { password: PW, header: `Bearer ${GH}` } }, 'JSON in a string: the value is JSON-escaped, the text still parses');
  assert.equal(filled.untouched, 42);
  assert.equal(JSON.stringify(filled).includes('REDACTED'), false);
});

test('round trip through the Redactor: redact, find, fill gives back the original arguments', () => {
  const original = { message: `use ${GH} for the repo`, password: 'pw-Zr8q2LmN0vXc', config: JSON.stringify({ password: 'pw-Zr8q2LmN0vXc' }) };
  const { value } = redactor.redactValue(original);
  const markers = findMarkers(value);
  assert.equal(markers.length, 2, JSON.stringify(value));
  const secretOf = new Map([
    ['github_pat', GH],
    ['password', 'pw-Zr8q2LmN0vXc'],
  ]);
  const answers = new Map(markers.map((m) => [m.marker, secretOf.get(m.kind)!]));
  for (const m of markers) assert.equal(redactor.fingerprint(answers.get(m.marker)!), m.fingerprint, 'the fingerprint checks the answer');
  assert.deepEqual(fillMarkers(value, answers), original);
});

test('a marker without a value stays as it is; no markers, the same value back', () => {
  const gh = redactor.marker('github_pat', GH);
  assert.deepEqual(fillMarkers({ a: `x ${gh}` }, new Map([['[REDACTED:other:000000]', 'v']])), { a: `x ${gh}` });
  const v = { a: 1 };
  assert.equal(fillMarkers(v, new Map()), v);
  assert.deepEqual(findMarkers({ a: 'nothing', b: [null, 1, true] }), []);
});
