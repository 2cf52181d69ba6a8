import * as vscode from 'vscode';
import type { FileEffect } from '../core/model/records';
import type { Recorder } from '../core/recording/recorder';
import { runtime } from './lazy';

/**
 * The extension's half of the side-effect ledger: VS Code's file watcher over every workspace
 * folder feeds the core ledger (src/core/effects/ledger.ts) of the window's recorder, in the
 * recorder's process. The user's own editor saves are told to the ledger (will-save → did-save),
 * so they never count as a tool's effect; the store is excluded by the ledger. VS Code's
 * `files.watcherExclude` applies: changes it hides are not seen.
 */
export class WorkspaceEffects implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  constructor(recorder: Recorder, storeRoot: string) {
    const ledger = new (runtime().SideEffectLedger)({ sink: recorder, exclude: [storeRoot] });
    const report = (effect: FileEffect) => (uri: vscode.Uri) => {
      if (uri.scheme !== 'file') return;
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      if (folder) ledger.observe(effect, uri.fsPath, folder.uri.fsPath, 'vscode');
    };
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, '**/*'));
      this.disposables.push(watcher, watcher.onDidCreate(report('file_created')), watcher.onDidChange(report('file_modified')), watcher.onDidDelete(report('file_deleted')));
    }
    this.disposables.push(
      vscode.workspace.onWillSaveTextDocument((e) => {
        if (e.document.uri.scheme === 'file') ledger.userSaveStarting(e.document.uri.fsPath);
      }),
      vscode.workspace.onDidSaveTextDocument((d) => {
        if (d.uri.scheme === 'file') ledger.userSaveDone(d.uri.fsPath);
      }),
    );
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
