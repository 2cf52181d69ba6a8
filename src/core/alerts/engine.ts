import * as crypto from 'node:crypto';
import { readStoreIdentity } from '../audit/checkpoints';
import { flightHome } from '../audit/keys';
import type { Redaction } from '../audit/redaction';
import { Emitter } from '../model/events';
import { idKey } from '../model/jsonrpc';
import type { AlertKind, AlertRecord, AlertSeverity, Direction, JournalRecord, JsonRpcId, ServerTarget } from '../model/records';
import type { Recorder, TappedMessage } from '../recording/recorder';
import { ArgumentValidator } from './argument-validation';
import { exfiltrationReasons, ProtectedPaths, RateWindow } from './detectors';
import { diffTools, formatChanges, hashOf, PinStore, shownText, toolPins, type DefinitionChange, type ToolPin } from './pins';
import { scanInstructions, scanTexts, scanTool, toolTexts, worstSeverity, type PoisoningFinding } from './poisoning';

/**
 * The alert engine: watches every message the recorder journals (as a MessageInspector, before
 * the message is forwarded) and raises security alerts — `alert` records written through the
 * recorder, so they are hash-chained with the messages they are about. The detectors:
 *
 * | kind                          | raised on                                  | severity       |
 * | ----------------------------- | ------------------------------------------ | -------------- |
 * | schema_violation              | tools/call whose arguments fail inputSchema | medium         |
 * | undeclared_argument           | tools/call with arguments the schema lacks  | low            |
 * | high_frequency                | calls per tool / per server over threshold  | medium         |
 * | tool_poisoning                | tools/list result, initialize instructions  | by finding     |
 * | exfiltration_after_poisoning  | tools/call to an exfiltration-prone tool    | high           |
 * |                               | after any tool_poisoning in the session     |                |
 * | definition_changed            | tools, instructions or launch ≠ the pin     | high in-session|
 * | server_sampling / _elicitation| server→client request, input_required       | medium (high   |
 * |                               | result                                      | asking secrets)|
 * | secret_in_result              | tools/call result the redactor changed      | medium         |
 * | self_tampering                | arguments naming the store or key folder    | high           |
 *
 * Per message it costs a few map lookups; a tools/call adds a cached validator run and a walk of
 * its arguments' strings; poisoning scans and pin comparisons run only on tools/list and
 * initialize results. The gate (enforcement.ts) asks `takeAlerts` for the request it is deciding.
 */

export interface AlertEngineOptions {
  highFrequency?: { windowSeconds?: number; threshold?: number; serverThreshold?: number };
  /** Where definitions are pinned across sessions; false keeps them for this session only. Default: the user's pins for this store. */
  pins?: PinStore | false;
  /** Paths the agent must not touch. Default: the store and the user's audit home. */
  protectedPaths?: string[];
  /** Milliseconds on a monotonic clock (tests may drive it). */
  now?: () => number;
}

export const DEFAULT_HIGH_FREQUENCY = { windowSeconds: 10, threshold: 20 } as const;

interface PendingRequest {
  method: string;
  tool?: string;
  seq?: number;
  cursor: boolean;
}

interface ConnState {
  server: ServerTarget;
  pending: Map<string, PendingRequest>;
  /** Pages of a paginated tools/list so far. */
  listing?: Array<Record<string, unknown>>;
  listChanged: boolean;
}

interface ToolInfo {
  definition: Record<string, unknown>;
  schemaHash?: string;
}

interface ServerState {
  tools: Map<string, ToolInfo>;
  /** The tool pins this session has seen (compared against the stored pins once, then against these). */
  sessionTools?: Record<string, ToolPin>;
  sessionInstructions?: string | null;
  /** Definitions already scanned for poisoning (name + hash), so a re-list raises nothing new. */
  scanned: Set<string>;
}

type NewAlert = Omit<AlertRecord, 'type' | 'session_id' | 'seq' | 'ts' | 'mono' | 'connection_id' | 'alert_id'>;

const MAX_PENDING = 10_000;
const MAX_HELD_ALERTS = 1_000;

