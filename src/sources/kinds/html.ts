import iconv from 'iconv-lite';
import type { HtmlSourceConfig } from '../../config/schema.js';
import { lazyRequire } from '../../lazy-require.js';
import { FeedParseError } from '../../errors.js';
import { displayUrl } from '../http/display-url.js';
import type { PollContext, PollResult } from '../registry.js';
import { ACCEPT, fetchSource, commitUnlessDeferred } from './fetch.js';
import type { RawItem } from './raw-item.js';
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
 * Decodes an HTML page: the charset of the Content-Type, else a <meta charset> / http-equiv in the first 2 KB,
 * else UTF-8 (the HTML default for unlabelled documents we are likely to meet).
 */
export function decodeHtml(body: Buffer, contentType?: string): string {
  const fromHeader = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
  const head = body.subarray(0, 2048).toString('latin1');
  const fromMeta = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head)?.[1];
  const charset = [fromHeader, fromMeta].map(whatwgLabel).find((c) => c && iconv.encodingExists(c)) ?? 'utf-8';
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

/** Extracts raw items from a page with the source's CSS selectors; relative links resolve against the page (or <base>). */
export function extractHtml(sourceId: string, html: string, pageUrl: string, selectors: Selectors): { title?: string; items: RawItem[] } {
  const $ = cheerio().load(html);
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
    items.push({ title, url: resolve(href, base), date: date || undefined, summary });
  });
  return { title: $('title').first().text().trim() || undefined, items };
}

export async function poll(source: HtmlSourceConfig, ctx: PollContext): Promise<PollResult> {
  const fetched = await fetchSource(source, ctx, ACCEPT.html, { maxBytesAtMost: HTML_MAX_BYTES });
  if (fetched.notModified) return { status: 'not-modified' };
  const { response } = fetched;
  await ctx.bodyArrived?.();
  const html = decodeHtml(response.body, response.contentType);
  const page = extractHtml(source.id, html, response.url, source.selectors);
  const items = toItems(page.items, source.id, ctx.now);
  const commit = await commitUnlessDeferred(ctx, fetched.commit);
  return { status: 'ok', items, bytes: response.body.length, title: page.title, commit };
}
