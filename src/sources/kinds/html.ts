import iconv from 'iconv-lite';
import type { HtmlSourceConfig } from '../../config/schema.js';
import { lazyRequire } from '../../lazy-require.js';
import { FeedParseError } from '../../errors.js';
import { byteOrderMark, decodeFeedBytes } from '../feed/charset.js';
import { displayUrl } from '../http/display-url.js';
import type { PollContext, PollResult } from '../registry.js';
import { ACCEPT, fetchSource, commitUnlessDeferred } from './fetch.js';
import type { RawItem } from './raw-item.js';
import { readDocument } from './read.js';
import { toItems } from './to-item.js';

// Loaded on the first HTML page, not in every worker: most deployments read only feeds.
const cheerio = lazyRequire<typeof import('cheerio')>('cheerio');

type Selectors = HtmlSourceConfig['selectors'];

/**
 * The default cap on an HTML page (a source's own maxBytes overrides it): cheerio's DOM takes about 50 times the
 * page's size in memory, so a 10 MB page (the general cap) would need ~500 MB of heap and crash the worker; a press
 * page is a few hundred KB.
 */
export const HTML_MAX_BYTES = 2 * 1024 * 1024;

/**
 * Decodes an HTML page: a byte-order mark (as browsers do, it wins over any label), else the charset of the
 * Content-Type, else a <meta charset> / http-equiv in the first 2 KB. An unlabelled page is decoded as an unlabelled
 * feed is (decodeFeedBytes): UTF-8 when its bytes are UTF-8, else by their shape (Windows-1252 for old press pages,
 * GBK, Shift_JIS), not as UTF-8 that would turn every accented letter into U+FFFD.
 */
export function decodeHtml(body: Buffer, contentType?: string): string {
  const bom = byteOrderMark(body);
  if (bom) return iconv.decode(body.subarray(bom.skip), bom.encoding);
  const fromHeader = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
  const head = body.subarray(0, 2048).toString('latin1');
  const fromMeta = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
  const charset = [fromHeader, fromMeta].map(whatwgLabel).find((c) => c && iconv.encodingExists(c));
  if (!charset) return decodeFeedBytes(body).text;
  return iconv.decode(body, charset).replace(/^\uFEFF/, '');
}

// Browsers (WHATWG Encoding) read these labels as the supersets, and so do the pages labelled with them.
function whatwgLabel(label: string | undefined): string | undefined {
  const l = label?.toLowerCase();
  if (l === 'iso-8859-1' || l === 'latin1' || l === 'us-ascii' || l === 'ascii') return 'windows-1252';
  if (l === 'gb2312' || l === 'gbk' || l === 'x-gbk') return 'gb18030';
  return l;
}

function resolve(href: string | undefined, base: string): string | undefined {
  if (!href || /^(javascript|mailto|data):/i.test(href.trim())) return undefined;
  try {
    return new URL(href.trim(), base).href;
  } catch {
    return undefined;
  }
}

