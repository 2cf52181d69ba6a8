import * as fs from 'node:fs';
import * as path from 'node:path';
import { flightHome } from './keys';

/**
 * The extension's redaction settings, mirrored for the recorders it starts outside VS Code:
 * servers of other clients wrapped in `mcp-flight record --mcp-flight-wrapped` (Record Other
 * Clients' Servers) read `$MCP_FLIGHT_HOME/vscode-redaction.json`, so a pattern or allow-list set
 * in VS Code applies to them too. User-level and user-only, like the keys: a workspace cannot
 * write it. The extension writes the raw settings; the CLI checks them with the same rules
 * (redaction-settings.ts). Kept free of the Redactor so the extension's light half can write it.
 */

export function extensionRedactionFile(home: string = flightHome()): string {
  return path.join(home, 'vscode-redaction.json');
}

/** Writes the settings when they differ from the file (atomically, 0600; the home 0700 when created). Returns whether it wrote. */
export function writeExtensionRedactionFile(settings: { extraPatterns?: unknown; allowKeys?: unknown; allowValues?: unknown }, home: string = flightHome()): boolean {
  const file = extensionRedactionFile(home);
  const text = JSON.stringify({ extraPatterns: settings.extraPatterns ?? [], allowKeys: settings.allowKeys ?? [], allowValues: settings.allowValues ?? [] }, null, 2) + '\n';
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    // absent or unreadable: written below
  }
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return true;
}
