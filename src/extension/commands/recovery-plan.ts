import * as vscode from 'vscode';
import type { RecoveryPlan, ResumeStep } from '../../core/analysis/recovery';
import { Commands } from '../ids';
import { runtime } from '../lazy';
import type { TimelineSource } from '../views/timeline-data';
import type { FlightNode } from '../views/tree';
import { sourceOf, type CommandContext } from './context';

/**
 * Show Recovery Plan (a session's plan as a read-only text document: where it broke, what ran
 * before, what to send again) and Replay from Recovery Plan (pick one call of the plan and hand
 * it to Replay, which confirms tools that are not idempotent and asks for redacted values).
 */
export function registerRecoveryPlanCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Commands.showRecoveryPlan, async (arg?: unknown) => {
      const target = await sessionOf(ctx, arg, 'Show the recovery plan of which session?');
      if (!target) return;
      const plan = planOf(target.source, target.session_id);
      if (!plan) return;
      const uri = ctx.documents.put(['recovery-plan', `${target.session_id.slice(0, 8)} recovery plan.txt`], runtime().formatPlanText(plan));
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: false });
      const safe = plan.resume.filter((s) => s.retry_safe);
      if (!plan.resume.length || target.source.readOnly) return;
      const replay = 'Replay a Call…';
      // Not awaited: the command is done once the plan is shown; the offer stays until the user acts on it.
      void vscode.window
        .showInformationMessage(`${plan.resume.length} call${plan.resume.length === 1 ? '' : 's'} to resume, ${safe.length} retry-safe.`, replay)
        .then((answer) => (answer === replay ? vscode.commands.executeCommand(Commands.replayFromPlan, { session_id: target.session_id }) : undefined));
    }),
    vscode.commands.registerCommand(Commands.replayFromPlan, async (arg?: unknown) => {
      const target = await sessionOf(ctx, arg, 'Replay a call from the recovery plan of which session?');
      if (!target) return;
      if (target.source.readOnly) {
        void vscode.window.showInformationMessage('Replay is not available for a read-only recording.');
        return;
      }
      const plan = planOf(target.source, target.session_id);
      if (!plan) return;
      if (!plan.resume.length) {
        void vscode.window.showInformationMessage('Nothing to resume in this session: no unrecovered failure, no call left in flight.');
        return;
      }
      const pick = await vscode.window.showQuickPick(plan.resume.map(stepItem), { title: 'Replay which call of the recovery plan?', matchOnDescription: true, matchOnDetail: true });
      if (!pick) return;
      await vscode.commands.executeCommand(Commands.replay, { session_id: target.session_id, call_id: pick.step.call_id });
    }),
  ];
}

function stepItem(step: ResumeStep): vscode.QuickPickItem & { step: ResumeStep } {
  const redacted = step.redacted.length ? ` · ${step.redacted.length} redacted value${step.redacted.length === 1 ? '' : 's'} to supply` : '';
  return {
    label: `${step.retry_safe ? '$(pass)' : '$(warning)'} ${step.tool}`,
    description: `${step.server} · ${step.reason === 'in_flight' ? 'in flight' : (step.error_class ?? step.outcome)} · ${step.retry_safe ? 'retry-safe' : 'NOT retry-safe'}${redacted}`,
    detail: step.retry_note,
    step,
  };
}

function planOf(source: TimelineSource, sessionId: string): RecoveryPlan | undefined {
  try {
    const report = source.report(sessionId);
    if (!report) void vscode.window.showErrorMessage(`Session ${sessionId} is not in this recording.`);
    return report?.plan;
  } catch (err) {
    void vscode.window.showErrorMessage(`Could not build the recovery plan: ${(err as Error).message}`);
    return undefined;
  }
}

/** The session a command was invoked on: a tree node, `{session_id, source?}`, or a pick from the store. */
async function sessionOf(ctx: CommandContext, arg: unknown, title: string): Promise<{ session_id: string; source: TimelineSource } | undefined> {
  const node = arg as FlightNode | { session_id?: unknown; source?: TimelineSource } | undefined;
  let sessionId: string | undefined;
  let source: TimelineSource | undefined;
  if (node && 'kind' in node && (node.kind === 'session' || node.kind === 'server' || node.kind === 'more')) sessionId = node.session.session_id;
  else if (node && 'kind' in node && node.kind === 'call') sessionId = node.call.session_id;
  else if (node && typeof (node as { session_id?: unknown }).session_id === 'string') {
    sessionId = (node as { session_id: string }).session_id;
    source = (node as { source?: TimelineSource }).source;
  }
  if (!sessionId) {
    const store = await ctx.flight.store();
    const pick = await vscode.window.showQuickPick(
      store.sessions().map((s) => ({ label: `${new Date(s.started_at).toLocaleString()} · ${s.recorder_kind}`, description: `${s.tool_calls} calls, ${s.failed} failed`, detail: s.session_id, id: s.session_id })),
      { title },
    );
    sessionId = pick?.id;
  }
  if (!sessionId) return undefined;
  return { session_id: sessionId, source: source ?? (await sourceOf(ctx, { session_id: sessionId, call_id: '' })) };
}
