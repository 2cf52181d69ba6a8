import * as vscode from 'vscode';
import type { CallComparison, DiffableCall, DiffSession, SessionDiffReport } from '../../core/analysis/diff';
import type { Store } from '../../core/store/store';
import { Commands, ContextKeys } from '../ids';
import { runtime } from '../lazy';
import type { FlightNode } from '../views/tree';
import { callRefOf, type CallRef } from './call-ref';
import type { CommandContext } from './context';

/**
 * Compare, as in VS Code's explorer: "Select for Compare" on one call, "Compare with Selected
 * Call" on another opens the diff editor on two read-only JSON documents (arguments, result,
 * outcome, error, duration). "Compare Sessions…" opens the session diff report (the text of
 * `mcp-flight diff`) as a read-only document. The diff itself is core code, loaded lazily.
 * Rules and report: docs/diff.md.
 */
export function registerCompareCommands(ctx: CommandContext): vscode.Disposable[] {
  let selected: CallRef | undefined;

  const refOf = (arg: unknown): CallRef | undefined => callRefOf(arg) ?? callRefOf(ctx.treeView.selection[0]);

  return [
    vscode.commands.registerCommand(Commands.selectForCompare, async (arg: unknown) => {
      const ref = refOf(arg);
      if (!ref) {
        void vscode.window.showInformationMessage('Select a recorded call first.');
        return;
      }
      selected = ref;
      await vscode.commands.executeCommand('setContext', ContextKeys.compareCallSelected, true);
      vscode.window.setStatusBarMessage(`Selected call ${ref.call_id} for compare`, 4000);
    }),

    vscode.commands.registerCommand(Commands.compareWithSelected, async (arg: unknown): Promise<CallComparison | undefined> => {
      const ref = refOf(arg);
      if (!ref) return undefined;
      if (!selected) {
        void vscode.window.showInformationMessage('First choose "Select for Compare" on another call.');
        return undefined;
      }
      if (selected.source || ref.source) {
        void vscode.window.showInformationMessage('Calls of an exported session are compared with "mcp-flight diff FILE:CALL …" or through "Compare Sessions…".');
        return undefined;
      }
      const store = await ctx.flight.store();
      const a = runtime().diffCallFromStore(store, selected.session_id, selected.call_id);
      const b = runtime().diffCallFromStore(store, ref.session_id, ref.call_id);
      if (!a || !b) {
        void vscode.window.showErrorMessage(`The call ${!a ? selected.call_id : ref.call_id} is no longer in the store.`);
        return undefined;
      }
      return showCallDiff(ctx, a, b);
    }),

    // `other` (a session id or an exported file) skips the picker, for tests and other extensions.
    vscode.commands.registerCommand(Commands.compareSessions, async (arg?: FlightNode | { session_id?: string }, other?: string | vscode.Uri): Promise<SessionDiffReport | undefined> => {
      const store = await ctx.flight.store();
      const first = arg && 'kind' in arg && arg.kind === 'session' ? arg.session.session_id : (arg as { session_id?: string } | undefined)?.session_id;
      const aRef = first ?? (await pickSession(store, 'Compare which session (A)?'));
      if (!aRef) return undefined;
      const aName = typeof aRef === 'string' ? aRef.slice(0, 8) : vscode.workspace.asRelativePath(aRef);
      const b = other ?? (await pickSession(store, `Compare ${aName} (A) with which session (B)?`, typeof aRef === 'string' ? aRef : undefined));
      if (!b) return undefined;
      const load = (ref: string | vscode.Uri) => (typeof ref === 'string' ? loadStoreSession(store, ref) : loadFileSession(ref));
      let a: DiffSession;
      let bs: DiffSession;
      try {
        [a, bs] = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Comparing sessions…' }, async () => [load(aRef), load(b)]);
      } catch (err) {
        void vscode.window.showErrorMessage(`Cannot compare: ${(err as Error).message}`);
        return undefined;
      }
      const report = runtime().diffSessions(a, bs);
      const uri = ctx.documents.put(['compare', `${a.session_id.slice(0, 8)} ↔ ${bs.session_id.slice(0, 8)}.txt`], runtime().formatSessionDiffText(report));
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.languages.setTextDocumentLanguage(doc, 'plaintext');
      await vscode.window.showTextDocument(doc, { preview: false });
      const c = report.counts;
      const verdict = report.identical ? `Sessions identical (${c.matched} calls matched)` : `Sessions differ: ${c.added} added, ${c.missing} missing, ${c.changed} changed, ${c.slower} slower`;
      const open = 'Compare a Changed Call…';
      void vscode.window.showInformationMessage(`${verdict}${report.complete ? '' : ' — some parts not compared'}.`, ...(report.changed.length ? [open] : [])).then(async (choice) => {
        if (choice !== open) return;
        const pick = await vscode.window.showQuickPick(
          report.changed.map((p) => ({ label: p.a.tool, description: `${p.a.server} · A ${p.a.call_id} ↔ B ${p.b.call_id}`, detail: p.changes.join(', '), pair: p })),
          { title: 'Open which changed call in the diff editor?' },
        );
        const ca = pick && a.calls.find((x) => x.call_id === pick.pair.a.call_id);
        const cb = pick && bs.calls.find((x) => x.call_id === pick.pair.b.call_id);
        if (ca && cb) await showCallDiff(ctx, ca, cb);
      });
      return report;
    }),
  ];
}

