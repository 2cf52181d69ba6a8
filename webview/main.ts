/**
 * The timeline webview: bootstrap and message routing. Builds the whole DOM from script (the
 * page's HTML is an empty body under a strict CSP), posts `ready`, then renders what the host
 * sends: `init` (the newest calls and the total), `history` (the older calls, in chunks behind
 * the first paint), `calls` (batched upserts), `sessions`, `detail` (answers to
 * `requestDetail`) and `reveal`. Rendering is batched into one requestAnimationFrame.
 */
import { decodeColumns } from '../src/shared/call-columns';
import type { CallRow, ToWebview } from '../src/shared/protocol';
import { DetailPane } from './detail';
import { button, h, setText } from './dom';
import { duration } from './format';
import { Host, type UiState } from './host';
import { ListView, ROW_HEIGHT } from './list';
import { OverviewPanel } from './overview';
import { clip, visibleText } from './safe-text';
import { CallStore, callKey, filtersActive, type Filters } from './state';
import { TimelineView } from './timeline';
import { Toolbar } from './toolbar';
import type { SelectOptions, ViewHost } from './view-host';

type View = 'timeline' | 'list';

const DETAIL_MIN = 300;
const DETAIL_DEFAULT = 460;

class App implements ViewHost {
  readonly store = new CallStore();
  private readonly host = new Host();
  private readonly ui: UiState;
  private readonly toolbar: Toolbar;
  private readonly timeline: TimelineView;
  private readonly list: ListView;
  private readonly detail: DetailPane;
  private readonly overview: OverviewPanel;
  private overviewTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly splitter: HTMLElement;
  private readonly live: HTMLElement;
  private readonly status: HTMLElement;
  private readonly hints = h('span', { class: 'hints', 'aria-hidden': 'true' });
  private readonly helpDialog: HTMLElement;
  private view: View;
  private sel = -1;
  private selKey: string | undefined;
  private followOn = true;
  private readOnly = false;
  private detailRequest = 0;
  private detailTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingReveal: { session_id: string; call_id: string } | undefined;
  private renderQueued = false;
  private delayTimer: ReturnType<typeof setTimeout> | undefined;
  private lastToolbarVersion = -1;
  private measureInit = false;
  private detailWidth: number;
  private announceTimer: ReturnType<typeof setTimeout> | undefined;
  private indexTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `load` of the last `init`: `history` chunks of an older one are dropped. */
  private load: number | undefined;
  /**
   * History chunks received and not yet added: they wait for the first paint (the chunks arrive
   * right behind `init`, and handling them first would delay it), then go in one per task, so
   * input and frames get their turn in between.
   */
  private historyQueue: Array<{ columns: Parameters<typeof decodeColumns>[0]; done: boolean }> = [];
  private historyTimer: ReturnType<typeof setTimeout> | undefined;
  private firstPainted = false;

