/**
 * The plain list view: the accessible alternative to the timeline. An ARIA grid (rows × cells)
 * that is virtualized: only the rows in view (plus a few) exist in the DOM, however many calls
 * there are. The grid keeps focus; the selected row is its aria-activedescendant.
 *
 * Keys: ↑/↓ (or k/j) move, PageUp/PageDown, Home/End, Enter opens the detail.
 *
 * While the initial load's history streams in, the calls not yet arrived (all older than the ones
 * here) are placeholder rows at the top: the scrollbar has its final size from the first paint.
 */
import type { CallRow } from '../src/shared/protocol';
import { h, setText } from './dom';
import { clockTime, count, duration } from './format';
import { OUTCOME_ICON } from './outcome';
import { clip, visibleText } from './safe-text';
import { filtersActive } from './state';
import { handleSelectionKey, type ViewHost } from './view-host';

export const ROW_HEIGHT = 24;
/** Rows kept beyond the viewport on each side. */
const OVERSCAN = 3;
/** Hard cap on rows in the DOM, whatever the window height. */
export const MAX_DOM_ROWS = 150;
/** Browsers cap element heights (~33M px in Chromium); past this the scroll range is scaled. */
const MAX_BODY_PX = 8_000_000;

const COLUMNS = ['Time', 'Server', 'Tool', 'Outcome', 'Duration', 'Alerts', 'Summary'] as const;

interface RowEl {
  el: HTMLElement;
  /** One text node per cell, rewritten in place: scrolling refills every row each frame, and
   *  replacing nodes (textContent =) would allocate ~15k DOM nodes a second for the GC. */
  texts: Text[];
  row: CallRow | undefined;
  index: number;
  y: number;
  pos: number;
  /** null: unknown (forces the next render to write it). */
  selected: boolean | null;
}

export class ListView {
  readonly el: HTMLElement;
  readonly grid: HTMLElement;
  private readonly body: HTMLElement;
  private readonly empty: HTMLElement;
  private rendered = new Map<number, RowEl>();
  /** The other half of `rendered`'s double buffer, and a scratch list: no allocation per frame. */
  private spare = new Map<number, RowEl>();
  private missing: number[] = [];
  private free: RowEl[] = [];
  private bodyPx = 0;
  private rowCount = -1;
  private expectedScrollTop = -1;
  private lastVisibleLen = 0;
  active = false;

  constructor(private readonly host: ViewHost) {
    const headerRow = h('div', { role: 'row', class: 'lrow lhead', 'aria-rowindex': 1 },
      ...COLUMNS.map((c, k) => h('div', { role: 'columnheader', class: `cell c${k}`, 'aria-colindex': k + 1 }, c)));
    this.body = h('div', { role: 'rowgroup', class: 'lbody' });
    this.grid = h('div', { role: 'grid', class: 'grid', tabindex: 0, 'aria-label': 'Calls', 'aria-colcount': COLUMNS.length, 'aria-readonly': 'true' },
      h('div', { role: 'rowgroup', class: 'lheadgroup' }, headerRow), this.body);
    this.empty = h('div', { class: 'empty', hidden: true });
    this.el = h('div', { class: 'list-view', hidden: true }, this.grid, this.empty);

    this.grid.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.grid.addEventListener('keydown', (e) => this.onKey(e));
    this.body.addEventListener('click', (e) => {
      const rowEl = (e.target as HTMLElement).closest<HTMLElement>('[role=row]');
      const i = rowEl ? Number(rowEl.dataset.index) : NaN;
      if (Number.isInteger(i)) this.host.select(i, { open: true });
    });
  }

  /** Placeholder rows above the calls: the history still to come (none under a filter). */
  get lead(): number {
    const store = this.host.store;
    return store.historyMissing > 0 && !filtersActive(store.getFilters()) ? store.historyMissing : 0;
  }

  get viewportHeight(): number {
    return Math.max(0, this.grid.clientHeight - ROW_HEIGHT);
  }

  /** Scrolls so the selected call is in view. */
  reveal(i: number): void {
    const vpos = this.host.store.visiblePos(i);
    if (vpos < 0) return;
    const pos = vpos + this.lead;
    const { virtTop, ratio } = this.metrics();
    const vh = this.viewportHeight;
    const y = pos * ROW_HEIGHT;
    let target = virtTop;
    if (y < virtTop) target = y;
    else if (y + ROW_HEIGHT > virtTop + vh) target = y + ROW_HEIGHT - vh;
    if (target !== virtTop) this.setScroll(target / ratio);
  }

