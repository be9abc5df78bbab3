import { FeedParseError } from '../../errors.js';
import type { Item } from '../../items/item.js';
import { htmlToText, makeItem } from '../../items/normalise.js';
import { canonicalUrl } from '../../items/urls.js';
import { decodeFeedBytes, looksBinary } from './charset.js';
import { asArray, attr, child, children, markupOf, textOf, xmlParser, type XmlNode, type XmlValue } from './xml.js';

export interface ParsedFeed {
  format: 'rss' | 'atom' | 'rdf';
  title?: string;
  link?: string;
  items: Item[];
  /** True when the feed had more than maxItems entries and only the first maxItems were kept. */
  truncated?: boolean;
}

export interface ParseFeedOptions {
  sourceId: string;
  contentType?: string;
  /** The document's URL: the base for relative links. */
  baseUrl?: string;
  fetchedAt?: Date;
  /** Entries kept at most (feeds list the newest first). */
  maxItems?: number;
}

const DEFAULT_MAX_ITEMS = 10_000;
const ENTITY_DECLARATION = /<!ENTITY/i;

/**
 * Parses RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 1.0 (and 0.3), detected from the document. Throws FeedParseError
 * (binary, dtd-forbidden, not-a-feed, malformed-xml, entity-expansion) naming the source and the cause.
 */
export function parseFeed(body: Buffer | string, options: ParseFeedOptions): ParsedFeed {
  const { sourceId } = options;
  if ((typeof body === 'string' ? body.length : body.length) === 0) throw new FeedParseError(sourceId, 'empty', 'the document is empty');
  if (looksBinary(body)) throw new FeedParseError(sourceId, 'binary', 'the document is binary data, not a feed');
  let { text } = decodeFeedBytes(body, options.contentType);

  const doctype = /<!DOCTYPE[\s\S]*?(\[[\s\S]*?\]\s*)?>/i.exec(text.slice(0, 65_536));
  if (doctype) {
    // An internal subset can declare entities (billion laughs, external entities): refuse, fetch nothing, expand nothing.
    if (doctype[1] && ENTITY_DECLARATION.test(doctype[1])) {
      throw new FeedParseError(sourceId, 'dtd-forbidden', 'the document declares DTD entities, which are refused for safety (XXE, entity expansion)');
    }
    text = text.slice(0, doctype.index) + text.slice(doctype.index + doctype[0].length);
  }
  const start = text.search(/<[A-Za-z]/);
  if (start < 0) throw new FeedParseError(sourceId, 'not-a-feed', 'the document contains no XML element');
  if (/^<(html|!doctype html)\b/i.test(text.slice(start, start + 20)) || /^\s*<!doctype html/i.test(text)) {
    throw new FeedParseError(sourceId, 'not-a-feed', 'the document is an HTML page, not a feed (is the URL the feed\'s address?)');
  }

  let doc: Record<string, XmlValue>;
  let rootName: string | undefined;
  try {
    doc = xmlParser.parse(text) as Record<string, XmlValue>;
    rootName = Object.keys(doc).find((k) => !k.startsWith('?') && !k.startsWith('#'));
  } catch (err) {
    const message = (err as Error).message;
    const reason = /entit/i.test(message) ? 'entity-expansion' : 'malformed-xml';
    throw new FeedParseError(sourceId, reason, `the document is not well-formed XML: ${message.split('\n')[0].slice(0, 200)}`, { cause: err });
  }
  const closing = rootName ? new RegExp(`</${rootName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*>\\s*$`) : null;
  if (closing && !closing.test(text.slice(-200))) {
    throw new FeedParseError(sourceId, 'truncated', `the document ends before its closing </${rootName}> tag (truncated download?)`);
  }
  const ctx: Ctx = {
    sourceId,
    fetchedAt: options.fetchedAt ?? new Date(),
    base: options.baseUrl,
    maxItems: options.maxItems ?? DEFAULT_MAX_ITEMS,
  };
  const root = rootName ? doc[rootName] : undefined;
  const local = rootName?.split(':').pop()?.toLowerCase();
  if (local === 'rss' || local === 'rss091' || rootName === 'channel') return parseRss(rootName === 'channel' ? { channel: root as XmlNode } : (firstOf(root) as XmlNode), ctx);
  if (local === 'feed') return parseAtom(firstOf(root) as XmlNode, ctx);
  if (local === 'rdf') return parseRdf(firstOf(root) as XmlNode, ctx);
  if (local === 'html') throw new FeedParseError(sourceId, 'not-a-feed', 'the document is an HTML page, not a feed (is the URL the feed\'s address?)');
  throw new FeedParseError(sourceId, rootName ? 'not-a-feed' : 'malformed-xml', rootName ? `the root element <${rootName}> is not RSS, RDF or Atom` : 'no root element found (truncated or empty document?)');
}