  constructor() {
    this.ui = this.host.getState();
    this.view = this.ui.view === 'list' ? 'list' : 'timeline';
    this.detailWidth = Math.max(DETAIL_MIN, this.ui.detailWidth ?? DETAIL_DEFAULT);

    this.toolbar = new Toolbar(this.store, {
      setView: (v) => this.setView(v, true),
      setFollow: (on) => this.setFollow(on),
      zoom: (f) => {
        this.timeline.zoomKeyboard(f);
      },
      fit: () => {
        this.timeline.fit();
        this.requestRender();
      },
      setFilters: (f) => this.setFilters(f),
      showHelp: () => this.toggleHelp(true),
    });
    this.timeline = new TimelineView(this);
    this.list = new ListView(this);
    this.detail = new DetailPane({
      post: (m) => this.host.post(m),
      selectCall: (session_id, call_id) => {
        const i = this.store.indexOf(session_id, call_id);
        if (i >= 0) this.select(i, { reveal: true, open: true });
        else this.announce('That call is not in this view.');
      },
      close: () => this.closeDetail(),
      readOnly: () => this.readOnly,
    });
    this.overview = new OverviewPanel({
      post: (m) => this.host.post(m),
      selectCall: (session_id, call_id) => {
        const i = this.store.indexOf(session_id, call_id);
        if (i >= 0) this.select(i, { reveal: true, open: true });
        else this.announce('That call is not in this view.');
      },
      readOnly: () => this.readOnly,
    });
    this.detail.el.style.width = `${this.detailWidth}px`;
    this.splitter = h('div', { class: 'splitter', role: 'separator', tabindex: 0, 'aria-orientation': 'vertical', 'aria-label': 'Resize the detail pane', hidden: true });
    this.live = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
    this.status = h('div', { class: 'status-text' });
    this.helpDialog = this.buildHelp();

    const main = h('main', { class: 'views', 'aria-label': 'Calls' }, this.timeline.el, this.list.el);
    document.body.classList.add('mfr');
    document.body.append(
      this.toolbar.el,
      this.overview.el,
      h('div', { class: 'workspace' }, main, this.splitter, this.detail.el),
      h('footer', { class: 'statusbar' }, this.status, this.hints),
      this.live,
      this.helpDialog);

    if (this.ui.text) {
      this.toolbar.setText(this.ui.text);
      this.store.setFilters({ ...this.store.getFilters(), text: this.ui.text });
    }
    this.setView(this.view, false);
    this.toolbar.setFollow(this.followOn);
    this.wireKeys();
    this.wireSplitter();
    this.el('leave-search', () => this.focusView());
    this.host.onMessage((m) => this.onMessage(m));
    this.requestRender();
    this.host.post({ type: 'ready' });
  }

  // ---- ViewHost ------------------------------------------------------------------------------

  selected(): number {
    return this.sel;
  }

  now(): number {
    return Date.now();
  }

  follow(): boolean {
    return this.followOn;
  }

  setFollow(on: boolean): void {
    if (this.followOn === on) return;
    this.followOn = on;
    this.toolbar.setFollow(on);
    this.announce(on ? 'Following the newest calls.' : 'Stopped following.');
    this.requestRender();
  }

