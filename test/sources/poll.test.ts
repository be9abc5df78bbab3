import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sourceSchema, type SourceConfig } from '../../src/config/schema.js';
import { FeedParseError, SourceFetchError } from '../../src/errors.js';
import { memoryLogger, silentLogger } from '../../src/log.js';
import { clearSecretsForTests, registerSecret } from '../../src/secrets.js';
import { createHttpClient, type HttpClient, type HttpRequest } from '../../src/sources/http.js';
import { pollSource, pollSourceWithHealth, type PollContext, type PollResult, type HostDeferral } from '../../src/sources/registry.js';
import { itemFingerprint } from '../../src/items/fingerprint.js';
import { pollStage } from '../../src/pipeline/poll.js';
import { createSeenStore } from '../../src/store/seen.js';
import { createSourceStateStore, type SourceStateStore } from '../../src/store/source-state.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { httpSettings, startServer, type TestServer } from './helpers.js';

const prefix = uniquePrefix('poll');
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
let redis: Redis;
let state: SourceStateStore;
let client: HttpClient;
const servers: TestServer[] = [];

beforeAll(() => {
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  state = createSourceStateStore(redis, prefix, { degradedAfter: 2 });
  client = createHttpClient(httpSettings({ retries: 0 }), { retryBaseDelayMs: 1 });
});
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
afterAll(async () => {
  client.close();
  await cleanPrefix(prefix);
  redis.disconnect();
});

async function serve(handler: http.RequestListener, host?: string): Promise<TestServer> {
  const server = await startServer(handler, host);
  servers.push(server);
  return server;
}

const ctx = (over: Partial<PollContext> = {}): PollContext => ({ http: client, state, now: new Date('2025-04-04T12:00:00Z'), log: silentLogger(), ...over });
const source = (raw: Record<string, unknown>): SourceConfig => sourceSchema.parse(raw);
const ok = (r: PollResult | HostDeferral) => {
  if (r.status !== 'ok') throw new Error(`expected ok, got ${r.status}`);
  return r;
};

const RSS = `<?xml version="1.0"?><rss version="2.0"><channel><title>BIS</title><link>https://www.bis.gov/</link>
<item><title>Entity List additions</title><link>https://www.bis.gov/press/1</link><guid>bis-1</guid><pubDate>Fri, 04 Apr 2025 10:00:00 GMT</pubDate></item>
</channel></rss>`;

