import type { FeedParseError } from '../../../src/errors.js';
import { parseDate } from '../../../src/items/dates.js';
import type { ParsedFeed } from '../../../src/sources/feed/parse.js';
import { type Check, type ManifestEntry, readJson, sameId, sameInstant, sameLink, sameText } from './compare.js';

/**
 * gofeed's expectations (README section 1): the Go struct serialised with omitempty, so a missing key means empty.
 * Three shapes: gofeed.Feed (translator/, extensions/), gofeed-rss.Feed and gofeed-atom.Feed (parser/).
 */
interface Link {
  href?: string;
  rel?: string;
}
interface GofeedItem {
  title?: string;
  link?: string;
  links?: Array<string | Link>;
  guid?: string | { value?: string };
  id?: string;
  publishedParsed?: string;
  updatedParsed?: string;
  pubDateParsed?: string;
  dcExt?: { date?: string[] };
}
interface GofeedFeed {
  title?: string;
  link?: string;
  links?: Array<string | Link>;
  items?: GofeedItem[];
  entries?: GofeedItem[];
}
interface Detection {
  feedType: string | null;
  title: string | null;
  error: boolean;
}

export function gofeedChecks(entry: ManifestEntry, result: ParsedFeed | FeedParseError): Check[] {
  const base = { set: entry.set, file: entry.input };
  if (entry.set === 'gofeed-detection') {
    const expected = readJson<{ files: Record<string, Detection> }>(entry.expected as string).files[entry.expectedKey as string];
    if (expected.error) return [{ ...base, field: 'rejects', ok: result instanceof Error, expected: 'an error', actual: summary(result) }];
    if (result instanceof Error) return [{ ...base, field: 'parses', ok: false, expected: 'a feed', actual: result.message }];
    return [
      { ...base, field: 'parses', ok: (result.format === 'atom' ? 'atom' : 'rss') === expected.feedType, expected: expected.feedType, actual: result.format },
      { ...base, field: 'feedTitle', ok: sameText(expected.title, result.title), expected: expected.title, actual: result.title },
    ];
  }
  if (result instanceof Error) return [{ ...base, field: 'parses', ok: false, expected: 'a feed', actual: result.message }];
  const expected = readJson<GofeedFeed>(entry.expected as string);
  const atom = entry.schema === 'gofeed-atom.Feed';
  const checks: Check[] = [
    { ...base, field: 'parses', ok: true, expected: 'a feed', actual: result.format },
    { ...base, field: 'feedTitle', ok: sameText(expected.title, result.title), expected: expected.title, actual: result.title, empty: !expected.title },
  ];
  const feedLink = atom ? alternate(expected.links) : expected.link;
  checks.push({ ...base, field: 'feedLink', ok: sameLink(feedLink, result.link), expected: feedLink, actual: result.link, empty: !feedLink });
  const items = (atom ? expected.entries : expected.items) ?? [];
  if (items.length !== result.items.length) {
    checks.push({ ...base, field: 'parses', ok: false, expected: `${items.length} items`, actual: `${result.items.length} items` });
  }
  items.forEach((exp, i) => {
    const ours = result.items[i];
    if (!ours) return;
    const at = { ...base, file: `${entry.input}#${i}` };
    // Our title falls back to the item's text when it has none; that is by design, not a parse.
    const fallback = !exp.title && ours.title === ours.summary.slice(0, ours.title.length);
    checks.push({ ...at, field: 'title', ok: fallback || sameText(exp.title, ours.title), expected: exp.title, actual: ours.title, empty: !exp.title });
    const link = atom ? alternate(exp.links) : exp.link;
    checks.push({ ...at, field: 'link', ok: sameLink(link, ours.url), expected: link, actual: ours.url, empty: !link });
    const id = atom ? exp.id : typeof exp.guid === 'object' ? exp.guid?.value : exp.guid;
    checks.push({ ...at, field: 'id', ok: sameId(id, ours.guid), expected: id, actual: ours.guid, empty: !id });
    const published = exp.publishedParsed ?? exp.pubDateParsed ?? parseDate(exp.dcExt?.date?.[0]) ?? exp.updatedParsed;
    checks.push({ ...at, field: 'published', ok: sameInstant(published, ours.publishedAt), expected: published, actual: ours.publishedAt, empty: !published });
  });
  return checks;
}

/** gofeed-atom's web link: the rel="alternate" one (no rel means alternate). Self, edit, enclosure... are not. */
function alternate(links: Array<string | Link> | undefined): string | undefined {
  if (!links?.length) return undefined;
  const objects = links.map((l) => (typeof l === 'string' ? { href: l } : l));
  return objects.find((l) => (l.rel ?? 'alternate') === 'alternate' && l.href)?.href;
}

function summary(result: ParsedFeed | FeedParseError): string {
  return result instanceof Error ? result.message : `${result.format} feed with ${result.items.length} items`;
}
