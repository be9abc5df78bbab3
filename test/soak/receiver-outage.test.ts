import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { drained, openQueues } from '../reliability/support/queues.js';
import { type ReceivedRequest, startReceiver } from '../reliability/support/receiver.js';
import { startFeedFarm, writeScenarioConfig } from '../reliability/support/scenario.js';
import { waitUntil } from '../reliability/support/wait.js';
import { spawnWorker } from '../reliability/support/worker-process.js';

/**
 * One worker process, 50 alerts, three webhook channels: "ops" answers 500 for the first OUTAGE_MS, "limited" answers
 * 429 with Retry-After for the first STORM_MS, "dead" always answers 500. Retry settings are shortened (backoff
 * 200 ms doubling to 1 s, 20 attempts: ~17 s of retrying) so the run takes a minute instead of four hours.
 */
const ITEMS = 500;
const OUTAGE_MS = 10_000;
const STORM_MS = 8_000;
const RETRY_AFTER_S = 2;
const ATTEMPTS = 20;
const MAX_RATE_LIMIT_WAITS = 30;

const teardown: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

describe('a receiver that is down or rate limiting', () => {
  it('gets everything once it recovers, is never called before Retry-After, and what is given up is recorded', async () => {
    const prefix = uniquePrefix('soak-outage');
    const farm = await startFeedFarm({ items: ITEMS, sources: 2, alertEvery: 10, tag: prefix });
    const receiver = await startReceiver();
    const firstRequest: Record<string, number> = {};
    receiver.respond = (req) => {
      firstRequest[req.channel] ??= req.at;
      const since = req.at - firstRequest[req.channel];
      if (req.channel === 'dead') return { status: 500 };
      if (req.channel === 'ops' && since < OUTAGE_MS) return { status: 500 };
      if (req.channel === 'limited' && since < STORM_MS) return { status: 429, headers: { 'Retry-After': String(RETRY_AFTER_S) } };
      return { status: 200 };
    };
    const config = writeScenarioConfig({
      prefix,
      farm,
      sources: 2,
      channels: { ops: receiver.urlFor('ops'), limited: receiver.urlFor('limited'), dead: receiver.urlFor('dead') },
      settings: [`delivery: { attempts: ${ATTEMPTS}, backoffMs: 200, maxBackoffMs: 1000, maxRateLimitWaits: ${MAX_RATE_LIMIT_WAITS} }`],
    });
    teardown.push(() => cleanPrefix(prefix), config.cleanup, () => farm.close(), () => receiver.close());
    const worker = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
    teardown.push(() => worker.stop());
    await worker.waitFor(/worker started/, 60_000);

    await farm.releaseAll(100_000);
    const expected = farm.alertingLinks.size;
    await waitUntil(() => receiver.accepted('ops').keys.size >= expected && receiver.accepted('limited').keys.size >= expected, {
      timeoutMs: 180_000,
      intervalMs: 100,
      describe: () => `ops ${receiver.accepted('ops').keys.size}, limited ${receiver.accepted('limited').keys.size} of ${expected}`,
    });
    const queues = await openQueues(testRedisUrl(), prefix);
    teardown.push(() => queues.close());
    let pending: Record<string, number> = {};
    await waitUntil(async () => drained((pending = await queues.pending())), { timeoutMs: 120_000, intervalMs: 250, describe: () => JSON.stringify(pending) });

    const on = (channel: string) => receiver.requests.filter((r) => r.channel === channel);
    const perKey = (requests: ReceivedRequest[]) => {
      const counts = new Map<string, number>();
      for (const r of requests) counts.set(r.idempotencyKey, (counts.get(r.idempotencyKey) ?? 0) + 1);
      return [...counts.values()];
    };

    // 500s: everything arrives once the receiver is back, each notification within its attempts.
    const ops = receiver.accepted('ops');
    const opsRecovered = firstRequest.ops + OUTAGE_MS;
    const opsDone = Math.max(...on('ops').filter((r) => r.status === 200).map((r) => r.at));
    expect(ops.keys.size).toBe(expected);
    expect(ops.duplicates).toBe(0);
    expect(Math.max(...perKey(on('ops')))).toBeLessThanOrEqual(ATTEMPTS);

    // 429s: after each 429 nothing is sent to that channel until its Retry-After has passed. Requests already on the
    // wire when the 429 came back (notifyConcurrency of them at most) arrive within a few ms of it: allowed.
    const limited = on('limited');
    const rateLimited = limited.filter((r) => r.status === 429);
    const early = limited.filter((r) => rateLimited.some((l) => r.at > l.at + 150 && r.at < l.at + RETRY_AFTER_S * 1000 - 50));
    const limitedDone = Math.max(...limited.filter((r) => r.status === 200).map((r) => r.at));
    expect(rateLimited.length).toBeGreaterThan(0);
    expect(early).toEqual([]);
    expect(receiver.accepted('limited').keys.size).toBe(expected);
    expect(receiver.accepted('limited').duplicates).toBe(0);
    expect(Math.max(...perKey(rateLimited))).toBeLessThanOrEqual(MAX_RATE_LIMIT_WAITS);

    // Never recovers: tried exactly `attempts` times each, then recorded as failed, listed for the operator.
    expect(Math.max(...perKey(on('dead')))).toBe(ATTEMPTS);
    expect(Math.min(...perKey(on('dead')))).toBe(ATTEMPTS);
    const redis = new Redis(testRedisUrl());
    teardown.push(() => redis.disconnect());
    const failed = (await createDeliveryStore(redis, prefix, 3600).listFailed(500)).filter((d) => d.channelId === 'dead');
    expect(failed).toHaveLength(expected);
    for (const d of failed) {
      expect(d.status).toBe('failed');
      expect(d.attempts).toBe(ATTEMPTS);
      expect(d.lastError).toMatch(/500/);
    }
    expect(worker.output()).toMatch(/delivery given up: attempts exhausted/);

    console.log(
      `[soak] receiver outage: ops answered 500 for ${OUTAGE_MS / 1000} s; all ${expected} delivered ${((opsDone - opsRecovered) / 1000).toFixed(1)} s after it recovered ` +
        `(max ${Math.max(...perKey(on('ops')))} requests per notification). ` +
        `429 storm for ${STORM_MS / 1000} s with Retry-After ${RETRY_AFTER_S}: ${rateLimited.length} 429s, ${early.length} requests before Retry-After, ` +
        `all delivered ${((limitedDone - (firstRequest.limited + STORM_MS)) / 1000).toFixed(1)} s after the storm. ` +
        `dead channel: ${failed.length} deliveries given up after ${ATTEMPTS} attempts each, listed by DeliveryStore.listFailed`,
    );
  });
});
