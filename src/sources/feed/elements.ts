import { LIMITS, parseDate } from '../../items/normalise.js';
import { child, children, isObject, leafText, richText, type XmlNode } from './xml.js';

/** Media RSS text on the item, in a media:group, or on a media:content (first found). */
export function media(item: XmlNode, name: string): string | undefined {
  const direct = richText(child(item, name), 'text');
  if (direct) return direct;
  for (const holder of children(item, 'media:group', 'media:content')) {
    const text = richText(child(holder, name), 'text') ?? media(child(holder, 'media:content') ?? '', name);
    if (text) return text;
  }
  return undefined;
}

/** A person's display name: <name> inside Atom-style persons, "email (Name)" in RSS <author>, else the text. */
export function authorOf(node: XmlNode, ...names: string[]): string | undefined {
  for (const person of children(node, ...names)) {
    const text = (isObject(person) ? leafText(child(person, 'name')) : undefined) ?? leafText(person);
    if (!text) continue;
    return nameInParens(text)?.trim() ?? text;
  }
  return undefined;
}

const SPACE = /\s/g;
const NOT_SPACE = /\S/g;

/**
 * The name in "jane@example.com (Jane Doe)": what /^\S+@\S+\s*\(([^)]+)\)$/ captures, found without that pattern's
 * backtracking, which tries every way to split the address at an "@" (an author of 200,000 "@"s: 35 s).
 */
export function nameInParens(text: string): string | undefined {
  const last = text.length - 1;
  if (text.charCodeAt(last) !== 0x29 /* ) */) return undefined;
  // The name runs from a "(" to the final ")": it holds no other ")", and at least one character.
  const otherClose = text.lastIndexOf(')', last - 1);
  const opensName = (open: number) => open > otherClose && open < last - 1 && text.charCodeAt(open) === 0x28; /* ( */
  // The address is the first word, with an "@" that neither starts nor ends it.
  SPACE.lastIndex = 0;
  const wordEnd = SPACE.exec(text)?.index ?? text.length;
  const at = text.indexOf('@', 1);
  if (at < 0) return undefined;
  // Where several "(" could open the name, the pattern takes the last. "address (Name)": the first character after
  // the spaces that end the word, which comes after any "(" inside the word.
  if (wordEnd < text.length && at <= wordEnd - 2) {
    NOT_SPACE.lastIndex = wordEnd;
    const open = NOT_SPACE.exec(text)?.index ?? -1;
    if (opensName(open)) return text.slice(open + 1, last);
  }
  // "address(Name)": the last "(" inside the word that leaves a name after it, and an "@" and a character before it.
  const before = Math.min(wordEnd - 1, last - 2);
  const open = before >= 0 ? text.lastIndexOf('(', before) : -1;
  return open >= at + 2 && opensName(open) ? text.slice(open + 1, last) : undefined;
}

/**
 * An item's category texts, as many as normalisation reads (LIMITS.categoriesRead): an item with 400,000 <category>
 * elements costs no more to read than one with a hundred.
 */
export function categoriesOf(nodes: XmlNode[], read: (node: XmlNode) => string | undefined): string[] {
  const out: string[] = [];
  for (const node of nodes) {
    const text = read(node);
    if (text && text.trim()) out.push(text);
    if (out.length >= LIMITS.categoriesRead) break;
  }
  return out;
}

/** Dates sampled, evenly spaced from the first entry to the last, to tell a feed that runs oldest first. */
const ORDER_SAMPLES = 5;

/**
 * The entries to keep of a document with more than `max`: the newest. Feeds list the newest first, so that is the
 * first `max`; a feed whose sampled dates rise from its first entry to its last runs oldest first, and keeps its last
 * `max` (else it would lose its new entries at every poll). Reading a handful of dates costs nothing next to the
 * entries kept.
 */
export function newestEntries(entries: XmlNode[], max: number, dateOf: (entry: XmlNode) => string | undefined): XmlNode[] {
  if (entries.length <= max) return entries;
  return runsOldestFirst(entries, dateOf) ? entries.slice(entries.length - max) : entries.slice(0, max);
}

function runsOldestFirst(entries: XmlNode[], dateOf: (entry: XmlNode) => string | undefined): boolean {
  let first = Number.NaN;
  let previous = -Infinity;
  for (let k = 0; k < ORDER_SAMPLES; k++) {
    const iso = parseDate(dateOf(entries[Math.round((k * (entries.length - 1)) / (ORDER_SAMPLES - 1))]));
    if (iso === null) return false;
    const time = Date.parse(iso);
    if (time < previous) return false;
    if (k === 0) first = time;
    previous = time;
  }
  return previous > first;
}