export class AlertEngine {
  private readonly connections = new Map<string, ConnState>();
  private readonly servers = new Map<string, ServerState>();
  private readonly validator = new ArgumentValidator();
  private toolRate!: RateWindow;
  private serverRate!: RateWindow;
  private thresholds!: { windowSeconds: number; threshold: number; serverThreshold: number };
  private readonly protectedPaths: ProtectedPaths;
  private readonly pins: PinStore | undefined;
  private readonly now: () => number;
  private readonly byRequest = new Map<string, AlertRecord[]>();
  private readonly poisoningAlerts: string[] = [];
  private count = 0;
  private readonly disposers: Array<() => void> = [];
  private readonly alertEmitter = new Emitter<AlertRecord>();
  /** Every alert, once journaled. */
  readonly onAlert = this.alertEmitter.event;
  /** Problems worth telling the user once (pins unreadable). */
  readonly warnings: string[] = [];

  constructor(
    private readonly recorder: Recorder,
    options: AlertEngineOptions = {},
  ) {
    this.setHighFrequency(options.highFrequency ?? {});
    const home = flightHome();
    const storeRoot = recorder.journal.layout.root;
    this.protectedPaths = new ProtectedPaths(options.protectedPaths ?? [storeRoot, home], home);
    this.now = options.now ?? (() => performance.now());
    if (options.pins === false) this.pins = undefined;
    else {
      const storeId = readStoreIdentity(recorder.journal.layout).storeId ?? `root-${crypto.createHash('sha256').update(storeRoot).digest('hex').slice(0, 32)}`;
      this.pins = options.pins ?? PinStore.forStore(storeId, home);
      if (this.pins.problem) this.warnings.push(this.pins.problem);
    }
    this.disposers.push(recorder.inspect((c, d, t) => this.inspect(c, d, t)));
    const sub = recorder.onRecord((r) => this.onRecord(r));
    this.disposers.push(() => sub.dispose());
  }

  dispose(): void {
    for (const d of this.disposers.splice(0)) d();
  }

  /** Changes the high-frequency window and thresholds (counting starts again). */
  setHighFrequency(hf: NonNullable<AlertEngineOptions['highFrequency']>): void {
    const windowSeconds = positive(hf.windowSeconds, DEFAULT_HIGH_FREQUENCY.windowSeconds);
    const threshold = Math.max(2, Math.round(positive(hf.threshold, DEFAULT_HIGH_FREQUENCY.threshold)));
    const serverThreshold = Math.max(2, Math.round(positive(hf.serverThreshold, threshold * 2)));
    this.thresholds = { windowSeconds, threshold, serverThreshold };
    this.toolRate = new RateWindow(windowSeconds * 1000, threshold);
    this.serverRate = new RateWindow(windowSeconds * 1000, serverThreshold);
  }

  /** The alerts raised on a request, handed over once (to the gate deciding it). */
  takeAlerts(connectionId: string, id: JsonRpcId): AlertRecord[] {
    const key = `${connectionId}\u0000${idKey(id)}`;
    const list = this.byRequest.get(key);
    if (list) this.byRequest.delete(key);
    return list ?? [];
  }

  private onRecord(r: JournalRecord): void {
    if (r.type === 'connection_open') {
      this.connections.set(r.connection_id, { server: r.server, pending: new Map(), listChanged: false });
      this.checkLaunch(r.connection_id, r.server);
    } else if (r.type === 'connection_close') {
      this.connections.delete(r.connection_id);
    }
  }

