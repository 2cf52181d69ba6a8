import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { targetOf, type ServerSpec, type StdioServerSpec } from '../../config/servers';
import { Emitter, type Event } from '../../model/events';
import { envelopeOf, errorResponse, idKey, jsonArrayItems, RecorderErrorCode } from '../../model/jsonrpc';
import type { JsonRpcId, MessageEnvelope } from '../../model/records';
import type { FrameChannel } from '../channel';
import { openDownstream } from '../downstream';
import type { Gate } from '../gate';
import { RecordingProxy } from '../proxy';
import type { ConnectionRecorder, Recorder } from '../recorder';
import { ReverseProxy, type ProxiedRoute } from './reverse-proxy';
import { formatSseEvent } from './sse';

/**
 * The recorder's Streamable HTTP endpoint on 127.0.0.1: what VS Code's agent (through an
 * `McpHttpServerDefinition`) and `mcp-flight serve` clients connect to. One path per configured
 * server, `/mcp/<server id>`:
 *
 * - a stdio server is reached through a Streamable HTTP session terminated here (never by the
 *   SDK's server transport, which refuses protocol versions it does not know): each MCP session
 *   is one connection, one child process and one `RecordingProxy`;
 * - a remote (http/sse) server is reached through a byte-forwarding reverse proxy that records a
 *   copy of every message (see reverse-proxy.ts), so OAuth and anything else the client and the
 *   server agree on keep working.
 *
 * Authentication: each server gets its own random 256-bit token. The client presents it either as
 * `Authorization: Bearer <token>` (what the returned `headers` hold; VS Code sends a definition's
 * headers on every request) or as the first path segment after the server id
 * (`/mcp/<id>/<token>`, the `tokenUrl`) for clients that cannot set headers — and for remote
 * servers using OAuth, where the client's own Authorization header belongs to the remote server
 * and is passed through. The path form puts the token in the URL, so it is a fallback: URLs end
 * up in logs and configs more easily than headers.
 *
 * Refusals (a plain HTTP error; nothing is read, recorded or forwarded): 403 for a Host header
 * other than `127.0.0.1:<port>`/`localhost:<port>` (DNS rebinding), 403 for an Origin header that
 * is present and not loopback (browsers; VS Code sends none), 404 for an unknown server id, 401
 * for a missing or wrong token. The 401 carries no `WWW-Authenticate` challenge on purpose: a
 * challenge would send OAuth-capable clients off to discover an authorization server on
 * 127.0.0.1. Only `GET` of OAuth discovery documents (`.well-known/*`) of a remote server is
 * forwarded without the token: they are public, carry no MCP traffic, and a client looks them up
 * before it has any credentials.
 */

export interface RecordingHttpEndpointOptions {
  recorder: Recorder;
  /** Only loopback: the endpoint never listens on other interfaces. */
  host?: '127.0.0.1';
  /** 0 (default) = an ephemeral port. */
  port?: number;
  gate?: Gate;
  requestTimeoutMs?: number;
  /** POST bodies larger than this are refused with 413. */
  maxBodyBytes?: number;
  /** Server messages kept per session while the client has no stream open to receive them. */
  maxBufferedMessages?: number;
  /** A session with no HTTP activity and no open stream for this long is closed (its child stopped). 0 = never. */
  sessionIdleMs?: number;
  /**
   * How long the answer to a POST from a client that accepts both JSON and SSE may wait to be a
   * plain JSON body before it becomes an SSE stream (its headers sent). Default 100 ms.
   */
  streamAfterMs?: number;
}

export interface EndpointServerHandle {
  /** `http://127.0.0.1:<port>/mcp/<id>`; authenticate with `headers`. */
  url: string;
  token: string;
  /** `{ Authorization: 'Bearer <token>' }`. */
  headers: Record<string, string>;
  /** `http://127.0.0.1:<port>/mcp/<id>/<token>`, for clients that cannot send headers. */
  tokenUrl: string;
  /** The URL-safe id the server is addressed by. */
  id: string;
}

export interface EndpointConnectionEvent {
  type: 'open' | 'close';
  server: string;
  connectionId: string;
  mcpSessionId?: string;
  reason?: string;
}

const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BUFFERED = 1000;
const DEFAULT_SESSION_IDLE_MS = 30 * 60 * 1000;
/**
 * A request still unanswered after this long gets its SSE headers, so the client's fetch is not
 * left waiting for them; a request answered sooner by a client that accepts JSON gets a plain
 * JSON body instead (see `ReplyFormat`).
 */
