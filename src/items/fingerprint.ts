import { createHash } from 'node:crypto';
import { canonicalUrl } from './urls.js';

/**
 * A stable item id. Precedence: the publisher's guid, else the canonical URL, else the normalised title.
 * - A URL-like guid and a URL identify an article on the web, so they are NOT scoped to the source: the same article
 *   carried by two feeds is one item (seen once).
 * - An opaque guid ("12345", "tag:...") and a title are only unique within a feed, so they ARE scoped to the source.
 */
export function itemFingerprint(parts: { sourceId?: string; guid?: string; url?: string; title?: string }): string {
  const source = parts.sourceId ?? '';
  const guid = parts.guid?.trim();
  let key: string;
  if (guid) {
    const asUrl = /^https?:\/\//i.test(guid) ? canonicalUrl(guid) : undefined;
    key = asUrl ? `u\u0000${asUrl}` : `g\u0000${source}\u0000${guid}`;
  } else if (parts.url && canonicalUrl(parts.url)) {
    key = `u\u0000${canonicalUrl(parts.url)}`;
  } else {
    key = `t\u0000${source}\u0000${(parts.title ?? '').toLowerCase().replace(/\s+/g, ' ').trim()}`;
  }
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}
