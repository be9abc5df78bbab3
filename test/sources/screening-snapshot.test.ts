import type http from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sourceSchema, type SourceConfig } from '../../src/config/schema.js';
import { FeedParseError } from '../../src/errors.js';
import { memoryLogger, silentLogger } from '../../src/log.js';
import { createHttpClient, type HttpClient } from '../../src/sources/http.js';
import { SELECTION_FIELD, shrinkRefusal, SHRINK_FLOOR } from '../../src/sources/kinds/screening.js';
import { pollSource, pollSourceWithHealth, type PollContext, type PollResult, type HostDeferral } from '../../src/sources/registry.js';
import { createMemorySourceStateStore } from '../../src/store/memory-source-state.js';
import { createSourceStateStore, type SourceStateStore } from '../../src/store/source-state.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { httpSettings, startServer, type TestServer } from './helpers.js';

const EL = 'Entity List (EL) - Bureau of Industry and Security';
const SDN = 'Specially Designated Nationals (SDN) - Treasury Department';
const entries = (list: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ id: `${list.slice(0, 3)}-${from + i}`, name: `${list.slice(0, 3)} party ${from + i}`, source: list, addresses: [{ country: 'CN' }] }));

const prefix = uniquePrefix('screening-snapshot');
let client: HttpClient;
let redis: Redis;
const servers: TestServer[] = [];

beforeAll(() => {
  client = createHttpClient(httpSettings({ retries: 0 }), { retryBaseDelayMs: 1 });
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
});
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
afterAll(async () => {
  client.close();
  await cleanPrefix(prefix);
  redis.disconnect();
});

/** A screening list server answering with whatever `answer.results` holds now, and an ETag per answer. */
async function listServer(results: unknown[]) {
  const answer = { results, etag: '"v1"' };
  const handler: http.RequestListener = (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json', ETag: answer.etag }).end(JSON.stringify({ results: answer.results }));
  const server = await startServer(handler);
  servers.push(server);
  return { server, answer };
}

const source = (raw: Record<string, unknown>): SourceConfig => sourceSchema.parse({ kind: 'screening', ...raw });
const ok = (r: PollResult | HostDeferral) => {
  if (r.status !== 'ok') throw new Error(`expected ok, got ${r.status}`);
  return r;
};
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected the poll to fail'); }, (e: unknown) => e as FeedParseError);

describe('screening list snapshot', () => {
  let state: SourceStateStore;
  const ctx = (over: Partial<PollContext> = {}): PollContext => ({ http: client, state, now: new Date('2025-04-04T12:00:00Z'), log: silentLogger(), ...over });
  beforeAll(() => {
    state = createMemorySourceStateStore();
  });

  it('refuses an empty answer after a baseline, keeps the snapshot, and reports nothing when the full list returns', async () => {
    const full = entries(EL, 200);
    const { server, answer } = await listServer(full);
    const csl = source({ id: 'csl-empty', url: server.url });
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);

    answer.results = [];
    answer.etag = '"empty"';
    const err = await failure(pollSourceWithHealth(csl, ctx()));
    expect(err).toBeInstanceOf(FeedParseError);
    expect(err.code).toBe('CP_PARSE_LIST_SHRANK');
    expect(err.message).toMatch(/^source "csl-empty": the screening list at .* answered with no entries \(200 entries before, 0 now\); the answer is refused/);
    expect(err.message).toContain('run "chokepoint rebaseline csl-empty" to record a new baseline');
    expect(await state.getHealth('csl-empty')).toMatchObject({ lastErrorCode: 'CP_PARSE_LIST_SHRANK', consecutiveFailures: 1 });

    answer.results = full;
    answer.etag = '"v1"';
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    // The refused answer's validators were not stored: the poll after it asked with the baseline's.
    expect(server.requests.map((r) => r.headers['if-none-match'])).toEqual([undefined, '"v1"', '"v1"']);
  });

  it('refuses an answer that loses more than half of a large list, and accepts ordinary delistings', async () => {
    const full = entries(EL, 200);
    const { server, answer } = await listServer(full);
    const csl = source({ id: 'csl-half', url: server.url });
    ok(await pollSource(csl, ctx()));

    answer.results = full.slice(0, 90);
    const err = await failure(pollSource(csl, ctx()));
    expect(err.code).toBe('CP_PARSE_LIST_SHRANK');
    expect(err.message).toContain('lost 110 of its entries at once (200 entries before, 90 now)');

    answer.results = [...full.slice(0, 190), ...entries(EL, 1, 500)];
    const changed = ok(await pollSource(csl, ctx()));
    expect(changed.items.map((i) => [i.title, i.screening?.change])).toEqual([['Entity List: Ent party 500 (CN)', 'added']]);
  });

  it('tells a suspect shrink from an ordinary one', () => {
    expect(shrinkRefusal(0, 0)).toBeUndefined();
    expect(shrinkRefusal(3, 0)).toBe('answered with no entries');
    expect(shrinkRefusal(5000, 4990)).toBeUndefined();
    // A small filtered list may lose most of its entries for real.
    expect(shrinkRefusal(SHRINK_FLOOR, 1)).toBeUndefined();
    expect(shrinkRefusal(5000, 2400)).toBe('lost 2600 of its entries at once');
    // Half exactly, or more than half but fewer than the floor, is taken.
    expect(shrinkRefusal(200, 100)).toBeUndefined();
    expect(shrinkRefusal(80, 35)).toBeUndefined();
  });

  it('records no baseline from an empty first answer, so the first full answer is the baseline', async () => {
    const { server, answer } = await listServer([]);
    const csl = source({ id: 'csl-late', url: server.url });
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    answer.results = entries(EL, 300);
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    answer.results = entries(EL, 301);
    expect(ok(await pollSource(csl, ctx())).items.map((i) => i.screening?.change)).toEqual(['added']);
  });

  it('records a new baseline when the URL selects other lists, rather than refuse the smaller answer for ever', async () => {
    const { server, answer } = await listServer([...entries(EL, 100), ...entries(SDN, 3000)]);
    ok(await pollSource(source({ id: 'csl-url', url: server.url }), ctx()));
    answer.results = entries(EL, 100);
    const narrowed = source({ id: 'csl-url', url: `${server.url}?sources=EL` });
    expect(ok(await pollSource(narrowed, ctx())).items).toEqual([]);
    answer.results = entries(EL, 101);
    expect(ok(await pollSource(narrowed, ctx())).items.map((i) => i.screening?.change)).toEqual(['added']);
  });

  it('takes an empty snapshot an earlier build left for no baseline, not for a list that emptied', async () => {
    const { server, answer } = await listServer(entries(EL, 300));
    // What an earlier build left after an empty answer: the snapshot's time recorded, no entries, no fingerprint.
    await state.updateScreeningSnapshot('csl-wiped', { set: new Map(), remove: [] }, new Date());
    const csl = source({ id: 'csl-wiped', url: server.url });
    expect(ok(await pollSource(csl, ctx())).items).toEqual([]);
    answer.results = entries(EL, 301);
    expect(ok(await pollSource(csl, ctx())).items.map((i) => i.screening?.change)).toEqual(['added']);
  });

  it('records a new baseline without items when the lists filter widens, then reports entries added to either list', async () => {
    const { server, answer } = await listServer([...entries(EL, 100), ...entries(SDN, 3000)]);
    const narrow = source({ id: 'csl-lists', url: server.url, lists: ['Entity List'] });
    const wide = source({ id: 'csl-lists', url: server.url, lists: ['Specially Designated Nationals', 'entity list'] });
    expect(ok(await pollSource(narrow, ctx())).items).toEqual([]);
    expect(ok(await pollSource(narrow, ctx())).items).toEqual([]);

    const { log, lines } = memoryLogger('info');
    expect(ok(await pollSource(wide, ctx({ log }))).items).toEqual([]);
    expect(lines().join('\n')).toContain('screening list URL or filter changed; new baseline recorded');

    answer.results = [...entries(EL, 100), ...entries(SDN, 3001)];
    // The same filter written otherwise (order, case) is the same filter: no second baseline.
    const reordered = source({ id: 'csl-lists', url: server.url, lists: ['Entity List', 'specially designated nationals'] });
    expect(ok(await pollSource(reordered, ctx())).items.map((i) => [i.title, i.screening?.change])).toEqual([['Specially Designated Nationals: Spe party 3000 (CN)', 'added']]);
  });

  it('records a new baseline when a filter is dropped or set, rather than report or refuse the difference', async () => {
    const { server } = await listServer([...entries(EL, 100), ...entries(SDN, 3000)]);
    const all = source({ id: 'csl-unfiltered', url: server.url });
    const el = source({ id: 'csl-unfiltered', url: server.url, lists: ['Entity List'] });
    ok(await pollSource(all, ctx()));
    // 3,100 -> 100 entries would be refused as a broken answer, were the filter not what changed.
    expect(ok(await pollSource(el, ctx())).items).toEqual([]);
    expect(ok(await pollSource(all, ctx())).items).toEqual([]);
    expect(ok(await pollSource(all, ctx())).items).toEqual([]);
  });
});

