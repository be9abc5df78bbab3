import { MAX_SKELETON_MARKUP, tooMuchMarkup } from './prolog.js';
import { expand, type Rename } from './scan.js';
import type { XmlObject } from './types-xml.js';

/**
 * Splits a feed into its skeleton (everything but the entries, for fast-xml-parser) and the run of entries from the
 * first <item>/<entry> to the last, which scan.ts reads directly. Walking the entries character by character was
 * half of fast-xml-parser's time on real feeds, for nothing: each entry is handed over raw anyway.
 *
 * Undefined whenever the cut would not be clean (an entry name inside a comment or CDATA at either end, prefixed
 * entry elements): the whole document then goes through fast-xml-parser, which hands entries over as stop nodes.
 */
export interface EntryRun {
  /** The document with the entries cut out. */
  skeleton: string;
  /** The entries and whatever lies between them, read as children of their parent. */
  children: XmlObject;
  /** Where the run sat: inside <channel> (RSS 2.0) or directly in the root element (RDF, Atom, RSS 0.90). */
  inChannel: boolean;
}

export function splitEntries(xml: string, format: 'rss' | 'atom' | 'rdf', rename: Rename, sourceId: string): EntryRun | undefined {
  const name = format === 'atom' ? 'entry' : 'item';
  const start = firstTag(xml, `<${name}`);
  if (start < 0) return undefined;
  const lastClose = xml.lastIndexOf(`</${name}`);
  const gt = lastClose < start ? -1 : xml.indexOf('>', lastClose);
  if (gt < 0 || xml.slice(lastClose + name.length + 2, gt).trim() !== '') return undefined;
  const end = gt + 1;
  const head = xml.slice(0, start);
  const tail = xml.slice(end);
  if (opensUnclosed(head, '<![CDATA[', ']]>') || opensUnclosed(head, '<!--', '-->')) return undefined;
  if (closesUnopened(tail, '<![CDATA[', ']]>') || closesUnopened(tail, '<!--', '-->')) return undefined;
  const entries = xml.slice(start, end);
  // A CDATA section that never closes swallows the rest of the document: let the XML parser refuse it.
  if (opensUnclosed(entries, '<![CDATA[', ']]>')) return undefined;
  const channelOpen = firstTag(head, '<channel');
  // Elements between the entries are read as their parent's: as many as the parser may read outside the entries.
  const refuse = (): never => {
    throw tooMuchMarkup(sourceId);
  };
  return {
    skeleton: head + tail,
    children: expand(entries, rename, 0, { entry: name, left: MAX_SKELETON_MARKUP, refuse }),
    inChannel: channelOpen >= 0 && head.lastIndexOf('</channel') < channelOpen,
  };
}

/** Adds the run's children to their parent: its entries, and any other element the parent does not have yet. */
export function mergeEntries(parent: XmlObject, run: EntryRun): void {
  for (const key of Object.keys(run.children)) {
    if (key === '#text' || key.startsWith('@')) continue;
    if (parent[key] === undefined || key === 'item' || key === 'entry') parent[key] = run.children[key];
  }
}

function firstTag(text: string, tag: string): number {
  let at = text.indexOf(tag);
  while (at >= 0) {
    const c = text.charCodeAt(at + tag.length);
    if (c === 0x3e || c === 0x2f || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) return at;
    at = text.indexOf(tag, at + 1);
  }
  return -1;
}

function opensUnclosed(text: string, open: string, close: string): boolean {
  // Most feeds have no CDATA section at all; V8 looks for a long pattern, forwards or backwards, four times slower
  // than for the "<!" both markers start with.
  if (!text.includes('<!')) return false;
  const lastOpen = text.lastIndexOf(open);
  return lastOpen >= 0 && text.indexOf(close, lastOpen + open.length) < 0;
}

function closesUnopened(text: string, open: string, close: string): boolean {
  const firstClose = text.indexOf(close);
  if (firstClose < 0) return false;
  const firstOpen = text.indexOf(open);
  return firstOpen < 0 || firstOpen > firstClose;
}
