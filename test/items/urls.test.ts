import { describe, expect, it } from 'vitest';
import { makeItem } from '../../src/items/normalise.js';
import { canonicalUrl, itemAnchor } from '../../src/items/urls.js';

describe('canonicalUrl', () => {
  it('drops utm_*, fbclid, gclid, mc_cid and other campaign parameters but keeps the ones that select content', () => {
    expect(canonicalUrl('https://example.com/news?id=42&utm_source=rss&utm_medium=feed&fbclid=abc&gclid=x&mc_cid=1&mc_eid=2'))
      .toBe('https://example.com/news?id=42');
    expect(canonicalUrl('https://example.com/a?page=2&ref=home&xtor=RSS-1')).toBe('https://example.com/a?page=2&ref=home');
  });

  it('drops the fragment and an empty query', () => {
    expect(canonicalUrl('https://example.com/a#comments')).toBe('https://example.com/a');
    expect(canonicalUrl('https://example.com/a?utm_source=x#top')).toBe('https://example.com/a');
    expect(canonicalUrl('https://example.com/a?')).toBe('https://example.com/a');
  });

  it('lower-cases the host, drops the default port and credentials', () => {
    expect(canonicalUrl('HTTPS://User:Secret@News.Example.COM:443/Path')).toBe('https://news.example.com/Path');
    expect(canonicalUrl('http://example.com:80/')).toBe('http://example.com/');
  });

  it('resolves relative links against a base', () => {
    expect(canonicalUrl('/2025/04/story.html', 'https://example.com/feed.xml')).toBe('https://example.com/2025/04/story.html');
    expect(canonicalUrl('story.html', 'https://example.com/news/')).toBe('https://example.com/news/story.html');
  });

  it('returns undefined for what is not an http(s) URL', () => {
    expect(canonicalUrl('mailto:press@example.com')).toBeUndefined();
    expect(canonicalUrl('javascript:alert(1)')).toBeUndefined();
    expect(canonicalUrl('file:///etc/passwd')).toBeUndefined();
    expect(canonicalUrl('/relative/without/base')).toBeUndefined();
    expect(canonicalUrl('not a url')).toBeUndefined();
    expect(canonicalUrl('')).toBeUndefined();
    expect(canonicalUrl(undefined)).toBeUndefined();
  });

  it('keeps a link that is already canonical exactly as written', () => {
    for (const url of ['https://news.example.com/2025/04/gallium-export-controls', 'http://example.com/a;b/c~d?id=42&page=2', 'https://example.com/']) {
      expect(canonicalUrl(url)).toBe(url);
      expect(canonicalUrl(url, 'https://other.example/feed.xml')).toBe(url);
    }
  });

  it('still parses links that only look canonical: IP hosts, punycode, dot segments, encoded keys', () => {
    expect(canonicalUrl('http://127.1/a')).toBe('http://127.0.0.1/a');
    expect(canonicalUrl('https://example.com/a/./b/../c')).toBe('https://example.com/a/c');
    expect(canonicalUrl('https://example.com/a/%2e%2E/c')).toBe('https://example.com/c');
    expect(canonicalUrl('https://example.com/a?utm%5Fsource=x&id=1')).toBe('https://example.com/a?id=1');
    expect(canonicalUrl("https://example.com/a?q=it's")).toBe('https://example.com/a?q=it%27s');
  });

  it('refuses an absolute link offered with a base that is not a URL, as the URL parser does', () => {
    expect(canonicalUrl('https://news.example.com/a', 'not a url')).toBeUndefined();
  });

  it('gives the same URL for the same article shared with different tracking', () => {
    const a = canonicalUrl('https://www.example.com/story?id=7&utm_campaign=newsletter#section');
    const b = canonicalUrl('https://WWW.EXAMPLE.COM/story?id=7&fbclid=IwAR0');
    expect(a).toBe(b);
  });
});

describe('itemAnchor: a fragment that is an item\'s own address on a page of many', () => {
  it('keeps item anchors and drops page anchors, tracking and routes', () => {
    expect(itemAnchor('https://agency.example/notices#n3')).toBe('n3');
    expect(itemAnchor('https://agency.example/updates#2025-04-01-gallium')).toBe('2025-04-01-gallium');
    for (const url of ['https://a.example/x', 'https://a.example/x#', 'https://a.example/x#top', 'https://a.example/x#Comments', 'https://a.example/x#xtor=RSS-3',
      'https://a.example/x#!/story/1', 'https://a.example/x#/story/1', 'https://a.example/x#utm_source=rss', 'https://a.example/x#disqus_thread']) {
      expect(itemAnchor(url), url).toBeUndefined();
    }
  });

  it('gives items on one page their own links and ids, the same whatever else the page lists', () => {
    const item = (url: string, title = 'Export control notice') => makeItem({ sourceId: 'press', title, url, fetchedAt: new Date(0) });
    const [first, second] = [item('https://agency.example/notices#n1'), item('https://agency.example/notices#n2')];
    expect(first.url).toBe('https://agency.example/notices#n1');
    expect(first.id).not.toBe(second.id);
    // Its title edited, the notice is the same item; the article reached through #top is the article.
    expect(item('https://agency.example/notices#n1', 'Export control notice (updated)').id).toBe(first.id);
    expect(item('https://news.example/story#top').id).toBe(item('https://news.example/story').id);
  });
});