const DEFAULT_STREAM_AFTER_MS = 100;
/** SSE comment sent on quiet streams, so idle-timeouts of HTTP clients (undici: 300 s) do not cut them. */
const KEEPALIVE_MS = 15_000;
/** The newest protocol revision that still has sessions and `initialize`; anything later is the stateless protocol. */
const LAST_SESSIONFUL_REVISION = '2025-11-25';
const TOKEN_PATTERN = /^[A-Za-z0-9_~.-]{32,}$/;
/** How many cancelled/abandoned requests a session remembers, to recognise their late messages. */
const RETIRED_MAX = 1024;

interface ServerEntry {
  id: string;
  spec: ServerSpec;
  token: string;
  tokenHash: Buffer;
  sessions: Map<string, StdioSession>;
  /** The one session that serves requests of the stateless protocol revision (no session header). */
  anonymous?: Promise<StdioSession>;
  anonymousReady?: StdioSession;
  reverse?: ReverseProxy;
}

interface StdioSession {
  id: string | undefined;
  closed: boolean;
  channel: HttpSessionChannel;
  proxy: RecordingProxy;
  connection: ConnectionRecorder;
}

export class RecordingHttpEndpoint {
  private readonly server: http.Server;
  private readonly servers = new Map<string, ServerEntry>();
  private readonly byName = new Map<string, ServerEntry>();
  /** Addresses handed out before the server may run (VS Code learns them before the user consents). */
  private readonly reserved = new Map<string, { id: string; token: string }>();
  private readonly connectionEmitter = new Emitter<EndpointConnectionEvent>();
  private readonly agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  private allowedHosts = new Set<string>();
  private listeningPort = 0;
  private timer?: NodeJS.Timeout;
  private closing?: Promise<void>;
  private readonly closingSessions = new Set<Promise<void>>();

  /** A client connection (an MCP session, a legacy SSE stream) opened or closed. */
  readonly onDidChangeConnections: Event<EndpointConnectionEvent> = this.connectionEmitter.event;

