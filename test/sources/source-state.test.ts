import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceFetchError } from '../../src/errors.js';
import { clearSecretsForTests, registerSecret } from '../../src/secrets.js';
import { createSourceStateStore, type SourceStateStore } from '../../src/store/source-state.js';
import { keyFor } from '../../src/store/keys.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('source-state');
let redis: Redis;
let store: SourceStateStore;
const at = (minute: number) => new Date(Date.UTC(2025, 3, 4, 12, minute));

beforeAll(() => {
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  store = createSourceStateStore(redis, prefix, { degradedAfter: 3 });
});
afterAll(async () => {
  clearSecretsForTests();
  await cleanPrefix(prefix);
  redis.disconnect();
});

/** A 429 the HTTP client gave up on, carrying the source's Retry-After for the job layer. */
const rateLimited = (seconds: number) =>
  new SourceFetchError('gdelt', 'rate-limited', `GET https://api.gdeltproject.org/api/v2/doc failed: HTTP 429 (Retry-After ${seconds} s)`, {
    retryable: true,
    retryAfterMs: seconds * 1000,
  });
const timeout = () => new SourceFetchError('gdelt', 'timeout', 'GET https://api.gdeltproject.org/api/v2/doc failed: no complete response within 30000 ms', { retryable: true });

/** Redis's clock in ms: the clock a not-before time is kept on. */
async function redisNow(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('source state store', () => {
  it('remembers validators per source and forgets the ones a new response no longer sends', async () => {
    const url = 'https://www.federalregister.gov/api/v1/documents.json';
    expect(await store.getValidators('fr', url)).toEqual({});
    await store.saveValidators('fr', url, { etag: '"abc"', lastModified: 'Fri, 04 Apr 2025 12:00:00 GMT' });
    expect(await store.getValidators('fr', url)).toEqual({ etag: '"abc"', lastModified: 'Fri, 04 Apr 2025 12:00:00 GMT' });
    await store.saveValidators('fr', url, { etag: '"def"' });
    expect(await store.getValidators('fr', url)).toEqual({ etag: '"def"' });
    expect(await store.getValidators('other', url)).toEqual({});
  });

  it("gives no validators for a source's new URL, nor any saved before the URL was recorded, and keeps the URL's key out of Redis", async () => {
    const old = 'https://agency.example/feed.xml?api_key=s3cr3t-key';
    await store.saveValidators('moved', old, { etag: '"v1"' });
    expect(await store.getValidators('moved', old)).toEqual({ etag: '"v1"' });
    expect(await store.getValidators('moved', 'https://agency.example/news/feed.xml')).toEqual({});
    expect(JSON.stringify(await redis.hgetall(`{${prefix}}:source:moved:http`))).not.toContain('s3cr3t-key');
    // State written by a version that kept no URL: one full fetch is the safe answer.
    await redis.hset(`{${prefix}}:source:legacy:http`, { etag: '"old"' });
    expect(await store.getValidators('legacy', old)).toEqual({});
  });

  it('keeps every key under the hash-tagged prefix', async () => {
    await store.recordSuccess('tagged', { items: 1, notModified: false, bytes: 10, at: at(0) });
    const keys = await redis.keys(`{${prefix}}:*`);
    expect(keys).toContain(`{${prefix}}:source:tagged:health`);
    expect(keys.every((k) => k.startsWith(`{${prefix}}:`))).toBe(true);
  });

  it('marks a source degraded once, at the Nth consecutive failure, and reports the recovery', async () => {
    const error = new SourceFetchError('bis', 'timeout', 'GET https://www.bis.gov/rss failed: no complete response within 30000 ms');
    const changes = [];
    for (let i = 0; i < 5; i++) changes.push(await store.recordFailure('bis', error, at(i)));
    expect(changes.map((c) => c.becameDegraded)).toEqual([false, false, true, false, false]);
    expect(changes.map((c) => c.consecutiveFailures)).toEqual([1, 2, 3, 4, 5]);
    const degraded = await store.getHealth('bis');
    expect(degraded).toMatchObject({
      degraded: true,
      degradedSince: at(2).toISOString(),
      consecutiveFailures: 5,
      lastErrorCode: 'CP_SOURCE_TIMEOUT',
      lastErrorAt: at(4).toISOString(),
    });
    expect(degraded?.lastError).toContain('no complete response');

    const recovery = await store.recordSuccess('bis', { items: 0, notModified: true, bytes: 0, at: at(10) });
    expect(recovery).toEqual({ becameDegraded: false, recovered: true, consecutiveFailures: 0 });
    expect(await store.recordSuccess('bis', { items: 4, notModified: false, bytes: 2048, at: at(11) })).toMatchObject({ recovered: false });
    expect(await store.getHealth('bis')).toMatchObject({
      degraded: false,
      degradedSince: null,
      consecutiveFailures: 0,
      lastSuccessAt: at(11).toISOString(),
      lastItems: 4,
      lastNotModified: false,
      lastBytes: 2048,
      // The last error stays on record after recovery.
      lastErrorCode: 'CP_SOURCE_TIMEOUT',
    });
  });

  it('records a 304 poll as not modified', async () => {
    await store.recordSuccess('gdelt', { items: 0, notModified: true, bytes: 0, at: at(1) });
    expect(await store.getHealth('gdelt')).toMatchObject({ lastNotModified: true, lastItems: 0 });
  });

  it('never stores a registered secret in the last error', async () => {
    registerSecret('tok-SECRET-987654');
    await store.recordFailure('leaky', new Error('GET https://api.example.com/?token=tok-SECRET-987654 failed'), at(0));
    expect((await store.getHealth('leaky'))?.lastError).not.toContain('tok-SECRET-987654');
  });

  it('lists the health of every source that has been polled', async () => {
    const ids = (await store.listHealth()).map((h) => h.sourceId);
    expect(ids).toEqual(expect.arrayContaining(['bis', 'gdelt', 'leaky', 'tagged']));
    expect(await store.getHealth('never-polled')).toBeNull();
  });

  it('has no screening snapshot before the baseline, then applies diffs to it', async () => {
    expect(await store.getScreeningSnapshot('csl')).toBeNull();
    await store.updateScreeningSnapshot('csl', { set: new Map(), remove: [] }, at(0));
    expect(await store.getScreeningSnapshot('csl')).toEqual(new Map());
    const many = new Map(Array.from({ length: 2500 }, (_, i) => [`e${i}`, `h${i}`] as [string, string]));
    await store.updateScreeningSnapshot('csl', { set: many, remove: [] }, at(1));
    await store.updateScreeningSnapshot('csl', { set: new Map([['e1', 'changed']]), remove: ['e0', 'e2'] }, at(2));
    const snapshot = await store.getScreeningSnapshot('csl');
    expect(snapshot?.size).toBe(2498);
    expect(snapshot?.get('e1')).toBe('changed');
    expect(snapshot?.has('e0')).toBe(false);
  });
});

describe("a source's not-before time (Retry-After)", () => {
  it("holds back every worker's polls of the source until the time it asked for, without counting them as failures, even when a poll begun before it succeeds", async () => {
    const other = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
    try {
      const elsewhere = createSourceStateStore(other, prefix, { degradedAfter: 3 });
      const before = await redisNow();
      await store.recordFailure('nb-shared', rateLimited(7200), at(0));
      const after = await redisNow();

      const first = await elsewhere.deferPoll!('nb-shared');
      expect(first?.notBefore.getTime()).toBeGreaterThanOrEqual(before + 7_200_000);
      expect(first?.notBefore.getTime()).toBeLessThanOrEqual(after + 7_200_000);
      expect(first?.skipped).toBe(1);
      expect((await store.deferPoll!('nb-shared'))?.skipped).toBe(2);
      const health = await elsewhere.getHealth('nb-shared');
      expect(health).toMatchObject({ notBefore: first?.notBefore.toISOString(), consecutiveFailures: 1, lastErrorCode: 'CP_SOURCE_RATE_LIMITED', lastPollAt: at(0).toISOString() });
      expect((await elsewhere.listHealth()).find((h) => h.sourceId === 'nb-shared')?.notBefore).toBe(first?.notBefore.toISOString());

      // A poll that started before the answer that set the hold, and succeeds meanwhile, does not lift it.
      await store.recordSuccess('nb-shared', { items: 3, notModified: false, bytes: 100, at: at(130) });
      expect((await elsewhere.deferPoll!('nb-shared'))?.notBefore.getTime()).toBe(first?.notBefore.getTime());
      expect((await store.getHealth('nb-shared'))?.notBefore).toBe(first?.notBefore.toISOString());
    } finally {
      other.disconnect();
    }
  });

  it("measures the wait on Redis's clock, not the clock of the worker that heard it, so workers whose clocks disagree agree on the time", async () => {
    const before = await redisNow();
    // Recorded by a worker whose clock is five years behind.
    await store.recordFailure('nb-skew', rateLimited(600), new Date('2020-01-01T00:00:00Z'));
    const deferral = await store.deferPoll!('nb-skew');
    expect(deferral?.notBefore.getTime()).toBeGreaterThanOrEqual(before + 600_000);
    expect(deferral?.notBefore.getTime()).toBeLessThan(before + 600_000 + 5_000);
  });

  it('holds polls back for 24 hours at most, whatever the source asked', async () => {
    const before = await redisNow();
    await store.recordFailure('nb-capped', rateLimited(30 * 86_400), at(0));
    const deferral = await store.deferPoll!('nb-capped');
    expect(deferral?.notBefore.getTime()).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(deferral?.notBefore.getTime()).toBeLessThan(before + 86_400_000 + 5_000);
  });

  it('holds polls back only while the time is ahead: a 1 s Retry-After holds nothing a second later', async () => {
    await store.recordFailure('nb-brief', rateLimited(1), at(0));
    const deferral = await store.deferPoll!('nb-brief');
    expect(deferral).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deferral!.notBefore.getTime() - Date.now()) + 50));
    expect(await store.deferPoll!('nb-brief')).toBeNull();
    expect((await store.getHealth('nb-brief'))?.notBefore).toBeNull();
    // The next success removes the time that has passed.
    await store.recordSuccess('nb-brief', { items: 1, notModified: false, bytes: 10, at: at(5) });
    expect(await redis.hexists(`{${prefix}}:source:nb-brief:health`, 'notBefore')).toBe(0);
  });

  it('logs a later time asked for afresh: its skipped polls are counted from one', async () => {
    await store.recordFailure('nb-extended', rateLimited(600), at(0));
    expect((await store.deferPoll!('nb-extended'))?.skipped).toBe(1);
    expect((await store.deferPoll!('nb-extended'))?.skipped).toBe(2);
    await store.recordFailure('nb-extended', rateLimited(3600), at(1));
    expect((await store.deferPoll!('nb-extended'))?.skipped).toBe(1);
  });

  it('keeps the later time when another answer asks for less, keeps it through failures without a Retry-After, and forgets it once past', async () => {
    await store.recordFailure('nb-later', rateLimited(3600), at(0));
    const asked = (await store.deferPoll!('nb-later'))!.notBefore.getTime();
    await store.recordFailure('nb-later', rateLimited(60), at(1));
    await store.recordFailure('nb-later', timeout(), at(2));
    expect((await store.deferPoll!('nb-later'))?.notBefore.getTime()).toBe(asked);

    await store.recordFailure('nb-past', rateLimited(1), at(0));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await store.recordFailure('nb-past', timeout(), at(1));
    expect((await store.getHealth('nb-past'))?.notBefore).toBeNull();
    // A new request to wait counts its skipped polls afresh.
    await store.recordFailure('nb-past', rateLimited(60), at(2));
    expect((await store.deferPoll!('nb-past'))?.skipped).toBe(1);
  });

  it('holds back no poll of a source that never asked to wait, and writes nothing for it', async () => {
    expect(await store.deferPoll!('nb-never')).toBeNull();
    await store.recordFailure('nb-plain', timeout(), at(0));
    expect(await store.deferPoll!('nb-plain')).toBeNull();
    expect((await store.getHealth('nb-plain'))?.notBefore).toBeNull();
    expect(await redis.exists(`{${prefix}}:source:nb-never:health`)).toBe(0);
  });
});

