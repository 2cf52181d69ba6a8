/**
 * The detail pane: one call's arguments, result or error (as lazy JSON trees), the error's
 * classification, timing, the progress/log messages that arrived during it, nested calls,
 * images, and the raw JSON-RPC messages. Every server string goes in as text.
 */
import type { AttachedMessageView, CallDetail, CallRow, FromWebview, Payload, RawMessageView } from '../src/shared/protocol';
import { button, h, image, replace, text, type Child } from './dom';
import { bytes, clockTime, count, duration, isoToLocal, plural } from './format';
import { decideImage } from './images';
import { jsonTree } from './json-tree';
import { clip } from './safe-text';
import { outcomeBadge } from './outcome';

export interface DetailActions {
  post(m: FromWebview): void;
  /** Select (and reveal) another call, e.g. a nested one. */
  selectCall(session_id: string, call_id: string): void;
  close(): void;
  readOnly(): boolean;
}

export class DetailPane {
  readonly el: HTMLElement;
  private readonly titleEl: HTMLElement;
  private readonly subtitleEl: HTMLElement;
  private readonly actionsEl: HTMLElement;
  private readonly body: HTMLElement;
  private urls: string[] = [];
  private row: CallRow | undefined;

  constructor(private readonly actions: DetailActions) {
    this.titleEl = h('h2', { class: 'detail-title', id: 'detail-title' }, 'Call detail');
    this.subtitleEl = h('div', { class: 'detail-subtitle' });
    this.actionsEl = h('div', { class: 'detail-actions', role: 'toolbar', 'aria-label': 'Call actions' });
    const close = button('', () => this.actions.close(), { icon: '✕', title: 'Close detail (Esc)', className: 'icon-btn', attrs: { 'aria-label': 'Close detail' } });
    this.body = h('div', { class: 'detail-body' });
    this.el = h('aside', { class: 'detail', 'aria-labelledby': 'detail-title', hidden: true },
      h('header', { class: 'detail-header' }, h('div', { class: 'detail-heading' }, this.titleEl, this.subtitleEl), close),
      this.actionsEl,
      this.body);
  }

