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
  /** `mcpFlight.policy` from user settings only (an inline policy or a file path); undefined when unset. */
  policy: unknown;
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
    // Machine-scoped, and read from user settings only: a workspace must not be able to set its own policy.
    policy: c.inspect(Settings.policy)?.globalValue,
  };
}