describe("a host's hold (a Retry-After applies to every source on the origin that sent it)", () => {
  const origin = 'https://www.federalregister.gov';
  const elsewhereOrigin = 'https://api.gdeltproject.org';
  const polled = (sourceId: string, origins: string[]) => store.recordSuccess(sourceId, { items: 1, notModified: false, bytes: 10, at: at(0), origins });

  it("holds every worker's requests of every source to that origin until the time asked, on Redis's clock, and no other origin's", async () => {
    const other = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
    try {
      const elsewhere = createSourceStateStore(other, prefix);
      const before = await redisNow();
      await store.holdHost!(origin, 3_600_000);
      const after = await redisNow();
      const first = await elsewhere.deferRequest!('hh-fr-bis', origin);
      expect(first?.notBefore.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(first?.notBefore.getTime()).toBeLessThanOrEqual(after + 3_600_000);
      // Skipped polls are counted per source: each source's first is the one worth an info line.
      expect(first?.skipped).toBe(1);
      expect((await store.deferRequest!('hh-fr-ustr', origin))?.skipped).toBe(1);
      expect((await store.deferRequest!('hh-fr-bis', origin))?.skipped).toBe(2);
      expect(await store.deferRequest!('hh-fr-bis', elsewhereOrigin)).toBeNull();
      // The per-source hold is not touched: the host's hold is its own.
      expect(await store.deferPoll!('hh-fr-bis')).toBeNull();
    } finally {
      other.disconnect();
    }
  });

  it('is not lifted by a source on the host that succeeds meanwhile (its request began before the hold)', async () => {
    await store.holdHost!('https://hold-success.example', 600_000);
    const held = (await store.deferRequest!('hh-success', 'https://hold-success.example'))!.notBefore.getTime();
    await polled('hh-success', ['https://hold-success.example']);
    await store.recordSuccess('hh-other', { items: 1, notModified: false, bytes: 10, at: at(1), origins: ['https://hold-success.example'] });
    expect((await store.deferRequest!('hh-success', 'https://hold-success.example'))?.notBefore.getTime()).toBe(held);
  });

  it('holds for 24 hours at most, and keeps the later of two times, extending a hold in force with its skipped counts', async () => {
    const before = await redisNow();
    await store.holdHost!('https://capped.example', 30 * 86_400_000);
    const capped = await store.deferRequest!('hh-capped', 'https://capped.example');
    expect(capped?.notBefore.getTime()).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(capped?.notBefore.getTime()).toBeLessThan(before + 86_400_000 + 5_000);

    await store.holdHost!('https://later.example', 600_000);
    expect((await store.deferRequest!('hh-later', 'https://later.example'))?.skipped).toBe(1);
    expect((await store.deferRequest!('hh-later', 'https://later.example'))?.skipped).toBe(2);
    // A later time extends the hold in force and keeps its counts: the same request to wait, not a new one to log.
    await store.holdHost!('https://later.example', 3_600_000);
    const later = await store.deferRequest!('hh-later', 'https://later.example');
    expect(later?.skipped).toBe(3);
    expect(later?.notBefore.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(await redis.pttl(keyFor(prefix, 'host-hold', 'https://later.example'))).toBeGreaterThan(3_000_000);
    await store.holdHost!('https://later.example', 60_000);
    expect((await store.deferRequest!('hh-later', 'https://later.example'))?.notBefore.getTime()).toBe(later?.notBefore.getTime());
  });

  it('holds nothing once the time is past, and leaves no key behind', async () => {
    await store.holdHost!('https://brief.example', 1000);
    const held = await store.deferRequest!('hh-brief', 'https://brief.example');
    expect(held).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, held!.notBefore.getTime() - Date.now()) + 50));
    expect(await store.deferRequest!('hh-brief', 'https://brief.example')).toBeNull();
    expect(await redis.keys(`{${prefix}}:*brief.example*`)).toEqual([]);
  });

  it("shows a source's notBefore as the hold it is under, its own or its host's, and keeps the hold's key under the hash tag", async () => {
    const host = 'https://news.example:8443';
    await polled('hh-view-b', [host]);
    await polled('hh-view-elsewhere', ['https://other.example']);
    await store.holdHost!(host, 1_800_000);
    const hold = (await store.deferRequest!('hh-view-probe', host))!.notBefore.toISOString();
    expect(await store.getHealth('hh-view-b')).toMatchObject({ notBefore: hold, holdOrigin: host, consecutiveFailures: 0 });
    const listed = new Map((await store.listHealth()).map((h) => [h.sourceId, h]));
    expect(listed.get('hh-view-b')).toMatchObject({ notBefore: hold, holdOrigin: host });
    expect(listed.get('hh-view-elsewhere')).toMatchObject({ notBefore: null, holdOrigin: null });

    // The source's own, later hold is the one it is under.
    await store.recordFailure('hh-view-b', rateLimited(7200), at(1), [host]);
    expect(await store.getHealth('hh-view-b')).toMatchObject({ holdOrigin: null });
    expect(Date.parse((await store.getHealth('hh-view-b'))?.notBefore ?? '')).toBeGreaterThan(Date.parse(hold));

    const keys = await redis.keys('*news.example:8443*');
    expect(keys).toHaveLength(1);
    expect(keys[0].startsWith(`{${prefix}}:`)).toBe(true);
  });

  it('shows the hold a source was deferred by, even when its last poll went elsewhere (a redirect that moved)', async () => {
    await polled('hh-moved', ['https://old.example']);
    await store.holdHost!('https://new.example', 600_000);
    const held = await store.deferRequest!('hh-moved', 'https://new.example');
    expect(await store.getHealth('hh-moved')).toMatchObject({ notBefore: held?.notBefore.toISOString(), holdOrigin: 'https://new.example' });
    // A source never polled gets no health record from a deferral.
    await store.deferRequest!('hh-never-polled', 'https://new.example');
    expect(await store.getHealth('hh-never-polled')).toBeNull();
  });
});
