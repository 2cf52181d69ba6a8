/**
 * Command, view, setting and context ids, in one place. They mirror package.json's
 * `contributes`; a unit test diffs the two so neither can drift.
 */

export const Commands = {
  openTimeline: 'mcpFlight.openTimeline',
  showInputs: 'mcpFlight.showInputs',
  showResult: 'mcpFlight.showResult',
  replay: 'mcpFlight.replay',
  showRecoveryPlan: 'mcpFlight.showRecoveryPlan',
  replayFromPlan: 'mcpFlight.replayFromPlan',
  copyAsJson: 'mcpFlight.copyAsJson',
  revealInTimeline: 'mcpFlight.revealInTimeline',
  nextFailure: 'mcpFlight.nextFailure',
  callTool: 'mcpFlight.callTool',
  exportSession: 'mcpFlight.exportSession',
  exportSessionOtlp: 'mcpFlight.exportSessionOtlp',
  openExported: 'mcpFlight.openExported',
  clearHistory: 'mcpFlight.clearHistory',
  pauseRecording: 'mcpFlight.pauseRecording',
  resumeRecording: 'mcpFlight.resumeRecording',
  startServer: 'mcpFlight.startServer',
  stopServer: 'mcpFlight.stopServer',
  restartServer: 'mcpFlight.restartServer',
  showServerOutput: 'mcpFlight.showServerOutput',
  routeWorkspaceServers: 'mcpFlight.routeWorkspaceServers',
  restoreWorkspaceServers: 'mcpFlight.restoreWorkspaceServers',
  importServers: 'mcpFlight.importServers',
  wrapOtherClients: 'mcpFlight.wrapOtherClients',
  unwrapOtherClients: 'mcpFlight.unwrapOtherClients',
  refresh: 'mcpFlight.refresh',
  showMore: 'mcpFlight.showMore',
  selectForCompare: 'mcpFlight.selectForCompare',
  compareWithSelected: 'mcpFlight.compareWithSelected',
  compareSessions: 'mcpFlight.compareSessions',
  verifyAuditTrail: 'mcpFlight.verifyAuditTrail',
} as const;

export const Views = {
  container: 'mcpFlight',
  sessions: 'mcpFlight.sessions',
} as const;

export const Settings = {
  section: 'mcpFlight',
  servers: 'servers',
  inputs: 'inputs',
  storePath: 'storePath',
  captureLevel: 'captureLevel',
  recordSideEffects: 'recordSideEffects',
  disabledServers: 'disabledServers',
  retentionMaxAgeDays: 'retention.maxAgeDays',
  retentionMaxSizeMB: 'retention.maxSizeMB',
  requestTimeoutSeconds: 'requestTimeoutSeconds',
  notifyOnFailure: 'notifyOnFailure',
  redactionExtraPatterns: 'redaction.extraPatterns',
  redactionAllowKeys: 'redaction.allowKeys',
  redactionAllowValues: 'redaction.allowValues',
  otlpEndpoint: 'otlp.endpoint',
  otlpIncludePayloads: 'otlp.includePayloads',
  otlpHeaders: 'otlp.headers',
  policy: 'policy',
  enforceAlerts: 'security.enforceAlerts',
  highFrequencyWindowSeconds: 'security.highFrequency.windowSeconds',
  highFrequencyThreshold: 'security.highFrequency.threshold',
  notifyMinSeverity: 'security.notifyMinSeverity',
} as const;

export const McpProviderId = 'mcpFlight.recorded';

export const ContextKeys = {
  paused: 'mcpFlight.paused',
  /** A call was picked with "Select for Compare". */
  compareCallSelected: 'mcpFlight.compareCallSelected',
} as const;
