import type { JsonSourceConfig } from '../../config/schema.js';
import { FeedParseError } from '../../errors.js';
import { displayUrl } from '../http/display-url.js';
import { PRESETS, type JsonPreset } from '../presets.js';
import type { PollContext, PollResult } from '../registry.js';
import { ACCEPT, fetchSource, commitUnlessDeferred } from './fetch.js';
import { asText, getPath, type RawItem } from './raw-item.js';
import { readDocument } from './read.js';
import { toItems } from './to-item.js';

/** Parses a JSON body; an API that answers with text or HTML (GDELT's errors are plain text) is a clear error. */
export function parseJsonBody(sourceId: string, body: Buffer, url: string, contentType?: string): unknown {
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  try {
    if (text.trim() === '') throw new Error('empty');
    return JSON.parse(text);
  } catch {
    const snippet = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160);
    const type = contentType ? ` (${contentType.split(';')[0]})` : '';
    throw new FeedParseError(
      sourceId,
      'not-json',
      snippet
        ? `response from ${displayUrl(url)}${type} is not JSON; it begins: "${snippet}"`
        : `response from ${displayUrl(url)}${type} is empty, expected JSON`,
    );
  }
}

/** Reads one parsed page with a preset or a configured mapping. */
export function readJsonPage(
  source: Pick<JsonSourceConfig, 'id' | 'preset' | 'mapping'>,
  doc: unknown,
  url: string,
): { items: RawItem[]; next?: string } {
  const preset: JsonPreset | undefined = source.preset ? PRESETS[source.preset] : undefined;
  if (preset) {
    if (!doc || typeof doc !== 'object' || Array.isArray(doc) || (preset.expects && !(preset.expects in doc))) {
      const what = preset.expects ? `an object with "${preset.expects}"` : 'an object';
      throw new FeedParseError(source.id, 'unexpected-json', `response from ${displayUrl(url)} is not a ${source.preset} answer (expected ${what})`);
    }
    const d = doc as Record<string, unknown>;
    return { items: preset.read(d), next: preset.nextPage?.(d) };
  }
  const mapping = source.mapping!;
  const list = getPath(doc, mapping.items);
  if (!Array.isArray(list)) {
    throw new FeedParseError(source.id, 'unexpected-json', `response from ${displayUrl(url)} has no array at "${mapping.items}"`);
  }
  const field = (record: unknown, path?: string) => (path ? asText(getPath(record, path)) : undefined);
  const items = list.flatMap((record): RawItem[] => {
    const title = field(record, mapping.title);
    if (!title) return [];
    return [
      {
        guid: field(record, mapping.id),
        title,
        url: field(record, mapping.url),
        summary: field(record, mapping.summary),
        date: field(record, mapping.date),
        author: field(record, mapping.author),
      },
    ];
  });
  // Records found but no title in any: the title path no longer fits the answer, which is as broken as no records.
  if (list.length > 0 && items.length === 0) {
    throw new FeedParseError(
      source.id,
      'no-items',
      `title path "${mapping.title}" gave no text in any of the ${list.length} records at "${mapping.items}" in the response from ${displayUrl(url)}; the API's answer may have changed`,
    );
  }
  return { items };
}

/**
 * A next page is followed only on the source's own origin (its configured URL's scheme, host and port), or on its host
 * upgraded to https: a next_page_url pointing elsewhere is a hostile or broken answer, and the configured headers (API
 * keys) go with every page, so they must not follow it, least of all in clear over a link that downgrades https to
 * http. The configured URL, not the page's (which a redirect may have moved), says what the source's origin is.
 */
function nextPageUrl(next: string, pageUrl: string, sourceUrl: string): string | undefined {
  try {
    const url = new URL(next, pageUrl);
    const own = new URL(sourceUrl);
    if (url.origin === own.origin && (url.protocol === 'https:' || url.protocol === 'http:')) return url.href;
    return url.protocol === 'https:' && own.protocol === 'http:' && url.hostname === own.hostname ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export async function poll(source: JsonSourceConfig, ctx: PollContext): Promise<PollResult> {
  const first = await fetchSource(source, ctx, ACCEPT.json);
  if (first.notModified) return { status: 'not-modified' };
  // Every page is fetched first: the next page's wait must not hold the worker's poll gate.
  let response = first.response;
  let bytes = response.body.length;
  const read = (res: typeof response) => readDocument(source.id, () => readJsonPage(source, parseJsonBody(source.id, res.body, res.url, res.contentType), res.url));
  let page = read(response);
  const raw = page.items.slice();
  const seen = new Set([response.url]);
  for (let n = 1; n < source.maxPages && page.next; n++) {
    const next = nextPageUrl(page.next, response.url, source.url);
    if (!next || seen.has(next)) {
      if (!next) ctx.log.warn({ sourceId: source.id, next: displayUrl(page.next) }, 'ignoring a next page on another host, port or scheme');
      break;
    }
    seen.add(next);
    const res = await ctx.http.get({
      url: next,
      sourceId: source.id,
      accept: ACCEPT.json,
      headers: source.headers,
      timeoutMs: source.timeoutMs,
      maxBytes: source.maxBytes,
      signal: ctx.signal,
    });
    if (res.notModified) break;
    response = res;
    bytes += res.body.length;
    page = read(res);
    // A loop, not push(...items): a page of 200,000 records spread as arguments overflows the stack.
    for (const item of page.items) raw.push(item);
  }
  await ctx.bodyArrived?.();
  const items = readDocument(source.id, () => toItems(raw, source.id, ctx.now));
  const commit = await commitUnlessDeferred(ctx, first.commit);
  return { status: 'ok', items, bytes, commit };
}
