import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

/**
 * The index lock: one process at a time writes `index.sqlite`; everyone else reads the image
 * and catches up in memory. Journal segments need no lock (one writer each); only the shared
 * index image does.
 *
 * The lock is a file created with O_EXCL holding the owner's pid, hostname, time and a random
 * token. A lock whose pid is dead on this host is stale and may be taken over. Breaking a stale
 * lock is serialised through a second O_EXCL file (`index.lock.break`), so two processes that both
 * see the same stale lock cannot end up both believing they took it: only the breaker re-checks
 * and removes the stale file, and everyone (breaker included) then competes through the same
 * O_EXCL create, which exactly one wins.
 */

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  time: string;
  token: string;
}

/** Process ids are reused, most visibly in containers restarted with the same small pids. */
const PID_REUSE_SLACK_MS = 60_000;
/** A lock file with no readable owner is one being written right now, or the trace of a crash while writing it. */
const UNREADABLE_LOCK_STALE_MS = 10_000;
/** Locks from other hosts cannot be probed; their holder refreshes the mtime, and a lock left unrefreshed this long is abandoned. */
const REMOTE_LOCK_STALE_MS = 10 * 60_000;
const HEARTBEAT_MS = 60_000;

/**
 * Whether a process is alive: true/false on this host, null when it runs on another host (cannot
 * be probed). With `startedNoLaterThan` (epoch ms), a live pid whose process started clearly after
 * that moment is a reuse of the pid by some other process, so the original is dead.
 */
export function isProcessAlive(pid: number, hostname: string, startedNoLaterThan?: number): boolean | null {
  if (hostname !== os.hostname()) return null;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid !== process.pid) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      // EPERM: the process exists but belongs to someone else.
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
  }
  if (startedNoLaterThan !== undefined && Number.isFinite(startedNoLaterThan)) {
    const started = processStartTime(pid);
    if (started !== undefined && started > startedNoLaterThan + PID_REUSE_SLACK_MS) return false;
  }
  return true;
}

let bootTimeMs: number | undefined | null = null;

/** Epoch ms at which a process started (Linux only; undefined elsewhere or when unreadable). */
export function processStartTime(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    if (bootTimeMs === null) {
      const m = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
      bootTimeMs = m ? Number(m[1]) * 1000 : undefined;
    }
    if (bootTimeMs === undefined) return undefined;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    // USER_HZ is 100 on every Linux ABI Node supports.
    return Number.isFinite(ticks) ? bootTimeMs + ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

export type LockAttempt = { acquired: true; lock: IndexLock } | { acquired: false; holder?: LockOwner; reason: string };

export class IndexLock {
  private released = false;
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    readonly file: string,
    readonly owner: LockOwner,
  ) {
    this.heartbeat = setInterval(() => this.touch(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Tries once (with a few internal retries for races); never waits for a live holder. */
  static tryAcquire(file: string): LockAttempt {
    for (let attempt = 0; attempt < 4; attempt++) {
      const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), time: new Date().toISOString(), token: crypto.randomBytes(8).toString('hex') };
      if (createExclusive(file, JSON.stringify(owner) + '\n')) return { acquired: true, lock: new IndexLock(file, owner) };
      const seen = readLockFile(file);
      if (!seen) continue; // released between our create and our read: try again
      const stale = staleness(seen);
      if (!stale) return { acquired: false, ...(seen.owner ? { holder: seen.owner } : {}), reason: describeHolder(seen.owner) };
      if (!breakStale(file, seen.raw)) {
        return { acquired: false, ...(seen.owner ? { holder: seen.owner } : {}), reason: 'another process is taking over a stale index lock' };
      }
    }
    return { acquired: false, reason: 'the index lock kept changing hands' };
  }

  /** Reads who holds the lock, if anyone. */
  static holder(file: string): LockOwner | undefined {
    return readLockFile(file)?.owner;
  }

  get isHeld(): boolean {
    return !this.released;
  }

  /** True when the lock file on disk is still ours (nobody broke it, believing it stale). */
  verify(): boolean {
    if (this.released) return false;
    return readLockFile(this.file)?.owner?.token === this.owner.token;
  }

  release(): void {
    if (this.released) return;
    // Only remove the file if it is still ours: after a wrongful takeover it belongs to someone else.
    const mine = this.verify();
    this.released = true;
    clearInterval(this.heartbeat);
    if (mine) {
      try {
        fs.unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }

  private touch(): void {
    if (this.released) return;
    try {
      const now = new Date();
      fs.utimesSync(this.file, now, now);
    } catch {
      // the holder still holds in memory; verify() decides before each save
    }
  }
}

interface SeenLock {
  raw: string;
  owner?: LockOwner;
  mtimeMs: number;
}

function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readLockFile(file: string): SeenLock | undefined {
  let raw: string;
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let owner: LockOwner | undefined;
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.time === 'string' && typeof v.token === 'string') {
      owner = { pid: v.pid, hostname: v.hostname, time: v.time, token: v.token };
    }
  } catch {
    // unreadable: judged by age below
  }
  return { raw, mtimeMs, ...(owner ? { owner } : {}) };
}

function staleness(seen: SeenLock): boolean {
  const age = Date.now() - seen.mtimeMs;
  if (!seen.owner) return age > UNREADABLE_LOCK_STALE_MS;
  const alive = isProcessAlive(seen.owner.pid, seen.owner.hostname, Date.parse(seen.owner.time));
  if (alive === null) return age > REMOTE_LOCK_STALE_MS;
  return !alive;
}

/** Removes a stale lock under the break mutex. Returns false when someone else is breaking it. */
function breakStale(file: string, staleRaw: string): boolean {
  const breakFile = `${file}.break`;
  const me: LockOwner = { pid: process.pid, hostname: os.hostname(), time: new Date().toISOString(), token: crypto.randomBytes(8).toString('hex') };
  if (!createExclusive(breakFile, JSON.stringify(me) + '\n')) {
    const other = readLockFile(breakFile);
    // A breaker only holds this for a few syscalls; one that stays is the trace of a crash.
    if (other && staleness(other)) {
      try {
        fs.unlinkSync(breakFile);
      } catch {
        // someone else cleaned it
      }
    }
    return false;
  }
  try {
    // Re-check under the mutex: only a lock still holding exactly the stale content is removed,
    // never one that a live process created meanwhile.
    const now = readLockFile(file);
    if (now && now.raw === staleRaw) fs.unlinkSync(file);
    return true;
  } finally {
    try {
      fs.unlinkSync(breakFile);
    } catch {
      // nothing to clean
    }
  }
}

function describeHolder(owner: LockOwner | undefined): string {
  if (!owner) return 'the index lock is being taken by another process';
  return `the index is written by process ${owner.pid} on ${owner.hostname} (since ${owner.time})`;
}
