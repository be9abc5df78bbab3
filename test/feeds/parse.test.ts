import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { parseFeed } from '../../src/sources/feed/parse.js';
import { skeletonParser, xmlParser } from '../../src/sources/feed/xml.js';

const fetchedAt = new Date('2025-04-04T12:00:00Z');
const parse = (body: string | Buffer, extra: { contentType?: string; baseUrl?: string; maxItems?: number } = {}) =>
  parseFeed(body, { sourceId: 'test', fetchedAt, ...extra });

describe('parseFeed: RSS 2.0', () => {
  const rss = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>Trade &amp; Industry</title>
    <link>https://news.example.com/</link>
    <atom:link rel="self" href="https://news.example.com/feed.xml"/>
    <language>en-gb</language>
    <item>
      <title><![CDATA[Gallium <em>export</em> ban]]></title>
      <link>https://news.example.com/2025/04/gallium?utm_source=rss</link>
      <guid isPermaLink="false">news-4711</guid>
      <description>&lt;p&gt;China restricts gallium &amp;amp; germanium.&lt;/p&gt;</description>
      <content:encoded><![CDATA[<p>Full text <script>track()</script>about <b>gallium</b>.</p>]]></content:encoded>
      <pubDate>Fri, 04 Apr 2025 09:30:00 +0800</pubDate>
      <dc:creator>Jane Doe</dc:creator>
      <category>Minerals</category>
    </item>
    <item>
      <title>Second</title>
      <guid>https://news.example.com/2025/04/second</guid>
      <dc:date>2025-04-03T10:00:00Z</dc:date>
      <media:group><media:description>From the media group</media:description></media:group>
    </item>
  </channel>
</rss>`;

  it('reads the channel and every item, fully normalised', () => {
    const feed = parse(rss);
    expect(feed).toMatchObject({ format: 'rss', title: 'Trade & Industry', link: 'https://news.example.com/', encoding: 'utf-16' });
    expect(feed.items[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      sourceId: 'test',
      title: 'Gallium export ban',
      summary: 'China restricts gallium & germanium.',
      content: 'Full text about gallium.',
      url: 'https://news.example.com/2025/04/gallium',
      publishedAt: '2025-04-04T01:30:00.000Z',
      fetchedAt: '2025-04-04T12:00:00.000Z',
      guid: 'news-4711',
      author: 'Jane Doe',
      categories: ['Minerals'],
      language: 'en-gb',
    });
  });

  it('takes a permalink guid as the link, dc:date as the date and media:description as the summary', () => {
    const item = parse(rss).items[1];
    expect(item.url).toBe('https://news.example.com/2025/04/second');
    expect(item.publishedAt).toBe('2025-04-03T10:00:00.000Z');
    expect(item.summary).toBe('From the media group');
  });

  it('reads the same bytes the same way from a Buffer', () => {
    expect(parse(Buffer.from(rss)).items).toEqual(parse(rss).items);
  });

  it('resolves relative links against the document URL', () => {
    const feed = parse('<rss><channel><title>t</title><item><title>a</title><link>/a.html</link></item></channel></rss>', { baseUrl: 'https://agency.example.gov/press/feed.xml' });
    expect(feed.items[0].url).toBe('https://agency.example.gov/a.html');
  });

  it('keeps unescaped HTML in a description in reading order', () => {
    const feed = parse('<rss><channel><item><title>t</title><description><p>First <b>bold</b> then <i>more</i>.</p></description></item></channel></rss>');
    expect(feed.items[0].summary).toBe('First bold then more.');
  });

  it('reads the author name out of "email (Name)"', () => {
    const feed = parse('<rss><channel><item><title>t</title><author>jane@example.com (Jane Doe)</author></item></channel></rss>');
    expect(feed.items[0].author).toBe('Jane Doe');
  });

  it('reads RSS 0.91 with its Netscape DOCTYPE, fetching nothing', () => {
    const feed = parse(`<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><item><title>Item</title><link>http://old.example.com/1</link></item></channel></rss>`);
    expect(feed.items.map((i) => i.url)).toEqual(['http://old.example.com/1']);
  });

  it('reads element names written in odd case', () => {
    const feed = parse('<RSS><CHANNEL><TITLE>Loud</TITLE><ITEM><TITLE>Item</TITLE><PUBDATE>Fri, 04 Apr 2025 09:30:00 GMT</PUBDATE></ITEM></CHANNEL></RSS>');
    expect(feed.title).toBe('Loud');
    expect(feed.items[0]).toMatchObject({ title: 'Item', publishedAt: '2025-04-04T09:30:00.000Z' });
  });

  it('reads the same items whether the entries are scanned apart or parsed with the whole document', () => {
    // A comment mentioning <item> before the entries stops them being cut out: the whole-document path runs.
    const fallback = rss.replace('<language>', '<!-- every <item> is news --><language>');
    expect(parse(fallback).items).toEqual(parse(rss).items);
  });

  it('finds the channel title even when it comes after the items', () => {
    const feed = parse('<rss><channel><item><title>i</title></item><title>Late title</title></channel></rss>');
    expect(feed.title).toBe('Late title');
    expect(feed.items.map((i) => i.title)).toEqual(['i']);
  });

  it('keeps the first maxItems entries and says it dropped the rest', () => {
    const items = Array.from({ length: 5 }, (_, i) => `<item><title>n${i}</title></item>`).join('');
    const feed = parse(`<rss><channel>${items}</channel></rss>`, { maxItems: 3 });
    expect(feed.items.map((i) => i.title)).toEqual(['n0', 'n1', 'n2']);
    expect(feed.truncated).toBe(true);
  });

  it('keeps the newest maxItems entries of a feed listed oldest first, RSS or Atom', () => {
    const day = (i: number) => new Date(Date.UTC(2025, 0, 1 + i)).toUTCString();
    const rssItems = Array.from({ length: 10 }, (_, i) => `<item><title>n${i}</title><pubDate>${day(i)}</pubDate></item>`).join('');
    const rss = parse(`<rss><channel>${rssItems}</channel></rss>`, { maxItems: 3 });
    expect(rss.items.map((i) => i.title)).toEqual(['n7', 'n8', 'n9']);
    expect(rss.truncated).toBe(true);
    const entries = Array.from({ length: 10 }, (_, i) => `<entry><title>n${i}</title><updated>2025-01-${String(i + 1).padStart(2, '0')}T00:00:00Z</updated></entry>`).join('');
    const atom = parse(`<feed xmlns="http://www.w3.org/2005/Atom">${entries}</feed>`, { maxItems: 3 });
    expect(atom.items.map((i) => i.title)).toEqual(['n7', 'n8', 'n9']);
    // Newest first, or in no order: the first ones.
    const newestFirst = Array.from({ length: 10 }, (_, i) => `<item><title>n${i}</title><pubDate>${day(10 - i)}</pubDate></item>`).join('');
    expect(parse(`<rss><channel>${newestFirst}</channel></rss>`, { maxItems: 3 }).items.map((i) => i.title)).toEqual(['n0', 'n1', 'n2']);
    const shuffled = [3, 0, 9, 1, 5, 2, 8, 4, 6, 7].map((d, i) => `<item><title>n${i}</title><pubDate>${day(d)}</pubDate></item>`).join('');
    expect(parse(`<rss><channel>${shuffled}</channel></rss>`, { maxItems: 3 }).items.map((i) => i.title)).toEqual(['n0', 'n1', 'n2']);
  });
});

