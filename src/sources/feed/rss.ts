import type { Item } from '../../items/item.js';
import { makeItem } from '../../items/normalise.js';
import { canonicalUrl } from '../../items/urls.js';
import { baseOf, languageTag } from './base.js';
import type { FeedContext, ParsedFeed } from './types.js';
import { authorOf, categoriesOf, media, newestEntries } from './elements.js';
import { expand } from './scan.js';
import { attr, child, children, leafText, richText, type XmlNode } from './xml.js';

/** RSS 0.9x and 2.0: <rss><channel><item>. Items of RSS 0.90-style documents beside the channel are read too. */
export function parseRss(rss: XmlNode, ctx: FeedContext): ParsedFeed {
  const channel = child(rss, 'channel') ?? rss;
  const base = baseOf(channel, baseOf(rss, ctx.base));
  const link = absolute(linkOf(channel, base));
  const language = languageTag(leafText(child(channel, 'language', 'dc:language'))) ?? languageTag(attr(rss, 'xml:lang'));
  const items = [...children(channel, 'item'), ...(channel === rss ? [] : children(rss, 'item'))];
  // Relative item links resolve against the document's URL; without one, the channel's link is the best base.
  return feed('rss', channel, link, items, ctx, base ?? link, language);
}

/** RSS 1.0 and 0.90 (RDF): <rdf:RDF><channel/><item/>...</rdf:RDF>. */
export function parseRdf(rdf: XmlNode, ctx: FeedContext): ParsedFeed {
  const channel = child(rdf, 'channel');
  const base = baseOf(channel, baseOf(rdf, ctx.base));
  const link = absolute(linkOf(channel, base));
  const language = languageTag(leafText(child(channel, 'dc:language', 'language'))) ?? languageTag(attr(rdf, 'xml:lang'));
  const items = [...children(rdf, 'item'), ...children(channel, 'item')];
  return feed('rdf', channel, link, items, ctx, base ?? link, language);
}

function feed(
  format: 'rss' | 'rdf', channel: XmlNode | undefined, link: string | undefined, items: XmlNode[], ctx: FeedContext,
  base: string | undefined, language: string | undefined,
): ParsedFeed {
  const kept = newestEntries(items, ctx.maxItems, (raw) => dateOf(expand(raw, ctx.rename)));
  return {
    format,
    title: richText(child(channel, 'title', 'dc:title'), 'html'),
    link,
    items: kept.map((raw) => {
      const item = expand(raw, ctx.rename);
      return rssItem(item, ctx, baseOf(item, base), language);
    }),
    truncated: items.length > ctx.maxItems || undefined,
  };
}

/** A link as written, with the base it is relative to. */
interface Link {
  href: string;
  base?: string;
}

function absolute(link: Link | undefined): string | undefined {
  return link ? canonicalUrl(link.href, link.base) : undefined;
}

/** The element's web link: <link> text, or an Atom link in RSS (rel="alternate"); resolved later, in one URL parse. */
function linkOf(node: XmlNode | undefined, base: string | undefined): Link | undefined {
  for (const link of children(node, 'link')) {
    const text = leafText(link);
    if (text) return { href: text, base };
    // <link href="..."/>: an Atom link written in the default namespace.
    const href = attr(link, 'href');
    if (href && (attr(link, 'rel') ?? 'alternate') === 'alternate') return { href, base };
  }
  for (const link of children(node, 'atom:link')) {
    const href = attr(link, 'href');
    if (href && (attr(link, 'rel') ?? 'alternate') === 'alternate') return { href, base: baseOf(link, base) };
  }
  return undefined;
}

/** An item's date as written: its publication date, else its last update. */
function dateOf(item: XmlNode): string | undefined {
  return leafText(child(item, 'pubDate', 'dc:date', 'dcterms:issued', 'dcterms:created', 'dcterms:date', 'published', 'pubdate', 'atom:published', 'dcterms:modified', 'updated', 'atom:updated'));
}

function rssItem(item: XmlNode, ctx: FeedContext, base: string | undefined, language: string | undefined): Item {
  const guidNode = child(item, 'guid');
  const about = attr(item, 'rdf:about');
  const guid = leafText(guidNode) ?? about ?? leafText(child(item, 'dc:identifier'));
  const link = linkOf(item, base);
  let url = link?.href;
  // A permalink guid is the item's link when it has no <link> (RSS 2.0: isPermaLink defaults to true).
  if (!url && guid && guidNode !== undefined && attr(guidNode, 'isPermaLink')?.trim().toLowerCase() !== 'false' && /^https?:\/\//i.test(guid)) url = guid;
  if (!url && about && /^https?:\/\//i.test(about)) url = about;
  return makeItem({
    sourceId: ctx.sourceId,
    plainText: true,
    guid,
    title: richText(child(item, 'title', 'dc:title', 'media:title'), 'html') ?? media(item, 'media:title'),
    summary:
      richText(child(item, 'description', 'dc:description'), 'html') ??
      media(item, 'media:description') ??
      richText(child(item, 'itunes:summary', 'itunes:subtitle'), 'html'),
    content: richText(child(item, 'content:encoded', 'xhtml:body', 'body', 'fullitem'), 'html'),
    url,
    baseUrl: link?.base ?? base,
    date: dateOf(item),
    author: authorOf(item, 'dc:creator', 'author', 'dc:author', 'itunes:author', 'atom:author'),
    categories: categoriesOf(children(item, 'category', 'dc:subject'), leafText),
    language: languageTag(leafText(child(item, 'dc:language'))) ?? language,
    fetchedAt: ctx.fetchedAt,
  });
}
