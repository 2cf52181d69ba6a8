import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ServerSpec } from '../../../src/core/config/servers';
import type { FlightApi } from '../../../src/extension/extension';
import { everythingSpec } from './workspace';

/**
 * The policy from the user's settings in a real VS Code: `mcpFlight.policy` (machine-scoped)
 * denies a tool and meters another on the extension's endpoint, an SDK client over HTTP receives
 * the refusals, and the store records which policy governed the session.
 */

const EXTENSION_ID = 'mcp-flight.mcp-flight-recorder';
const SERVER = 'pol-everything';

suite('policy from the mcpFlight.policy setting', function () {
  this.timeout(120_000);

  test('denies a tool, refuses a metered call past the limit, and the store names the settings policy', async () => {
    const api = await vscode.extensions.getExtension<FlightApi>(EXTENSION_ID)!.activate();
    const config = vscode.workspace.getConfiguration('mcpFlight');
    assert.equal(config.inspect('policy') !== undefined, true, 'the setting is contributed');
    const policy = { spendLimitUsd: 0.03, tools: [{ server: SERVER, tool: 'get-env', deny: true, reason: 'no environment dumps' }, { server: 'pol-*', tool: 'echo', costPerCallUsd: 0.02 }] };
    await config.update('policy', policy, vscode.ConfigurationTarget.Global);
    try {
      const recorder = api.flight.recorder();
      const handle = await api.flight.serve(everythingSpec(SERVER));
      const client = new Client({ name: 'policy-e2e', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(handle.url), { requestInit: { headers: handle.headers } }));
      try {
        const ok = await client.callTool({ name: 'echo', arguments: { message: 'first' } });
        assert.deepEqual(ok.content, [{ type: 'text', text: 'Echo: first' }]);
        await assert.rejects(client.callTool({ name: 'echo', arguments: { message: 'second' } }), (e: unknown) => e instanceof McpError && e.code === -32003 && (e.data as { code?: string }).code === 'SPEND_LIMIT');
        await assert.rejects(client.callTool({ name: 'get-env', arguments: {} }), (e: unknown) => e instanceof McpError && /no environment dumps/.test(e.message));
      } finally {
        await client.close();
      }
      const store = await api.flight.store();
      store.catchUp();
      const records = [...store.readSessionRecords(recorder.sessionId)].map((r) => r.record);
      const applied = records.filter((r) => r.type === 'policy' && r.status === 'applied' && r.source === 'settings');
      assert.ok(applied.length >= 1, 'the settings policy is journaled');
      assert.ok(records.some((r) => r.type === 'spend' && r.event === 'warning'), 'the 80 % warning is journaled');
      const echoes = store.calls({ server: SERVER, tool: 'echo', limit: 10 });
      assert.deepEqual(echoes.map((c) => c.error?.error_class ?? null).sort(), [null, 'spend_limit'].sort());
      const env = store.calls({ server: SERVER, tool: 'get-env', limit: 10 })[0];
      assert.equal(env?.error?.error_class, 'policy_denied');
    } finally {
      await config.update('policy', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
