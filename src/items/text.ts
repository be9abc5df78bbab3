import { NAMED_ENTITIES } from './entities.js';

/**
 * HTML to clean plain text without a DOM: one linear scan, so a hostile 10 MB description costs milliseconds and
 * never backtracks. Correct for what feeds carry: tags, comments, CDATA, scripts and styles, HTML entities.
 */

/** Elements whose content is never text a reader sees. */
const DROPPED = new Set(['script', 'style', 'noscript', 'template', 'iframe', 'object', 'svg', 'math', 'head', 'select', 'textarea']);

/** Elements that separate words: "<p>a</p><p>b</p>" reads "a b", while "<b>Hel</b>lo" reads "Hello". */
const BREAKING = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'caption', 'dd', 'div', 'dl', 'dt', 'figcaption', 'figure', 'footer',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'img', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'table',
  'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul', 'body', 'html', 'title', 'option', 'summary', 'details',
]);

/** Tag names that, when they reappear after decoding entities, show double-escaped markup worth stripping again. */
const COMMON_TAG = /<\/?(?:p|a|b|i|u|em|strong|span|div|br|img|ul|ol|li|h[1-6]|table|tr|td|th|blockquote|pre|code|font|small|sup|sub|hr|iframe|script|style|figure|figcaption)\b[^<>]*>/i;

// Windows-1252 meanings of the C1 range, as HTML5 decodes &#128;..&#159; (publishers mean these characters).
const C1 = '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

const ENTITY = /&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{1,31}));/g;
// Control characters (other than tab, newline, return) and the C1 block are never meant as text; soft hyphens and
// zero-width spaces only split words when matched.
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u200b]/g;
const SPACE = /\s+/g;
const C1_CHAR = /[\u0080-\u009f]/;
const C1_CHARS = /[\u0080-\u009f]/g;
const INVISIBLE_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u200b]/;
// Whitespace other than the plain space, and the characters INVISIBLE drops (one character class: a fast scan).
const NEEDS_FOLD = /[\u0000-\u001f\u007f-\u00a0\u00ad\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/** Decodes HTML/XML character references (named, decimal, hex). Unknown names stay as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY, (whole, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (name !== undefined) return NAMED_ENTITIES.get(name) ?? NAMED_ENTITIES.get(name.toLowerCase()) ?? whole;
    return fromCodePoint(dec !== undefined ? parseInt(dec, 10) : parseInt(hex as string, 16));
  });
}

function fromCodePoint(code: number): string {
  if (code >= 0x80 && code <= 0x9f) return C1[code - 0x80];
  if (!(code > 0) || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
  return String.fromCodePoint(code);
}

/** Folds whitespace into single spaces, drops invisible control characters, trims. For text that is not HTML. */
export function foldText(text: string | undefined | null): string {
  if (!text) return '';
  let out = String(text);
  // Most text needs nothing but a trim: one scan instead of two replacements.
  if (!NEEDS_FOLD.test(out) && !out.includes('  ')) return out.trim();
  // U+0080-U+009F in a feed are Windows-1252 bytes that went through a Latin-1 decoder: restore what was meant.
  if (C1_CHAR.test(out)) out = out.replace(C1_CHARS, (c) => C1[c.charCodeAt(0) - 0x80]);
  if (INVISIBLE_CHAR.test(out)) out = out.replace(INVISIBLE, '');
  return out.replace(SPACE, ' ').trim();
}

/** Scripts, styles and tags dropped, entities decoded, whitespace folded into single spaces. */
export function htmlToText(html: string | undefined | null): string {
  if (!html) return '';
  let text = String(html);
  if (text.includes('<')) text = stripTags(text);
  text = decodeEntities(text);
  // Double-escaped feeds ("&amp;lt;p&amp;gt;") leave real markup after decoding: strip it once more.
  if (text.includes('<') && COMMON_TAG.test(text)) text = decodeEntities(stripTags(text));
  return foldText(text);
}

/** Removes markup, keeping character references as written (decoded afterwards). Linear in the input length. */
function stripTags(html: string): string {
  const out: string[] = [];
  const n = html.length;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out.push(html.slice(i));
      break;
    }
    if (lt > i) out.push(html.slice(i, lt));
    i = skipMarkup(html, lt, out);
  }
  return out.join('');
}

/** Handles the markup starting at html[lt] === '<'; returns the index just after it. */
function skipMarkup(html: string, lt: number, out: string[]): number {
  const next = html.charCodeAt(lt + 1);
  if (next === 0x21 /* ! */) {
    if (html.startsWith('<!--', lt)) return endOf(html, '-->', lt + 4);
    if (html.startsWith('<![CDATA[', lt)) {
      const end = html.indexOf(']]>', lt + 9);
      const body = html.slice(lt + 9, end < 0 ? html.length : end);
      // CDATA is literal: protect its ampersands from the entity decoding that follows.
      out.push(body.replace(/&/g, '&amp;'));
      return end < 0 ? html.length : end + 3;
    }
    return endOf(html, '>', lt + 2);
  }
  if (next === 0x3f /* ? */) return endOf(html, '>', lt + 2);
  const closing = next === 0x2f; /* / */
  const nameStart = closing ? lt + 2 : lt + 1;
  let j = nameStart;
  while (j < html.length && isNameChar(html.charCodeAt(j), j === nameStart)) j++;
  if (j === nameStart) {
    // "1 < 2", "<3": not markup.
    out.push('<');
    return lt + 1;
  }
  const name = html.slice(nameStart, j).toLowerCase();
  const end = tagEnd(html, j);
  if (BREAKING.has(name)) out.push(' ');
  if (!closing && DROPPED.has(name) && html.charCodeAt(end - 2) !== 0x2f) {
    const close = new RegExp(`</${name}\\s*>`, 'gi');
    close.lastIndex = end;
    const found = close.exec(html);
    out.push(' ');
    return found ? close.lastIndex : html.length;
  }
  return end;
}

function isNameChar(code: number, first: boolean): boolean {
  const letter = (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a);
  if (first) return letter;
  return letter || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x3a || code === 0x5f;
}

/** Index just past the '>' closing a tag whose name ends at `from`, honouring quoted attribute values. */
function tagEnd(html: string, from: number): number {
  let j = from;
  while (j < html.length) {
    const c = html.charCodeAt(j);
    if (c === 0x3e /* > */) return j + 1;
    if (c === 0x22 || c === 0x27) {
      const close = html.indexOf(c === 0x22 ? '"' : "'", j + 1);
      // An unclosed quote: browsers end the tag at the next '>', so do we (and stay linear).
      if (close < 0) return endOf(html, '>', j);
      j = close + 1;
      continue;
    }
    j++;
  }
  return html.length;
}

function endOf(html: string, marker: string, from: number): number {
  const at = html.indexOf(marker, from);
  return at < 0 ? html.length : at + marker.length;
}

/** Cuts text to at most max characters, on a word boundary when one is near, with an ellipsis. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  // Never leave half of a surrogate pair (an emoji cut in two is not valid UTF-16).
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  const space = cut.lastIndexOf(' ');
  return `${space > max * 0.8 ? cut.slice(0, space) : cut}…`;
}
