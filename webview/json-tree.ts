/**
 * A collapsible JSON tree (ARIA tree pattern). Lazy: a node's children are built the first time
 * it is expanded; big arrays and objects show their entries a page at a time. Keys and strings
 * are server data: they go in as text, with control and bidi characters made visible.
 *
 * Keyboard: ↑/↓ move, → expands or enters, ← collapses or goes to the parent, Home/End,
 * Enter/Space toggle (or load the next page), * expands the siblings.
 */
import { h, text } from './dom';
import { clip } from './safe-text';
import { count } from './format';

export const PAGE_SIZE = 100;
/** Strings longer than this show a preview first, with a node that reveals the whole string. */
const LONG_STRING = 400;

interface NodeInfo {
  value: unknown;
  level: number;
  /** Built children so far (for paging). */
  shown: number;
  group?: HTMLElement;
}

const info = new WeakMap<HTMLElement, NodeInfo>();

export interface JsonTreeOptions {
  label: string;
  /** Levels expanded at first (1 = the root's entries are shown). */
  expandDepth?: number;
}

export function jsonTree(value: unknown, opts: JsonTreeOptions): HTMLElement {
  const tree = h('div', { class: 'json-tree', role: 'tree', 'aria-label': opts.label });
  const root = makeItem(null, value, 1, opts.expandDepth ?? 1);
  root.tabIndex = 0;
  tree.appendChild(root);
  tree.addEventListener('keydown', (e) => onKey(tree, e));
  tree.addEventListener('click', (e) => {
    const target = e.target as HTMLElement;
    const item = target.closest<HTMLElement>('[role=treeitem]');
    if (!item || !tree.contains(item)) return;
    focusItem(tree, item);
    if (target.closest('.jt-row')) activate(item);
  });
  return tree;
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

function entriesCount(v: object): number {
  return Array.isArray(v) ? v.length : Object.keys(v).length;
}

function makeItem(key: string | number | null, value: unknown, level: number, expandDepth: number): HTMLElement {
  const item = h('div', { role: 'treeitem', class: 'jt-item', 'aria-level': level, tabindex: -1 });
  const row = h('div', { class: 'jt-row' });
  row.appendChild(h('span', { class: 'jt-twisty', 'aria-hidden': 'true' }));
  if (key !== null) {
    row.appendChild(h('span', { class: typeof key === 'number' ? 'jt-index' : 'jt-key' }, typeof key === 'number' ? String(key) : clip(key, 200)));
    row.appendChild(h('span', { class: 'jt-colon' }, ': '));
  }
  row.appendChild(valuePreview(value));
  item.appendChild(row);
  const node: NodeInfo = { value, level, shown: 0 };
  info.set(item, node);
  const expandable = (isContainer(value) && entriesCount(value) > 0) || (typeof value === 'string' && (value.length > LONG_STRING || value.includes('\n')));
  if (expandable) {
    item.setAttribute('aria-expanded', 'false');
    if (level <= expandDepth && isContainer(value)) expand(item);
  }
  return item;
}

function valuePreview(v: unknown): HTMLElement {
  if (v === null) return h('span', { class: 'jt-null' }, 'null');
  switch (typeof v) {
    case 'string': {
      const oneLine = v.length > LONG_STRING ? `${clip(v, LONG_STRING)}` : v;
      const s = h('span', { class: 'jt-str' }, '"', text(oneLine), '"');
      if (v.length > LONG_STRING) s.appendChild(h('span', { class: 'jt-meta' }, ` ${count(v.length)} chars`));
      return s;
    }
    case 'number':
      return h('span', { class: 'jt-num' }, String(v));
    case 'boolean':
      return h('span', { class: 'jt-bool' }, String(v));
    case 'undefined':
      return h('span', { class: 'jt-null' }, 'undefined');
    case 'object': {
      const n = entriesCount(v);
      if (Array.isArray(v)) return h('span', { class: 'jt-meta' }, n ? `[…] ${count(n)} ${n === 1 ? 'item' : 'items'}` : '[]');
      return h('span', { class: 'jt-meta' }, n ? `{…} ${count(n)} ${n === 1 ? 'key' : 'keys'}` : '{}');
    }
    default:
      return h('span', { class: 'jt-meta' }, String(typeof v));
  }
}

function expand(item: HTMLElement): void {
  const node = info.get(item);
  if (!node || item.getAttribute('aria-expanded') !== 'false') return;
  item.setAttribute('aria-expanded', 'true');
  if (node.group) {
    node.group.hidden = false;
    return;
  }
  const group = h('div', { role: 'group', class: 'jt-group' });
  node.group = group;
  item.appendChild(group);
  if (typeof node.value === 'string') {
    const full = h('div', { role: 'treeitem', class: 'jt-item jt-fullstr', 'aria-level': node.level + 1, tabindex: -1 });
    full.appendChild(h('pre', { class: 'jt-pre' }, text(node.value, true)));
    group.appendChild(full);
    return;
  }
  showMore(node);
}

function showMore(node: NodeInfo): void {
  const group = node.group!;
  group.querySelector(':scope > .jt-more')?.remove();
  const v = node.value as Record<string, unknown> | unknown[];
  const total = entriesCount(v);
  const end = Math.min(total, node.shown + PAGE_SIZE);
  if (Array.isArray(v)) {
    for (let k = node.shown; k < end; k++) group.appendChild(makeItem(k, v[k], node.level + 1, 0));
  } else {
    const keys = Object.keys(v);
    for (let k = node.shown; k < end; k++) {
      const key = keys[k]!;
      group.appendChild(makeItem(key, v[key], node.level + 1, 0));
    }
  }
  node.shown = end;
  if (end < total) {
    const more = h('div', { role: 'treeitem', class: 'jt-item jt-more', 'aria-level': node.level + 1, tabindex: -1 },
      h('div', { class: 'jt-row' }, h('span', { class: 'jt-twisty', 'aria-hidden': 'true' }), h('span', { class: 'jt-more-label' }, `Show ${count(Math.min(PAGE_SIZE, total - end))} more (${count(end)} of ${count(total)} shown)`)));
    group.appendChild(more);
  }
}

function collapse(item: HTMLElement): void {
  const node = info.get(item);
  if (!node?.group || item.getAttribute('aria-expanded') !== 'true') return;
  item.setAttribute('aria-expanded', 'false');
  node.group.hidden = true;
}

function activate(item: HTMLElement): void {
  if (item.classList.contains('jt-more')) {
    const parent = item.parentElement?.closest<HTMLElement>('[role=treeitem]');
    const node = parent && info.get(parent);
    if (parent && node) {
      const next = item.previousElementSibling;
      showMore(node);
      // Keep focus near where it was: on the first newly shown entry.
      const first = next?.nextElementSibling as HTMLElement | null;
      if (first) focusItem(parent.closest('[role=tree]') as HTMLElement, first);
    }
    return;
  }
  const state = item.getAttribute('aria-expanded');
  if (state === 'false') expand(item);
  else if (state === 'true') collapse(item);
}

function visibleItems(tree: HTMLElement): HTMLElement[] {
  const out: HTMLElement[] = [];
  const walk = (el: Element): void => {
    for (const c of el.children) {
      if (c.getAttribute('role') === 'treeitem') {
        out.push(c as HTMLElement);
        if (c.getAttribute('aria-expanded') === 'true') {
          const g = info.get(c as HTMLElement)?.group;
          if (g) walk(g);
        }
      }
    }
  };
  walk(tree);
  return out;
}

function focusItem(tree: HTMLElement, item: HTMLElement): void {
  for (const el of tree.querySelectorAll<HTMLElement>('[role=treeitem][tabindex="0"]')) el.tabIndex = -1;
  item.tabIndex = 0;
  item.focus({ preventScroll: false });
}

function onKey(tree: HTMLElement, e: KeyboardEvent): void {
  const item = (e.target as HTMLElement).closest<HTMLElement>('[role=treeitem]');
  if (!item) return;
  const items = visibleItems(tree);
  const k = items.indexOf(item);
  const go = (j: number): void => {
    const t = items[Math.max(0, Math.min(items.length - 1, j))];
    if (t) focusItem(tree, t);
  };
  let handled = true;
  switch (e.key) {
    case 'ArrowDown':
      go(k + 1);
      break;
    case 'ArrowUp':
      go(k - 1);
      break;
    case 'Home':
      go(0);
      break;
    case 'End':
      go(items.length - 1);
      break;
    case 'ArrowRight':
      if (item.getAttribute('aria-expanded') === 'false') expand(item);
      else if (item.getAttribute('aria-expanded') === 'true') go(k + 1);
      break;
    case 'ArrowLeft':
      if (item.getAttribute('aria-expanded') === 'true') collapse(item);
      else {
        const parent = item.parentElement?.closest<HTMLElement>('[role=treeitem]');
        if (parent && tree.contains(parent)) focusItem(tree, parent);
      }
      break;
    case 'Enter':
    case ' ':
      activate(item);
      break;
    case '*': {
      const siblings = item.parentElement ? [...item.parentElement.children] : [];
      for (const s of siblings) if (s.getAttribute('aria-expanded') === 'false' && isContainer(info.get(s as HTMLElement)?.value)) expand(s as HTMLElement);
      break;
    }
    default:
      handled = false;
  }
  if (handled) {
    e.preventDefault();
    e.stopPropagation();
  }
}
