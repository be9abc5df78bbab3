import { hash } from 'node:crypto';
import type { Item } from './item.js';
import { canonicalUrl } from './urls.js';

/**
 * A stable item id (32 hex characters of SHA-256). Precedence: the publisher's guid, else the canonical URL, else
 * the normalised title.
 *
 * Whether the source is part of the id:
 * - A URL (the item's link, or a guid that is an http(s) URL) names one article on the web, so it is NOT scoped to
 *   the source: the same article carried by two feeds, or by a feed and a search feed, gets one id and is seen once.
 *   The URL is canonicalised first, so tracking parameters and fragments do not split it.
 * - An opaque guid ("12345", "tag:example.com,2025:1") and a title are only unique within one feed ("Daily
 *   briefing" recurs everywhere), so they ARE scoped to the source.
 * A guid that one document gives to several different items identifies none of them: see identifyPastRepeatedGuids.
 */
export function itemFingerprint(parts: { sourceId?: string; guid?: string; url?: string; title?: string }): string {
  return fingerprintOfCanonical({ ...parts, url: canonicalUrl(parts.url) });
}

/** itemFingerprint for a URL that is already canonical (makeItem's hot path: one URL parse per item, not two). */
export function fingerprintOfCanonical(parts: { sourceId?: string; guid?: string; url?: string; title?: string }): string {
  const source = parts.sourceId ?? '';
  const guid = parts.guid?.trim();
  let key: string;
  const guidUrl = guid && /^https?:\/\//i.test(guid) ? (guid === parts.url ? guid : canonicalUrl(guid)) : undefined;
  const url = parts.url;
  if (guidUrl) key = `u\u0000${guidUrl}`;
  else if (guid) key = `g\u0000${source}\u0000${guid}`;
  else if (url) key = `u\u0000${url}`;
  else key = `t\u0000${source}\u0000${normaliseTitle(parts.title ?? '')}`;
  return digest(key);
}

/**
 * Whether two items of one document that got the same id are different items: a CMS that gives every item the same
 * guid (`<guid>https://agency.example/news</guid>`, `<guid isPermaLink="false">0</guid>`) gives them different links
 * or titles. Items without a guid are never told apart here: their id already is their link or title.
 */
export function sharesGuidWith(first: Item, other: Item): boolean {
  if (first.guid === undefined || other.guid === undefined) return false;
  return first.url !== other.url || normaliseTitle(first.title) !== normaliseTitle(other.title);
}

/**
 * New ids for the items of one document whose ids are in `repeated` (their guid is shared by different items, see
 * sharesGuidWith): each is identified as if it had no guid, by its link when no other item of the group has that link,
 * else by its link and title, scoped to the source. Every other item keeps its id (ids are persisted: a changed id
 * is a new item, alerted again).
 */
export function identifyPastRepeatedGuids(items: Item[], repeated: ReadonlySet<string>): Item[] {
  const links = new Map<string, number>();
  for (const item of items) {
    if (!repeated.has(item.id)) continue;
    const link = `${item.id}\u0000${item.url ?? ''}`;
    links.set(link, (links.get(link) ?? 0) + 1);
  }
  return items.map((item) => {
    if (!repeated.has(item.id)) return item;
    const ownLink = item.url !== undefined && links.get(`${item.id}\u0000${item.url}`) === 1;
    const id = ownLink ? fingerprintOfCanonical({ url: item.url }) : digest(`l\u0000${item.sourceId}\u0000${item.url ?? ''}\u0000${normaliseTitle(item.title)}`);
    return { ...item, id };
  });
}

/** An id: the first 32 hex characters of the key's SHA-256. */
function digest(key: string): string {
  return hash('sha256', key, 'hex').slice(0, 32);
}

/** Case, width and spacing differences do not make a different title. */
function normaliseTitle(title: string): string {
  // NFKC folds full-width and compatibility forms (Ｃｈｉｎａ, ﬁ); ASCII needs none of it.
  const folded = /[^\x00-\x7f]/.test(title) ? title.normalize('NFKC') : title;
  return folded.toLowerCase().replace(/\s+/g, ' ').trim();
}
