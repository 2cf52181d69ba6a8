/**
 * The timeline: one lane per server, one bar per call from its start to its end (pending calls
 * grow until now). Time runs left to right; zoom and pan change the visible window.
 *
 * Virtualized along time: each frame visits only the calls overlapping the window (a binary
 * search per lane) and draws each as a pooled, absolutely positioned element. Bars too narrow
 * to tell apart are merged into "cluster" elements (a count, coloured by the worst outcome, a
 * click zooms in), so the element count stays bounded at any zoom level.
 *
 * The lanes container is an ARIA listbox: lanes are labelled groups, bars are options, the
 * selected bar is the aria-activedescendant. Keys: ↑/↓ (or k/j) select the previous/next call,
 * ←/→ pan, +/− zoom, 0 fits everything, Home/End, Enter opens the detail.
 */
import { h, setText } from './dom';
import { clockTime, count, duration, tickLabel, tickStep } from './format';
import { OUTCOME_ICON } from './outcome';
import { clip, visibleText } from './safe-text';
import { CODE_OUTCOME, LONG_MS, lowerBound, MAX_TRACKS, type CallStore, type Lane } from './state';
import { handleSelectionKey, type ViewHost } from './view-host';

export const TRACK_HEIGHT = 20;
/** Width of the lane labels column (also set as --tl-gutter for the stylesheet). */
export const GUTTER = 208;
const LANE_PAD = 5;
/** Room for the lane label's two lines. */
const LANE_MIN_HEIGHT = 46;
/** Bars narrower than this merge with a touching neighbour into a cluster. */
const MERGE_PX = 5;
/** Elements drawn per frame before clustering gets coarser. */
const ELEMENT_BUDGET = 500;
const MIN_SPAN_MS = 2;
const MAX_SPAN_MS = 90 * 24 * 3_600_000;
/** The first window when following a long recording: the most recent quarter hour. */
const FOLLOW_SPAN_MS = 15 * 60_000;
/** Re-render interval while pending bars grow. */
const PENDING_TICK_MS = 100;

interface Item {
  lane: number;
  track: number;
  x0: number;
  x1: number;
  first: number;
  count: number;
  /** Worst outcome code in the item (see rank). */
  worst: number;
  failures: number;
  alerts: number;
  hasSelected: boolean;
  t0: number;
  t1: number;
}

interface BarEl {
  el: HTMLElement;
  /** The bar's one text node (no extra element per bar: fewer nodes to restyle). */
  labelEl: Text;
  key: number;
  x: number;
  y: number;
  w: number;
  cls: string;
  label: string;
  aria: string;
  lane: number;
  row: unknown;
  item: Item | undefined;
}

interface LaneEl {
  lane: Lane;
  el: HTMLElement;
  label: HTMLElement;
  name: HTMLElement;
  stats: HTMLElement;
  track: HTMLElement;
  /** Holds the bars; moved as a whole when panning (see `layer`). */
  layer: HTMLElement;
  shift: number;
  height: number;
  top: number;
  statsText: string;
}

interface TickEl {
  label: HTMLElement;
  line: HTMLElement;
}

/** Outcome severity for cluster colouring: error > timeout > cancelled > pending > success. */
const RANK = [0, 4, 3, 2, 1];

export class TimelineView {
  readonly el: HTMLElement;
  readonly listbox: HTMLElement;
  private readonly ruler: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly gridLayer: HTMLElement;
  private readonly nowLine: HTMLElement;
  private readonly nowLabel: HTMLElement;
  private readonly empty: HTMLElement;
  private lanes = new Map<string, LaneEl>();
  private bars = new Map<number, BarEl>();
  private freeBars: BarEl[] = [];
  private ticks: TickEl[] = [];
  /** Window start (epoch ms) and length (ms). */
  viewStart = 0;
  span = 60_000;
  private width = 0;
  private fitted = false;
  private lastKey = '';
  private sawPending = false;
  private pendingInView = false;
  /** What the bar layers hold: the time range drawn, at which scale, for which data. */
  private layer: { from: number; to: number; pxPerMs: number; dataKey: string; at: number } | undefined;
  /** The scroller's left edge in the viewport, read during render (wheel zoom anchors on it). */
  private scrollerLeft = 0;
  /** Whether the lanes overflow vertically (then a vertical wheel scrolls them), read during render. */
  private overflowing = false;
  private drag: { x: number; start: number; moved: boolean; pointer: number } | undefined;
  active = true;

