import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportRecord } from '../export/session-json';
import { exportSessionToString, SESSION_EXPORT_FORMAT } from '../export/session-json';
import { exportSessionJsonlToString, SESSION_JSONL_FORMAT } from '../export/jsonl';
import type { CheckpointRecord, JournalRecord, SegmentHeader } from '../model/records';
import { listSegments } from '../store/journal';
import { storeLayout } from '../store/layout';
import { canonicalize } from './canonical';
import { CHAIN_FORMAT, chainSessionId, fileLines, GENESIS, leafOf, linkOf, macOf, openLine, parseOpened } from './chain';
import {
  checkpointsRoot,
  digestOf,
  externalPrunedFile,
  type PrunedRecord,
  prunedLogFile,
  readJsonLines,
  readStoreIdentity,
  realRoot,
  signatureValid,
  type StoreRegistration,
  storeCheckpointDir,
  type WriterEntry,
} from './checkpoints';
import { type AuditEntry, type ExportAudit, EXPORT_AUDIT_FORMAT } from './export-audit';
import { type AuditKeys, fingerprintOf, flightHome, loadAuditKeys, publicKeyFromRaw } from './keys';

/**
 * Verification of the audit trail (docs/audit-trail.md): `verifyStore(root)` over a store's
 * journal with the user's keys and the checkpoints kept outside the workspace, `verifyExport(file)`
 * over an exported session with the Ed25519 public key alone. Both return a structured report:
 * which checks ran, every finding (the first bad record first, and why), and a verdict that is
 * `intact` only when every check passed and every record is sealed by a checkpoint. Any doubt —
 * a key missing, a record unsealed, a log absent — is never reported as intact.
 */

export type Verdict = 'intact' | 'unsealed' | 'tampered' | 'unverifiable';

export type FindingKind =
  | 'modified'
  | 'missing'
  | 'duplicated'
  | 'reordered'
  | 'inserted'
  | 'truncated'
  | 'forged'
  | 'inconsistent'
  | 'unchained'
  | 'untrusted_key'
  | 'no_key'
  | 'unsealed'
  | 'torn_tail'
  | 'unreadable';

export interface Finding {
  kind: FindingKind;
  /** `tamper`: evidence the trail was changed. `incomplete`: something cannot be proven (unsealed records, a key or log missing). */
  severity: 'tamper' | 'incomplete';
  check: string;
  detail: string;
  file?: string;
  /** 1-based line number in the file (segment line 1 is its header). */
  line?: number;
  offset?: number;
  session_id?: string;
  seq?: number;
  writer_id?: string;
  segment?: number;
  /** The checkpoint concerned (truncated after checkpoint K, checkpoint K forged…). */
  checkpoint?: number;
  /** Position of the event in an export's `events`, 0-based. */
  event?: number;
}

export type CheckStatus = 'pass' | 'fail' | 'incomplete' | 'skipped';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
}

export interface VerifyStats {
  writers: number;
  segments: number;
  /** Journal lines (headers, records, checkpoints) or, for an export, chain positions. */
  lines: number;
  records: number;
  checkpoints: number;
  /** Records covered by a signed checkpoint. */
  sealed: number;
  /** Records written after the last checkpoint of their writer: authentic per the HMAC at best, but a cut there is undetectable. */
  unsealed: number;
  pruned_segments: number;
  torn_tails: number;
}

export interface VerifyReport {
  kind: 'store' | 'export';
  target: string;
  verdict: Verdict;
  /** True only for `intact`. */
  intact: boolean;
  checks: CheckResult[];
  /** Every finding, in the order the trail was walked; at most `maxFindings`. */
  findings: Finding[];
  /** How many more findings were not listed. */
  findings_omitted: number;
  /** The first bad record: the first tamper finding, else the first incomplete one. */
  first?: Finding;
  stats: VerifyStats;
  key?: { fingerprint: string; trusted: boolean; source: string };
  /** One line for people. */
  summary: string;
}

export interface VerifyOptions {
  /** Where keys and checkpoints are (default $MCP_FLIGHT_HOME, else ~/.mcp-flight). */
  home?: string;
  /** Keys to use instead of the user's; null: none (verify with `trustedKeys` only). */
  keys?: AuditKeys | null;
  /** Further trusted signing keys, as fingerprints (`sha256:<hex>`; see keys.ts parseTrustedKey). */
  trustedKeys?: string[];
  /** Findings listed in full (default 50); the rest are counted. */
  maxFindings?: number;
}

// -------------------------------------------------------------------------------------------------
// Report building

interface CheckState {
  title: string;
  ran: boolean;
  skipped?: string;
  fail: number;
  incomplete: number;
  notes: string[];
}

class Reporter {
  readonly findings: Finding[] = [];
  omitted = 0;
  private firstTamper?: Finding;
  private firstIncomplete?: Finding;
  private readonly checks = new Map<string, CheckState>();
  readonly stats: VerifyStats = { writers: 0, segments: 0, lines: 0, records: 0, checkpoints: 0, sealed: 0, unsealed: 0, pruned_segments: 0, torn_tails: 0 };
  key?: VerifyReport['key'];

  constructor(
    readonly kind: 'store' | 'export',
    readonly target: string,
    private readonly max: number,
    checks: Array<[string, string]>,
  ) {
    for (const [id, title] of checks) this.checks.set(id, { title, ran: false, fail: 0, incomplete: 0, notes: [] });
  }

  ran(id: string, note?: string): void {
    const c = this.check(id);
    c.ran = true;
    if (note) c.notes.push(note);
  }

  skip(id: string, why: string): void {
    const c = this.check(id);
    c.skipped ??= why;
  }

  note(id: string, note: string): void {
    this.check(id).notes.push(note);
  }

  add(f: Finding): void {
    const c = this.check(f.check);
    c.ran = true;
    if (f.severity === 'tamper') {
      c.fail++;
      this.firstTamper ??= f;
    } else {
      c.incomplete++;
      this.firstIncomplete ??= f;
    }
    if (this.findings.length < this.max) this.findings.push(f);
    else this.omitted++;
  }

  tamper(check: string, kind: FindingKind, detail: string, where: Partial<Finding> = {}): void {
    this.add({ kind, severity: 'tamper', check, detail, ...where });
  }

  incomplete(check: string, kind: FindingKind, detail: string, where: Partial<Finding> = {}): void {
    this.add({ kind, severity: 'incomplete', check, detail, ...where });
  }

  get tampered(): boolean {
    return this.firstTamper !== undefined;
  }

  private check(id: string): CheckState {
    let c = this.checks.get(id);
    if (!c) this.checks.set(id, (c = { title: id, ran: false, fail: 0, incomplete: 0, notes: [] }));
    return c;
  }

  report(): VerifyReport {
    const checks: CheckResult[] = [];
    for (const [id, c] of this.checks) {
      const status: CheckStatus = c.fail ? 'fail' : c.incomplete ? 'incomplete' : c.ran ? 'pass' : 'skipped';
      const counts = [c.fail ? `${c.fail} failed` : '', c.incomplete ? `${c.incomplete} not provable` : ''].filter(Boolean).join(', ');
      const detail = [counts, ...c.notes, status === 'skipped' ? (c.skipped ?? 'not applicable') : ''].filter(Boolean).join('; ');
      checks.push({ id, title: c.title, status, detail });
    }
    const unsealedOnly = !this.firstTamper && this.findings.every((f) => f.kind === 'unsealed' || f.kind === 'torn_tail') && this.omitted === 0;
    // Fail closed: a check that matters and did not run, while there was something to check, is doubt.
    const required = this.kind === 'store' ? ['key', 'hash-chain', 'hmac'] : ['key', 'manifest', 'hash-chain', 'coverage', 'derived'];
    const missed = (this.kind === 'store' ? this.stats.lines : this.stats.records) > 0 && checks.some((c) => required.includes(c.id) && c.status === 'skipped');
    if (missed && !this.firstTamper && !this.firstIncomplete) {
      const c = checks.find((x) => required.includes(x.id) && x.status === 'skipped')!;
      this.incomplete(c.id, 'unreadable', `the ${c.id} check could not run`);
      c.status = 'incomplete';
    }
    const verdict: Verdict = this.firstTamper ? 'tampered' : this.firstIncomplete ? (unsealedOnly ? 'unsealed' : 'unverifiable') : checks.some((c) => c.status === 'fail' || c.status === 'incomplete') ? 'unverifiable' : 'intact';
    const first = this.firstTamper ?? this.firstIncomplete;
    const s = this.stats;
    const what = this.kind === 'store' ? `${s.records} records in ${s.segments} segments of ${s.writers} writers${s.pruned_segments ? ` (${s.pruned_segments} more segments pruned by signed records)` : ''}` : `${s.records} events`;
    const summary =
      verdict === 'intact'
        ? s.lines || s.records
          ? `intact: ${what}, all sealed by ${s.checkpoints} signed checkpoints`
          : `intact: nothing recorded${s.pruned_segments ? `; ${s.pruned_segments} segments pruned by signed records` : ''}`
        : verdict === 'unsealed'
          ? `no tampering found, but ${s.unsealed} unsealed (written after the last checkpoint: a cut there would go unnoticed)${s.torn_tails ? `, ${s.torn_tails} torn tail${s.torn_tails > 1 ? 's' : ''}` : ''}; ${what}`
          : verdict === 'tampered'
            ? `TAMPERED: ${first ? describeFinding(first) : 'see findings'}`
            : `not verifiable: ${first ? describeFinding(first) : 'a check could not run'}`;
    return {
      kind: this.kind,
      target: this.target,
      verdict,
      intact: verdict === 'intact',
      checks,
      findings: this.findings,
      findings_omitted: this.omitted,
      ...(first ? { first } : {}),
      stats: { ...s },
      ...(this.key ? { key: this.key } : {}),
      summary,
    };
  }
}

