/**
 * The only way the webview makes DOM: elements by tag name, text nodes, and a short list of
 * attributes that cannot run code or load anything. No innerHTML, no insertAdjacentHTML, no
 * style attribute (the CSP forbids inline styles; use classes or `el.style.x = …`), no src/href
 * (the one image source, a blob: URL we made ourselves, goes through `setBlobSource`).
 */
import { visibleSegments, visibleText } from './safe-text';

/** Attributes `h` and `attr` accept. Everything else throws: it is a bug, not data. */
const SAFE_ATTR = /^(?:class|id|role|tabindex|title|type|hidden|disabled|alt|name|for|placeholder|autocomplete|spellcheck|draggable|dir|lang|value|open|aria-[a-z]+|data-[a-z0-9-]+)$/;
/** Tags the webview never creates (and `img` only through `image()`). */
const FORBIDDEN_TAG = /^(?:script|style|link|meta|base|iframe|frame|object|embed|form|a|area|svg|math|template|img|video|audio|source|track)$/i;

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Sets an attribute from the safe list; strings are shown with their special characters made visible. */
export function attr(el: Element, name: string, value: string | number | boolean | null | undefined): void {
  if (!SAFE_ATTR.test(name)) throw new Error(`attribute not allowed: ${name}`);
  if (value === null || value === undefined || value === false) {
    el.removeAttribute(name);
    return;
  }
  el.setAttribute(name, value === true ? '' : visibleText(String(value)));
}

/** Text from anywhere (server strings included), with special characters made visible and marked. */
export function text(s: string, multiline = false): Node {
  const segs = visibleSegments(s, multiline);
  if (segs.length === 1 && !segs[0]!.special) return document.createTextNode(segs[0]!.text);
  const frag = document.createDocumentFragment();
  for (const seg of segs) {
    if (seg.special) {
      const span = document.createElement('span');
      span.className = 'ctl';
      span.textContent = seg.text;
      span.title = 'Invisible or control character';
      frag.appendChild(span);
    } else {
      frag.appendChild(document.createTextNode(seg.text));
    }
  }
  return frag;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  if (FORBIDDEN_TAG.test(tag)) throw new Error(`tag not allowed: ${tag}`);
  const el = document.createElement(tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) attr(el, k, v);
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' ? text(c) : typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's content with `children`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.textContent = '';
  append(parent, ...children);
}

/** Sets the text of an element (one text node), with special characters made visible. */
export function setText(el: Element, s: string): void {
  const v = visibleText(s);
  if (el.textContent !== v) el.textContent = v;
}

/** An `<img>` showing a blob: URL this webview created (the only image source allowed). */
export function image(blobUrl: string, alt: string): HTMLImageElement {
  if (!blobUrl.startsWith('blob:')) throw new Error('images are shown only from blob: URLs');
  const img = document.createElement('img');
  img.alt = visibleText(alt);
  img.decoding = 'async';
  img.src = blobUrl;
  return img;
}

/** A button with a text label (and an optional leading icon glyph, hidden from screen readers). */
export function button(label: string, onClick: (ev: MouseEvent) => void, opts: { icon?: string; title?: string; className?: string; attrs?: Attrs } = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', class: opts.className ?? 'btn', title: opts.title, ...opts.attrs });
  if (opts.icon) b.appendChild(h('span', { class: 'icon', 'aria-hidden': 'true' }, opts.icon));
  if (label) b.appendChild(h('span', { class: 'label' }, label));
  b.addEventListener('click', onClick);
  return b;
}