  private inspect(connectionId: string, dir: Direction, t: TappedMessage): void {
    if (!t.isJsonRpc) return;
    const c = this.connections.get(connectionId);
    if (!c) return;
    const env = t.envelope;
    if (dir === 'client_to_server') {
      if (env.kind !== 'request' || env.id === undefined || env.id === null) return;
      if (t.opaque) {
        this.onUninspectable(connectionId, c, 'client_to_server', env.id, env.method ?? '', t.opaque, t.seq);
        return;
      }
      const params = paramsOf(t.value);
      const method = env.method ?? '';
      const tool = method === 'tools/call' && typeof params?.name === 'string' ? params.name : undefined;
      if (c.pending.size >= MAX_PENDING) c.pending.delete(c.pending.keys().next().value as string);
      c.pending.set(idKey(env.id), { method, ...(tool !== undefined ? { tool } : {}), ...(t.seq !== undefined ? { seq: t.seq } : {}), cursor: params?.cursor !== undefined });
      if (tool !== undefined) this.onToolCall(connectionId, c, env.id, tool, params?.arguments, t);
      else if (method === 'resources/read' && typeof params?.uri === 'string') this.checkSelfTampering(connectionId, c, env.id, t.seq, method, { uri: params.uri });
      return;
    }
    // server → client
    if (env.kind === 'request' && env.id !== undefined && env.id !== null) {
      if (t.opaque) this.onUninspectable(connectionId, c, 'server_to_client', env.id, env.method ?? '', t.opaque, t.seq);
      else if (env.method === 'sampling/createMessage' || env.method === 'elicitation/create') this.onServerRequest(connectionId, c, env.method, env.id, t.seq, paramsOf(t.value), 'request');
      return;
    }
    if (env.kind === 'notification') {
      if (env.method === 'notifications/tools/list_changed') c.listChanged = true;
      return;
    }
    if ((env.kind !== 'response' && env.kind !== 'error') || env.id === undefined || env.id === null) return;
    const key = idKey(env.id);
    const req = c.pending.get(key);
    if (!req) return;
    c.pending.delete(key);
    this.byRequest.delete(`${connectionId}\u0000${key}`);
    if (env.kind !== 'response') return;
    // The definitions and instructions the model will read, too large or deep to scan for poisoning or to pin.
    if (t.opaque && (req.method === 'initialize' || req.method === 'tools/list')) {
      this.onUninspectable(connectionId, c, 'server_to_client', env.id, `${req.method} result`, t.opaque, t.seq);
      return;
    }
    const result = (t.value as { result?: unknown } | undefined)?.result;
    if (!isObject(result)) return;
    if (req.method === 'initialize') this.onInitialize(connectionId, c, result, t.seq);
    else if (req.method === 'tools/list') this.onToolsList(connectionId, c, req, result, t.seq);
    if (req.method === 'tools/call' && t.redacted?.length) this.onSecretInResult(connectionId, c, env.id, req, t.redacted);
    if (result.resultType === 'input_required') this.onInputRequired(connectionId, c, env.id, req, result);
  }

  // -- requests too large or too deep to inspect ------------------------------------------------

  /**
   * Every other check reads the message, which an opaque one does not give. Left alone, an agent
   * could pad or nest a call past the limits to get around schema, self-tampering and
   * exfiltration checks (a request is held like any high alert), and a server could do the same
   * to its tool definitions, instructions or sampling requests to get them past the poisoning
   * scan and the pins (the alert says the model saw text nobody checked).
   */
  private onUninspectable(connectionId: string, c: ConnState, dir: Direction, id: JsonRpcId, what: string, opaque: NonNullable<TappedMessage['opaque']>, seq: number | undefined): void {
    const why = opaque.reason === 'size_limit' ? `${opaque.size} bytes, over the recorder's structured limit` : `nested deeper than the recorder's depth limit`;
    const from = dir === 'client_to_server' ? 'The agent sent' : `${c.server.name} sent`;
    this.raise(connectionId, {
      server: c.server.name,
      ...(opaque.tool !== undefined ? { tool: opaque.tool } : {}),
      ...(dir === 'client_to_server' ? { request_id: id, ...(seq !== undefined ? { request_seq: seq } : {}) } : seq !== undefined ? { message_seq: seq } : {}),
      alert_kind: 'uninspectable_message',
      severity: 'high',
      title: `${from} a ${what} too ${opaque.reason === 'size_limit' ? 'large' : 'deeply nested'} to inspect${opaque.tool !== undefined ? `: ${opaque.tool}` : ''}`,
      detail: `The message is ${why}: it is recorded as opaque bytes (sha256 and redacted text), and no security check could read it — argument checks for a request, the poisoning scan and pins for definitions and instructions. Legitimate peers rarely send such messages.`,
      evidence: { direction: dir, method: what, reason: opaque.reason, size: opaque.size },
    });
  }

