import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallDiffReport, SessionDiffReport } from '../../src/core/analysis/diff';
import { assertValidDiffReport } from '../helpers/diff-schema';
import { CLI, EVERYTHING, NODE, requireBuiltCli, tempDir } from '../helpers/env';

/**
 * `mcp-flight diff` on two sessions recorded for real: the SDK's Client talks to server-everything
 * through `mcp-flight record`, and the built CLI compares what the journal holds.
 */

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Step = { name: string; arguments: Record<string, unknown> };

async function record(store: string, steps: Step[]): Promise<void> {
  const client = new Client({ name: 'diff-test-agent', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'record', '--store', store, '--name', 'everything', '--', NODE, EVERYTHING], stderr: 'ignore' }));
  for (const step of steps) await client.callTool(step);
  await client.close();
}

/** The slower rule of the session reports here (see the note in `before`). */
const SLOWER = ['--slower-min-ms', '400'];

describe('mcp-flight diff', () => {
  const store = tempDir();
  const out = tempDir('mcpf-diff-out-');
  let sessionA = '';
  let sessionB = '';

  before(async () => {
    requireBuiltCli();
    // A: the baseline. B: one call with other arguments, one call much slower (≥ 600 ms), one call more, one call fewer.
    // The reports below use --slower-min-ms 400: a busy machine can make an echo 100 ms slower, not 400.
    await record(store, [
      { name: 'echo', arguments: { message: 'same' } },
      { name: 'echo', arguments: { message: 'before' } },
      { name: 'get-sum', arguments: { a: 1, b: 2 } },
      { name: 'trigger-long-running-operation', arguments: { duration: 0, steps: 1 } },
      { name: 'get-tiny-image', arguments: {} },
    ]);
    await record(store, [
      { name: 'echo', arguments: { message: 'same' } },
      { name: 'echo', arguments: { message: 'after' } },
      { name: 'get-sum', arguments: { a: 1, b: 2 } },
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 1 } },
      { name: 'get-sum', arguments: { a: 5, b: 5 } },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    const sessions = JSON.parse(cli('sessions', '--store', store, '--json').stdout) as Array<{ session_id: string }>;
    assert.equal(sessions.length, 2);
    sessionB = sessions[0]!.session_id;
    sessionA = sessions[1]!.session_id;
  });
  after(() => {
    fs.rmSync(store, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  });

  function assertSessionReport(r: SessionDiffReport): void {
    assertValidDiffReport(r);
    assert.equal(r.format, 'mcp-flight.diff/v1');
    assert.equal(r.kind, 'sessions');
    assert.equal(r.identical, false);
    assert.equal(r.complete, true);
    assert.equal(r.a.session_id, sessionA);
    assert.equal(r.b.session_id, sessionB);
    assert.deepEqual(r.added.map((c) => [c.tool, c.input_summary]), [['get-sum', '{"a":5,"b":5}']]);
    assert.deepEqual(r.missing.map((c) => c.tool), ['get-tiny-image']);
    assert.deepEqual(
      r.changed.map((p) => [p.a.tool, p.match, p.changes]),
      [
        ['echo', 'position', ['arguments', 'result']],
        ['trigger-long-running-operation', 'position', ['arguments', 'result']],
      ],
    );
    const echo = r.changed[0]!;
    assert.deepEqual(echo.arguments.changes, [{ path: '/message', change: 'changed', before: 'before', after: 'after' }]);
    assert.deepEqual(echo.result.changes, [{ path: '/content/0/text', change: 'changed', before: 'Echo: before', after: 'Echo: after' }]);
    const slow = r.slower;
    assert.equal(slow.length, 1, JSON.stringify(r.changed.map((p) => p.duration)));
    assert.equal(slow[0]!.a.tool, 'trigger-long-running-operation');
    assert.ok(slow[0]!.b_ms >= 2 * slow[0]!.a_ms && slow[0]!.b_ms - slow[0]!.a_ms >= 400, `recorded ${slow[0]!.a_ms} ms → ${slow[0]!.b_ms} ms`);
    assert.deepEqual([r.rules.slower_ratio, r.rules.slower_min_ms], [2, 400]);
    // The handshake and the identical calls matched and are unchanged.
    const byTool = new Map(r.tools.map((t) => [t.tool, t]));
    assert.deepEqual(byTool.get('echo'), { server: 'everything', method: 'tools/call', tool: 'echo', a_calls: 2, b_calls: 2, matched: 2, unchanged: 1, changed: 1, added: 0, missing: 0, slower: 0 });
    assert.deepEqual(byTool.get('get-sum'), { server: 'everything', method: 'tools/call', tool: 'get-sum', a_calls: 1, b_calls: 2, matched: 1, unchanged: 1, changed: 0, added: 1, missing: 0, slower: 0 });
    assert.equal(byTool.get('initialize')?.unchanged, 1);
    assert.equal(r.counts.added, 1);
    assert.equal(r.counts.missing, 1);
    assert.equal(r.counts.changed, 2);
    assert.equal(r.counts.slower, 1);
  }

  test('two sessions of the store: JSON report and exit code 1', () => {
    const r = cli('diff', '--store', store, '--json', ...SLOWER, sessionA.slice(0, 8), 'latest');
    assert.equal(r.code, 1, r.stderr);
    assertSessionReport(JSON.parse(r.stdout) as SessionDiffReport);
  });

  test('the text report names every difference', () => {
    const r = cli('diff', '--store', store, ...SLOWER, 'latest~1', 'latest');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Different: 1 added, 1 missing, 2 changed, 1 slower/m);
    assert.match(r.stdout, /^Slower — B ≥ 2× and ≥ 400 ms slower \(1\)$/m);
    assert.match(r.stdout, /\+ everything · get-sum {2}success/);
    assert.match(r.stdout, /- everything · get-tiny-image/);
    assert.match(r.stdout, /arguments {2}changed {2}\/message {2}"before" → "after"/);
    assert.match(r.stdout, /! everything · trigger-long-running-operation/);
    assert.match(r.stdout, /Per tool/);
  });

  test('a session compared with itself is identical: exit code 0', () => {
    const r = cli('diff', '--store', store, '--json', sessionB, sessionB);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SessionDiffReport;
    assertValidDiffReport(report);
    assert.equal(report.identical, true);
    assert.equal(report.counts.changed + report.counts.added + report.counts.missing + report.counts.slower, 0);
    assert.ok(report.counts.unchanged >= 6);
    assert.match(cli('diff', '--store', store, sessionB, sessionB).stdout, /^Identical: /m);
  });

  test('exported files (JSON and JSONL), alone or against the store, give the same report', () => {
    const fileA = path.join(out, 'a.json');
    const fileB = path.join(out, 'b.jsonl');
    assert.equal(cli('export', '--store', store, '--session', sessionA, '--out', fileA).code, 0);
    assert.equal(cli('export', '--store', store, '--session', sessionB, '--out', fileB).code, 0);
    const files = cli('diff', '--json', ...SLOWER, fileA, fileB);
    assert.equal(files.code, 1, files.stderr);
    const report = JSON.parse(files.stdout) as SessionDiffReport;
    assertSessionReport(report);
    assert.equal(report.a.source, `file:${fileA}`);
    const mixed = cli('diff', '--store', store, '--json', ...SLOWER, fileA, sessionB);
    assert.equal(mixed.code, 1, mixed.stderr);
    const m = JSON.parse(mixed.stdout) as SessionDiffReport;
    assertSessionReport(m);
    assert.match(m.b.source, /^store:/);
    // The store and the export hold the same evidence: apart from the sources, the same report.
    const fromStore = JSON.parse(cli('diff', '--store', store, '--json', ...SLOWER, sessionA, sessionB).stdout) as SessionDiffReport;
    assert.deepEqual({ ...report, a: { ...report.a, source: '' }, b: { ...report.b, source: '' } }, { ...fromStore, a: { ...fromStore.a, source: '' }, b: { ...fromStore.b, source: '' } });
  });

  test('two calls: arguments and results side by side, by call id or request number, from store or file', () => {
    const report = JSON.parse(cli('diff', '--store', store, '--json', ...SLOWER, sessionA, sessionB).stdout) as SessionDiffReport;
    const pair = report.changed[0]!;
    const byId = cli('diff', '--store', store, '--json', `${sessionA}:${pair.a.call_id}`, `${sessionB}:${pair.b.call_id}`);
    assert.equal(byId.code, 1, byId.stderr);
    const r = JSON.parse(byId.stdout) as CallDiffReport;
    assertValidDiffReport(r);
    assert.equal(r.kind, 'calls');
    assert.deepEqual(r.rules, { slower_ratio: 2, slower_min_ms: 100 }, 'the default rule when none is given');
    assert.deepEqual(r.changes, ['arguments', 'result']);
    assert.deepEqual(r.arguments.changes, [{ path: '/message', change: 'changed', before: 'before', after: 'after' }]);
    assert.equal(r.a.call_id, pair.a.call_id);

    const seqA = pair.a.call_id.split(':').pop()!;
    const fileA = path.join(out, 'a.json');
    const viaFile = cli('diff', '--store', store, '--json', `${fileA}:${seqA}`, `latest:${pair.b.call_id}`);
    assert.equal(viaFile.code, 1, viaFile.stderr);
    assert.deepEqual((JSON.parse(viaFile.stdout) as CallDiffReport).arguments, r.arguments);

    const same = cli('diff', '--store', store, `${sessionB}:${pair.b.call_id}`, `${sessionB}:${pair.b.call_id}`);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^Identical$/m);
    const text = cli('diff', '--store', store, `${sessionA}:${pair.a.call_id}`, `${sessionB}:${pair.b.call_id}`);
    assert.match(text.stdout, /^Different: arguments, result$/m);
    assert.match(text.stdout, /result {5}changed {2}\/content\/0\/text {2}"Echo: before" → "Echo: after"/);
  });

  test('errors exit with 2 and say why', () => {
    const cases: Array<[string[], RegExp]> = [
      [['diff', '--store', store, sessionA], /give two sessions/],
      [['diff', '--store', store, sessionA, 'ffffffff-nope'], /no session "ffffffff-nope"/],
      [['diff', '--store', store, sessionA, path.join(out, 'missing.json')], /no such file/],
      [['diff', '--store', store, `${sessionA}:nope`, `${sessionB}:1`], /no call "nope"/],
      [['diff', '--store', store, sessionA, `${sessionB}:1`], /not one of each/],
      [['diff', '--store', store, 'latest~9', 'latest'], /no session "latest~9"/],
      [['diff', '--store', path.join(out, 'nowhere'), 'latest', 'latest~1'], /No MCP Flight Recorder store/],
      [['diff', '--store', store, '--ignore', 'content', 'latest', 'latest'], /JSON Pointer/],
      [['diff', '--store', store, '--slower-ratio', '0.5', 'latest', 'latest'], /--slower-ratio takes a number ≥ 1/],
      [['diff', '--store', store, '--slower-min-ms', 'soon', 'latest', 'latest'], /--slower-min-ms takes a number ≥ 0/],
    ];
    fs.writeFileSync(path.join(out, 'junk.json'), '{"format":"other"}');
    cases.push([['diff', path.join(out, 'junk.json'), path.join(out, 'junk.json')], /not an MCP Flight Recorder session export/]);
    for (const [args, message] of cases) {
      const r = cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '');
    }
    const help = cli('diff', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /mcp-flight diff/);
    assert.match(help.stdout, /Exit status: 0 identical, 1 different, 2 error/);
  });
});
