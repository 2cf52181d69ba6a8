/**
 * The session overview: one line with how the session ended and what it did (terminal state,
 * recovery status, tool-call counts, retries), expandable into servers, agents, errors,
 * credentials, side effects and — when something broke — the recovery plan's essentials with a
 * way to show each call to resume and replay the retry-safe ones. Every server string is text.
 */
import type { FromWebview, OverviewPlan, SessionOverview } from '../src/shared/protocol';
import { button, h, replace, type Child } from './dom';
import { count, duration, isoToLocal } from './format';
import { clip } from './safe-text';

export interface OverviewActions {
  post(m: FromWebview): void;
  selectCall(session_id: string, call_id: string): void;
  readOnly(): boolean;
}

const STATE_LABEL: Record<string, string> = {
  success: 'Success',
  partial_success: 'Partial success',
  failure: 'Failure',
  interrupted: 'Interrupted',
  in_progress: 'In progress',
};

const RECOVERY_LABEL: Record<string, string> = {
  none_needed: 'no recovery needed',
  pending: 'recovery pending',
  resumed: 'resumed',
  abandoned: 'abandoned: work left undone',
};

export class OverviewPanel {
  readonly el: HTMLElement;
  private readonly box: HTMLDetailsElement;
  private readonly line: HTMLElement;
  private readonly body: HTMLElement;
  private sessionId: string | undefined;
  private requestId = 0;

  constructor(private readonly actions: OverviewActions) {
    this.line = h('span', { class: 'overview-line' }, 'No session yet.');
    this.body = h('div', { class: 'overview-body' });
    this.box = h('details', { class: 'overview-box' }, h('summary', { class: 'overview-summary', title: 'Show or hide the session overview' }, this.line), this.body);
    this.el = h('section', { class: 'overview', 'aria-label': 'Session overview', hidden: true }, this.box);
  }

  get session(): string | undefined {
    return this.sessionId;
  }

  /** Asks the host for a session's overview (again, when `refresh`). */
  request(sessionId: string, refresh = false): void {
    if (sessionId === this.sessionId && !refresh) return;
    if (sessionId !== this.sessionId) {
      this.sessionId = sessionId;
      this.el.hidden = false;
      this.el.dataset.session = clip(sessionId, 200);
      replace(this.line, h('span', { class: 'muted' }, `Session ${clip(sessionId, 12)}: loading the overview…`));
      replace(this.body);
    }
    this.actions.post({ type: 'requestOverview', requestId: ++this.requestId, session_id: sessionId });
  }

  /** The host's answer; stale answers (an older request) are dropped. */
  receive(requestId: number, sessionId: string, o: SessionOverview | undefined, error: string | undefined): void {
    if (requestId !== this.requestId || sessionId !== this.sessionId) return;
    if (!o) {
      replace(this.line, h('span', { class: 'muted' }, `Session ${clip(sessionId, 12)}: no overview (${clip(error ?? 'not found', 300)})`));
      replace(this.body);
      return;
    }
    this.show(o);
  }

  private show(o: SessionOverview): void {
    this.el.dataset.state = o.terminal_state;
    this.el.dataset.recovery = o.recovery_status;
    const bad = o.terminal_state === 'failure' || o.terminal_state === 'partial_success' || o.terminal_state === 'interrupted';
    replace(this.line,
      h('span', { class: `state-badge state-${o.terminal_state in STATE_LABEL ? o.terminal_state : 'unknown'}` }, STATE_LABEL[o.terminal_state] ?? clip(o.terminal_state, 40)),
      h('span', { class: 'overview-session' }, ` Session ${clip(o.session_id, 12)}`),
      h('span', { class: bad && o.recovery_status === 'abandoned' ? 'overview-recovery warn' : 'overview-recovery' }, ` · ${RECOVERY_LABEL[o.recovery_status] ?? clip(o.recovery_status, 40)}`),
      ` · ${count(o.tool_calls)} tool call${o.tool_calls === 1 ? '' : 's'}: ${count(o.successful_calls)} ok, ${count(o.failed_calls)} failed, ${count(o.cancelled_calls)} cancelled, ${count(o.pending_calls)} pending`,
      o.retries ? ` · ${count(o.retries)} agent retr${o.retries === 1 ? 'y' : 'ies'} (${count(o.recovered_failures)} repaired)` : null,
      o.duration_ms !== null ? ` · ${duration(o.duration_ms)}` : null);

    const fx = o.side_effects;
    const observed = (n: number | null, unit = ''): Child => (n === null ? h('span', { class: 'muted' }, 'not observed') : `${count(n)}${unit}`);
    const kv = (k: string, v: Child): Child[] => [h('dt', null, k), h('dd', null, v)];
    const facts = h('dl', { class: 'kv overview-facts' },
      ...kv('Session', h('code', null, clip(o.session_id, 200))),
      ...kv('Started', isoToLocal(o.started_at ?? undefined)),
      ...kv('Ended', o.ended_at ? isoToLocal(o.ended_at) : h('span', { class: 'muted' }, o.terminal_state === 'in_progress' ? 'still running' : 'never (no session end recorded)')),
      ...kv('Servers', o.servers.length ? h('ul', { class: 'plain' }, ...o.servers.slice(0, 50).map((s) => h('li', null, `${clip(s.name, 200)}${s.version ? ` ${clip(s.version, 60)}` : ''}: ${count(s.calls)} calls, ${count(s.failures)} failed`))) : h('span', { class: 'muted' }, 'none')),
      ...kv('Agents', o.agents.length ? o.agents.slice(0, 20).map((a) => clip(a, 200)).join(', ') : h('span', { class: 'muted' }, 'unknown')),
      ...kv('Errors', o.errors_by_class.length ? o.errors_by_class.map((e) => `${clip(e.error_class, 60)} ${count(e.count)}`).join(', ') : h('span', { class: 'muted' }, 'none')),
      ...kv('Credentials', o.credentials_used === null ? h('span', { class: 'muted' }, 'not attributed') : `${count(o.credentials_used)} used`),
      ...kv('Files', fx.files_created === null && fx.files_modified === null && fx.files_deleted === null ? h('span', { class: 'muted' }, 'not observed') : h('span', null, 'created ', observed(fx.files_created), ', modified ', observed(fx.files_modified), ', deleted ', observed(fx.files_deleted))),
      ...kv('API calls', observed(fx.api_calls_made)),
      ...kv('Spend', fx.spend_incurred_usd === null ? h('span', { class: 'muted' }, 'not metered') : `$${fx.spend_incurred_usd.toFixed(4)}`));
    replace(this.body, facts, o.plan ? this.plan(o.session_id, o.plan) : null);
  }