  // -- tools/call -------------------------------------------------------------------------------

  private onToolCall(connectionId: string, c: ConnState, id: JsonRpcId, tool: string, args: unknown, t: TappedMessage): void {
    const server = c.server.name;
    const s = this.server(server);
    const info = s.tools.get(tool);
    const at = { server, tool, request_id: id, ...(t.seq !== undefined ? { request_seq: t.seq } : {}) };

    const schema = info?.definition.inputSchema;
    if (info && schema !== undefined) {
      const entry = this.validator.entry(schema, info.schemaHash);
      const problems = this.validator.check(entry, args);
      if (problems?.errors.length) {
        const first = problems.errors[0]!;
        this.raise(connectionId, {
          ...at,
          alert_kind: 'schema_violation',
          severity: 'medium',
          title: `Arguments of ${tool} do not match its input schema`,
          detail: `${problems.errors.length + problems.errorsOmitted} problem(s) against the schema ${server} advertised for ${tool} (JSON Schema ${entry.draft}); first: ${first.instancePath || '(arguments)'} ${first.message}.`,
          evidence: { draft: entry.draft, schema_hash: entry.hash, errors: problems.errors, errors_omitted: problems.errorsOmitted, ...(problems.skippedPatterns.length ? { skipped_patterns: problems.skippedPatterns } : {}) },
        });
      }
      if (problems?.undeclared.length) {
        this.raise(connectionId, {
          ...at,
          alert_kind: 'undeclared_argument',
          severity: 'low',
          title: `${tool} called with argument(s) its schema does not declare: ${problems.undeclared.slice(0, 5).join(', ')}`,
          detail: `The input schema of ${tool} declares ${[...(entry.declared ?? [])].slice(0, 20).join(', ') || 'no properties'}; the call also passes ${problems.undeclared.join(', ')}. Undeclared arguments are a way to smuggle data to a server.`,
          evidence: { undeclared: problems.undeclared, declared: [...(entry.declared ?? [])] },
        });
      }
    }

    const now = this.now();
    const perTool = this.toolRate.hit(`${server}\u0000${tool}`, now);
    if (perTool !== undefined) {
      this.raise(connectionId, { ...at, alert_kind: 'high_frequency', severity: 'medium', title: `${perTool} calls to ${tool} within ${this.thresholds.windowSeconds} s`, detail: `${tool} on ${server} was called ${perTool} times in ${this.thresholds.windowSeconds} s (threshold ${this.thresholds.threshold}): an agent in a loop, or a tool used to move data in bulk.`, evidence: { scope: 'tool', count: perTool, window_seconds: this.thresholds.windowSeconds, threshold: this.thresholds.threshold } });
    }
    const perServer = this.serverRate.hit(server, now);
    if (perServer !== undefined) {
      this.raise(connectionId, { ...at, alert_kind: 'high_frequency', severity: 'medium', title: `${perServer} tool calls to ${server} within ${this.thresholds.windowSeconds} s`, detail: `The tools of ${server} were called ${perServer} times in ${this.thresholds.windowSeconds} s (threshold ${this.thresholds.serverThreshold}).`, evidence: { scope: 'server', count: perServer, window_seconds: this.thresholds.windowSeconds, threshold: this.thresholds.serverThreshold } });
    }

    this.checkSelfTampering(connectionId, c, id, t.seq, tool, args);

    if (this.poisoningAlerts.length) {
      const secrets = (t.redacted ?? []).map((r) => r.kind).filter((k) => k !== 'truncated' && k !== 'too_deep');
      const annotations = isObject(info?.definition.annotations) ? info.definition.annotations : undefined;
      const title = typeof info?.definition.title === 'string' ? info.definition.title : typeof annotations?.title === 'string' ? annotations.title : undefined;
      const reasons = exfiltrationReasons(tool, title, annotations, secrets);
      if (reasons) {
        const why = [reasons.open_world ? 'it reaches the outside world (openWorldHint)' : '', reasons.verbs ? `its name says ${reasons.verbs.join('/')}` : '', reasons.secrets ? `its arguments carry a secret (${reasons.secrets.join(', ')})` : ''].filter(Boolean).join('; ');
        this.raise(connectionId, {
          ...at,
          alert_kind: 'exfiltration_after_poisoning',
          severity: 'high',
          title: `${tool} can send data out, after a poisoned tool description in this session`,
          detail: `A tool description or server instruction in this session tried to steer the model (alert ${this.poisoningAlerts.slice(-3).join(', ')}); ${tool} on ${server} can carry data out: ${why}.`,
          evidence: { reasons, poisoning_alerts: this.poisoningAlerts.slice(-20) },
        });
      }
    }
  }