  setEmptyMessage(msg: string | null): void {
    this.empty.hidden = msg === null;
    if (msg !== null) setText(this.empty, msg);
  }

  render(): void {
    if (!this.active) return;
    const store = this.host.store;
    const v = store.visible;
    const lead = this.lead;
    const n = lead + v.length;
    if (n !== this.rowCount) {
      this.rowCount = n;
      this.grid.setAttribute('aria-rowcount', String(n + 1));
      const px = Math.min(n * ROW_HEIGHT, MAX_BODY_PX);
      if (px !== this.bodyPx) {
        this.bodyPx = px;
        this.body.style.height = `${px}px`;
      }
    }
    if (this.host.follow() && n > 0 && (n !== this.lastVisibleLen || this.grid.scrollTop < this.maxScroll() - 1)) {
      this.setScroll(this.maxScroll());
    }
    this.lastVisibleLen = n;

    const { virtTop, scrollTop } = this.metrics();
    const vh = this.viewportHeight;
    let first = Math.max(0, Math.floor(virtTop / ROW_HEIGHT) - OVERSCAN);
    let last = Math.min(n - 1, Math.ceil((virtTop + vh) / ROW_HEIGHT) + OVERSCAN);
    if (last - first + 1 > MAX_DOM_ROWS) {
      // Enormous viewport: keep the rows nearest the top of the view.
      first = Math.max(0, Math.floor(virtTop / ROW_HEIGHT));
      last = Math.min(n - 1, first + MAX_DOM_ROWS - 1);
    }
    const sel = this.host.selected();
    const prev = this.rendered;
    const next = this.spare;
    next.clear();
    // Rows still in range keep their element; the others are refilled in place (no DOM removal
    // and re-insertion, which would rebuild their layout objects every frame of a fast scroll).
    const missing = this.missing;
    missing.length = 0;
    for (let pos = first; pos <= last; pos++) {
      const i = pos < lead ? -2 - pos : v[pos - lead]!;
      const r = prev.get(i);
      if (r) {
        prev.delete(i);
        next.set(i, r);
      } else missing.push(pos);
    }
    const reusable = prev.values();
    for (const pos of missing) {
      const r = reusable.next().value ?? this.take();
      next.set(pos < lead ? -2 - pos : v[pos - lead]!, r);
    }
    for (let r = reusable.next(); !r.done; r = reusable.next()) {
      r.value.el.remove();
      this.free.push(r.value);
    }
    prev.clear();
    this.spare = prev;
    let activeId: string | null = null;
    for (let pos = first; pos <= last; pos++) {
      const i = pos < lead ? -2 - pos : v[pos - lead]!;
      const r = next.get(i)!;
      if (i < 0) {
        if (r.index !== i) this.fillPlaceholder(r, i);
      } else {
        const row = store.rows[i]!;
        if (r.row !== row || r.index !== i) this.fill(r, i, row);
      }
      // Rows sit at their virtual offset relative to the current scroll position.
      const y = Math.round(scrollTop + pos * ROW_HEIGHT - virtTop);
      if (r.y !== y) {
        r.y = y;
        r.el.style.transform = `translateY(${y}px)`;
      }
      if (r.pos !== pos) {
        r.pos = pos;
        r.el.setAttribute('aria-rowindex', String(pos + 2));
      }
      const isSel = i === sel;
      if (r.selected !== isSel) {
        r.selected = isSel;
        r.el.setAttribute('aria-selected', String(isSel));
        r.el.classList.toggle('selected', isSel);
      }
      if (isSel) activeId = r.el.id;
      if (!r.el.parentNode) this.body.appendChild(r.el);
    }
    this.rendered = next;
    if (activeId) this.grid.setAttribute('aria-activedescendant', activeId);
    else this.grid.removeAttribute('aria-activedescendant');
  }

  /** Rows currently in the DOM (for tests and the perf check). */
  get domRows(): number {
    return this.rendered.size;
  }

  // ---- internals -----------------------------------------------------------------------------

  private maxScroll(): number {
    return Math.max(0, this.grid.scrollHeight - this.grid.clientHeight);
  }

