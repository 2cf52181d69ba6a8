import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ServerSpec } from '../core/config/servers';
import type { Disposable as CoreDisposable } from '../core/model/events';
import type { AlertEngine } from '../core/alerts/engine';
import { plain } from '../core/alerts/text';
import type { Redactor } from '../core/audit/redaction';
import type { AlertRecord, JournalRecord } from '../core/model/records';
import type { PolicyGate } from '../core/policy/governor';
import type { PolicyResolution } from '../core/policy/load';
import type { LoadedPolicy } from '../core/policy/policy';
import type { Gate, GateDecision, GateRequest } from '../core/recording/gate';
import type { Recorder } from '../core/recording/recorder';
import type { EndpointServerHandle, RecordingHttpEndpoint } from '../core/recording/upstream/http-endpoint';
import type { JournalWriter } from '../core/store/journal';
import type { OtlpLivePush } from '../core/export/otlp-push';
import { ensureStore } from '../core/store/layout';
import type { Store, StoreChange } from '../core/store/store';
import { runtime } from './lazy';
import { WorkspaceEffects } from './effects-watcher';
import { readOtlpSettings, readSecuritySettings, readSettings } from './settings';

/**
 * The extension's one recorder: the workspace store (opened lazily, after activation), the
 * recording session (from the first recorded connection to shutdown), and the 127.0.0.1
 * endpoint VS Code's agent connects to. Views listen to `onDidChange`; commands ask it for the
 * store and the endpoint. Everything is created on first use so activation stays cheap.
 */
