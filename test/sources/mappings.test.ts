import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FeedParseError, SourceFetchError } from '../../src/errors.js';
import { decodeHtml, extractHtml } from '../../src/sources/kinds/html.js';
import { parseJsonBody, readJsonPage } from '../../src/sources/kinds/json.js';
import { readDocument } from '../../src/sources/kinds/read.js';
import { diffScreening, readScreeningList, screeningRawItem, screeningTitle } from '../../src/sources/kinds/screening.js';
import { detectPreset, gdeltDate } from '../../src/sources/presets.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const json = (name: string) => JSON.parse(fixture(name).toString()) as unknown;

function thrown(fn: () => unknown): FeedParseError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FeedParseError);
    return e as FeedParseError;
  }
  throw new Error('expected a FeedParseError');
}

describe('json mappings', () => {
  it('reads Federal Register documents with agencies as author and categories, and the next page', () => {
    const page = readJsonPage({ id: 'fr', preset: 'federal-register' }, json('federal-register-page1.json'), 'https://x');
    expect(page.next).toBe('NEXT_PAGE');
    expect(page.items[0]).toEqual({
      guid: '2025-05871',
      title: 'Additions to the Entity List',
      url: 'https://www.federalregister.gov/documents/2025/04/04/2025-05871/additions-to-the-entity-list',
      summary: expect.stringContaining('adding 12 entities'),
      date: '2025-04-04',
      author: 'Commerce Department; Industry and Security Bureau',
      categories: ['Rule', 'Commerce Department', 'Industry and Security Bureau'],
      language: 'en',
    });
    // raw_name stands in when name is missing; a null abstract is no summary.
    expect(page.items[1]).toMatchObject({ author: 'Bureau of Industry and Security', summary: undefined });
  });

  it('reads GDELT articles, turning seendate into ISO 8601 and skipping records without a URL', () => {
    const page = readJsonPage({ id: 'gdelt', preset: 'gdelt' }, json('gdelt-artlist.json'), 'https://x');
    expect(page.items).toHaveLength(2);
    expect(page.items[1]).toEqual({
      guid: 'https://www.nikkei.com/article/DGXZQOGM04ABC',
      title: '中国、レアアース7種の輸出規制',
      url: 'https://www.nikkei.com/article/DGXZQOGM04ABC',
      date: '2025-04-04T13:05:00Z',
      author: 'nikkei.com',
      language: 'Japanese',
      categories: ['Japan'],
    });
    expect(gdeltDate('20250404T123000Z')).toBe('2025-04-04T12:30:00Z');
    // GDELT answers a query without results with {}.
    expect(readJsonPage({ id: 'gdelt', preset: 'gdelt' }, {}, 'https://x').items).toEqual([]);
  });

  it('reads any API with a dot-path mapping', () => {
    const doc = { data: { posts: [{ headline: 'Gallium quota cut', link: { href: 'https://e.com/1' }, meta: { id: 7, at: '2025-04-04' }, by: [{ name: 'A' }, { name: 'B' }] }, { nothing: 1 }] } };
    const page = readJsonPage(
      { id: 'custom', mapping: { items: 'data.posts', title: 'headline', url: 'link.href', id: 'meta.id', date: 'meta.at', author: 'by' } },
      doc,
      'https://x',
    );
    expect(page.items).toEqual([{ guid: '7', title: 'Gallium quota cut', url: 'https://e.com/1', date: '2025-04-04', author: 'A, B', summary: undefined }]);
    expect(thrown(() => readJsonPage({ id: 'custom', mapping: { items: 'data.missing', title: 't' } }, doc, 'https://x')).message).toContain(
      'no array at "data.missing"',
    );
  });

  it('reads a title nested 200,000 lists deep as no title instead of overflowing the stack', () => {
    const deep = JSON.parse(`{"items":[{"title":${'['.repeat(200_000)}"buried"${']'.repeat(200_000)}},{"title":[["Gallium", "quota"]]}]}`) as unknown;
    const page = readJsonPage({ id: 'nested', mapping: { items: 'items', title: 'title' } }, deep, 'https://x');
    expect(page.items.map((i) => i.title)).toEqual(['Gallium, quota']);
  });

  it('rejects a plain-text API error as not JSON, quoting its start and naming the source', () => {
    const err = thrown(() =>
      parseJsonBody('gdelt', Buffer.from('Your search contained a keyword that was too short.\n'), 'https://api.gdeltproject.org/api/v2/doc/doc?query=ga&apikey=SECRETKEY1', 'text/html; charset=utf-8'),
    );
    expect(err.code).toBe('CP_PARSE_NOT_JSON');
    expect(err.message).toBe(
      'source "gdelt": response from https://api.gdeltproject.org/api/v2/doc/doc?query=ga&apikey=redacted (text/html) is not JSON; it begins: "Your search contained a keyword that was too short."',
    );
    expect(thrown(() => parseJsonBody('fr', Buffer.alloc(0), 'https://x/')).message).toContain('is empty, expected JSON');
    expect(thrown(() => readJsonPage({ id: 'fr', preset: 'federal-register' }, { errors: ['bad'] }, 'https://x/')).code).toBe('CP_PARSE_UNEXPECTED_JSON');
  });

  it('recognises Federal Register and GDELT answers by shape', () => {
    expect(detectPreset(json('federal-register-page1.json'))).toBe('federal-register');
    expect(detectPreset(json('gdelt-artlist.json'))).toBe('gdelt');
    expect(detectPreset(json('csl.json'))).toBeUndefined();
  });
});