async function showCallDiff(ctx: CommandContext, a: DiffableCall, b: DiffableCall): Promise<CallComparison> {
  const rt = runtime();
  const left = ctx.documents.put(['compare', 'A', a.session_id.slice(0, 8), `${a.tool} ${a.call_id}.json`], rt.callDocument(a));
  const right = ctx.documents.put(['compare', 'B', b.session_id.slice(0, 8), `${b.tool} ${b.call_id}.json`], rt.callDocument(b));
  const cmp = rt.compareCalls(a, b);
  await vscode.commands.executeCommand('vscode.diff', left, right, `${a.tool} (${a.call_id}) ↔ ${b.tool} (${b.call_id})`, { preview: false });
  const slower = cmp.duration.slower ? ', slower' : '';
  vscode.window.setStatusBarMessage(cmp.identical ? `Calls identical${slower}${cmp.complete ? '' : ' (some parts not compared)'}` : `Calls differ: ${cmp.changes.join(', ')}${slower}`, 8000);
  return cmp;
}

function loadStoreSession(store: Store, sessionId: string): DiffSession {
  const row = store.session(sessionId);
  if (!row) throw new Error(`no session ${sessionId} in the store`);
  return runtime().diffSessionFromRecords(store.readSessionRecords(sessionId), `store:${store.root}`, { writerAlive: row.writer_alive !== false });
}

function loadFileSession(file: vscode.Uri): DiffSession {
  const doc = runtime().readSessionExport(file.fsPath);
  if (!doc.complete) void vscode.window.showWarningMessage(`${vscode.workspace.asRelativePath(file)} has no summary line (cut short or still being written): calls pending at that point are not in it.`);
  return runtime().diffSessionFromExport(doc, `file:${file.fsPath}`);
}

/** A session of the store (newest first), or an exported file. */
async function pickSession(store: Store, title: string, exclude?: string): Promise<string | vscode.Uri | undefined> {
  type Item = vscode.QuickPickItem & { id?: string; file?: true };
  const items: Item[] = store
    .sessions()
    .filter((s) => s.session_id !== exclude)
    .map((s) => ({ label: `${new Date(s.started_at).toLocaleString()} · ${s.recorder_kind}`, description: `${s.tool_calls} calls${s.failed ? `, ${s.failed} failed` : ''}`, detail: s.session_id, id: s.session_id }));
  items.push({ label: '$(file) Exported Session File…', file: true });
  const pick = await vscode.window.showQuickPick(items, { title, matchOnDetail: true });
  if (!pick) return undefined;
  if (!pick.file) return pick.id;
  const files = await vscode.window.showOpenDialog({ title: 'Compare with an Exported Session', canSelectMany: false, filters: { 'MCP Flight Recorder session': ['json', 'jsonl'] } });
  return files?.[0];
}