  constructor(private readonly host: ViewHost) {
    this.ruler = h('div', { class: 'tl-ruler', 'aria-hidden': 'true' });
    this.listbox = h('div', { class: 'tl-lanes', role: 'listbox', tabindex: 0, 'aria-label': 'Timeline of calls by server', 'aria-roledescription': 'timeline' });
    this.gridLayer = h('div', { class: 'tl-gridlayer', 'aria-hidden': 'true' });
    this.nowLine = h('div', { class: 'tl-now', 'aria-hidden': 'true', hidden: true });
    this.nowLabel = h('div', { class: 'tl-now-label', hidden: true }, 'now');
    this.ruler.appendChild(this.nowLabel);
    this.scroller = h('div', { class: 'tl-scroll' }, this.gridLayer, this.listbox, this.nowLine);
    this.empty = h('div', { class: 'empty', hidden: true });
    this.el = h('div', { class: 'timeline-view' },
      h('div', { class: 'tl-header', 'aria-hidden': 'true' }, h('div', { class: 'tl-corner' }, 'Server'), this.ruler),
      this.scroller, this.empty);

    this.listbox.addEventListener('keydown', (e) => this.onKey(e));
    this.scroller.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.scroller.addEventListener('scroll', () => this.host.requestRender(), { passive: true });
    this.scroller.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    this.scroller.addEventListener('pointermove', (e) => this.onPointerMove(e));
    this.scroller.addEventListener('pointerup', (e) => this.onPointerUp(e));
    this.scroller.addEventListener('pointercancel', () => (this.drag = undefined));
    this.scroller.addEventListener('pointerover', (e) => this.onHover(e));
    this.el.style.setProperty('--tl-gutter', `${GUTTER}px`);
    new ResizeObserver(() => this.host.requestRender()).observe(this.el);
  }

  /** Width of the time area in px. */
  get trackWidth(): number {
    return this.width;
  }

  get msPerPx(): number {
    return this.span / Math.max(1, this.width);
  }

  /** Number of bar and cluster elements in the DOM. */
  get domBars(): number {
    return this.bars.size;
  }

  setEmptyMessage(msg: string | null): void {
    this.empty.hidden = msg === null;
    if (msg !== null) setText(this.empty, msg);
  }

  /** Shows everything recorded (at most `maxSpan` of it, the most recent). */
  fit(maxSpan = MAX_SPAN_MS): void {
    const b = this.host.store.bounds(this.host.now());
    if (!b) return;
    const span = clampSpan(Math.min(maxSpan, Math.max(1000, (b.max - b.min) * 1.06)));
    this.span = span;
    this.viewStart = span < (b.max - b.min) * 1.06 ? b.max + span * 0.03 - span : b.min - span * 0.02;
    this.fitted = true;
  }

  /** Forget the window, so the next render fits the data again (after `init`). */
  resetView(): void {
    this.fitted = false;
    this.layer = undefined;
  }

  zoom(factor: number, anchorMs?: number): void {
    const anchor = anchorMs ?? this.viewStart + this.span / 2;
    const span = clampSpan(this.span * factor);
    const frac = (anchor - this.viewStart) / this.span;
    this.viewStart = anchor - frac * span;
    this.span = span;
    this.host.requestRender();
  }

  /** Zoom by a factor around the selection when it is in view, else around the centre. */
  zoomKeyboard(factor: number): void {
    const sel = this.host.selected();
    const store = this.host.store;
    let anchor: number | undefined;
    if (sel >= 0 && !this.host.follow()) {
      const s = store.start[sel]!;
      const e = store.endOf(sel, this.host.now());
      const mid = (s + e) / 2;
      if (mid >= this.viewStart && mid <= this.viewStart + this.span) anchor = mid;
    }
    this.zoom(factor, anchor);
  }

  /** Pans by a fraction of the window (negative = back in time). */
  pan(fraction: number): void {
    this.panMs(this.span * fraction);
  }

  panMs(ms: number): void {
    if (ms < 0 && this.host.follow()) this.host.setFollow(false);
    this.viewStart += ms;
    this.host.requestRender();
  }

