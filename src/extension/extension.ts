import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ServerSpec } from '../core/config/servers';
import { VERSION } from '../core/version';
import { registerCallTool } from './commands/call-tool';
import { registerCompareCommands } from './commands/compare';
import type { CommandContext } from './commands/context';
import { registerExportCommands } from './commands/export';
import { registerHistoryCommands, scheduleRetention } from './commands/history';
import { registerInspectCommands } from './commands/inspect';
import { registerNextFailure } from './commands/next-failure';
import { registerReplay } from './commands/replay';
import { registerRecoveryPlanCommands } from './commands/recovery-plan';
import { registerServerCommands } from './commands/servers';
import { registerVerifyCommand } from './commands/verify';
import { Flight } from './flight';
import { Settings, Views } from './ids';
import { mirrorRedactionSettings, workspaceOverrides } from './settings';
import { ServerConsent } from './servers/consent';
import { recordedServers, resolveInputs } from './servers/configured-servers';
import { RecordedServerProvider } from './servers/definition-provider';
import { registerOtherClients } from './servers/other-clients';
import { registerRouting } from './servers/routing';
import { FlightDocuments } from './views/documents';
import { AlertNotifier } from './views/alert-notifier';
import { FailureNotifier } from './views/failure-notifier';
import { FlightStatusBar } from './views/status-bar';
import { FlightTree } from './views/tree';

/** What the extension exports to other extensions (and to its own integration tests). */
export interface FlightApi {
  version: string;
  flight: Flight;
  tree: FlightTree;
  /** How long loading the module and activate() took, in ms. */
  activationMs: number;
  /** Grants launch consent for a server, as the user's "Allow" would. */
  grantConsent(spec: ServerSpec): Promise<void>;
  /** Security settings this workspace tries to set, which are ignored (and warned about). */
  ignoredWorkspaceSettings(): string[];
}

/**
 * Activation registers views, commands and the MCP server definition provider, and nothing
 * more: the store (and sql.js's wasm), the endpoint and the recording session are created on
 * first use, so activation stays cheap.
 */
export function activate(context: vscode.ExtensionContext): FlightApi {
  const started = performance.now();
  const output = vscode.window.createOutputChannel('MCP Flight Recorder', { log: true });
  const flight = new Flight(context, output);
  const consent = new ServerConsent(context.workspaceState);
  const documents = new FlightDocuments();
  const tree = new FlightTree(flight);
  const treeView = vscode.window.createTreeView(Views.sessions, { treeDataProvider: tree, showCollapseAll: true });
  const statusBar = new FlightStatusBar(flight);
  const ctx: CommandContext = { extension: context, flight, documents, tree, treeView, consent };

  context.subscriptions.push(
    output,
    { dispose: () => void flight.dispose() },
    documents,
    tree,
    treeView,
    statusBar,
    new FailureNotifier(flight),
    new AlertNotifier(flight),
    RecordedServerProvider.register(flight, consent, context.secrets),
    ...registerInspectCommands(ctx),
    registerNextFailure(ctx),
    registerReplay(ctx),
    ...registerRecoveryPlanCommands(ctx),
    registerCallTool(ctx),
    registerVerifyCommand(ctx),
    ...registerExportCommands(ctx),
    ...registerCompareCommands(ctx),
    ...registerHistoryCommands(ctx),
    ...registerServerCommands(ctx, statusBar),
    ...registerRouting(ctx),
    ...registerOtherClients(ctx),
    scheduleRetention(ctx),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${Settings.section}.${Settings.captureLevel}`) || e.affectsConfiguration(`${Settings.section}.redaction`) || e.affectsConfiguration(`${Settings.section}.${Settings.recordSideEffects}`)) flight.applySettings();
      if (e.affectsConfiguration(`${Settings.section}.redaction`)) mirror(output);
      if (e.affectsConfiguration(Settings.section)) warnAboutWorkspaceOverrides(output);
      if (e.affectsConfiguration(`${Settings.section}.otlp`)) flight.applyOtlpSettings();
      if (e.affectsConfiguration(`${Settings.section}.${Settings.policy}`)) flight.applyPolicySetting();
      if (e.affectsConfiguration(`${Settings.section}.security`)) flight.applySecuritySettings();
    }),
  );

  context.subscriptions.push(watchWorkspaceOverrides(output));
  setTimeout(() => mirror(output), 0);

  // Sessions recorded earlier, or by other recorders, show up without waiting for a first call.
  if (flight.storeRoot && fs.existsSync(path.join(flight.storeRoot, 'store.json'))) {
    setTimeout(() => {
      void flight.store().then(
        () => {
          tree.schedule();
          statusBar.schedule();
        },
        () => undefined,
      );
    }, 0);
  }

  // Demo and external-driver mode (npm start): whoever launched this editor with
  // MCP_FLIGHT_ENDPOINTS_FILE asked for the recorded servers to be served at once, and for their
  // addresses in that file. A workspace cannot set an environment variable, so this opens nothing to it.
  if (process.env.MCP_FLIGHT_ENDPOINTS_FILE && flight.storeRoot && vscode.workspace.isTrusted) {
    void (async () => {
      for (const server of recordedServers().servers) {
        const spec = await resolveInputs(server, context.secrets, false);
        if (spec) await flight.serve(spec);
      }
    })().catch((err: unknown) => output.error(`demo mode: ${(err as Error).message}`));
  }

  const load = (globalThis as { __mcpFlightLoad?: { start: number; end?: number } }).__mcpFlightLoad;
  const activationMs = performance.now() - started + (load?.end !== undefined ? load.end - load.start : 0);
  output.info(`activated in ${activationMs.toFixed(1)} ms (module load included)`);
  return { version: VERSION, flight, tree, activationMs, grantConsent: (spec) => consent.grant(spec), ignoredWorkspaceSettings: workspaceOverrides };
}

/**
 * Checks for ignored security settings after activation and whenever a workspace settings file
 * changes: VS Code drops machine-scoped values from workspace settings silently (no
 * configuration event when only those change), so the files are watched.
 */
function watchWorkspaceOverrides(output: vscode.LogOutputChannel): vscode.Disposable {
  const check = () => warnAboutWorkspaceOverrides(output);
  const subscriptions: vscode.Disposable[] = [];
  // After activation, off its path.
  const timer = setTimeout(() => {
    const watcher = vscode.workspace.createFileSystemWatcher('**/.vscode/settings.json');
    subscriptions.push(watcher, watcher.onDidChange(check), watcher.onDidCreate(check), watcher.onDidDelete(check));
    check();
  }, 0);
  return { dispose: () => (clearTimeout(timer), subscriptions.forEach((d) => d.dispose())) };
}

function mirror(output: vscode.LogOutputChannel): void {
  const problem = mirrorRedactionSettings();
  if (problem) output.warn(problem);
}

let warnedOverrides = '';
/** A workspace's settings tried to weaken recording (settings.ts PROTECTED_SETTINGS): ignored, and said so once per change. */
function warnAboutWorkspaceOverrides(output: vscode.LogOutputChannel): void {
  const keys = workspaceOverrides();
  const text = keys.join(', ');
  if (text === warnedOverrides) return;
  warnedOverrides = text;
  if (!keys.length) return;
  const message = `This workspace's settings set ${text}. MCP Flight Recorder ignores them: what is recorded, redacted and kept is decided by your user settings only, so a cloned repository cannot weaken the audit trail.`;
  output.warn(message);
  void vscode.window.showWarningMessage(message);
}

export function deactivate(): void {}
