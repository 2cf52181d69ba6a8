import * as fs from 'node:fs';
import * as path from 'node:path';
import { isStorePath } from './attribution';
import type { SideEffectLedger } from './ledger';
import { isInside } from './paths';

/**
 * The CLI's workspace watcher (`mcp-flight record --watch DIR`): Node's recursive `fs.watch`
 * (inotify on Linux since Node 20, FSEvents on macOS, ReadDirectoryChangesW on Windows).
 *
 * fs.watch says only "rename" or "change" and a relative name, so the kind of effect is decided by
 * looking: on each event the path is lstat'ed at once (so the record lands in the journal next to
 * the call that caused it) and compared with what was there before (a listing taken at start,
 * kept current, with each reported file's mtime and size):
 * - exists now, unknown before → `file_created`; exists, known, mtime or size changed → `file_modified`;
 * - gone now, known before → `file_deleted` (a folder's known contents with it);
 * - a move is the old path deleted and the new one created (and a folder moved in: its contents created).
 * What coalescing loses: the kernel and Node merge events that follow each other closely, and a
 * path is only looked at when an event names it, so a file created and removed (or renamed again)
 * before it is looked at leaves nothing; several writes between two looks are one modification,
 * and a creation followed by writes before the first look is one creation. A folder's own
 * modification (its listing changed) is not an effect: its entries' changes are. Changes inside a
 * folder created an instant before may be missed while inotify adds its watch; the folder's
 * contents are listed when it appears to make up for it. A listing larger than MAX_KNOWN entries
 * is cut: beyond it, created and modified cannot be told apart (reported as modified).
 */

/** How long the CLI waits at shutdown for the last events of the last call to arrive. */
export const SETTLE_WAIT_MS = 100;
const MAX_KNOWN = 200_000;
const RECHECK_MS = 2000;

export class FsWorkspaceWatcher {
  private readonly root: string;
  /** Known paths: whether a folder, and the file's mtime/size when last reported (a later event with the same is no change). */
  private readonly known = new Map<string, { dir: boolean; sig?: string }>();
  private watcher?: fs.FSWatcher;
  private readonly recentlyCreated = new Map<string, number>();
  private truncated = false;

  constructor(
    root: string,
    private readonly ledger: SideEffectLedger,
    private readonly exclude: string[] = [],
  ) {
    this.root = path.resolve(root);
  }

  /** Lists the folder, then watches it. Throws when the folder cannot be watched. */
  start(): void {
    this.scan(this.root);
    this.watcher = fs.watch(this.root, { recursive: true }, (_type, name) => {
      if (name === null) return;
      const p = path.resolve(this.root, name.toString());
      if (this.excluded(p)) return;
      this.check(p);
      // A rename's event for the old name can be merged away (an atomic edit renaming its temporary
      // file over the target): files created an instant ago beside this one are looked at again.
      const dir = path.dirname(p);
      const now = Date.now();
      for (const [q, t] of this.recentlyCreated) {
        if (now - t > RECHECK_MS) this.recentlyCreated.delete(q);
        else if (q !== p && path.dirname(q) === dir && !fs.existsSync(q)) this.check(q);
      }
    });
    this.watcher.on('error', () => undefined);
  }

  close(): void {
    this.watcher?.close();
  }

  get listingTruncated(): boolean {
    return this.truncated;
  }

  private excluded(p: string): boolean {
    return isStorePath(p) || this.exclude.some((d) => isInside(p, path.resolve(d)));
  }

  private check(p: string): void {
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(p);
    } catch {
      st = undefined;
    }
    const was = this.known.get(p);
    if (st) {
      const isDir = st.isDirectory();
      const sig = isDir ? undefined : signature(st);
      if (was === undefined) {
        this.remember(p, isDir, sig);
        if (!isDir) this.recentlyCreated.set(p, Date.now());
        this.ledger.observe(this.truncated ? 'file_modified' : 'file_created', p, this.root, 'fs.watch', isDir);
        if (isDir) for (const child of this.scan(p, true)) this.ledger.observe('file_created', child.path, this.root, 'fs.watch', child.dir);
      } else if (!isDir && was.sig !== sig) {
        was.sig = sig;
        this.ledger.observe('file_modified', p, this.root, 'fs.watch');
      }
      return;
    }
    if (was === undefined) return;
    this.known.delete(p);
    if (was.dir) {
      const prefix = p + path.sep;
      for (const [k, v] of [...this.known]) {
        if (!k.startsWith(prefix)) continue;
        this.known.delete(k);
        this.ledger.observe('file_deleted', k, this.root, 'fs.watch', v.dir);
      }
    }
    this.ledger.observe('file_deleted', p, this.root, 'fs.watch', was.dir);
  }

  private remember(p: string, dir: boolean, sig?: string): void {
    if (this.known.size >= MAX_KNOWN) {
      this.truncated = true;
      return;
    }
    this.known.set(p, sig !== undefined ? { dir, sig } : { dir });
  }

  /** Adds a folder's contents to the listing; returns what was not known yet. */
  private scan(dir: string, withSignatures = false): Array<{ path: string; dir: boolean }> {
    const found: Array<{ path: string; dir: boolean }> = [];
    const stack = [dir];
    while (stack.length) {
      const d = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = path.join(d, e.name);
        if (this.excluded(p)) continue;
        const isDir = e.isDirectory();
        if (!this.known.has(p)) {
          found.push({ path: p, dir: isDir });
          this.remember(p, isDir, withSignatures && !isDir ? signatureOf(p) : undefined);
        }
        if (isDir) stack.push(p);
      }
    }
    return found;
  }
}

function signature(st: fs.Stats): string {
  return `${st.mtimeMs}:${st.size}`;
}

function signatureOf(p: string): string | undefined {
  try {
    return signature(fs.lstatSync(p));
  } catch {
    return undefined;
  }
}