  /** Scrolls (and zooms out if needed) so call `i` is in view, with its lane visible. */
  reveal(i: number): void {
    const store = this.host.store;
    const s = store.start[i]!;
    const e = store.endOf(i, this.host.now());
    const margin = this.span * 0.1;
    if (e - s > this.span * 0.8) {
      this.span = clampSpan((e - s) * 1.3);
      this.viewStart = s - this.span * 0.1;
    } else if (s < this.viewStart + margin * 0.2 || e > this.viewStart + this.span - margin * 0.2) {
      this.viewStart = (s + e) / 2 - this.span / 2;
    }
    const laneEl = this.lanes.get(store.rows[i]!.server);
    if (laneEl) {
      const top = laneEl.top;
      const bottom = top + laneEl.height;
      const st = this.scroller.scrollTop;
      const vh = this.scroller.clientHeight;
      if (top < st) this.scroller.scrollTop = top;
      else if (bottom > st + vh) this.scroller.scrollTop = bottom - vh;
    }
    this.host.requestRender();
  }

  render(): void {
    if (!this.active) return;
    const store = this.host.store;
    const now = this.host.now();
    // Read layout first, then only write.
    const totalWidth = this.scroller.clientWidth;
    this.scrollerLeft = this.scroller.getBoundingClientRect().left;
    this.overflowing = this.scroller.scrollHeight > this.scroller.clientHeight + 1;
    const st = this.scroller.scrollTop;
    const vh = this.scroller.clientHeight;
    const gutter = GUTTER;
    this.width = Math.max(50, totalWidth - gutter);
    if (!this.fitted && store.size > 0) this.fit(this.host.follow() ? FOLLOW_SPAN_MS : MAX_SPAN_MS);

    if (this.host.follow() && store.size > 0) {
      const b = store.bounds(now);
      if (b) {
        const end = Math.max(b.max, store.hasPending() ? now : b.max);
        this.viewStart = end + this.span * 0.03 - this.span;
      }
    }
    const t0 = this.viewStart;
    const t1 = t0 + this.span;
    const pxPerMs = this.width / this.span;
    const sel = this.host.selected();
    const pending = store.hasPending();
    // Nothing moved and nothing grows: keep the frame as it is.
    const key = `${store.version}|${t0}|${this.span}|${this.width}|${st}|${vh}|${sel}`;
    if (key === this.lastKey && !pending) return;
    this.lastKey = key;

    const nowX = (now - t0) * pxPerMs;
    const showNow = store.size > 0 && nowX >= 0 && nowX <= this.width && (pending || this.host.follow());
    this.renderTicks(t0, pxPerMs, gutter, showNow ? nowX : undefined);
    // Bars are drawn for the window plus a margin on each side, into a per-lane layer. A pan that
    // stays inside that range only moves the layers (one style change per lane); anything else —
    // zoom, new data, selection, growing pending bars — redraws.
    const dataKey = `${store.version}|${this.width}|${st}|${vh}|${sel}`;
    const L = this.layer;
    const reuse = L !== undefined && L.pxPerMs === pxPerMs && L.dataKey === dataKey && t0 >= L.from && t1 <= L.to && (!this.pendingInView || now - L.at < PENDING_TICK_MS);
    if (!reuse) {
      this.layoutLanes(store);
      // Following, the window slides with the clock and redraws often: a thin margin is enough.
      const margin = this.span * (this.host.follow() ? 0.1 : 0.5);
      const from = t0 - margin;
      const to = t1 + margin;
      const layerWidth = (to - from) * pxPerMs;
      // Each track holds at most layerWidth / mergePx items: when the range holds more calls than
      // the budget, merge coarsely enough that the budget holds whatever the data.
      const est = this.estimate(store, from, to, st, vh);
      const coarse = Math.min(600, Math.max(MERGE_PX, (est.tracks * layerWidth) / ELEMENT_BUDGET));
      let items = this.collect(store, from, to, pxPerMs, now, st, vh, sel, est.calls > ELEMENT_BUDGET * 4 ? coarse : MERGE_PX, layerWidth);
      if (items.length > ELEMENT_BUDGET) items = this.collect(store, from, to, pxPerMs, now, st, vh, sel, coarse, layerWidth);
      this.drawItems(store, items, sel);
      this.layer = { from, to, pxPerMs, dataKey, at: now };
      this.pendingInView = this.sawPending;
      this.sawPending = false;
    }
    const shift = Math.round((this.layer!.from - t0) * pxPerMs);
    for (const le of this.lanes.values()) {
      if (le.shift !== shift) {
        le.shift = shift;
        le.layer.style.transform = `translateX(${shift}px)`;
      }
    }

    // Now line.
    this.nowLine.hidden = !showNow;
    this.nowLabel.hidden = !showNow;
    if (showNow) {
      this.nowLine.style.transform = `translateX(${Math.round(gutter + nowX)}px)`;
      this.nowLabel.style.transform = `translateX(${Math.round(nowX)}px)`;
    }

    // Pending bars grow: redraw while some are in view (or when following, where "now" moves).
    if (pending && (this.pendingInView || this.host.follow())) this.host.requestRender(PENDING_TICK_MS);
  }

