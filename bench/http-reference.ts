import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * The reference for the HTTP upstream row of the benchmark: what the same client gets from the
 * SDK's own Streamable HTTP server (StreamableHTTPServerTransport, one session per client) with
 * an `echo` tool answered in-process — no recorder, no stdio server behind it. Run as a process
 * of its own, like `mcp-flight serve`:
 *
 *   node --import tsx bench/http-reference.ts json|sse
 *
 * prints `{"url": …}` on its first line. `json` answers each POST with one JSON body, `sse`
 * with an SSE stream (the SDK's default): the difference is what a stream per call costs the
 * client.
 */

function echoServer(): Server {
  const server = new Server({ name: 'http-reference', version: '1' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } }],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => ({ content: [{ type: 'text', text: `Echo: ${String(req.params.arguments?.message)}` }] }));
  return server;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'json' && mode !== 'sse') throw new Error('usage: http-reference.ts json|sse');
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const httpServer = http.createServer((req, res) => {
    const sid = req.headers['mcp-session-id'];
    const known = typeof sid === 'string' ? sessions.get(sid) : undefined;
    const handle = async () => {
      let transport = known;
      if (!transport) {
        const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: mode === 'json',
          onsessioninitialized: (id: string): void => void sessions.set(id, t),
        });
        await echoServer().connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res);
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp` }) + '\n');
  process.once('SIGTERM', () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