export function describeFinding(f: Finding): string {
  const where: string[] = [];
  if (f.file) where.push(f.line !== undefined ? `${f.file} line ${f.line}` : f.file);
  if (f.event !== undefined) where.push(`event #${f.event + 1}`);
  if (f.session_id) where.push(`session ${f.session_id}${f.seq !== undefined ? ` seq ${f.seq}` : ''}`);
  else if (f.seq !== undefined) where.push(`seq ${f.seq}`);
  return `${f.kind}${where.length ? ` (${where.join(', ')})` : ''}: ${f.detail}`;
}

const EXIT = { intact: 0, tampered: 1, unsealed: 3, unverifiable: 3 } as const;

/** The CLI's exit code for a verdict: 0 intact, 1 tampered, 3 not provable (unsealed records, a key or log missing). */
export function exitCodeOf(report: VerifyReport): number {
  return EXIT[report.verdict];
}

/** The report as text for a terminal. */
export function formatReport(r: VerifyReport, options: { verbose?: boolean } = {}): string {
  const mark: Record<CheckStatus, string> = { pass: 'ok  ', fail: 'FAIL', incomplete: '??  ', skipped: 'skip' };
  const out: string[] = [];
  out.push(`Verified ${r.kind === 'store' ? 'store' : 'export'} ${r.target}`);
  if (r.key) out.push(`Signing key ${r.key.fingerprint} (${r.key.trusted ? 'trusted' : 'NOT trusted'}: ${r.key.source})`);
  out.push('Checks:');
  const width = Math.max(...r.checks.map((c) => c.id.length));
  for (const c of r.checks) out.push(`  [${mark[c.status]}] ${c.id.padEnd(width)}  ${c.title}${c.detail ? ` — ${c.detail}` : ''}`);
  const s = r.stats;
  out.push(
    r.kind === 'store'
      ? `Journal: ${s.writers} writers, ${s.segments} segments, ${s.lines} lines, ${s.records} records, ${s.checkpoints} checkpoints, ${s.sealed} sealed, ${s.unsealed} unsealed${s.pruned_segments ? `, ${s.pruned_segments} segments pruned` : ''}${s.torn_tails ? `, ${s.torn_tails} torn tails` : ''}`
      : `Export: ${s.records} events, ${s.checkpoints} checkpoints, ${s.sealed} sealed, ${s.unsealed} unsealed`,
  );
  if (r.first) out.push(`First problem: ${describeFinding(r.first)}`);
  const rest = r.findings.filter((f) => f !== r.first);
  const shown = options.verbose ? rest : rest.slice(0, 10);
  if (shown.length) {
    out.push(`Other findings (${rest.length + r.findings_omitted}):`);
    for (const f of shown) out.push(`  - ${describeFinding(f)}`);
    if (rest.length + r.findings_omitted > shown.length) out.push(`  … ${rest.length + r.findings_omitted - shown.length} more (--verbose, or --json)`);
  }
  out.push(`Result: ${r.summary}`);
  return out.join('\n');
}

// -------------------------------------------------------------------------------------------------
// Keys

interface KeyRing {
  local?: AuditKeys;
  /** Fingerprints trusted for signatures. */
  trusted: Set<string>;
  publicKeys: Map<string, crypto.KeyObject>;
}

function keyRing(options: VerifyOptions, r: Reporter, home: string): KeyRing {
  let local: AuditKeys | undefined;
  if (options.keys !== undefined) local = options.keys ?? undefined;
  else {
    try {
      local = loadAuditKeys({ home, create: false });
    } catch (err) {
      r.incomplete('key', 'no_key', (err as Error).message);
    }
  }
  const ring: KeyRing = { trusted: new Set(options.trustedKeys ?? []), publicKeys: new Map() };
  if (local) {
    ring.local = local;
    ring.trusted.add(local.fingerprint);
    ring.publicKeys.set(local.fingerprint, local.publicKey);
    for (const w of local.warnings) r.note('key', w);
  }
  return ring;
}

/** The public key a record names, when its fingerprint matches the raw key given and is trusted. */
function publicKeyFor(ring: KeyRing, fingerprint: string, rawBase64: string | undefined): crypto.KeyObject | undefined {
  const known = ring.publicKeys.get(fingerprint);
  if (known) return known;
  if (!rawBase64) return undefined;
  try {
    const raw = Buffer.from(rawBase64, 'base64');
    if (raw.toString('base64') !== rawBase64 || fingerprintOf(raw) !== fingerprint) return undefined;
    const key = publicKeyFromRaw(raw);
    ring.publicKeys.set(fingerprint, key);
    return key;
  } catch {
    return undefined;
  }
}

// -------------------------------------------------------------------------------------------------
// The store

const STORE_CHECKS: Array<[string, string]> = [
  ['key', 'the HMAC key and a trusted Ed25519 signing key are at hand'],
  ['identity', 'store identity: audit.json, every segment header, no earlier store replaced at this path'],
  ['line-format', 'every line is a chained journal line; each segment starts with its header'],
  ['hash-chain', 'SHA-256 chain over the RFC 8785 canonical records: every line follows the one before it'],
  ['hmac', "HMAC-SHA256 of every line's exact bytes"],
  ['signatures', 'Ed25519 signatures of checkpoints and pruned records'],
  ['checkpoints', 'checkpoints numbered in order, each naming the previous and sealing every line before it'],
  ['segments', "each writer's segments continuous; any missing one covered by a signed pruned record"],
  ['external', 'checkpoints kept outside the workspace match the journal (no truncation, rollback or removed writer)'],
  ['sealed', 'every record sealed by a signed checkpoint'],
];

interface LineInfo {
  index: number;
  offset: number;
  bad?: string;
  h?: string;
  hBuf?: Buffer;
  leaf?: Buffer;
  sid: string;
  mac?: boolean;
  type?: string;
  seq?: number;
  header?: SegmentHeader;
  checkpoint?: CheckpointRecord;
}

interface SegmentFile {
  file: string;
  name: string;
  writerId: string;
  segmentNo: number;
}

interface WriterState {
  writerId: string;
  /** False until a checkpoint was seen, when the writer's first segments are not present (pruned): numbering starts there. */
  anchored: boolean;
  lastK: number;
  lastDigest: string | null;
  lastCheckpoint?: { k: number; segment: number; line: number };
  journalCheckpoints: Map<number, { digest: string; segment: number; line: number }>;
  final?: { segment: number; line: number };
  seqs: Map<string, number>;
  /** Last line's chain value of each present segment. */
  lastH: Map<number, string | null>;
  headers: Map<number, SegmentHeader | undefined>;
}

