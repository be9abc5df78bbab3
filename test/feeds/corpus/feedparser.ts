import type { FeedParseError } from '../../../src/errors.js';
import { parseDate } from '../../../src/items/dates.js';
import type { Item } from '../../../src/items/item.js';
import type { ParsedFeed } from '../../../src/sources/feed/parse.js';
import { type Check, type Field, type ManifestEntry, readJson, sameId, sameInstant, sameLink, sameText } from './compare.js';

/**
 * feedparser's expectations (README section 3), from derived/expectations.json: ANDed checks on paths into
 * feedparser's result. Only the paths that map onto our model are checked; the rest (itunes, geo, licences, feed
 * subtitles, ...) are not applicable. `updated*` is not checked: our publishedAt holds the published date when a
 * feed has both.
 */
interface StructuredCheck {
  path: Array<string | number>;
  canonicalPath?: Array<string | number>;
  op: 'eq' | 'ne' | 'is' | 'truthy' | 'falsy' | 'absent' | 'len';
  value?: unknown;
  utc?: string;
}
interface Expectation {
  category: string;
  httpHeaders?: Record<string, string>;
  checks: StructuredCheck[];
  structured: boolean;
}

let expectations: Record<string, Expectation> | undefined;
export function feedparserExpectation(entry: ManifestEntry): Expectation | undefined {
  if (!entry.expectedKey) return undefined;
  expectations ??= readJson<{ entries: Record<string, Expectation> }>('kurtmckee-feedparser/derived/expectations.json').entries;
  return expectations[entry.expectedKey];
}

/**
 * How an HTTP test was served: its Content-Type (RFC 3023 charset rules) and its URL (upstream's test server at
 * 127.0.0.1:8097, or the Content-Location header), the base for relative links.
 */
export function feedparserHttp(entry: ManifestEntry): { contentType?: string; baseUrl?: string } {
  const exp = feedparserExpectation(entry);
  // Served over HTTP upstream: the http categories, and wellformed tests that carry headers (base/http_*.xml).
  if (!exp || !entry.expectedKey || (!exp.category.includes('http') && exp.httpHeaders === undefined)) return {};
  const headers = exp.httpHeaders ?? {};
  const header = (name: string) => headers[Object.keys(headers).find((k) => k.toLowerCase() === name) ?? ''];
  const docUri = `http://127.0.0.1:8097/${entry.expectedKey}`;
  const location = header('content-location');
  return { contentType: header('content-type') ?? 'text/xml', baseUrl: location ? new URL(location, docUri).toString() : docUri };
}

type Target = { field: Field; value: (feed: ParsedFeed) => string | null | undefined; kind: 'text' | 'link' | 'id' | 'date' };

function target(path: Array<string | number>): Target | undefined {
  const [root, a, b, c] = path;
  if (root === 'feed' && path.length <= 3) {
    if (a === 'title' || (a === 'title_detail' && b === 'value')) return { field: 'feedTitle', value: (f) => f.title, kind: 'text' };
    if (a === 'link' && path.length === 2) return { field: 'feedLink', value: (f) => f.link, kind: 'link' };
    return undefined;
  }
  if (root !== 'entries' || typeof a !== 'number') return undefined;
  const item = (f: ParsedFeed): Item | undefined => f.items[a];
  const key = `${String(b)}${c === undefined ? '' : `.${String(c)}`}`;
  if (key === 'title' || key === 'title_detail.value') return { field: 'title', value: (f) => item(f)?.title, kind: 'text' };
  if (key === 'link') return { field: 'link', value: (f) => item(f)?.url, kind: 'link' };
  if (key === 'id') return { field: 'id', value: (f) => item(f)?.guid, kind: 'id' };
  if (/^(published|created)(_parsed)?$/.test(key)) return { field: 'published', value: (f) => item(f)?.publishedAt, kind: 'date' };
  if (key === 'summary' || key === 'summary_detail.value') return { field: 'summary', value: (f) => item(f)?.summary, kind: 'text' };
  return undefined;
}

function same(t: Target, expected: unknown, actual: string | null | undefined): boolean {
  switch (t.kind) {
    case 'text':
      return sameText(expected, actual ?? undefined);
    case 'link':
      return sameLink(expected, actual ?? undefined);
    case 'id':
      return sameId(expected, actual ?? undefined);
    case 'date':
      return sameInstant(typeof expected === 'string' ? expected : null, actual ?? null);
  }
}

export function feedparserChecks(entry: ManifestEntry, result: ParsedFeed | FeedParseError): Check[] {
  const base = { set: entry.set, file: entry.input };
  const exp = feedparserExpectation(entry);
  if (!exp) return [];
  const wellformed = exp.category.startsWith('wellformed');
  if (result instanceof Error) {
    // Ill-formed and entity tests only ask a lenient parser to get through; refusing them is allowed.
    return wellformed ? [{ ...base, field: 'parses', ok: false, expected: 'a feed (well-formed document)', actual: result.message }] : [];
  }
  const checks: Check[] = [{ ...base, field: 'parses', ok: true, expected: 'a feed', actual: result.format }];
  if (entry.set === 'feedparser') return [...checks, ...legacyChecks(entry, result)];
  for (const check of exp.checks) {
    const t = target(check.canonicalPath ?? check.path);
    if (!t) continue;
    const actual = t.value(result);
    const expected = t.kind === 'date' ? (check.utc ?? parseDate(typeof check.value === 'string' ? check.value : undefined)) : check.value;
    let ok: boolean;
    if (check.op === 'eq') ok = same(t, expected, actual);
    else if (check.op === 'ne') ok = !same(t, expected, actual);
    else if (check.op === 'truthy') ok = !!actual;
    else if (check.op === 'falsy' || check.op === 'absent') ok = !actual;
    else continue;
    checks.push({ ...base, field: t.field, ok, expected: `${check.op} ${JSON.stringify(expected)}`, actual, empty: check.op !== 'eq' || !expected });
  }
  return checks;
}

/** The legacy inline checks ("items[0].title" equals "..."), compared as plain text. */
function legacyChecks(entry: ManifestEntry, result: ParsedFeed): Check[] {
  const out: Check[] = [];
  for (const check of entry.checks ?? []) {
    const path = check.path.replace(/^items\[(\d+)\]/, 'entries.$1').split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    const t = target(path);
    if (!t) continue;
    const actual = t.value(result);
    const expected = t.kind === 'date' ? parseDate(check.equals) : check.equals;
    out.push({ set: entry.set, file: entry.input, field: t.field, ok: same(t, expected, actual), expected, actual, empty: !expected });
  }
  return out;
}
