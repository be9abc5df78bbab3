import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FeedParseError } from '../../src/errors.js';
import { nameInParens } from '../../src/sources/feed/elements.js';
import { parseFeed } from '../../src/sources/feed/parse.js';

/** Whatever the bytes, parseFeed returns a feed or throws a FeedParseError: never another error, never a hang. */
function parsesOrRefuses(body: string | Buffer): void {
  try {
    const feed = parseFeed(body, { sourceId: 'prop', fetchedAt: new Date(0) });
    for (const item of feed.items) {
      expect(typeof item.title).toBe('string');
      expect(item.id).toMatch(/^[0-9a-f]{32}$/);
    }
  } catch (err) {
    if (!(err instanceof FeedParseError)) throw err;
    expect(err.sourceId).toBe('prop');
  }
}

const TOKENS = [
  '<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0" encoding="gbk"?>', '<!DOCTYPE rss>', '<!DOCTYPE x [<!ENTITY a "b">]>',
  '<rss version="2.0">', '</rss>', '<channel>', '</channel>', '<item>', '</item>', '<title>', '</title>', '<link>', '</link>',
  '<description>', '</description>', '<guid isPermaLink="false">', '</guid>', '<pubDate>', '</pubDate>', '<![CDATA[', ']]>',
  '<!--', '-->', '&amp;', '&lt;p&gt;', '&#x1F600;', '&bogus;', '<feed xmlns="http://www.w3.org/2005/Atom">', '</feed>',
  '<entry>', '</entry>', '<link href="/a" rel="alternate"/>', '<content type="xhtml">', '</content>', '<div>', '</div>',
  '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', '</rdf:RDF>', 'Fri, 04 Apr 2025 09:30:00 GMT',
  'https://example.com/x?utm_source=a', 'text', ' ', '\n', '"', "'", '<', '>', '/', '=', '\u0000', '\ufeff', '<html>',
  '<media:group xmlns:media="http://search.yahoo.com/mrss/">', '</media:group>', '<a:b xmlns:a="http://purl.org/dc/elements/1.1/">',
];
const feedish = fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })), { maxLength: 60 }).map((t) => t.join(''));

const VALID = `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A &amp; B</title>
<link>https://example.com/a</link><description><![CDATA[<p>x</p>]]></description><pubDate>Fri, 04 Apr 2025 09:30:00 GMT</pubDate></item></channel></rss>`;

describe('parseFeed properties', () => {
  it('only ever throws FeedParseError, for arbitrary strings', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), parsesOrRefuses), { numRuns: 1_000 });
  });

  it('only ever throws FeedParseError, for arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => parsesOrRefuses(Buffer.from(bytes))), { numRuns: 1_000 });
  });

  it('only ever throws FeedParseError, for documents assembled from feed fragments', () => {
    fc.assert(fc.property(feedish, parsesOrRefuses), { numRuns: 3_000 });
  });

  it('only ever throws FeedParseError, for a valid feed cut, spliced or corrupted anywhere', () => {
    const edit = fc.record({ at: fc.nat(VALID.length), cut: fc.nat(40), insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 5 })) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let doc = VALID;
        for (const { at, cut, insert } of edits) doc = doc.slice(0, at) + insert + doc.slice(at + cut);
        parsesOrRefuses(doc);
        parsesOrRefuses(Buffer.from(doc, 'latin1'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads the name out of "email (Name)" wherever the pattern it replaces would', () => {
    // The pattern is the specification, and quadratic: it is only ever run on short strings.
    const EMAIL_NAME = /^\S+@\S+\s*\(([^)]+)\)$/;
    const piece = fc.array(fc.constantFrom('@', '(', ')', ' ', '\u00a0', '\t', 'a', 'é', 'x@y.z', ' (A B)'), { maxLength: 8 }).map((t) => t.join(''));
    const text = fc.oneof(piece.chain((a) => piece.map((b) => a + b)), fc.tuple(piece, fc.constantFrom('', ' ', '\t '), piece).map(([a, s, b]) => `${a}${s}(${b})`));
    fc.assert(
      fc.property(text, (t) => {
        expect(nameInParens(t)).toBe(EMAIL_NAME.exec(t)?.[1]);
      }),
      { numRuns: 20_000 },
    );
  });
});