describe('parseFeed: Atom', () => {
  const atom = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://www.example.org/blog/" xml:lang="de">
  <title type="html">&lt;b&gt;Rohstoffe&lt;/b&gt; Blog</title>
  <link rel="self" href="/feed.atom"/>
  <link rel="alternate" type="text/html" href="./"/>
  <author><name>Redaktion</name></author>
  <entry>
    <title type="text">Tungsten &lt; 5% of supply</title>
    <id>tag:example.org,2025:1</id>
    <link rel="edit" href="/api/1"/>
    <link rel="alternate" type="text/html" href="2025/tungsten.html"/>
    <published>2025-04-04T08:00:00+02:00</published>
    <updated>2025-04-05T08:00:00+02:00</updated>
    <summary type="html">&lt;p&gt;Summary &amp;amp; more&lt;/p&gt;</summary>
    <content type="xhtml" xml:base="https://other.example.org/"><div xmlns="http://www.w3.org/1999/xhtml"><p>Body <a href="x">link</a></p></div></content>
  </entry>
  <entry xml:base="https://mirror.example.net/" xml:lang="en">
    <title>Only updated</title>
    <id>tag:example.org,2025:2</id>
    <link href="two.html"/>
    <updated>2025-04-05T10:00:00Z</updated>
    <author><name>Guest</name><email>g@example.org</email></author>
  </entry>
</feed>`;

  it('reads typed text constructs, the alternate link through xml:base, and published before updated', () => {
    const feed = parse(atom);
    expect(feed).toMatchObject({ format: 'atom', title: 'Rohstoffe Blog', link: 'https://www.example.org/blog/' });
    expect(feed.items[0]).toMatchObject({
      title: 'Tungsten < 5% of supply',
      guid: 'tag:example.org,2025:1',
      url: 'https://www.example.org/blog/2025/tungsten.html',
      publishedAt: '2025-04-04T06:00:00.000Z',
      summary: 'Summary & more',
      content: 'Body link',
      author: 'Redaktion',
      language: 'de',
    });
  });

  it('uses the entry\'s own xml:base, language and author, and updated when there is no published date', () => {
    expect(parse(atom).items[1]).toMatchObject({
      url: 'https://mirror.example.net/two.html',
      publishedAt: '2025-04-05T10:00:00.000Z',
      author: 'Guest',
      language: 'en',
    });
  });

  it('reads the same entries whether they are scanned apart or parsed with the whole document', () => {
    const fallback = atom.replace('<author>', '<!-- <entry> --><author>');
    expect(parse(fallback).items).toEqual(parse(atom).items);
  });

  it('reads an Atom feed whose elements carry a prefix', () => {
    const feed = parse('<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>P</a:title><a:entry><a:title>E</a:title><a:link href="http://x.example/e"/></a:entry></a:feed>');
    expect(feed.title).toBe('P');
    expect(feed.items[0]).toMatchObject({ title: 'E', url: 'http://x.example/e' });
  });

  it('decodes Atom 0.3 base64 content', () => {
    const body = Buffer.from('<p>Decoded</p>').toString('base64');
    const feed = parse(`<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>t</title><content type="text/html" mode="base64">${body}</content></entry></feed>`);
    expect(feed.items[0].summary).toBe('Decoded');
  });
});

describe('parseFeed: RSS 1.0 (RDF)', () => {
  it('reads items beside the channel, rdf:about as the id and dc:date as the date', () => {
    const feed = parse(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://science.example.org/"><title>Science</title><link>http://science.example.org</link></channel>
  <item rdf:about="http://science.example.org/1"><title>One</title><link>http://science.example.org/1?rss=1</link>
    <dc:date>2017-06-15T10:29:47-07:00</dc:date><dc:creator>Hines, P. J.</dc:creator></item>
</rdf:RDF>`);
    expect(feed).toMatchObject({ format: 'rdf', title: 'Science', link: 'http://science.example.org/' });
    expect(feed.items[0]).toMatchObject({ guid: 'http://science.example.org/1', url: 'http://science.example.org/1?rss=1', publishedAt: '2017-06-15T17:29:47.000Z', author: 'Hines, P. J.' });
  });

  it('reads a document that binds Dublin Core to an unusual prefix', () => {
    const feed = parse(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:r="http://purl.org/rss/1.0/" xmlns:dublin="http://purl.org/dc/elements/1.1/">
  <r:channel><r:title>Prefixed</r:title></r:channel><r:item rdf:about="http://x.example/1"><r:title>One</r:title><dublin:date>2025-04-04</dublin:date></r:item></rdf:RDF>`);
    expect(feed.title).toBe('Prefixed');
    expect(feed.items[0]).toMatchObject({ title: 'One', publishedAt: '2025-04-04T00:00:00.000Z' });
  });
});

describe('parseFeed: character sets', () => {
  const feedIn = (encoding: string, title: string, declared = encoding) =>
    Buffer.concat([Buffer.from(`<?xml version="1.0" encoding="${declared}"?><rss><channel><title>`), iconv.encode(title, encoding), Buffer.from('</title></channel></rss>')]);

  it.each([
    ['ISO-8859-1', 'Preços em São Paulo'],
    ['windows-1252', '“Smart quotes” – €'],
    ['GB2312', '商务部关于对镓、锗相关物项实施出口管制的公告'],
    ['GBK', '稀土出口管制'],
    ['GB18030', '稀土𠀀'],
    ['Shift_JIS', '経済産業省 輸出管理'],
    ['UTF-8', 'Ünïcödé ✓'],
  ])('decodes %s named in the XML declaration', (encoding, title) => {
    expect(parse(feedIn(encoding, title)).title).toBe(title);
  });

  it('decodes the charset from the Content-Type when the declaration names none', () => {
    const body = Buffer.concat([Buffer.from('<rss><channel><title>'), iconv.encode('出口管制', 'gbk'), Buffer.from('</title></channel></rss>')]);
    expect(parse(body, { contentType: 'application/rss+xml; charset=GBK' }).title).toBe('出口管制');
  });

  it('reads UTF-8 and UTF-16 with byte-order marks', () => {
    const xml = '<rss><channel><title>BOM ✓</title></channel></rss>';
    expect(parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)])).title).toBe('BOM ✓');
    expect(parse(Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(xml, 'utf-16le')])).title).toBe('BOM ✓');
    expect(parse(Buffer.concat([Buffer.from([0xfe, 0xff]), iconv.encode(xml, 'utf-16be')])).title).toBe('BOM ✓');
  });

  it('reads a large UTF-8 feed, astral characters included, the same as a small one', () => {
    const title = 'Gallium “export” licences — 稀土 😀 déjà vu';
    const item = `<item><title>${title}</title><link>https://news.example.com/a</link></item>`;
    const body = Buffer.from(`<?xml version="1.0" encoding="utf-8"?><rss><channel><title>${title}</title>${item.repeat(60)}</channel></rss>`);
    expect(body.length).toBeGreaterThan(4_096);
    const feed = parse(body);
    expect(feed.title).toBe(title);
    expect(feed.items.map((i) => i.title)).toEqual(Array(60).fill(title));
  });

  it('reads the encoding declared after leading whitespace, and none from a document without a declaration', () => {
    const declared = Buffer.concat([Buffer.from(' \n\t<?xml version="1.0" encoding="windows-1252"?><rss><channel><title>'), iconv.encode('€5', 'windows-1252'), Buffer.from('</title></channel></rss>')]);
    expect(parse(declared)).toMatchObject({ title: '€5', encoding: 'windows-1252' });
    expect(parse(Buffer.from('<!-- encoding="windows-1252" --><rss><channel><title>x</title></channel></rss>')).encoding).toBe('utf-8');
  });

  it('reads a Windows-1252 feed mislabelled as UTF-8', () => {
    const body = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="utf-8"?><rss><channel><title>'), iconv.encode('Café “Zürich”', 'windows-1252'), Buffer.from('</title></channel></rss>')]);
    expect(parse(body).title).toBe('Café “Zürich”');
  });

  it('reads UTF-8 bytes as UTF-8 whatever a header or declaration claims', () => {
    const doc = (title: string, declaration = '') => Buffer.from(`${declaration}<rss><channel><title>${title}</title></channel></rss>`);
    expect(parse(doc('Café in Zürich: 稀土'), { contentType: 'application/rss+xml; charset=ISO-8859-1' })).toMatchObject({ title: 'Café in Zürich: 稀土', encoding: 'utf-8' });
    expect(parse(doc('稀土出口管制'), { contentType: 'text/xml; charset=GBK' })).toMatchObject({ title: '稀土出口管制', encoding: 'utf-8' });
    expect(parse(doc('Café 稀土', '<?xml version="1.0" encoding="ISO-8859-1"?>'), { contentType: 'application/rss+xml; charset=utf-8' }).title).toBe('Café 稀土');
    // Plain ASCII keeps its label: nothing tells it apart.
    expect(parse(doc('Gallium'), { contentType: 'text/xml; charset=GBK' }).encoding).toBe('gb18030');
  });

  it('recognises unlabelled GB2312/GBK and Shift_JIS by their bytes, and leaves unlabelled Windows-1252 as it is', () => {
    const unlabelled = (title: string, encoding: string) => Buffer.concat([Buffer.from('<rss><channel><title>'), iconv.encode(title, encoding), Buffer.from('</title></channel></rss>')]);
    expect(parse(unlabelled('商务部 稀土出口管制公告', 'gbk'))).toMatchObject({ title: '商务部 稀土出口管制公告', encoding: 'gb18030' });
    expect(parse(unlabelled('経済産業省 輸出管理', 'shift_jis'))).toMatchObject({ title: '経済産業省 輸出管理', encoding: 'shift_jis' });
    expect(parse(unlabelled('レアアースの輸出が停止された', 'shift_jis')).title).toBe('レアアースの輸出が停止された');
    for (const western of ['Käse und Bär im Gebäude', 'Müller für Straße', 'Ca va: très bien, déjà', '“Smart” quotes — “Word”']) {
      expect(parse(unlabelled(western, 'windows-1252'))).toMatchObject({ title: western, encoding: 'windows-1252' });
    }
  });
});

describe('the shared XML parsers', () => {
  // The stop-node patterns are compiled once, as path-expression-matcher objects; should fast-xml-parser ever load
  // another copy of that package, it would ignore them silently, and titles would lose their markup order.
  it('hand a <title> over raw (a stop node), with its inner markup in order', () => {
    for (const parser of [xmlParser, skeletonParser]) {
      expect(parser.parse('<rss><channel><title>a <b>bold</b> move</title></channel></rss>')).toEqual({ rss: { channel: { title: 'a <b>bold</b> move' } } });
    }
  });
});
