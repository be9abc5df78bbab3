import type { XmlObject } from './types-xml.js';

/**
 * Reads the child elements of one entry's raw XML (fast-xml-parser hands each <item>/<entry> over raw, as a stop
 * node). Building fast-xml-parser's object tree for every entry cost as much as rss-parser's whole parse; an entry's
 * fields are few and flat, so we only locate them: each child becomes { '#text': raw inner markup, '@_name': value },
 * the same shape as a stop node, and the text helpers in xml.ts decode what the mappers read.
 *
 * Only the listed container elements (media:group, author, ...) are opened further; everything else stays raw.
 * Linear: every search moves forward, and cached "next CDATA/comment" positions are only recomputed once passed.
 * Lenient like browsers: an element that is never closed extends to the end of the entry.
 */
export type Rename = (name: string) => string;

/** The identity renaming: the document uses conventional names. */
export const KEEP_NAMES: Rename = (name) => name;
/** Key under which a scanned element keeps its attribute text until one is read (see attr in xml.ts). */
export const LAZY_ATTRIBUTES = '@@attributes';

const CONTAINERS = new Set(['media:group', 'media:content', 'author', 'contributor', 'source', 'atom:author']);
const MAX_DEPTH = 6;
const UNSAFE_NAMES = new Set(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf']);
/**
 * One attribute from where the last one ended: the separators before its name, then name = value. Sticky, and tried
 * once per name: a global search retried at every character of a name with no value after it, which is quadratic
 * (100,000 characters of them: 10 s).
 */
const ATTRIBUTE = /[\s=/>]*([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/y;
/** A name with no value: passed over whole, as no attribute can start inside it. */
const NO_ATTRIBUTE = /[\s=/>]*[^\s=/>]*/y;

/**
 * How many elements other than entries the run of entries may hold (see entries.ts): each becomes an object, and
 * 900,000 empty ones between two items would cost ~80 MB. `refuse` throws.
 */
export interface OthersBudget {
  entry: string;
  left: number;
  refuse(): never;
}

/** An entry node with its children located: the stop node's attributes plus one key per child element name. */
export function expand(node: unknown, rename: Rename = KEEP_NAMES, depth = 0, budget?: OthersBudget): XmlObject {
  // A dictionary: the mappers ask for many names an entry lacks (dc:date, media:title, ...), which a dictionary answers
  // at once, where thousands of differently shaped entries defeat the inline caches of ordinary objects.
  const out: XmlObject = Object.create(null) as XmlObject;
  let raw = '';
  if (typeof node === 'string') raw = node;
  else if (node && typeof node === 'object' && !Array.isArray(node)) {
    // Parsed as ordinary XML already (the lenient retry in parse.ts): its children are there.
    if (Object.keys(node).some((key) => key !== '#text' && !key.startsWith('@'))) return node as XmlObject;
    for (const [key, value] of Object.entries(node as XmlObject)) {
      if (key === '#text') raw = typeof value === 'string' ? value : '';
      else if (key.startsWith('@')) out[key] = value;
    }
  }
  out['#text'] = raw;
  if (raw.includes('<')) scanChildren(raw, out, rename, depth, budget);
  return out;
}

/** Position of the next CDATA section or comment found so far (-1: none left); searches only ever move forward. */
interface Cursor {
  raw: string;
  markup: number;
  /** Where the element closeOf last read ends: the index after its end tag. */
  after: number;
}

function scanChildren(raw: string, out: XmlObject, rename: Rename, depth: number, budget: OthersBudget | undefined): void {
  const n = raw.length;
  const cursor: Cursor = { raw, markup: -2, after: 0 };
  let i = 0;
  while (i < n) {
    const lt = raw.indexOf('<', i);
    if (lt < 0 || lt + 1 >= n) return;
    const c = raw.charCodeAt(lt + 1);
    if (c === 0x21 /* ! */) {
      i = raw.startsWith('<![CDATA[', lt) ? after(raw, ']]>', lt + 9) : raw.startsWith('<!--', lt) ? after(raw, '-->', lt + 4) : after(raw, '>', lt + 2);
      continue;
    }
    if (c === 0x3f /* ? */ || c === 0x2f /* / (a stray end tag) */) {
      i = after(raw, '>', lt + 2);
      continue;
    }
    const nameEnd = nameEndAt(raw, lt + 1);
    if (nameEnd === lt + 1) {
      i = lt + 1;
      continue;
    }
    const rawName = raw.slice(lt + 1, nameEnd);
    const tagEnd = tagEndAt(raw, nameEnd);
    const selfClosing = raw.charCodeAt(tagEnd - 1) === 0x2f;
    let inner = '';
    if (selfClosing || tagEnd >= n) {
      i = tagEnd + 1;
    } else {
      inner = raw.slice(tagEnd + 1, closeOf(cursor, rawName, tagEnd + 1));
      i = cursor.after;
    }
    const child: XmlObject = { '#text': inner };
    const attributes = raw.slice(nameEnd, selfClosing ? tagEnd - 1 : tagEnd);
    // Most attributes are never read (enclosure lengths, media sizes): keep them raw until attr() asks.
    if (rename === KEEP_NAMES) {
      if (attributes.includes('=')) child[LAZY_ATTRIBUTES] = attributes;
    } else readAttributes(attributes, child, rename);
    const name = rename(rawName);
    if (budget !== undefined && name !== budget.entry && --budget.left < 0) budget.refuse();
    // Element names become object keys: never let one reach or shadow a prototype.
    if (UNSAFE_NAMES.has(name)) continue;
    const value = CONTAINERS.has(name) && depth < MAX_DEPTH && inner.includes('<') ? expand(child, rename, depth + 1) : child;
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[name] = [existing, value];
  }
}

function after(raw: string, marker: string, from: number): number {
  const at = raw.indexOf(marker, from);
  return at < 0 ? raw.length : at + marker.length;
}

function nameEndAt(raw: string, from: number): number {
  let j = from;
  const first = raw.charCodeAt(j);
  if (!((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a) || first === 0x5f || first > 0x7f)) return from;
  while (j < raw.length) {
    const c = raw.charCodeAt(j);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x3e || c === 0x2f) break;
    j++;
  }
  return j;
}

/** Index of the '>' that ends a start tag, honouring quoted attribute values. */
function tagEndAt(raw: string, from: number): number {
  let j = from;
  while (j < raw.length) {
    const c = raw.charCodeAt(j);
    if (c === 0x3e) return j;
    if (c === 0x22 || c === 0x27) {
      const close = raw.indexOf(c === 0x22 ? '"' : "'", j + 1);
      if (close < 0) break;
      j = close + 1;
    } else j++;
  }
  const gt = raw.indexOf('>', from);
  return gt < 0 ? raw.length : gt;
}

/** Parses attribute text into "@_name" keys. */
export function readAttributes(text: string, into: XmlObject, rename: Rename = KEEP_NAMES): void {
  if (!text.includes('=')) return;
  for (let at = 0; at < text.length; ) {
    ATTRIBUTE.lastIndex = at;
    const m = ATTRIBUTE.exec(text);
    if (m === null) {
      NO_ATTRIBUTE.lastIndex = at;
      NO_ATTRIBUTE.exec(text);
      at = NO_ATTRIBUTE.lastIndex;
      continue;
    }
    const name = m[1].startsWith('xml:') || m[1].startsWith('xmlns') ? m[1] : rename(m[1]);
    into[`@_${name}`] = m[2] ?? m[3] ?? m[4] ?? '';
    at = ATTRIBUTE.lastIndex;
  }
}

/**
 * The end of the inner markup of an element named `name` whose content starts at `from`; the index after its end tag
 * goes to cursor.after. Nested elements of the same name are counted; CDATA sections and comments are skipped.
 */
function closeOf(cursor: Cursor, name: string, from: number): number {
  const { raw } = cursor;
  // Most elements hold text only: the first "<" after the start tag is their end tag, and nothing need be searched.
  const lt = raw.indexOf('<', from);
  if (lt >= 0 && raw.charCodeAt(lt + 1) === 0x2f && raw.startsWith(name, lt + 2) && isBoundary(raw.charCodeAt(lt + 2 + name.length))) {
    cursor.after = after(raw, '>', lt + 2 + name.length);
    return lt;
  }
  const close = `</${name}`;
  let open: string | undefined;
  let depth = 1;
  let pos = from;
  let end = -1;
  for (;;) {
    // The end tag found last is still the first one from pos on unless pos has moved past it.
    if (end < pos) end = nextTag(raw, close, pos);
    if (end < 0) {
      cursor.after = raw.length;
      return raw.length;
    }
    const skipped = markupBefore(cursor, pos, end);
    if (skipped >= 0) {
      pos = raw.charCodeAt(skipped + 2) === 0x5b /* [ */ ? after(raw, ']]>', skipped + 9) : after(raw, '-->', skipped + 4);
      continue;
    }
    open ??= `<${name}`;
    // Only the element's own content can hold a nested element of its name: search that stretch, not the rest.
    const nested = end - pos > open.length ? nextTagBefore(raw, open, pos, end) : -1;
    if (nested >= 0) {
      const nestedEnd = tagEndAt(raw, nested + open.length);
      if (raw.charCodeAt(nestedEnd - 1) !== 0x2f) depth++;
      pos = nestedEnd + 1;
      continue;
    }
    const endTagEnd = after(raw, '>', end + close.length);
    if (--depth === 0) {
      cursor.after = endTagEnd;
      return end;
    }
    pos = endTagEnd;
  }
}

/** Start of the first CDATA section or comment in raw[pos, end), or -1. */
function markupBefore(cursor: Cursor, pos: number, end: number): number {
  if (cursor.markup !== -1 && cursor.markup < pos) {
    const { raw } = cursor;
    // One search for "<!" finds both kinds (and rarely anything else, which is passed over).
    let at = raw.indexOf('<!', pos);
    while (at >= 0 && !raw.startsWith('[CDATA[', at + 2) && !raw.startsWith('--', at + 2)) at = raw.indexOf('<!', at + 2);
    cursor.markup = at;
  }
  return cursor.markup >= 0 && cursor.markup < end ? cursor.markup : -1;
}

/** Next "<name" or "</name" at a name boundary (so "<title" does not match "<titles"). */
function nextTag(raw: string, tag: string, from: number): number {
  let at = raw.indexOf(tag, from);
  while (at >= 0) {
    if (isBoundary(raw.charCodeAt(at + tag.length))) return at;
    at = raw.indexOf(tag, at + 1);
  }
  return -1;
}

/** Whether the character after a tag name ends the name (the end of the text does too). */
function isBoundary(c: number): boolean {
  return c === 0x3e || c === 0x2f || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || Number.isNaN(c);
}

/** nextTag within raw[from, to). */
function nextTagBefore(raw: string, tag: string, from: number, to: number): number {
  const stretch = raw.substring(from, to);
  if (!stretch.includes(tag)) return -1;
  const at = nextTag(stretch, tag, 0);
  return at < 0 ? -1 : from + at;
}