describe('polling sources', () => {
  it('polls a feed once, then costs a 304 and no parsing while it is unchanged', async () => {
    const server = await serve((req, res) => {
      if (req.headers['if-none-match'] === '"r1"') return res.writeHead(304).end();
      res.writeHead(200, { 'Content-Type': 'application/rss+xml', ETag: '"r1"' }).end(RSS);
    });
    const feed = source({ id: 'bis-rss', kind: 'rss', url: `${server.url}/rss` });
    const first = ok(await pollSource(feed, ctx()));
    expect(first.title).toBe('BIS');
    expect(first.items.map((i) => i.title)).toEqual(['Entity List additions']);
    expect(first.items[0]).toMatchObject({ sourceId: 'bis-rss', url: 'https://www.bis.gov/press/1', publishedAt: '2025-04-04T10:00:00.000Z' });
    expect(await pollSource(feed, ctx())).toEqual({ status: 'not-modified' });
    expect(server.requests[1].headers['if-none-match']).toBe('"r1"');
  });

  it("sends the old URL's validators not to a source's new URL, whose server would answer 304 and hide its feed", async () => {
    // A CDN that gives both addresses the same ETag, and answers it with 304 wherever it is sent.
    const server = await serve((req, res) => {
      if (req.headers['if-none-match'] === '"same"') return res.writeHead(304).end();
      const feed = req.url === '/new' ? RSS.replace('Entity List additions', 'New address, new feed') : RSS;
      res.writeHead(200, { 'Content-Type': 'application/rss+xml', ETag: '"same"' }).end(feed);
    });
    ok(await pollSource(source({ id: 'moved-feed', kind: 'rss', url: `${server.url}/old` }), ctx()));
    const moved = ok(await pollSource(source({ id: 'moved-feed', kind: 'rss', url: `${server.url}/new` }), ctx()));
    expect(moved.items.map((i) => i.title)).toEqual(['New address, new feed']);
    expect(server.requests[1].headers['if-none-match']).toBeUndefined();
    // At its new address the source is polled conditionally again.
    expect(await pollSource(source({ id: 'moved-feed', kind: 'rss', url: `${server.url}/new` }), ctx())).toEqual({ status: 'not-modified' });
  });

  it('tells apart the items a CMS gave one guid, warning once per poll, and keeps the ids of items with their own guid', async () => {
    const entry = (guid: string, title: string, link?: string) => `<item>${guid}<title>${title}</title>${link ? `<link>${link}</link>` : ''}</item>`;
    const constant = '<guid>https://agency.example/news</guid>';
    const zero = '<guid isPermaLink="false">0</guid>';
    let entries = [
      entry(constant, 'Gallium quota cut', 'https://agency.example/news/1'),
      entry(constant, 'Germanium licences', 'https://agency.example/news/2'),
      entry(zero, 'Notice on antimony'),
      entry(zero, 'Notice on graphite'),
      entry('<guid>bis-1</guid>', 'Entity List additions', 'https://www.bis.gov/press/1'),
    ];
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(`<rss><channel><title>Agency</title>${entries.join('')}</channel></rss>`));
    const seen = createSeenStore(redis, `${prefix}-guids`, 3600);
    const feed = source({ id: 'one-guid-cms', kind: 'rss', url: server.url });
    const { log, lines } = memoryLogger('info');
    const stage = async () => {
      const outcome = await pollStage(feed, { http: client, sourceState: state, seen, log, now: new Date('2025-04-04T12:00:00Z') });
      if (outcome.status !== 'ok') throw new Error(`expected ok, got ${outcome.status}`);
      await seen.markSeen(outcome.fresh.map((item) => item.id));
      return outcome.fresh;
    };

    const first = await stage();
    expect(first.map((i) => i.title)).toEqual(['Gallium quota cut', 'Germanium licences', 'Notice on antimony', 'Notice on graphite', 'Entity List additions']);
    expect(first[4].id).toBe(itemFingerprint({ sourceId: 'one-guid-cms', guid: 'bis-1', url: 'https://www.bis.gov/press/1' }));
    const warnings = lines().filter((l) => l.includes('same guid'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('one-guid-cms');

    // The next poll knows them all; a new item under the same guid is news.
    expect(await stage()).toEqual([]);
    entries = [entry(constant, 'Rare earth export ban', 'https://agency.example/news/3'), ...entries];
    expect((await stage()).map((i) => i.title)).toEqual(['Rare earth export ban']);
  });

  it('tells apart items without guids whose links differ only by an item anchor (#n1, #n2), keeping their ids as notices come and go', async () => {
    let notices = 3;
    const entries = () => Array.from({ length: notices }, (_, i) => `<item><title>Notice ${notices - i}: gallium export licences</title><link>https://agency.example/updates#n${notices - i}</link></item>`);
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(`<rss><channel><title>Agency</title>${entries().join('')}</channel></rss>`));
    const seen = createSeenStore(redis, `${prefix}-anchors`, 3600);
    const feed = source({ id: 'anchors', kind: 'rss', url: server.url });
    const { log, lines } = memoryLogger('info');
    const stage = async () => {
      const outcome = await pollStage(feed, { http: client, sourceState: state, seen, log, now: new Date('2025-04-04T12:00:00Z') });
      if (outcome.status !== 'ok') throw new Error(`expected ok, got ${outcome.status}`);
      await seen.markSeen(outcome.fresh.map((item) => item.id));
      return outcome.fresh.map((item) => item.title);
    };

    expect(await stage()).toEqual(['Notice 3: gallium export licences', 'Notice 2: gallium export licences', 'Notice 1: gallium export licences']);
    expect(lines().some((l) => l.includes('same guid'))).toBe(false);
    expect(await stage()).toEqual([]);
    notices = 4;
    expect(await stage()).toEqual(['Notice 4: gallium export licences']);
    // A page down to one notice, or with its notices' titles edited, gives no item a new id.
    notices = 1;
    expect(await stage()).toEqual([]);
  });

  it('keeps no validators from a response that failed to parse, so the next poll fetches it again', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html', ETag: '"broken"' }).end('<!doctype html><html><body>Sign in</body></html>'));
    const feed = source({ id: 'html-as-feed', kind: 'rss', url: server.url });
    const err = await pollSource(feed, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedParseError);
    expect((err as FeedParseError).message).toContain('source "html-as-feed"');
    await pollSource(feed, ctx()).catch(() => undefined);
    expect(server.requests[1].headers['if-none-match']).toBeUndefined();
  });

  it('follows Federal Register next_page_url up to maxPages, on the same host only', async () => {
    const page1 = (next: string) => fixture('federal-register-page1.json').replace('NEXT_PAGE', next);
    const server = await serve((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (req.url!.startsWith('/api/v1/documents.json?page=2')) return res.end(fixture('federal-register-page2.json'));
      res.end(page1(`${server.url}/api/v1/documents.json?page=2&per_page=2`));
    });
    const fr = (maxPages: number) => source({ id: `fr-${maxPages}`, kind: 'json', preset: 'federal-register', maxPages, url: `${server.url}/api/v1/documents.json?per_page=2` });
    const two = ok(await pollSource(fr(3), ctx()));
    expect(two.items.map((i) => i.guid)).toEqual(['2025-05871', '2025-00636', '2024-99999']);
    expect(two.items[2].summary).toBe('Request for comments on gallium & germanium.');
    expect(two.items[0]).toMatchObject({ author: 'Commerce Department; Industry and Security Bureau', publishedAt: '2025-04-04T00:00:00.000Z' });
    expect(ok(await pollSource(fr(1), ctx())).items).toHaveLength(2);

    const elsewhere = await serve((_req, res) => res.end(page1('http://127.0.0.2:9/steal')), '127.0.0.1');
    const log = memoryLogger();
    const one = ok(await pollSource(source({ id: 'fr-x', kind: 'json', preset: 'federal-register', url: elsewhere.url }), ctx({ log: log.log })));
    expect(one.items).toHaveLength(2);
    expect(log.lines().join('\n')).toContain('ignoring a next page on another host, port or scheme');
  });

  it('reads a next page of 150,000 records instead of overflowing the stack', async () => {
    const records = (page: number, n: number) => Array.from({ length: n }, (_, i) => ({ title: `p${page} r${i}`, document_number: `${page}-${i}` }));
    const server = await serve((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (req.url === '/fr?page=2') return res.end(JSON.stringify({ results: records(2, 150_000) }));
      res.end(JSON.stringify({ results: records(1, 1), next_page_url: `${server.url}/fr?page=2` }));
    });
    const result = ok(await pollSource(source({ id: 'fr-huge', kind: 'json', preset: 'federal-register', url: `${server.url}/fr` }), ctx()));
    expect(result.items).toHaveLength(150_001);
    expect(result.items.at(-1)?.guid).toBe('2-149999');
  });

  it("sends a source's headers to no next page off its origin: not over a downgrade to http, not after a redirect elsewhere", async () => {
    // An HTTP client standing in for the network (no TLS server needed): it answers each URL with a page naming the next.
    const pages: Record<string, { url?: string; next?: string }> = {
      'https://api.agency.example/docs': { next: 'http://api.agency.example/docs?page=2' },
      'https://api.agency.example/moved': { url: 'https://mirror.example/docs', next: '/docs?page=2' },
      'https://api.agency.example/paged': { next: '/paged?page=2' },
      'http://plain.agency.example/docs': { next: 'https://plain.agency.example/docs?page=2' },
    };
    const requests: HttpRequest[] = [];
    const fake: HttpClient = {
      async get(req) {
        requests.push(req);
        const page = pages[req.url] ?? {};
        const doc = { results: [{ title: `from ${req.url}`, document_number: req.url }], ...(page.next && { next_page_url: page.next }) };
        return { notModified: false, status: 200, url: page.url ?? req.url, body: Buffer.from(JSON.stringify(doc)), contentType: 'application/json', validators: {} };
      },
      close() {},
    };
    const poll = async (id: string, url: string) => {
      requests.length = 0;
      const { log, lines } = memoryLogger('warn');
      const json = source({ id, kind: 'json', preset: 'federal-register', url, headers: { 'X-Api-Key': 'k-123' } });
      ok(await pollSource(json, ctx({ http: fake, log })));
      return { urls: requests.map((r) => r.url), lines: lines() };
    };

    const downgrade = await poll('fr-downgrade', 'https://api.agency.example/docs');
    expect(downgrade.urls).toEqual(['https://api.agency.example/docs']);
    expect(downgrade.lines.join('\n')).toContain('ignoring a next page on another host, port or scheme');
    expect((await poll('fr-redirected', 'https://api.agency.example/moved')).urls).toEqual(['https://api.agency.example/moved']);
    expect((await poll('fr-paged', 'https://api.agency.example/paged')).urls).toEqual(['https://api.agency.example/paged', 'https://api.agency.example/paged?page=2']);
    expect((await poll('fr-upgrade', 'http://plain.agency.example/docs')).urls).toEqual(['http://plain.agency.example/docs', 'https://plain.agency.example/docs?page=2']);
  });

  it('tells the worker when every body of a poll has arrived, once, before its items are built, and never for a 304', async () => {
    const page1 = (next: string) => fixture('federal-register-page1.json').replace('NEXT_PAGE', next);
    const server = await serve((req, res) => {
      if (req.headers['if-none-match'] === '"r1"') return res.writeHead(304).end();
      if (req.url === '/rss') return res.writeHead(200, { 'Content-Type': 'application/rss+xml', ETag: '"r1"' }).end(RSS);
      if (req.url === '/press') return res.writeHead(200, { 'Content-Type': 'text/html' }).end(fixture('press.html'));
      res.setHeader('Content-Type', 'application/json');
      if (req.url!.startsWith('/fr?page=2')) return res.end(fixture('federal-register-page2.json'));
      res.end(page1(`${server.url}/fr?page=2`));
    });
    // The number of requests the server had seen when the hook ran: a paginated source has fetched every page by then.
    const calls: number[] = [];
    const gated = ctx({ bodyArrived: async () => void calls.push(server.requests.length) });
    expect(ok(await pollSource(source({ id: 'gate-rss', kind: 'rss', url: `${server.url}/rss` }), gated)).items).toHaveLength(1);
    expect(calls).toEqual([1]);
    expect((await pollSource(source({ id: 'gate-rss', kind: 'rss', url: `${server.url}/rss` }), gated)).status).toBe('not-modified');
    expect(calls).toEqual([1]);
    expect(ok(await pollSource(source({ id: 'gate-fr', kind: 'json', preset: 'federal-register', maxPages: 3, url: `${server.url}/fr` }), gated)).items).toHaveLength(3);
    expect(calls).toEqual([1, 4]);
    const press = source({ id: 'gate-press', kind: 'html', url: `${server.url}/press`, selectors: { item: 'li.release', title: 'h3', summary: '.teaser' } });
    expect(ok(await pollSource(press, gated)).items.length).toBeGreaterThan(0);
    expect(calls).toEqual([1, 4, 5]);
    // The items are built after it: a hook that fails leaves them unbuilt and the poll failed.
    const failing = ctx({ bodyArrived: async () => Promise.reject(new Error('gate closed')) });
    await expect(pollSource(source({ id: 'gate-rss-2', kind: 'rss', url: `${server.url}/rss` }), failing)).rejects.toThrow('gate closed');
  });

  it('reports a GDELT plain-text error as a parse error naming the source', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('Invalid query: the phrase is too short.'));
    const err = await pollSource(source({ id: 'gdelt-ga', kind: 'json', preset: 'gdelt', url: `${server.url}/api/v2/doc/doc?query=ga` }), ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedParseError);
    expect((err as FeedParseError).message).toMatch(/^source "gdelt-ga": response from .* is not JSON; it begins: "Invalid query: the phrase is too short\."$/);
  });

  it('reads GDELT articles into items with UTC dates', async () => {
    const server = await serve((_req, res) => res.end(fixture('gdelt-artlist.json')));
    const result = ok(await pollSource(source({ id: 'gdelt', kind: 'json', preset: 'gdelt', url: server.url }), ctx()));
    expect(result.items.map((i) => i.publishedAt)).toEqual(['2025-04-04T12:30:00.000Z', '2025-04-04T13:05:00.000Z']);
  });

  it('reads a press page with selectors into items with absolute links', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(fixture('press.html').replace('https://www.bis.gov/press/', '/press/')));
    const page = source({ id: 'bis-press', kind: 'html', url: `${server.url}/about/index.html`, selectors: { item: 'li.release', title: 'h3', date: 'time, .date', summary: '.teaser' } });
    const result = ok(await pollSource(page, ctx()));
    expect(result.items.map((i) => i.url)).toEqual([`${server.url}/press/2025/04/entity-list-additions`, `${server.url}/press/2024/12/gallium`]);
    expect(result.items[0].summary).toBe('The additions target rare earth magnet suppliers & traders. Café test:');
    expect(result.items[0].publishedAt).toBe('2025-04-04T14:00:00.000Z');
  });

  it('refuses an HTML page over 2 MB by default (its DOM would take ~50x that), and reads it when the source allows more', async () => {
    const article = '<li class="release"><h3><a href="/p">Gallium export licences</a></h3><p class="teaser">Text of the release.</p></li>';
    const page = `<!doctype html><html><body><ul>${article.repeat(Math.ceil((2.5 * 1024 * 1024) / article.length))}</ul></body></html>`;
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(page));
    const selectors = { item: 'li.release', title: 'h3', link: 'h3 a', summary: '.teaser' };
    const err = await pollSource(source({ id: 'big-press', kind: 'html', url: server.url, selectors }), ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceFetchError);
    expect((err as SourceFetchError).code).toBe('CP_SOURCE_TOO_LARGE');
    expect((err as SourceFetchError).message).toMatch(/^source "big-press": GET .* failed: body larger than 2097152 bytes/);
    const allowed = ok(await pollSource(source({ id: 'big-press', kind: 'html', url: server.url, selectors, maxBytes: 4 * 1024 * 1024 }), ctx()));
    expect(allowed.items.length).toBeGreaterThan(100);
  });

  it('refuses a page nested 20,000 elements deep as a parse error naming the source, in its recorded health too', async () => {
    // Deep enough to overflow cheerio's text() with a RangeError, after seconds of quadratic selector matching.
    const page = `<ul><li class="release"><h3>${'<span>'.repeat(20_000)}Deep${'</span>'.repeat(20_000)}</h3></li></ul>`;
    const server = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(page));
    const press = source({ id: 'deep-press', kind: 'html', url: server.url, selectors: { item: 'li.release', title: 'h3' } });
    const err = await pollSourceWithHealth(press, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FeedParseError);
    expect((err as FeedParseError).message).toMatch(/^source "deep-press": the page at .* nests elements more than 512 deep/);
    expect(await state.getHealth('deep-press')).toMatchObject({ lastErrorCode: 'CP_PARSE_TOO_DEEP', consecutiveFailures: 1 });
  });

  it('records a screening baseline first, then yields only entries added or changed since the last poll', async () => {
    const base = JSON.parse(fixture('csl.json')) as { results: Array<Record<string, unknown>> };
    let doc = base;
    const server = await serve((_req, res) => res.end(JSON.stringify(doc)));
    const csl = source({ id: 'csl', kind: 'screening', url: server.url, lists: ['Entity List'] });
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);

    doc = structuredClone(base);
    doc.results[1].alt_names = ['SZ Chip'];
    doc.results.push({ id: 'new-1', name: 'Baotou Magnet Works', source: 'Entity List (EL) - Bureau of Industry and Security', addresses: [{ city: 'Baotou', country: 'CN' }], start_date: '2025-04-04' });
    doc.results.push({ id: 'new-2', name: 'Not on a watched list', source: 'Unverified List (UVL) - Bureau of Industry and Security' });
    const changed = ok(await pollSource(csl, ctx()));
    expect(changed.items.map((i) => [i.title, i.screening?.change])).toEqual([
      ['Entity List: Shenzhen Chip Trading Ltd (CN, HK)', 'changed'],
      ['Entity List: Baotou Magnet Works (CN)', 'added'],
    ]);
    expect(changed.items[1]).toMatchObject({ sourceId: 'csl', publishedAt: '2025-04-04T00:00:00.000Z', screening: { list: 'Entity List (EL) - Bureau of Industry and Security' } });
    expect(changed.items[0].id).not.toBe(changed.items[1].id);
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
  });

  it('reports no change for screening entries that share a key, poll after poll, and a real change to one of them once', async () => {
    const EL = 'Entity List (EL) - Bureau of Industry and Security';
    const results = [
      { name: 'Same Name Trading', source: EL, addresses: [{ city: 'Minsk', country: 'BY' }] },
      { name: 'Same Name Trading', source: EL, addresses: [{ city: 'Moscow', country: 'RU' }] },
      { id: 'dup-7', name: 'Alpha Metals', source: EL },
      { id: 'dup-7', name: 'Alpha Metals (Shenzhen branch)', source: EL },
    ];
    let body = JSON.stringify({ results });
    const server = await serve((_req, res) => res.end(body));
    const csl = source({ id: 'csl-dups', kind: 'screening', url: server.url });
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    for (let i = 0; i < 5; i++) expect(ok(await pollSource(csl, ctx())).items.map((item) => item.title)).toEqual([]);

    body = JSON.stringify({ results: results.map((r, i) => (i === 3 ? { ...r, addresses: [{ country: 'HK' }] } : r)) });
    const changed = ok(await pollSource(csl, ctx()));
    expect(changed.items.map((i) => [i.title, i.screening?.change])).toEqual([['Entity List: Alpha Metals (Shenzhen branch) (HK)', 'changed']]);
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    // The entries and what the snapshot was taken of (URL and filter).
    expect(await redis.hlen(`{${prefix}}:source:csl-dups:screening`)).toBe(5);
  });

  it('diffs a 20,000-entry screening list and reports the one new entry', async () => {
    const results = Array.from({ length: 20_000 }, (_, i) => ({ id: `id-${i}`, name: `Company ${i}`, source: 'Entity List (EL) - Bureau of Industry and Security', addresses: [{ country: 'CN' }] }));
    let body = JSON.stringify({ results });
    const server = await serve((_req, res) => res.end(body));
    const csl = source({ id: 'csl-big', kind: 'screening', url: server.url });
    ok(await pollSource(csl, ctx()));
    body = JSON.stringify({ results: [...results, { id: 'id-new', name: 'Newly Listed Ltd', source: 'Entity List (EL) - Bureau of Industry and Security' }] });
    const second = ok(await pollSource(csl, ctx()));
    expect(second.items.map((i) => i.title)).toEqual(['Entity List: Newly Listed Ltd']);
    expect(await redis.hlen(`{${prefix}}:source:csl-big:screening`)).toBe(20_002);
  });

  it('polls a healthy source once two trickling sources on its host free a connection, and records it healthy', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/healthy') return res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(RSS);
      res.writeHead(200, { 'Content-Type': 'application/rss+xml' });
      const timer = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(timer));
    });
    const shared = createHttpClient(httpSettings({ retries: 0, perHostConcurrency: 2 }), { retryBaseDelayMs: 1 });
    try {
      const trickling = [1, 2].map((n) =>
        pollSourceWithHealth(source({ id: `trickle-${n}`, kind: 'rss', url: `${server.url}/trickle-${n}`, timeoutMs: 800 }), ctx({ http: shared })).catch((e: unknown) => e),
      );
      await vi.waitFor(() => expect(server.requests).toHaveLength(2));
      // Its 400 ms pass while the two others hold the host's connections; the server answers it at once when it asks.
      const healthy = ok(await pollSourceWithHealth(source({ id: 'healthy-neighbour', kind: 'rss', url: `${server.url}/healthy`, timeoutMs: 400 }), ctx({ http: shared })));
      expect(healthy.items.map((i) => i.title)).toEqual(['Entity List additions']);
      expect(await state.getHealth('healthy-neighbour')).toMatchObject({ consecutiveFailures: 0, lastErrorCode: null, lastItems: 1 });
      for (const err of await Promise.all(trickling)) expect((err as SourceFetchError).code).toBe('CP_SOURCE_TIMEOUT');
    } finally {
      shared.close();
    }
  });

  it('logs a failing source as degraded once, and its recovery once', async () => {
    let up = false;
    const server = await serve((_req, res) => (up ? res.end(RSS) : res.writeHead(404).end()));
    const feed = source({ id: 'flaky', kind: 'rss', url: server.url });
    const { log, lines } = memoryLogger('info');
    for (let i = 0; i < 4; i++) {
      const err = await pollSourceWithHealth(feed, ctx({ log })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceFetchError);
    }
    expect(lines().filter((l) => l.includes('source degraded'))).toHaveLength(1);
    expect(await state.getHealth('flaky')).toMatchObject({ degraded: true, consecutiveFailures: 4, lastErrorCode: 'CP_SOURCE_HTTP_STATUS' });
    up = true;
    ok(await pollSourceWithHealth(feed, ctx({ log })));
    ok(await pollSourceWithHealth(feed, ctx({ log })));
    expect(lines().filter((l) => l.includes('source recovered'))).toHaveLength(1);
    expect(await state.getHealth('flaky')).toMatchObject({ degraded: false, consecutiveFailures: 0, lastItems: 1 });
  });

  it('goes on polling other sources after a hostile one fails', async () => {
    const hostile = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(Buffer.from([0xff, 0xfe, 0x00, 0x13, 0x37, 0x00, 0x9c])));
    const good = await serve((_req, res) => res.end(RSS));
    const results = await Promise.allSettled([
      pollSource(source({ id: 'garbage', kind: 'rss', url: hostile.url }), ctx()),
      pollSource(source({ id: 'good', kind: 'rss', url: good.url }), ctx()),
    ]);
    expect(results[0].status).toBe('rejected');
    expect(String((results[0] as PromiseRejectedResult).reason.message)).toContain('source "garbage"');
    expect(results[1].status).toBe('fulfilled');
  });

  it("keeps a source's configured secrets out of its error, its log lines and its recorded health", async () => {
    const token = 'tok-7f3a9c2e5b1d';
    registerSecret(token);
    try {
      const server = await serve((_req, res) => res.writeHead(503).end());
      const { log, lines } = memoryLogger('debug');
      const leaky = source({ id: 'leaky', kind: 'json', preset: 'gdelt', url: `${server.url}/api?query=x&key=${token}`, headers: { Authorization: `Bearer ${token}` } });
      for (let i = 0; i < 2; i++) {
        const err = (await pollSourceWithHealth(leaky, ctx({ log })).catch((e: unknown) => e)) as Error;
        expect(err.message).toContain('HTTP 503');
        expect(err.message).not.toContain(token);
      }
      expect(server.requests[0].headers.authorization).toBe(`Bearer ${token}`);
      expect(lines().length).toBeGreaterThan(0);
      expect(lines().join('\n')).not.toContain(token);
      expect(JSON.stringify(await state.getHealth('leaky'))).not.toContain(token);
    } finally {
      clearSecretsForTests();
    }
  });

  it("skips a poll while the source's Retry-After holds: no request, no failure recorded, nothing seen; the next allowed poll fetches it all", async () => {
    let limited = true;
    const server = await serve((_req, res) => (limited ? res.writeHead(429, { 'Retry-After': '1' }).end() : res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(RSS)));
    const seen = createSeenStore(redis, `${prefix}-not-before`, 3600);
    const feed = source({ id: 'asks-to-wait', kind: 'rss', url: server.url });
    const stage = () => pollStage(feed, { http: client, sourceState: state, seen, log: silentLogger(), now: new Date('2025-04-04T12:00:00Z') });

    const err = await stage().catch((e: unknown) => e);
    expect((err as SourceFetchError).code).toBe('CP_SOURCE_RATE_LIMITED');
    limited = false;
    const skipped = await stage();
    if (skipped.status !== 'deferred') throw new Error(`expected deferred, got ${skipped.status}`);
    expect(server.requests).toHaveLength(1);
    expect(await state.getHealth('asks-to-wait')).toMatchObject({ consecutiveFailures: 1, notBefore: skipped.notBefore.toISOString() });

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, skipped.notBefore.getTime() - Date.now()) + 50));
    const polled = await stage();
    if (polled.status !== 'ok') throw new Error(`expected ok, got ${polled.status}`);
    expect(polled.fresh.map((i) => i.title)).toEqual(['Entity List additions']);
    expect(server.requests).toHaveLength(2);
    expect(await state.getHealth('asks-to-wait')).toMatchObject({ consecutiveFailures: 0, notBefore: null });
  });
});
