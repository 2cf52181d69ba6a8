import assert from 'node:assert/strict';
import * as os from 'node:os';
import { test } from 'node:test';
import { ConfigError, parseMcpConfig } from '../../src/core/config/mcp-json';
import { targetOf } from '../../src/core/config/servers';

test('reads .vscode/mcp.json with comments, variables and inputs', () => {
  const text = `{
    // a comment survives
    "inputs": [{ "type": "promptString", "id": "gh-token", "password": true }],
    "servers": {
      "fs": { "type": "stdio", "command": "npx", "args": ["-y", "server-fs", "\${workspaceFolder}/data", "\${userHome}"], "env": { "TOKEN": "\${input:gh-token}", "DROP": null } },
      "remote": { "type": "http", "url": "https://example.test/mcp", "headers": { "Authorization": "Bearer \${env:MCPF_TEST_TOKEN}" } },
      "legacy": { "type": "sse", "url": "https://example.test/sse" },
    }
  }`;
  const c = parseMcpConfig(text, 'mcp.json', { workspaceFolder: '/ws', env: { MCPF_TEST_TOKEN: 't0k' }, input: (id) => (id === 'gh-token' ? 'secret' : undefined) });
  assert.deepEqual(c.problems, []);
  assert.deepEqual(c.inputs, [{ type: 'promptString', id: 'gh-token', password: true }]);
  assert.deepEqual(c.servers[0], { name: 'fs', type: 'stdio', command: 'npx', args: ['-y', 'server-fs', '/ws/data', os.homedir()], env: { TOKEN: 'secret', DROP: null } });
  assert.deepEqual(c.servers[1], { name: 'remote', type: 'http', url: 'https://example.test/mcp', headers: { Authorization: 'Bearer t0k' } });
  assert.equal(c.servers[2]!.type, 'sse');
});

test('mcpServers maps of other clients are read too; an unusable entry is reported, not dropped silently', () => {
  const c = parseMcpConfig('{"mcpServers":{"a":{"command":"x"},"b":{"url":"http://h/mcp"},"c":{"type":"carrier-pigeon"},"d":{"command":"y","env":{"K":"${input:missing}"}}}}', 'x.json');
  assert.deepEqual(c.servers.map((s) => [s.name, s.type]), [['a', 'stdio'], ['b', 'http']]);
  assert.equal(c.problems.length, 2);
  assert.match(c.problems[0]!, /carrier-pigeon/);
  assert.match(c.problems[1]!, /input:missing/);
});

test('broken JSON is a clear error', () => {
  assert.throws(() => parseMcpConfig('{"servers": {', 'bad.json'), (e: unknown) => e instanceof ConfigError && /bad\.json/.test((e as Error).message));
});

test('the record names env variables and headers, never their values', () => {
  const t = targetOf({ name: 'x', type: 'http', url: 'https://h/mcp', headers: { Authorization: 'Bearer secret' } });
  assert.deepEqual(t.header_names, ['Authorization']);
  assert.ok(!JSON.stringify(t).includes('secret'));
});
