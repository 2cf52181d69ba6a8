import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import * as vscode from 'vscode';
import { extensionRedactionFile, writeExtensionRedactionFile } from '../core/audit/redaction-file';
import type { RedactionSettings } from '../core/audit/redaction-settings';
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
  redaction: RedactionSettings;
  /** `mcpFlight.policy` from user settings only (an inline policy or a file path); undefined when unset. */
  policy: unknown;
  /** Protected: a cloned repository must not turn off the record of what its tools change. */
  recordSideEffects: boolean;
}

/**
 * Settings a cloned repository must not be able to weaken — what is recorded (capture level,
 * servers left out), how long it is kept (retention), what is redacted (redaction lists, which
 * could also swallow the evidence whole). They are `machine`-scoped in package.json, so VS Code
 * takes them from user (or remote-machine) settings only; and they are read here from those
 * values alone, so a workspace or folder value is ignored even where VS Code would pass it on.
 * `workspaceOverrides()` names the ones a workspace tried to set, for a visible warning.
 */
export const PROTECTED_SETTINGS: readonly string[] = [
  Settings.captureLevel,
  Settings.disabledServers,
  Settings.retentionMaxAgeDays,
  Settings.retentionMaxSizeMB,
  Settings.redactionExtraPatterns,
  Settings.redactionAllowKeys,
  Settings.redactionAllowValues,
  // A workspace must never redirect where the user's traces go.
  Settings.otlpEndpoint,
  Settings.otlpIncludePayloads,
  Settings.otlpHeaders,
  // A cloned repository must not be able to set its own policy (docs/policy.md).
  Settings.policy,
  // Security alerts: enforcement, thresholds and notifications are the user's call, never a repository's.
  Settings.enforceAlerts,
  Settings.highFrequencyWindowSeconds,
  Settings.highFrequencyThreshold,
  Settings.notifyMinSeverity,
  // Nor stop the record of the files its tools change (docs/side-effects.md).
  Settings.recordSideEffects,
];

/** A protected setting's value from user (or remote-machine) settings, else its default; never a workspace's. */
function userLevel<T>(c: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const i = c.inspect<T>(key);
  return i ? (i.globalValue ?? i.defaultValue) : c.get<T>(key);
}

/** Live OTLP push (docs/otlp.md); empty endpoint = off. */
export interface OtlpSettings {
  endpoint: string;
  includePayloads: boolean;
  headers: Record<string, string>;
}

/** Security settings: machine-scoped in package.json, and read from user settings only (see readSecuritySettings). */
export interface SecuritySettings {
  enforceAlerts: boolean;
  highFrequency: { windowSeconds: number; threshold: number };
  notifyMinSeverity: 'low' | 'medium' | 'high' | 'off';
}

export function readSettings(scope?: vscode.ConfigurationScope): FlightSettings {
  // null: "any resource" for the resource-scoped settings when no folder is in question.
  const c = vscode.workspace.getConfiguration(Settings.section, scope ?? null);
  return {
    storePath: c.get<string>(Settings.storePath) || '.mcp-flight',
    captureLevel: userLevel<string>(c, Settings.captureLevel) === 'metadata' ? 'metadata' : 'full',
    disabledServers: arrayOf<string>(userLevel(c, Settings.disabledServers)).filter((s) => typeof s === 'string'),
    retentionMaxAgeDays: numberOr(userLevel(c, Settings.retentionMaxAgeDays), 30),
    retentionMaxSizeMB: numberOr(userLevel(c, Settings.retentionMaxSizeMB), 1024),
    requestTimeoutSeconds: c.get<number>(Settings.requestTimeoutSeconds) ?? 0,
    notifyOnFailure: c.get<boolean>(Settings.notifyOnFailure) ?? true,
    redaction: {
      extraPatterns: userLevel(c, Settings.redactionExtraPatterns),
      allowKeys: userLevel(c, Settings.redactionAllowKeys),
      allowValues: userLevel(c, Settings.redactionAllowValues),
    },
    // Machine-scoped, and read from user settings only: a workspace must not be able to set its own policy.
    policy: c.inspect(Settings.policy)?.globalValue,
    recordSideEffects: userLevel<boolean>(c, Settings.recordSideEffects) !== false,
  };
}

