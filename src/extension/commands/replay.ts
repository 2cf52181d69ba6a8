import * as vscode from 'vscode';
import { fillMarkers, findMarkers } from '../../core/audit/markers';
import type { ConnectionInfo } from '../../core/model/calls';
import { Commands } from '../ids';
import { runtime } from '../lazy';
import { specForServer } from '../servers/direct-call';
import { callRefOf } from './call-ref';
import { sourceOf, type CommandContext } from './context';


/**
 * Replay: sends a recorded call again to the same server — as recorded, or with edited
 * arguments — in a session of its own linked to the original, and shows the new result beside
 * the old one. Tools that are neither read-only nor idempotent are confirmed first; redacted
 * values are asked for again, never sent as markers.
 */
export function registerReplay(ctx: CommandContext): vscode.Disposable {
  return vscode.commands.registerCommand(Commands.replay, async (arg: unknown) => {
    const ref = callRefOf(arg) ?? callRefOf(ctx.treeView.selection[0]);
    if (!ref) return;
    const source = await sourceOf(ctx, ref);
    const detail = source.detail(ref.session_id, ref.call_id);
    if (!detail) return;
    const row = detail.row;
    if (row.direction !== 'client_to_server') {
      void vscode.window.showInformationMessage(`${row.method} was a request from the server to the client; only client requests can be replayed.`);
      return;
    }
    let input = source.payload(ref.session_id, ref.call_id, 'input') as Record<string, unknown> | undefined;
    if (typeof input === 'string') {
      void vscode.window.showErrorMessage('This call was too large or too deep to keep as JSON, so it cannot be replayed.');
      return;
    }

    const how = await vscode.window.showQuickPick(
      [
        { label: '$(debug-rerun) Replay with the recorded arguments', edit: false },
        { label: '$(edit) Edit the arguments first', edit: true },
      ],
      { title: `Replay ${row.tool} on ${row.server}` },
    );
    if (!how) return;
    if (how.edit) {
      const edited = await editJson(input ?? {}, `${row.tool} arguments`);
      if (edited === undefined) return;
      input = edited as Record<string, unknown>;
    }
    const filled = await askForRedacted(input ?? {}, (v) => ctx.flight.redactor().fingerprint(v));
    if (filled === undefined) return;

    const store = ref.source ? undefined : await ctx.flight.store();
    const connection: ConnectionInfo | undefined = store?.connections(ref.session_id).find((c) => c.server === row.server)?.info;
    // The confirmation shows the arguments as recorded — markers, not the secrets just typed in.
    if (row.method === 'tools/call' && !safeToRepeat(connection, row.tool)) {
      const go = 'Replay';
      const answer = await vscode.window.showWarningMessage(`"${row.tool}" is not marked read-only or idempotent: replaying it may change something again.`, { modal: true, detail: `Server: ${row.server}\nArguments: ${JSON.stringify(input ?? {}).slice(0, 500)}` }, go);
      if (answer !== go) return;
    }

    const spec = await specForServer(ctx, row.server, connection);
    if (!spec) return;
    const recorder = ctx.flight.replayRecorder({ session_id: ref.session_id, call_id: ref.call_id });
    let result: unknown;
    let failed = false;
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Replaying ${row.tool} on ${row.server}…` }, async () => {
        const session = await runtime().connect(spec, recorder);
        try {
          result =
            row.method === 'tools/call'
              ? await session.client.callTool({ name: row.tool, arguments: filled as Record<string, unknown> })
              : await session.client.request({ method: row.method, params: filled as Record<string, unknown> }, runtime().ResultSchema);
        } finally {
          await session.close();
        }
      });
    } catch (err) {
      failed = true;
      result = { error: (err as Error).message };
    } finally {
      recorder.end(failed ? 'replay failed' : 'replay done');
      void ctx.flight.refresh();
    }
    const before = ctx.documents.put([ref.session_id.slice(0, 8), `${row.tool} ${ref.call_id} recorded.json`], source.payload(ref.session_id, ref.call_id, 'output') ?? null);
    const after = ctx.documents.put(['replay', recorder.sessionId.slice(0, 8), `${row.tool} replayed.json`], result);
    await vscode.commands.executeCommand('vscode.diff', before, after, `${row.tool}: recorded ↔ replayed`, { preview: false });
  });
}

function safeToRepeat(connection: ConnectionInfo | undefined, tool: string): boolean {
  const a = connection?.tools?.find((t) => t.name === tool)?.annotations;
  return a?.readOnlyHint === true || a?.idempotentHint === true;
}

/** Opens the JSON in an untitled editor and waits for the user to confirm or cancel. */
async function editJson(value: unknown, title: string): Promise<unknown> {
  const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(value, null, 2) });
  await vscode.window.showTextDocument(doc, { preview: false });
  for (;;) {
    const run = 'Replay with These Arguments';
    const answer = await vscode.window.showInformationMessage(`Edit the ${title}, then replay.`, run, 'Cancel');
    if (answer !== run) return undefined;
    try {
      return JSON.parse(doc.getText());
    } catch (err) {
      void vscode.window.showErrorMessage(`The arguments are not valid JSON: ${(err as Error).message}`);
    }
  }
}

/**
 * Asks for the value of every redaction marker in the arguments — whole values, and markers
 * inside longer strings and property names alike — once per distinct marker (one secret, one
 * fingerprint), and fills it in at every occurrence. undefined when the user cancels.
 * `fingerprintOf` checks an answer against the marker's fingerprint: a mismatch is a warning, not
 * a refusal (the secret may have been rotated, or recorded with another user's key).
 */
export async function askForRedacted(value: unknown, fingerprintOf?: (secret: string) => string): Promise<unknown> {
  const markers = findMarkers(value);
  const answers = new Map<string, string>();
  for (const [i, m] of markers.entries()) {
    const where = m.paths.slice(0, 3).map((p) => p || '(the arguments)').join(', ') + (m.paths.length > 3 ? ` and ${m.paths.length - 3} more` : '');
    const answer = await vscode.window.showInputBox({
      title: `A recorded value was redacted${markers.length > 1 ? ` (${i + 1} of ${markers.length})` : ''}`,
      prompt: `Value for ${m.marker} (${m.kind}), used ${m.count === 1 ? 'once' : `${m.count} times`}: ${where}`,
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => {
        if (!fingerprintOf || v === '') return undefined;
        let fp: string | undefined;
        try {
          fp = fingerprintOf(v);
        } catch {
          return undefined;
        }
        return fp === m.fingerprint ? undefined : { message: `Not the recorded value: its fingerprint is ${fp}, the marker's ${m.fingerprint} (fine if the secret changed since).`, severity: vscode.InputBoxValidationSeverity.Warning };
      },
    });
    if (answer === undefined) return undefined;
    answers.set(m.marker, answer);
  }
  return fillMarkers(value, answers);
}