  private checkSelfTampering(connectionId: string, c: ConnState, id: JsonRpcId, seq: number | undefined, what: string, args: unknown): void {
    const hit = this.protectedPaths.find(args);
    if (!hit) return;
    this.raise(connectionId, {
      server: c.server.name,
      ...(what.includes('/') ? {} : { tool: what }),
      request_id: id,
      ...(seq !== undefined ? { request_seq: seq } : {}),
      alert_kind: 'self_tampering',
      severity: 'high',
      title: `${what} touches the recorder's own files (${hit.match})`,
      detail: `The argument at ${hit.path || '(root)'} names ${hit.match}: the audit trail or its keys. An agent editing its own audit trail is tampering with the evidence.`,
      evidence: { argument: hit.path, protected: hit.match },
    });
  }

  // -- definitions --------------------------------------------------------------------------------

  private onInitialize(connectionId: string, c: ConnState, result: Record<string, unknown>, seq: number | undefined): void {
    const server = c.server.name;
    const s = this.server(server);
    const instructions = typeof result.instructions === 'string' ? result.instructions : null;
    if (instructions !== null) {
      const key = `instructions:${hashOf(instructions)}`;
      if (!s.scanned.has(key)) {
        s.scanned.add(key);
        const findings = scanInstructions(instructions, { otherServersTools: this.otherServersTools(server) });
        if (findings.length) this.raisePoisoning(connectionId, server, undefined, findings, seq);
      }
    }
    // Instructions are pinned like tools (null: the server gave none).
    const within = s.sessionInstructions !== undefined;
    const pinned = this.pins?.get(server)?.instructions;
    const before = within ? s.sessionInstructions : pinned ? pinned.text : undefined;
    s.sessionInstructions = instructions;
    if (before === instructions) return;
    this.pins?.set(server, { instructions: { hash: hashOf(instructions), text: instructions } });
    if (before === undefined) return;
    const change: DefinitionChange = { subject: 'instructions', change: before === null ? 'added' : instructions === null ? 'removed' : 'changed', ...(before !== null ? { before: shownText(before) } : {}), ...(instructions !== null ? { after: shownText(instructions) } : {}) };
    this.raiseChanges(connectionId, server, [change], within, seq);
  }