  constructor(private readonly options: RecordingHttpEndpointOptions) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    // A client may keep an SSE stream open indefinitely; only the request head has a deadline.
    this.server.requestTimeout = 0;
  }

  get port(): number {
    return this.listeningPort;
  }

  /** `http://127.0.0.1:<port>` */
  get origin(): string {
    return `http://127.0.0.1:${this.listeningPort}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listeningPort = (this.server.address() as AddressInfo).port;
    this.allowedHosts = new Set([`127.0.0.1:${this.listeningPort}`, `localhost:${this.listeningPort}`]);
    this.timer = setInterval(() => this.tick(), KEEPALIVE_MS);
    this.timer.unref();
  }

  /**
   * Makes a server reachable. Adding a name that exists replaces its spec (its sessions are
   * closed) but keeps its id and, unless `opts.token` says otherwise, its token, so a client
   * configured with the old handle keeps working.
   */
  addServer(spec: ServerSpec, opts: { token?: string } = {}): EndpointServerHandle {
    if (!this.listeningPort) throw new Error('RecordingHttpEndpoint: call start() before addServer()');
    if (opts.token !== undefined && !TOKEN_PATTERN.test(opts.token)) {
      throw new Error('RecordingHttpEndpoint: a token must be at least 32 URL-safe characters');
    }
    const previous = this.byName.get(spec.name);
    if (previous) this.track(this.closeEntry(previous, 'server definition replaced'));
    const reservation = this.reserved.get(spec.name);
    const id = previous?.id ?? reservation?.id ?? this.freeId(spec.name);
    const token = opts.token ?? previous?.token ?? reservation?.token ?? crypto.randomBytes(32).toString('base64url');
    const entry: ServerEntry = { id, spec, token, tokenHash: sha256(token), sessions: new Map() };
    if (spec.type !== 'stdio') {
      entry.reverse = new ReverseProxy({
        recorder: this.options.recorder,
        spec,
        agents: this.agents,
        maxBodyBytes: this.maxBodyBytes,
        onConnection: (ev) => this.connectionEmitter.fire({ ...ev, server: spec.name }),
      });
    }
    this.servers.set(id, entry);
    this.byName.set(spec.name, entry);
    return this.handleOf(id, token);
  }

  /**
   * The address a server will have, without making it reachable: requests to it are refused
   * (404) until `addServer` — so a client can be told where a server lives before the user
   * has agreed to start it.
   */
  reserve(name: string): EndpointServerHandle {
    if (!this.listeningPort) throw new Error('RecordingHttpEndpoint: call start() before reserve()');
    const live = this.byName.get(name);
    if (live) return this.handleOf(live.id, live.token);
    let r = this.reserved.get(name);
    if (!r) {
      r = { id: this.freeId(name), token: crypto.randomBytes(32).toString('base64url') };
      this.reserved.set(name, r);
    }
    return this.handleOf(r.id, r.token);
  }

  private handleOf(id: string, token: string): EndpointServerHandle {
    const url = `${this.origin}/mcp/${id}`;
    return { id, url, token, headers: { Authorization: `Bearer ${token}` }, tokenUrl: `${url}/${token}` };
  }

  /** Stops serving a server and closes its sessions (children stop, records get their connection_close). */
  async removeServer(name: string): Promise<void> {
    const entry = this.byName.get(name);
    if (entry) await this.closeEntry(entry, 'server removed');
  }

  /** Closes every session's downstream, then the listener. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all([...this.servers.values()].map((e) => this.closeEntry(e, 'recording endpoint closed')));
      await Promise.all([...this.closingSessions]);
      this.server.closeAllConnections();
      this.agents.http.destroy();
      this.agents.https.destroy();
      if (this.listeningPort) await stopped;
      this.connectionEmitter.dispose();
    })();
    return this.closing;
  }

  private get maxBodyBytes(): number {
    return this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  private freeId(name: string): string {
    const base = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'server';
    let id = base;
    const taken = (candidate: string) => this.servers.has(candidate) || [...this.reserved.entries()].some(([n, r]) => r.id === candidate && n !== name);
    for (let n = 2; taken(id); n++) id = `${base}-${n}`;
    return id;
  }

  private async closeEntry(entry: ServerEntry, reason: string): Promise<void> {
    if (this.servers.get(entry.id) === entry) this.servers.delete(entry.id);
    if (this.byName.get(entry.spec.name) === entry) this.byName.delete(entry.spec.name);
    const closing: Promise<void>[] = [...entry.sessions.values()].map((s) => s.proxy.close(reason));
    if (entry.anonymous) closing.push(entry.anonymous.then((s) => s.proxy.close(reason), () => undefined));
    if (entry.reverse) closing.push(entry.reverse.close(reason));
    await Promise.all(closing);
  }

  // ---- request routing ----

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = req.headers.host?.toLowerCase();
    if (host === undefined || !this.allowedHosts.has(host)) return refuse(req, res, 403, 'Host not allowed');
    if (!originAllowed(req.headers.origin)) return refuse(req, res, 403, 'Origin not allowed');

    const route = parseRoute(req.url ?? '/');
    const entry = route && this.servers.get(route.id);
    if (!route || !entry) return refuse(req, res, 404, 'no MCP server at this path');

    let rest = route.rest;
    let tokenInPath = false;
    if (rest.length > 0 && tokenMatches(entry, rest[0] as string)) {
      tokenInPath = true;
      rest = rest.slice(1);
    }
    const bearer = bearerOf(req.headers.authorization);
    const headerAuth = bearer !== undefined && tokenMatches(entry, bearer);
    const discovery = route.wellKnown !== undefined || rest[0] === '.well-known';
    if (!tokenInPath && !headerAuth && !(discovery && (req.method === 'GET' || req.method === 'HEAD'))) {
      return refuse(req, res, 401, 'missing or wrong token');
    }
    if (rest.length === 1 && rest[0] === '') rest = []; // trailing slash

    if (entry.spec.type === 'stdio') {
      if (rest.length > 0 || route.wellKnown !== undefined) return refuse(req, res, 404, 'no such path');
      this.handleStdio(entry, entry.spec, req, res);
      return;
    }
    const proxied: ProxiedRoute = {
      rest: rest.join('/'),
      search: route.search,
      prefix: tokenInPath ? `/mcp/${entry.id}/${entry.token}` : `/mcp/${entry.id}`,
      dropAuthorization: headerAuth,
      authenticated: tokenInPath || headerAuth,
      ...(route.wellKnown !== undefined ? { wellKnown: route.wellKnown } : {}),
    };
    entry.reverse?.handle(req, res, proxied);
  }

  // ---- stdio servers: Streamable HTTP terminated here ----

  private handleStdio(entry: ServerEntry, spec: StdioServerSpec, req: http.IncomingMessage, res: http.ServerResponse): void {
    switch (req.method) {
      case 'POST':
        readBody(req, this.maxBodyBytes).then(
          (body) => {
            if (body === undefined) return refuse(req, res, 413, 'request body too large');
            this.handlePost(entry, spec, req, res, body).catch((err: unknown) => {
              if (!res.headersSent) sendJson(res, 500, errorResponse(null, -32603, `MCP Flight Recorder: ${(err as Error).message}`));
              else res.destroy();
            });
          },
          () => res.destroy(),
        );
        return;
      case 'GET':
        return this.handleGet(entry, req, res);
      case 'DELETE':
        return this.handleDelete(entry, req, res);
      default:
        req.resume();
        res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
    }
  }

  private async handlePost(entry: ServerEntry, spec: StdioServerSpec, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const items = classifyBody(body);
    const batch = items.batch;
    const sid = headerOf(req, 'mcp-session-id');
    let session: StdioSession | undefined;
    if (sid !== undefined) {
      session = entry.sessions.get(sid);
      if (!session) return sendJson(res, 404, errorResponse(null, -32001, 'Session not found'));
    } else {
      const first = items.list[0];
      const isInitialize = (m: Incoming) => m.env.kind === 'request' && m.env.method === 'initialize';
      if (!batch && first && isInitialize(first)) {
        session = await this.openSession(entry, spec, crypto.randomUUID());
      } else if (batch && items.list.some(isInitialize)) {
        return sendJson(res, 400, errorResponse(null, -32600, 'Invalid Request: initialize must not be part of a JSON-RPC batch'));
      } else if (isStatelessRevision(headerOf(req, 'mcp-protocol-version'))) {
        entry.anonymous ??= this.openSession(entry, spec, undefined).catch((err: unknown) => {
          entry.anonymous = undefined;
          throw err;
        });
        session = await entry.anonymous;
      } else {
        const id = first?.env.kind === 'request' ? (first.env.id ?? null) : null;
        return sendJson(res, 400, errorResponse(id, -32000, 'Bad Request: no valid mcp-session-id header; start a session with initialize'));
      }
    }
    session.channel.acceptPost(res, items, replyFormatOf(req.headers.accept));
  }

  private handleGet(entry: ServerEntry, req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    if (!acceptsSse(req.headers.accept)) return refuse(req, res, 406, 'GET needs Accept: text/event-stream');
    const sid = headerOf(req, 'mcp-session-id');
    if (sid === undefined) return sendJson(res, 400, errorResponse(null, -32000, 'Bad Request: GET needs an mcp-session-id header'));
    const session = entry.sessions.get(sid);
    if (!session) return sendJson(res, 404, errorResponse(null, -32001, 'Session not found'));
    session.channel.acceptStream(res);
  }

  private handleDelete(entry: ServerEntry, req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    const sid = headerOf(req, 'mcp-session-id');
    if (sid === undefined) return sendJson(res, 400, errorResponse(null, -32000, 'Bad Request: DELETE needs an mcp-session-id header'));
    const session = entry.sessions.get(sid);
    if (!session) return sendJson(res, 404, errorResponse(null, -32001, 'Session not found'));
    entry.sessions.delete(sid);
    session.channel.endByClient();
    // Answered at once: the child may take seconds to stop (stdin EOF, then signals), and the
    // client has nothing to wait for.
    res.writeHead(200, { 'mcp-session-id': sid }).end();
    this.track(session.proxy.close('client ended the session (HTTP DELETE)'));
  }

  private async openSession(entry: ServerEntry, spec: StdioServerSpec, sid: string | undefined): Promise<StdioSession> {
    const server = targetOf(spec);
    const connection = this.options.recorder.openConnection(server, 'http', spec);
    const channel = new HttpSessionChannel(sid, connection, this.options.maxBufferedMessages ?? DEFAULT_MAX_BUFFERED, this.options.streamAfterMs ?? DEFAULT_STREAM_AFTER_MS);
    const proxy = new RecordingProxy({
      upstream: channel,
      downstream: openDownstream(spec, connection),
      connection,
      server,
      gate: this.options.gate,
      requestTimeoutMs: this.options.requestTimeoutMs,
    });
    const session: StdioSession = { id: sid, closed: false, channel, proxy, connection };
    proxy.onclose = (reason) => {
      session.closed = true;
      if (sid !== undefined) {
        if (entry.sessions.get(sid) === session) entry.sessions.delete(sid);
      } else if (entry.anonymousReady === session || entry.anonymousReady === undefined) {
        // Either the live anonymous session, or one still starting (its child failed to spawn).
        entry.anonymous = undefined;
        entry.anonymousReady = undefined;
      }
      this.connectionEmitter.fire({ type: 'close', server: spec.name, connectionId: connection.id, ...(sid ? { mcpSessionId: sid } : {}), reason });
    };
    if (sid !== undefined) entry.sessions.set(sid, session);
    this.connectionEmitter.fire({ type: 'open', server: spec.name, connectionId: connection.id, ...(sid ? { mcpSessionId: sid } : {}) });
    // A child that fails to spawn closes the proxy here; the request that follows is then
    // answered by the proxy with a recorded JSON-RPC error, which the channel still delivers.
    await proxy.start();
    if (sid === undefined && !session.closed) entry.anonymousReady = session;
    return session;
  }

  /** Sessions closing outside `close()` (DELETE, idle): `close()` waits for them too. */
  private track(closing: Promise<void>): void {
    this.closingSessions.add(closing);
    void closing.finally(() => this.closingSessions.delete(closing));
  }

  private tick(): void {
    const now = performance.now();
    const idleMs = this.options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
    for (const entry of this.servers.values()) {
      const sessions = [...entry.sessions.values()];
      if (entry.anonymousReady) sessions.push(entry.anonymousReady);
      for (const session of sessions) {
        session.channel.keepAlive(now);
        if (idleMs > 0 && session.channel.idleSince(now) > idleMs) {
          this.track(session.proxy.close(`no HTTP activity for ${Math.round(idleMs / 1000)} s`));
        }
      }
    }
  }
}

// ---- one Streamable HTTP session, as the proxy's client side ----

interface Incoming {
  frame: Buffer | string;
  env: MessageEnvelope;
  progressToken?: string | number;
  /** For notifications/cancelled: the request it cancels. */
  cancels?: JsonRpcId;
}

interface IncomingBody {
  list: Incoming[];
  batch: boolean;
  /** The body is not JSON at all. */
  unparsable: boolean;
}

/**
 * How a POST that carries requests is answered:
 * - `json`: the client accepts only application/json: one JSON body with the response(s), nothing else;
 * - `sse`: the client accepts only text/event-stream (or sent no Accept at all);
 * - `either`: the client accepts both (the spec requires clients to): the answer is an SSE stream
 *   only once the stream needs one — a message before the response (progress, a server request,
 *   a log line), or no response within `streamAfterMs`. A response that comes first and quickly
 *   goes back as one JSON body: for a client, an SSE stream costs a stream parser per request
 *   (the SDK's client pipes each one through web streams) — measured here, about 0.5 ms of the
 *   client's CPU per call and as much off the p50 of a call through the recorder (bench/run.ts).
 */
type ReplyFormat = 'json' | 'sse' | 'either';

interface PostStream {
  res: http.ServerResponse;
  format: ReplyFormat;
  /** The SSE headers are written: the answer is a stream from now on. */
  streaming: boolean;
  batch: boolean;
  pending: Set<string>;
  tokens: Array<string | number>;
  replies: string[];
  done: boolean;
  lastWrite: number;
  flushTimer?: NodeJS.Timeout;
}

/**
 * The proxy's view of one HTTP client session. Frames from the client arrive as POST bodies
 * (`acceptPost`); frames for the client (`send`) are routed to an HTTP response:
 *
 * - a response goes to the stream of the POST that carried its request, which ends once every
 *   request it carried is answered;
 * - `notifications/progress` goes to the stream of the request whose `_meta.progressToken` it names;
 * - anything else (server→client requests, log and list_changed notifications) cannot be tied to a
 *   request from stdio, so it goes to the only open request stream when exactly one is open (the
 *   request being handled is then its likely cause), else to the standalone GET stream, else to
 *   the newest request stream; with no stream at all it waits in a bounded backlog for the next
 *   GET. A full backlog refuses the message: the proxy records that and answers a server request
 *   with an error, so the server is never left waiting.
 */
class HttpSessionChannel implements FrameChannel {
  onframe?: (frame: Buffer | string) => void;
  onclose?: (reason: string) => void;

  private readonly byRequest = new Map<string, PostStream>();
  private readonly byProgress = new Map<string | number, PostStream>();
  /** Open SSE request streams, oldest first. */
  private readonly streams = new Set<PostStream>();
  private standalone?: { res: http.ServerResponse; lastWrite: number };
  private backlog: string[] = [];
  private closed = false;
  /** The client ended the session (DELETE): what the server still says is recorded, not delivered. */
  private endedByClient = false;
  /**
   * Requests the client cancelled or stopped listening to, and their progress tokens. A late
   * result or progress for them is recorded by the proxy but has no recipient: the client said
   * it will ignore them, and a GET stream is for messages unrelated to requests.
   */
  private readonly retired = new RecentSet<string>(RETIRED_MAX);
  private readonly retiredTokens = new RecentSet<string | number>(RETIRED_MAX);
  private lastActivity = performance.now();
  private readonly headers: Record<string, string>;

  constructor(
    readonly sessionId: string | undefined,
    private readonly connection: ConnectionRecorder,
    private readonly maxBuffered: number,
    private readonly streamAfterMs: number,
  ) {
    this.headers = sessionId !== undefined ? { 'mcp-session-id': sessionId } : {};
  }

  async start(): Promise<void> {}

  acceptPost(res: http.ServerResponse, body: IncomingBody, format: ReplyFormat): void {
    this.lastActivity = performance.now();
    const requests = body.list.filter((m) => m.env.kind === 'request');
    if (requests.length === 0) {
      for (const m of body.list) this.deliver(m);
      if (body.unparsable) return sendJson(res, 400, errorResponse(null, -32700, 'Parse error'), this.headers);
      if (body.list.length === 0 || (!body.batch && body.list[0]?.env.kind === 'invalid')) {
        return sendJson(res, 400, errorResponse(null, -32600, 'Invalid Request: not a JSON-RPC 2.0 message'), this.headers);
      }
      res.writeHead(202, this.headers).end();
      return;
    }
    const stream: PostStream = { res, format, streaming: false, batch: body.batch, pending: new Set(), tokens: [], replies: [], done: false, lastWrite: this.lastActivity };
    // Registered before delivery: the proxy may answer synchronously (gate, server gone).
    for (const m of requests) {
      const key = idKey(m.env.id as JsonRpcId);
      stream.pending.add(key);
      this.byRequest.set(key, stream);
      if (m.progressToken !== undefined) {
        stream.tokens.push(m.progressToken);
        this.byProgress.set(m.progressToken, stream);
      }
    }
    if (format !== 'json') {
      this.streams.add(stream);
      stream.flushTimer = setTimeout(() => {
        if (stream.done) return;
        this.startStream(stream);
        if (!res.headersSent) res.flushHeaders();
      }, this.streamAfterMs);
    }
    res.on('close', () => {
      if (!stream.done) this.abandon(stream);
    });
    for (const m of body.list) this.deliver(m);
    if (this.closed && !stream.done) this.finish(stream);
  }

  /** The standalone GET stream. A new GET replaces an older one, whose connection may be half-dead. */
  acceptStream(res: http.ServerResponse): void {
    this.lastActivity = performance.now();
    if (this.closed) {
      res.writeHead(404).end();
      return;
    }
    const old = this.standalone;
    if (old) old.res.end();
    const current = { res, lastWrite: this.lastActivity };
    this.standalone = current;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...this.headers });
    res.flushHeaders();
    res.on('close', () => {
      if (this.standalone === current) this.standalone = undefined;
    });
    const backlog = this.backlog;
    this.backlog = [];
    for (const text of backlog) this.writeStandalone(text);
  }

  send(frame: Buffer | string): void {
    const text = typeof frame === 'string' ? frame : frame.toString('utf8');
    const message = JSON.parse(text) as unknown;
    const env = envelopeOf(message);
    if ((env.kind === 'response' || env.kind === 'error') && env.id !== undefined && env.id !== null) {
      const key = idKey(env.id);
      const stream = this.byRequest.get(key);
      if (!stream) {
        if (this.retired.has(key) || this.endedByClient) return;
        throw new Error(`the client's HTTP request for id ${JSON.stringify(env.id)} is no longer open`);
      }
      this.byRequest.delete(key);
      stream.pending.delete(key);
      if (stream.pending.size === 0) this.finish(stream, text);
      else this.write(stream, text);
      return;
    }
    if (env.kind === 'notification' && env.method === 'notifications/progress') {
      const token = (message as { params?: { progressToken?: unknown } }).params?.progressToken;
      if (typeof token === 'string' || typeof token === 'number') {
        const stream = this.byProgress.get(token);
        if (stream && stream.format !== 'json') {
          this.write(stream, text);
          return;
        }
        if (this.retiredTokens.has(token)) return;
      }
    }
    this.routeUnrelated(text, env.kind === 'request');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of new Set(this.byRequest.values())) {
      // Requests still open here were not answered by the proxy (DELETE, shutdown, idle): answer
      // them, so the client does not wait for its own timeout.
      for (const key of stream.pending) {
        const id = keyToId(key);
        const reply = errorResponse(id, RecorderErrorCode.ConnectionClosed, 'MCP Flight Recorder closed the session before the server answered');
        this.connection.message('server_to_client', reply, { origin: 'recorder', ...(this.sessionId !== undefined ? { mcp_session_id: this.sessionId } : {}) });
        if (!stream.done) this.write(stream, reply);
      }
      this.finish(stream);
    }
    this.standalone?.res.end();
    this.standalone = undefined;
    if (this.backlog.length && !this.endedByClient) {
      this.connection.event({ type: 'transport_error', side: 'upstream', message: `session closed with ${this.backlog.length} server message(s) the client never fetched (no GET stream)` });
      this.backlog = [];
    }
  }

  keepAlive(now: number): void {
    for (const s of this.streams) {
      if (now - s.lastWrite >= KEEPALIVE_MS && s.res.headersSent) {
        s.res.write(': keepalive\n\n');
        s.lastWrite = now;
      }
    }
    const g = this.standalone;
    if (g && now - g.lastWrite >= KEEPALIVE_MS) {
      g.res.write(': keepalive\n\n');
      g.lastWrite = now;
    }
  }

  /** How long the session has had neither a request nor an open stream (0 while one is open). */
  idleSince(now: number): number {
    if (this.standalone || this.byRequest.size > 0) return 0;
    return now - this.lastActivity;
  }

  private deliver(m: Incoming): void {
    this.onframe?.(m.frame);
    if (m.cancels !== undefined) {
      // The server may never answer a cancelled request; its stream is ended here instead.
      const key = idKey(m.cancels);
      const stream = this.byRequest.get(key);
      if (stream) {
        this.retire(stream, key);
        this.byRequest.delete(key);
        stream.pending.delete(key);
        if (stream.pending.size === 0) this.finish(stream);
      }
    }
  }

  /** The client ended the session with DELETE; the proxy closes the server side next. */
  endByClient(): void {
    this.endedByClient = true;
  }

  private routeUnrelated(text: string, isRequest: boolean): void {
    if (this.closed || this.endedByClient) {
      // A server request must not go unanswered (the proxy answers it when this throws); a
      // notification for a client that has left is only recorded.
      if (isRequest || !this.endedByClient) throw new Error('the HTTP session is closed');
      return;
    }
    let target: PostStream | undefined;
    if (this.streams.size === 1) target = this.streams.values().next().value;
    else if (!this.standalone && this.streams.size > 1) for (const s of this.streams) target = s;
    if (target) {
      this.write(target, text);
      return;
    }
    if (this.standalone) {
      this.writeStandalone(text);
      return;
    }
    if (this.backlog.length >= this.maxBuffered) {
      throw new Error(`no stream open to the client and ${this.maxBuffered} messages already waiting for one; message dropped`);
    }
    this.backlog.push(text);
  }

  private write(stream: PostStream, text: string): void {
    if (stream.format === 'json') {
      stream.replies.push(text);
      return;
    }
    this.startStream(stream);
    stream.res.write(formatSseEvent(text, 'message'));
    stream.lastWrite = performance.now();
  }

  /** Commits a POST's answer to an SSE stream (the headers go out with its first write). */
  private startStream(stream: PostStream): void {
    if (stream.streaming) return;
    stream.streaming = true;
    stream.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...this.headers });
  }

  private writeStandalone(text: string): void {
    const g = this.standalone as { res: http.ServerResponse; lastWrite: number };
    g.res.write(formatSseEvent(text, 'message'));
    g.lastWrite = performance.now();
  }

  /** Ends a request stream; `last` is the final message, written together with the end. */
  private finish(stream: PostStream, last?: string): void {
    if (stream.done) return;
    stream.done = true;
    clearTimeout(stream.flushTimer);
    this.forget(stream);
    const res = stream.res;
    if (stream.format === 'json') {
      if (last !== undefined) stream.replies.push(last);
      if (stream.replies.length === 0) {
        res.writeHead(202, this.headers).end();
        return;
      }
      const out = stream.batch ? `[${stream.replies.join(',')}]` : (stream.replies[0] as string);
      sendJson(res, 200, out, this.headers);
      return;
    }
    if (stream.format === 'either' && !stream.streaming && last !== undefined) {
      // The response is the first and only message: the common, fast case (see ReplyFormat).
      sendJson(res, 200, stream.batch ? `[${last}]` : last, this.headers);
      return;
    }
    this.startStream(stream);
    // One write for the event and the end of the body.
    res.end(last !== undefined ? formatSseEvent(last, 'message') : undefined);
  }

  /** The client dropped the POST before it was answered: a late answer is refused (and recorded by the proxy). */
  private abandon(stream: PostStream): void {
    stream.done = true;
    clearTimeout(stream.flushTimer);
    for (const key of stream.pending) {
      if (this.byRequest.get(key) === stream) this.byRequest.delete(key);
      this.retire(stream, key);
    }
    this.forget(stream);
  }

  private retire(stream: PostStream, key: string): void {
    this.retired.add(key);
    // A batch's tokens are not tied to single ids; retire them all once the stream is gone.
    if (stream.pending.size <= 1) for (const t of stream.tokens) this.retiredTokens.add(t);
  }

  private forget(stream: PostStream): void {
    this.streams.delete(stream);
    for (const t of stream.tokens) if (this.byProgress.get(t) === stream) this.byProgress.delete(t);
  }
}

