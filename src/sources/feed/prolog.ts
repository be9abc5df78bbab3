import { FeedParseError } from '../../errors.js';

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

function after(text: string, marker: string, from: number, sourceId: string): number {
  const at = text.indexOf(marker, from + 2);
  if (at < 0) throw truncated(sourceId, 'inside its prolog');
  return at + marker.length;
}

function truncated(sourceId: string, where: string): FeedParseError {
  return new FeedParseError(sourceId, 'truncated', `the document ends ${where}: it is truncated (a cut download or a size cap?)`);
}

function htmlPage(text: string, sourceId: string): FeedParseError {
  const head = text.slice(0, 65_536);
  const link = /<link\b[^>]*type\s*=\s*["']application\/(?:rss|atom)\+xml["'][^>]*>/i.exec(head)?.[0];
  const href = link ? /href\s*=\s*["']([^"']+)["']/i.exec(link)?.[1] : undefined;
  const hint = href ? `; the page links to a feed at ${href.slice(0, 300)}` : '; is the URL the feed\'s address?';
  return new FeedParseError(sourceId, 'not-a-feed', `the document is an HTML page, not a feed${hint}`);
}

function preview(text: string): string {
  return text.trim().slice(0, 40).replace(/[^\x20-\x7e]/g, '?');
}
