import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckResult, Finding, Verdict, VerifyReport } from '../../core/audit/verify';
import { Commands } from '../ids';
import { runtime } from '../lazy';
import type { CommandContext } from './context';

/** What Verify Audit Trail found; also the command's return value (for other extensions and tests). */
export interface AuditVerification {
  /** True only when every check passed and every record is sealed by a checkpoint. */
  intact: boolean;
  /** `error`: verification itself failed (an exception) — never taken for intact. */
  verdict: Verdict | 'error';
  summary: string;
  /** The first bad record and why, as the report names it. */
  first?: Finding & { text: string };
  unsealed: number;
  checks: CheckResult[];
  /** Why this window's records could not be sealed first, when they could not. */
  checkpointError?: string;
  /** The full report as shown to the user. */
  text: string;
  report?: VerifyReport;
}

/**
 * Verify Audit Trail: seals what this window recorded so far (a 'manual' checkpoint), then checks
 * the workspace store's chain, MACs, signatures and the checkpoints kept outside the workspace
 * (core/audit/verify.ts). The full report opens as a read-only document; a notification gives
 * the verdict — an error whenever the trail is not intact. Fails closed: an exception is a failed
 * verification, never a pass.
 */
export function registerVerifyCommand(ctx: CommandContext): vscode.Disposable {
  return vscode.commands.registerCommand(Commands.verifyAuditTrail, async (): Promise<AuditVerification | undefined> => {
    const root = ctx.flight.storeRoot;
    if (!root) {
      void vscode.window.showErrorMessage('Open a folder to verify its audit trail: the store lives in the workspace.');
      return undefined;
    }
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Verifying the audit trail…' }, async () => {
      // Let the progress notification show before the (synchronous) seal and walk of the journal.
      await new Promise((r) => setTimeout(r, 0));
      // Sealed and verified in one synchronous stretch: nothing this window records can slip in between.
      let checkpointError: string | undefined;
      try {
        ctx.flight.checkpoint();
      } catch (err) {
        checkpointError = (err as Error).message;
      }
      return verifyNow(root, checkpointError);
    });
    ctx.flight.output.info(`verify audit trail: ${result.summary}`);
    const uri = ctx.documents.put(['audit', `Audit trail ${new Date().toISOString().replace(/[:.]/g, '-')}.txt`], result.text);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
    // Nothing recorded here yet (and no store known to have been here): nothing to prove, nothing wrong.
    const nothingYet = result.verdict === 'unverifiable' && !fs.existsSync(path.join(root, 'store.json')) && result.report?.findings.every((f) => f.severity === 'incomplete');
    const headline = result.intact
      ? `Audit trail intact: ${result.summary}`
      : nothingYet
        ? `Nothing recorded in this workspace yet: there is no audit trail to verify (${root}).`
        : `Audit trail NOT intact (${result.verdict}): ${result.first ? result.first.text : result.summary}`;
    // Not awaited: the command returns its result while the notification stays up.
    if (result.intact || nothingYet) void vscode.window.showInformationMessage(headline);
    else void vscode.window.showErrorMessage(headline);
    return result;
  });
}

function verifyNow(root: string, checkpointError: string | undefined): AuditVerification {
  const note = checkpointError ? `This window's records could not be sealed first (${checkpointError}); they count as unsealed.\n` : '';
  try {
    const rt = runtime();
    const report = rt.verifyStore(root);
    const first = report.first ? { ...report.first, text: rt.describeFinding(report.first) } : undefined;
    return {
      intact: report.intact === true && report.verdict === 'intact',
      verdict: report.verdict,
      summary: report.summary,
      first,
      unsealed: report.stats.unsealed,
      checks: report.checks,
      checkpointError,
      text: `${note}${rt.formatReport(report, { verbose: true })}\n`,
      report,
    };
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    return {
      intact: false,
      verdict: 'error',
      summary: `verification failed: ${message}`,
      unsealed: 0,
      checks: [],
      checkpointError,
      text: `${note}Verified store ${root}\nVerification failed with an error, so nothing is proven:\n${message}\n`,
    };
  }
}