  private plan(sessionId: string, p: OverviewPlan): HTMLElement {
    const ro = this.actions.readOnly();
    const where = p.broke_at
      ? h('p', { class: 'plan-break' },
          h('span', { class: 'icon', 'aria-hidden': 'true' }, '✕ '),
          'Broke at ', this.link(sessionId, p.broke_at.call_id), ` ${clip(p.broke_at.server, 200)}/${clip(p.broke_at.tool, 200)} — ${p.broke_at.reason === 'in_flight' ? 'in flight when the session died' : 'failed, never repaired'}`)
      : null;
    const from = h('p', null, 'Resume from ',
      p.last_resume_point
        ? h('span', null, 'after ', this.link(sessionId, p.last_resume_point.after_call_id), ` ${clip(p.last_resume_point.server, 200)}/${clip(p.last_resume_point.tool, 200)} (${count(p.last_resume_point.completed_tool_calls)} tool calls done)`)
        : 'the start: no tool call completed before the break');
    const b = p.before_break;
    const before = h('p', null, `Before the break: ${count(b.permanent)} permanent, ${count(b.reversible)} reversible, ${count(b.no_effect)} without effect.`);
    const list = h('ol', { class: 'plan-steps', 'aria-label': 'Calls to resume' });
    for (const s of p.resume) {
      const replay = button('Replay', () => this.actions.post({ type: 'replay', session_id: sessionId, call_id: s.call_id }), {
        icon: '↻',
        className: 'btn btn-small',
        title: ro ? 'Replay is not available for a read-only recording' : s.retry_safe ? 'Send this call again (redacted values are asked for)' : 'Not retry-safe: Replay asks for confirmation first',
        attrs: { disabled: ro, 'data-action': 'replay-step' },
      });
      list.appendChild(h('li', { class: s.retry_safe ? 'plan-step safe' : 'plan-step unsafe', 'data-call': clip(s.call_id, 200) },
        h('div', null,
          this.link(sessionId, s.call_id), ` ${clip(s.server, 200)}/${clip(s.tool, 200)} · ${s.reason === 'in_flight' ? 'in flight' : clip(s.error_class ?? 'failed', 60)} · `,
          h('span', { class: s.retry_safe ? 'yes' : 'warn' }, s.retry_safe ? 'retry-safe' : 'NOT retry-safe'),
          ` · ${clip(s.reversibility, 40)} `, replay),
        s.message ? h('div', { class: 'error-message' }, clip(s.message, 500)) : null,
        h('div', { class: 'muted' }, clip(s.retry_note, 600)),
        s.redacted.length ? h('div', { class: 'chip chip-warning' }, `redacted, supply again: ${s.redacted.slice(0, 20).map((r) => clip(r, 120)).join(', ')}`) : null));
    }
    const open = button('Open Recovery Plan', () => this.actions.post({ type: 'showPlan', session_id: sessionId }), { icon: '⇱', className: 'btn btn-small', title: 'The whole plan, with exact arguments, as a document', attrs: { 'data-action': 'show-plan' } });
    return h('section', { class: 'overview-plan', 'aria-label': 'Recovery plan' }, h('h3', null, 'Recovery plan ', open), where, from, before, p.resume.length ? list : h('p', { class: 'muted' }, 'Nothing to resume.'));
  }

  private link(sessionId: string, callId: string): HTMLElement {
    const b = h('button', { type: 'button', class: 'link-btn', title: 'Show this call' }, h('code', null, clip(callId, 200)));
    b.addEventListener('click', () => this.actions.selectCall(sessionId, callId));
    return b;
  }
}
