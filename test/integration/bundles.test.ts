import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT, requireBuiltCli } from '../helpers/env';

/**
 * The built bundles keep the architecture's promises: core (everything the CLI ships) never
 * needs `vscode`, and the webview bundle holds no Node built-ins and no `vscode`.
 */

const read = (name: string) => fs.readFileSync(path.join(ROOT, 'dist', name), 'utf8');

test('the CLI bundle (core) contains no vscode import', () => {
  requireBuiltCli();
  const cli = read('cli.js');
  assert.doesNotMatch(cli, /require\(["']vscode["']\)/);
  assert.doesNotMatch(cli, /from ["']vscode["']/);
});

test('the webview bundle contains no Node built-ins and no vscode', () => {
  const webview = read('webview.js');
  assert.doesNotMatch(webview, /require\(/, 'a browser bundle has no require()');
  assert.doesNotMatch(webview, /["']node:[a-z_]+["']/);
  assert.doesNotMatch(webview, /["']vscode["']/);
  for (const builtin of ['fs', 'child_process', 'net', 'http', 'crypto', 'os', 'path']) assert.doesNotMatch(webview, new RegExp(`["']${builtin}["']\\)`));
});

test('the extension loads its heavy half lazily: the activation bundle holds no SDK, sql.js or zod', () => {
  const ext = read('extension.js');
  assert.match(ext, /require\(["']\.\/runtime["']\)/);
  assert.doesNotMatch(ext, /initSqlJs|locateFile/);
  assert.doesNotMatch(ext, /StreamableHTTPClientTransport|JSONRPCMessageSchema/);
  // OpenTelemetry (the OTLP push) is in the runtime half, loaded when a session starts.
  assert.doesNotMatch(ext, /OTLPTraceExporter|JsonTraceSerializer|createExportTraceServiceRequest/);
  assert.match(read('runtime.js'), /OTLPTraceExporter/);
  assert.ok(ext.length < 300_000, `extension.js is ${ext.length} bytes`);
});