// ---- helpers ----

function classifyBody(body: Buffer): IncomingBody {
  let parsed: unknown;
  const text = body.toString('utf8');
  try {
    parsed = JSON.parse(text);
  } catch {
    return { list: [{ frame: body, env: { kind: 'invalid' } }], batch: false, unparsable: true };
  }
  if (Array.isArray(parsed)) {
    // 2025-03-26 batching: each message is recorded and forwarded on its own (stdio has no
    // batches), as the text it had in the batch; the responses go back together on the POST's stream.
    const items = jsonArrayItems(text);
    return { list: parsed.map((m: unknown, i) => classify(m, items?.[i] ?? JSON.stringify(m))), batch: true, unparsable: false };
  }
  return { list: [classify(parsed, body)], batch: false, unparsable: false };
}

function classify(value: unknown, frame: Buffer | string): Incoming {
  const env = envelopeOf(value);
  const item: Incoming = { frame, env };
  const params = (value as { params?: unknown }).params;
  if (typeof params !== 'object' || params === null) return item;
  if (env.kind === 'request') {
    const token = (params as { _meta?: { progressToken?: unknown } })._meta?.progressToken;
    if (typeof token === 'string' || typeof token === 'number') item.progressToken = token;
  } else if (env.kind === 'notification' && env.method === 'notifications/cancelled') {
    const requestId = (params as { requestId?: unknown }).requestId;
    if (typeof requestId === 'string' || typeof requestId === 'number') item.cancels = requestId;
  }
  return item;
}