/** Verifies a store: its journal, pruned records and the checkpoint logs outside the workspace. */
export function verifyStore(root: string, options: VerifyOptions = {}): VerifyReport {
  const layout = storeLayout(root);
  const r = new Reporter('store', layout.root, options.maxFindings ?? 50, STORE_CHECKS);
  if (!fs.existsSync(layout.markerFile)) {
    // Nothing here — but a store registered at this path outside the workspace means one was recorded and is gone.
    checkRegistry(options.home ?? flightHome(), '', layout.root, r);
    if (!r.findings.length) r.incomplete('identity', 'unreadable', `no MCP Flight Recorder store at ${layout.root} (no store.json)`);
    return r.report();
  }
  const home = options.home ?? flightHome();
  const ring = keyRing(options, r, home);
  if (ring.local) r.ran('key', `HMAC key and Ed25519 key ${short(ring.local.fingerprint)} from ${ring.local.secretFile}`);
  else if (!r.findings.length) r.incomplete('key', 'no_key', `no audit key in ${path.join(home, 'keys')}: the HMAC of journal lines cannot be checked${ring.trusted.size ? '' : ' and no signing key is trusted (pass --key)'}`);
  if (ring.local) r.key = { fingerprint: ring.local.fingerprint, trusted: true, source: ring.local.secretFile };
  else if (ring.trusted.size) r.key = { fingerprint: [...ring.trusted].join(', '), trusted: true, source: 'given with --key' };

  // Identity, then what is outside the workspace — read before the journal, which is always ahead of it.
  const identity = readStoreIdentity(layout);
  let storeId = identity.storeId;
  const external = storeId ? readExternal(home, storeId) : undefined;

  // The journal.
  const segs: SegmentFile[] = listSegments(layout).map((file) => {
    const name = path.basename(file);
    const m = /^(.*)-(\d+)\.jsonl$/.exec(name);
    return { file, name, writerId: m?.[1] ?? name, segmentNo: m ? Number(m[2]) : -1 };
  });
  const byWriter = new Map<string, SegmentFile[]>();
  for (const s of segs) {
    let list = byWriter.get(s.writerId);
    if (!list) byWriter.set(s.writerId, (list = []));
    list.push(s);
  }
  r.stats.segments = segs.length;
  const writers = new Map<string, WriterState>();
  let chained = 0;
  for (const [writerId, list] of [...byWriter].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    list.sort((a, b) => a.segmentNo - b.segmentNo);
    const w: WriterState = { writerId, anchored: list[0]!.segmentNo === 0, lastK: 0, lastDigest: null, journalCheckpoints: new Map(), seqs: new Map(), lastH: new Map(), headers: new Map() };
    writers.set(writerId, w);
    for (const seg of [...list]) {
      if (!fs.existsSync(seg.file)) {
        // Removed since the listing (retention at work): judged with the pruned records below.
        list.splice(list.indexOf(seg), 1);
        r.stats.segments--;
        continue;
      }
      const lines = readSegmentLines(seg, ring, r);
      const header = lines.lines[0]?.header;
      if (header?.audit) {
        chained++;
        if (!storeId) {
          storeId = header.audit.store_id;
        }
      }
      walkSegment(seg, lines, w, ring, r, storeId, seg === list[list.length - 1] || list.indexOf(seg) === list.length - 1);
    }
  }
  r.stats.writers = writers.size;

  // Identity checks.
  if (!storeId) {
    if (identity.problem && chained === 0 && !segs.length) r.ran('identity', 'empty store: nothing recorded yet');
    else if (identity.problem) r.incomplete('identity', 'unchained', `${identity.problem}, and no segment carries an audit chain: this store was recorded without the audit trail`);
  } else if (!identity.storeId) {
    r.tamper('identity', 'missing', `${identity.problem ?? 'audit.json is missing'}, while the journal's segments name store ${storeId}`, { file: 'audit.json' });
  } else r.ran('identity', `store ${storeId}`);
  const ext = external ?? (storeId ? readExternal(home, storeId) : undefined);
  if (storeId) checkRegistry(home, storeId, layout.root, r);

  // Pruned records: read after the segments, so a prune racing with us is seen.
  const pruned = storeId ? readPruned(layout, home, storeId, ring, r) : new Map<string, PrunedRecord['segments'][number]>();
  r.stats.pruned_segments = pruned.size;

  // Segment continuity, and what the logs outside the workspace say.
  const writerIds = new Set<string>([...writers.keys(), ...(ext?.writers.keys() ?? [])]);
  for (const writerId of [...writerIds].sort()) {
    const w = writers.get(writerId);
    const log = ext?.writers.get(writerId);
    const present = (byWriter.get(writerId) ?? []).map((s) => s.segmentNo);
    const known = new Set<number>(present);
    for (const cp of log?.checkpoints ?? []) known.add(cp.segment);
    for (const p of pruned.values()) if (p.writer_id === writerId) known.add(p.segment);
    const max = Math.max(-1, ...known);
    if (w || log) r.ran('segments');
    for (let n = 0; n <= max; n++) {
      const name = `${writerId}-${String(n).padStart(4, '0')}.jsonl`;
      if (present.includes(n)) {
        // A segment's header names the last chain value of the one before it.
        const prevExpected = n === 0 ? null : present.includes(n - 1) ? w?.lastH.get(n - 1) : pruned.get(`${writerId}-${String(n - 1).padStart(4, '0')}.jsonl`)?.last_h;
        const header = w?.headers.get(n);
        if (header?.audit && prevExpected !== undefined && header.audit.prev !== prevExpected) {
          r.tamper('segments', n === 0 ? 'inconsistent' : 'missing', n === 0 ? 'the first segment of a writer names a previous segment' : `its header names ${short(header.audit.prev)} as the end of segment ${n - 1}, which ends with ${short(prevExpected)}: lines at the end of segment ${n - 1} are missing or changed`, { file: name, line: 1, writer_id: writerId, segment: n });
        }
        continue;
      }
      if (pruned.has(name)) continue;
      r.tamper('segments', 'missing', `segment ${n} of writer ${writerId} is missing and no signed pruned record covers it`, { file: name, writer_id: writerId, segment: n });
    }
    if (log) {
      r.ran('external');
      compareExternal(w, log, pruned, ring, r);
    }
    else if (w && [...w.headers.values()].some((h) => h?.audit)) {
      r.incomplete('external', 'missing', `no checkpoint log for writer ${writerId} in ${storeId ? storeCheckpointDir(home, storeId) : checkpointsRoot(home)}: a cut after its last checkpoint could not be detected (recorded under another MCP_FLIGHT_HOME or on another machine?)`, { writer_id: writerId });
    }
  }
  if (ext) for (const problem of ext.problems) r.tamper('external', problem.kind, problem.detail, { file: problem.file });
  return r.report();
}

function short(h: string | null | undefined): string {
  if (h === null || h === undefined) return 'nothing';
  return h.startsWith('sha256:') ? `${h.slice(0, 19)}…` : `${h.slice(0, 12)}…`;
}

function readSegmentLines(seg: SegmentFile, ring: KeyRing, r: Reporter): { lines: LineInfo[]; torn?: { offset: number; bytes: number } } {
  const lines: LineInfo[] = [];
  let torn: { offset: number; bytes: number } | undefined;
  let macKey: Buffer | undefined;
  let macChecked = false;
  try {
    for (const raw of fileLines(seg.file)) {
      if (raw.torn) {
        torn = { offset: raw.offset, bytes: raw.bytes.length };
        break;
      }
      const info: LineInfo = { index: raw.index, offset: raw.offset, sid: '' };
      lines.push(info);
      const opened = openLine(raw.bytes);
      if (!opened) {
        // The header of a segment written without the audit trail is plain JSON.
        if (raw.index === 0) {
          try {
            const v = JSON.parse(raw.bytes.toString('utf8')) as SegmentHeader;
            if (v?.type === 'segment') info.header = v;
          } catch {
            // reported by the walk
          }
        }
        info.bad = 'not a chained journal line (the chain members are missing or damaged)';
        continue;
      }
      let value: unknown;
      try {
        value = parseOpened(opened);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
        info.leaf = leafOf(value);
      } catch (err) {
        info.h = opened.h;
        info.hBuf = Buffer.from(opened.h, 'hex');
        info.bad = `not a JSON record (${(err as Error).message})`;
        continue;
      }
      info.h = opened.h;
      info.hBuf = Buffer.from(opened.h, 'hex');
      info.sid = chainSessionId(value);
      const rec = value as { type?: unknown; seq?: unknown };
      if (typeof rec.type === 'string') info.type = rec.type;
      if (typeof rec.seq === 'number') info.seq = rec.seq;
      if (rec.type === 'segment' && raw.index === 0) {
        info.header = value as SegmentHeader;
        const fp = info.header.audit?.key;
        if (ring.local && fp === ring.local.fingerprint) macKey = ring.local.macKey;
      } else if (rec.type === 'checkpoint') info.checkpoint = value as CheckpointRecord;
      if (macKey) {
        macChecked = true;
        info.mac = crypto.timingSafeEqual(macOf(macKey, info.hBuf, opened), Buffer.from(opened.mac, 'hex'));
      }
    }
  } catch (err) {
    r.tamper('line-format', 'unreadable', `cannot read the segment: ${(err as Error).message}`, { file: seg.name });
  }
  if (macChecked) r.ran('hmac');
  else if (lines[0]?.header?.audit) {
    r.incomplete('hmac', 'no_key', ring.local ? `written with key ${short(lines[0].header.audit.key)}, not the local one (${short(ring.local.fingerprint)}): its HMAC cannot be checked` : 'no HMAC key: line MACs not checked', { file: seg.name });
  }
  return { lines, ...(torn ? { torn } : {}) };
}