describe('html extraction', () => {
  const selectors = { item: 'li.release', title: 'h3', date: 'time, .date', summary: '.teaser' };

  it('reads entries with selectors and resolves relative links against <base>', () => {
    const page = extractHtml('bis-press', fixture('press.html').toString(), 'https://www.bis.gov/index.html', selectors);
    expect(page.title).toBe('Press Releases | Bureau of Industry and Security');
    expect(page.items).toHaveLength(2);
    expect(page.items[0]).toMatchObject({
      title: 'Commerce Adds 12 Entities to the Entity List',
      url: 'https://www.bis.gov/press/2025/04/entity-list-additions',
      date: '2025-04-04T10:00:00-04:00',
    });
    expect(page.items[0].summary).toContain('<b>rare earth</b>');
    // No link in the title: the entry's first link; no <time>: the text of the date element.
    expect(page.items[1]).toMatchObject({ title: 'Statement on Gallium Controls', url: 'https://www.bis.gov/press/2024/12/gallium', date: 'December 3, 2024' });
  });

  it('uses the link selector when given', () => {
    const page = extractHtml('p', fixture('press.html').toString(), 'https://www.bis.gov/', { ...selectors, link: 'a.more' });
    expect(page.items[1].url).toBe('https://www.bis.gov/press/2024/12/gallium');
    expect(page.items[0].url).toBeUndefined();
  });

  it('fails loudly when the item selector matches nothing (the page was redesigned)', () => {
    const err = thrown(() => extractHtml('bis-press', '<html><body><p>new design</p></body></html>', 'https://www.bis.gov/press', selectors));
    expect(err.code).toBe('CP_PARSE_NO_ITEMS');
    expect(err.message).toContain('source "bis-press": item selector "li.release" matched nothing on https://www.bis.gov/press');
    expect(thrown(() => extractHtml('p', '<p>x</p>', 'https://x/', { item: 'li[', title: 'h3' })).code).toBe('CP_PARSE_BAD_SELECTOR');
  });

  it('decodes a page by its byte-order mark whatever the header says, UTF-16 included', () => {
    const page = '<html><body><h3>Café: 镓出口管制</h3></body></html>';
    const utf8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(page)]);
    expect(decodeHtml(utf8, 'text/html; charset=ISO-8859-1')).toBe(page);
    const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(page, 'utf16le')]);
    expect(decodeHtml(utf16le, 'text/html; charset=utf-8')).toBe(page);
    const utf16be = Buffer.from([0xfe, 0xff, ...Buffer.from(page, 'utf16le').swap16()]);
    expect(decodeHtml(utf16be)).toBe(page);
  });

  it('decodes the page in the charset of the header, else of its meta tag', () => {
    const latin = Buffer.concat([Buffer.from('<html><head><meta charset="windows-1252"></head><body>Caf'), Buffer.from([0xe9, 0x80]), Buffer.from('</body></html>')]);
    expect(decodeHtml(latin)).toContain('Café€');
    expect(decodeHtml(Buffer.from([0x82, 0xa0]), 'text/html; charset=Shift_JIS')).toBe('あ');
    expect(decodeHtml(Buffer.from('naïve'))).toBe('naïve');
  });
});