/** A set that forgets its oldest entries beyond `max`. */
class RecentSet<T> {
  private readonly items = new Set<T>();
  constructor(private readonly max: number) {}
  add(v: T): void {
    this.items.delete(v);
    this.items.add(v);
    if (this.items.size > this.max) this.items.delete(this.items.values().next().value as T);
  }
  has(v: T): boolean {
    return this.items.has(v);
  }
}

function keyToId(key: string): JsonRpcId {
  return key.startsWith('n:') ? Number(key.slice(2)) : key.slice(2);
}

interface ParsedRoute {
  id: string;
  rest: string[];
  search: string;
  wellKnown?: string;
}

/** `/mcp/<id>/<rest…>` or `/.well-known/<name>/mcp/<id>/<rest…>` (RFC 9728 / RFC 8414 path insertion). */
function parseRoute(url: string): ParsedRoute | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const search = q === -1 ? '' : url.slice(q);
  if (path.startsWith('/mcp/')) {
    const segs = path.slice(5).split('/');
    const id = segs[0];
    return id ? { id, rest: segs.slice(1), search } : undefined;
  }
  if (path.startsWith('/.well-known/')) {
    const segs = path.slice(13).split('/');
    const [name, mcp, id] = segs;
    if (!name || mcp !== 'mcp' || !id) return undefined;
    return { id, rest: segs.slice(3), search, wellKnown: name };
  }
  return undefined;
}