  // ---- layout --------------------------------------------------------------------------------

  private layoutLanes(store: CallStore): void {
    const filters = store.getFilters();
    const seen = new Set<string>();
    let top = 0;
    let prevEl: HTMLElement | null = null;
    for (const lane of store.lanes) {
      if (filters.servers.size && !filters.servers.has(lane.server)) continue;
      seen.add(lane.server);
      let le = this.lanes.get(lane.server);
      if (!le) {
        const name = h('span', { class: 'lane-name' }, clip(lane.server, 200));
        const stats = h('span', { class: 'lane-stats' });
        const label = h('div', { class: 'lane-label', 'aria-hidden': 'true', title: clip(lane.server, 500) }, name, stats);
        const layer = h('div', { class: 'lane-layer' });
        const track = h('div', { class: 'lane-track' }, layer);
        const el = h('div', { class: 'lane', role: 'group' }, label, track);
        le = { lane, el, label, name, stats, track, layer, shift: NaN, height: 0, top: 0, statsText: '' };
        this.lanes.set(lane.server, le);
      }
      le.lane = lane;
      const tracks = Math.max(1, lane.trackLast.length);
      const height = Math.max(LANE_MIN_HEIGHT, tracks * TRACK_HEIGHT + LANE_PAD * 2);
      if (le.height !== height) {
        le.height = height;
        le.el.style.height = `${height}px`;
      }
      le.top = top;
      top += height;
      const n = lane.calls.length;
      const stats = `${count(n)} ${n === 1 ? 'call' : 'calls'}${lane.failures ? ` · ✕ ${count(lane.failures)} failed` : ''}${lane.alerts ? ` · ⚠ ${count(lane.alerts)}` : ''}`;
      if (le.statsText !== stats) {
        le.statsText = stats;
        setText(le.stats, stats);
        le.stats.classList.toggle('has-failures', lane.failures > 0);
        le.el.setAttribute('aria-label', visibleText(`${clip(lane.server, 200)}: ${stats.replace('✕ ', '').replace('⚠ ', 'alerts ')}`));
      }
      const expectedPrev: ChildNode | null = prevEl ? prevEl.nextSibling : this.listbox.firstChild;
      if (expectedPrev !== le.el) this.listbox.insertBefore(le.el, expectedPrev);
      prevEl = le.el;
    }
    for (const [server, le] of this.lanes) {
      if (!seen.has(server)) {
        le.el.remove();
        this.lanes.delete(server);
      }
    }
    if (this.lanes.size) this.listbox.setAttribute('role', 'listbox');
    else this.listbox.removeAttribute('role');
  }

  private renderTicks(t0: number, pxPerMs: number, gutter: number, nowX: number | undefined): void {
    const step = tickStep(1 / pxPerMs, 110);
    const first = Math.ceil(t0 / step) * step;
    let k = 0;
    for (let t = first; (t - t0) * pxPerMs <= this.width && k < 60; t += step, k++) {
      let tick = this.ticks[k];
      if (!tick) {
        tick = { label: h('div', { class: 'tick' }), line: h('div', { class: 'gridline' }) };
        this.ticks.push(tick);
        this.ruler.appendChild(tick.label);
        this.gridLayer.appendChild(tick.line);
      }
      const x = Math.round((t - t0) * pxPerMs);
      // The "now" marker has the ruler there.
      tick.label.hidden = nowX !== undefined && x > nowX - 80 && x < nowX + 40;
      tick.line.hidden = false;
      tick.label.style.transform = `translateX(${x}px)`;
      tick.line.style.transform = `translateX(${gutter + x}px)`;
      setText(tick.label, tickLabel(t, step));
    }
    for (; k < this.ticks.length; k++) {
      this.ticks[k]!.label.hidden = true;
      this.ticks[k]!.line.hidden = true;
    }
  }

  // ---- bars ----------------------------------------------------------------------------------

