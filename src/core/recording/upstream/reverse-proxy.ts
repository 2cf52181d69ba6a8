import * as http from 'node:http';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import { targetOf, type RemoteServerSpec } from '../../config/servers';
import { credentialFingerprint, credentialsOf, modeOf } from '../../audit/credentials';
import { jsonArrayItems } from '../../model/jsonrpc';
import type { ConnectionRecorder, Recorder } from '../recorder';
import { findEventEnd, formatSseEvent, parseEventBlock, SseParser, type SseEvent } from './sse';

/**
 * A byte-forwarding reverse proxy from the endpoint's `/mcp/<id>/…` to a remote MCP server
 * (Streamable HTTP or the legacy HTTP+SSE transport). The client and the server talk to each
 * other: methods, bodies, status codes, `WWW-Authenticate`, OAuth discovery documents and SSE
 * streams pass through as they are, so the remote's authorization and any protocol revision keep
 * working. The recorder parses a copy:
 *
 * - a POST body (one message or a batch) is recorded `client_to_server` before it is forwarded;
 * - an `application/json` response is recorded `server_to_client` before it is written back;
 * - a `text/event-stream` response is parsed as it streams, each `data:` message recorded before
 *   the chunk that completes it is written on (the stream itself is never buffered);
 * - each exchange is recorded as an `http_exchange` (method, remote path, status, content type,
 *   WWW-Authenticate).
 *
 * What changes on the way: hop-by-hop headers are dropped, `Host` names the remote, the
 * recorder's own `Authorization` is removed and the spec's headers are added, and
 * `Accept-Encoding: identity` is asked for so the copy can be parsed without re-inflating (an
 * encoded answer is still forwarded as is and decoded for the copy). And one deliberate rewrite
 * of content: the legacy transport's `event: endpoint` names the URL the client must POST to,
 * which is on the remote server; it is rewritten to the matching path on this proxy, otherwise
 * every later message would bypass the recorder.
 *
 * Paths: `/mcp/<id>` is the configured URL; `/mcp/<id>/<rest>` is `<rest>` on the remote's origin
 * (how a rewritten legacy endpoint maps back, and where `.well-known/*` lands) — but only for
 * `.well-known/*` and the POST endpoints the remote announced: the proxy adds the spec's
 * credentials, so it must not open the rest of the remote's origin to whoever holds the token.
 *
 * Connections: one per MCP session id (opened for an `initialize`, bound to the session id the
 * response assigns), one per legacy SSE stream, and one shared by exchanges that belong to no
 * session (stateless servers, discovery documents).
 */

export interface ProxiedRoute {
  /** Path below the server's base, without leading slash ('' = the base itself). Still percent-encoded. */
  rest: string;
  /** Query string including its '?', or ''. */
  search: string;
  /** The public path prefix the client used (with the path token if it used one), for the endpoint rewrite. */
  prefix: string;
  /** An OAuth discovery document asked for at the endpoint's root (`/.well-known/<name>/mcp/<id>`). */
  wellKnown?: string;
  /** The client's Authorization header held the recorder's token: it is not the remote's business. */
  dropAuthorization: boolean;
  /**
   * False for the token-less discovery requests the endpoint lets through: they get none of the
   * spec's headers, which may hold the remote's API key.
   */
  authenticated: boolean;
}

export interface ReverseProxyConnectionEvent {
  type: 'open' | 'close';
  connectionId: string;
  mcpSessionId?: string;
  reason?: string;
}

export interface ReverseProxyOptions {
  recorder: Recorder;
  spec: RemoteServerSpec;
  agents?: { http: http.Agent; https: https.Agent };
  maxBodyBytes?: number;
  onConnection?: (ev: ReverseProxyConnectionEvent) => void;
}

