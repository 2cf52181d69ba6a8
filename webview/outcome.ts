/** How outcomes look everywhere: an icon and a word, never colour alone. */
import type { Outcome } from '../src/shared/protocol';
import { h } from './dom';

export const OUTCOME_ICON: Readonly<Record<Outcome, string>> = {
  success: '✓',
  error: '✕',
  timeout: '◷',
  cancelled: '⊘',
  pending: '◌',
};

export const OUTCOME_LABEL: Readonly<Record<Outcome, string>> = {
  success: 'success',
  error: 'error',
  timeout: 'timeout',
  cancelled: 'cancelled',
  pending: 'pending',
};

export function outcomeBadge(o: Outcome): HTMLElement {
  const known = o in OUTCOME_ICON;
  const k: Outcome = known ? o : 'error';
  return h('span', { class: `badge badge-${k}` }, h('span', { class: 'icon', 'aria-hidden': 'true' }, OUTCOME_ICON[k]), ` ${known ? OUTCOME_LABEL[k] : String(o)}`);
}