const withoutFragment = (url: string) => url.replace(/#.*$/s, '');

/**
 * An entry's link, or undefined when it has none of its own: "#" and "#anchor" (lists driven by script) and links back
 * to the page itself point at the page, whose URL (query included, which may carry a token) is no item's address.
 */
export function entryLink(href: string | undefined, base: string, pageUrl: string): string | undefined {
  if (href?.trim().startsWith('#')) return undefined;
  const url = resolve(href, base);
  return url && withoutFragment(url) === withoutFragment(resolve(pageUrl, pageUrl) ?? pageUrl) ? undefined : url;
}

/**
 * How deep a page may nest its elements. Browsers stop nesting at 512 (Blink's HTML parser); css-select and cheerio's
 * text() take quadratic time and recursion on deeper trees: 150,000 nested <span>s (1 MB) cost 20 s of CPU before
 * overflowing the stack.
 */
export const MAX_HTML_DEPTH = 512;

interface DomNode {
  children?: DomNode[];
}

/** Whether any element lies deeper than `max` below the root; iterative, and stops at the first that does. */
function nestedDeeperThan(root: DomNode, max: number): boolean {
  const nodes: DomNode[] = [root];
  const depths: number[] = [0];
  while (nodes.length) {
    const node = nodes.pop()!;
    const depth = depths.pop()!;
    if (depth > max) return true;
    for (const child of node.children ?? []) {
      if (child.children?.length) {
        nodes.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** Extracts raw items from a page with the source's CSS selectors; relative links resolve against the page (or <base>). */
export function extractHtml(sourceId: string, html: string, pageUrl: string, selectors: Selectors): { title?: string; items: RawItem[] } {
  const $ = cheerio().load(html);
  if (nestedDeeperThan($.root()[0] as DomNode, MAX_HTML_DEPTH)) {
    throw new FeedParseError(sourceId, 'too-deep', `the page at ${displayUrl(pageUrl)} nests elements more than ${MAX_HTML_DEPTH} deep; it is refused, as reading it would take minutes of CPU`);
  }
  const base = resolve($('base[href]').first().attr('href'), pageUrl) ?? pageUrl;
  let entries: ReturnType<typeof $>;
  try {
    entries = $(selectors.item);
  } catch (e) {
    throw new FeedParseError(sourceId, 'bad-selector', `item selector "${selectors.item}" is not valid CSS: ${(e as Error).message}`);
  }
  // A page that matches nothing has most likely been redesigned: fail loudly so the source shows as degraded.
  if (entries.length === 0) {
    throw new FeedParseError(
      sourceId,
      'no-items',
      `item selector "${selectors.item}" matched nothing on ${displayUrl(pageUrl)}; the page layout may have changed`,
    );
  }
  const within = (el: ReturnType<typeof $>, selector: string | undefined) => {
    if (!selector) return undefined;
    try {
      const found = el.find(selector).first();
      return found.length ? found : undefined;
    } catch (e) {
      throw new FeedParseError(sourceId, 'bad-selector', `selector "${selector}" is not valid CSS: ${(e as Error).message}`);
    }
  };
  const items: RawItem[] = [];
  entries.each((_, node) => {
    const entry = $(node);
    const titleEl = within(entry, selectors.title);
    const title = titleEl?.text().replace(/\s+/g, ' ').trim();
    if (!title) return;
    const nested = titleEl?.find('a[href]').first();
    const linkEl = selectors.link
      ? within(entry, selectors.link)
      : titleEl?.is('a[href]')
        ? titleEl
        : nested?.length
          ? nested
          : entry.find('a[href]').first();
    const href = linkEl?.attr('href') ?? linkEl?.find('a[href]').first().attr('href') ?? (entry.is('a[href]') ? entry.attr('href') : undefined);
    const dateEl = within(entry, selectors.date);
    const date = dateEl ? (dateEl.attr('datetime') ?? dateEl.attr('content') ?? dateEl.text()).replace(/\s+/g, ' ').trim() : undefined;
    const summary = within(entry, selectors.summary)?.html() ?? undefined;
    items.push({ title, url: entryLink(href, base, pageUrl), date: date || undefined, summary });
  });
  // Entries found but no title in any: the title selector no longer fits the page, which is as broken as no entries.
  if (items.length === 0) {
    throw new FeedParseError(
      sourceId,
      'no-items',
      `title selector "${selectors.title}" matched no text in any of the ${entries.length} entries "${selectors.item}" found on ${displayUrl(pageUrl)}; the page layout may have changed`,
    );
  }
  return { title: $('title').first().text().trim() || undefined, items };
}

export async function poll(source: HtmlSourceConfig, ctx: PollContext): Promise<PollResult> {
  const fetched = await fetchSource(source, ctx, ACCEPT.html, { maxBytesAtMost: HTML_MAX_BYTES });
  if (fetched.notModified) return { status: 'not-modified' };
  const { response } = fetched;
  await ctx.bodyArrived?.();
  const { page, items } = readDocument(source.id, () => {
    const page = extractHtml(source.id, decodeHtml(response.body, response.contentType), response.url, source.selectors);
    return { page, items: toItems(page.items, source.id, ctx.now) };
  });
  const commit = await commitUnlessDeferred(ctx, fetched.commit);
  return { status: 'ok', items, bytes: response.body.length, title: page.title, commit };
}