describe('screening list', () => {
  const entries = readScreeningList('csl', json('csl.json'), 'https://x');

  it('reads entries with names, aliases, list, addresses and countries', () => {
    expect(entries).toHaveLength(4);
    expect(entries[1].entry).toEqual({
      name: 'Shenzhen Chip Trading Ltd',
      altNames: [],
      list: 'Entity List (EL) - Bureau of Industry and Security',
      addresses: ['1 Fab Way, Shenzhen, CN', '2 Harbour Rd, Hong Kong, HK'],
      countries: ['CN', 'HK'],
      startDate: '2024-12-03',
      federalRegisterNotice: '89 FR 96790',
    });
    expect(entries.map((e) => e.key)).toEqual(['e1a2b3c4d5', 'f9e8d7', '36715', expect.stringMatching(/^[0-9a-f]{16}$/)]);
  });

  it('keeps only the configured lists', () => {
    const only = readScreeningList('csl', json('csl.json'), 'https://x', ['entity list']);
    expect(only.map((e) => e.entry.name)).toEqual(['Ganzhou Rare Earth Magnet Co., Ltd.', 'Shenzhen Chip Trading Ltd']);
  });

  it('reports added and changed entries and drops removed ones from the snapshot', () => {
    const previous = new Map([
      ['e1a2b3c4d5', entries[0].hash],
      ['f9e8d7', 'stale-hash'],
      ['gone', 'x'],
    ]);
    const diff = diffScreening(previous, entries);
    expect(diff.changes.map((c) => [c.key, c.change])).toEqual([
      ['f9e8d7', 'changed'],
      ['36715', 'added'],
      [entries[3].key, 'added'],
    ]);
    expect(diff.remove).toEqual(['gone']);
    expect([...diff.set.keys()]).toEqual(['f9e8d7', '36715', entries[3].key]);
  });

  it('titles an entry by list and country, and keys a changed entry apart from its first listing', () => {
    expect(screeningTitle(entries[0].entry)).toBe('Entity List: Ganzhou Rare Earth Magnet Co., Ltd. (CN)');
    expect(screeningTitle(entries[2].entry)).toBe('Specially Designated Nationals: EXAMPLE, Ivan');
    const raw = screeningRawItem(entries[0], 'added');
    expect(raw).toMatchObject({
      title: 'Entity List: Ganzhou Rare Earth Magnet Co., Ltd. (CN)',
      url: 'https://www.bis.gov/entity-list',
      date: '2025-04-04',
      screening: { change: 'added', name: 'Ganzhou Rare Earth Magnet Co., Ltd.', federalRegisterNotice: '90 FR 14701' },
    });
    expect(raw.summary).toContain('Also known as: Ganzhou RE Co.; GRE.');
    expect(raw.guid).toBe(`e1a2b3c4d5#${entries[0].hash}`);
  });

  describe('entries that share a key', () => {
    const EL = 'Entity List (EL) - Bureau of Industry and Security';
    const listed = () => [
      { id: 'dup-7', name: 'Alpha Metals', source: EL, addresses: [{ country: 'CN' }] },
      { id: 'dup-7', name: 'Alpha Metals (Shenzhen branch)', source: EL, addresses: [{ country: 'CN' }] },
      { name: 'Same Name Trading', source: EL, addresses: [{ city: 'Minsk', country: 'BY' }] },
      { name: 'Same Name Trading', source: EL, addresses: [{ city: 'Moscow', country: 'RU' }] },
      { name: 'Twin Co', source: EL },
      { name: 'Twin Co', source: EL },
      { id: 'solo-1', name: 'Solo Ltd', source: EL },
      { name: 'Unique Name Ltd', source: EL },
    ];
    const read = (results: unknown[]) => readScreeningList('csl', { results }, 'https://x');
    /** One poll against a snapshot: what it reports, and the snapshot it leaves. */
    function poll(snapshot: Map<string, string>, results: unknown[]) {
      const diff = diffScreening(snapshot, read(results));
      const next = new Map(snapshot);
      diff.remove.forEach((k) => next.delete(k));
      diff.set.forEach((v, k) => next.set(k, v));
      return { reported: diff.changes.map((c) => [c.entry.name, c.entry.countries.join(','), c.change]), next };
    }

    it('keys them apart, the same way at every poll and in any order, and keeps the keys of every other entry', () => {
      const entries = read(listed());
      const keys = entries.map((e) => e.key);
      expect(new Set(keys).size).toBe(entries.length);
      expect(keys.slice(0, 2)).toEqual([expect.stringMatching(/^dup-7~/), expect.stringMatching(/^dup-7~/)]);
      // Entries alone with their key keep it exactly as before, so stored baselines do not all come back changed.
      expect(keys.slice(6)).toEqual(['solo-1', read([listed()[7]])[0].key]);
      expect(read(listed()).map((e) => e.key)).toEqual(keys);
      expect(new Map(read(listed().reverse()).map((e) => [e.key, e.hash]))).toEqual(new Map(entries.map((e) => [e.key, e.hash])));
    });

    it('reports nothing while they do not change, and a change to one of them once, as changed', () => {
      let snapshot = poll(new Map(), listed()).next;
      for (let i = 0; i < 5; i++) {
        const p = poll(snapshot, listed());
        expect(p.reported).toEqual([]);
        snapshot = p.next;
      }
      const moved = listed();
      moved[3].addresses = [{ city: 'Almaty', country: 'KZ' }];
      const p = poll(snapshot, moved);
      expect(p.reported).toEqual([['Same Name Trading', 'KZ', 'changed']]);
      expect(poll(p.next, moved).reported).toEqual([]);
    });

    it('reports an entry that gains a namesake as unchanged and the namesake as added, and nothing when it goes again', () => {
      const one = [{ name: 'Same Name Trading', source: EL, addresses: [{ country: 'BY' }] }];
      const two = [...one, { name: 'Same Name Trading', source: EL, addresses: [{ country: 'RU' }] }];
      const first = poll(new Map(), one).next;
      const gained = poll(first, two);
      expect(gained.reported).toEqual([['Same Name Trading', 'RU', 'added']]);
      expect(poll(gained.next, two).reported).toEqual([]);
      const lost = poll(gained.next, one);
      expect(lost.reported).toEqual([]);
      expect(lost.next).toEqual(first);
    });
  });

  it('rejects JSON that is not a screening list', () => {
    expect(() => readScreeningList('csl', { error: 'bad key' }, 'https://x')).toThrow(/is not a screening list/);
  });
});

describe('reading a document', () => {
  it('turns a failure nobody foresaw into a parse error naming the source, and lets typed errors through', () => {
    const recurse = (n: number): number => recurse(n + 1) + 1;
    const overflow = thrown(() => readDocument('odd-api', () => recurse(0)));
    expect(overflow).toMatchObject({ sourceId: 'odd-api', reason: 'unreadable', code: 'CP_PARSE_UNREADABLE' });
    expect(overflow.message).toMatch(/^source "odd-api": the document could not be read \(RangeError: Maximum call stack size exceeded\)$/);
    expect(overflow.cause).toBeInstanceOf(RangeError);
    const typed = new SourceFetchError('odd-api', 'timeout', 'slow');
    expect(() => readDocument('odd-api', () => { throw typed; })).toThrow(typed);
  });
});
