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

// Whitespace other than the plain space, and the characters foldText drops (one character class: a fast scan).
const NEEDS_FOLD = /[\u0000-\u001f\u007f-\u00a0\u00ad\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/** Decodes HTML/XML character references (named, decimal, hex). Unknown names stay as written. */
export function decodeEntities(text: string): string {
  let amp = text.indexOf('&');
  if (amp < 0) return text;
  // A hand-written scan: escaped HTML carries a reference every few characters, and a regex replacement calling
  // back for each one cost more than the rest of the text cleaning.
  const n = text.length;
  let out = '';
  let last = 0;
  while (amp >= 0) {
    let i = amp + 1;
    let c = text.charCodeAt(i);
    let decoded: string | undefined;
    if (c === 0x23 /* # */) {
      c = text.charCodeAt(++i);
      const hex = c === 0x78 || c === 0x58;
      if (hex) i++;
      const first = i;
      let code = 0;
      for (; i < n && i - first < 8; i++) {
        const d = text.charCodeAt(i);
        if (d >= 0x30 && d <= 0x39) code = code * (hex ? 16 : 10) + d - 0x30;
        else if (hex && (d | 0x20) >= 0x61 && (d | 0x20) <= 0x66) code = code * 16 + (d | 0x20) - 0x57;
        else break;
      }
      if (i > first && text.charCodeAt(i) === 0x3b) decoded = fromCodePoint(code);
    } else if (isLetter(c)) {
      const first = i++;
      for (; i < n && i - first < 32; i++) {
        const d = text.charCodeAt(i);
        if (!isLetter(d) && !(d >= 0x30 && d <= 0x39)) break;
      }
      if (i - first >= 2 && text.charCodeAt(i) === 0x3b) {
        decoded = markupEntity(text, first, i - first);
        if (decoded === undefined) {
          const name = text.slice(first, i);
          decoded = NAMED_ENTITIES.get(name) ?? NAMED_ENTITIES.get(name.toLowerCase());
        }
        // An unknown name stays as written, and nothing inside it can start another reference.
        if (decoded === undefined) {
          amp = text.indexOf('&', i + 1);
          continue;
        }
      }
    }
    if (decoded === undefined) {
      amp = text.indexOf('&', amp + 1);
      continue;
    }
    out += text.slice(last, amp) + decoded;
    last = i + 1;
    amp = text.indexOf('&', last);
  }
  return last === 0 ? text : out + text.slice(last);
}

/** &lt; &gt; &amp; &quot;, which escaped HTML is made of, recognised without a lookup. */
function markupEntity(text: string, at: number, length: number): string | undefined {
  if (length === 2 && text.charCodeAt(at + 1) === 0x74 /* t */) {
    const first = text.charCodeAt(at);
    return first === 0x6c /* l */ ? '<' : first === 0x67 /* g */ ? '>' : undefined;
  }
  if (length === 3 && text.startsWith('amp', at)) return '&';
  if (length === 4 && text.startsWith('quot', at)) return '"';
  return undefined;
}

function isLetter(code: number): boolean {
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x7a;
}

function fromCodePoint(code: number): string {
  if (code >= 0x80 && code <= 0x9f) return C1[code - 0x80];
  if (!(code > 0) || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
  return String.fromCodePoint(code);
}

/** Folds whitespace into single spaces, drops invisible control characters, trims. For text that is not HTML. */
export function foldText(text: string | undefined | null): string {
  if (!text) return '';
  const s = String(text);
  // Most text needs nothing but a trim: one scan instead of a rewrite.
  if (!NEEDS_FOLD.test(s) && !s.includes('  ')) return s.trim();
  // One pass that copies runs of ordinary characters whole and handles the others one by one.
  const n = s.length;
  let out = '';
  let start = 0;
  let space = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) continue;
    // A single space between words stays inside the run.
    if (c === 0x20 && i > start && i + 1 < n) {
      const next = s.charCodeAt(i + 1);
      if (next > 0x20 && next < 0x7f) continue;
    }
    const kind = foldClass(c);
    if (kind === KEEP) continue;
    if (i > start) {
      out += space && out ? ` ${s.slice(start, i)}` : s.slice(start, i);
      space = false;
    }
    start = i + 1;
    if (kind === SPACE) space = true;
    else if (kind === C1_BYTE) {
      // U+0080-U+009F in a feed are Windows-1252 bytes that went through a Latin-1 decoder: restore what was meant.
      const meant = C1[c - 0x80];
      out += space && out ? ` ${meant}` : meant;
      space = false;
    }
  }
  if (n > start) out += space && out ? ` ${s.slice(start)}` : s.slice(start);
  return out;
}

const KEEP = 0;
const SPACE = 1;
const DROP = 2;
const C1_BYTE = 3;

/**
 * How foldText treats a character: whitespace (what \s matches) folds into one space; control characters (other
 * than tab, newline, return) and the C1 codes without a Windows-1252 meaning are dropped, never meant as text; soft
 * hyphens and zero-width spaces are dropped too, since they would only split words when matched; the other C1 codes
 * become their Windows-1252 characters; everything else is kept.
 */
function foldClass(c: number): number {
  if (c <= 0x20) return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d ? SPACE : DROP;
  if (c < 0x7f) return KEEP;
  if (c <= 0x9f) return c === 0x7f || C1.charCodeAt(c - 0x80) <= 0x9f ? DROP : C1_BYTE;
  if (c === 0xa0) return SPACE;
  if (c === 0xad) return DROP;
  if (c < 0x1680) return KEEP;
  if (c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff) return SPACE;
  return c === 0x200b ? DROP : KEEP;
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