/** Walks one segment's chain, checkpoints and sequence numbers. */
function walkSegment(seg: SegmentFile, data: { lines: LineInfo[]; torn?: { offset: number; bytes: number } }, w: WriterState, ring: KeyRing, r: Reporter, storeId: string | undefined, lastOfWriter: boolean): void {
  const { lines, torn } = data;
  const at = (l: LineInfo, extra: Partial<Finding> = {}): Partial<Finding> => ({ file: seg.name, line: l.index + 1, offset: l.offset, writer_id: seg.writerId, segment: seg.segmentNo, ...(l.sid ? { session_id: l.sid } : {}), ...(l.seq !== undefined ? { seq: l.seq } : {}), ...extra });
  r.stats.lines += lines.length;
  w.lastH.set(seg.segmentNo, lines.length ? (lines[lines.length - 1]!.h ?? null) : null);
  const header = lines[0]?.header;
  w.headers.set(seg.segmentNo, header);
  if (!lines.length) {
    r.tamper('line-format', 'missing', 'the segment is empty: its header and records are gone', { file: seg.name, writer_id: seg.writerId, segment: seg.segmentNo });
    return;
  }
  if (!header?.audit) {
    if (header && !lines[0]!.h) {
      // Written without the audit trail (an older version, or no key at the time).
      r.incomplete('line-format', 'unchained', `segment written without the audit trail (${header.audit === undefined ? 'no chain in its header' : 'damaged header'}): its ${lines.length - 1} records cannot be verified`, at(lines[0]!));
      r.stats.records += lines.filter((l) => l.sid).length;
      return;
    }
    r.tamper('line-format', 'missing', 'the segment does not start with its chained header', at(lines[0]!));
  } else {
    r.ran('line-format');
    const a = header.audit;
    if (header.writer_id !== seg.writerId || header.segment !== seg.segmentNo) r.tamper('identity', 'inconsistent', `the header names writer ${header.writer_id} segment ${header.segment}, not the file's`, at(lines[0]!));
    if (a.chain !== CHAIN_FORMAT) r.tamper('line-format', 'inconsistent', `unknown chain format "${a.chain}"`, at(lines[0]!));
    if (storeId && a.store_id !== storeId) r.tamper('identity', 'inconsistent', `the segment belongs to store ${a.store_id}, not ${storeId} (moved in from another store?)`, at(lines[0]!));
    if (!ring.trusted.has(a.key)) r.incomplete('signatures', 'untrusted_key', `signed with key ${a.key}, which is not trusted${ring.local ? ` (the local key is ${ring.local.fingerprint})` : ''}; pass --key ${a.key} if it is yours`, at(lines[0]!));
  }
  const publicKey = header?.audit && ring.trusted.has(header.audit.key) ? publicKeyFor(ring, header.audit.key, header.audit.public_key) : undefined;

  // The chain.
  const seenH = new Map<string, number>();
  let prev: Buffer = GENESIS;
  let lastCheckpointLine = -1;
  let foldNext = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.sid) r.stats.records++;
    if (l.bad || !l.hBuf || !l.leaf) {
      if (i > 0 || header?.audit) r.tamper('line-format', 'modified', `${l.bad ?? 'unreadable line'}: changed or inserted after it was written`, at(l));
      if (l.hBuf) prev = l.hBuf;
      foldNext = true;
      continue;
    }
    if (i > 0 && l.type === 'segment') r.tamper('line-format', 'inserted', 'a segment header in the middle of a segment', at(l));
    const expected = linkOf(prev, l.leaf, l.sid);
    const linked = expected.equals(l.hBuf);
    r.ran('hash-chain');
    if (l.mac === false) {
      r.tamper('hmac', 'modified', linked ? 'its bytes were changed after it was written (the HMAC does not match; the change leaves the canonical record — or the chain value — as it was)' : 'its content was changed after it was written (neither the hash chain nor the HMAC match)', at(l));
      foldNext = true;
    } else if (!linked) {
      if (foldNext) {
        // The line before was flagged: this one merely no longer follows it.
      } else {
        const dup = seenH.get(l.h!);
        if (dup !== undefined) r.tamper('hash-chain', 'duplicated', `a copy of line ${dup + 1}`, at(l));
        else {
          // Where does this line belong? Its own h names its predecessor's.
          let pred = -1;
          for (let j = Math.max(0, i - 200); j < Math.min(lines.length, i + 200); j++) {
            const c = lines[j]!;
            if (j !== i - 1 && c.hBuf && linkOf(c.hBuf, l.leaf, l.sid).equals(l.hBuf)) {
              pred = j;
              break;
            }
          }
          if (i === 0 || (l.type === 'segment' && i > 0)) r.tamper('hash-chain', 'modified', 'the header does not start the chain', at(l));
          else if (pred > i) r.tamper('hash-chain', 'reordered', `out of order: it was written after line ${pred + 1}`, at(l));
          else if (pred >= 0) r.tamper('hash-chain', 'inserted', `line${i - 1 - pred > 1 ? `s ${pred + 2}–${i}` : ` ${i}`} before it ${i - 1 - pred > 1 ? 'were' : 'was'} inserted or moved here (it was written right after line ${pred + 1})`, at(l));
          else if (l.mac === undefined && !ring.local) r.tamper('hash-chain', 'modified', 'the line does not follow the one before it (changed, or records before it are missing)', at(l));
          else r.tamper('hash-chain', 'missing', `records before this line are missing (it is authentic, but was not written after line ${i})${l.seq !== undefined && l.sid && w.seqs.has(l.sid) && w.seqs.get(l.sid)! < l.seq - 1 ? `: seq ${w.seqs.get(l.sid)! + 1}${l.seq - 1 > w.seqs.get(l.sid)! + 1 ? `–${l.seq - 1}` : ''} of its session` : ''}`, at(l));
        }
      }
      foldNext = true;
    } else foldNext = false;
    if (!seenH.has(l.h!)) seenH.set(l.h!, i);
    prev = l.hBuf;

    if (l.sid && l.seq !== undefined) w.seqs.set(l.sid, Math.max(w.seqs.get(l.sid) ?? 0, l.seq));
    if (l.checkpoint) {
      lastCheckpointLine = i;
      checkCheckpoint(l, lines, seg, w, publicKey, r, storeId, at(l));
      if (l.checkpoint.final) w.final = { segment: seg.segmentNo, line: i };
    } else if (w.final && !(w.final.segment === seg.segmentNo && w.final.line === i)) {
      r.tamper('checkpoints', 'inserted', `a line after checkpoint ${w.lastK}, which was final (written by a clean shutdown)`, at(l));
      w.final = undefined;
    }
  }

  // Sealing: checkpoints seal what is before them; a segment that is not its writer's last is
  // sealed by the next segment's header naming its end.
  const after = lines.length - 1 - lastCheckpointLine;
  if (!lastOfWriter) {
    r.stats.sealed += lines.filter((l) => l.sid).length;
    if (torn) r.tamper('line-format', 'inserted', `${torn.bytes} bytes after the last line of a segment its writer had already left`, { file: seg.name, offset: torn.offset, writer_id: seg.writerId, segment: seg.segmentNo });
    return;
  }
  const unsealedRecords = lines.slice(lastCheckpointLine + 1).filter((l) => l.sid).length;
  r.stats.sealed += lines.filter((l) => l.sid).length - unsealedRecords;
  r.stats.unsealed += unsealedRecords;
  if (torn && w.final) r.tamper('line-format', 'inserted', `${torn.bytes} bytes after the final checkpoint`, { file: seg.name, offset: torn.offset, writer_id: seg.writerId, segment: seg.segmentNo });
  else if (torn) {
    r.stats.torn_tails++;
    r.incomplete('sealed', 'torn_tail', `torn tail: ${torn.bytes} bytes without a closing newline after line ${lines.length} (a writer killed mid-write, or still writing); not sealed`, { file: seg.name, offset: torn.offset, writer_id: seg.writerId, segment: seg.segmentNo });
  }
  if (after > 0 && unsealedRecords > 0) {
    const first = lines[lastCheckpointLine + 1]!;
    r.incomplete('sealed', 'unsealed', `${unsealedRecords} unsealed: the ${after} lines after ${lastCheckpointLine >= 0 ? `checkpoint ${w.lastK}` : 'the header'} are not covered by a checkpoint (the writer was killed, or is still recording)`, at(first, { line: first.index + 1 }));
  } else r.ran('sealed');
}