function sha256(text: string): Buffer {
  return crypto.createHash('sha256').update(text).digest();
}

/** Compares digests, so neither the token's content nor its length leaks through timing. */
function tokenMatches(entry: ServerEntry, candidate: string): boolean {
  return crypto.timingSafeEqual(sha256(candidate), entry.tokenHash);
}

function bearerOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

function originAllowed(origin: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]');
  } catch {
    return false; // includes "null" (sandboxed frames, file:)
  }
}

function isStatelessRevision(version: string | undefined): boolean {
  return version !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(version) && version > LAST_SESSIONFUL_REVISION;
}

function acceptsSse(accept: string | undefined): boolean {
  // No Accept header at all: assume a streaming client, as the transport expects one.
  return accept === undefined || accept.includes('text/event-stream') || accept.includes('*/*');
}

function replyFormatOf(accept: string | undefined): ReplyFormat {
  if (!acceptsSse(accept)) return 'json';
  const json = accept !== undefined && (accept.includes('application/json') || accept.includes('*/*'));
  return json ? 'either' : 'sse';
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, text: string): void {
  req.resume();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`mcp-flight: ${text}\n`);
}

function sendJson(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers }).end(body);
}

/** Reads a whole request body; undefined when it exceeds `limit` (the rest is discarded). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(tooLarge ? undefined : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}
