/** The toolbar: view switch, follow, zoom, and the filters (server, tool, outcome, text). */
import type { Outcome } from '../src/shared/protocol';
import { attr, button, h, setText } from './dom';
import { count } from './format';
import { OUTCOME_ICON } from './outcome';
import { clip } from './safe-text';
import { OUTCOMES, filtersActive, type CallStore, type Filters } from './state';

export interface ToolbarActions {
  setView(v: 'timeline' | 'list'): void;
  setFollow(on: boolean): void;
  zoom(factor: number): void;
  fit(): void;
  setFilters(f: Filters): void;
  showHelp(): void;
}

export class Toolbar {
  readonly el: HTMLElement;
  readonly search: HTMLInputElement;
  private readonly title: HTMLElement;
  private readonly viewButtons: Record<'timeline' | 'list', HTMLButtonElement>;
  private readonly followBtn: HTMLButtonElement;
  private readonly zoomGroup: HTMLElement;
  private readonly serverSel: HTMLSelectElement;
  private readonly toolSel: HTMLSelectElement;
  private readonly outcomeBtns = new Map<Outcome, HTMLButtonElement>();
  private readonly clearBtn: HTMLButtonElement;
  private readonly counts: HTMLElement;
  private serversKey = '';
  private toolsKey = '';
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  private filters: Filters;