function checkCheckpoint(l: LineInfo, lines: LineInfo[], seg: SegmentFile, w: WriterState, publicKey: crypto.KeyObject | undefined, r: Reporter, storeId: string | undefined, where: Partial<Finding>): void {
  const cp = l.checkpoint!;
  r.stats.checkpoints++;
  const here = { ...where, checkpoint: cp.k };
  if (publicKey) {
    r.ran('signatures');
    if (cp.key !== (lines[0]?.header?.audit?.key ?? '') || !signatureValid(publicKey, cp)) r.tamper('signatures', 'forged', `checkpoint ${cp.k}: the signature is not valid for key ${short(lines[0]?.header?.audit?.key)}`, here);
  } else r.skip('signatures', 'no trusted public key for this segment');
  r.ran('checkpoints');
  if (cp.v !== 1 || typeof cp.k !== 'number' || typeof cp.upto !== 'number') {
    r.tamper('checkpoints', 'modified', 'not a checkpoint this version understands', here);
    return;
  }
  if (cp.writer_id !== seg.writerId || cp.segment !== seg.segmentNo || (storeId && cp.store_id !== storeId)) r.tamper('checkpoints', 'inconsistent', `checkpoint ${cp.k} belongs to ${cp.store_id}/${cp.writer_id} segment ${cp.segment}`, here);
  if (cp.upto !== l.index) r.tamper('checkpoints', cp.upto > l.index ? 'missing' : 'inserted', `checkpoint ${cp.k} sealed ${cp.upto} lines before it, but there are ${l.index}: ${Math.abs(cp.upto - l.index)} line(s) ${cp.upto > l.index ? 'missing' : 'inserted'} before it`, here);
  else {
    const before = lines[l.index - 1];
    if (before?.h !== cp.h) r.tamper('checkpoints', 'modified', `checkpoint ${cp.k} sealed chain value ${short(cp.h)} but line ${l.index} has ${short(before?.h)}: lines before it were changed`, here);
  }
  if (!w.anchored) {
    w.anchored = true;
  } else if (cp.k !== w.lastK + 1) {
    if (cp.k > w.lastK + 1) r.tamper('checkpoints', 'missing', `checkpoint${cp.k - w.lastK > 2 ? `s ${w.lastK + 1}–${cp.k - 1}` : ` ${w.lastK + 1}`} of this writer ${cp.k - w.lastK > 2 ? 'are' : 'is'} missing before checkpoint ${cp.k}`, here);
    else r.tamper('checkpoints', cp.k === w.lastK ? 'duplicated' : 'reordered', `checkpoint ${cp.k} after checkpoint ${w.lastK}`, here);
  } else if (cp.prev !== w.lastDigest) r.tamper('checkpoints', 'inconsistent', `checkpoint ${cp.k} does not name checkpoint ${w.lastK} as its predecessor`, here);
  w.lastK = cp.k;
  w.lastDigest = digestOf(cp);
  w.lastCheckpoint = { k: cp.k, segment: seg.segmentNo, line: l.index };
  w.journalCheckpoints.set(cp.k, { digest: w.lastDigest, segment: seg.segmentNo, line: l.index });
}

// Outside the workspace --------------------------------------------------------------------------

interface ExternalWriter {
  file: string;
  entry?: WriterEntry;
  checkpoints: CheckpointRecord[];
}

interface ExternalState {
  writers: Map<string, ExternalWriter>;
  problems: Array<{ kind: FindingKind; detail: string; file: string }>;
}

function readExternal(home: string, storeId: string): ExternalState {
  const dir = storeCheckpointDir(home, storeId);
  const state: ExternalState = { writers: new Map(), problems: [] };
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return state;
  }
  for (const name of names.sort()) {
    if (!name.endsWith('.jsonl') || name.startsWith('_')) continue;
    const file = path.join(dir, name);
    const writerId = name.slice(0, -'.jsonl'.length);
    const log = readJsonLines(file);
    const w: ExternalWriter = { file, checkpoints: [] };
    state.writers.set(writerId, w);
    for (const l of log.lines) {
      const v = l.value as { type?: unknown } | undefined;
      if (l.error || !v) state.problems.push({ kind: 'modified', detail: `line ${l.line} of the checkpoint log outside the workspace is damaged`, file });
      else if (v.type === 'writer' && l.line === 1) w.entry = v as WriterEntry;
      else if (v.type === 'checkpoint') w.checkpoints.push(v as CheckpointRecord);
      else state.problems.push({ kind: 'inserted', detail: `line ${l.line} of the checkpoint log outside the workspace is not a checkpoint`, file });
    }
  }
  return state;
}

function compareExternal(w: WriterState | undefined, log: ExternalWriter, pruned: Map<string, PrunedRecord['segments'][number]>, ring: KeyRing, r: Reporter): void {
  const file = log.file;
  const writerId = w?.writerId ?? path.basename(file, '.jsonl');
  // The log's own integrity (it could be damaged too).
  const key = log.entry?.key;
  const publicKey = key ? publicKeyFor(ring, key, undefined) : undefined;
  if (!log.entry) r.tamper('external', 'missing', 'the checkpoint log outside the workspace lacks its writer entry', { file, writer_id: writerId });
  else if (publicKey && (!signatureValid(publicKey, log.entry) || log.entry.writer_id !== writerId)) r.tamper('external', 'forged', "the checkpoint log's writer entry is not validly signed", { file, writer_id: writerId });
  let prevDigest: string | null = null;
  let k = 0;
  for (const cp of log.checkpoints) {
    k++;
    if (publicKey && !signatureValid(publicKey, cp)) {
      r.tamper('external', 'forged', `checkpoint ${cp.k} outside the workspace is not validly signed`, { file, writer_id: writerId, checkpoint: cp.k });
      break;
    }
    if (cp.k !== k || cp.prev !== prevDigest || cp.writer_id !== writerId || (key && cp.key !== key)) {
      r.tamper('external', 'inconsistent', `the checkpoint log outside the workspace is out of order at checkpoint ${cp.k}`, { file, writer_id: writerId, checkpoint: cp.k });
      break;
    }
    prevDigest = digestOf(cp);
  }
  const lastK = w?.lastK ?? 0;
  const prunedSeg = (segment: number): boolean => pruned.has(`${writerId}-${String(segment).padStart(4, '0')}.jsonl`);
  let reportedCut = false;
  for (const cp of log.checkpoints) {
    const mine = w?.journalCheckpoints.get(cp.k);
    if (mine) {
      if (mine.digest !== digestOf(cp)) r.tamper('external', 'inconsistent', `checkpoint ${cp.k} in the journal differs from its copy outside the workspace (rewritten)`, { file: `${writerId}-${String(mine.segment).padStart(4, '0')}.jsonl`, line: mine.line + 1, writer_id: writerId, checkpoint: cp.k });
      continue;
    }
    if (prunedSeg(cp.segment)) continue;
    if (cp.k > lastK) {
      if (!reportedCut) {
        reportedCut = true;
        const tail = w?.lastCheckpoint;
        r.tamper(
          'external',
          'truncated',
          `truncated after checkpoint ${lastK}: checkpoint ${cp.k} (segment ${cp.segment}, sealing ${cp.upto} lines) and ${log.checkpoints.length - cp.k} later ones are recorded outside the workspace but are gone from the journal — records were cut off or the journal rolled back`,
          { file: `${writerId}-${String(cp.segment).padStart(4, '0')}.jsonl`, writer_id: writerId, segment: cp.segment, checkpoint: lastK, ...(tail && tail.segment === cp.segment ? { line: tail.line + 2 } : {}) },
        );
      }
    } else r.tamper('external', 'missing', `checkpoint ${cp.k} is recorded outside the workspace but missing from the journal`, { writer_id: writerId, checkpoint: cp.k });
  }
  if (!w && log.entry && !log.checkpoints.length && !(pruned.size && [...pruned.values()].some((p) => p.writer_id === writerId))) {
    r.tamper('segments', 'missing', `writer ${writerId} recorded into this store (its start is logged outside the workspace) but its segments are gone and no pruned record covers them`, { writer_id: writerId, file });
  }
}

