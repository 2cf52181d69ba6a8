import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'jsonc-parser';
import { claudeDesktopConfig, parseOtherClientConfig } from '../../src/core/config/other-clients';
import { unwrapConfig, wrapConfig } from '../../src/core/config/wrap';

test('Claude Code .mcp.json: ${VAR} and ${VAR:-default}', () => {
  const c = parseOtherClientConfig('claude-code', '.mcp.json', '{"mcpServers":{"gh":{"type":"stdio","command":"npx","args":["-y","gh-server","${ROOT:-/srv}"],"env":{"TOKEN":"${GH_TOKEN}"}},"api":{"type":"http","url":"https://api.test/mcp","headers":{"X-Key":"${KEY}"}}}}', { env: { GH_TOKEN: 'abc', KEY: 'k' } });
  assert.deepEqual(c.servers, [
    { name: 'gh', type: 'stdio', command: 'npx', args: ['-y', 'gh-server', '/srv'], env: { TOKEN: 'abc' } },
    { name: 'api', type: 'http', url: 'https://api.test/mcp', headers: { 'X-Key': 'k' } },
  ]);
});

test('Cursor: ${env:NAME}, ${userHome}, ${workspaceFolder}', () => {
  const c = parseOtherClientConfig('cursor', 'mcp.json', '{"mcpServers":{"fs":{"command":"node","args":["${workspaceFolder}/s.js","${userHome}"],"env":{"A":"${env:A}"}}}}', { env: { A: '1' }, home: '/home/u', workspaceFolder: '/ws' });
  assert.deepEqual(c.servers[0], { name: 'fs', type: 'stdio', command: 'node', args: ['/ws/s.js', '/home/u'], env: { A: '1' } });
});

test('Claude Desktop config paths per platform', () => {
  assert.equal(claudeDesktopConfig('linux', '/home/u', {}), '/home/u/.config/Claude/claude_desktop_config.json');
  assert.equal(claudeDesktopConfig('darwin', '/Users/u', {}), '/Users/u/Library/Application Support/Claude/claude_desktop_config.json');
  assert.equal(claudeDesktopConfig('win32', 'C:\\Users\\u', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }).endsWith('claude_desktop_config.json'), true);
});

test('wrap then unwrap restores every entry, and comments survive both', () => {
  const original = `{
  // my servers
  "mcpServers": {
    "gh": { "command": "npx", "args": ["-y", "gh-server"], "env": { "T": "x" } }, // github
    "api": { "type": "sse", "url": "https://api.test/sse", "headers": { "Authorization": "Bearer z" } },
    "plain": { "url": "https://plain.test/mcp" }
  }
}`;
  const w = wrapConfig(original, { launcher: '/home/u/.mcp-flight/bin/mcp-flight', store: '/ws/.mcp-flight' });
  assert.deepEqual(w.wrapped, ['gh', 'api', 'plain']);
  assert.match(w.text, /\/\/ my servers/);
  const wrapped = parse(w.text).mcpServers;
  assert.equal(wrapped.gh.command, '/home/u/.mcp-flight/bin/mcp-flight');
  assert.deepEqual(wrapped.gh.args, ['record', '--mcp-flight-wrapped', '--store', '/ws/.mcp-flight', '--name', 'gh', '--', 'npx', '-y', 'gh-server']);
  assert.deepEqual(wrapped.gh.env, { T: 'x' });
  assert.equal(wrapped.api.type, 'stdio');
  assert.deepEqual(wrapped.api.args.slice(-5), ['https://api.test/sse', '--transport', 'sse', '--header', 'Authorization: Bearer z']);
  assert.equal(wrapConfig(w.text, { launcher: 'x', store: 'y' }).wrapped.length, 0, 'wrapping twice changes nothing');

  const u = unwrapConfig(w.text);
  assert.deepEqual(u.unwrapped, ['gh', 'api', 'plain']);
  assert.deepEqual(parse(u.text), parse(original));
  assert.match(u.text, /\/\/ my servers/);
});
