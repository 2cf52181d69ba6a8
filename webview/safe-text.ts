/**
 * Makes invisible and reordering characters visible, so a hostile tool name, summary or payload
 * cannot hide text or visually spoof another name: ANSI ESC shows as `␛`, other C0 controls as
 * their Control Pictures (`␀`…`␟`, `␡`), bidi controls, zero-width and other invisible format
 * characters as `⟪U+202E⟫`. Pure string code (no DOM), so it is unit-tested in plain Node.
 *
 * The result is still *text*: callers put it in the DOM with textContent / createTextNode only.
 */

/** Bidirectional formatting characters: they reorder what follows them. */
const BIDI = '\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069';
/** Characters that render as nothing (or almost nothing) and can hide or join text. */
const INVISIBLE = '\u00AD\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200D\u2028\u2029\u2060-\u2064\u206A-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB';
/** C0 controls, DEL, C1 controls. */
const CONTROLS = '\u0000-\u001F\u007F-\u009F';

/** Any special character, including tag characters U+E0000–U+E007F (needs the u flag). */
const SPECIAL_SINGLE = new RegExp(`[${CONTROLS}${BIDI}${INVISIBLE}]|[\\u{E0000}-\\u{E007F}]`, 'u');
const SPECIAL_SINGLE_G = new RegExp(SPECIAL_SINGLE.source, 'gu');
/** In multi-line text, tab and line feed are kept as they are (a lone CR is still shown). */
const SPECIAL_MULTI = new RegExp(`\\r(?!\\n)|[\\u0000-\\u0008\\u000B-\\u000C\\u000E-\\u001F\\u007F-\\u009F${BIDI}${INVISIBLE}]|[\\u{E0000}-\\u{E007F}]`, 'u');
const SPECIAL_MULTI_G = new RegExp(SPECIAL_MULTI.source, 'gu');

export interface Segment {
  text: string;
  /** True when `text` stands for an invisible or control character. */
  special: boolean;
}

/** The visible stand-in for one special character. */
export function pictureOf(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20) return String.fromCharCode(0x2400 + cp);
  if (cp === 0x7f) return '\u2421';
  return `\u27EAU+${cp.toString(16).toUpperCase().padStart(4, '0')}\u27EB`;
}

export function hasSpecial(s: string, multiline = false): boolean {
  return (multiline ? SPECIAL_MULTI : SPECIAL_SINGLE).test(s);
}

/**
 * Splits `s` into plain runs and visible stand-ins for special characters. In multi-line mode,
 * `\n`, `\t` and `\r\n` are kept (a CRLF becomes a plain newline).
 */
export function visibleSegments(s: string, multiline = false): Segment[] {
  if (!hasSpecial(s, multiline)) return [{ text: multiline ? s.replace(/\r\n/g, '\n') : s, special: false }];
  const re = multiline ? SPECIAL_MULTI_G : SPECIAL_SINGLE_G;
  re.lastIndex = 0;
  const out: Segment[] = [];
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > last) out.push({ text: plain(s.slice(last, m.index), multiline), special: false });
    out.push({ text: pictureOf(m[0]), special: true });
    last = m.index + m[0].length;
  }
  if (last < s.length) out.push({ text: plain(s.slice(last), multiline), special: false });
  return out;
}

function plain(s: string, multiline: boolean): string {
  return multiline ? s.replace(/\r\n/g, '\n') : s;
}

/** `s` with every special character replaced by its visible stand-in. */
export function visibleText(s: string, multiline = false): string {
  if (!hasSpecial(s, multiline)) return multiline ? s.replace(/\r\n/g, '\n') : s;
  let out = '';
  for (const seg of visibleSegments(s, multiline)) out += seg.text;
  return out;
}

/** Cuts `s` to at most `max` UTF-16 units (never inside a surrogate pair), marking the cut. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = max;
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}