function checkRegistry(home: string, storeId: string, root: string, r: Reporter): void {
  const here = realRoot(root);
  let names: string[];
  try {
    names = fs.readdirSync(checkpointsRoot(home));
  } catch {
    return;
  }
  for (const id of names) {
    if (id === storeId) continue;
    let reg: StoreRegistration | undefined;
    try {
      reg = JSON.parse(fs.readFileSync(path.join(checkpointsRoot(home), id, 'store.json'), 'utf8')) as StoreRegistration;
    } catch {
      continue;
    }
    if (reg?.root !== here) continue;
    r.tamper('identity', 'missing', `an earlier store at this path (id ${id}, created ${reg.created_at}) is gone: its journal was deleted or replaced. If that was deliberate, remove ${path.join(checkpointsRoot(home), id)}`, { file: 'audit.json' });
  }
}

function readPruned(layout: ReturnType<typeof storeLayout>, home: string, storeId: string, ring: KeyRing, r: Reporter): Map<string, PrunedRecord['segments'][number]> {
  const out = new Map<string, PrunedRecord['segments'][number]>();
  const inStore = readJsonLines(prunedLogFile(layout));
  const outside = readJsonLines(externalPrunedFile(home, storeId));
  const ids = new Set<string>();
  const take = (lines: ReturnType<typeof readJsonLines>, where: string, collect: boolean): void => {
    for (const l of lines.lines) {
      const rec = l.value as PrunedRecord | undefined;
      if (l.error || !rec || rec.type !== 'pruned' || !Array.isArray(rec.segments)) {
        r.tamper('signatures', 'modified', `line ${l.line} of ${where} is not a pruned record`, { file: where });
        continue;
      }
      const key = publicKeyFor(ring, rec.key, undefined);
      r.ran('signatures');
      if (!key) {
        r.incomplete('signatures', 'untrusted_key', `pruned record ${rec.id} is signed with key ${rec.key}, which is not trusted`, { file: where, line: l.line });
        continue;
      }
      if (!signatureValid(key, rec) || rec.store_id !== storeId) {
        r.tamper('signatures', 'forged', `pruned record ${rec.id} is not validly signed for this store`, { file: where, line: l.line });
        continue;
      }
      if (collect) {
        ids.add(rec.id);
        for (const s of rec.segments) out.set(s.name, s);
      } else if (!ids.has(rec.id)) {
        r.tamper('segments', 'missing', `pruned record ${rec.id} (outside the workspace) is missing from the store's pruned log`, { file: 'journal/_pruned.log' });
        for (const s of rec.segments) out.set(s.name, s);
      }
    }
  };
  take(inStore, 'journal/_pruned.log', true);
  take(outside, externalPrunedFile(home, storeId), false);
  return out;
}

// -------------------------------------------------------------------------------------------------
// Exports

const EXPORT_CHECKS: Array<[string, string]> = [
  ['parse', 'the file is a session export carrying an audit section'],
  ['key', "the export's public key matches its fingerprint and is trusted"],
  ['manifest', "the exporter's signature over the audit section (chain values, event count)"],
  ['signatures', 'Ed25519 signatures of the checkpoints'],
  ['hash-chain', 'SHA-256 chain over the RFC 8785 canonical events and the other lines of their segments'],
  ['checkpoints', 'checkpoints numbered in order, each naming the previous and sealing every line before it'],
  ['coverage', 'every event covered by the chain exactly once, in order, from the start of the session'],
  ['derived', 'summary, connections and calls are what the events give'],
  ['sealed', 'every event sealed by a signed checkpoint'],
];

interface ParsedExport {
  encoding: 'json' | 'jsonl';
  events: JournalRecord[];
  audit?: ExportAudit;
  /** Everything but the audit, to compare with a regeneration. */
  rest: unknown;
  writerAlive: boolean;
  sessionId?: string;
}

/** Verifies an exported session (JSON or JSONL) offline: needs the Ed25519 public key, never the HMAC key. */
export function verifyExport(file: string, options: VerifyOptions = {}): VerifyReport {
  const r = new Reporter('export', path.resolve(file), options.maxFindings ?? 50, EXPORT_CHECKS);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    r.incomplete('parse', 'unreadable', `cannot read ${file}: ${(err as Error).message}`);
    return r.report();
  }
  return verifyExportText(text, r, options);
}

/** Same, over the export's text (the extension may hold it in memory). */
export function verifyExportContent(text: string, name: string, options: VerifyOptions = {}): VerifyReport {
  return verifyExportText(text, new Reporter('export', name, options.maxFindings ?? 50, EXPORT_CHECKS), options);
}

function parseExport(text: string, r: Reporter): ParsedExport | undefined {
  const trimmed = text.trimStart();
  let doc: Record<string, unknown> | undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) doc = v as Record<string, unknown>;
  } catch {
    // JSONL, or damaged
  }
  if (doc && doc.format === SESSION_EXPORT_FORMAT) {
    const { audit, ...rest } = doc;
    const session = doc.session as { terminal_state?: unknown; session_id?: unknown } | undefined;
    return {
      encoding: 'json',
      events: Array.isArray(doc.events) ? (doc.events as JournalRecord[]) : [],
      ...(audit !== undefined ? { audit: audit as ExportAudit } : {}),
      rest,
      writerAlive: session?.terminal_state === 'in_progress',
      ...(typeof session?.session_id === 'string' ? { sessionId: session.session_id } : {}),
    };
  }
  if (doc) {
    r.tamper('parse', 'modified', `not a session export (format ${JSON.stringify(doc.format)})`);
    return undefined;
  }
  if (!trimmed.startsWith('{"kind"') && !trimmed.startsWith('{')) {
    r.tamper('parse', 'modified', 'not JSON');
    return undefined;
  }
  // JSONL: one object per line, a newline after each.
  if (!text.endsWith('\n')) {
    r.tamper('parse', 'truncated', 'the JSONL export does not end with a newline: it was cut short');
    return undefined;
  }
  const lines: Array<Record<string, unknown>> = [];
  const raw = text.slice(0, -1).split('\n');
  for (let i = 0; i < raw.length; i++) {
    try {
      const v = JSON.parse(raw[i]!) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      lines.push(v as Record<string, unknown>);
    } catch (err) {
      r.tamper('parse', 'modified', `line ${i + 1} is not a JSON object (${(err as Error).message})`, { line: i + 1 });
      return undefined;
    }
  }
  const head = lines[0];
  if (head?.kind !== 'session' || head.format !== SESSION_JSONL_FORMAT) {
    r.tamper('parse', 'modified', 'not a session export (its first line is not a session line of a known format)');
    return undefined;
  }
  const last = lines[lines.length - 1];
  if (last?.kind !== 'summary') {
    r.tamper('parse', 'truncated', 'the JSONL export has no summary line: it was cut short');
    return undefined;
  }
  const { audit, ...summary } = last;
  const events = lines.filter((l) => l.kind === 'event').map(({ kind: _kind, ...rec }) => rec as unknown as JournalRecord);
  return {
    encoding: 'jsonl',
    events,
    ...(audit !== undefined ? { audit: audit as ExportAudit } : {}),
    rest: [...lines.slice(0, -1), summary],
    writerAlive: summary.terminal_state === 'in_progress',
    ...(typeof head.session_id === 'string' ? { sessionId: head.session_id } : {}),
  };
}