  requestRender(delayMs?: number): void {
    if (delayMs) {
      this.delayTimer ??= setTimeout(() => {
        this.delayTimer = undefined;
        this.requestRender();
      }, delayMs);
      return;
    }
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => this.render());
  }

  select(i: number, opts: SelectOptions = {}): void {
    const row = this.store.rows[i];
    if (!row) return;
    const changed = i !== this.sel;
    this.sel = i;
    this.selKey = callKey(row.session_id, row.call_id);
    if (opts.reveal) {
      // Jumping to anything but the newest call leaves follow mode (it would scroll away).
      const v = this.store.visible;
      if (this.followOn && v[v.length - 1] !== i) this.setFollow(false);
      this.revealSelected();
    }
    if (changed) this.announceSelection(row);
    if (row.session_id !== this.overview.session) this.overview.request(row.session_id);
    if (opts.open) this.openDetail(i);
    else if (this.detail.isOpen && changed) this.loadDetail(i, 150);
    this.requestRender();
  }

  moveSelection(delta: number): void {
    const v = this.store.visible;
    if (!v.length) return;
    let pos = this.sel >= 0 ? this.store.visiblePos(this.sel) : -1;
    let target: number;
    if (delta === Infinity) target = v.length - 1;
    else if (delta === -Infinity) target = 0;
    else if (pos < 0) {
      const anchor = this.sel >= 0 ? this.store.start[this.sel]! : this.viewAnchorTime();
      const near = this.store.nearestVisible(anchor);
      pos = this.store.visiblePos(near);
      target = pos;
    } else target = Math.max(0, Math.min(v.length - 1, pos + delta));
    const i = v[target];
    if (i !== undefined) this.select(i, { reveal: true });
  }

  openDetail(i: number): void {
    if (!this.detail.isOpen) {
      this.detail.open();
      this.splitter.hidden = false;
      this.requestRender();
    }
    this.loadDetail(i, 0);
  }

  // ---- messages ------------------------------------------------------------------------------

  private onMessage(m: ToWebview): void {
    switch (m.type) {
      case 'init':
        this.onInit(m);
        break;
      case 'history':
        if (m.load !== this.load || !m.columns) return;
        this.historyQueue.push({ columns: m.columns, done: m.done === true });
        this.drainHistory();
        break;
      case 'calls':
        if (!Array.isArray(m.calls)) return;
        this.onCalls(m.calls);
        break;
      case 'sessions':
        if (Array.isArray(m.sessions)) {
          this.store.setSessions(m.sessions);
          this.refreshOverview();
          this.requestRender();
        }
        break;
      case 'overview':
        this.overview.receive(m.requestId, m.session_id, m.overview, m.error);
        break;
      case 'detail': {
        if (m.requestId !== this.detailRequest) return; // a stale answer
        const row = this.detail.current;
        if (m.detail) this.detail.show(m.detail);
        else if (row) this.detail.showError(row, m.error ?? 'the call was not found');
        break;
      }
      case 'reveal': {
        const i = this.store.indexOf(m.session_id, m.call_id);
        if (i >= 0) {
          this.pendingReveal = undefined;
          this.setFollow(false);
          this.select(i, { reveal: true, open: true });
          this.focusView();
        } else {
          this.pendingReveal = { session_id: m.session_id, call_id: m.call_id };
        }
        break;
      }
      default:
        break;
    }
  }

  private onInit(m: Extract<ToWebview, { type: 'init' }>): void {
    performance.mark('mfr:init-received');
    this.readOnly = !!m.readOnly;
    this.toolbar.setTitle(typeof m.title === 'string' ? m.title : '');
    document.title = visibleText(clip(typeof m.title === 'string' && m.title ? m.title : 'MCP Flight Recorder', 200));
    // The key index is built after the first paint (indexInBackground), in slices.
    const calls = Array.isArray(m.calls) ? m.calls : [];
    this.store.reset(calls, true);
    this.load = m.load;
    this.historyQueue = [];
    this.firstPainted = false;
    if (typeof m.total === 'number' && Number.isFinite(m.total) && m.total > calls.length) this.store.historyMissing = Math.floor(m.total - calls.length);
    this.store.setSessions(Array.isArray(m.sessions) ? m.sessions : []);
    this.timeline.resetView();
    this.sel = this.selKey ? this.indexOfKey(this.selKey) : -1;
    this.followOn = m.follow !== false;
    this.toolbar.setFollow(this.followOn);
    this.lastToolbarVersion = -1;
    this.measureInit = true;
    performance.mark('mfr:init-stored');
    this.applyPendingReveal();
    this.showDefaultOverview();
    this.requestRender();
  }

  private drainHistory(): void {
    if (this.historyTimer !== undefined || !this.firstPainted || !this.historyQueue.length) return;
    this.historyTimer = setTimeout(() => {
      this.historyTimer = undefined;
      const next = this.historyQueue.shift();
      if (next) {
        this.store.addHistory(decodeColumns(next.columns), next.done);
        if (next.done) performance.mark('mfr:history-done');
        // A selection kept by key across a re-init comes back when its call arrives.
        if (this.sel < 0 && this.selKey) this.sel = this.indexOfKey(this.selKey);
        this.applyPendingReveal();
        this.requestRender();
      }
      this.drainHistory();
    }, 0);
  }

  /** The overview follows the selected call's session; without a selection, the newest session. */
  private showDefaultOverview(): void {
    const row = this.sel >= 0 ? this.store.rows[this.sel] : undefined;
    let id = row?.session_id;
    if (!id) {
      let newest: { session_id: string; started_at: string } | undefined;
      for (const s of this.store.sessions) if (!newest || s.started_at > newest.started_at) newest = s;
      id = newest?.session_id;
    }
    if (id) this.overview.request(id, true);
  }

  /** The shown session changed (new calls, an end): ask again, at most every 2 s. */
  private refreshOverview(): void {
    const id = this.overview.session;
    if (!id) {
      this.showDefaultOverview();
      return;
    }
    this.overviewTimer ??= setTimeout(() => {
      this.overviewTimer = undefined;
      if (this.overview.session) this.overview.request(this.overview.session, true);
    }, 2000);
  }

  private onCalls(rows: CallRow[]): void {
    this.store.upsert(rows);
    const shown = this.overview.session;
    if (!shown || rows.some((r) => r && r.session_id === shown)) this.refreshOverview();
    // The call in the detail pane changed (e.g. it finished): fetch it again, gently.
    const cur = this.detail.current;
    if (cur && this.detail.isOpen) {
      const k = callKey(cur.session_id, cur.call_id);
      for (const r of rows) {
        if (r && r.call_id === cur.call_id && r.session_id === cur.session_id && (r.outcome !== cur.outcome || r.duration_ms !== cur.duration_ms)) {
          const i = this.store.indexOf(r.session_id, r.call_id);
          clearTimeout(this.refreshTimer);
          this.refreshTimer = setTimeout(() => {
            if (this.detail.isOpen && this.detail.current && callKey(this.detail.current.session_id, this.detail.current.call_id) === k) this.loadDetail(i, 0, true);
          }, 250);
          break;
        }
      }
    }
    this.applyPendingReveal();
    this.requestRender();
  }

  private applyPendingReveal(): void {
    const p = this.pendingReveal;
    if (!p) return;
    const i = this.store.indexOf(p.session_id, p.call_id);
    if (i < 0) return;
    this.pendingReveal = undefined;
    this.setFollow(false);
    this.select(i, { reveal: true, open: true });
  }

  // ---- rendering -----------------------------------------------------------------------------

  private render(): void {
    this.renderQueued = false;
    const store = this.store;
    if (store.version !== this.lastToolbarVersion) {
      this.lastToolbarVersion = store.version;
      this.toolbar.update();
      const loading = store.historyMissing > 0 ? ` (${(store.size).toLocaleString('en-US')} of ${(store.size + store.historyMissing).toLocaleString('en-US')} calls loaded so far)` : '';
      const empty = store.size === 0 ? (loading ? 'Loading calls…' : 'Waiting for MCP calls. They appear here as agents use MCP servers.') : store.visible.length === 0 ? `No calls match the filters${loading}.` : null;
      this.timeline.setEmptyMessage(empty);
      this.list.setEmptyMessage(empty);
      this.updateStatus();
    }
    if (this.view === 'timeline') this.timeline.render();
    else this.list.render();
    if (this.measureInit) {
      this.measureInit = false;
      performance.mark('mfr:init-rendered');
      requestAnimationFrame(() => {
        performance.mark('mfr:init-painted');
        document.body.dataset.ready = 'true';
        this.firstPainted = true;
        this.drainHistory();
        this.indexInBackground();
      });
    }
  }

  /** Finishes the store's key index in slices of a few ms, so no task after the first paint is long. */
  private indexInBackground(): void {
    if (this.indexTimer !== undefined) return;
    const step = (): void => {
      this.indexTimer = undefined;
      const r = this.store.indexSome(performance.now() + 6, () => performance.now());
      if (r.rebuilt) {
        this.sel = this.selKey ? this.indexOfKey(this.selKey) : -1;
        this.requestRender();
      }
      if (!r.done) this.indexTimer = setTimeout(step, 0);
    };
    this.indexTimer = setTimeout(step, 0);
  }

  private updateStatus(): void {
    const s = this.store;
    const sessions = s.sessions.length;
    const text = `${s.lanes.length} ${s.lanes.length === 1 ? 'server' : 'servers'} · ${sessions} ${sessions === 1 ? 'session' : 'sessions'}${this.readOnly ? ' · read-only' : ''}`;
    setText(this.status, text);
  }

  // ---- selection, detail, view ---------------------------------------------------------------

  private indexOfKey(k: string): number {
    const [s, c] = k.split('\u0000');
    return s !== undefined && c !== undefined ? this.store.indexOf(s, c) : -1;
  }

  private viewAnchorTime(): number {
    if (this.view === 'timeline') return this.timeline.viewStart + this.timeline.span / 2;
    const v = this.store.visible;
    const pos = Math.min(v.length - 1, Math.max(0, Math.floor(this.list.grid.scrollTop / ROW_HEIGHT) - this.list.lead));
    const i = v[pos];
    return i === undefined ? 0 : this.store.start[i]!;
  }

  private revealSelected(): void {
    if (this.sel < 0) return;
    if (this.view === 'timeline') this.timeline.reveal(this.sel);
    else this.list.reveal(this.sel);
  }

  private loadDetail(i: number, delayMs: number, quiet = false): void {
    const row = this.store.rows[i];
    if (!row) return;
    clearTimeout(this.detailTimer);
    if (!quiet) this.detail.showLoading(row);
    const go = (): void => {
      const requestId = ++this.detailRequest;
      this.host.post({ type: 'requestDetail', requestId, session_id: row.session_id, call_id: row.call_id });
    };
    if (delayMs > 0) this.detailTimer = setTimeout(go, delayMs);
    else go();
  }

  private closeDetail(): void {
    this.detail.hide();
    this.splitter.hidden = true;
    this.detailRequest++;
    this.focusView();
    this.requestRender();
  }

  private setView(v: View, focus: boolean): void {
    this.view = v;
    this.timeline.active = v === 'timeline';
    this.list.active = v === 'list';
    this.timeline.el.hidden = v !== 'timeline';
    this.list.el.hidden = v !== 'list';
    this.toolbar.setView(v);
    setText(this.hints, v === 'timeline'
      ? '↑↓ select · ←→ pan · +/− zoom · Enter details · / filter · f follow · n next failure · v list · ? help'
      : '↑↓ select · PgUp/PgDn · Enter details · / filter · f follow · n next failure · v timeline · ? help');
    this.saveUi();
    this.requestRender();
    if (this.sel >= 0) requestAnimationFrame(() => this.revealSelected());
    if (focus) this.focusView();
  }

  private focusView(): void {
    (this.view === 'timeline' ? this.timeline.listbox : this.list.grid).focus({ preventScroll: true });
  }

  private setFilters(f: Filters): void {
    this.store.setFilters(f);
    this.saveUi();
    this.requestRender();
    clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(() => {
      const n = this.store.visible.length;
      const missing = this.store.historyMissing;
      const loading = missing > 0 ? ` Still loading: ${this.store.size.toLocaleString('en-US')} of ${(this.store.size + missing).toLocaleString('en-US')} calls so far.` : '';
      this.announce((filtersActive(this.store.getFilters()) ? `${n.toLocaleString('en-US')} of ${this.store.size.toLocaleString('en-US')} calls match.` : `Showing all ${this.store.size.toLocaleString('en-US')} calls.`) + loading);
    }, 400);
  }

  private saveUi(): void {
    this.host.setState({ view: this.view, detailWidth: this.detailWidth, text: this.store.getFilters().text });
  }

  private announce(msg: string): void {
    setText(this.live, msg);
  }

  private announceSelection(row: CallRow): void {
    const pos = this.store.visiblePos(this.sel);
    const where = pos >= 0 ? `, ${pos + 1} of ${this.store.visible.length}` : '';
    this.announce(`Selected ${clip(row.tool, 120)} on ${clip(row.server, 120)}: ${row.outcome}${row.outcome === 'pending' ? '' : `, ${duration(row.duration_ms)}`}${row.alerts ? `, ${row.alerts} security alerts` : ''}${where}`);
  }

  // ---- keyboard ------------------------------------------------------------------------------

  private wireKeys(): void {
    document.addEventListener('keydown', (e) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
      const t = e.target as HTMLElement;
      const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable;
      if (e.key === 'Escape') {
        if (!this.helpDialog.hidden) this.toggleHelp(false);
        else if (this.detail.isOpen) this.closeDetail();
        else return;
        e.preventDefault();
        return;
      }
      if (typing) return;
      let handled = true;
      switch (e.key) {
        case '/':
          this.toolbar.focusSearch();
          break;
        case 'f':
          this.setFollow(!this.followOn);
          break;
        case 'n':
        case 'N':
        case 'p': {
          const r = this.store.nextFailure(this.sel, e.key === 'n' ? 1 : -1);
          if (r) {
            this.select(r.index, { reveal: true });
            if (r.wrapped) this.announce(`Wrapped around. ${this.live.textContent ?? ''}`);
          } else this.announce('No failures in view.');
          break;
        }
        case 'v':
          this.setView(this.view === 'timeline' ? 'list' : 'timeline', true);
          break;
        case '?':
          this.toggleHelp(this.helpDialog.hidden);
          break;
        case 'j':
        case 'k':
        case 'ArrowDown':
        case 'ArrowUp':
        case 'Home':
        case 'End':
        case '+':
        case '-':
        case '=':
        case '0':
        case 'ArrowLeft':
        case 'ArrowRight':
        case 'Enter': {
          // Keys meant for the view while focus is elsewhere (e.g. on the body): hand them over.
          if (t.closest('button, [role=tree], [role=separator], details, [role=dialog], pre')) {
            handled = false;
            break;
          }
          const target = this.view === 'timeline' ? this.timeline.listbox : this.list.grid;
          if (t === target) {
            handled = false;
            break;
          }
          target.focus({ preventScroll: true });
          target.dispatchEvent(new KeyboardEvent('keydown', { key: e.key, shiftKey: e.shiftKey, bubbles: true, cancelable: true }));
          break;
        }
        default:
          handled = false;
      }
      if (handled) e.preventDefault();
    });
  }

  private buildHelp(): HTMLElement {
    const keys: Array<[string, string]> = [
      ['↑ ↓  or  k j', 'Select the previous / next call'],
      ['Home / End', 'First / last call'],
      ['Enter', 'Open the selected call’s details'],
      ['← →', 'Pan the timeline (Shift: faster)'],
      ['+ / −  ·  0', 'Zoom in / out  ·  fit everything'],
      ['Ctrl + wheel', 'Zoom at the pointer; wheel or drag pans'],
      ['/', 'Filter by text'],
      ['f', 'Toggle follow mode'],
      ['n / N', 'Next / previous failure'],
      ['v', 'Switch between timeline and list'],
      ['Esc', 'Close the details or this help'],
    ];
    const dl = h('dl', { class: 'help-keys' });
    for (const [k, d] of keys) dl.append(h('dt', null, h('kbd', null, k)), h('dd', null, d));
    const close = button('Close', () => this.toggleHelp(false), { className: 'btn' });
    const dialog = h('div', { class: 'help', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'help-title', hidden: true },
      h('div', { class: 'help-box' }, h('h2', { id: 'help-title' }, 'Keyboard shortcuts'), dl, close));
    dialog.addEventListener('keydown', (e) => {
      if (e.key === 'Tab') {
        e.preventDefault();
        close.focus();
      }
    });
    return dialog;
  }

  private toggleHelp(show: boolean): void {
    this.helpDialog.hidden = !show;
    if (show) (this.helpDialog.querySelector('button') as HTMLButtonElement | null)?.focus();
    else this.focusView();
  }

  private wireSplitter(): void {
    const apply = (w: number): void => {
      const max = Math.max(DETAIL_MIN, document.body.clientWidth - 320);
      this.detailWidth = Math.round(Math.max(DETAIL_MIN, Math.min(max, w)));
      this.detail.el.style.width = `${this.detailWidth}px`;
      this.splitter.setAttribute('aria-valuenow', String(this.detailWidth));
      this.requestRender();
    };
    this.splitter.setAttribute('aria-valuemin', String(DETAIL_MIN));
    this.splitter.setAttribute('aria-valuenow', String(this.detailWidth));
    let dragging = false;
    this.splitter.addEventListener('pointerdown', (e) => {
      dragging = true;
      this.splitter.setPointerCapture(e.pointerId);
    });
    this.splitter.addEventListener('pointermove', (e) => {
      if (dragging) apply(document.body.clientWidth - e.clientX);
    });
    this.splitter.addEventListener('pointerup', () => {
      dragging = false;
      this.saveUi();
    });
    this.splitter.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft') apply(this.detailWidth + 24);
      else if (e.key === 'ArrowRight') apply(this.detailWidth - 24);
      else return;
      e.preventDefault();
      e.stopPropagation();
      this.saveUi();
    });
  }

  private el(event: string, fn: () => void): void {
    document.addEventListener(event, fn);
  }
}

// The host's HTML may load the script in <head>: build the page once <body> exists.
if (document.body) new App();
else document.addEventListener('DOMContentLoaded', () => new App(), { once: true });
