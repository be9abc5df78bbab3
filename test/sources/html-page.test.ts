import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { decodeHtml, entryLink, extractHtml } from '../../src/sources/kinds/html.js';
import { toItems } from '../../src/sources/kinds/to-item.js';

const PAGE_URL = 'https://portal.example.gov/notices?token=s3cr3t-token-value';

describe('html entry links', () => {
  it('gives entries linked "#" or "#anchor" no url, never the page URL with its token', () => {
    const page =
      '<ul><li class="r"><a href="#" onclick="open(1)">Gallium licence suspended</a></li>' +
      '<li class="r"><a href="#germanium">Germanium export ban</a></li>' +
      '<li class="r"><a href="/notices/3">Antimony quota</a></li></ul>';
    const { items } = extractHtml('portal', page, PAGE_URL, { item: 'li.r', title: 'a' });
    expect(items.map((i) => i.url)).toEqual([undefined, undefined, 'https://portal.example.gov/notices/3']);
    const normalised = toItems(items, 'portal', new Date('2025-04-04T12:00:00Z'));
    expect(normalised.map((i) => i.url)).toEqual([undefined, undefined, 'https://portal.example.gov/notices/3']);
    expect(JSON.stringify(normalised)).not.toContain('s3cr3t');
  });

  it('treats a link back to the page itself as no link, and keeps links to other pages and queries', () => {
    expect(entryLink(PAGE_URL, PAGE_URL, PAGE_URL)).toBeUndefined();
    expect(entryLink('?token=s3cr3t-token-value#n2', PAGE_URL, PAGE_URL)).toBeUndefined();
    expect(entryLink('?page=2', PAGE_URL, PAGE_URL)).toBe('https://portal.example.gov/notices?page=2');
    expect(entryLink('/notices/7#details', PAGE_URL, PAGE_URL)).toBe('https://portal.example.gov/notices/7#details');
    // A fragment-only link stays in the document, whatever <base> says.
    expect(entryLink('#n2', 'https://portal.example.gov/', PAGE_URL)).toBeUndefined();
  });
});

describe('html decoding', () => {
  it('decodes an unlabelled page whose bytes are not UTF-8 as Windows-1252, as feeds are', () => {
    const page = Buffer.concat([Buffer.from('<html><body><h2>'), iconv.encode('Café “quoted” in Zürich', 'windows-1252'), Buffer.from('</h2></body></html>')]);
    expect(decodeHtml(page, 'text/html')).toContain('<h2>Café “quoted” in Zürich</h2>');
  });

  it('still decodes an unlabelled UTF-8 page as UTF-8, and a labelled page by its label', () => {
    expect(decodeHtml(Buffer.from('<h2>稀土 Café</h2>'), 'text/html')).toBe('<h2>稀土 Café</h2>');
    const gbk = Buffer.concat([Buffer.from('<meta charset="gbk"><h2>'), iconv.encode('稀土出口管制', 'gbk'), Buffer.from('</h2>')]);
    expect(decodeHtml(gbk)).toContain('<h2>稀土出口管制</h2>');
  });
});