  private onToolsList(connectionId: string, c: ConnState, req: PendingRequest, result: Record<string, unknown>, seq: number | undefined): void {
    const page = Array.isArray(result.tools) ? (result.tools as unknown[]).filter(isObject) : [];
    c.listing = req.cursor && c.listing ? [...c.listing, ...page] : page;
    if (typeof result.nextCursor === 'string' && result.nextCursor !== '') return;
    const tools = c.listing;
    c.listing = undefined;
    const server = c.server.name;
    const s = this.server(server);
    s.tools = new Map(tools.filter((t) => typeof t.name === 'string').map((t) => [t.name as string, { definition: t, ...(t.inputSchema !== undefined ? { schemaHash: ArgumentValidator.hashOf(t.inputSchema) } : {}) }]));

    // Pinning first: a rug pull is reported as a change, and then scanned like any definition.
    const pins = toolPins(tools);
    const within = s.sessionTools !== undefined;
    const before = s.sessionTools ?? this.pins?.get(server)?.tools;
    s.sessionTools = pins;
    if (before) {
      const changes = diffTools(before, pins);
      if (changes.length) {
        this.raiseChanges(connectionId, server, changes, within, seq, c.listChanged);
        this.pins?.set(server, { tools: pins });
      }
    } else {
      this.pins?.set(server, { tools: pins });
    }
    c.listChanged = false;

    const others = this.otherServersTools(server);
    for (const t of tools) {
      const name = typeof t.name === 'string' ? t.name : '';
      const key = `tool:${name}:${pins[name]?.hash ?? ''}`;
      if (s.scanned.has(key)) continue;
      s.scanned.add(key);
      const findings = scanTool(t, { otherServersTools: others });
      if (findings.length) this.raisePoisoning(connectionId, server, name, findings, seq);
    }
    // This server's names may be shadowed by what other servers already said.
    const mine = new Map([[server, [...s.tools.keys()]]]);
    for (const [otherName, other] of this.servers) {
      if (otherName === server) continue;
      for (const [toolName, info] of other.tools) {
        const key = `shadow:${toolName}:${server}:${[...s.tools.keys()].join(',')}`;
        if (other.scanned.has(key)) continue;
        other.scanned.add(key);
        const findings = scanTexts(toolTexts(info.definition), { otherServersTools: mine }).filter((f) => f.rule === 'shadowing');
        if (findings.length) this.raisePoisoning(this.connectionOf(otherName) ?? connectionId, otherName, toolName, findings, undefined);
      }
    }
  }

  private checkLaunch(connectionId: string, server: ServerTarget): void {
    if (!this.pins) return;
    const definition: Record<string, unknown> = { transport: server.transport, ...(server.command !== undefined ? { command: server.command } : {}), ...(server.args ? { args: server.args } : {}), ...(server.url !== undefined ? { url: server.url } : {}) };
    const hash = hashOf(definition);
    const s = this.server(server.name);
    if (s.scanned.has(`launch:${hash}`)) return;
    s.scanned.add(`launch:${hash}`);
    const pinned = this.pins.get(server.name)?.launch;
    if (pinned && pinned.hash !== hash) {
      this.raiseChanges(connectionId, server.name, [{ subject: 'launch', change: 'changed', field: '*', before: shownText(JSON.stringify(pinned.definition)), after: shownText(JSON.stringify(definition)) }], false, undefined);
    }
    if (!pinned || pinned.hash !== hash) this.pins.set(server.name, { launch: { hash, definition } });
  }

  private raiseChanges(connectionId: string, server: string, changes: DefinitionChange[], withinSession: boolean, seq: number | undefined, afterListChanged = false): void {
    const subjects = [...new Set(changes.map((c) => c.subject))];
    const tools = subjects.filter((x) => x.startsWith('tool:')).map((x) => x.slice(5));
    this.raise(connectionId, {
      server,
      ...(tools.length === 1 ? { tool: tools[0] } : {}),
      ...(seq !== undefined ? { message_seq: seq } : {}),
      alert_kind: 'definition_changed',
      severity: withinSession ? 'high' : 'medium',
      title: `${server} changed ${describeSubjects(subjects)} ${withinSession ? 'during the session' : 'since it was pinned'}`,
      detail: `${withinSession ? `Within this session${afterListChanged ? ', after notifications/tools/list_changed' : ''}` : 'Since an earlier session'}, ${server} changed what it shows the model. A definition that changes after it was approved (a "rug pull") can turn a harmless tool malicious.\n${formatChanges(changes)}`,
      evidence: { within_session: withinSession, after_list_changed: afterListChanged, changes },
    });
  }