  /**
   * The items to draw: per visible lane, the calls overlapping [t0, t1] that pass the filters,
   * with touching narrow bars merged per track. A tight loop over typed arrays: at "fit" zoom it
   * visits every call, so no closures or per-call allocations.
   */
  private collect(store: CallStore, t0: number, t1: number, pxPerMs: number, now: number, st: number, vh: number, sel: number, mergePx: number, width: number): Item[] {
    const items: Item[] = [];
    const pass = store.pass;
    const start = store.start;
    const end = store.end;
    const track = store.track;
    const outcome = store.outcome;
    const alert = store.alert;
    const lo = t0 - LONG_MS;
    const cur: (Item | undefined)[] = new Array(MAX_TRACKS);
    const coarse = mergePx > MERGE_PX;
    const visit = (lane: Lane, i: number): void => {
      if (!pass[i]) return;
      const s = start[i]!;
      let e = end[i]!;
      if (e !== e) {
        e = store.endOf(i, now); // NaN: pending
        this.sawPending = true;
      }
      if (e < t0) return;
      let x0 = (s - t0) * pxPerMs;
      let x1 = (e - t0) * pxPerMs;
      if (x0 < -4) x0 = -4;
      if (x1 > width + 4) x1 = width + 4;
      if (x1 - x0 < 2) x1 = x0 + 2;
      const t = track[i]!;
      const c = cur[t];
      const o = outcome[i]!;
      // Merge a narrow bar into the touching item before it; in coarse mode (mergePx > MERGE_PX)
      // also anything starting within mergePx of that item's start, which bounds items per track.
      if (c !== undefined && ((x0 <= c.x1 + 1 && (x1 - x0 < mergePx || c.x1 - c.x0 < mergePx)) || (coarse && x0 < c.x0 + mergePx))) {
        if (x1 > c.x1) c.x1 = x1;
        c.count++;
        if (RANK[o]! > RANK[c.worst]!) c.worst = o;
        if (o === 1 || o === 2) c.failures++;
        c.alerts += alert[i]!;
        if (i === sel) c.hasSelected = true;
        if (e > c.t1) c.t1 = e;
        return;
      }
      if (c !== undefined) items.push(c);
      cur[t] = { lane: lane.index, track: t, x0, x1, first: i, count: 1, worst: o, failures: o === 1 || o === 2 ? 1 : 0, alerts: alert[i]!, hasSelected: i === sel, t0: s, t1: e };
    };
    for (const le of this.lanes.values()) {
      if (le.top + le.height < st || le.top > st + vh) continue;
      const lane = le.lane;
      cur.fill(undefined);
      // Long and pending calls that started before the scanned range.
      if (lane.spanning.size) {
        let early: number[] | undefined;
        for (const i of lane.spanning) if (start[i]! < lo) (early ??= []).push(i);
        if (early) {
          early.sort((a, b) => start[a]! - start[b]! || a - b);
          for (const i of early) visit(lane, i);
        }
      }
      const calls = lane.calls;
      for (let k = lowerBound(calls, lo, start), n = calls.length; k < n; k++) {
        const i = calls[k]!;
        if (start[i]! > t1) break;
        visit(lane, i);
      }
      for (const c of cur) if (c !== undefined) items.push(c);
    }
    return items;
  }

  /** Calls whose start lies in the window, over the visible lanes (cheap: two binary searches per lane). */
  private estimate(store: CallStore, t0: number, t1: number, st: number, vh: number): { calls: number; tracks: number } {
    let calls = 0;
    let tracks = 0;
    for (const le of this.lanes.values()) {
      if (le.top + le.height < st || le.top > st + vh) continue;
      calls += lowerBound(le.lane.calls, t1, store.start) - lowerBound(le.lane.calls, t0, store.start);
      tracks += Math.max(1, le.lane.trackLast.length);
    }
    return { calls, tracks };
  }

