import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChokepointError, FeedParseError } from '../../src/errors.js';
import type { Item } from '../../src/items/item.js';
import { LIMITS } from '../../src/items/normalise.js';
import { parseFeed } from '../../src/sources/feed/parse.js';
import { type DocumentKind, parseDocument } from '../../src/sources/parse-document.js';

/**
 * Whatever a source answers, the parsers return items or throw FeedParseError (a ChokepointError naming the source):
 * never a TypeError from a shape nobody foresaw, which would crash the poll without a recorded reason. And what they
 * return is bounded: capped fields, http(s) links, ISO dates.
 */
const NOW = new Date('2026-03-01T12:00:00Z');

function checkItems(items: Item[]): void {
  for (const item of items) {
    expect(item.id).toMatch(/^[0-9a-f]{32}$/);
    expect(item.sourceId).toBe('prop');
    expect(item.title.length).toBeLessThanOrEqual(LIMITS.title);
    expect(item.summary.length).toBeLessThanOrEqual(LIMITS.summary);
    if (item.url !== undefined) expect(item.url).toMatch(/^https?:\/\/[^#]*(#[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/);
    if (item.publishedAt !== null) expect(item.publishedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  }
}

/** Runs a parse: items are checked; a FeedParseError for this source is fine; anything else fails the property. */
function parsesOrRefuses(parse: () => { items: Item[] }): number {
  let items: Item[];
  try {
    items = parse().items;
  } catch (err) {
    if (err instanceof FeedParseError && err.sourceId === 'prop' && err.code.startsWith('CP_PARSE_')) return 0;
    throw err;
  }
  checkItems(items);
  return items.length;
}

const doc = (kind: DocumentKind, body: string | Buffer, extra: Partial<Parameters<typeof parseDocument>[2]> = {}) => () =>
  parseDocument(kind, Buffer.isBuffer(body) ? body : Buffer.from(body), { sourceId: 'prop', url: 'https://example.org/src', now: NOW, ...extra });

// ------------------------------------------------------------------------------------------------------------ JSON

/** Values an API might answer with: anything JSON, with fields the mappings look for now and then. */
const hostileText = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 50 }), fc.constantFrom('', ' ', '<b>x</b>', 'javascript:alert(1)', '2025-13-45', '0', 'null'));
const jsonLeaf = fc.oneof(hostileText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const looseRecord = fc.dictionary(
  fc.oneof(fc.constantFrom('title', 'name', 'url', 'html_url', 'abstract', 'publication_date', 'seendate', 'id', 'document_number', 'source', 'alt_names', 'addresses', 'programs', 'start_date', 'domain', 'language', 'type'), fc.string({ maxLength: 6 })),
  fc.oneof(jsonLeaf, fc.array(jsonLeaf, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), jsonLeaf, { maxKeys: 3 })),
  { maxKeys: 8 },
);
/** Records shaped like the mappings and presets expect, with hostile values. */
const shapedRecord = fc.record(
  {
    title: hostileText, name: hostileText, url: hostileText, html_url: hostileText, abstract: hostileText, publication_date: hostileText,
    seendate: hostileText, id: fc.oneof(hostileText, fc.integer()), document_number: hostileText, source: hostileText,
    alt_names: fc.oneof(fc.array(hostileText, { maxLength: 3 }), hostileText), programs: fc.array(jsonLeaf, { maxLength: 2 }),
    addresses: fc.array(fc.dictionary(fc.constantFrom('address', 'city', 'country', 'state'), jsonLeaf, { maxKeys: 4 }), { maxLength: 2 }),
  },
  { requiredKeys: ['title', 'name'] },
);
const record = fc.oneof(shapedRecord, shapedRecord, looseRecord);
const apiAnswer = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ results: fc.oneof(fc.array(record, { maxLength: 5 }), jsonLeaf, record), next_page_url: fc.option(hostileText) }, { requiredKeys: [] }),
  fc.record({ articles: fc.oneof(fc.array(record, { maxLength: 5 }), jsonLeaf) }, { requiredKeys: [] }),
  fc.record({ data: fc.record({ items: fc.oneof(fc.array(record, { maxLength: 5 }), jsonLeaf) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  fc.array(record, { maxLength: 5 }),
);
const jsonBody = fc.oneof(
  apiAnswer.map((v) => JSON.stringify(v)),
  // A JSON API answering with an error page, a truncated answer or nothing.
  apiAnswer.chain((v) => fc.nat(JSON.stringify(v).length).map((n) => JSON.stringify(v).slice(0, n))),
  fc.constantFrom('', '<html>502 Bad Gateway</html>', '\ufeff{"results": []}', 'Invalid query: timespan'),
);

describe('the JSON source parser', () => {
  it('reads arbitrary answers through a configured mapping, or refuses them with FeedParseError', () => {
    const mappings = fc.record({
      items: fc.constantFrom('results', 'data.items', 'articles', 'missing', '', '.', 'results.0'),
      title: fc.constantFrom('title', 'name', 'nope'),
      url: fc.option(fc.constantFrom('url', 'html_url', 'title'), { nil: undefined }),
      date: fc.option(fc.constantFrom('publication_date', 'seendate', 'id'), { nil: undefined }),
      summary: fc.option(fc.constantFrom('abstract', 'addresses'), { nil: undefined }),
      id: fc.option(fc.constantFrom('id', 'document_number', 'programs'), { nil: undefined }),
    });
    let read = 0;
    fc.assert(fc.property(jsonBody, mappings, (body, mapping) => void (read += parsesOrRefuses(doc('json', body, { mapping })))), { numRuns: 1_500 });
    // The generator must reach the mapping code, not only the refusals.
    expect(read).toBeGreaterThan(10);
  });

  it('reads arbitrary answers as a Federal Register or GDELT answer, or refuses them with FeedParseError', () => {
    fc.assert(
      fc.property(jsonBody, fc.constantFrom('federal-register' as const, 'gdelt' as const), (body, preset) => void parsesOrRefuses(doc('json', body, { preset }))),
      { numRuns: 1_500 },
    );
  });

  it('reads arbitrary answers as a screening list, or refuses them with FeedParseError', () => {
    fc.assert(
      fc.property(jsonBody, fc.option(fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }), { nil: undefined }), (body, lists) => void parsesOrRefuses(doc('screening', body, { lists }))),
      { numRuns: 1_500 },
    );
  });

  it('refuses arbitrary bytes with FeedParseError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.constantFrom<DocumentKind>('json', 'screening'), (bytes, kind) =>
        void parsesOrRefuses(doc(kind, Buffer.from(bytes), { mapping: { items: 'results', title: 'title' } })),
      ),
      { numRuns: 500 },
    );
  });
});

