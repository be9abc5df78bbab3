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
    const inParens = /^\S+@\S+\s*\(([^)]+)\)$/.exec(text);
    return inParens ? inParens[1].trim() : text;
  }
  return undefined;
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
