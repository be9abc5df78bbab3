import { describe, expect, it } from 'vitest';
import { LIMITS, makeItem } from '../../src/items/normalise.js';

const fetchedAt = new Date('2025-04-04T12:00:00Z');

describe('makeItem', () => {
  it('builds an Item with clean text, canonical URL, ISO date and a stable id', () => {
    const item = makeItem({
      sourceId: 'mofcom',
      guid: ' 2025-041 ',
      title: '<b>Export control</b> on gallium &amp; germanium',
      summary: '<p>The Ministry of Commerce announced&hellip;</p>',
      url: '/article/2025/041.html?utm_source=rss',
      baseUrl: 'https://english.mofcom.gov.cn/feed.xml',
      date: '2025年4月4日 09:00',
      author: 'MOFCOM',
      categories: ['Trade', '<i>Trade</i>', 'Policy'],
      language: 'zh-CN',
      fetchedAt,
    });
    expect(item).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{32}$/),
      sourceId: 'mofcom',
      title: 'Export control on gallium & germanium',
      summary: 'The Ministry of Commerce announced…',
      url: 'https://english.mofcom.gov.cn/article/2025/041.html',
      publishedAt: '2025-04-04T01:00:00.000Z',
      fetchedAt: '2025-04-04T12:00:00.000Z',
      guid: '2025-041',
      author: 'MOFCOM',
      categories: ['Trade', 'Policy'],
      language: 'zh-CN',
    });
  });

  it('cuts a 1 MB title to a readable length', () => {
    const item = makeItem({ sourceId: 's', title: 'word '.repeat(200_000), fetchedAt });
    expect(item.title.length).toBeLessThanOrEqual(LIMITS.title);
    expect(item.title.endsWith('…')).toBe(true);
  });

  it('caps summary, content, author and the number of categories', () => {
    const long = 'x '.repeat(50_000);
    const item = makeItem({ sourceId: 's', title: 't', summary: long, content: `${long} more`, author: long, categories: Array.from({ length: 500 }, (_, i) => `c${i}`), fetchedAt });
    expect(item.summary.length).toBeLessThanOrEqual(LIMITS.summary);
    expect(item.content!.length).toBeLessThanOrEqual(LIMITS.content);
    expect(item.author!.length).toBeLessThanOrEqual(LIMITS.author);
    expect(item.categories!.length).toBe(LIMITS.categories);
  });

  it('gives an item without a title the start of its text as title', () => {
    const item = makeItem({ sourceId: 's', summary: '<p>Indium prices rose sharply after the announcement of new quotas.</p>', fetchedAt });
    expect(item.title).toBe('Indium prices rose sharply after the announcement of new quotas.');
  });

  it('keeps publishedAt null for an unreadable date and drops a non-http link', () => {
    const item = makeItem({ sourceId: 's', title: 't', date: 'sometime soon', url: 'javascript:void(0)', fetchedAt });
    expect(item.publishedAt).toBeNull();
    expect(item.url).toBeUndefined();
  });

  it('keeps the content only when it says more than the summary', () => {
    expect(makeItem({ sourceId: 's', title: 't', summary: 'same', content: '<p>same</p>', fetchedAt }).content).toBeUndefined();
    expect(makeItem({ sourceId: 's', title: 't', content: '<p>body</p>', fetchedAt }).summary).toBe('body');
  });
});
