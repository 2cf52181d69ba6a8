import * as vscode from 'vscode';
import { Commands } from '../ids';
import { toJsonText } from '../views/documents';
import { TimelinePanel } from '../views/timeline-panel';
import { callRefOf } from './call-ref';
import { sourceOf, type CommandContext } from './context';

/**
 * From a call to what it carried: Show Inputs (its arguments as a JSON document — the jump
 * from a failure to its inputs), Show Result, Copy as JSON, Reveal in Timeline.
 */
export function registerInspectCommands(ctx: CommandContext): vscode.Disposable[] {
  const withCall = (fn: (ref: NonNullable<ReturnType<typeof callRefOf>>) => Promise<unknown>) => async (arg: unknown) => {
    const ref = callRefOf(arg) ?? callRefOf(ctx.treeView.selection[0]);
    if (!ref) {
      void vscode.window.showInformationMessage('Select a recorded call first.');
      return;
    }
    await fn(ref);
  };
  return [
    vscode.commands.registerCommand(
      Commands.showInputs,
      withCall(async (ref) => {
        const source = await sourceOf(ctx, ref);
        const detail = source.detail(ref.session_id, ref.call_id);
        const input = source.payload(ref.session_id, ref.call_id, 'input');
        return ctx.documents.open([ref.session_id.slice(0, 8), `${detail?.row.tool ?? 'call'} ${ref.call_id} arguments.json`], input ?? {});
      }),
    ),
    vscode.commands.registerCommand(
      Commands.showResult,
      withCall(async (ref) => {
        const source = await sourceOf(ctx, ref);
        const detail = source.detail(ref.session_id, ref.call_id);
        const output = source.payload(ref.session_id, ref.call_id, 'output');
        const label = detail?.row.outcome === 'error' || detail?.row.outcome === 'timeout' ? 'error' : 'result';
        return ctx.documents.open([ref.session_id.slice(0, 8), `${detail?.row.tool ?? 'call'} ${ref.call_id} ${label}.json`], output ?? (detail?.row.outcome === 'pending' ? '// No answer yet: the call is still pending.\n' : null));
      }),
    ),
    vscode.commands.registerCommand(
      Commands.copyAsJson,
      withCall(async (ref) => {
        const source = await sourceOf(ctx, ref);
        const detail = source.detail(ref.session_id, ref.call_id);
        if (!detail) return;
        const call = { ...detail.row, request_id: detail.request_id, timestamp: detail.timestamp, ended_at: detail.ended_at, input: source.payload(ref.session_id, ref.call_id, 'input'), output: source.payload(ref.session_id, ref.call_id, 'output'), error: detail.error };
        await vscode.env.clipboard.writeText(toJsonText(call));
        vscode.window.setStatusBarMessage(`Copied ${detail.row.tool} (${ref.call_id}) as JSON`, 3000);
      }),
    ),
    vscode.commands.registerCommand(
      Commands.revealInTimeline,
      withCall(async (ref) => {
        const panel = await TimelinePanel.showLive(ctx.flight);
        panel.reveal(ref.session_id, ref.call_id);
      }),
    ),
    vscode.commands.registerCommand(Commands.openTimeline, async () => {
      await TimelinePanel.showLive(ctx.flight);
    }),
  ];
}
