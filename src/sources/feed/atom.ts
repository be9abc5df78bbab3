import type { Item } from '../../items/item.js';
import { makeItem } from '../../items/normalise.js';
import { canonicalUrl } from '../../items/urls.js';
import { baseOf, languageTag } from './base.js';
import { authorOf, categoriesOf, media, newestEntries } from './elements.js';
import { expand } from './scan.js';
import type { FeedContext, ParsedFeed } from './types.js';
import { attr, charData, child, children, isObject, leafText, rawOf, richText, type TextKind, type XmlNode } from './xml.js';

/** Atom 1.0 and 0.3: <feed><entry>, with xml:base inheritance and typed text constructs. */
export function parseAtom(feed: XmlNode, ctx: FeedContext): ParsedFeed {
  const base = baseOf(feed, ctx.base);
  const language = languageTag(attr(feed, 'xml:lang'));
  const feedAuthor = authorOf(feed, 'author');
  const entries = children(feed, 'entry');
  const kept = newestEntries(entries, ctx.maxItems, (raw) => dateOf(expand(raw, ctx.rename)));
  const found = linkOf(feed, base);
  const link = found ? canonicalUrl(found.href, found.base) : undefined;
  // Relative entry links resolve against the document's URL; without one, the feed's web link is the best base.
  const entryBase = base ?? link;
  return {
    format: 'atom',
    title: textConstruct(child(feed, 'title')),
    link,
    items: kept.map((raw) => {
      const entry = expand(raw, ctx.rename);
      return atomEntry(entry, ctx, baseOf(entry, entryBase), language, feedAuthor);
    }),
    truncated: entries.length > ctx.maxItems || undefined,
  };
}

/** An entry's date as written: published (issued, created), else updated. */
function dateOf(entry: XmlNode): string | undefined {
  return leafText(child(entry, 'published', 'issued', 'created', 'dc:date', 'dcterms:issued', 'updated', 'modified'));
}

function atomEntry(entry: XmlNode, ctx: FeedContext, base: string | undefined, language: string | undefined, feedAuthor: string | undefined): Item {
  const content = child(entry, 'content');
  const link = linkOf(entry, base);
  return makeItem({
    sourceId: ctx.sourceId,
    plainText: true,
    guid: leafText(child(entry, 'id')),
    title: textConstruct(child(entry, 'title')) ?? media(entry, 'media:title'),
    summary: textConstruct(child(entry, 'summary')) ?? media(entry, 'media:description'),
    // Out-of-line content (src="...") has no text here.
    content: attr(content, 'src') ? undefined : textConstruct(content),
    url: link?.href,
    baseUrl: link?.base ?? base,
    date: dateOf(entry),
    author: authorOf(entry, 'author', 'dc:creator') ?? authorOf(child(entry, 'source') ?? '', 'author') ?? feedAuthor,
    categories: categoriesOf(children(entry, 'category', 'dc:subject'), (c) => attr(c, 'label') ?? attr(c, 'term') ?? leafText(c)),
    language: languageTag(attr(entry, 'xml:lang')) ?? language,
    fetchedAt: ctx.fetchedAt,
  });
}

/** Links that never point at the entry's web page (a feed, an API endpoint, a media file, a licence, paging). */
const NOT_ALTERNATE = new Set([
  'self', 'edit', 'edit-media', 'replies', 'enclosure', 'license', 'hub', 'via', 'first', 'last', 'next', 'previous',
  'prev', 'service.post', 'service.edit', 'service.feed', 'payment', 'search',
]);

/** The alternate (web page) link: rel="alternate" or no rel, an HTML one first; resolved against xml:base. */
function linkOf(node: XmlNode, base: string | undefined): { href: string; base?: string } | undefined {
  const links = children(node, 'link');
  let best: XmlNode | undefined;
  let bestRank = 3;
  for (const link of links) {
    const rel = (attr(link, 'rel') ?? 'alternate').trim().toLowerCase();
    if (NOT_ALTERNATE.has(rel)) continue;
    const type = attr(link, 'type')?.toLowerCase() ?? '';
    const rank = rel === 'alternate' ? (type === '' || type.includes('html') ? 0 : 1) : 2;
    if (rank < bestRank && (attr(link, 'href') ?? leafText(link))) [best, bestRank] = [link, rank];
  }
  if (best === undefined) return undefined;
  // Atom 0.3 and hand-written feeds: <link>http://...</link> without href.
  const href = attr(best, 'href') ?? leafText(best);
  return href ? { href, base: baseOf(best, base) } : undefined;
}

/** An Atom text construct as plain text, read by its type (text, html, xhtml) or Atom 0.3 mode (escaped, base64). */
export function textConstruct(node: XmlNode | undefined): string | undefined {
  if (node === undefined) return undefined;
  const type = attr(node, 'type')?.trim().toLowerCase();
  const mode = attr(node, 'mode')?.trim().toLowerCase();
  let kind: TextKind = 'text';
  if (type === 'xhtml' || type === 'application/xhtml+xml') kind = 'xhtml';
  else if (type === 'html' || type === 'text/html' || mode === 'escaped') kind = 'html';
  // Atom 0.3 says base64 with mode; Atom 1.0 with a media type that is neither text nor XML (RFC 4287 4.1.3.3).
  if (mode === 'base64' || (type?.includes('/') && !type.startsWith('text/') && !/[+/]xml$/.test(type))) {
    const encoded = charData(rawOf(node)).replace(/\s+/g, '');
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    // Only text that really was base64: "test" decodes too, into bytes that are not UTF-8 text.
    if (/^[A-Za-z0-9+/]*={0,2}$/.test(encoded) && !/[\ufffd\u0000-\u0008\u000e-\u001f]/.test(decoded)) {
      return richText(decoded, kind === 'xhtml' ? 'html' : kind);
    }
  }
  return richText(node, kind);
}
