import * as vscode from 'vscode';
import { applyRetention, clearHistory } from '../../core/store/retention';
import { storeLayout } from '../../core/store/layout';
import { Commands } from '../ids';
import { readSettings } from '../settings';
import type { CommandContext } from './context';

/** Clear History… (asks first) and retention by age and size, applied when the store opens. */
export function registerHistoryCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Commands.clearHistory, async () => {
      const root = ctx.flight.storeRoot;
      if (!root) return;
      const store = await ctx.flight.store();
      const n = store.sessions().length;
      const clear = 'Clear History';
      const answer = await vscode.window.showWarningMessage(`Delete the recordings of ${n} session${n === 1 ? '' : 's'} in ${vscode.workspace.asRelativePath(root)}?`, { modal: true, detail: 'Recordings still running are kept. This cannot be undone.' }, clear);
      if (answer !== clear) return;
      const r = clearHistory(storeLayout(root));
      store.catchUp();
      void vscode.window.showInformationMessage(`Removed ${r.removed.length} journal segment${r.removed.length === 1 ? '' : 's'} (${(r.freedBytes / 1024 / 1024).toFixed(1)} MB)${r.keptLive ? `; kept ${r.keptLive} still being recorded` : ''}.`);
    }),
  ];
}

/** Runs retention once, a little after activation, off the activation path. */
export function scheduleRetention(ctx: CommandContext): vscode.Disposable {
  const timer = setTimeout(async () => {
    const root = ctx.flight.storeRoot;
    if (!root) return;
    const s = readSettings();
    try {
      const r = applyRetention(storeLayout(root), { maxAgeDays: s.retentionMaxAgeDays, maxSizeBytes: s.retentionMaxSizeMB * 1024 * 1024 });
      if (r.removed.length) {
        ctx.flight.output.info(`retention removed ${r.removed.length} journal segments (${(r.freedBytes / 1024 / 1024).toFixed(1)} MB)`);
        (await ctx.flight.store()).catchUp();
      }
    } catch (err) {
      ctx.flight.output.warn(`retention failed: ${(err as Error).message}`);
    }
  }, 10_000);
  return { dispose: () => clearTimeout(timer) };
}
