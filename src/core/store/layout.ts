import * as fs from 'node:fs';
import * as path from 'node:path';
import { JOURNAL_VERSION } from '../model/records';

/**
 * Where a store keeps what. One store is one folder (`.mcp-flight/` in the workspace by default):
 *
 *   store.json        format marker and version
 *   .gitignore        keeps the store out of commits by default
 *   journal/*.jsonl   append-only segments, one writer each: the evidence
 *   index.sqlite      the sql.js index, a rebuildable cache of the journal
 *   index.lock        held by the one process that writes the index
 */

export const DEFAULT_STORE_DIRNAME = '.mcp-flight';
export const STORE_FORMAT = 'mcp-flight.store';

export interface StoreLayout {
  root: string;
  journalDir: string;
  indexFile: string;
  lockFile: string;
  markerFile: string;
}

export function storeLayout(root: string): StoreLayout {
  const abs = path.resolve(root);
  return {
    root: abs,
    journalDir: path.join(abs, 'journal'),
    indexFile: path.join(abs, 'index.sqlite'),
    lockFile: path.join(abs, 'index.lock'),
    markerFile: path.join(abs, 'store.json'),
  };
}

export class StoreVersionError extends Error {
  constructor(
    readonly storeRoot: string,
    readonly foundVersion: number,
  ) {
    super(
      `The store at ${storeRoot} was written by a newer MCP Flight Recorder (journal format v${foundVersion}; this version understands v${JOURNAL_VERSION}). ` +
        'It is opened read-only; upgrade MCP Flight Recorder to record into it.',
    );
    this.name = 'StoreVersionError';
  }
}

export class StoreMissingError extends Error {
  constructor(readonly storeRoot: string) {
    super(`No MCP Flight Recorder store at ${storeRoot} (expected ${path.join(storeRoot, 'store.json')}). Record a session first, or pass --store DIR.`);
    this.name = 'StoreMissingError';
  }
}

/** Creates the store folder (user-only) if needed; throws StoreVersionError when a newer version wrote it. */
export function ensureStore(root: string): StoreLayout {
  const layout = storeLayout(root);
  fs.mkdirSync(layout.journalDir, { recursive: true, mode: 0o700 });
  const gitignore = path.join(layout.root, '.gitignore');
  if (!fs.existsSync(gitignore)) writeIfAbsent(gitignore, '# MCP Flight Recorder store: session recordings stay out of commits by default.\n*\n');
  if (!fs.existsSync(layout.markerFile)) {
    writeIfAbsent(layout.markerFile, JSON.stringify({ format: STORE_FORMAT, version: JOURNAL_VERSION, created_at: new Date().toISOString() }, null, 2) + '\n');
  }
  const version = readStoreVersion(layout);
  if (version > JOURNAL_VERSION) throw new StoreVersionError(layout.root, version);
  return layout;
}

/** Opens an existing store for reading. `writable` is false when a newer version wrote it. */
export function openExistingStore(root: string): { layout: StoreLayout; writable: boolean; warning?: string } {
  const layout = storeLayout(root);
  if (!fs.existsSync(layout.markerFile)) throw new StoreMissingError(layout.root);
  const version = readStoreVersion(layout);
  if (version > JOURNAL_VERSION) return { layout, writable: false, warning: new StoreVersionError(layout.root, version).message };
  return { layout, writable: true };
}

function readStoreVersion(layout: StoreLayout): number {
  try {
    const marker = JSON.parse(fs.readFileSync(layout.markerFile, 'utf8')) as { format?: unknown; version?: unknown };
    return typeof marker.version === 'number' ? marker.version : JOURNAL_VERSION;
  } catch {
    return JOURNAL_VERSION;
  }
}

/** Several recorders may create the store at once: exclusive create, and whoever loses keeps the winner's file. */
function writeIfAbsent(file: string, content: string): void {
  try {
    fs.writeFileSync(file, content, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
