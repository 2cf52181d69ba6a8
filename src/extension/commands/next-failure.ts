import * as vscode from 'vscode';
import { Commands } from '../ids';
import type { CommandContext } from './context';

/**
 * Next Failure: walks failed calls newest first, selecting each in the tree and opening its
 * inputs — the shortest path from "something failed" to "with what".
 */
export function registerNextFailure(ctx: CommandContext): vscode.Disposable {
  let cursor: string | undefined;
  return vscode.commands.registerCommand(Commands.nextFailure, async () => {
    const store = await ctx.flight.store();
    const failures = store.calls({ outcome: ['error', 'timeout'], limit: 1000, order: 'desc' });
    if (!failures.length) {
      void vscode.window.showInformationMessage('No failed calls recorded.');
      return;
    }
    const at = cursor === undefined ? -1 : failures.findIndex((c) => `${c.session_id}/${c.call_id}` === cursor);
    const next = failures[(at + 1) % failures.length]!;
    cursor = `${next.session_id}/${next.call_id}`;
    try {
      await ctx.treeView.reveal({ kind: 'call', call: next }, { select: true, focus: false, expand: true });
    } catch {
      // The call may be beyond the tree's page; its inputs still open.
    }
    await vscode.commands.executeCommand(Commands.showInputs, { session_id: next.session_id, call_id: next.call_id });
  });
}
