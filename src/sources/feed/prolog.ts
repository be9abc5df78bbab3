import { FeedParseError } from '../../errors.js';
import { EndTags, endsName, MAX_ENTRY_NAME } from './end-tags.js';

/**
 * Safety and sanity checks on a decoded document before any XML parser sees it: the DTD policy, the root element,
 * HTML pages served in place of a feed, and truncated downloads. Only the document from its root element on is handed
 * to the XML parser, so a DOCTYPE never reaches it.
 */
export interface Prolog {
  /** Index of the root element's "<". */
  rootStart: number;
  /** The root element's name as written ("rss", "rdf:RDF", "feed"). */
  rootName: string;
}

const FEED_ROOT = /^(?:[\w.-]+:)?(?:rss|feed|channel|rdf)$/i;
const LATE_ROOT = /<(rss|feed|[\w.-]+:RDF|RDF)[\s>]/;

/** Reads the prolog: throws FeedParseError for DTD entity declarations, HTML, non-feeds, empty or truncated documents. */
export function readProlog(text: string, sourceId: string): Prolog {
  let i = 0;
  for (;;) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      if (text.trim() === '') throw new FeedParseError(sourceId, 'empty', 'the document is empty');
      throw new FeedParseError(sourceId, 'not-a-feed', `the document is not XML (it starts "${preview(text)}")`);
    }
    if (text.startsWith('<?', lt)) {
      i = after(text, '?>', lt, sourceId);
    } else if (text.startsWith('<!--', lt)) {
      i = after(text, '-->', lt, sourceId);
    } else if (/^<!doctype/i.test(text.slice(lt, lt + 9))) {
      i = doctypeEnd(text, lt, sourceId);
    } else if (/[A-Za-z_]/.test(text.charAt(lt + 1))) {
      const rootName = /^<([A-Za-z_][\w.:-]*)/.exec(text.slice(lt, lt + 200))?.[1] ?? '';
      const prolog = { rootStart: lt, rootName };
      return checkRoot(text, FEED_ROOT.test(rootName) ? prolog : lateRoot(text, prolog, sourceId), sourceId);
    } else {
      throw new FeedParseError(sourceId, 'not-a-feed', `the document is not XML (it starts "${preview(text.slice(lt))}")`);
    }
  }
}

/** End of a DOCTYPE declaration; refuses any internal subset that declares entities. */
function doctypeEnd(text: string, start: number, sourceId: string): number {
  const close = text.indexOf('>', start);
  const bracket = text.indexOf('[', start);
  if (/^<!doctype\s+html\b/i.test(text.slice(start, start + 20))) throw htmlPage(text, sourceId);
  if (bracket < 0 || (close >= 0 && close < bracket)) {
    if (close < 0) throw truncated(sourceId, 'inside its DOCTYPE');
    // An external DTD (RSS 0.91's Netscape DTD) is only named here: nothing is ever fetched.
    return close + 1;
  }
  const subsetEnd = text.indexOf(']', bracket);
  const end = subsetEnd < 0 ? -1 : text.indexOf('>', subsetEnd);
  if (end < 0) throw truncated(sourceId, 'inside its DOCTYPE');
  if (/<!ENTITY/i.test(text.slice(bracket, end))) {
    // Entity declarations are how XXE (external entities) and "billion laughs" (nested expansion) attacks work, and
    // real feeds do not need them: refuse the document instead of expanding anything.
    throw new FeedParseError(sourceId, 'dtd-forbidden', 'the document declares entities in its DOCTYPE; they are refused for safety (external entities, entity expansion). Ask the publisher for a plain feed');
  }
  return end + 1;
}

/** A PHP warning or other junk before the feed: find the real root within the first 16 KB. */
function lateRoot(text: string, prolog: Prolog, sourceId: string): Prolog {
  if (/^html$/i.test(prolog.rootName)) throw htmlPage(text, sourceId);
  const head = text.slice(prolog.rootStart, prolog.rootStart + 16_384);
  const found = LATE_ROOT.exec(head);
  if (!found) {
    throw new FeedParseError(sourceId, 'not-a-feed', `the document is XML but not a feed: its root element is <${prolog.rootName}>, not <rss>, <feed> or <rdf:RDF>`);
  }
  return { rootStart: prolog.rootStart + found.index, rootName: found[1] };
}

function checkRoot(text: string, prolog: Prolog, sourceId: string): Prolog {
  const startTagEnd = text.indexOf('>', prolog.rootStart);
  if (startTagEnd < 0) throw truncated(sourceId, 'inside its first element');
  if (text.charCodeAt(startTagEnd - 1) === 0x2f /* <rss/> */) return prolog;
  // A download cut short never closes its root; a parser that guesses the rest would invent or drop items.
  if (text.lastIndexOf(`</${prolog.rootName}`) < startTagEnd) throw truncated(sourceId, `before its root element <${prolog.rootName}> is closed`);
  return prolog;
}

/**
 * Tags and attributes the XML parser may be handed outside the entries. fast-xml-parser builds an object per element
 * and a property per attribute, at about 500 bytes each: 900,000 empty elements in <channel> (9 MB) cost +500 MB and
 * 5 s of CPU. Real feeds have a few dozen outside their entries, a podcast with long channel markup a few thousand.
 * Entries never count: the parser hands them over unparsed (stop nodes) and scan.ts reads them.
 */
export const MAX_SKELETON_MARKUP = 50_000;