export class Flight implements vscode.Disposable {
  private storePromise?: Promise<Store>;
  private journal?: JournalWriter;
  private recorderInstance?: Recorder;
  /** The live OTLP push of this window's sessions, when `mcpFlight.otlp.endpoint` is set. */
  private otlp?: OtlpLivePush;
  private otlpSettings?: string;
  private alertEngine?: AlertEngine;
  private alertGate?: Gate;
  private endpointPromise?: Promise<RecordingHttpEndpoint>;
  private readonly handles = new Map<string, { spec: ServerSpec; handle: EndpointServerHandle; fingerprint: string }>();
  private watch?: CoreDisposable;
  /** Workspace file changes, journaled as side effects of the calls in flight. */
  private effects?: WorkspaceEffects;
  private readonly changeEmitter = new vscode.EventEmitter<StoreChange>();
  /** The store saw new or changed calls (from this window or any other recorder writing into it). */
  readonly onDidChange = this.changeEmitter.event;
  private readonly connectionEmitter = new vscode.EventEmitter<void>();
  /** A client connected to or disconnected from a recorded server. */
  readonly onDidChangeConnections = this.connectionEmitter.event;
  private disposed = false;
  private paused = false;
  private readonly outputs = new Map<string, vscode.OutputChannel>();
  /** connection id → server name, to route each server's stderr to its own output. */
  private readonly connectionServers = new Map<string, string>();
  /** The policy enforced on the session's calls (denied tools, the spend governor), once resolved. */
  private policyGate?: PolicyGate;
  /**
   * What the endpoint consults: the policy gate installed now or later (a store policy approved
   * mid-session applies from then on). Alert checks compose in front of it with composeGates.
   */
  readonly gate: Gate = {
    check: (request) => this.policyGate?.check(request) ?? { action: 'allow' },
    onResponse: (response) => this.policyGate?.onResponse(response),
  };
  private static readonly PROMPTED_KEY = 'mcpFlight.policyPrompted';

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly output: vscode.LogOutputChannel,
  ) {}

  /** Where the workspace's store lives; undefined without a workspace folder. */
  get storeRoot(): string | undefined {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) return undefined;
    const configured = readSettings().storePath;
    return path.isAbsolute(configured) ? configured : path.join(folder.uri.fsPath, configured);
  }

  get wasmPath(): string {
    return path.join(this.context.extensionPath, 'dist', 'sql-wasm.wasm');
  }

  /** The workspace store, opened (and created) on first use, kept live by polling the journal. */
  store(): Promise<Store> {
    if (!this.storePromise) {
      const root = this.storeRoot;
      if (!root) return Promise.reject(new Error('Open a folder to record MCP sessions: the store lives in the workspace.'));
      this.storePromise = (async () => {
        ensureStore(root);
        const store = await runtime().openStore(root, { writeIndex: true, wasmPath: this.wasmPath });
        for (const w of store.warnings) this.output.info(w);
        store.onDidChange((c) => this.changeEmitter.fire(c));
        this.watch = store.watch(300);
        return store;
      })();
      this.storePromise.catch((err: unknown) => this.output.error(`could not open the store: ${(err as Error).message}`));
    }
    return this.storePromise;
  }

  /** Reads new journal records now (after this window recorded something), instead of at the next poll. */
  async refresh(): Promise<void> {
    const store = await this.store();
    store.catchUp();
  }

  /** The window's recording session, started by the first connection it records. */
  recorder(): Recorder {
    if (!this.recorderInstance) {
      const root = this.storeRoot;
      if (!root) throw new Error('Open a folder to record MCP sessions: the store lives in the workspace.');
      this.journal = runtime().JournalWriter.open(root);
      this.recorderInstance = new (runtime().Recorder)({ kind: 'extension', journal: this.journal, capture: this.captureLevel(), redactor: this.redactor() });
      this.recorderInstance.onRecord((r) => this.onRecord(r));
      this.recorderInstance.onWriteError((err) => {
        this.output.error(`cannot write the journal in ${root}: ${err.message} — MCP calls are refused from now on, never forwarded unrecorded`);
        void vscode.window.showErrorMessage(`MCP Flight Recorder cannot write its journal (${plain(err.message).slice(0, 200)}). MCP calls through the recorder are refused until you free space and reload the window.`);
      });
      this.startAlerts(this.recorderInstance);
      this.output.info(`recording session ${this.recorderInstance.sessionId} into ${root}`);
      this.startOtlpPush(this.recorderInstance);
      this.applyPolicy(this.recorderInstance, root);
      if (readSettings().recordSideEffects) this.effects = new WorkspaceEffects(this.recorderInstance, root);
      // The views follow the store, so it opens as soon as there is something to show.
      setTimeout(() => void this.store().catch(() => undefined), 0);
    }
    return this.recorderInstance;
  }

  /** A separate session for replays, linked to the call it replays, in the same journal. */
  replayRecorder(of: { session_id: string; call_id: string }): Recorder {
    this.recorder();
    const replay = new (runtime().Recorder)({ kind: 'replay', journal: this.journal!, replayOf: of, capture: this.captureLevel(), redactor: this.redactor() });
    replay.onRecord((r) => this.onRecord(r));
    this.otlp?.attach(replay);
    return replay;
  }

  /**
   * Seals what this window's journal writer recorded so far with a signed checkpoint (reason
   * 'manual'), so that verifying or exporting now finds it sealed rather than unsealed. A no-op
   * before the first recording or when nothing is unsealed; throws when the checkpoint cannot be written.
   */
  checkpoint(): void {
    this.journal?.checkpoint();
  }

  /**
   * The session's policy: the `mcpFlight.policy` user setting, else the store's policy.json if the
   * user approved it (docs/policy.md). Journaled either way; an unapproved store policy is shown
   * once in a modal dialog so the user can read and approve it.
   */
  private applyPolicy(recorder: Recorder, root: string): void {
    let own: LoadedPolicy | undefined;
    try {
      own = runtime().loadPolicySetting(readSettings().policy);
    } catch (err) {
      const message = `MCP Flight: the mcpFlight.policy setting is not applied: ${(err as Error).message}`;
      this.output.error(message);
      void vscode.window.showErrorMessage(message);
    }
    let resolution: PolicyResolution;
    try {
      resolution = runtime().resolvePolicy({ ...(own ? { own } : {}), storeDir: root });
    } catch (err) {
      this.output.error(`policy: ${(err as Error).message}`);
      return;
    }
    this.install(recorder, resolution);
    const store = resolution.store;
    if (store?.status === 'unapproved' && this.context.globalState.get<string>(Flight.PROMPTED_KEY) !== store.sha256) void this.askApproval(recorder, root, store.path, store.sha256, store.text);
  }

  /** The mcpFlight.policy setting changed: the running session follows it (its spend so far carries over). */
  applyPolicySetting(): void {
    const recorder = this.recorderInstance;
    const root = this.storeRoot;
    if (!recorder || recorder.isEnded || !root) return;
    this.applyPolicy(recorder, root);
  }

  private install(recorder: Recorder, resolution: PolicyResolution): void {
    for (const n of resolution.notices) this.output.warn(`policy: ${n}`);
    const before = this.policyGate?.state;
    if (!resolution.policy && this.policyGate) {
      // Journaled, so the session shows from where on no policy governed it.
      const p = this.policyGate.policy;
      recorder.sessionEvent({ type: 'policy', status: 'withdrawn', source: p.source, ...(p.path ? { path: p.path } : {}), sha256: p.sha256 });
      this.output.info(`no policy governs session ${recorder.sessionId} any more`);
    }
    const gate = runtime().governSession(recorder, resolution, (e) => {
      const text = e.event === 'warning' ? `MCP Flight: this session has spent $${e.spent_usd} of its $${e.limit_usd} limit (80 %).` : `MCP Flight: spend limit of $${e.limit_usd} reached — further metered tool calls are refused.`;
      this.output.warn(text);
      void vscode.window.showWarningMessage(text);
    }, before);
    this.policyGate = gate;
    if (gate) {
      const p = resolution.policy!;
      this.output.info(`policy ${p.path ?? p.source} (sha256 ${p.sha256.slice(0, 12)}) governs session ${recorder.sessionId}`);
    }
  }

  /** Asks once per content: the file is shown in full (truncated past 4,000 characters) before it can apply. */
  private async askApproval(recorder: Recorder, root: string, file: string, sha256: string, text: string): Promise<void> {
    await this.context.globalState.update(Flight.PROMPTED_KEY, sha256);
    const safe = runtime().reviewableText(text);
    const shown = safe.length > 4000 ? `${safe.slice(0, 4000)}\n… (${safe.length - 4000} more characters: open the file to read them all)` : safe;
    const choice = await vscode.window.showWarningMessage(
      `This workspace's MCP Flight store has a policy it wants applied (${path.basename(file)}). It is ignored until you approve it.`,
      { modal: true, detail: `${file}\nsha256 ${sha256}\n\n${shown}` },
      'Approve',
      'Open File',
    );
    if (choice === 'Open File') {
      await vscode.window.showTextDocument(vscode.Uri.file(file));
      return;
    }
    if (choice !== 'Approve') return;
    const now = runtime().inspectStorePolicy(root);
    if (now?.sha256 !== sha256) {
      void vscode.window.showWarningMessage('MCP Flight: the policy file changed while you were reading it; nothing was approved.');
      return;
    }
    runtime().approvePolicy(file, sha256);
    if (readSettings().policy !== undefined && readSettings().policy !== null) {
      void vscode.window.showInformationMessage('MCP Flight: policy approved. Your mcpFlight.policy setting still takes its place.');
      return;
    }
    if (recorder.isEnded) return;
    this.install(recorder, runtime().resolvePolicy({ storeDir: root }));
    void vscode.window.showInformationMessage('MCP Flight: policy approved; it governs this session from now on.');
  }

  /** Paused: calls are still listed, but only their metadata is recorded — the gap stays visible. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (this.recorderInstance) this.recorderInstance.capture = this.captureLevel();
  }

  /** The capture or redaction settings changed. */
  applySettings(): void {
    if (!this.recorderInstance) return;
    this.recorderInstance.capture = this.captureLevel();
    this.recorderInstance.redactor = this.redactor();
    const watch = readSettings().recordSideEffects;
    if (watch && !this.effects && this.storeRoot) this.effects = new WorkspaceEffects(this.recorderInstance, this.storeRoot);
    if (!watch && this.effects) {
      this.effects.dispose();
      this.effects = undefined;
    }
  }

  private redactorCache?: { key: string; redactor: Redactor };
  private reportedRedactionErrors = '';
  /**
   * The Redactor for the user's `mcpFlight.redaction.*` settings (user or remote settings only).
   * Refused entries are reported — in the log and as an error notification, once per distinct
   * set — and the valid ones still apply: recording goes on, redacting at least the built-ins.
   */
  redactor(): Redactor {
    const raw = readSettings().redaction;
    const key = JSON.stringify(raw);
    if (this.redactorCache?.key === key) return this.redactorCache.redactor;
    const rt = runtime();
    const { options, errors } = rt.checkRedactionSettings(raw, 'mcpFlight.redaction');
    const text = errors.join('\n');
    if (errors.length && text !== this.reportedRedactionErrors) {
      for (const e of errors) this.output.error(e);
      void vscode.window.showErrorMessage(`${errors.length} redaction setting${errors.length === 1 ? ' was' : 's were'} refused and will not apply: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more in the MCP Flight Recorder log)` : ''}`);
    }
    this.reportedRedactionErrors = text;
    const redactor = rt.isDefaultRedaction(options) ? rt.defaultRedactorInstance() : rt.redactorWithSettings(options);
    this.redactorCache = { key, redactor };
    return redactor;
  }

  /**
   * OTLP settings changed during a session: the old push hands over what it holds and stops; a
   * new one (if an endpoint is set) gets the session so far from the journal, then follows it.
   */
  applyOtlpSettings(): void {
    const recorder = this.recorderInstance;
    if (!recorder || recorder.isEnded || JSON.stringify(readOtlpSettings()) === this.otlpSettings) return;
    const old = this.otlp;
    this.otlp = undefined;
    if (old) void old.shutdown(2000);
    void this.store().then(
      (store) => {
        if (this.disposed || this.otlp) return;
        // Read and attached in one turn: no record can fall between the journal and the listener.
        this.startOtlpPush(recorder, () => {
          store.catchUp();
          return [...store.readSessionRecords(recorder.sessionId)].map((r) => r.record);
        });
      },
      (err: unknown) => this.output.error(`OTLP push not restarted: ${(err as Error).message}`),
    );
  }

  private startOtlpPush(recorder: Recorder, backlog?: () => JournalRecord[]): void {
    const s = readOtlpSettings();
    this.otlpSettings = JSON.stringify(s);
    if (!s.endpoint) return;
    try {
      let warned = false;
      const push = new (runtime().OtlpLivePush)({
        endpoint: s.endpoint,
        headers: s.headers,
        includePayloads: s.includePayloads,
        log: (line) => this.output.warn(line),
        // Once per outage: recording goes on regardless, but the user should know the collector is not getting it.
        onStatus: (status, detail) => {
          if (status === 'recovered') warned = false;
          else if (!warned && !this.disposed) {
            warned = true;
            const show = 'Show Output';
            void vscode.window.showWarningMessage(`MCP Flight: the OTLP push to ${push.endpoint} is ${status === 'failing' ? 'failing' : 'dropping spans'} (${detail}). Recording is not affected.`, show).then((a) => (a === show ? this.output.show(true) : undefined));
          }
        },
      });
      push.attach(recorder, backlog?.());
      this.otlp = push;
      this.output.info(`pushing calls as OpenTelemetry spans to ${push.endpoint}${s.includePayloads ? ', with arguments and results' : ''}`);
    } catch (err) {
      this.output.error(`mcpFlight.otlp.endpoint: ${(err as Error).message}; no OTLP push`);
    }
  }

  /** The security settings changed (enforcement is read at each decision; thresholds here). */
  applySecuritySettings(): void {
    this.alertEngine?.setHighFrequency(readSecuritySettings().highFrequency);
  }

  /** The window's alert engine (src/core/alerts): alerts are always raised; holding calls is a setting. */
  private startAlerts(recorder: Recorder): void {
    const rt = runtime();
    const engine = new rt.AlertEngine(recorder, { highFrequency: readSecuritySettings().highFrequency });
    for (const w of engine.warnings) this.output.warn(w);
    engine.onAlert((a) => this.output[a.severity === 'high' ? 'warn' : 'info'](`${a.severity} security alert ${a.alert_id} [${a.alert_kind}] ${plain([a.server, a.tool].filter(Boolean).join('/'))}: ${plain(a.title)}`));
    this.alertEngine = engine;
    this.alertGate = rt.alertGate(engine, (request, alerts) => this.holdForUser(request, alerts));
  }

  /**
   * Enforcement: a call that raised a high-severity alert waits for the user's answer in a modal
   * dialog (the agent's request is held meanwhile). Dismissing the dialog denies. Off by default.
   */
  private async holdForUser(request: GateRequest, alerts: AlertRecord[]): Promise<GateDecision> {
    if (!readSecuritySettings().enforceAlerts) return { action: 'allow' };
    const params = (request.message as { params?: { name?: unknown } } | undefined)?.params;
    const what = request.method === 'tools/call' && typeof params?.name === 'string' ? `the tool ${plain(params.name).slice(0, 120)}` : plain(request.method).slice(0, 120);
    const allow = 'Allow';
    const deny = 'Deny';
    const detail = `${alerts.map((a) => `${a.severity.toUpperCase()} · ${a.alert_kind.replace(/_/g, ' ')}: ${plain(a.title)}${/[.!?]$/.test(a.title) ? '' : '.'}\n${a.detail.slice(0, 600)}`).join('\n\n').slice(0, 2400)}\n\nThe agent waits until you decide. Deny answers it with an error (policy_denied).`;
    const answer = await vscode.window.showWarningMessage(`MCP Flight Recorder is holding a call to ${what} on ${plain(request.server.name).slice(0, 120)}.`, { modal: true, detail }, deny, allow); // Deny first: the default button, what Enter picks on a reflex
    return answer === allow ? { action: 'allow' } : runtime().denyForAlerts(alerts, 'user');
  }

  private captureLevel(): 'full' | 'metadata' {
    return this.paused ? 'metadata' : readSettings().captureLevel;
  }

  /** Each server's stderr and process events, as an output channel of its own. */
  serverOutput(name: string): vscode.OutputChannel {
    let channel = this.outputs.get(name);
    if (!channel) {
      channel = vscode.window.createOutputChannel(`MCP Flight: ${name}`);
      this.outputs.set(name, channel);
    }
    return channel;
  }

  private onRecord(r: JournalRecord): void {
    switch (r.type) {
      case 'connection_open':
        this.connectionServers.set(r.connection_id, r.server.name);
        this.serverOutput(r.server.name).appendLine(`[${r.ts}] connection ${r.connection_id} opened (${r.upstream} → ${r.server.transport})`);
        return;
      case 'stderr':
      case 'process_spawn':
      case 'process_exit':
      case 'spawn_error':
      case 'transport_error':
      case 'connection_close': {
        const name = this.connectionServers.get(r.connection_id);
        if (!name) return;
        const text =
          r.type === 'stderr' ? r.text : r.type === 'process_spawn' ? `process started (pid ${r.pid})` : r.type === 'process_exit' ? `process exited (code ${r.code}, signal ${r.signal})` : r.type === 'spawn_error' ? `failed to start: ${r.message}` : r.type === 'transport_error' ? `transport error (${r.side}): ${r.message}` : `connection ${r.connection_id} closed: ${r.reason}`;
        this.serverOutput(name).appendLine(r.type === 'stderr' ? text : `[${r.ts}] ${text}`);
        return;
      }
      default:
        return;
    }
  }

  async endpoint(): Promise<RecordingHttpEndpoint> {
    if (!this.endpointPromise) {
      this.endpointPromise = (async () => {
        const s = readSettings();
        const recorder = this.recorder();
        const endpoint = new (runtime().RecordingHttpEndpoint)({ recorder, requestTimeoutMs: s.requestTimeoutSeconds * 1000, gate: runtime().composeGates(this.alertGate, this.gate) ?? this.gate });
        await endpoint.start();
        endpoint.onDidChangeConnections((e) => {
          this.output.info(`${e.type === 'open' ? 'client connected to' : 'client left'} ${e.server} (${e.connectionId})${e.reason ? `: ${e.reason}` : ''}`);
          this.connectionEmitter.fire();
          void this.refresh();
        });
        this.output.info(`recording endpoint listening on ${endpoint.origin}`);
        return endpoint;
      })();
    }
    return this.endpointPromise;
  }

  /**
   * The endpoint address of a server, added on first use and replaced when its configuration
   * changes. The token of a server stays the same for the window's lifetime.
   */
  async serve(spec: ServerSpec): Promise<EndpointServerHandle> {
    const endpoint = await this.endpoint();
    const fingerprint = JSON.stringify(spec);
    const known = this.handles.get(spec.name);
    if (known && known.fingerprint === fingerprint) return known.handle;
    if (known) await endpoint.removeServer(spec.name);
    const handle = endpoint.addServer(spec, known ? { token: known.handle.token } : {});
    this.handles.set(spec.name, { spec, handle, fingerprint });
    this.publishEndpoints();
    return handle;
  }

  /** The address a server will have; it is not reachable until `serve` (after consent). */
  async reserve(name: string): Promise<EndpointServerHandle> {
    const handle = (await this.endpoint()).reserve(name);
    this.publishEndpoints();
    return handle;
  }

  /**
   * For the demo and for tests driving the endpoint from outside VS Code: when
   * MCP_FLIGHT_ENDPOINTS_FILE is set in the extension host's environment, the served addresses
   * (with their tokens) are written there, user-only. Never set in normal use.
   */
  private publishEndpoints(): void {
    const file = process.env.MCP_FLIGHT_ENDPOINTS_FILE;
    if (!file) return;
    const servers = [...this.handles.values()].map(({ spec, handle }) => ({ name: spec.name, url: handle.url, headers: handle.headers }));
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ servers }, null, 2), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }

  async stopServer(name: string): Promise<void> {
    if (!this.handles.has(name)) return;
    const endpoint = await this.endpoint();
    const known = this.handles.get(name)!;
    await endpoint.removeServer(name);
    // Re-add at once with the same token: the server stops, its address stays valid for a restart.
    const handle = endpoint.addServer(known.spec, { token: known.handle.token });
    this.handles.set(name, { ...known, handle });
  }

  servedSpec(name: string): ServerSpec | undefined {
    return this.handles.get(name)?.spec;
  }

  get sessionId(): string | undefined {
    return this.recorderInstance?.sessionId;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.endpointPromise) await (await this.endpointPromise).close().catch(() => undefined);
    this.effects?.dispose();
    this.otlp?.beforeEnd();
    this.alertEngine?.dispose();
    this.recorderInstance?.end('VS Code window closed');
    this.journal?.close();
    // After the journal is complete; VS Code allows deactivation a few seconds.
    if (this.otlp) await this.otlp.shutdown(2000).catch(() => undefined);
    this.watch?.dispose();
    if (this.storePromise) {
      const store = await this.storePromise.catch(() => undefined);
      if (store) {
        try {
          store.catchUp();
        } finally {
          store.close();
        }
      }
    }
    this.changeEmitter.dispose();
    this.connectionEmitter.dispose();
    for (const c of this.outputs.values()) c.dispose();
  }
}
