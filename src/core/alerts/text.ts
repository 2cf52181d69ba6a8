import type { AlertRecord } from '../model/records';

/**
 * Alerts as aligned plain text for a terminal: one line each — id, severity, kind, server/tool,
 * the call it concerns, title. Server-chosen text is stripped of control and bidi characters so
 * a hostile tool name cannot drive the terminal.
 */
export function formatAlertsText(alerts: readonly AlertRecord[], options: { width?: number; max?: number } = {}): string {
  if (!alerts.length) return '';
  const width = options.width ?? 120;
  const max = options.max ?? 50;
  const shown = alerts.slice(0, max);
  const cells = shown.map((a) => [a.alert_id, a.severity, a.alert_kind, plain([a.server, a.tool].filter(Boolean).join('/')), a.request_seq !== undefined ? `${a.connection_id}:${a.request_seq}` : '-']);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const lines = [`Alerts (${alerts.length})`];
  shown.forEach((a, i) => {
    const head = `  ${cells[i]!.map((v, j) => v.padEnd(widths[j] ?? 0)).join('  ')}  `;
    const room = Math.max(20, width - head.length);
    const title = plain(a.title);
    lines.push(`${head}${title.length > room ? `${title.slice(0, room - 1)}…` : title}`.trimEnd());
  });
  if (alerts.length > max) lines.push(`  … and ${alerts.length - max} more`);
  return lines.join('\n') + '\n';
}

export function plain(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u{E0000}-\u{E007F}]/gu, ' ');
}