  private drawItems(store: CallStore, items: Item[], sel: number): void {
    const prev = this.bars;
    const next = new Map<number, BarEl>();
    const lanesByIndex = new Map<number, LaneEl>();
    for (const le of this.lanes.values()) lanesByIndex.set(le.lane.index, le);
    let activeId: string | null = null;
    for (const it of items) {
      const single = it.count === 1;
      const key = single ? it.first : -(it.first + 1);
      let b = prev.get(key);
      if (b) prev.delete(key);
      else b = this.freeBars.pop() ?? this.makeBar();
      next.set(key, b);
      const le = lanesByIndex.get(it.lane);
      if (!le) continue;
      if (b.el.parentNode !== le.layer) le.layer.appendChild(b.el);
      const x = Math.round(it.x0);
      const w = Math.max(2, Math.round(it.x1) - x);
      const y = LANE_PAD + it.track * TRACK_HEIGHT;
      if (b.x !== x) {
        b.x = x;
        b.el.style.left = `${x}px`;
      }
      if (b.y !== y) {
        b.y = y;
        b.el.style.top = `${y}px`;
      }
      if (b.w !== w) {
        b.w = w;
        b.el.style.width = `${w}px`;
      }
      const row = store.rows[it.first]!;
      const outcome = CODE_OUTCOME[it.worst] ?? 'success';
      let cls: string;
      let label: string;
      if (single) {
        const selected = it.first === sel;
        const tool = clip(row.tool, 120);
        const dur = row.outcome === 'pending' ? 'running' : duration(row.duration_ms);
        // The outcome icon comes from the stylesheet (::before), so the text stays a prefix of the
        // accessible name below.
        const shape = w >= 34 ? ' labeled' : w >= 12 && outcome !== 'success' ? ' iconic' : '';
        cls = `bar o-${outcome}${shape}${row.alerts > 0 ? ' alert' : ''}${row.replay_of ? ' replay' : ''}${selected ? ' selected' : ''}`;
        label = w >= 150 ? `${tool}  ${dur}` : w >= 34 ? tool : '';
        if (b.row !== row || b.key !== key) {
          b.el.setAttribute('role', 'option');
          b.el.id = `tb-${it.first}`;
          b.el.dataset.index = String(it.first);
          b.el.removeAttribute('aria-hidden');
          b.el.removeAttribute('title');
          const aria = `${tool}  ${dur}, ${row.outcome}, on ${clip(row.server, 200)}, started ${clockTime(row.start_ms)}${row.alerts ? `, ${row.alerts} security alerts` : ''}`;
          if (b.aria !== aria) {
            b.aria = aria;
            b.el.setAttribute('aria-label', visibleText(aria));
          }
        }
        const ariaSel = selected ? 'true' : 'false';
        if (b.el.getAttribute('aria-selected') !== ariaSel) b.el.setAttribute('aria-selected', ariaSel);
        if (selected) activeId = b.el.id;
      } else {
        cls = `bar cluster${w >= 40 ? ' labeled' : ''} o-${outcome}${it.failures ? ' has-failures' : ''}${it.alerts ? ' alert' : ''}${it.hasSelected ? ' contains-selected' : ''}`;
        label = w >= 40 ? `${it.failures ? `✕${count(it.failures)} ` : ''}×${count(it.count)}` : '';
        if (b.key !== key || b.item?.count !== it.count) {
          b.el.removeAttribute('role');
          b.el.removeAttribute('id');
          b.el.removeAttribute('aria-selected');
          b.el.removeAttribute('aria-label');
          b.el.setAttribute('aria-hidden', 'true');
          b.el.removeAttribute('title');
          b.el.dataset.index = '';
          b.aria = '';
        }
      }
      b.key = key;
      b.row = row;
      b.item = it;
      if (b.cls !== cls) {
        b.cls = cls;
        b.el.className = cls;
      }
      if (b.label !== label) {
        b.label = label;
        b.labelEl.data = visibleText(label);
      }
    }
    for (const b of prev.values()) {
      b.el.remove();
      b.key = NaN;
      b.row = undefined;
      this.freeBars.push(b);
    }
    this.bars = next;
    if (activeId) this.listbox.setAttribute('aria-activedescendant', activeId);
    else this.listbox.removeAttribute('aria-activedescendant');
  }

  private makeBar(): BarEl {
    const labelEl = document.createTextNode('');
    const el = h('div', { class: 'bar' }, labelEl);
    return { el, labelEl, key: NaN, x: NaN, y: NaN, w: NaN, cls: '', label: '', aria: '', lane: -1, row: undefined, item: undefined };
  }

  // ---- input ---------------------------------------------------------------------------------

  private barAt(target: EventTarget | null): BarEl | undefined {
    const el = (target as HTMLElement | null)?.closest?.<HTMLElement>('.bar');
    if (!el) return undefined;
    for (const b of this.bars.values()) if (b.el === el) return b;
    return undefined;
  }