/**
 * The protected settings (full ids) that a workspace or folder setting tries to set — and that are
 * ignored. VS Code drops machine-scoped values from workspace settings without telling the
 * extension (`inspect` does not report them), so the workspace's own settings files are read
 * too: each folder's .vscode/settings.json and the .code-workspace file's `settings`.
 */
export function workspaceOverrides(): string[] {
  const out = new Set<string>();
  const protectedIds = new Set(PROTECTED_SETTINGS.map((k) => `${Settings.section}.${k}`));
  const scopes: Array<vscode.ConfigurationScope | null> = [null, ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri)];
  for (const scope of scopes) {
    const c = vscode.workspace.getConfiguration(Settings.section, scope);
    for (const key of PROTECTED_SETTINGS) {
      const i = c.inspect(key);
      if (i && (i.workspaceValue !== undefined || i.workspaceFolderValue !== undefined)) out.add(`${Settings.section}.${key}`);
    }
  }
  const files: Array<{ file: string; member?: string }> = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => ({ file: path.join(f.uri.fsPath, '.vscode', 'settings.json') }));
  const wsFile = vscode.workspace.workspaceFile;
  if (wsFile?.scheme === 'file') files.push({ file: wsFile.fsPath, member: 'settings' });
  for (const { file, member } of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseJsonc(text, [], { allowTrailingComma: true }) as Record<string, unknown> | undefined;
    const settings = member ? (parsed?.[member] as Record<string, unknown> | undefined) : parsed;
    if (!settings || typeof settings !== 'object') continue;
    for (const key of Object.keys(settings)) if (protectedIds.has(key)) out.add(key);
  }
  return [...out].sort();
}

function arrayOf<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
}

/**
 * Mirrors the user's redaction settings to $MCP_FLIGHT_HOME/vscode-redaction.json, which the
 * recorders wrapped around other clients' servers read (core/audit/redaction-file.ts). Nothing is
 * written while the settings are empty and no mirror exists yet. Returns an error message, if any.
 */
export function mirrorRedactionSettings(): string | undefined {
  const r = readSettings().redaction;
  const empty = [r.extraPatterns, r.allowKeys, r.allowValues].every((v) => !Array.isArray(v) || v.length === 0);
  try {
    if (empty && !fs.existsSync(extensionRedactionFile())) return undefined;
    writeExtensionRedactionFile(r);
    return undefined;
  } catch (err) {
    return `could not mirror the redaction settings for other clients' recorders: ${(err as Error).message}`;
  }
}

/** Read apart from the rest: only when a recording session starts or these settings change. */
export function readOtlpSettings(): OtlpSettings {
  const c = vscode.workspace.getConfiguration(Settings.section, null);
  return {
    endpoint: userLevel<string>(c, Settings.otlpEndpoint)?.trim() ?? '',
    includePayloads: userLevel<boolean>(c, Settings.otlpIncludePayloads) === true,
    headers: stringRecord(userLevel<unknown>(c, Settings.otlpHeaders)),
  };
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, value] of Object.entries(v)) if (typeof value === 'string') out[k] = value;
  return out;
}

/**
 * A cloned repository must not be able to switch security off (or flood the user with prompts):
 * these settings are declared machine-scoped, which VS Code does not take from workspace
 * settings, and are read here from the user's own values only (`globalValue`), so a workspace or
 * folder value is ignored even where a host would apply it.
 */
export function readSecuritySettings(): SecuritySettings {
  const c = vscode.workspace.getConfiguration(Settings.section);
  const user = <T>(key: string): T | undefined => c.inspect<T>(key)?.globalValue;
  const num = (key: string, fallback: number, min: number): number => {
    const v = user<number>(key);
    return typeof v === 'number' && Number.isFinite(v) && v >= min ? v : fallback;
  };
  const sev = user<string>(Settings.notifyMinSeverity);
  return {
    enforceAlerts: user<boolean>(Settings.enforceAlerts) === true,
    highFrequency: { windowSeconds: num(Settings.highFrequencyWindowSeconds, 10, 1), threshold: num(Settings.highFrequencyThreshold, 20, 2) },
    notifyMinSeverity: sev === 'low' || sev === 'high' || sev === 'off' ? sev : 'medium',
  };
}
