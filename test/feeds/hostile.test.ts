import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FeedParseError } from '../../src/errors.js';
import { LIMITS } from '../../src/items/normalise.js';
import { parseFeed } from '../../src/sources/feed/parse.js';
import { withCpuMs } from '../helpers/cpu.js';

/**
 * Hostile documents: each yields a FeedParseError that names the source and the cause, or parses correctly where that
 * is the right answer. A hang (quadratic scan, entity expansion) would hit the per-test timeout.
 */
const parse = (body: string | Buffer) => parseFeed(body, { sourceId: 'hostile-source', fetchedAt: new Date(0) });

function refusal(body: string | Buffer): FeedParseError {
  try {
    parse(body);
  } catch (err) {
    expect(err).toBeInstanceOf(FeedParseError);
    const error = err as FeedParseError;
    expect(error.sourceId).toBe('hostile-source');
    expect(error.message).toContain('source "hostile-source"');
    return error;
  }
  throw new Error('expected a FeedParseError');
}

const items = (n: number, title = (i: number) => `Item ${i}`) =>
  Array.from({ length: n }, (_, i) => `<item><title>${title(i)}</title><link>https://example.com/${i}</link></item>`).join('');

describe('hostile feeds', { timeout: 20_000 }, () => {
  it('refuses an external entity (XXE) without reading the file', () => {
    const error = refusal(`<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss><channel><title>&xxe;</title></channel></rss>`);
    expect(error.reason).toBe('dtd-forbidden');
    expect(error.code).toBe('CP_PARSE_DTD_FORBIDDEN');
    expect(error.message).not.toContain('root:');
  });

  it('refuses a parameter entity pointing at a remote DTD', () => {
    expect(refusal(`<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://169.254.169.254/latest/meta-data/">%remote;]><rss/>`).reason).toBe('dtd-forbidden');
  });

  it('refuses billion laughs without expanding anything', () => {
    const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('\n');
    const error = refusal(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">\n${lol}]><rss><channel><title>&lol9;</title></channel></rss>`);
    expect(error.reason).toBe('dtd-forbidden');
  });

  it('never expands entities declared in a DOCTYPE smuggled inside the document', () => {
    const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('');
    const feed = parse(`<rss><!DOCTYPE x [<!ENTITY lol0 "lol">${lol}]><channel><title>&lol9;</title><item><title>&lol9;</title></item></channel></rss>`);
    expect(feed.items[0].title.length).toBeLessThan(100);
  });

  it('names an HTML page served in place of a feed, and the feed the page links to', () => {
    const error = refusal(`<!DOCTYPE html><html><head><title>Press</title>
<link rel="alternate" type="application/rss+xml" href="https://agency.example.gov/press.rss"></head><body><p>Hi<br>there</body></html>`);
    expect(error.reason).toBe('not-a-feed');
    expect(error.message).toContain('HTML page');
    expect(error.message).toContain('https://agency.example.gov/press.rss');
  });

  it('refuses binary garbage, a gzip body nobody decompressed, and an image', () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    expect(refusal(garbage).reason).toBe('binary');
    expect(refusal(gzipSync('<rss><channel/></rss>')).message).toContain('gzip');
    expect(refusal(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])).message).toContain('PNG');
  });

  it('refuses a truncated document rather than inventing or dropping items', () => {
    const full = `<rss><channel><title>t</title>${items(3)}</channel></rss>`;
    for (const cut of [full.length - 3, full.length / 2, 30]) {
      expect(refusal(full.slice(0, cut)).reason).toBe('truncated');
    }
  });

  it('refuses an empty document and one that is not XML', () => {
    expect(refusal('').reason).toBe('empty');
    expect(refusal('   \n').reason).toBe('empty');
    expect(refusal('{"items": []}').reason).toBe('not-a-feed');
    expect(refusal('<note><to>you</to></note>').reason).toBe('not-a-feed');
  });

  it('reads invalid UTF-8 with replacement characters instead of failing', () => {
    const body = Buffer.concat([Buffer.from('<rss><channel><item><title>caf\u00e9 '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' ok</title></item></channel></rss>')]);
    expect(parse(body).items[0].title).toBe('café \uFFFD\uFFFD\uFFFD ok');
  });

  it('keeps the first 2,000 of 50,000 items and says so', () => {
    const feed = parse(`<rss><channel><title>big</title>${items(50_000)}</channel></rss>`);
    expect(feed.items).toHaveLength(2_000);
    expect(feed.items[1_999].url).toBe('https://example.com/1999');
    expect(feed.truncated).toBe(true);
  });

  it('keeps the first 2,000 entries of feeds too long to spread as arguments (150,000 RSS items, 200,000 Atom entries)', () => {
    const rss = parse(`<rss><channel><title>big</title>${'<item><title>t</title></item>'.repeat(150_000)}</channel></rss>`);
    expect(rss.items).toHaveLength(2_000);
    expect(rss.truncated).toBe(true);
    const atom = parse(`<feed xmlns="http://www.w3.org/2005/Atom"><title>big</title>${'<entry><title>t</title></entry>'.repeat(200_000)}</feed>`);
    expect(atom.items).toHaveLength(2_000);
    expect(atom.truncated).toBe(true);
  });

  it('reads an item with 400,000 categories, keeping the first few', () => {
    const categories = Array.from({ length: 400_000 }, (_, i) => `<category>c${i}</category>`).join('');
    const feed = parse(`<rss><channel><item><title>t</title>${categories}</item></channel></rss>`);
    expect(feed.items[0].categories?.slice(0, 2)).toEqual(['c0', 'c1']);
    expect(feed.items[0].categories).toHaveLength(LIMITS.categories);
  });

  it('refuses 900,000 empty elements or attributes outside the entries before the XML parser builds them', () => {
    const junk = '<x/>'.repeat(900_000);
    const attributes = Array.from({ length: 900_000 }, (_, i) => `a${i}=""`).join(' ');
    const documents = [
      `<rss><channel><title>t</title>${junk}${items(3)}</channel></rss>`,
      `<rss><channel ${attributes}><title>t</title>${items(3)}</channel></rss>`,
      `<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>e</title></entry>${junk}</feed>`,
      // Between two entries, where the entry scanner reads them as the channel's.
      `<rss><channel><title>t</title>${items(1)}${junk}${items(1)}</channel></rss>`,
      // Read as a whole document: an entry name inside a comment before the entries spoils the cut...
      `<rss><channel><!-- <item> -->${junk}${items(3)}</channel></rss>`,
      // ... and so does an item closed by a misspelt tag, which the parser is then asked to read as ordinary XML.
      `<rss><channel>${items(3)}<item><title>t</title>${junk}</itme></channel></rss>`,
    ];
    for (const document of documents) {
      const error = refusal(document);
      expect(error.code).toBe('CP_PARSE_TOO_MUCH_MARKUP');
      expect(error.message).toContain('tags and attributes outside its entries');
    }
  });

  it('reads an entry written with a prefix as one entry, however much markup it holds', () => {
    const feed = parse(`<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>t</a:title><a:entry><a:title>e</a:title>${'<x/>'.repeat(60_000)}</a:entry></a:feed>`);
    expect(feed.items.map((i) => i.title)).toEqual(['e']);
  });

  it('refuses 49,000 items that are never closed ahead of 20 MB of text without searching the text for each', () => {
    const error = refusal(`<rss><channel><title>t</title>${'<item>'.repeat(49_000)}${'x'.repeat(20_000_000)}</channel></rss>`);
    expect(error.code).toBe('CP_PARSE_MALFORMED_XML');
  });

  // The time bounds below are generous: each document takes a fraction of a second, and took from 10 s to a minute
  // while a search was made again over the same stretch of the document for every entry or attribute name.
  it('refuses 20,000 never-closed entries, each under another prefix, without searching the text after them for each', () => {
    const text = 'x'.repeat(5_000_000);
    const documents = [
      `<rss><channel><title>t</title>${Array.from({ length: 20_000 }, (_, i) => `<a${i}:item>`).join('')}${text}</channel></rss>`,
      `<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>${Array.from({ length: 20_000 }, (_, i) => `<x${i}:entry>`).join('')}${text}</feed>`,
    ];
    for (const document of documents) {
      const { ms } = withCpuMs(() => {
        expect(refusal(document).code).toBe('CP_PARSE_MALFORMED_XML');
      });
      expect(ms).toBeLessThan(2_000);
    }
  });

  it('refuses too much markup after 100,000 entry start tags cut short by end tags, without searching the text after them for the ">" of each', () => {
    const document = `<rss><channel><title>t</title>${'<item </item '.repeat(100_000)}${'x'.repeat(8_000_000)}${'<x>'.repeat(50_001)}</channel></rss>`;
    const { ms } = withCpuMs(() => {
      expect(refusal(document).code).toBe('CP_PARSE_TOO_MUCH_MARKUP');
    });
    expect(ms).toBeLessThan(2_000);
  });

  it('reads the attributes after 100,000 characters of attribute text that has no value', () => {
    const junk = `${'a'.repeat(100_000)}/=x`;
    // Attributes read when the mapper asks for one, and attributes read as the entry is scanned (a renamed prefix).
    const rss = `<rss><channel><item ${junk} xml:base="https://example.com/news/"><title>t</title><link>a</link></item></channel></rss>`;
    const atom = `<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry><a:title>t</a:title><a:link ${junk} href="https://example.com/b"/></a:entry></a:feed>`;
    const { ms } = withCpuMs(() => {
      expect(parse(rss).items[0].url).toBe('https://example.com/news/a');
      expect(parse(atom).items[0].url).toBe('https://example.com/b');
    });
    expect(ms).toBeLessThan(2_000);
  });

  it('reads an author of 200,000 "@"s without trying every way to split it into an address', () => {
    const document = `<rss><channel><item><title>t</title><author>${'@'.repeat(200_000)}</author></item></channel></rss>`;
    const { ms } = withCpuMs(() => {
      expect(parse(document).items[0].author).toMatch(/^@{100,}/);
    });
    expect(ms).toBeLessThan(2_000);
  });

  it('names an HTML page with 12,000 unterminated <link>s without searching the page once for each', () => {
    const document = `<!DOCTYPE html><html><head>${'<link '.repeat(12_000)}</head></html>`;
    const { ms } = withCpuMs(() => {
      expect(refusal(document).code).toBe('CP_PARSE_NOT_A_FEED');
    });
    // About a second before: the search is bounded to the first 64 KB, so the bound here is tighter.
    expect(ms).toBeLessThan(300);
  });

  it('still reads a large feed with rich entries, cut apart or parsed whole', () => {
    const rich = Array.from({ length: 20_000 }, (_, i) => `<item><title a="1" b="2">Item ${i}</title><link>https://example.com/${i}</link><category domain="x">c</category><enclosure url="https://example.com/${i}.mp3" length="1" type="audio/mpeg"/></item>`).join('');
    const channel = `<title>big</title>${'<itunes:category text="News"/>'.repeat(2_000)}`;
    for (const head of ['', '<!-- <item> -->']) {
      const feed = parse(`<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>${head}${channel}${rich}</channel></rss>`);
      expect(feed.items).toHaveLength(2_000);
      expect(feed.title).toBe('big');
    }
  });

  it('cuts a 1 MB title to a readable one', () => {
    const feed = parse(`<rss><channel><title>${'A'.repeat(1_000_000)}</title>${items(1, () => 'word '.repeat(200_000))}</channel></rss>`);
    expect(feed.items[0].title.length).toBeLessThanOrEqual(LIMITS.title);
    expect(feed.title!.length).toBeGreaterThan(0);
  });

  it('refuses elements nested thousands deep instead of overflowing the stack', () => {
    expect(refusal(`<rss>${'<a>'.repeat(5_000)}${'</a>'.repeat(5_000)}</rss>`).reason).toBe('malformed-xml');
  });

  it('survives deeply nested containers inside an item', () => {
    const nested = `${'<media:group>'.repeat(2_000)}x${'</media:group>'.repeat(2_000)}`;
    expect(parse(`<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item><title>t</title>${nested}</item></channel></rss>`).items).toHaveLength(1);
  });

  it('refuses a CDATA section that is never closed (it swallows the rest of the document)', () => {
    expect(refusal(`<rss><channel><item><title>ok</title><description><![CDATA[never closed <!-- "' </description></item></channel></rss>`).reason).toBe('malformed-xml');
  });

  it('does not end an item at an end tag written inside CDATA', () => {
    const feed = parse(`<rss><channel><item><description><![CDATA[Q&A </item> "quoted]]></description><title>After</title><link>https://example.com/1</link></item></channel></rss>`);
    expect(feed.items).toHaveLength(1);
    expect(feed.items[0]).toMatchObject({ title: 'After', summary: 'Q&A "quoted', url: 'https://example.com/1' });
  });

  it('handles a megabyte of attributes and tags in one item', () => {
    const attrs = Array.from({ length: 20_000 }, (_, i) => `a${i}="${i}"`).join(' ');
    const tags = '<x/>'.repeat(100_000);
    const feed = parse(`<rss><channel><item ${attrs}><title>t</title>${tags}<link>https://example.com/x</link></item></channel></rss>`);
    expect(feed.items[0].url).toBe('https://example.com/x');
  });

  it('reads the items of a feed whose last item is closed by a misspelt tag', () => {
    const feed = parse('<rss><channel><item><title>one</title><link>https://example.com/1</link></item><item><title>two</title><link>https://example.com/2</link></itme></channel></rss>');
    expect(feed.items.map((i) => [i.title, i.url])).toEqual([['one', 'https://example.com/1'], ['two', 'https://example.com/2']]);
  });

  it('does not let element names reach object prototypes', () => {
    const feed = parse('<rss><channel><item><__proto__ title="x"><polluted>yes</polluted></__proto__><constructor>c</constructor><title>t</title></item></channel></rss>');
    expect(feed.items[0].title).toBe('t');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
