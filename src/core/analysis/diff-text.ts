import { NOT_COMPARED_TEXT, type CallComparison, type CallDiffReport, type CallRef, type NotComparedReason, type PartDiff, type SessionDiffReport, type SessionRef, type SlowerRules, type ValueChange } from './diff';
import { formatDuration } from './summary';

/**
 * Diff reports as plain text, for the terminal and the extension's read-only report document.
 * Every string that came from a peer (tool names, values, error messages) is shown escaped:
 * control, bidirectional-override and zero-width characters become `\uXXXX`, values are JSON,
 * so nothing recorded can move the cursor, colour the terminal or reorder what is shown.
 */

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** A peer's string made safe to print on one line. */
export function safeText(s: string): string {
  return s.replace(UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value as one line of JSON, escaped and clipped. */
export function showValue(v: unknown, max = 120): string {
  let text: string;
  try {
    text = v === undefined ? '(absent)' : JSON.stringify(v) ?? 'null';
  } catch {
    text = '[unprintable]';
  }
  text = safeText(text);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function ms(n: number | null): string {
  return n === null ? '—' : formatDuration(n);
}

function callLabel(c: CallRef): string {
  return `${safeText(c.server)} · ${safeText(c.tool)}${c.direction === 'server_to_client' ? ' (server→client)' : ''}`;
}

function outcomeOf(c: CallRef): string {
  return c.error_class ? `${c.outcome} (${c.error_class})` : c.outcome;
}

function sessionLine(label: string, s: SessionRef): string {
  const facts = [s.started_at ?? 'start unknown', s.terminal_state ?? 'state unknown', `${s.calls} calls`];
  if (s.tool_calls !== null) facts.push(`${s.tool_calls} tool calls${s.failed_calls ? `, ${s.failed_calls} failed` : ''}`);
  return `${label}  ${safeText(s.session_id)}  ${safeText(s.source)}\n   ${facts.join(' · ')}`;
}

function reasonText(side: 'A' | 'B', r: NotComparedReason | null): string | undefined {
  return r ? `${side} ${NOT_COMPARED_TEXT[r]}` : undefined;
}

function partLines(name: string, d: PartDiff, indent: string): string[] {
  const out: string[] = [];
  if (!d.compared) {
    const why = [reasonText('A', d.not_compared?.a ?? null), reasonText('B', d.not_compared?.b ?? null)].filter(Boolean).join('; ');
    out.push(`${indent}${name.padEnd(10)} not compared: ${why}`);
    return out;
  }
  for (const c of d.changes) out.push(`${indent}${name.padEnd(10)} ${changeLine(c)}`);
  if (d.changes_omitted) out.push(`${indent}${''.padEnd(10)} … and ${d.changes_omitted} more difference${d.changes_omitted === 1 ? '' : 's'}`);
  return out;
}

function changeLine(c: ValueChange): string {
  const path = c.path === '' ? '(whole value)' : safeText(c.path);
  const flag = `${c.redacted ? '  [redacted: compared by marker only]' : ''}${c.truncated ? '  [shortened]' : ''}`;
  if (c.change === 'added') return `added    ${path}  ${showValue(c.after)}${flag}`;
  if (c.change === 'removed') return `removed  ${path}  ${showValue(c.before)}${flag}`;
  return `changed  ${path}  ${showValue(c.before, 60)} → ${showValue(c.after, 60)}${flag}`;
}

function redactedLines(cmp: CallComparison, indent: string): string[] {
  const out: string[] = [];
  for (const [name, d] of [['arguments', cmp.arguments], ['result', cmp.result]] as const) {
    for (const r of d.redacted) {
      const markers = r.same ? `${r.a.join(', ')} on both sides` : `A ${r.a.join(', ') || 'none'}, B ${r.b.join(', ') || 'none'}`;
      out.push(`${indent}redacted   ${name} ${safeText(r.path || '(whole value)')}: ${safeText(markers)}${r.same ? ' (equal by fingerprint; the secret itself was never recorded)' : ''}`);
    }
  }
  return out;
}

/** The lines under a compared pair: what differs, part by part. */
function comparisonLines(cmp: CallComparison, indent: string): string[] {
  const out: string[] = [];
  for (const i of cmp.identity) out.push(`${indent}${i.field.padEnd(10)} ${safeText(i.a)} → ${safeText(i.b)}`);
  out.push(...partLines('arguments', cmp.arguments, indent));
  if (cmp.outcome) out.push(`${indent}${'outcome'.padEnd(10)} ${cmp.outcome.a} → ${cmp.outcome.b}`);
  if (cmp.error) {
    const e = (x: typeof cmp.error.a) => (x ? `${x.error_class}${x.error_code !== null ? ` (${safeText(String(x.error_code))})` : ''}` : 'none');
    out.push(`${indent}${'error'.padEnd(10)} ${e(cmp.error.a)} → ${e(cmp.error.b)}`);
  }
  out.push(...partLines('result', cmp.result, indent));
  return out;
}

function durationText(d: CallComparison['duration'], rules: SlowerRules): string {
  const parts = [`${ms(d.a_ms)} → ${ms(d.b_ms)}`];
  if (d.ratio !== null && d.delta_ms !== null) parts.push(`(×${d.ratio.toFixed(2)}, ${d.delta_ms >= 0 ? '+' : '−'}${formatDuration(Math.abs(d.delta_ms))})`);
  if (d.slower) parts.push(`slower (≥ ${rules.slower_ratio}× and ≥ ${rules.slower_min_ms} ms)`);
  return parts.join(' ');
}

export function formatCallDiffText(r: CallDiffReport): string {
  const lines: string[] = [];
  const side = (label: string, c: CallRef) => `${label}  ${callLabel(c)}  ${outcomeOf(c)}  ${ms(c.duration_ms)}\n   call ${safeText(c.call_id)} of session ${safeText(c.session_id)} at ${c.timestamp}`;
  lines.push(side('A', r.a), side('B', r.b));
  lines.push(r.identical ? `Identical${r.complete ? '' : ' in what could be compared'}` : `Different: ${r.changes.join(', ')}`);
  lines.push(...comparisonLines(r, '  '));
  lines.push(`  ${'duration'.padEnd(10)} ${durationText(r.duration, r.rules)}`);
  lines.push(...redactedLines(r, '  '));
  return lines.join('\n') + '\n';
}

export function formatSessionDiffText(r: SessionDiffReport): string {
  const lines: string[] = [];
  const c = r.counts;
  lines.push(sessionLine('A', r.a), sessionLine('B', r.b));
  const matched = `${c.matched} matched, ${c.unchanged} unchanged`;
  if (r.identical) lines.push(`Identical: ${matched}; nothing added, missing, changed or slower`);
  else lines.push(`Different: ${c.added} added, ${c.missing} missing, ${c.changed} changed, ${c.slower} slower (${matched})`);
  if (!r.complete) lines.push(`Not fully compared: ${c.not_fully_compared} matched pair${c.not_fully_compared === 1 ? '' : 's'} (see below)`);

  if (r.added.length) {
    lines.push('', `Added — in B only (${r.added.length})`);
    for (const x of r.added) lines.push(`  + ${callLabel(x)}  ${outcomeOf(x)}  ${ms(x.duration_ms)}  ${safeText(x.call_id)}  ${showValue(x.input_summary, 80)}`);
  }
  if (r.missing.length) {
    lines.push('', `Missing — in A only (${r.missing.length})`);
    for (const x of r.missing) lines.push(`  - ${callLabel(x)}  ${outcomeOf(x)}  ${ms(x.duration_ms)}  ${safeText(x.call_id)}  ${showValue(x.input_summary, 80)}`);
  }
  if (r.changed.length) {
    lines.push('', `Changed (${r.changed.length})`);
    for (const p of r.changed) {
      lines.push(`  ~ ${callLabel(p.a)}  A ${safeText(p.a.call_id)} ↔ B ${safeText(p.b.call_id)}  (${p.match === 'arguments' ? 'same arguments' : 'matched by position'}): ${p.changes.join(', ')}`);
      lines.push(...comparisonLines(p, '      '));
    }
  }
  if (r.slower.length) {
    lines.push('', `Slower — B ≥ ${r.rules.slower_ratio}× and ≥ ${r.rules.slower_min_ms} ms slower (${r.slower.length})`);
    for (const s of r.slower) {
      lines.push(`  ! ${callLabel(s.a)}  A ${safeText(s.a.call_id)} ${ms(s.a_ms)} → B ${safeText(s.b.call_id)} ${ms(s.b_ms)}  (${s.ratio !== null ? `×${s.ratio.toFixed(2)}, ` : ''}+${formatDuration(s.delta_ms)})`);
    }
  }
  if (r.not_compared.length) {
    lines.push('', `Not compared (${r.not_compared.length})`);
    for (const n of r.not_compared) {
      const why = [reasonText('A', n.a), reasonText('B', n.b)].filter(Boolean).join('; ');
      lines.push(`  ? A ${safeText(n.a_call_id)} ↔ B ${safeText(n.b_call_id)}  ${n.part}: ${why}`);
    }
  }
  const redacted = r.changed.flatMap((p) => redactedLines(p, '    ').map((l) => `  ${safeText(p.a.call_id)}:${l}`));
  if (redacted.length) lines.push('', 'Redacted values in changed calls (markers compared, secrets never recorded)', ...redacted);

  if (r.tools.length) {
    lines.push('', 'Per tool');
    const header = ['SERVER', 'TOOL', 'A', 'B', 'MATCHED', 'UNCHANGED', 'CHANGED', 'ADDED', 'MISSING', 'SLOWER'];
    const rows = r.tools.map((t) => [safeText(t.server), safeText(t.tool), t.a_calls, t.b_calls, t.matched, t.unchanged, t.changed, t.added, t.missing, t.slower].map(String));
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const fmt = (cells: string[]) => `  ${cells.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ')}`.trimEnd();
    lines.push(fmt(header), ...rows.map(fmt));
  }
  return lines.join('\n') + '\n';
}
