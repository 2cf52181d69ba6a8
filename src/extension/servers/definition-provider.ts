import * as vscode from 'vscode';
import type { Flight } from '../flight';
import { McpProviderId, Settings } from '../ids';
import { readSettings } from '../settings';
import { recordedServers, resolveInputs, type ConfiguredServer } from './configured-servers';
import type { ServerConsent } from './consent';

/**
 * Offers the recorded servers to VS Code's own MCP support as HTTP definitions that point at the
 * extension's 127.0.0.1 endpoint, so the agent's calls flow through the recorder. Nothing starts
 * here: a server's process starts when VS Code connects (lazily, per MCP session), after
 * `resolveMcpServerDefinition` has checked trust and consent and resolved its inputs.
 */
export class RecordedServerProvider implements vscode.McpServerDefinitionProvider<vscode.McpServerDefinition> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeMcpServerDefinitions = this.changed.event;
  private readonly byLabel = new Map<string, ConfiguredServer>();

  constructor(
    private readonly flight: Flight,
    private readonly consent: ServerConsent,
    private readonly secrets: vscode.SecretStorage,
  ) {}

  static register(flight: Flight, consent: ServerConsent, secrets: vscode.SecretStorage): vscode.Disposable {
    const provider = new RecordedServerProvider(flight, consent, secrets);
    const watcher = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${Settings.section}.${Settings.servers}`) || e.affectsConfiguration(`${Settings.section}.${Settings.disabledServers}`)) provider.changed.fire();
    });
    return vscode.Disposable.from(vscode.lm.registerMcpServerDefinitionProvider(McpProviderId, provider), watcher, provider.changed);
  }

  async provideMcpServerDefinitions(): Promise<vscode.McpServerDefinition[]> {
    const { servers, problems } = recordedServers();
    for (const p of problems) this.flight.output.warn(`mcpFlight.servers: ${p}`);
    if (!servers.length || !this.flight.storeRoot) return [];
    const definitions: vscode.McpServerDefinition[] = [];
    this.byLabel.clear();
    for (const server of servers) {
      this.byLabel.set(server.spec.name, server);
      if (isOptedOut(server)) {
        definitions.push(directDefinition(server));
        continue;
      }
      // Only an address for now: the server becomes reachable in resolve, after trust and consent
      // (and its inputs, which may only be asked for there).
      const handle = await this.flight.reserve(server.spec.name);
      definitions.push(new vscode.McpHttpServerDefinition(server.spec.name, vscode.Uri.parse(handle.url), handle.headers, fingerprintVersion(server)));
    }
    return definitions;
  }

  async resolveMcpServerDefinition(definition: vscode.McpServerDefinition): Promise<vscode.McpServerDefinition | undefined> {
    const server = this.byLabel.get(definition.label) ?? recordedServers().servers.find((s) => s.spec.name === definition.label);
    if (!server) return undefined;
    const spec = await resolveInputs(server, this.secrets, true);
    if (!spec) return undefined;
    if (spec.type === 'stdio' && !(await this.consent.ensure(spec))) return undefined;
    if (isOptedOut(server)) {
      this.flight.output.info(`${spec.name} is excluded from recording (mcpFlight.disabledServers): VS Code talks to it directly.`);
      return directDefinition({ ...server, spec });
    }
    const handle = await this.flight.serve(spec);
    if (definition instanceof vscode.McpHttpServerDefinition) {
      definition.uri = vscode.Uri.parse(handle.url);
      definition.headers = handle.headers;
    }
    return definition;
  }
}

function isOptedOut(server: ConfiguredServer): boolean {
  return readSettings(server.folder?.uri).disabledServers.includes(server.spec.name);
}

/** An opted-out server is still offered — VS Code talks to it without the recorder in between. */
function directDefinition(server: ConfiguredServer): vscode.McpServerDefinition {
  const spec = server.spec;
  if (spec.type === 'stdio') {
    const env: Record<string, string | number | null> = { ...(spec.env ?? {}) };
    const def = new vscode.McpStdioServerDefinition(spec.name, spec.command, spec.args ?? [], env, fingerprintVersion(server));
    if (spec.cwd) def.cwd = vscode.Uri.file(spec.cwd);
    return def;
  }
  return new vscode.McpHttpServerDefinition(spec.name, vscode.Uri.parse(spec.url), spec.headers ?? {}, fingerprintVersion(server));
}

/** Changes when the configuration changes, so VS Code refreshes its cached tools. */
function fingerprintVersion(server: ConfiguredServer): string {
  let h = 0;
  for (const c of JSON.stringify(server.spec)) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
  return (h >>> 0).toString(16);
}
