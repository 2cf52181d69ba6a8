import type { Call, SideEffect } from '../model/calls';
import type { SideEffectRecord } from '../model/records';
import { pathsNamedIn, relation } from './paths';

/**
 * Attributes side effects to calls while a session is assembled (so the index, the views and the
 * exports agree, and the recorder's per-message path does no work for it). Rules, documented in
 * docs/side-effects.md:
 *
 * - Candidates are the `tools/call` requests (client → server) in flight where the effect's record
 *   sits in the journal, plus those that ended at most SETTLE_MS before it: watchers report a
 *   change some milliseconds after it happened, often after the tool has already answered. For a
 *   resource notification, only the calls on the notifying server's connection are candidates.
 * - A candidate whose arguments name the path (absolute, relative to the watched folder, or a
 *   file:// URI) gets it as `named_in_arguments`; if none names the path itself, a candidate naming
 *   a folder that contains it does (a folder moved or deleted whole). A call still running beats
 *   one that already ended at the same level (write a.txt, then move a.txt: the deletion is the
 *   move's). The other candidates are still listed in `in_flight`.
 * - Otherwise every candidate gets it as `observed_during`, each listing all of them.
 * - No candidate: the effect is counted for the session but belongs to no call.
 * - Coalescing: a file a call created and then modifies is one creation; a file a call created and
 *   then deletes (a temporary file, such as the one an atomic edit renames over its target) is
 *   no effect at all, counted as `transient_files` — "the call" being every call it was attached to.
 * - Declared effects (policy `sideEffects` for a server/tool pattern) go to each successful call
 *   of a matching tool, as `declared`.
 */

/**
 * How long after a call ended a change can still be its own, per source: Node's fs.watch reports
 * within a millisecond or two, but the recorder's event loop may be busy forwarding messages;
 * VS Code's watcher batches and throttles its events; a server may notify a resource change just
 * after its answer.
 */
export const SETTLE_MS: Readonly<Record<SideEffectRecord['watcher'] | 'notification', number>> = { 'fs.watch': 250, vscode: 1000, notification: 250 };
const MAX_SETTLE_MS = Math.max(...Object.values(SETTLE_MS));
/** Effects kept on one call; the rest are counted in `side_effects_omitted`. */
export const MAX_EFFECTS_PER_CALL = 1000;

export interface Candidate {
  call: Call;
  /** The call's arguments (bodies are not kept on calls by the index's assembler). */
  args: unknown;
}

export interface EffectCounts {
  files_created: number;
  files_modified: number;
  files_deleted: number;
  resources_updated: number;
  resource_lists_changed: number;
  declared: number;
  /** Files created and deleted again by the same calls (not counted as created). */
  transient_files: number;
  /** Effects seen while no call was in flight. */
  unattributed: number;
}

/** Returns the effect names the policy declares for a server's tool (governor's policy file, or any list). */
export type DeclaredEffects = (server: string, tool: string) => readonly string[] | undefined;

/** A policy's `tools` entries (`server` and `tool` are glob patterns), as declared effects: every matching entry's `sideEffects`, in order, once each. */
export function declaredEffectsFrom(entries: ReadonlyArray<{ server?: string; tool?: string; sideEffects?: readonly string[] }>, matches: (pattern: string, value: string) => boolean): DeclaredEffects {
  return (server, tool) => {
    const out: string[] = [];
    for (const e of entries) {
      if (!e.sideEffects?.length) continue;
      if ((e.server === undefined || matches(e.server, server)) && (e.tool === undefined || matches(e.tool, tool))) for (const n of e.sideEffects) if (!out.includes(n)) out.push(n);
    }
    return out.length ? out : undefined;
  };
}

export class EffectAttributor {
  readonly counts: EffectCounts = { files_created: 0, files_modified: 0, files_deleted: 0, resources_updated: 0, resource_lists_changed: 0, declared: 0, transient_files: 0, unattributed: 0 };
  private recent: Array<Candidate & { endMono: number; connectionId: string }> = [];
  private readonly named = new WeakMap<Call, { root: string; paths: Set<string> }>();
  /** The calls each recent file creation was attached to, to undo it when the file turns out temporary. */
  private readonly creations = new Map<string, Call[]>();

  constructor(private readonly declared?: DeclaredEffects) {}

  /** A tools/call ended: it stays a candidate for SETTLE_MS. Returns the call when a declared effect was added. */
  ended(call: Call, args: unknown, mono: number): Call | undefined {
    if (call.method !== 'tools/call' || call.direction !== 'client_to_server') return undefined;
    // Calls end in journal order, so the oldest are first: drop those past every settle window (memory stays bounded without effects).
    while (this.recent.length && mono - this.recent[0]!.endMono > MAX_SETTLE_MS) this.recent.shift();
    this.recent.push({ call, args, endMono: mono, connectionId: call.connection_id });
    if (call.outcome !== 'success' || !this.declared) return undefined;
    const names = this.declared(call.server.name, call.tool);
    if (!names?.length) return undefined;
    for (const name of names) {
      this.counts.declared++;
      push(call, { kind: 'declared', name, attribution: 'declared', ts: call.ended_at ?? call.timestamp });
    }
    return call;
  }

