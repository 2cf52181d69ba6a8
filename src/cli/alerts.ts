import { denyHighAlerts } from '../core/alerts/enforcement';
import { AlertEngine, DEFAULT_HIGH_FREQUENCY } from '../core/alerts/engine';
import type { Gate } from '../core/recording/gate';
import type { Recorder } from '../core/recording/recorder';
import { plain } from '../core/alerts/text';
import { UsageError } from './usage';

/** The alert options `record` and `serve` share. */
export const ALERT_OPTIONS = {
  'enforce-alerts': { type: 'boolean' },
  'alert-window': { type: 'string' },
  'alert-threshold': { type: 'string' },
} as const;

export const ALERT_HELP = `  --enforce-alerts   deny every call that raises a high-severity security alert (the agent gets a
                     JSON-RPC error -32003, classified policy_denied); off by default
  --alert-window S   high-frequency alert window in seconds (default ${DEFAULT_HIGH_FREQUENCY.windowSeconds})
  --alert-threshold N  calls to one tool within the window that raise it (default ${DEFAULT_HIGH_FREQUENCY.threshold}; twice that per server)`;

/**
 * Security alerts for a CLI recorder: always raised and recorded; high ones are also printed on
 * stderr (stdout carries protocol bytes only); with --enforce-alerts the calls that raise them
 * are denied, as there is nobody to ask.
 */
export function startAlerts(recorder: Recorder, values: { 'enforce-alerts'?: boolean; 'alert-window'?: string; 'alert-threshold'?: string }, label: string): { engine: AlertEngine; gate?: Gate } {
  const windowSeconds = numberFlag(values['alert-window'], '--alert-window');
  const threshold = numberFlag(values['alert-threshold'], '--alert-threshold');
  const engine = new AlertEngine(recorder, { highFrequency: { ...(windowSeconds !== undefined ? { windowSeconds } : {}), ...(threshold !== undefined ? { threshold } : {}) } });
  for (const w of engine.warnings) process.stderr.write(`${label}: ${w}\n`);
  engine.onAlert((a) => {
    if (a.severity !== 'high') return;
    const where = plain([a.server, a.tool].filter(Boolean).join('/'));
    process.stderr.write(`${label}: HIGH security alert ${a.alert_id} [${a.alert_kind}] ${where}: ${plain(a.title).slice(0, 300)}\n`);
  });
  return { engine, ...(values['enforce-alerts'] ? { gate: denyHighAlerts(engine) } : {}) };
}

function numberFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number`);
  return n;
}