interface Ctx {
  sourceId: string;
  fetchedAt: Date;
  base?: string;
  maxItems: number;
}

function firstOf(value: XmlValue): XmlNode {
  return Array.isArray(value) ? value[0] : value;
}

function str(value: XmlValue): string | undefined {
  const text = textOf(firstOf(value)).trim();
  return text || undefined;
}

function withBase(node: XmlNode, base: string | undefined): string | undefined {
  const declared = attr(node, 'xml:base');
  if (!declared) return base;
  return canonicalUrl(declared, base) ?? base;
}

function limit<T>(entries: T[], ctx: Ctx): { entries: T[]; truncated: boolean } {
  return entries.length > ctx.maxItems ? { entries: entries.slice(0, ctx.maxItems), truncated: true } : { entries, truncated: false };
}

// ----------------------------------------------------------------------------------------------- RSS 0.9x / 2.0

function parseRss(rss: XmlNode, ctx: Ctx): ParsedFeed {
  const channel = firstOf(child(rss, 'channel')) ?? rss;
  const base = withBase(channel, withBase(rss, ctx.base));
  // RSS 0.90 and some broken feeds put items beside the channel rather than inside it.
  const rawItems = [...children(channel, 'item'), ...(channel !== rss ? children(rss, 'item') : [])];
  const { entries, truncated } = limit(rawItems, ctx);
  const link = rssLink(channel, base);
  return {
    format: 'rss',
    title: cleanTitle(child(channel, 'title', 'dc:title')),
    link,
    items: entries.filter(isObject).map((item) => rssItem(item, ctx, withBase(item, link && !base ? link : base))),
    truncated: truncated || undefined,
  };
}

function rssLink(node: XmlNode, base: string | undefined): string | undefined {
  for (const link of children(node, 'link')) {
    const text = textOf(link).trim();
    if (text) return canonicalUrl(text, base);
  }
  for (const link of children(node, 'atom:link', 'atom10:link', 'a10:link')) {
    const rel = attr(link, 'rel') ?? 'alternate';
    if (rel === 'alternate' && attr(link, 'href')) return canonicalUrl(attr(link, 'href'), base);
  }
  return undefined;
}