// ------------------------------------------------------------------------------------------------------------ HTML

const HTML_TOKENS = [
  '<!DOCTYPE html>', '<html>', '</html>', '<head>', '<meta charset="shift_jis">', '<meta charset="bogus">', '<base href="/b/">',
  '<base href="javascript:x">', '<title>', '</title>', '<ul>', '</ul>', '<li class="news">', '</li>', '<article>', '</article>',
  '<h2>', '</h2>', '<a href="/a?utm_source=x">', '<a href="javascript:alert(1)">', '<a href="//evil">', '<a href="http://[::1">',
  '<a>', '</a>', '<time datetime="2025-04-04T09:30:00Z">', '<time datetime="never">', '</time>', '<p>', '</p>', '<script>',
  '</script>', '<!--', '-->', '&amp;', '&#0;', '&#x110000;', '<![CDATA[', ']]>', '<svg><a href="x">', '</svg>', '\u0000', ' ',
];
const htmlPage = fc.array(fc.oneof(fc.constantFrom(...HTML_TOKENS), fc.string({ maxLength: 10 })), { maxLength: 60 }).map((t) => t.join(''));
const selector = fc.oneof(
  fc.constantFrom('li.news', 'article', 'h2', 'a', 'time', 'p', 'li', '*', 'ul > li', 'li:nth-child(2n)', 'a[href^="/"]'),
  // What an operator might mistype: the parser must say so, as a FeedParseError.
  fc.constantFrom('', '[', 'li..news', '>>', ':nope(', 'a[href', '#', '\u0000'),
  fc.string({ maxLength: 8 }),
);