/**
 * Refuses a document with more than MAX_SKELETON_MARKUP tags and attributes outside its entries. `text` is the
 * skeleton (entries cut out), or the whole document with the name of its entries when the parser hands them over
 * unparsed (stop nodes); comments and CDATA sections are skipped too, as the parser does. Linear, and next to nothing
 * for a normal skeleton.
 */
export function checkMarkupVolume(sourceId: string, text: string, entryName?: string): void {
  let count = 0;
  // The walk only moves forward, and so do these searches: each is made again only once the walk passes its last find.
  // Thousands of entry start tags cut short (<item </item <item </item ...) ahead of a large text each searched it
  // for their ">"; a tag with many attributes is counted without searching the rest for "=".
  const nextGt = ahead(text, '>');
  const nextEq = ahead(text, '=');
  // The entries' end tags, indexed at the first entry: thousands of self-closed or never-closed entries ahead of a
  // large text would otherwise each search it to its end (45,000 <item>s before 5 MB: 8 s; 20,000 <aN:item>s: 50 s).
  let ends: EndTags | undefined;
  let i = text.indexOf('<');
  while (i >= 0) {
    if (text.startsWith('<!--', i)) i = text.indexOf('-->', i + 4);
    else if (text.startsWith('<![CDATA[', i)) i = text.indexOf(']]>', i + 9);
    else {
      const name = entryName ? entryNameAt(text, i, entryName) : undefined;
      // An entry is skipped to its end tag; one self-closed or never closed is only a tag.
      let close = -1;
      if (name && entryName) {
        const from = i + name.length + 1;
        ends ??= new EndTags(text, entryName, from);
        close = ends.after(name, from);
      }
      if (close >= 0 && text.charCodeAt(nextGt(i) - 1) !== 0x2f) {
        i = close;
      } else {
        // The tag, and an attribute per "=" in it.
        const found = nextGt(i + 1);
        const end = found < 0 ? text.length : found;
        count++;
        for (let eq = nextEq(i + 1); eq >= 0 && eq < end; eq = nextEq(eq + 1)) count++;
        if (count > MAX_SKELETON_MARKUP) throw tooMuchMarkup(sourceId);
        i = found;
      }
    }
    if (i < 0) return;
    i = text.indexOf('<', i + 1);
  }
}

/** text.indexOf(marker, from) for a `from` that never decreases: searched again only once its last find is passed. */
function ahead(text: string, marker: string): (from: number) => number {
  let found = -2;
  return (from) => {
    if (found === -1 || found >= from) return found;
    found = text.indexOf(marker, from);
    return found;
  };
}

export function tooMuchMarkup(sourceId: string): FeedParseError {
  return new FeedParseError(
    sourceId,
    'too-much-markup',
    `the document has more than ${MAX_SKELETON_MARKUP.toLocaleString('en')} tags and attributes outside its entries; it is refused, as reading them would take hundreds of MB of memory`,
  );
}

/** The element name at text[lt] ("<item", "<atom:entry", "<Item") when it is an entry's start tag, else undefined. */
function entryNameAt(text: string, lt: number, entryName: string): string | undefined {
  let j = lt + 1;
  while (j < text.length && j - lt <= MAX_ENTRY_NAME && !endsName(text.charCodeAt(j))) j++;
  const name = text.slice(lt + 1, j);
  const local = name.slice(name.indexOf(':') + 1);
  return local.length === entryName.length && local.toLowerCase() === entryName ? name : undefined;
}

function after(text: string, marker: string, from: number, sourceId: string): number {
  const at = text.indexOf(marker, from + 2);
  if (at < 0) throw truncated(sourceId, 'inside its prolog');
  return at + marker.length;
}

function truncated(sourceId: string, where: string): FeedParseError {
  return new FeedParseError(sourceId, 'truncated', `the document ends ${where}: it is truncated (a cut download or a size cap?)`);
}

function htmlPage(text: string, sourceId: string): FeedParseError {
  const link = feedLink(text.slice(0, 65_536));
  const href = link ? /href\s*=\s*["']([^"']+)["']/i.exec(link)?.[1] : undefined;
  const hint = href ? `; the page links to a feed at ${href.slice(0, 300)}` : '; is the URL the feed\'s address?';
  return new FeedParseError(sourceId, 'not-a-feed', `the document is an HTML page, not a feed${hint}`);
}

const LINK = /<link\b/gi;
const FEED_TYPE = /type\s*=\s*["']application\/(?:rss|atom)\+xml["']/i;

/**
 * The first <link ...> whose text up to the next ">" declares a feed type, as /<link\b[^>]*type=...[^>]*>/i finds
 * it. That pattern reads from every <link to the next ">" again, which for thousands of <link>s left open is
 * quadratic (a second for 64 KB of them); every <link before a ">" shares its text up to it, so it is read once.
 */
function feedLink(head: string): string | undefined {
  LINK.lastIndex = 0;
  for (let m = LINK.exec(head); m; m = LINK.exec(head)) {
    const gt = head.indexOf('>', m.index);
    if (gt < 0) return undefined;
    const tag = head.slice(m.index, gt + 1);
    if (FEED_TYPE.test(tag)) return tag;
    LINK.lastIndex = gt + 1;
  }
  return undefined;
}

function preview(text: string): string {
  return text.trim().slice(0, 40).replace(/[^\x20-\x7e]/g, '?');
}