function rssItem(item: XmlNode, ctx: Ctx, base: string | undefined): Item {
  const guidNode = firstOf(child(item, 'guid'));
  const guid = str(guidNode);
  const permalink = attr(guidNode, 'isPermaLink');
  let url = rssLink(item, base);
  if (!url && guid && permalink !== 'false' && /^https?:\/\//i.test(guid)) url = canonicalUrl(guid, base);
  if (!url) {
    const enclosure = firstOf(child(item, 'enclosure'));
    if (attr(enclosure, 'url')) url = canonicalUrl(attr(enclosure, 'url'), base);
  }
  const description = rawHtml(child(item, 'description', 'dc:description', 'media:description')) ?? mediaDescription(item);
  const content = rawHtml(child(item, 'content:encoded', 'xhtml:body', 'body'));
  return makeItem({
    sourceId: ctx.sourceId,
    guid,
    title: rawHtml(child(item, 'title', 'dc:title', 'media:title')),
    summary: description,
    content,
    url,
    baseUrl: base,
    date: str(child(item, 'pubDate', 'dc:date', 'pubdate', 'a10:updated', 'atom:updated', 'dcterms:issued', 'dcterms:created', 'dc:created', 'published', 'updated', 'date', 'lastBuildDate')),
    author: str(child(item, 'dc:creator', 'author', 'a10:author', 'itunes:author')),
    categories: children(item, 'category', 'dc:subject').map((c) => textOf(c).trim()).filter(Boolean),
    language: str(child(item, 'dc:language')),
    fetchedAt: ctx.fetchedAt,
  });
}

function mediaDescription(item: XmlNode): string | undefined {
  for (const group of [...children(item, 'media:group'), ...children(item, 'media:content')]) {
    const description = rawHtml(child(group, 'media:description'));
    if (description) return description;
  }
  return undefined;
}

function rawHtml(value: XmlValue): string | undefined {
  const node = firstOf(value);
  if (node === undefined) return undefined;
  if (typeof node === 'string') return node;
  const type = attr(node, 'type');
  if (type === 'xhtml' || (!('#text' in node) && Object.keys(node).some((k) => !k.startsWith('@_')))) return markupOf(node);
  return textOf(node);
}

function cleanTitle(value: XmlValue): string | undefined {
  const html = rawHtml(value);
  const text = html === undefined ? undefined : htmlToText(html);
  return text || undefined;
}

function isObject(node: XmlNode): node is Exclude<XmlNode, string | undefined> {
  return !!node && typeof node === 'object';
}

// ------------------------------------------------------------------------------------------------------- Atom

function parseAtom(feed: XmlNode, ctx: Ctx): ParsedFeed {
  const base = withBase(feed, ctx.base);
  const { entries, truncated } = limit(children(feed, 'entry', 'atom:entry'), ctx);
  return {
    format: 'atom',
    title: cleanTitle(child(feed, 'title', 'atom:title')),
    link: atomLink(feed, base),
    items: entries.filter(isObject).map((entry) => atomEntry(entry, ctx, withBase(entry, base))),
    truncated: truncated || undefined,
  };
}

function atomLink(node: XmlNode, base: string | undefined): string | undefined {
  const links = children(node, 'link', 'atom:link');
  const pick = (predicate: (rel: string) => boolean) => links.find((l) => predicate(attr(l, 'rel') ?? 'alternate') && (attr(l, 'href') || textOf(l)));
  const link = pick((rel) => rel === 'alternate') ?? pick((rel) => rel !== 'self' && rel !== 'edit' && rel !== 'replies' && rel !== 'enclosure') ?? pick(() => true);
  if (!link) return undefined;
  return canonicalUrl(attr(link, 'href') ?? textOf(link).trim(), withBase(link, base));
}

function atomEntry(entry: XmlNode, ctx: Ctx, base: string | undefined): Item {
  const authorNode = firstOf(child(entry, 'author', 'atom:author'));
  const author = authorNode && typeof authorNode === 'object' ? str(child(authorNode, 'name', 'atom:name')) ?? str(authorNode) : str(authorNode);
  return makeItem({
    sourceId: ctx.sourceId,
    guid: str(child(entry, 'id', 'atom:id')),
    title: rawHtml(child(entry, 'title', 'atom:title')),
    summary: rawHtml(child(entry, 'summary', 'atom:summary')),
    content: rawHtml(child(entry, 'content', 'atom:content')),
    url: atomLink(entry, base),
    baseUrl: base,
    date: str(child(entry, 'published', 'atom:published', 'issued', 'updated', 'atom:updated', 'modified', 'created', 'dc:date')),
    author: author ?? str(child(entry, 'dc:creator')),
    categories: children(entry, 'category', 'atom:category').map((c) => attr(c, 'term') ?? attr(c, 'label') ?? textOf(c)).filter((c): c is string => !!c),
    fetchedAt: ctx.fetchedAt,
  });
}

// --------------------------------------------------------------------------------------------------- RSS 1.0

function parseRdf(rdf: XmlNode, ctx: Ctx): ParsedFeed {
  const channel = firstOf(child(rdf, 'channel', 'rss:channel'));
  const base = withBase(rdf, ctx.base);
  const { entries, truncated } = limit([...children(rdf, 'item', 'rss:item'), ...children(channel, 'item', 'rss:item')], ctx);
  return {
    format: 'rdf',
    title: cleanTitle(child(channel, 'title', 'rss:title', 'dc:title')),
    link: rssLink(channel, base) ?? canonicalUrl(str(child(channel, 'rss:link')), base),
    items: entries.filter(isObject).map((item) =>
      makeItem({
        sourceId: ctx.sourceId,
        guid: attr(item, 'rdf:about') ?? str(child(item, 'dc:identifier')),
        title: rawHtml(child(item, 'title', 'rss:title', 'dc:title')),
        summary: rawHtml(child(item, 'description', 'rss:description', 'dc:description')),
        content: rawHtml(child(item, 'content:encoded')),
        url: canonicalUrl(str(child(item, 'link', 'rss:link')), base) ?? canonicalUrl(attr(item, 'rdf:about'), base),
        baseUrl: base,
        date: str(child(item, 'dc:date', 'dcterms:issued', 'dcterms:modified', 'pubDate')),
        author: str(child(item, 'dc:creator', 'dc:author')),
        categories: children(item, 'dc:subject').map((c) => textOf(c).trim()).filter(Boolean),
        language: str(child(item, 'dc:language')),
        fetchedAt: ctx.fetchedAt,
      }),
    ),
    truncated: truncated || undefined,
  };
}

export { asArray };
