import type { FeedParseError } from '../../../src/errors.js';
import type { ParsedFeed } from '../../../src/sources/feed/parse.js';
import { type Check, type ManifestEntry, readJson, sameId, sameInstant, sameLink, sameText } from './compare.js';

/**
 * rss-parser's golden files (README section 2): one JSON tree per real publisher's feed, xml2js-shaped, untrimmed.
 * Compared: feed title and link; per item title, link, guid ?? id ?? rdf:about, and isoDate (skipped when absent,
 * which is when JavaScript's Date could not read the date).
 */
interface RssParserItem {
  title?: string;
  link?: string;
  guid?: string;
  id?: string;
  'rdf:about'?: string;
  isoDate?: string;
}
interface RssParserOutput {
  feed: { title?: string; link?: string; items?: RssParserItem[] };
}

export function rssParserChecks(entry: ManifestEntry, result: ParsedFeed | FeedParseError): Check[] {
  const base = { set: entry.set, file: entry.input };
  if (result instanceof Error) return [{ ...base, field: 'parses', ok: false, expected: 'a feed', actual: result.message }];
  // encoding.json is ISO-8859-1 bytes, like its feed.
  const { feed } = readJson<RssParserOutput>(entry.expected as string, entry.encoding ? 'latin1' : 'utf8');
  const checks: Check[] = [
    { ...base, field: 'parses', ok: true, expected: 'a feed', actual: result.format },
    { ...base, field: 'feedTitle', ok: sameText(feed.title, result.title), expected: feed.title, actual: result.title, empty: !feed.title?.trim() },
  ];
  if (feed.link?.trim()) checks.push({ ...base, field: 'feedLink', ok: sameLink(feed.link, result.link), expected: feed.link, actual: result.link });
  const items = feed.items ?? [];
  if (items.length !== result.items.length) {
    checks.push({ ...base, field: 'parses', ok: false, expected: `${items.length} items`, actual: `${result.items.length} items` });
  }
  items.forEach((exp, i) => {
    const ours = result.items[i];
    if (!ours) return;
    const at = { ...base, file: `${entry.input}#${i}` };
    if (exp.title?.trim()) checks.push({ ...at, field: 'title', ok: sameText(exp.title, ours.title), expected: exp.title, actual: ours.title });
    if (exp.link?.trim()) checks.push({ ...at, field: 'link', ok: sameLink(exp.link, ours.url), expected: exp.link, actual: ours.url });
    const id = exp.guid ?? exp.id ?? exp['rdf:about'];
    if (typeof id === 'string' && id.trim()) checks.push({ ...at, field: 'id', ok: sameId(id, ours.guid), expected: id, actual: ours.guid });
    if (exp.isoDate) checks.push({ ...at, field: 'published', ok: sameInstant(exp.isoDate, ours.publishedAt), expected: exp.isoDate, actual: ours.publishedAt });
  });
  return checks;
}
