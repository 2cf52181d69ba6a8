import * as path from 'node:path';
import type { FileEffect, SideEffectRecord } from '../model/records';
import { isStorePath } from './attribution';
import { isInside } from './paths';

/**
 * The side-effect ledger's writing half: watchers (Node's fs.watch in the CLI, VS Code's file
 * watcher in the extension) report file changes here; what is not the recorder's own store or the
 * user's own editor save is journaled as a `side_effect` record through the Recorder, in the
 * recorder's process. Which calls an effect belongs to is decided when the session is assembled
 * (attribution.ts), so nothing here touches the per-message path.
 */

/** Longest a save may take before its file's changes count as a tool's again. */
const SAVE_TIMEOUT_MS = 30_000;

export interface EffectSink {
  sideEffect(effect: Omit<SideEffectRecord, 'type' | 'session_id' | 'seq' | 'ts' | 'mono'>): void;
}

export interface LedgerOptions {
  sink: EffectSink;
  /** Folders whose changes are never effects: the recorder's store (any `.mcp-flight` folder is excluded anyway). */
  exclude?: string[];
  /** How long after the editor saved a file its change events are still the user's (default 1500 ms). */
  userSaveGraceMs?: number;
  now?: () => number;
}

export class SideEffectLedger {
  private readonly exclude: string[];
  /** Paths the user is saving in the editor: until when their events are the user's. */
  private readonly userSaves = new Map<string, number>();
  private readonly grace: number;
  private readonly now: () => number;
  /** Events dropped, by reason: shown by the CLI and the extension's log. */
  readonly dropped = { store: 0, user_save: 0 };

  constructor(private readonly options: LedgerOptions) {
    this.exclude = (options.exclude ?? []).map((p) => path.resolve(p));
    this.grace = options.userSaveGraceMs ?? 1500;
    this.now = options.now ?? Date.now;
  }

  /** The editor is about to save `file` (onWillSaveTextDocument): its change events are the user's, not a tool's. */
  userSaveStarting(file: string): void {
    // Bounded: a save that fails never reports that it is done.
    this.userSaves.set(path.resolve(file), this.now() + SAVE_TIMEOUT_MS);
  }

  /** The editor saved `file` (onDidSaveTextDocument): events still arriving for it in the grace period are the user's. */
  userSaveDone(file: string): void {
    this.userSaves.set(path.resolve(file), this.now() + this.grace);
  }

  observe(effect: FileEffect, file: string, root: string, watcher: SideEffectRecord['watcher'], directory = false): boolean {
    const p = path.resolve(file);
    if (isStorePath(p) || this.exclude.some((d) => isInside(p, d))) {
      this.dropped.store++;
      return false;
    }
    const until = this.userSaves.get(p);
    if (until !== undefined) {
      if (this.now() <= until) {
        this.dropped.user_save++;
        return false;
      }
      this.userSaves.delete(p);
    }
    this.options.sink.sideEffect({ effect, path: p, root: path.resolve(root), ...(directory ? { directory: true as const } : {}), watcher });
    return true;
  }
}
