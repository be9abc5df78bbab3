import { FeedParseError } from '../../errors.js';
import { parseAtom } from './atom.js';
import { binaryKind, decodeFeedBytes } from './charset.js';
import { type EntryRun, mergeEntries, splitEntries } from './entries.js';
import { readerFor } from './namespaces.js';
import { checkMarkupVolume, readProlog } from './prolog.js';
import { parseRdf, parseRss } from './rss.js';
import type { FeedContext, ParsedFeed, ParseFeedOptions } from './types.js';
import type { Rename } from './scan.js';
import { firstLine, withUnforeseenAs } from './unforeseen.js';
import { isObject, skeletonParser, xmlParser, type XmlNode, type XmlObject } from './xml.js';

export type { ParsedFeed, ParseFeedOptions } from './types.js';

/** Entries kept at most: beyond this many, the oldest are dropped (and `truncated` set). */
export const DEFAULT_MAX_ITEMS = 2_000;

/**
 * Parses RSS 0.9x/2.0, RSS 1.0/RDF and Atom 1.0/0.3, detected from the document, into normalised Items.
 * Pure: no I/O, nothing fetched (not even a DTD). Throws FeedParseError naming the source and the cause, with
 * `reason` one of: empty, binary, not-a-feed, dtd-forbidden, truncated, too-much-markup, malformed-xml.
 */
export function parseFeed(body: Buffer | string, options: ParseFeedOptions): ParsedFeed {
  // A failure nobody foresaw keeps the code the feed parser has always reported for one (other kinds: unreadable).
  return withUnforeseenAs('malformed-xml', options.sourceId, () => parse(body, options));
}

function parse(body: Buffer | string, options: ParseFeedOptions): ParsedFeed {
  const { sourceId } = options;
  if (body.length === 0) throw new FeedParseError(sourceId, 'empty', 'the document is empty');
  const binary = binaryKind(body);
  if (binary) throw new FeedParseError(sourceId, 'binary', `the document is ${binary}, not a feed`);
  const { text, encoding } = decodeFeedBytes(body, options.contentType);
  const prolog = readProlog(text, sourceId);
  const format = formatOf(prolog.rootName);
  const xml = prolog.rootStart > 0 ? text.slice(prolog.rootStart) : text;

  const { doc, rename, run } = parseXml(xml, format, sourceId);
  const key = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('#') && !k.startsWith('@'));
  const found = key === undefined ? undefined : doc[key];
  let root: XmlNode = (Array.isArray(found) ? found[0] : found) ?? '';
  if (run) root = withEntries(root, run, format);
  const ctx: FeedContext = {
    sourceId,
    fetchedAt: options.fetchedAt ?? new Date(),
    base: options.baseUrl,
    maxItems: Math.max(1, options.maxItems ?? DEFAULT_MAX_ITEMS),
    rename,
  };
  const feed = format === 'atom' ? parseAtom(root, ctx) : format === 'rdf' ? parseRdf(root, ctx) : parseRss(rootChannel(key, root), ctx);
  feed.encoding = encoding;
  return feed;
}

/**
 * Runs the XML parser on the document's skeleton (entries cut out, see entries.ts) or, when the cut is not clean, on
 * the whole document. A text element closed by a misspelt tag (<language>en</langauge>) cannot be read as a raw stop
 * node; the whole document is then read as ordinary XML, which tolerates the mismatch, as other feed readers do.
 */
function parseXml(xml: string, format: 'rss' | 'atom' | 'rdf', sourceId: string): { doc: Record<string, unknown>; rename: Rename; run?: EntryRun } {
  const lenientFor: string[] = [];
  const entry = format === 'atom' ? 'entry' : 'item';
  let checked: string | undefined;
  for (;;) {
    const { parser, rename } = readerFor(xml, format, lenientFor);
    const run = lenientFor.length ? undefined : splitEntries(xml, format, rename, sourceId);
    const input = run ? run.skeleton : xml;
    // What the parser will build, before it builds it: the skeleton, or the whole document but for its entries while
    // they are stop nodes (the lenient retry may parse them too).
    const skip = run || lenientFor.includes(entry) ? undefined : entry;
    const check = run ? 'skeleton' : `whole:${skip}`;
    if (check !== checked) checkMarkupVolume(sourceId, input, skip);
    checked = check;
    const chosen = parser === xmlParser && !input.includes('<item') && !input.includes('<entry') ? skeletonParser : parser;
    try {
      return { doc: chosen.parse(input) as Record<string, unknown>, rename, run };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const unclosed = /^Unexpected end of (\S+)/.exec(message)?.[1]?.replace(/^.*:/, '');
      if (!unclosed || lenientFor.includes(unclosed) || lenientFor.length >= 3) {
        throw new FeedParseError(sourceId, 'malformed-xml', `the document is not well-formed XML: ${firstLine(message)}`, { cause: err });
      }
      lenientFor.push(unclosed);
    }
  }
}

/** Puts the scanned entries back where they were: in <channel> for RSS 2.0, in the root element otherwise. */
function withEntries(root: XmlNode, run: EntryRun, format: 'rss' | 'atom' | 'rdf'): XmlNode {
  const rootObject: XmlObject = isObject(root) ? root : {};
  if (format !== 'atom' && run.inChannel) {
    const found = rootObject.channel;
    const channel = Array.isArray(found) ? found[0] : found;
    const channelObject: XmlObject = isObject(channel) ? channel : {};
    if (Array.isArray(found)) found[0] = channelObject;
    else rootObject.channel = channelObject;
    mergeEntries(channelObject, run);
  } else {
    mergeEntries(rootObject, run);
  }
  return rootObject;
}

function formatOf(rootName: string): 'rss' | 'atom' | 'rdf' {
  const local = rootName.slice(rootName.indexOf(':') + 1).toLowerCase();
  if (local === 'feed') return 'atom';
  if (local === 'rdf') return 'rdf';
  return 'rss';
}

/** A bare <channel> root (some Userland-era feeds) reads as an <rss> holding it. */
function rootChannel(key: string | undefined, root: XmlNode): XmlNode {
  return key?.toLowerCase() === 'channel' && isObject(root) ? { channel: root } : root;
}