  constructor(private readonly store: CallStore, private readonly actions: ToolbarActions) {
    this.filters = store.getFilters();
    this.title = h('h1', { class: 'title' }, 'MCP Flight Recorder');
    this.viewButtons = {
      timeline: button('Timeline', () => actions.setView('timeline'), { icon: '▤', className: 'seg', attrs: { 'aria-pressed': 'true', title: 'Timeline view (v)' } }),
      list: button('List', () => actions.setView('list'), { icon: '☰', className: 'seg', attrs: { 'aria-pressed': 'false', title: 'List view (v)' } }),
    };
    this.followBtn = button('Follow', () => actions.setFollow(this.followBtn.getAttribute('aria-pressed') !== 'true'), { icon: '⇥', className: 'btn toggle follow', attrs: { 'aria-pressed': 'false', title: 'Follow the newest calls (f)' } });
    this.zoomGroup = h('div', { class: 'group', role: 'group', 'aria-label': 'Zoom' },
      button('', () => actions.zoom(1.5), { icon: '−', className: 'icon-btn', attrs: { 'aria-label': 'Zoom out', title: 'Zoom out (−, Ctrl+wheel)' } }),
      button('', () => actions.zoom(1 / 1.5), { icon: '+', className: 'icon-btn', attrs: { 'aria-label': 'Zoom in', title: 'Zoom in (+, Ctrl+wheel)' } }),
      button('Fit', () => actions.fit(), { className: 'btn', attrs: { title: 'Show everything (0)' } }));

    this.search = h('input', { type: 'search', class: 'search', placeholder: 'Filter tool, server, arguments, error  ( / )', 'aria-label': 'Filter calls by text', spellcheck: 'false', autocomplete: 'off' });
    this.search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.apply({ text: this.search.value }), 90);
    });
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        if (this.search.value) {
          this.search.value = '';
          this.apply({ text: '' });
        }
        e.preventDefault();
        e.stopPropagation();
        this.search.blur();
        this.el.dispatchEvent(new CustomEvent('leave-search', { bubbles: true }));
      } else if (e.key === 'Enter') {
        clearTimeout(this.searchTimer);
        this.apply({ text: this.search.value });
      }
    });
    this.serverSel = h('select', { class: 'select', 'aria-label': 'Filter by server' });
    this.serverSel.addEventListener('change', () => {
      const v = selectedName(this.serverSel);
      this.apply({ servers: new Set(v !== undefined ? [v] : []), tools: new Set() });
    });
    this.toolSel = h('select', { class: 'select', 'aria-label': 'Filter by tool' });
    this.toolSel.addEventListener('change', () => {
      const v = selectedName(this.toolSel);
      this.apply({ tools: new Set(v !== undefined ? [v] : []) });
    });
    const outcomeGroup = h('div', { class: 'group outcomes', role: 'group', 'aria-label': 'Filter by outcome' });
    for (const o of OUTCOMES) {
      const b = button(o, () => this.toggleOutcome(o), { icon: OUTCOME_ICON[o], className: `chip-btn o-${o}`, attrs: { 'aria-pressed': 'false', title: `Show only ${o} calls (toggle)` } });
      this.outcomeBtns.set(o, b);
      outcomeGroup.appendChild(b);
    }
    this.clearBtn = button('Clear', () => this.clear(), { icon: '✕', className: 'btn clear', attrs: { title: 'Clear all filters', hidden: true } });
    this.counts = h('div', { class: 'counts', 'aria-live': 'off' });
    const help = button('', () => actions.showHelp(), { icon: '?', className: 'icon-btn', attrs: { 'aria-label': 'Keyboard shortcuts', title: 'Keyboard shortcuts (?)' } });

    this.el = h('header', { class: 'toolbar' },
      h('div', { class: 'tb-row' },
        this.title,
        h('div', { class: 'group segmented', role: 'group', 'aria-label': 'View' }, this.viewButtons.timeline, this.viewButtons.list),
        this.followBtn,
        this.zoomGroup,
        h('div', { class: 'spacer' }),
        this.counts,
        help),
      h('div', { class: 'tb-row filters', role: 'search', 'aria-label': 'Filters' },
        this.search, this.serverSel, this.toolSel, outcomeGroup, this.clearBtn));
    this.refreshOptions(true);
  }

  setTitle(t: string): void {
    replaceText(this.title, clip(t || 'MCP Flight Recorder', 200));
  }

  setView(v: 'timeline' | 'list'): void {
    this.viewButtons.timeline.setAttribute('aria-pressed', String(v === 'timeline'));
    this.viewButtons.list.setAttribute('aria-pressed', String(v === 'list'));
    this.zoomGroup.hidden = v !== 'timeline';
  }

  setFollow(on: boolean): void {
    this.followBtn.setAttribute('aria-pressed', String(on));
    this.followBtn.classList.toggle('on', on);
  }

  focusSearch(): void {
    this.search.focus();
    this.search.select();
  }

  setText(text: string): void {
    this.search.value = text;
  }

  /** Re-reads servers, tools, filters and counts from the store. */
  update(): void {
    this.refreshOptions(false);
    const f = this.store.getFilters();
    for (const [o, b] of this.outcomeBtns) b.setAttribute('aria-pressed', String(f.outcomes.has(o)));
    this.clearBtn.hidden = !filtersActive(f);
    const total = this.store.size;
    const shown = this.store.visible.length;
    const failed = this.store.failures;
    const parts = filtersActive(f) ? `${count(shown)} of ${count(total)} calls` : `${count(total)} ${total === 1 ? 'call' : 'calls'}`;
    const failText = filtersActive(f) ? this.store.visibleFailures : failed;
    // While the history streams in, every count is of the calls loaded so far: say so.
    const missing = this.store.historyMissing;
    const loading = missing > 0 ? ` · loading ${count(total)} of ${count(total + missing)}…` : '';
    setText(this.counts, (failText ? `${parts} · ✕ ${count(failText)} failed` : parts) + loading);
    this.counts.classList.toggle('has-failures', failText > 0);
    this.counts.classList.toggle('loading', missing > 0);
  }

  // ---- internals -----------------------------------------------------------------------------

  private apply(change: Partial<Filters>): void {
    this.filters = { ...this.store.getFilters(), ...change };
    this.actions.setFilters(this.filters);
  }

  private toggleOutcome(o: Outcome): void {
    const s = new Set(this.store.getFilters().outcomes);
    if (s.has(o)) s.delete(o);
    else s.add(o);
    this.apply({ outcomes: s });
  }

  private clear(): void {
    this.search.value = '';
    this.apply({ servers: new Set(), tools: new Set(), outcomes: new Set(), text: '' });
  }

  private refreshOptions(force: boolean): void {
    const f = this.store.getFilters();
    const servers = this.store.servers();
    const sKey = servers.join('\u0000') + '\u0001' + [...f.servers].join('\u0000');
    if (force || sKey !== this.serversKey) {
      this.serversKey = sKey;
      fillSelect(this.serverSel, 'All servers', servers, [...f.servers][0]);
    }
    const tools = this.store.tools(f.servers).map((t) => t.tool);
    const tKey = tools.join('\u0000') + '\u0001' + [...f.tools].join('\u0000');
    if (force || tKey !== this.toolsKey) {
      this.toolsKey = tKey;
      fillSelect(this.toolSel, 'All tools', tools, [...f.tools][0]);
    }
  }
}

/** The names behind each select's options: option values are indices, never server strings. */
const optionNames = new WeakMap<HTMLSelectElement, string[]>();

function selectedName(sel: HTMLSelectElement): string | undefined {
  const k = sel.selectedIndex;
  return k > 0 ? optionNames.get(sel)?.[k - 1] : undefined;
}

function fillSelect(sel: HTMLSelectElement, allLabel: string, names: string[], selected: string | undefined): void {
  const list = names.slice(0, 2000);
  if (selected !== undefined && !list.includes(selected)) list.push(selected);
  optionNames.set(sel, list);
  sel.textContent = '';
  sel.appendChild(h('option', { value: 'all' }, allLabel));
  list.forEach((n, k) => sel.appendChild(h('option', { value: String(k) }, clip(n, 120))));
  sel.selectedIndex = selected === undefined ? 0 : list.indexOf(selected) + 1;
  attr(sel, 'title', selected === undefined ? allLabel : clip(selected, 300));
}

function replaceText(el: HTMLElement, s: string): void {
  setText(el, s);
}