interface ProxyConnection {
  recorder: ConnectionRecorder;
  mcpSessionId?: string;
  /** Remote URL of a legacy SSE session's POST endpoint. */
  legacyEndpoint?: string;
  closed: boolean;
  /** The client's own Authorization header last seen on this connection (compared, never recorded). */
  clientAuthorization?: string;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export class ReverseProxy {
  private readonly base: URL;
  private readonly bySession = new Map<string, ProxyConnection>();
  private readonly byEndpoint = new Map<string, ProxyConnection>();
  /** Paths (on the remote) that legacy `endpoint` events announced. */
  private readonly endpointPaths = new Set<string>();
  private readonly connections = new Set<ProxyConnection>();
  private readonly inflight = new Set<http.ClientRequest>();
  private anonymous?: ProxyConnection;
  private closed = false;

  constructor(private readonly options: ReverseProxyOptions) {
    this.base = new URL(options.spec.url);
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse, route: ProxiedRoute): void {
    if (this.closed) {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('mcp-flight: server removed\n');
      return;
    }
    const limit = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    readAll(req, limit).then(
      (body) => {
        if (body === undefined) {
          res.writeHead(413, { 'content-type': 'text/plain' }).end('mcp-flight: request body too large\n');
          return;
        }
        this.forward(req, res, route, body);
      },
      () => res.destroy(),
    );
  }

  async close(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.inflight) r.destroy();
    this.inflight.clear();
    for (const c of [...this.connections]) this.closeConnection(c, reason);
  }