function verifyExportText(text: string, r: Reporter, options: VerifyOptions): VerifyReport {
  const parsed = parseExport(text, r);
  if (!parsed) return r.report();
  r.ran('parse', `${parsed.encoding.toUpperCase()}, ${parsed.events.length} events`);
  r.stats.records = parsed.events.length;
  const home = options.home ?? flightHome();
  const ring = keyRing(options, r, home);

  const audit = parsed.audit;
  if (!audit || typeof audit !== 'object') {
    r.incomplete('parse', 'unchained', parsed.events.length ? 'the export carries no audit section (exported from a journal without the audit trail, or by an older version): nothing can be verified' : 'the export has no events (exported without them): nothing can be verified');
    return r.report();
  }
  if (audit.format !== EXPORT_AUDIT_FORMAT || !Array.isArray(audit.parts) || typeof audit.public_key !== 'object' || audit.public_key === null) {
    r.tamper('parse', 'modified', `the audit section is not ${EXPORT_AUDIT_FORMAT}`);
    return r.report();
  }
  if (parsed.sessionId !== undefined && audit.session_id !== parsed.sessionId) r.tamper('coverage', 'inconsistent', `the audit section is for session ${audit.session_id}, the export for ${parsed.sessionId}`);

  // The key.
  const fp = audit.public_key.fingerprint;
  let publicKey: crypto.KeyObject | undefined;
  try {
    const raw = Buffer.from(audit.public_key.raw, 'base64');
    if (audit.public_key.alg !== 'Ed25519' || raw.toString('base64') !== audit.public_key.raw || fingerprintOf(raw) !== fp) throw new Error('the public key does not match its fingerprint');
    publicKey = publicKeyFromRaw(raw);
  } catch (err) {
    r.tamper('key', 'forged', (err as Error).message);
  }
  const trusted = ring.trusted.has(fp);
  r.key = { fingerprint: String(fp), trusted, source: trusted ? (ring.local?.fingerprint === fp ? `the local key, ${ring.local.secretFile}` : 'given with --key') : 'carried by the export only' };
  if (publicKey) {
    if (trusted) r.ran('key', `signed by ${short(fp)}`);
    else r.incomplete('key', 'untrusted_key', `signed by key ${fp}, which is not trusted: anyone can sign an export with a key of their own. If this is the recorder's key (compare its fingerprint with "mcp-flight verify --print-key" on the recording machine), pass --key ${fp}`);
  }
  if (!publicKey) return r.report();

  // The exporter's signature over the audit section.
  if (!audit.signature) r.incomplete('manifest', 'missing', 'the exporter did not sign the audit section (it had no key): a cut after a checkpoint would go unnoticed');
  else {
    const { signature, ...body } = audit;
    const sig = Buffer.from(String(signature.sig), 'base64');
    let ok = signature.key === fp && sig.length === 64 && sig.toString('base64') === signature.sig;
    try {
      ok = ok && crypto.verify(null, Buffer.from(canonicalize(body), 'utf8'), publicKey, sig);
    } catch {
      ok = false;
    }
    if (!ok) r.tamper('manifest', 'forged', "the exporter's signature does not match the audit section: it was changed after the export (events added, removed or cut)");
    else r.ran('manifest', `signed ${audit.exported_at}`);
  }
  if (Array.isArray(audit.problems) && audit.problems.length) {
    for (const p of audit.problems.slice(0, 20)) r.tamper('hash-chain', 'modified', `the exporter found the journal already damaged: ${p}`);
  }
  const covered = walkExport(parsed, audit, publicKey, r);
  if (audit.events !== covered) r.tamper('coverage', 'inconsistent', `the audit section says it covers ${audit.events} events, its parts cover ${covered}`);
  checkDerived(parsed, r);
  return r.report();
}

/** Walks the export's chain; returns how many events its parts cover. */
function walkExport(parsed: ParsedExport, audit: ExportAudit, publicKey: crypto.KeyObject, r: Reporter): number {
  const events = parsed.events;
  const sessionId = audit.session_id;
  const leaves = new Map<number, Buffer>();
  const leafAt = (i: number): Buffer | undefined => {
    let l = leaves.get(i);
    if (!l && i < events.length) {
      try {
        l = leafOf(events[i]);
        leaves.set(i, l);
      } catch {
        return undefined;
      }
    }
    return l;
  };
  let next = 0;
  let lastK: number | undefined;
  let lastDigest: string | null | undefined;
  /** Events before the last checkpoint met. */
  let sealedCount = 0;
  let lastSeq = 0;
  const ev = (i: number): Partial<Finding> => ({ event: i, ...(events[i]?.session_id ? { session_id: events[i]!.session_id } : {}), ...(typeof events[i]?.seq === 'number' ? { seq: events[i]!.seq } : {}) });

  for (const part of audit.parts) {
    const where = (line: number): Partial<Finding> => ({ file: part.segment, line: line + 1, writer_id: part.writer_id, segment: part.segment_no });
    const entries: AuditEntry[] = Array.isArray(part.entries) ? part.entries : [];
    // Positions of this part: [h, leaf, sid, what] in order.
    type Pos = { h: string; leaf?: Buffer; sid: string; event?: number; checkpoint?: CheckpointRecord; header?: SegmentHeader; broken?: string };
    const pos: Pos[] = [];
    for (const e of entries) {
      if ('broken' in e) pos.push({ h: '', sid: '', broken: e.broken });
      else if ('header' in e) pos.push({ h: e.h, leaf: safeLeaf(e.header), sid: '', header: e.header });
      else if ('checkpoint' in e) pos.push({ h: e.h, leaf: safeLeaf(e.checkpoint), sid: '', checkpoint: e.checkpoint });
      else if ('events' in e) {
        const hs = Array.isArray(e.h) ? e.h : [];
        if (hs.length !== e.events) r.tamper('coverage', 'inconsistent', `an events entry of ${e.events} lists ${hs.length} chain values`, where(part.start + pos.length));
        for (const h of hs) {
          const i = next++;
          pos.push({ h, leaf: leafAt(i), sid: typeof events[i]?.session_id === 'string' ? events[i]!.session_id : '', event: i });
        }
      } else if ('other' in e) {
        if (e.other === sessionId) r.tamper('coverage', 'missing', "a record of this very session is hidden as another session's line", where(part.start + pos.length));
        pos.push({ h: e.h, leaf: /^[0-9a-f]{64}$/.test(e.leaf) ? Buffer.from(e.leaf, 'hex') : undefined, sid: e.other });
      } else r.tamper('coverage', 'modified', 'an audit entry of an unknown kind', where(part.start + pos.length));
    }
    if (!pos.length) {
      r.tamper('coverage', 'missing', 'an empty part', where(part.start));
      continue;
    }
    // The anchor: the segment header, or a signed checkpoint that says where the chain stood.
    // Checkpoint numbering is checked within a part (the stretch between parts is not exported).
    lastK = undefined;
    lastDigest = undefined;
    const first = pos[0]!;
    let prev: Buffer;
    if (first.header) {
      if (part.start !== 0) r.tamper('hash-chain', 'inconsistent', 'the segment header is not at line 1', where(part.start));
      const a = first.header.audit;
      if (!a || a.key !== audit.public_key.fingerprint || a.store_id !== audit.store_id || first.header.writer_id !== part.writer_id || first.header.segment !== part.segment_no) r.tamper('hash-chain', 'inconsistent', 'the segment header does not match the audit section (store, writer, segment or key)', where(part.start));
      prev = GENESIS;
    } else if (first.checkpoint) {
      const cp = first.checkpoint;
      if (cp.upto !== part.start) r.tamper('checkpoints', 'inconsistent', `the part starts at line ${part.start + 1} but its checkpoint ${cp.k} sits at line ${cp.upto + 1}`, where(part.start));
      prev = /^[0-9a-f]{64}$/.test(String(cp.h)) ? Buffer.from(cp.h, 'hex') : GENESIS;
    } else {
      r.tamper('coverage', 'missing', 'the part starts neither at the segment header nor at a checkpoint', where(part.start));
      prev = GENESIS;
    }

    let fold = false;
    for (let p = 0; p < pos.length; p++) {
      const x = pos[p]!;
      const line = part.start + p;
      if (x.broken || !x.leaf || !/^[0-9a-f]{64}$/.test(x.h)) {
        r.tamper('hash-chain', 'modified', x.broken ?? (x.event !== undefined ? 'the event is not a JSON record' : 'a chain value or leaf is malformed'), { ...where(line), ...(x.event !== undefined ? ev(x.event) : {}) });
        fold = true;
        if (/^[0-9a-f]{64}$/.test(x.h)) prev = Buffer.from(x.h, 'hex');
        continue;
      }
      r.ran('hash-chain');
      const hBuf = Buffer.from(x.h, 'hex');
      if (!linkOf(prev, x.leaf, x.sid).equals(hBuf)) {
        if (!fold) classifyExportBreak(p, pos, events, r, { ...where(line), ...(x.event !== undefined ? ev(x.event) : {}) });
        fold = true;
      } else fold = false;
      prev = hBuf;
      if (x.event !== undefined) {
        const e = events[x.event]!;
        if (e.session_id !== sessionId) r.tamper('coverage', 'inserted', `event of session ${String(e.session_id)} in an export of ${sessionId}`, ev(x.event));
        if (typeof e.seq === 'number') {
          if (x.event === 0 && e.seq !== 1) r.incomplete('coverage', 'missing', `the export starts at seq ${e.seq}: the session's first ${e.seq - 1} records are not in it (pruned from the store?)`, ev(0));
          else if (x.event > 0 && e.seq !== lastSeq + 1) r.tamper('coverage', e.seq > lastSeq + 1 ? 'missing' : e.seq === lastSeq ? 'duplicated' : 'reordered', `seq ${e.seq} follows seq ${lastSeq}`, ev(x.event));
          lastSeq = e.seq;
        }
      }
      if (x.checkpoint) {
        const cp = x.checkpoint;
        r.stats.checkpoints++;
        r.ran('signatures');
        r.ran('checkpoints');
        if (cp.key !== audit.public_key.fingerprint || !signatureValid(publicKey, cp)) r.tamper('signatures', 'forged', `checkpoint ${cp.k}: the signature is not valid for key ${short(audit.public_key.fingerprint)}`, { ...where(line), checkpoint: cp.k });
        if (cp.writer_id !== part.writer_id || cp.segment !== part.segment_no || cp.store_id !== audit.store_id) r.tamper('checkpoints', 'inconsistent', `checkpoint ${cp.k} belongs elsewhere (${cp.writer_id} segment ${cp.segment})`, { ...where(line), checkpoint: cp.k });
        if (p > 0) {
          if (cp.upto !== line) r.tamper('checkpoints', cp.upto > line ? 'missing' : 'inserted', `checkpoint ${cp.k} sealed ${cp.upto} lines before it, but it is at line ${line + 1}`, { ...where(line), checkpoint: cp.k });
          else if (cp.h !== pos[p - 1]!.h) r.tamper('checkpoints', 'modified', `checkpoint ${cp.k} sealed chain value ${short(cp.h)}, but the line before it has ${short(pos[p - 1]!.h)}`, { ...where(line), checkpoint: cp.k });
          if (lastK !== undefined && cp.k !== lastK + 1) r.tamper('checkpoints', cp.k > lastK + 1 ? 'missing' : 'reordered', `checkpoint ${cp.k} follows checkpoint ${lastK}`, { ...where(line), checkpoint: cp.k });
          else if (lastK !== undefined && cp.prev !== lastDigest) r.tamper('checkpoints', 'inconsistent', `checkpoint ${cp.k} does not name checkpoint ${lastK}`, { ...where(line), checkpoint: cp.k });
          for (let q = p - 1; q >= 0; q--) {
            const e = pos[q]!.event;
            if (e !== undefined) {
              sealedCount = Math.max(sealedCount, e + 1);
              break;
            }
          }
        }
        lastK = cp.k;
        lastDigest = digestOf(cp);
      }
    }
    if (part.end?.h !== pos[pos.length - 1]!.h || part.end?.line !== part.start + pos.length - 1) r.tamper('hash-chain', 'inconsistent', "the part's end does not match its entries", where(part.start + pos.length - 1));
    r.stats.lines += pos.length;
  }
  if (next < events.length) {
    const extra = canonicalize(events[next]);
    const twin = events.findIndex((e, i) => i < next && canonicalize(e) === extra);
    if (twin >= 0) r.tamper('coverage', 'duplicated', `the event is a copy of event #${twin + 1}, past the end of the chain`, ev(next));
    else r.tamper('coverage', 'inserted', `${events.length - next} events at the end are not covered by the chain (added after the export)`, ev(next));
  } else if (next > events.length) r.tamper('coverage', 'missing', `the chain covers ${next} events but the export has ${events.length}: events were removed`, ev(Math.max(0, events.length - 1)));
  else r.ran('coverage', `${events.length} events`);
  r.stats.sealed = Math.min(sealedCount, events.length);
  const covered = next;
  if (sealedCount < events.length) {
    const n = events.length - sealedCount;
    r.stats.unsealed += n;
    r.incomplete('sealed', 'unsealed', `${n} unsealed: the last ${n} events come after the last checkpoint (the session was exported while recording, or its recorder was killed)`, ev(sealedCount));
  } else r.ran('sealed');
  return covered;
}