  get current(): CallRow | undefined {
    return this.row;
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  open(): void {
    this.el.hidden = false;
  }

  hide(): void {
    this.el.hidden = true;
    this.revoke();
    this.row = undefined;
    replace(this.body);
  }

  /** While the host looks the call up: the row's own data, and a busy marker. */
  showLoading(row: CallRow): void {
    const same = this.row && this.row.session_id === row.session_id && this.row.call_id === row.call_id;
    this.row = row;
    this.header(row);
    this.body.setAttribute('aria-busy', 'true');
    if (!same) {
      this.revoke();
      replace(this.body, h('p', { class: 'muted loading' }, 'Loading details…'));
    }
  }

  showError(row: CallRow, message: string): void {
    this.row = row;
    this.header(row);
    this.revoke();
    this.body.removeAttribute('aria-busy');
    replace(this.body, h('p', { class: 'notice notice-error', role: 'alert' }, h('span', { class: 'icon', 'aria-hidden': 'true' }, '✕ '), `Could not load this call: ${message}`));
  }

  /** Each alert: severity, kind and title, then its explanation (a definition diff keeps its lines). Text only. */
  private alerts(list: NonNullable<CallDetail['alerts']>): HTMLElement {
    return h(
      'ul',
      { class: 'alerts' },
      ...list.map((a) => h('li', { class: `alert-item sev-${a.severity}` }, h('strong', {}, `${a.severity.toUpperCase()} · ${a.kind.replace(/_/g, ' ')}`), ` ${clip(a.title, 300)} `, h('span', { class: 'muted' }, a.alert_id), h('pre', { class: 'alert-detail' }, text(clip(a.detail, 4000), true)))),
    );
  }

  show(d: CallDetail): void {
    const keepOpen = this.sameCall(d.row) ? this.openSections() : undefined;
    this.row = d.row;
    this.header(d.row);
    this.revoke();
    this.body.removeAttribute('aria-busy');
    const r = d.row;
    const sections: Child[] = [];
    if (d.error || r.outcome === 'error' || r.outcome === 'timeout') sections.push(this.errorSection(d));
    if (r.alerts > 0) {
      sections.push(h('p', { class: 'notice notice-warning' }, h('span', { class: 'icon', 'aria-hidden': 'true' }, '⚠ '), `${plural(r.alerts, 'security alert')} raised on this call`));
      if (d.alerts?.length) sections.push(section('alerts', `Security alerts (${d.alerts.length})`, this.alerts(d.alerts), true));
    }
    sections.push(this.timingSection(d));
    sections.push(section('args', 'Arguments', this.payload(d.input, 'input', 'Arguments'), true));
    const outTitle = r.outcome === 'error' && d.output.kind !== 'absent' ? 'Error response' : 'Result';
    sections.push(section('result', outTitle, this.payload(d.output, 'output', outTitle, r.outcome), true));
    if (d.images.length) sections.push(section('images', `Images (${d.images.length})`, this.images(d), true));
    sections.push(section('progress', `Progress (${d.progress.length})`, this.attached(d.progress, 'progress'), d.progress.length > 0 && d.progress.length <= 20));
    sections.push(section('logs', `Log messages (${d.logs.length})`, this.attached(d.logs, 'log'), d.logs.length > 0 && d.logs.length <= 20));
    if (d.nested.length) sections.push(section('nested', `Nested calls (${d.nested.length})`, this.nested(d.nested), true));
    if (d.side_effects?.length) sections.push(section('effects', `Side effects (${d.side_effects.length + (d.side_effects_omitted ?? 0)})`, this.effects(d), true));
    if (d.credentials) sections.push(section('credentials', 'Credentials', credentialsView(d.credentials), false));
    sections.push(section('raw', `Raw JSON-RPC messages (${d.raw.length})`, this.raw(d.raw), false));
    replace(this.body, ...sections);
    if (keepOpen) for (const el of this.body.querySelectorAll<HTMLDetailsElement>('details[data-section]')) {
      const k = el.dataset.section ?? '';
      if (keepOpen.has(k) !== el.open) el.open = keepOpen.has(k);
    }
  }

  /** Revokes the blob: URLs of the images shown. */
  revoke(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }

  // ---- parts ---------------------------------------------------------------------------------

  private sameCall(r: CallRow): boolean {
    return !!this.row && this.row.session_id === r.session_id && this.row.call_id === r.call_id && this.body.querySelector('details[data-section]') !== null;
  }

  private openSections(): Set<string> {
    const s = new Set<string>();
    for (const el of this.body.querySelectorAll<HTMLDetailsElement>('details[data-section]')) if (el.open) s.add(el.dataset.section ?? '');
    return s;
  }

  private header(r: CallRow): void {
    replace(this.titleEl, h('span', { class: 'detail-tool' }, clip(r.tool, 300)), ' ', outcomeBadge(r.outcome));
    replace(this.subtitleEl,
      h('span', { class: 'detail-server' }, clip(r.server, 200)),
      r.method !== r.tool ? h('span', { class: 'detail-method' }, ` · ${clip(r.method, 200)}`) : null,
      ` · ${duration(r.duration_ms)}`,
      r.replay_of ? h('span', { class: 'chip' }, `↻ replay of ${clip(r.replay_of, 80)}`) : null,
      r.retry_of ? h('span', { class: 'chip', 'data-retry-of': clip(r.retry_of, 200) }, ` ⟳ agent retry of ${clip(r.retry_of, 80)}`) : null);
    const id = { session_id: r.session_id, call_id: r.call_id };
    const ro = this.actions.readOnly();
    replace(this.actionsEl,
      button('Open Inputs', () => this.actions.post({ type: 'openInputs', ...id }), { icon: '⇱', title: 'Open the arguments in an editor' }),
      button('Replay', () => this.actions.post({ type: 'replay', ...id }), { icon: '↻', title: ro ? 'Replay is not available for a read-only recording' : 'Send this call again to the server', attrs: { disabled: ro } }),
      button('Copy as JSON', () => this.actions.post({ type: 'copyJson', ...id }), { icon: '❐', title: 'Copy the whole call as JSON' }));
  }

  private errorSection(d: CallDetail): HTMLElement {
    const e = d.error;
    const r = d.row;
    const rows: Child[] = [];
    if (e) {
      rows.push(
        kv('Class', h('code', null, e.error_class)),
        kv('Code', e.error_code === null ? h('span', { class: 'muted' }, 'none') : h('code', null, String(e.error_code))),
        kv('Message', h('span', { class: 'error-message' }, text(clip(e.message, 4000), true))),
        kv('Recoverable', yesNo(e.recoverable)),
        kv('Recovery action', h('code', null, e.recovery_action)),
        kv('Retry safe', yesNo(e.retry_safe)),
      );
    } else {
      if (r.error_class) rows.push(kv('Class', h('code', null, r.error_class)));
      if (r.error_message) rows.push(kv('Message', h('span', { class: 'error-message' }, text(clip(r.error_message, 4000), true))));
      if (!rows.length) rows.push(kv('Outcome', r.outcome));
    }
    const title = e ? `${r.outcome === 'timeout' ? 'Timeout' : 'Error'}: ${e.error_class}` : r.outcome === 'timeout' ? 'Timeout' : 'Error';
    return h('section', { class: 'error-box', 'aria-label': 'Error classification' },
      h('h3', { class: 'error-title' }, h('span', { class: 'icon', 'aria-hidden': 'true' }, r.outcome === 'timeout' ? '◷ ' : '✕ '), title),
      h('dl', { class: 'kv' }, ...rows));
  }

  private timingSection(d: CallDetail): HTMLElement {
    const r = d.row;
    return section('timing', 'Timing and identity', h('dl', { class: 'kv' },
      kv('Started', isoToLocal(d.timestamp)),
      kv('Ended', d.ended_at ? isoToLocal(d.ended_at) : r.outcome === 'pending' ? h('span', { class: 'muted' }, 'still running') : '—'),
      kv('Duration', duration(r.duration_ms)),
      kv('Server', r.server),
      kv('Method', h('code', null, r.method)),
      kv('Direction', r.direction === 'client_to_server' ? 'agent → server' : 'server → agent'),
      r.agent_id ? kv('Agent', r.agent_id) : null,
      kv('Request id', h('code', null, typeof d.request_id === 'string' ? JSON.stringify(d.request_id) : String(d.request_id))),
      kv('Session', h('code', null, r.session_id)),
      kv('Call id', h('code', null, r.call_id)),
      d.answered_by_recorder ? kv('Answered by', h('span', { class: 'chip chip-warning' }, 'the recorder (the server did not answer)')) : null,
      r.replay_of ? kv('Replay of', h('code', null, r.replay_of)) : null,
      r.retry_of ? kv('Retry of', this.callLink(r.session_id, r.retry_of, 'Show the failed call this one retries')) : null,
    ), true);
  }

  private callLink(session_id: string, call_id: string, title: string): HTMLElement {
    const b = h('button', { type: 'button', class: 'link-btn', title, 'data-action': 'show-call' }, h('code', null, clip(call_id, 200)));
    b.addEventListener('click', () => this.actions.selectCall(session_id, call_id));
    return b;
  }

  private payload(p: Payload, part: 'input' | 'output', label: string, outcome?: string): HTMLElement {
    const row = this.row!;
    const openFull = (): void => this.actions.post({ type: 'openFull', session_id: row.session_id, call_id: row.call_id, part });
    switch (p.kind) {
      case 'json':
        return jsonTree(p.value, { label, expandDepth: 1 });
      case 'truncated':
        return h('div', { class: 'payload-cut' },
          h('div', { class: 'notice notice-warning' },
            h('span', { class: 'icon', 'aria-hidden': 'true' }, '✂ '),
            h('span', null, `Truncated: ${bytes(p.size)} in full, too large to show here. Preview of the first ${bytes(p.preview.length)}:`),
            button('Open full', openFull, { className: 'btn btn-small', title: `Open the full ${label.toLowerCase()} (${bytes(p.size)}) in an editor`, attrs: { 'data-action': 'open-full', 'data-part': part } })),
          h('pre', { class: 'preview', tabindex: 0, 'aria-label': `${label} preview` }, text(p.preview, true), h('span', { class: 'cut-marker' }, '\n… (cut)')));
      case 'opaque':
        return h('div', { class: 'notice notice-info' },
          h('span', { class: 'icon', 'aria-hidden': 'true' }, '◼ '),
          h('span', null, `Opaque payload (${p.reason}), ${bytes(p.size)}: kept as raw bytes, not parsed.`),
          button('Open full', openFull, { className: 'btn btn-small', attrs: { 'data-action': 'open-full', 'data-part': part } }));
      case 'absent':
      default:
        return h('p', { class: 'muted' }, part === 'output' && outcome === 'pending' ? 'No result yet: the call is still running.' : 'None.');
    }
  }

  private images(d: CallDetail): HTMLElement {
    const list = h('div', { class: 'images' });
    d.images.forEach((img, n) => {
      const dec = decideImage(img.mimeType, img.data);
      if (dec.show) {
        const url = URL.createObjectURL(new Blob([dec.bytes as Uint8Array<ArrayBuffer>], { type: dec.mime }));
        this.urls.push(url);
        list.appendChild(h('figure', { class: 'image' },
          image(url, `Image ${n + 1} from the tool result (${dec.mime}, ${bytes(dec.bytes.length)})`),
          h('figcaption', null, `${dec.mime} · ${bytes(dec.bytes.length)}`)));
      } else {
        list.appendChild(h('p', { class: 'image-hidden' }, h('span', { class: 'icon', 'aria-hidden': 'true' }, '⊘ '), `Image ${n + 1}: not displayed (${clip(dec.mime, 100)}${dec.reason === 'type not displayed' ? '' : `: ${dec.reason}`})`));
      }
    });
    return list;
  }

  private attached(list: AttachedMessageView[], kind: 'progress' | 'log'): HTMLElement {
    if (!list.length) return h('p', { class: 'muted' }, kind === 'progress' ? 'No progress notifications.' : 'No log messages.');
    const ol = h('ol', { class: 'attached' });
    const shown = list.slice(0, 500);
    for (const m of shown) ol.appendChild(h('li', null, attachedLine(m, kind)));
    if (list.length > shown.length) ol.appendChild(h('li', { class: 'muted' }, `… ${count(list.length - shown.length)} more not shown`));
    return ol;
  }

  private nested(rows: CallRow[]): HTMLElement {
    const ul = h('ul', { class: 'nested' });
    for (const r of rows.slice(0, 500)) {
      const b = h('button', { type: 'button', class: 'link-btn', title: 'Show this call' },
        h('span', { class: 'nested-dir', 'aria-hidden': 'true' }, r.direction === 'server_to_client' ? '↩ ' : '→ '),
        clip(r.tool, 200), ' ', outcomeBadge(r.outcome), ` ${duration(r.duration_ms)}`);
      b.addEventListener('click', () => this.actions.selectCall(r.session_id, r.call_id));
      ul.appendChild(h('li', null, b));
    }
    return ul;
  }

  private effects(d: CallDetail): HTMLElement {
    const ul = h('ul', { class: 'effects' });
    for (const e of (d.side_effects ?? []).slice(0, 1000)) {
      const what = e.path ?? e.uri ?? e.name ?? '';
      const others = e.in_flight.filter((id) => id !== d.row.call_id);
      const how = e.attribution === 'named_in_arguments' ? 'named in the arguments' : e.attribution === 'declared' ? 'declared in the policy' : 'observed while in flight';
      ul.appendChild(
        h('li', null,
          h('span', { class: 'effect-kind' }, EFFECT_LABELS[e.kind] ?? clip(e.kind, 40)),
          e.directory ? ' (folder)' : '',
          ' ',
          h('code', { class: 'effect-target' }, clip(what, 1000)),
          ' ',
          h('span', { class: `chip effect-${e.attribution}`, title: e.attribution }, how),
          others.length ? h('span', { class: 'muted' }, ` · with ${plural(others.length, 'other call')} in flight: ${clip(others.join(', '), 400)}`) : null,
          h('span', { class: 'muted' }, ` · ${clockFromIso(e.ts)}`)),
      );
    }
    if (d.side_effects_omitted) ul.appendChild(h('li', { class: 'muted' }, `… ${count(d.side_effects_omitted)} more not kept`));
    return ul;
  }

  private raw(list: RawMessageView[]): HTMLElement {
    if (!list.length) return h('p', { class: 'muted' }, 'No messages.');
    const wrap = h('div', { class: 'raw-list' });
    for (const m of list.slice(0, 1000)) {
      const det = h('details', { class: 'raw' });
      const method = /"method"\s*:\s*"((?:[^"\\]|\\.){1,120})"/.exec(m.text.slice(0, 4000))?.[1];
      const kind = method ? method : /"error"\s*:/.test(m.text.slice(0, 4000)) ? 'error response' : /"result"\s*:/.test(m.text.slice(0, 4000)) ? 'response' : 'message';
      det.appendChild(h('summary', null,
        h('span', { class: 'raw-dir', 'aria-hidden': 'true' }, m.dir === 'client_to_server' ? '→ ' : '← '),
        h('span', { class: 'visually-hidden' }, m.dir === 'client_to_server' ? 'to server: ' : 'from server: '),
        h('span', { class: 'raw-kind' }, kind), ` #${m.seq} · ${clockFromIso(m.ts)} · ${bytes(m.text.length)}`,
        m.truncated ? h('span', { class: 'chip chip-warning' }, 'cut') : null,
        m.origin === 'recorder' ? h('span', { class: 'chip' }, 'from recorder') : null));
      // The text is laid out only when opened: raw messages can be large.
      det.addEventListener('toggle', () => {
        if (!det.open || det.querySelector('pre')) return;
        det.appendChild(h('pre', { class: 'raw-text', tabindex: 0, 'aria-label': `Message ${m.seq}` }, text(prettyJson(m.text, m.truncated), true)));
      });
      wrap.appendChild(det);
    }
    if (list.length > 1000) wrap.appendChild(h('p', { class: 'muted' }, `… ${count(list.length - 1000)} more not shown`));
    return wrap;
  }
}