  private raisePoisoning(connectionId: string, server: string, tool: string | undefined, findings: PoisoningFinding[], seq: number | undefined): void {
    const rules = [...new Set(findings.map((f) => f.rule))];
    const where = tool !== undefined ? `the definition of ${tool}` : 'its instructions';
    const alert = this.raise(connectionId, {
      server,
      ...(tool !== undefined ? { tool } : {}),
      ...(seq !== undefined ? { message_seq: seq } : {}),
      alert_kind: 'tool_poisoning',
      severity: worstSeverity(findings),
      title: `Possible tool poisoning in ${where} (${server}): ${rules.map((r) => r.replace(/_/g, ' ')).join(', ')}`,
      detail: `Text ${server} shows the model ${findings.length === 1 ? 'contains' : 'contains, among others,'} ${findings.map((f) => `${f.rule.replace(/_/g, ' ')} at ${f.path}: "${f.excerpt}"${f.note ? ` (${f.note})` : ''}`).slice(0, 5).join('; ')}.`,
      evidence: { findings: findings.slice(0, 50), findings_omitted: Math.max(0, findings.length - 50) },
    });
    if (alert) this.poisoningAlerts.push(alert.alert_id);
  }

  // -- server-initiated requests, results ----------------------------------------------------------

  private onServerRequest(connectionId: string, c: ConnState, method: string, id: JsonRpcId | undefined, seq: number | undefined, params: Record<string, unknown> | undefined, via: 'request' | 'input_required', callTool?: string): void {
    const sampling = method === 'sampling/createMessage';
    const evidence: Record<string, unknown> = { method, via };
    let severity: AlertSeverity = 'medium';
    let extra = '';
    if (sampling) {
      if (params?.includeContext !== undefined) evidence.include_context = params.includeContext;
      if (typeof params?.maxTokens === 'number') evidence.max_tokens = params.maxTokens;
      if (params?.includeContext === 'allServers') extra = ' It asks for the context of all servers (includeContext: allServers).';
    } else {
      const props = isObject(params?.requestedSchema) && isObject(params.requestedSchema.properties) ? Object.keys(params.requestedSchema.properties) : [];
      evidence.requested_fields = props.slice(0, 50);
      if (typeof params?.mode === 'string') evidence.mode = params.mode;
      const secretFields = props.filter((p) => this.recorder.redactor.keyKind(p) !== null);
      if (secretFields.length) {
        severity = 'high';
        evidence.secret_fields = secretFields;
        extra = ` It asks the user for ${secretFields.join(', ')}.`;
      }
    }
    this.raise(connectionId, {
      server: c.server.name,
      ...(callTool !== undefined ? { tool: callTool } : {}),
      ...(id !== undefined ? { request_id: id } : {}),
      ...(seq !== undefined ? { request_seq: seq } : {}),
      alert_kind: sampling ? 'server_sampling' : 'server_elicitation',
      severity,
      title: sampling ? `${c.server.name} asked the client's model for a completion (sampling)` : `${c.server.name} asked the user for input (elicitation)`,
      detail: `${sampling ? 'A server that samples the client\'s model can make it read and write on the server\'s behalf.' : 'A server that elicits input can ask the user for data the agent never saw.'}${extra}${via === 'input_required' ? ' (Carried in an input_required result.)' : ''}`,
      evidence,
    });
  }

  private onInputRequired(connectionId: string, c: ConnState, id: JsonRpcId, req: PendingRequest, result: Record<string, unknown>): void {
    for (const r of embeddedRequests(result, 0)) this.onServerRequest(connectionId, c, r.method, id, req.seq, r.params, 'input_required', req.tool);
  }

  private onSecretInResult(connectionId: string, c: ConnState, id: JsonRpcId, req: PendingRequest, redacted: Redaction[]): void {
    const found = redacted.filter((r) => r.kind !== 'truncated' && r.kind !== 'too_deep');
    if (!found.length) return;
    const kinds = [...new Set(found.map((r) => r.kind))];
    this.raise(connectionId, {
      server: c.server.name,
      ...(req.tool !== undefined ? { tool: req.tool } : {}),
      request_id: id,
      ...(req.seq !== undefined ? { request_seq: req.seq } : {}),
      alert_kind: 'secret_in_result',
      severity: 'medium',
      title: `The result of ${req.tool ?? req.method} contains ${kinds.length === 1 ? `a secret (${kinds[0]})` : `secrets (${kinds.join(', ')})`}`,
      detail: `The recorder redacted ${found.reduce((n, r) => n + (r.count ?? 1), 0)} secret(s) from this result before recording it, but the agent received them: they are now in the model's context.`,
      evidence: { redacted: found.slice(0, 50) },
    });
  }

