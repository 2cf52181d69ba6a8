/**
 * The heavy half of the extension — the recorder, the HTTP endpoint, the store (sql.js), the
 * SDK's client, the exporters — bundled separately (dist/runtime.js) and loaded on first use
 * through `runtime()`, so that activation only loads the glue. Import its types freely; take its
 * values from `runtime()`.
 */
export { Recorder } from '../core/recording/recorder';
export { RecordingHttpEndpoint } from '../core/recording/upstream/http-endpoint';
export { JournalWriter } from '../core/store/journal';
export { SideEffectLedger } from '../core/effects/ledger';
export { openStore } from '../core/store/store';
export { exportSessionJsonBytes } from '../core/export/session-json';
export { exportSessionJsonl } from '../core/export/jsonl';
export { OtlpLivePush } from '../core/export/otlp-push';
export { exportSessionOtlp } from '../core/export/otlp';
export { assembleSession } from '../core/analysis/calls';
export { summarizeSession } from '../core/analysis/summary';
export { buildRecoveryPlan, formatPlanText } from '../core/analysis/recovery';
export { sessionReport } from '../core/analysis/session-report';
export { ResultSchema } from '@modelcontextprotocol/sdk/types.js';
export { verifyStore, formatReport, describeFinding } from '../core/audit/verify';
export { checkRedactionSettings, isDefaultRedaction, redactorWithSettings } from '../core/audit/redaction-settings';
export { defaultRedactorInstance } from '../core/audit/redaction';
export { connect, listTools, callTool } from './servers/sdk-client';
export { callDocument, compareCalls, diffSessions } from '../core/analysis/diff';
export { diffCallFromStore, diffSessionFromExport, diffSessionFromRecords } from '../core/analysis/diff-input';
export { formatSessionDiffText } from '../core/analysis/diff-text';
export { readSessionExport } from '../core/export/read';
export { resolvePolicy, loadPolicySetting, inspectStorePolicy } from '../core/policy/load';
export { governSession } from '../core/policy/governor';
export { approve as approvePolicy } from '../core/policy/approval';
export { reviewableText } from '../core/policy/policy';
export { AlertEngine } from '../core/alerts/engine';
export { alertGate, denyForAlerts } from '../core/alerts/enforcement';
export { composeGates } from '../core/recording/gate';