const EFFECT_LABELS: Record<string, string> = {
  file_created: 'created',
  file_modified: 'modified',
  file_deleted: 'deleted',
  resource_updated: 'resource updated',
  resource_list_changed: 'resource list changed',
  declared: 'declared',
};

function credentialsView(c: NonNullable<CallDetail['credentials']>): HTMLElement {
  const dl = h('dl', { class: 'kv' });
  dl.appendChild(kv('Mode', c.mode));
  dl.appendChild(kv('Set', c.set_id));
  c.names.forEach((n, i) => dl.appendChild(kv(n, `fingerprint ${c.fingerprints[i] ?? '?'}`)));
  return dl;
}

function section(key: string, title: string, content: Node, open: boolean): HTMLElement {
  const d = h('details', { class: 'section', 'data-section': key, open });
  d.appendChild(h('summary', null, h('span', { class: 'section-title' }, title)));
  d.appendChild(h('div', { class: 'section-body' }, content));
  return d;
}

function kv(k: string, v: Child): DocumentFragment {
  const f = document.createDocumentFragment();
  f.appendChild(h('dt', null, k));
  f.appendChild(h('dd', null, typeof v === 'string' ? clip(v, 2000) : v));
  return f;
}

function yesNo(b: boolean): HTMLElement {
  return h('span', { class: b ? 'yes' : 'no' }, h('span', { class: 'icon', 'aria-hidden': 'true' }, b ? '✓ ' : '✕ '), b ? 'yes' : 'no');
}