describe('the HTML source parser', () => {
  it('extracts from arbitrary pages with arbitrary selectors, or refuses with FeedParseError', () => {
    const selectors = fc.record({
      item: selector,
      title: selector,
      link: fc.option(selector, { nil: undefined }),
      date: fc.option(selector, { nil: undefined }),
      summary: fc.option(selector, { nil: undefined }),
    });
    fc.assert(
      fc.property(htmlPage, selectors, fc.option(fc.constantFrom('text/html; charset=utf-8', 'text/html; charset=gbk', 'text/html; charset=nope'), { nil: undefined }), (page, sel, contentType) =>
        void parsesOrRefuses(doc('html', page, { selectors: sel, contentType })),
      ),
      { numRuns: 1_000 },
    );
  });
});

// ------------------------------------------------------------------------------------------------------------ feeds

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Text a publisher might put in a field: anything at all, correctly escaped. */
const fieldText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('<p>Hi &amp; bye</p>', ']]>', '&nbsp;', '\ud83d', 'x'.repeat(1_500)));
const entry = fc.record({
  title: fieldText,
  link: fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fieldText),
  description: fieldText,
  guid: fc.option(fieldText, { nil: undefined }),
  date: fc.option(fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()), fieldText), { nil: undefined }),
});

function wellFormedFeed(format: 'rss' | 'atom', entries: Array<{ title: string; link: string; description: string; guid?: string; date?: string }>): string {
  if (format === 'atom') {
    return `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>${entries
      .map((e) => `<entry><title>${esc(e.title)}</title><link href="${esc(e.link).replace(/"/g, '&quot;')}"/>${e.guid !== undefined ? `<id>${esc(e.guid)}</id>` : ''}${e.date !== undefined ? `<updated>${esc(e.date)}</updated>` : ''}<summary type="html">${esc(e.description)}</summary></entry>`)
      .join('')}</feed>`;
  }
  return `<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>${entries
    .map((e) => `<item><title>${esc(e.title)}</title><link>${esc(e.link)}</link>${e.guid !== undefined ? `<guid>${esc(e.guid)}</guid>` : ''}${e.date !== undefined ? `<pubDate>${esc(e.date)}</pubDate>` : ''}<description>${esc(e.description)}</description></item>`)
    .join('')}</channel></rss>`;
}

describe('the feed parser', () => {
  it('reads every well-formed RSS or Atom feed, whatever its text, into bounded items', () => {
    let read = 0;
    fc.assert(
      fc.property(fc.constantFrom('rss' as const, 'atom' as const), fc.array(entry, { maxLength: 6 }), (format, entries) => {
        // Text containing characters XML 1.0 cannot carry (most C0 controls) makes the document not well-formed:
        // refusing it is right. Everything else must parse.
        const xml = wellFormedFeed(format, entries);
        const illegal = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(xml);
        let feed;
        try {
          feed = parseFeed(xml, { sourceId: 'prop', fetchedAt: NOW });
        } catch (err) {
          if (illegal && err instanceof FeedParseError) return;
          throw err;
        }
        checkItems(feed.items);
        expect(feed.items.length).toBeLessThanOrEqual(entries.length);
        read += feed.items.length;
      }),
      { numRuns: 1_000 },
    );
    expect(read).toBeGreaterThan(1_000);
  });

  it('only ever throws the project\'s typed errors, whatever kind a document is parsed as', () => {
    const anyBody = fc.oneof(htmlPage, jsonBody, fc.string(), fc.array(entry, { maxLength: 3 }).map((e) => wellFormedFeed('rss', e).slice(0, 200)));
    fc.assert(
      fc.property(anyBody, fc.constantFrom<DocumentKind>('rss', 'json', 'html', 'screening'), (body, kind) => {
        try {
          parseDocument(kind, Buffer.from(body), { sourceId: 'prop', url: 'https://example.org/', now: NOW, mapping: { items: 'results', title: 'title' }, selectors: { item: 'li', title: 'a' } });
        } catch (err) {
          expect(err).toBeInstanceOf(ChokepointError);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
