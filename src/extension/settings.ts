import * as vscode from 'vscode';
import { Settings } from './ids';

/** The extension's settings, read in one place with their defaults. */
export interface FlightSettings {
  storePath: string;
  captureLevel: 'full' | 'metadata';
  disabledServers: string[];
  retentionMaxAgeDays: number;
  retentionMaxSizeMB: number;
  requestTimeoutSeconds: number;
  notifyOnFailure: boolean;
}

/** Live OTLP push (docs/otlp.md); empty endpoint = off. */
export interface OtlpSettings {
  endpoint: string;
  includePayloads: boolean;
  headers: Record<string, string>;
}

export function readSettings(scope?: vscode.ConfigurationScope): FlightSettings {
  // null: "any resource" for the resource-scoped settings when no folder is in question.
  const c = vscode.workspace.getConfiguration(Settings.section, scope ?? null);
  return {
    storePath: c.get<string>(Settings.storePath) || '.mcp-flight',
    captureLevel: c.get<'full' | 'metadata'>(Settings.captureLevel) === 'metadata' ? 'metadata' : 'full',
    disabledServers: c.get<string[]>(Settings.disabledServers) ?? [],
    retentionMaxAgeDays: c.get<number>(Settings.retentionMaxAgeDays) ?? 30,
    retentionMaxSizeMB: c.get<number>(Settings.retentionMaxSizeMB) ?? 1024,
    requestTimeoutSeconds: c.get<number>(Settings.requestTimeoutSeconds) ?? 0,
    notifyOnFailure: c.get<boolean>(Settings.notifyOnFailure) ?? true,
  };
}

/** Read apart from the rest: only when a recording session starts or these settings change. */
export function readOtlpSettings(): OtlpSettings {
  const c = vscode.workspace.getConfiguration(Settings.section, null);
  return {
    endpoint: userValue<string>(c, Settings.otlpEndpoint)?.trim() ?? '',
    includePayloads: userValue<boolean>(c, Settings.otlpIncludePayloads) === true,
    headers: stringRecord(userValue<unknown>(c, Settings.otlpHeaders)),
  };
}

/**
 * The user's own value of a machine-scoped setting. VS Code already ignores workspace values of
 * such settings; reading the global value alone keeps it so even if the scope were changed, since
 * a workspace must never redirect where the user's traces go.
 */
function userValue<T>(c: vscode.WorkspaceConfiguration, key: string): T | undefined {
  return c.inspect<T>(key)?.globalValue;
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, value] of Object.entries(v)) if (typeof value === 'string') out[k] = value;
  return out;
}