  // -- plumbing ---------------------------------------------------------------------------------------

  private raise(connectionId: string, a: NewAlert): AlertRecord | undefined {
    if (this.recorder.isEnded) return undefined;
    // Alerts quote what servers and agents sent: secrets in them are redacted like in any record.
    const text = this.recorder.redactor.redactValue({ title: a.title, detail: a.detail, evidence: a.evidence ?? null }).value;
    const record: AlertRecord = {
      type: 'alert',
      ...this.recorder.stamp(),
      connection_id: connectionId,
      alert_id: `a${++this.count}`,
      alert_kind: a.alert_kind,
      severity: a.severity,
      title: text.title,
      detail: text.detail,
      server: a.server,
      ...(a.tool !== undefined ? { tool: a.tool } : {}),
      ...(a.request_id !== undefined ? { request_id: a.request_id } : {}),
      ...(a.request_seq !== undefined ? { request_seq: a.request_seq } : {}),
      ...(a.message_seq !== undefined ? { message_seq: a.message_seq } : {}),
      ...(text.evidence !== null ? { evidence: text.evidence } : {}),
    };
    this.recorder.write(record);
    if (a.request_id !== undefined) {
      const key = `${connectionId}\u0000${idKey(a.request_id)}`;
      let list = this.byRequest.get(key);
      if (!list) {
        if (this.byRequest.size >= MAX_HELD_ALERTS) this.byRequest.delete(this.byRequest.keys().next().value as string);
        this.byRequest.set(key, (list = []));
      }
      list.push(record);
    }
    this.alertEmitter.fire(record);
    return record;
  }

  private server(name: string): ServerState {
    let s = this.servers.get(name);
    if (!s) this.servers.set(name, (s = { tools: new Map(), scanned: new Set() }));
    return s;
  }

  private otherServersTools(server: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [name, s] of this.servers) if (name !== server && s.tools.size) out.set(name, [...s.tools.keys()]);
    return out;
  }

  private connectionOf(server: string): string | undefined {
    for (const [id, c] of this.connections) if (c.server.name === server) return id;
    return undefined;
  }
}

/** Requests carried inside a result (`input_required`): any object with a sampling or elicitation `method`. */
function* embeddedRequests(v: unknown, depth: number): Generator<{ method: string; params: Record<string, unknown> | undefined }> {
  if (depth > 6 || v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v.slice(0, 100)) yield* embeddedRequests(x, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  if (o.method === 'sampling/createMessage' || o.method === 'elicitation/create') {
    yield { method: o.method, params: isObject(o.params) ? o.params : undefined };
    return;
  }
  for (const x of Object.values(o).slice(0, 100)) yield* embeddedRequests(x, depth + 1);
}

function describeSubjects(subjects: string[]): string {
  const tools = subjects.filter((s) => s.startsWith('tool:')).map((s) => s.slice(5));
  const parts: string[] = [];
  if (tools.length === 1) parts.push(`the tool ${tools[0]}`);
  else if (tools.length > 1) parts.push(`${tools.length} tools`);
  if (subjects.includes('instructions')) parts.push('its instructions');
  if (subjects.includes('launch')) parts.push('its launch command');
  return parts.join(' and ') || 'its definitions';
}

function paramsOf(message: unknown): Record<string, unknown> | undefined {
  const p = (message as { params?: unknown } | undefined)?.params;
  return isObject(p) ? p : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positive(v: number | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fallback;
}

export type { AlertKind, AlertRecord, AlertSeverity };