  /** A file change; `open` are the calls in flight. Returns the calls it was attached to. */
  file(r: SideEffectRecord, open: Candidate[]): Call[] {
    if (isStorePath(r.path)) return [];
    const candidates = this.candidates(open, r.mono, SETTLE_MS[r.watcher] ?? SETTLE_MS['fs.watch']);
    const base: Omit<SideEffect, 'attribution'> = { kind: r.effect, path: r.path, ...(r.directory ? { directory: true as const } : {}), seq: r.seq, ts: r.ts };
    const targets = this.targets(candidates, (c) => relation(this.namedPaths(c, r.root), r.path));
    const createdBy = (call: Call) => call.side_effects?.find((e) => e.kind === 'file_created' && e.path === r.path);
    if (r.effect !== 'file_created' && targets.calls.length > 0 && targets.calls.every((c) => createdBy(c.call))) {
      if (r.effect === 'file_modified') return [];
    }
    // A deletion, attributed to a call that created the file: a temporary file. Its creation goes from
    // every call it was given to (some may have left the settle window since).
    const creators = this.creations.get(r.path);
    if (r.effect === 'file_deleted' && creators && creators.some((k) => targets.calls.some((c) => c.call === k))) {
      this.creations.delete(r.path);
      for (const k of creators) {
        k.side_effects = k.side_effects?.filter((e) => !(e.kind === 'file_created' && e.path === r.path));
        if (k.side_effects?.length === 0) delete k.side_effects;
      }
      this.counts.files_created--;
      this.counts.transient_files++;
      return creators;
    }
    if (r.effect === 'file_created') this.counts.files_created++;
    else if (r.effect === 'file_modified') this.counts.files_modified++;
    else this.counts.files_deleted++;
    const attached = this.attach(candidates, targets, base);
    if (r.effect === 'file_created' && attached.length) {
      // Bounded: a creation stays a candidate for "temporary" until the next effect beyond the longest window.
      this.creations.set(r.path, attached);
      if (this.creations.size > 10_000) this.creations.delete(this.creations.keys().next().value as string);
    }
    return attached;
  }

  /** A resources/updated or resources/list_changed notification from a server. */
  resource(connectionId: string, method: string, uri: string | undefined, seq: number, ts: string, mono: number, open: Candidate[]): Call[] {
    const kind = method === 'notifications/resources/updated' ? 'resource_updated' : 'resource_list_changed';
    if (kind === 'resource_updated') this.counts.resources_updated++;
    else this.counts.resource_lists_changed++;
    const candidates = this.candidates(open, mono, SETTLE_MS.notification).filter((c) => c.call.connection_id === connectionId);
    const base: Omit<SideEffect, 'attribution'> = { kind, ...(uri !== undefined ? { uri } : {}), seq, ts };
    return this.attach(candidates, this.targets(candidates, (c) => (uri !== undefined && namesString(c.args, uri) ? 'exact' : undefined)), base);
  }

  /** The candidates an effect goes to: those naming it (the closest naming wins), else all of them. */
  private targets(candidates: Candidate[], match: (c: Candidate) => 'exact' | 'ancestor' | undefined): { calls: Candidate[]; named: boolean } {
    const rank = candidates.map((c) => {
      const r = match(c);
      return r === undefined ? 0 : (r === 'exact' ? 3 : 1) + (c.call.outcome === 'pending' ? 1 : 0);
    });
    const best = Math.max(0, ...rank);
    if (best === 0) return { calls: candidates, named: false };
    return { calls: candidates.filter((_, i) => rank[i] === best), named: true };
  }

  private attach(candidates: Candidate[], targets: { calls: Candidate[]; named: boolean }, base: Omit<SideEffect, 'attribution'>): Call[] {
    if (candidates.length === 0) {
      this.counts.unattributed++;
      return [];
    }
    const in_flight = candidates.map((c) => c.call.call_id);
    for (const c of targets.calls) push(c.call, { ...base, attribution: targets.named ? 'named_in_arguments' : 'observed_during', in_flight });
    return targets.calls.map((c) => c.call);
  }

  private candidates(open: Candidate[], mono: number, settleMs: number): Candidate[] {
    this.recent = this.recent.filter((r) => mono - r.endMono <= MAX_SETTLE_MS);
    const recent = this.recent.filter((r) => mono - r.endMono <= settleMs);
    const out = open.filter((c) => c.call.method === 'tools/call' && c.call.direction === 'client_to_server');
    for (const r of recent) if (!out.some((c) => c.call === r.call)) out.push(r);
    return out.sort((a, b) => a.call.request_seq - b.call.request_seq);
  }

  private namedPaths(c: Candidate, root: string): Set<string> {
    let n = this.named.get(c.call);
    if (!n || n.root !== root) this.named.set(c.call, (n = { root, paths: pathsNamedIn(c.args, root) }));
    return n.paths;
  }
}

/** The recorder's own store: never an effect, whatever a watcher reports. */
export function isStorePath(p: string): boolean {
  return /(^|[\\/])\.mcp-flight([\\/]|$)/.test(p);
}

function push(call: Call, effect: SideEffect): void {
  const list = (call.side_effects ??= []);
  if (list.length >= MAX_EFFECTS_PER_CALL) {
    call.side_effects_omitted = (call.side_effects_omitted ?? 0) + 1;
    return;
  }
  list.push(effect);
}

function namesString(args: unknown, needle: string, depth = 0): boolean {
  if (depth > 16) return false;
  if (typeof args === 'string') return args === needle;
  if (Array.isArray(args)) return args.some((a) => namesString(a, needle, depth + 1));
  if (typeof args === 'object' && args !== null) return Object.values(args).some((a) => namesString(a, needle, depth + 1));
  return false;
}
