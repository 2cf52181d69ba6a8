import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { Commands } from '../ids';
import { runtime } from '../lazy';
import { ExportedTimelineSource } from '../views/timeline-data';
import { TimelinePanel } from '../views/timeline-panel';
import type { FlightNode } from '../views/tree';
import type { CommandContext } from './context';

/** Export Session… (JSON, JSONL or OpenTelemetry traces through a save dialog) and Open Exported Session… (read-only timeline). */
export function registerExportCommands(ctx: CommandContext): vscode.Disposable[] {
  return [
    // `to` skips the save dialog (for other extensions and tests driving the command).
    vscode.commands.registerCommand(Commands.exportSession, (arg?: FlightNode | { session_id?: string }, to?: vscode.Uri) => exportSession(ctx, 'session', arg, to)),
    // `includePayloads` with `to` skips the question too.
    vscode.commands.registerCommand(Commands.exportSessionOtlp, (arg?: FlightNode | { session_id?: string }, to?: vscode.Uri, includePayloads?: boolean) => exportSession(ctx, 'otlp', arg, to, includePayloads)),
    vscode.commands.registerCommand(Commands.openExported, async (uri?: vscode.Uri) => {
      const file =
        uri ??
        (await vscode.window.showOpenDialog({ title: 'Open Exported Session', canSelectMany: false, filters: { 'MCP Flight Recorder session': ['json', 'jsonl'] } }))?.[0];
      if (!file) return;
      try {
        const source = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Reading the exported session…' }, async () => new ExportedTimelineSource(file.fsPath));
        return TimelinePanel.showExported(ctx.flight, source);
      } catch (err) {
        void vscode.window.showErrorMessage(`Cannot open ${file.fsPath}: ${(err as Error).message}`);
        return undefined;
      }
    }),
  ];
}

/**
 * Export Session… (JSON or JSONL by the file's extension) and Export Session as OpenTelemetry
 * Traces… (OTLP/JSON, docs/otlp.md; arguments and results only if the user says so).
 */
async function exportSession(ctx: CommandContext, kind: 'session' | 'otlp', arg?: FlightNode | { session_id?: string }, to?: vscode.Uri, includePayloads?: boolean): Promise<vscode.Uri | undefined> {
  const store = await ctx.flight.store();
  let sessionId = arg && 'kind' in arg && arg.kind === 'session' ? arg.session.session_id : (arg as { session_id?: string } | undefined)?.session_id;
  if (!sessionId) {
    const pick = await vscode.window.showQuickPick(
      store.sessions().map((s) => ({ label: `${new Date(s.started_at).toLocaleString()} · ${s.recorder_kind}`, description: `${s.tool_calls} calls, ${s.failed} failed`, detail: s.session_id, id: s.session_id })),
      { title: 'Export which session?' },
    );
    sessionId = pick?.id;
  }
  const session = sessionId ? store.session(sessionId) : undefined;
  if (!session) return;
  let payloads = includePayloads === true;
  if (kind === 'otlp' && includePayloads === undefined && !to) {
    const choice = await vscode.window.showQuickPick(
      [
        { label: 'Without arguments and results', description: 'who called which tool, when, how long, how it ended', payloads: false },
        { label: 'With arguments and results', description: 'as recorded, secrets redacted', payloads: true },
      ],
      { title: 'Export Session as OpenTelemetry Traces' },
    );
    if (!choice) return;
    payloads = choice.payloads;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(process.cwd());
  const target = to ?? await vscode.window.showSaveDialog(
    kind === 'otlp'
      ? { title: 'Export Session as OpenTelemetry Traces', defaultUri: vscode.Uri.joinPath(folder, `mcp-session-${session.session_id.slice(0, 8)}.otlp.jsonl`), filters: { 'OTLP/JSON traces (one request per line)': ['jsonl'] } }
      : { title: 'Export Session', defaultUri: vscode.Uri.joinPath(folder, `mcp-session-${session.session_id.slice(0, 8)}.json`), filters: { 'Session (JSON)': ['json'], 'Session (JSON Lines)': ['jsonl'] } },
  );
  if (!target) return;
  const jsonl = target.fsPath.endsWith('.jsonl');
  // A live session's latest records are sealed first, so the export verifies fully rather than "unsealed".
  if (kind === 'session' && session.writer_alive !== false) {
    try {
      ctx.flight.checkpoint();
      store.catchUp();
    } catch (err) {
      ctx.flight.output.warn(`export: could not seal the live session first (${(err as Error).message}); its latest records export as unsealed`);
    }
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Exporting session ${session.session_id.slice(0, 8)}…`, cancellable: false }, async (progress) => {
    const temp = `${target.fsPath}.partial`;
    const fd = fs.openSync(temp, 'w', 0o600);
    let written = 0;
    try {
      // The JSON export hands over its reused buffer: written out before returning.
      const write = (chunk: string | Buffer) => {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
        written += buf.length;
        progress.report({ message: `${Math.round(written / 1024 / 1024)} MB` });
      };
      const options = { writerAlive: session.writer_alive !== false, sessionId: session.session_id };
      const records = () => store.readSessionRecords(session.session_id);
      if (kind === 'otlp') runtime().exportSessionOtlp(records(), write, { ...options, includePayloads: payloads });
      else if (jsonl) runtime().exportSessionJsonl(records, write, options);
      else runtime().exportSessionJsonBytes(records, write, options);
      fs.fsyncSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(temp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    fs.renameSync(temp, target.fsPath);
  });
  if (!to) {
    const open = 'Open';
    void vscode.window.showInformationMessage(`Exported to ${vscode.workspace.asRelativePath(target)}`, open).then((a) => (a === open ? vscode.window.showTextDocument(target) : undefined));
  }
  return target;
}
