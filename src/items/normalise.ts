import type { Item, ScreeningEntry } from './item.js';
import { parseDate } from './dates.js';
import { itemFingerprint } from './fingerprint.js';
import { clip, htmlToText } from './text.js';
import { canonicalUrl } from './urls.js';

export { htmlToText, decodeEntities, clip } from './text.js';
export { parseDate } from './dates.js';
export { canonicalUrl, resolveUrl } from './urls.js';
export { itemFingerprint } from './fingerprint.js';

/** Field caps: a hostile 1 MB title becomes a sane one, and Redis/job payloads stay small. */
export const LIMITS = { title: 1_000, summary: 4_000, content: 20_000, author: 200, category: 100, categories: 20, guid: 2_000 };

export interface RawFields {
  sourceId: string;
  guid?: string;
  title?: string;
  /** HTML or text. */
  summary?: string;
  /** HTML or text. */
  content?: string;
  url?: string;
  /** Base for relative links (xml:base, the document URL). */
  baseUrl?: string;
  date?: string;
  author?: string;
  categories?: string[];
  language?: string;
  fetchedAt: Date;
  screening?: ScreeningEntry;
}

/** Builds a normalised Item from raw fields: text cleaned, URL canonical, date in ISO UTC, fields capped, stable id. */
export function makeItem(raw: RawFields): Item {
  const url = canonicalUrl(raw.url, raw.baseUrl);
  let title = clip(htmlToText(raw.title), LIMITS.title);
  const summaryText = htmlToText(raw.summary);
  const contentText = raw.content ? htmlToText(raw.content) : '';
  if (!title) title = clip(summaryText || contentText, 160);
  const summary = clip(summaryText || (contentText ? contentText : ''), LIMITS.summary);
  const guid = raw.guid ? String(raw.guid).trim().slice(0, LIMITS.guid) : undefined;
  const item: Item = {
    id: itemFingerprint({ sourceId: raw.sourceId, guid, url, title }),
    sourceId: raw.sourceId,
    title,
    summary,
    url,
    publishedAt: parseDate(raw.date),
    fetchedAt: raw.fetchedAt.toISOString(),
  };
  if (contentText && contentText !== summary) item.content = clip(contentText, LIMITS.content);
  if (guid) item.guid = guid;
  const author = raw.author ? clip(htmlToText(raw.author), LIMITS.author) : '';
  if (author) item.author = author;
  const categories = (raw.categories ?? []).map((c) => clip(htmlToText(c), LIMITS.category)).filter(Boolean).slice(0, LIMITS.categories);
  if (categories.length) item.categories = [...new Set(categories)];
  if (raw.language) item.language = raw.language.slice(0, 20);
  if (raw.screening) item.screening = raw.screening;
  return item;
}