function clockFromIso(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? clockTime(t) : clip(iso, 40);
}

function prettyJson(s: string, truncated: boolean): string {
  if (truncated || s.length > 1_000_000) return s;
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

function attachedLine(m: AttachedMessageView, kind: 'progress' | 'log'): Node {
  const f = document.createDocumentFragment();
  f.appendChild(h('span', { class: 'att-time' }, clockFromIso(m.ts)));
  const p = m.params;
  if (p.kind === 'json' && p.value && typeof p.value === 'object' && !Array.isArray(p.value)) {
    const v = p.value as Record<string, unknown>;
    if (kind === 'progress' && typeof v.progress === 'number') {
      const total = typeof v.total === 'number' ? v.total : undefined;
      const pct = total ? Math.max(0, Math.min(100, (v.progress / total) * 100)) : undefined;
      f.appendChild(h('span', { class: 'att-main' }, total !== undefined ? `${v.progress} / ${total}` : String(v.progress)));
      if (pct !== undefined) {
        const bar = h('span', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(pct), 'aria-label': 'Progress' }, h('span', { class: 'progress-fill' }));
        (bar.firstChild as HTMLElement).style.width = `${pct}%`;
        f.appendChild(bar);
      }
      if (typeof v.message === 'string') f.appendChild(h('span', { class: 'att-msg' }, clip(v.message, 500)));
      return f;
    }
    if (kind === 'log' && typeof v.level === 'string') {
      const lvl = v.level.toLowerCase();
      const bad = ['error', 'critical', 'alert', 'emergency'].includes(lvl);
      const warn = lvl === 'warning';
      f.appendChild(h('span', { class: `level ${bad ? 'level-error' : warn ? 'level-warning' : ''}` }, bad ? '✕ ' : warn ? '⚠ ' : '', clip(v.level, 20)));
      if (typeof v.logger === 'string') f.appendChild(h('span', { class: 'att-logger' }, clip(v.logger, 80)));
      if (typeof v.data === 'string') f.appendChild(h('span', { class: 'att-msg' }, clip(v.data, 2000)));
      else if (v.data !== undefined) f.appendChild(jsonTree(v.data, { label: 'Log data', expandDepth: 0 }));
      return f;
    }
  }
  f.appendChild(h('span', { class: 'att-main' }, m.method));
  if (p.kind === 'json') f.appendChild(jsonTree(p.value, { label: `${m.method} parameters`, expandDepth: 0 }));
  else if (p.kind === 'truncated') f.appendChild(h('span', { class: 'muted' }, `(${bytes(p.size)}, truncated)`));
  else if (p.kind === 'opaque') f.appendChild(h('span', { class: 'muted' }, `(opaque, ${bytes(p.size)})`));
  return f;
}