  private metrics(): { virtTop: number; scrollTop: number; ratio: number } {
    const scrollTop = this.grid.scrollTop;
    const n = this.lead + this.host.store.visible.length;
    const vh = this.viewportHeight;
    const maxVirt = Math.max(0, n * ROW_HEIGHT - vh);
    const maxReal = Math.max(0, this.bodyPx - vh);
    const ratio = maxReal > 0 && maxVirt > maxReal ? maxVirt / maxReal : 1;
    return { virtTop: Math.min(maxVirt, scrollTop * ratio), scrollTop, ratio };
  }

  private setScroll(top: number): void {
    const t = Math.max(0, Math.min(this.maxScroll(), Math.round(top)));
    if (Math.abs(this.grid.scrollTop - t) < 1) return;
    this.expectedScrollTop = t;
    this.grid.scrollTop = t;
  }

  private onScroll(): void {
    const st = this.grid.scrollTop;
    if (this.expectedScrollTop >= 0 && Math.abs(st - this.expectedScrollTop) <= 1) {
      this.expectedScrollTop = -1;
    } else if (this.host.follow() && st < this.maxScroll() - ROW_HEIGHT) {
      // The user scrolled back: stop following.
      this.host.setFollow(false);
    }
    this.host.requestRender();
  }

  private take(): RowEl {
    const r = this.free.pop();
    if (r) return r;
    const texts = COLUMNS.map(() => document.createTextNode(''));
    const cells = COLUMNS.map((_, k) => h('div', { role: 'gridcell', class: `cell c${k}`, 'aria-colindex': k + 1 }, texts[k]));
    const el = h('div', { role: 'row', class: 'lrow', 'aria-selected': 'false' }, ...cells);
    return { el, texts, row: undefined, index: -1, y: NaN, pos: -1, selected: false };
  }

  private fill(r: RowEl, i: number, row: CallRow): void {
    r.row = row;
    r.index = i;
    r.el.id = `lr-${i}`;
    r.el.dataset.index = String(i);
    r.el.className = `lrow o-${row.outcome}${row.alerts > 0 ? ' has-alerts' : ''}`;
    const t = r.texts;
    cellText(t[0]!, clockTime(row.start_ms));
    cellText(t[1]!, clip(row.server, 200));
    cellText(t[2]!, clip(row.tool, 200));
    cellText(t[3]!, `${OUTCOME_ICON[row.outcome] ?? '?'} ${row.outcome}`);
    cellText(t[4]!, row.outcome === 'pending' ? 'running' : duration(row.duration_ms));
    cellText(t[5]!, row.alerts > 0 ? `⚠ ${count(row.alerts)}` : '');
    const summary = row.outcome === 'error' || row.outcome === 'timeout' ? (row.error_message ? `${row.error_class ? `${row.error_class}: ` : ''}${row.error_message}` : row.input_summary) : row.input_summary;
    cellText(t[6]!, clip(summary ?? '', 180));
    r.selected = null; // className was reset: rewrite the selection state
  }

  /** A call of the history that has not arrived yet (key −2 − position: never a call index, nor
   *  the −1 of "no selection"): marked as such, not selectable. */
  private fillPlaceholder(r: RowEl, key: number): void {
    r.row = undefined;
    r.index = key;
    r.el.id = `lp-${-2 - key}`;
    delete r.el.dataset.index;
    r.el.className = 'lrow placeholder';
    for (let k = 0; k < r.texts.length; k++) cellText(r.texts[k]!, k === COLUMNS.length - 1 ? 'Loading…' : k === 0 ? '…' : '');
    r.selected = null;
  }

  private onKey(e: KeyboardEvent): void {
    const page = Math.max(1, Math.floor(this.viewportHeight / ROW_HEIGHT) - 1);
    let handled = true;
    switch (e.key) {
      case 'ArrowDown':
      case 'j':
        this.host.moveSelection(1);
        break;
      case 'ArrowUp':
      case 'k':
        this.host.moveSelection(-1);
        break;
      case 'PageDown':
        this.host.moveSelection(page);
        break;
      case 'PageUp':
        this.host.moveSelection(-page);
        break;
      default:
        handled = handleSelectionKey(this.host, e.key);
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }
}

/** Server strings shown as text, special characters made visible (as `setText` does). */
function cellText(node: Text, s: string): void {
  const v = visibleText(s);
  if (node.data !== v) node.data = v;
}
