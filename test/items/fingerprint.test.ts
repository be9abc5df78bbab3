import { describe, expect, it } from 'vitest';
import { identifyPastRepeatedGuids, itemFingerprint, sharesGuidWith } from '../../src/items/fingerprint.js';
import { makeItem } from '../../src/items/normalise.js';

describe('itemFingerprint', () => {
  it('is a stable 32-character hex id', () => {
    const id = itemFingerprint({ sourceId: 'reuters', guid: 'abc-123' });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(itemFingerprint({ sourceId: 'reuters', guid: 'abc-123' })).toBe(id);
  });

  it('gives the same id to one article carried by two sources, whatever the tracking parameters', () => {
    const a = itemFingerprint({ sourceId: 'feed-a', url: 'https://example.com/story?id=1&utm_source=a' });
    const b = itemFingerprint({ sourceId: 'google-news', url: 'https://EXAMPLE.com/story?id=1#top' });
    expect(a).toBe(b);
  });

  it('treats a URL-like guid as the article URL', () => {
    expect(itemFingerprint({ sourceId: 'a', guid: 'https://example.com/story' })).toBe(
      itemFingerprint({ sourceId: 'b', url: 'https://example.com/story' }),
    );
  });

  it('scopes an opaque guid to its source: "123" in two feeds is two items', () => {
    expect(itemFingerprint({ sourceId: 'a', guid: '123' })).not.toBe(itemFingerprint({ sourceId: 'b', guid: '123' }));
  });

  it('prefers the guid over the URL, so an item keeps its id when its link changes', () => {
    const before = itemFingerprint({ sourceId: 'a', guid: 'tag:x,2025:1', url: 'https://example.com/old' });
    const after = itemFingerprint({ sourceId: 'a', guid: 'tag:x,2025:1', url: 'https://example.com/new' });
    expect(before).toBe(after);
  });

  it('falls back to the title, scoped to the source and ignoring case, width and spacing', () => {
    expect(itemFingerprint({ sourceId: 'a', title: 'Gallium  Export Ban' })).toBe(itemFingerprint({ sourceId: 'a', title: 'gallium export ban' }));
    expect(itemFingerprint({ sourceId: 'a', title: 'ＧＡＬＬＩＵＭ' })).toBe(itemFingerprint({ sourceId: 'a', title: 'gallium' }));
    expect(itemFingerprint({ sourceId: 'a', title: 'Daily briefing' })).not.toBe(itemFingerprint({ sourceId: 'b', title: 'Daily briefing' }));
  });

  it('identifies items that share a guid by their link, or by link and title when the link is shared too, and no other item', () => {
    const item = (guid: string | undefined, title: string, url?: string) => makeItem({ sourceId: 'cms', guid, title, url, fetchedAt: new Date(0) });
    const items = [
      item('0', 'Gallium quota cut', 'https://agency.example/news/1'),
      item('0', 'Germanium licences', 'https://agency.example/news'),
      item('0', 'Antimony notice', 'https://agency.example/news'),
      item('own', 'Entity List additions', 'https://www.bis.gov/press/1'),
    ];
    expect(sharesGuidWith(items[0], items[1])).toBe(true);
    expect(sharesGuidWith(items[1], item('0', 'germanium  LICENCES', 'https://agency.example/news'))).toBe(false);
    const ids = identifyPastRepeatedGuids(items, new Set([items[0].id])).map((i) => i.id);
    expect(ids[0]).toBe(itemFingerprint({ sourceId: 'other-source', url: 'https://agency.example/news/1' }));
    expect(new Set(ids).size).toBe(4);
    expect(ids[3]).toBe(items[3].id);
  });
});