function safeLeaf(v: unknown): Buffer | undefined {
  try {
    return leafOf(v);
  } catch {
    return undefined;
  }
}

/** Why the chain breaks at position p of an export part: the event there was changed, moved, duplicated, or events are missing. */
function classifyExportBreak(p: number, pos: Array<{ h: string; leaf?: Buffer; sid: string; event?: number }>, events: JournalRecord[], r: Reporter, where: Partial<Finding>): void {
  const x = pos[p]!;
  if (x.event === undefined) {
    r.tamper('hash-chain', 'modified', 'a line of the segment (not an event) was changed', where);
    return;
  }
  // Where would this event's content fit?
  const fitsAt = (leaf: Buffer | undefined, sid: string, q: number): boolean => {
    const before = q === 0 ? undefined : pos[q - 1]!.h;
    if (!leaf || !before || !/^[0-9a-f]{64}$/.test(before) || !/^[0-9a-f]{64}$/.test(pos[q]?.h ?? '')) return false;
    return linkOf(Buffer.from(before, 'hex'), leaf, sid).equals(Buffer.from(pos[q]!.h, 'hex'));
  };
  let fits = -1;
  for (let q = Math.max(0, p - 200); q < Math.min(pos.length, p + 200); q++) {
    if (q !== p && fitsAt(x.leaf, x.sid, q)) {
      fits = q;
      break;
    }
  }
  const canon = canonicalize(events[x.event]);
  const twin = events.findIndex((e, i) => i !== x.event && canonicalize(e) === canon);
  const nextFitsHere = p + 1 < pos.length && fitsAt(pos[p + 1]!.leaf, pos[p + 1]!.sid, p);
  if (twin >= 0) r.tamper('hash-chain', 'duplicated', `the event is a copy of event #${twin + 1}`, where);
  else if (fits === p + 1 && nextFitsHere) r.tamper('hash-chain', 'reordered', 'the event was swapped with the one after it', where);
  else if (fits === p + 1) r.tamper('hash-chain', 'missing', 'an event before this one was removed (this one was recorded one position later)', where);
  else if (fits >= 0) r.tamper('hash-chain', 'reordered', `the event is out of order: it was recorded at chain position ${fits + 1} of its segment stretch, not ${p + 1}`, where);
  else r.tamper('hash-chain', 'modified', 'the event was changed after it was recorded (its content no longer gives the chain value recorded for it)', where);
}

/** The derived sections must be exactly what this version computes from the (verified) events. */
function checkDerived(parsed: ParsedExport, r: Reporter): void {
  if (!parsed.events.length) return;
  let regenerated: string;
  const records: ExportRecord[] = parsed.events.map((record) => ({ record }));
  const opts = { writerAlive: parsed.writerAlive, audit: false as const };
  try {
    regenerated = parsed.encoding === 'json' ? exportSessionToString(records, opts) : exportSessionJsonlToString(records, opts);
  } catch (err) {
    r.tamper('derived', 'modified', `the events cannot be assembled into a session: ${(err as Error).message}`);
    return;
  }
  const expected: unknown = parsed.encoding === 'json' ? JSON.parse(regenerated) : regenerated.slice(0, -1).split('\n').map((l) => JSON.parse(l) as unknown);
  const diff = firstDifference(expected, parsed.rest, '');
  if (diff !== undefined) r.tamper('derived', 'modified', `${diff || 'the document'} differs from what the signed events give (summary, connections or calls were edited)`);
  else r.ran('derived', 'recomputed from the events and equal');
}

function firstDifference(a: unknown, b: unknown, at: string): string | undefined {
  if (a === b) return undefined;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return canonicalize(a ?? null) === canonicalize(b ?? null) ? undefined : at;
  if (Array.isArray(a) !== Array.isArray(b)) return at;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    for (let i = 0; i < Math.max(a.length, bb.length); i++) {
      const d = firstDifference(a[i], bb[i], `${at}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) {
    if (!(k in ao) || !(k in bo)) return at ? `${at}.${k}` : k;
    const d = firstDifference(ao[k], bo[k], at ? `${at}.${k}` : k);
    if (d !== undefined) return d;
  }
  return undefined;
}

// -------------------------------------------------------------------------------------------------

/** A store folder or an export file: whichever `target` is. */
export function verifyTarget(target: string, options: VerifyOptions = {}): VerifyReport {
  let isDir = false;
  try {
    isDir = fs.statSync(target).isDirectory();
  } catch {
    // verifyExport reports it unreadable
  }
  return isDir ? verifyStore(target, options) : verifyExport(target, options);
}
