import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { recordPruned } from '../audit/checkpoints';
import { listSegments } from './journal';
import type { StoreLayout } from './layout';
import { isProcessAlive } from './lock';

/**
 * Retention removes whole journal segments, oldest first, and only segments whose writer has
 * finished: a recording in progress is never cut. The index notices the missing segments and
 * rebuilds itself from what remains.
 *
 * Before removing anything it appends a signed `pruned` record naming each segment and its last
 * chain value (journal/_pruned.log, and a copy outside the workspace), so that `mcp-flight
 * verify` tells pruning from tampering (docs/audit-trail.md).
 */

export interface RetentionPolicy {
  /** Remove segments last written more than this many days ago (0 = no age limit). */
  maxAgeDays: number;
  /** Remove the oldest segments while the journal is larger than this (0 = no size limit). */
  maxSizeBytes: number;
}

export interface PruneResult {
  removed: string[];
  freedBytes: number;
  /** Segments kept although the policy would remove them, because their writer still runs. */
  keptLive: number;
  /** The pruned record could not be written (the audit trail will report these segments missing). */
  auditError?: string;
}

interface SegmentInfo {
  file: string;
  size: number;
  mtimeMs: number;
  writerPid: number;
}

/** `<timestamp>-<pid>-<random>-<segment>.jsonl`, as JournalWriter names them. */
function writerPidOf(file: string): number {
  const m = /^\d{8}T\d{6}-(\d+)-[0-9a-f]+-\d+\.jsonl$/.exec(path.basename(file));
  return m ? Number(m[1]) : -1;
}

function segments(layout: StoreLayout): SegmentInfo[] {
  const out: SegmentInfo[] = [];
  for (const file of listSegments(layout)) {
    try {
      const st = fs.statSync(file);
      out.push({ file, size: st.size, mtimeMs: st.mtimeMs, writerPid: writerPidOf(file) });
    } catch {
      // removed meanwhile
    }
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs);
}

function finished(seg: SegmentInfo): boolean {
  return seg.writerPid <= 0 || isProcessAlive(seg.writerPid, os.hostname(), seg.mtimeMs) === false;
}

export function applyRetention(layout: StoreLayout, policy: RetentionPolicy, now = Date.now()): PruneResult {
  const segs = segments(layout);
  let total = segs.reduce((n, s) => n + s.size, 0);
  const cutoff = policy.maxAgeDays > 0 ? now - policy.maxAgeDays * 86_400_000 : -Infinity;
  const result: PruneResult = { removed: [], freedBytes: 0, keptLive: 0 };
  const doomed: SegmentInfo[] = [];
  for (const seg of segs) {
    const tooOld = seg.mtimeMs < cutoff;
    const tooBig = policy.maxSizeBytes > 0 && total > policy.maxSizeBytes;
    if (!tooOld && !tooBig) continue;
    if (!finished(seg)) {
      result.keptLive++;
      continue;
    }
    doomed.push(seg);
    total -= seg.size;
  }
  return remove(layout, doomed, `retention (max age ${policy.maxAgeDays} days, max size ${policy.maxSizeBytes} bytes)`, result);
}

/** Clear History: every finished segment goes; recordings still running stay. */
export function clearHistory(layout: StoreLayout): PruneResult {
  const result: PruneResult = { removed: [], freedBytes: 0, keptLive: 0 };
  const doomed: SegmentInfo[] = [];
  for (const seg of segments(layout)) {
    if (!finished(seg)) {
      result.keptLive++;
      continue;
    }
    doomed.push(seg);
  }
  return remove(layout, doomed, 'clear history', result);
}

/** The signed pruned record first, then the files: a crash in between leaves segments that are present and also listed (harmless). */
function remove(layout: StoreLayout, doomed: SegmentInfo[], reason: string, result: PruneResult): PruneResult {
  if (!doomed.length) return result;
  const audit = recordPruned(layout, doomed.map((s) => s.file), reason);
  if (audit.error) result.auditError = audit.error;
  for (const seg of doomed) {
    fs.rmSync(seg.file, { force: true });
    result.removed.push(seg.file);
    result.freedBytes += seg.size;
  }
  return result;
}