  private onHover(e: PointerEvent): void {
    const b = this.barAt(e.target);
    if (!b || b.el.hasAttribute('title') || !b.item) return;
    const store = this.host.store;
    if (b.item.count === 1) {
      const r = store.rows[b.item.first]!;
      b.el.setAttribute('title', titleOf([
        `${clip(r.tool, 200)} · ${clip(r.server, 200)}`,
        `${OUTCOME_ICON[r.outcome] ?? ''} ${r.outcome} · ${r.outcome === 'pending' ? 'running' : duration(r.duration_ms)} · ${clockTime(r.start_ms)}`,
        r.error_message ? clip(r.error_message, 300) : '',
        r.alerts ? `⚠ ${r.alerts} security alert(s)` : '',
        clip(r.input_summary ?? '', 300),
      ]));
    } else {
      const it = b.item;
      b.el.setAttribute('title', titleOf([
        `${count(it.count)} calls${it.failures ? `, ✕ ${count(it.failures)} failed` : ''}${it.alerts ? `, ⚠ ${count(it.alerts)} with alerts` : ''}`,
        `${clockTime(it.t0)} – ${clockTime(it.t1)}`,
        'Click to zoom in',
      ]));
    }
  }

  private onPointerDown(e: PointerEvent): void {
    if (e.button !== 0) return;
    if (!(e.target as HTMLElement).closest('.lane-track, .tl-gridlayer, .tl-lanes')) return;
    this.drag = { x: e.clientX, start: this.viewStart, moved: false, pointer: e.pointerId };
  }

  private onPointerMove(e: PointerEvent): void {
    const d = this.drag;
    if (!d || d.pointer !== e.pointerId) return;
    const dx = e.clientX - d.x;
    if (!d.moved && Math.abs(dx) < 4) return;
    if (!d.moved) {
      d.moved = true;
      this.scroller.setPointerCapture(e.pointerId);
      this.scroller.classList.add('dragging');
      if (this.host.follow()) this.host.setFollow(false);
    }
    this.viewStart = d.start - dx * this.msPerPx;
    this.host.requestRender();
  }

  private onPointerUp(e: PointerEvent): void {
    const d = this.drag;
    this.drag = undefined;
    this.scroller.classList.remove('dragging');
    if (!d || d.moved) return;
    const b = this.barAt(e.target);
    if (!b?.item) return;
    if (b.item.count === 1) {
      this.host.select(b.item.first, { open: true });
      this.listbox.focus({ preventScroll: true });
    } else {
      const it = b.item;
      const len = Math.max(it.t1 - it.t0, MIN_SPAN_MS * 10);
      if (this.host.follow()) this.host.setFollow(false);
      this.span = clampSpan(len * 1.2);
      this.viewStart = it.t0 - (this.span - len) / 2;
      this.host.requestRender();
    }
  }

  private onWheel(e: WheelEvent): void {
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.width : 1;
    const dx = e.deltaX * unit;
    const dy = e.deltaY * unit;
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      const x = e.clientX - this.scrollerLeft - GUTTER;
      const anchor = x >= 0 && !this.host.follow() ? this.viewStart + x * this.msPerPx : undefined;
      this.zoom(Math.exp(dy * 0.0025), anchor);
      return;
    }
    if (Math.abs(dx) > Math.abs(dy) || e.shiftKey || !this.overflowing) {
      e.preventDefault();
      const d = Math.abs(dx) > Math.abs(dy) ? dx : dy;
      this.panMs(d * this.msPerPx);
    }
    // Otherwise: vertical scroll through the lanes, natively.
  }

  private onKey(e: KeyboardEvent): void {
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
      case 'ArrowLeft':
        this.pan(e.shiftKey ? -0.5 : -0.1);
        break;
      case 'ArrowRight':
        this.pan(e.shiftKey ? 0.5 : 0.1);
        break;
      case '+':
      case '=':
        this.zoomKeyboard(1 / 1.5);
        break;
      case '-':
      case '_':
        this.zoomKeyboard(1.5);
        break;
      case '0':
        this.fit();
        this.host.requestRender();
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

/** A multi-line tooltip: each line with its special characters made visible. */
function titleOf(lines: string[]): string {
  return lines.filter((l) => l !== '').map((l) => visibleText(l)).join('\n');
}

function clampSpan(ms: number): number {
  return Math.max(MIN_SPAN_MS, Math.min(MAX_SPAN_MS, ms));
}