describe('screening list snapshot written without its filter (by an earlier build)', () => {
  it('is diffed as it is when a filter is set, so an entry listed meanwhile is reported, and the filter recorded', async () => {
    const state = createMemorySourceStateStore();
    const ctx = (): PollContext => ({ http: client, state, now: new Date('2025-04-04T12:00:00Z'), log: silentLogger() });
    const { server, answer } = await listServer([...entries(EL, 100), ...entries(SDN, 3000)]);
    // An earlier build polled with the filter but recorded no filter field: the same snapshot as an unfiltered poll's
    // entries of the Entity List alone.
    answer.results = entries(EL, 100);
    ok(await pollSource(source({ id: 'csl-legacy', url: server.url }), ctx()));
    await state.updateScreeningSnapshot('csl-legacy', { set: new Map(), remove: [SELECTION_FIELD] }, new Date());
    answer.results = [...entries(EL, 101), ...entries(SDN, 3000)];
    const el = source({ id: 'csl-legacy', url: server.url, lists: ['Entity List'] });
    expect(ok(await pollSource(el, ctx())).items.map((i) => i.screening?.change)).toEqual(['added']);
    answer.results = [...entries(EL, 102), ...entries(SDN, 3000)];
    expect(ok(await pollSource(el, ctx())).items.map((i) => i.screening?.change)).toEqual(['added']);
  });
});

describe('screening list snapshot in Redis', () => {
  it('keeps the lists filter with the snapshot, so the next poll reports a new entry instead of re-baselining', async () => {
    const state = createSourceStateStore(redis, prefix);
    const ctx = (): PollContext => ({ http: client, state, now: new Date('2025-04-04T12:00:00Z'), log: silentLogger() });
    const { server, answer } = await listServer(entries(EL, 20));
    const csl = source({ id: 'csl-redis', url: server.url, lists: ['Entity List'] });
    ok(await pollSource(csl, ctx()));
    answer.results = entries(EL, 21);
    expect(ok(await pollSource(csl, ctx())).items.map((i) => i.screening?.change)).toEqual(['added']);
    // The filter is one field beside the entries.
    expect(await redis.hlen(`{${prefix}}:source:csl-redis:screening`)).toBe(22);
  });
});
