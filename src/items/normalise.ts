import { isoString, parseDate } from './dates.js';
import { fingerprintOfCanonical } from './fingerprint.js';
import type { Item, ScreeningEntry } from './item.js';
import { clip, foldText, htmlToText } from './text.js';
import { canonicalUrl, itemAnchor } from './urls.js';

export { htmlToText, decodeEntities, foldText, clip } from './text.js';
export { parseDate } from './dates.js';
export { canonicalUrl, resolveUrl } from './urls.js';
export { itemFingerprint } from './fingerprint.js';

/**
 * Field caps. A hostile 1 MB title becomes a readable one, and items stay small in Redis, in jobs and in
 * notifications (Slack cuts a section at 3,000 characters anyway).
 */
export const LIMITS = {
  title: 1_000,
  summary: 4_000,
  content: 20_000,
  author: 200,
  category: 100,
  categories: 20,
  /** Categories read at most; the first `categories` distinct ones among them are kept. A feed reader stops here too. */
  categoriesRead: 100,
  guid: 2_000,
  language: 20,
  /** Text longer than this is cut before cleaning, so cleaning time is bounded too. */
  rawText: 1_000_000,
};

/** What any source kind read for one item, before normalisation. Text fields may be HTML unless `plainText`. */
export interface RawFields {
  sourceId: string;
  guid?: string;
  title?: string;
  summary?: string;
  /** The full body when the source carries one (content:encoded, Atom content). */
  content?: string;
  url?: string;
  /** Base for a relative url (xml:base, the document URL). */
  baseUrl?: string;
  /** The date as the source wrote it; unparseable becomes null. */
  date?: string;
  author?: string;
  categories?: string[];
  language?: string;
  fetchedAt: Date;
  screening?: ScreeningEntry;
  /** True when title, summary and content are already clean plain text (folded, as foldText returns it). */
  plainText?: boolean;
}

/** Builds a normalised Item from raw fields: text cleaned, URL canonical, date in ISO UTC, fields capped, stable id. */
export function makeItem(raw: RawFields): Item {
  const canonical = canonicalUrl(raw.url, raw.baseUrl);
  // A link to an item on a page of many keeps its anchor: it is the item's own address (see itemAnchor).
  const anchor = canonical ? itemAnchor(raw.url) : undefined;
  const url = anchor ? `${canonical}#${anchor}` : canonical;
  const summaryText = cleanText(raw.summary, raw.plainText);
  const contentText = cleanText(raw.content, raw.plainText);
  // Every item needs a title to be read and matched: fall back to the start of its text.
  const title = clip(cleanText(raw.title, raw.plainText), LIMITS.title) || clip(summaryText || contentText, 160);
  const guid = raw.guid ? foldText(String(raw.guid).slice(0, LIMITS.guid)) || undefined : undefined;
  const item: Item = {
    id: fingerprintOfCanonical({ sourceId: raw.sourceId, guid, url, title }),
    sourceId: raw.sourceId,
    title,
    summary: clip(summaryText || contentText, LIMITS.summary),
    publishedAt: parseDate(raw.date),
    fetchedAt: isoOf(raw.fetchedAt),
  };
  if (url) item.url = url;
  if (contentText && contentText !== summaryText) item.content = clip(contentText, LIMITS.content);
  if (guid) item.guid = guid;
  const author = raw.author ? clip(htmlToText(raw.author), LIMITS.author) : '';
  if (author) item.author = author;
  const categories = (raw.categories ?? [])
    .slice(0, LIMITS.categoriesRead)
    .map((c) => clip(htmlToText(c), LIMITS.category))
    .filter(Boolean);
  if (categories.length) item.categories = [...new Set(categories)].slice(0, LIMITS.categories);
  const language = raw.language ? foldText(raw.language).slice(0, LIMITS.language) : '';
  if (language) item.language = language;
  if (raw.screening) item.screening = raw.screening;
  return item;
}

function cleanText(value: string | undefined, plainText: boolean | undefined): string {
  if (!value) return '';
  // Plain text from the feed parser is already folded; cleaning it twice costs a third of a feed's parse.
  if (plainText) return value;
  return htmlToText(value.length > LIMITS.rawText ? value.slice(0, LIMITS.rawText) : value);
}

// A feed's items share one fetch time: format it once, not once per item.
let lastFetchedAt = Number.NaN;
let lastFetchedIso = '';
function isoOf(date: Date): string {
  const time = date.getTime();
  if (time !== lastFetchedAt) {
    lastFetchedIso = isoString(time);
    lastFetchedAt = time;
  }
  return lastFetchedIso;
}