  private target(route: ProxiedRoute): URL {
    if (route.wellKnown !== undefined) {
      const path = this.base.pathname === '/' ? '' : this.base.pathname;
      return new URL(`/.well-known/${route.wellKnown}${path}${route.search}`, this.base.origin);
    }
    if (route.rest === '') {
      const u = new URL(this.base.href);
      if (route.search) for (const [k, v] of new URLSearchParams(route.search)) u.searchParams.set(k, v);
      return u;
    }
    return new URL(`/${route.rest}${route.search}`, this.base.origin);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, route: ProxiedRoute, body: Buffer): void {
    const method = req.method ?? 'GET';
    const target = this.target(route);
    const isMcp = route.wellKnown === undefined && !route.rest.startsWith('.well-known/');
    if (isMcp && route.rest !== '' && !this.endpointPaths.has(target.pathname)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('mcp-flight: not a proxied path\n');
      return;
    }
    const sid = headerOf(req.headers['mcp-session-id']);

    // Journal first: the client's messages are recorded before a byte goes to the server.
    let conn: ProxyConnection | undefined;
    let openedForInitialize = false;
    let requestIds: Array<string | number> | undefined;
    if (isMcp && method === 'POST' && body.length > 0) {
      const parsed = parseJson(body);
      requestIds = requestIdsOf(parsed);
      const isInitialize = !Array.isArray(parsed) && (parsed as { method?: unknown } | undefined)?.method === 'initialize';
      conn = sid !== undefined ? this.sessionConnection(sid) : this.byEndpoint.get(target.href);
      if (!conn) {
        if (isInitialize) {
          conn = this.openConnection();
          openedForInitialize = true;
        } else {
          conn = this.anonymousConnection();
        }
      }
      const clientAuth = route.dropAuthorization ? undefined : headerOf(req.headers.authorization);
      if (clientAuth !== undefined && clientAuth !== conn.clientAuthorization) this.noteClientAuthorization(conn, clientAuth);
      const extra = sid !== undefined ? { mcp_session_id: sid } : undefined;
      const items = Array.isArray(parsed) ? jsonArrayItems(body.toString('utf8')) : undefined;
      if (items) for (const m of items) conn.recorder.message('client_to_server', m, extra);
      else conn.recorder.message('client_to_server', body, extra);
    }

    const lib = target.protocol === 'https:' ? https : http;
    const agent = this.options.agents ? (target.protocol === 'https:' ? this.options.agents.https : this.options.agents.http) : undefined;
    const upstream = lib.request(target, { method, headers: this.requestHeaders(req, route, target, body), ...(agent ? { agent } : {}) });
    this.inflight.add(upstream);
    upstream.once('close', () => this.inflight.delete(upstream));
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.once('error', (err) => {
      const c = conn ?? (sid !== undefined ? this.sessionConnection(sid) : this.anonymousConnection());
      if (!c.closed && !this.closed) c.recorder.event({ type: 'transport_error', side: 'downstream', message: `${method} ${target.origin}${target.pathname}: ${err.message}` });
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end(`mcp-flight: could not reach ${target.origin}: ${err.message}\n`);
      } else {
        res.destroy();
      }
      if (openedForInitialize && conn) this.closeConnection(conn, `initialize not delivered: ${err.message}`);
    });
    upstream.once('response', (up) => this.onResponse({ req, res, route, target, method, isMcp, sid, conn, openedForInitialize, up, requestIds }));
    upstream.end(body.length > 0 ? body : undefined);
  }

  private onResponse(x: {
    req: http.IncomingMessage;
    res: http.ServerResponse;
    route: ProxiedRoute;
    target: URL;
    method: string;
    isMcp: boolean;
    sid: string | undefined;
    conn: ProxyConnection | undefined;
    openedForInitialize: boolean;
    up: http.IncomingMessage;
    requestIds: Array<string | number> | undefined;
  }): void {
    const { res, up, target, method, sid } = x;
    const status = up.statusCode ?? 502;
    const contentType = headerOf(up.headers['content-type']);
    const essence = contentType?.split(';')[0]?.trim().toLowerCase();
    const responseSid = headerOf(up.headers['mcp-session-id']);
    const isSse = essence === 'text/event-stream';
    const ok = status >= 200 && status < 300;

    let conn = x.conn;
    let legacyStream = false;
    if (!conn) {
      if (sid !== undefined) conn = this.sessionConnection(sid);
      else if (x.isMcp && method === 'GET' && isSse && ok) {
        // A GET stream without a session is the legacy transport's: one connection per stream.
        conn = this.openConnection();
        legacyStream = true;
      } else conn = this.byEndpoint.get(target.href) ?? this.anonymousConnection();
    }
    if (x.openedForInitialize && responseSid !== undefined && conn.mcpSessionId === undefined) {
      conn.mcpSessionId = responseSid;
      this.bySession.set(responseSid, conn);
    }
    const recordSid = sid ?? conn.mcpSessionId;
    const extra = recordSid !== undefined ? { mcp_session_id: recordSid } : undefined;
    const wwwAuthenticate = headerOf(up.headers['www-authenticate']);
    conn.recorder.event({
      type: 'http_exchange',
      method,
      path: target.pathname + target.search,
      status,
      ...(contentType !== undefined ? { content_type: contentType } : {}),
      ...(wwwAuthenticate !== undefined ? { www_authenticate: wwwAuthenticate } : {}),
      ...(x.requestIds?.length ? { request_ids: x.requestIds } : {}),
    });

    const connection = conn;
    const afterExchange = () => {
      if (x.openedForInitialize && connection.mcpSessionId === undefined && !ok) this.closeConnection(connection, `initialize refused: HTTP ${status}`);
      if (method === 'DELETE' && sid !== undefined && ok) this.closeConnection(connection, 'client ended the session (HTTP DELETE)');
    };
    const headers = responseHeaders(up);
    up.once('error', () => res.destroy());

    if (x.isMcp && isSse) {
      this.streamSse(x.res, up, headers, connection, extra, x.route, target, method === 'GET', () => {
        afterExchange();
        if (legacyStream) this.closeConnection(connection, 'SSE stream ended');
      });
      res.once('close', () => {
        if (legacyStream && !res.writableFinished) this.closeConnection(connection, 'client closed the SSE stream');
      });
      return;
    }
    if (x.isMcp && essence === 'application/json') {
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.once('end', () => {
        const raw = Buffer.concat(chunks);
        const copy = decodeSync(up.headers['content-encoding'], raw, connection);
        if (copy !== undefined && copy.length > 0) {
          const parsed = parseJson(copy);
          const items = Array.isArray(parsed) ? jsonArrayItems(copy.toString('utf8')) : undefined;
          if (items) for (const m of items) connection.recorder.message('server_to_client', m, extra);
          else connection.recorder.message('server_to_client', copy, extra);
        }
        res.writeHead(status, up.statusMessage, headers);
        res.end(raw);
        afterExchange();
      });
      return;
    }
    res.writeHead(status, up.statusMessage, headers);
    up.pipe(res);
    up.once('end', afterExchange);
  }

  private streamSse(
    res: http.ServerResponse,
    up: http.IncomingMessage,
    headers: http.OutgoingHttpHeaders,
    conn: ProxyConnection,
    extra: { mcp_session_id: string } | undefined,
    route: ProxiedRoute,
    target: URL,
    mayCarryEndpoint: boolean,
    onEnd: () => void,
  ): void {
    res.writeHead(up.statusCode ?? 200, up.statusMessage, headers);
    res.flushHeaders();
    const tap = (ev: SseEvent) => {
      if (ev.event === 'message' && ev.data !== '') conn.recorder.message('server_to_client', ev.data, extra);
    };
    const parser = new SseParser(tap);
    const decoder = decoderFor(up.headers['content-encoding'], conn);
    if (decoder) decoder.on('data', (c: Buffer) => parser.push(c));
    const feed = (chunk: Buffer) => (decoder ? decoder.write(chunk) : parser.push(chunk));
    const out = (chunk: Buffer | string) => {
      if (!res.write(chunk)) {
        up.pause();
        res.once('drain', () => up.resume());
      }
    };

    // Until the first event of a GET stream, events are handled whole: if it is the legacy
    // transport's `endpoint` event it is rewritten; afterwards bytes pass through untouched.
    let head: Buffer | undefined = mayCarryEndpoint && !decoder ? Buffer.alloc(0) : undefined;
    const takeHead = (chunk: Buffer) => {
      let buf = head !== undefined && head.length ? Buffer.concat([head, chunk]) : chunk;
      for (;;) {
        const end = findEventEnd(buf);
        if (end === -1) {
          head = Buffer.from(buf);
          return;
        }
        const block = buf.subarray(0, end);
        buf = buf.subarray(end);
        const ev = parseEventBlock(block);
        if (!ev) {
          out(Buffer.from(block)); // comment or empty event: keep waiting for a real one
          continue;
        }
        if (ev.event === 'endpoint') out(this.rewriteEndpoint(ev, conn, route, target) ?? Buffer.from(block));
        else {
          tap(ev);
          out(Buffer.from(block));
        }
        head = undefined;
        if (buf.length) {
          feed(buf);
          out(Buffer.from(buf));
        }
        return;
      }
    };

    let ended = false;
    const finish = (graceful: boolean) => {
      if (ended) return;
      ended = true;
      if (graceful && head !== undefined && head.length) out(head);
      decoder?.end();
      parser.end();
      if (graceful) res.end();
      else res.destroy();
      onEnd();
    };
    up.on('data', (chunk: Buffer) => {
      if (head !== undefined) return takeHead(chunk);
      feed(chunk);
      out(chunk);
    });
    up.once('end', () => finish(true));
    up.once('aborted', () => finish(false));
    up.once('error', () => finish(false));
  }

  private rewriteEndpoint(ev: SseEvent, conn: ProxyConnection, route: ProxiedRoute, target: URL): string | undefined {
    let resolved: URL;
    try {
      resolved = new URL(ev.data.trim(), target);
    } catch {
      conn.recorder.event({ type: 'transport_error', side: 'downstream', message: `legacy SSE endpoint event with an invalid URL: ${ev.data.slice(0, 200)}` });
      return undefined;
    }
    if (resolved.origin !== this.base.origin) {
      // The SDK client refuses a foreign endpoint too; leave it for the client to reject, but say so.
      conn.recorder.event({ type: 'transport_error', side: 'downstream', message: `legacy SSE endpoint on another origin, not proxied: ${resolved.origin}` });
      return undefined;
    }
    if (conn.legacyEndpoint) this.byEndpoint.delete(conn.legacyEndpoint);
    conn.legacyEndpoint = resolved.href;
    this.byEndpoint.set(resolved.href, conn);
    this.endpointPaths.add(resolved.pathname);
    return formatSseEvent(`${route.prefix}${resolved.pathname}${resolved.search}`, 'endpoint', ev.id);
  }

  private requestHeaders(req: http.IncomingMessage, route: ProxiedRoute, target: URL, body: Buffer): http.OutgoingHttpHeaders {
    const listed = connectionListed(req.headers.connection);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
      if (name === 'host' || name === 'content-length' || name === 'accept-encoding') continue;
      if (name === 'authorization' && route.dropAuthorization) continue;
      headers[name] = value;
    }
    headers.host = target.host;
    headers['accept-encoding'] = 'identity';
    if (route.authenticated) for (const [name, value] of Object.entries(this.options.spec.headers ?? {})) headers[name.toLowerCase()] = value;
    if (body.length > 0) headers['content-length'] = String(body.length);
    return headers;
  }

  private sessionConnection(sid: string): ProxyConnection {
    let conn = this.bySession.get(sid);
    if (!conn) {
      // A session this proxy did not see begin (e.g. the recorder restarted under a live client).
      conn = this.openConnection();
      conn.mcpSessionId = sid;
      this.bySession.set(sid, conn);
    }
    return conn;
  }

  private anonymousConnection(): ProxyConnection {
    if (!this.anonymous || this.anonymous.closed) this.anonymous = this.openConnection();
    return this.anonymous;
  }

  private openConnection(): ProxyConnection {
    const recorder = this.options.recorder.openConnection(targetOf(this.options.spec), 'http', this.options.spec);
    const conn: ProxyConnection = { recorder, closed: false };
    this.connections.add(conn);
    this.options.onConnection?.({ type: 'open', connectionId: recorder.id });
    return conn;
  }

  /**
   * The client sends its own Authorization to the remote (an OAuth token, after the remote's
   * WWW-Authenticate challenge): a new credential set, recorded by name and fingerprint before
   * the message it came with.
   */
  private noteClientAuthorization(conn: ProxyConnection, authorization: string): void {
    conn.clientAuthorization = authorization;
    const redactor = conn.recorder.recorder.redactor;
    const base = credentialsOf(this.options.spec, redactor).entries.filter((e) => e.name.toLowerCase() !== 'authorization');
    const entries = [...base, { name: 'Authorization', mode: 'oauth' as const, fingerprint: credentialFingerprint(redactor, 'Authorization', authorization), origin: 'client' as const }];
    conn.recorder.credentials({ mode: modeOf(entries), entries }, 'authorization_changed');
  }

  private closeConnection(conn: ProxyConnection, reason: string): void {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    if (conn.mcpSessionId !== undefined && this.bySession.get(conn.mcpSessionId) === conn) this.bySession.delete(conn.mcpSessionId);
    if (conn.legacyEndpoint !== undefined && this.byEndpoint.get(conn.legacyEndpoint) === conn) this.byEndpoint.delete(conn.legacyEndpoint);
    if (this.anonymous === conn) this.anonymous = undefined;
    conn.recorder.event({ type: 'connection_close', reason });
    this.options.onConnection?.({ type: 'close', connectionId: conn.recorder.id, ...(conn.mcpSessionId !== undefined ? { mcpSessionId: conn.mcpSessionId } : {}), reason });
  }
}

function headerOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function connectionListed(value: string | undefined): Set<string> {
  if (!value) return new Set();
  return new Set(value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
}

function responseHeaders(up: http.IncomingMessage): http.OutgoingHttpHeaders {
  const listed = connectionListed(headerOf(up.headers.connection));
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(up.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function readAll(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
      } else chunks.push(c);
    });
    req.once('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function encodingOf(value: string | undefined): string | undefined {
  const e = value?.trim().toLowerCase();
  return e && e !== 'identity' ? e : undefined;
}

function decoderFor(value: string | undefined, conn: ProxyConnection): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  const e = encodingOf(value);
  if (!e) return undefined;
  let d: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined;
  if (e === 'gzip' || e === 'x-gzip') d = zlib.createGunzip();
  else if (e === 'deflate') d = zlib.createInflate();
  else if (e === 'br') d = zlib.createBrotliDecompress();
  if (!d) {
    conn.recorder.event({ type: 'transport_error', side: 'downstream', message: `response in content-encoding "${e}": forwarded, but its messages cannot be recorded` });
    return undefined;
  }
  d.on('error', (err) => conn.recorder.event({ type: 'transport_error', side: 'downstream', message: `decoding the recorded copy failed: ${err.message}` }));
  return d;
}

function decodeSync(value: string | undefined, raw: Buffer, conn: ProxyConnection): Buffer | undefined {
  const e = encodingOf(value);
  if (!e) return raw;
  try {
    if (e === 'gzip' || e === 'x-gzip') return zlib.gunzipSync(raw);
    if (e === 'deflate') return zlib.inflateSync(raw);
    if (e === 'br') return zlib.brotliDecompressSync(raw);
  } catch (err) {
    conn.recorder.event({ type: 'transport_error', side: 'downstream', message: `decoding the recorded copy failed: ${(err as Error).message}` });
    return undefined;
  }
  conn.recorder.event({ type: 'transport_error', side: 'downstream', message: `response in content-encoding "${e}": forwarded, but its messages cannot be recorded` });
  return undefined;
}

/** The ids of the JSON-RPC requests in a POST body (one message or a batch). */
function requestIdsOf(parsed: unknown): Array<string | number> | undefined {
  const ids: Array<string | number> = [];
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    const r = m as { method?: unknown; id?: unknown } | undefined;
    if (typeof r?.method === 'string' && (typeof r.id === 'string' || typeof r.id === 'number')) ids.push(r.id);
  }
  return ids.length ? ids : undefined;
}
