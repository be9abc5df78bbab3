import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { deliverStage } from '../../src/pipeline/deliver.js';
import { jobId } from '../../src/queue/names.js';
import { makeAlert } from '../alerts/fixtures.js';
import { startTestWorker } from '../alerts/harness.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { type Receiver, type Reply, startReceiver } from './support/receiver.js';
import { jobSettled } from './support/wait.js';

/**
 * A 429 blocks its channel for every worker, and the pace script compares the block with Redis's clock (TIME). These
 * tests run the notify stage on workers whose clocks are an hour off (the pipeline's injected `now`), and a receiver
 * whose clock is an hour off: the block must still end the Retry-After's wait after the 429, on Redis's clock.
 */
const prefix = uniquePrefix('delivery-clock');
const HOUR = 3_600_000;
const redis = new Redis(testRedisUrl());
let receiver: Receiver;
let run: Awaited<ReturnType<typeof startTestWorker>>;
/** Per channel: the answer to its n-th request (0-based); channels without a script accept everything. */
const scripts = new Map<string, (n: number) => Reply>();
const on = (channel: string) => receiver.requests.filter((r) => r.channel === channel);
/** The worker clock of the harness' own BullMQ processors, as an offset from the real one. */
let workerSkew = 0;

const CHANNELS = ['behind', 'ahead', 'blocked-ahead', 'blocked-behind', 'receiver-behind', 'job-ahead', 'paced-ahead'];

beforeAll(async () => {
  receiver = await startReceiver();
  receiver.respond = (req) => scripts.get(req.channel)?.(on(req.channel).length) ?? { status: 200 };
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists: []\n',
      'channels.yaml': `channels:\n${CHANNELS.map((id) => `  - { id: ${id}, kind: webhook, url: "${receiver.urlFor(id)}"${id.startsWith('paced') ? ', rateLimit: { perMinute: 600 }' : ''} }`).join('\n')}\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
delivery: { attempts: 3, backoffMs: 100, maxBackoffMs: 200, maxRateLimitWaits: 5 }
`,
    },
    {},
    [],
    {
      get now() {
        return Date.now() + workerSkew;
      },
    },
  );
}, 30_000);

afterAll(async () => {
  await run?.stop();
  await receiver?.close();
  await cleanPrefix(prefix);
  redis.disconnect();
});

const stores = () => run.worker.context.stores;
const ledger = () => stores().deliveries;

async function redisNowMs(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** How long the channel's block still runs, on Redis's clock, read from the stored end (not from its TTL). */
async function blockLeftMs(channelId: string): Promise<number> {
  const [until, now] = [await ledger().blockedUntil(channelId), await redisNowMs()];
  return until - now;
}

async function storeAlert(alertId: string): Promise<void> {
  const alert = makeAlert({ id: alertId });
  await stores().alerts.update(alertId, async () => ({ alert, result: null }));
}

/** The notify stage for one alert and channel, as a worker whose clock is `skewMs` off runs it. */
async function deliverAs(skewMs: number, alertId: string, channelId: string) {
  await storeAlert(alertId);
  const { runtime } = run.worker.context;
  return deliverStage({ alertId, version: 1, channelId }, { state: runtime.state, deliveries: ledger(), log: runtime.log, now: () => new Date(Date.now() + skewMs) });
}

describe("a 429's block is set on Redis's clock", () => {
  for (const [channel, skew] of [
    ['behind', -HOUR],
    ['ahead', HOUR],
  ] as const) {
    it(`lasts the Retry-After from Redis's now on a worker whose clock runs an hour ${channel}`, async () => {
      scripts.set(channel, () => ({ status: 429, headers: { 'Retry-After': '2' } }));
      await expect(deliverAs(skew, `a-${channel}`, channel)).rejects.toMatchObject({ kind: 'rate-limited', delayMs: 2_000 });
      const left = await blockLeftMs(channel);
      expect(left).toBeGreaterThan(1_500);
      expect(left).toBeLessThanOrEqual(2_000);
      // The key expires with the block, on the same clock.
      const ttl = await redis.pttl(`{${prefix}}:channel-block:${channel}`);
      expect(ttl).toBeGreaterThan(1_500);
      expect(ttl).toBeLessThanOrEqual(2_000);
    });
  }

  it("measures an HTTP-date Retry-After on the receiver's clock (its Date header), not on ours", async () => {
    // The receiver's clock runs an hour behind: it asks for 5 s, as a date an hour in our past.
    const answered = Math.floor((Date.now() - HOUR) / 1000) * 1000;
    scripts.set('receiver-behind', () => ({
      status: 429,
      headers: { Date: new Date(answered).toUTCString(), 'Retry-After': new Date(answered + 5_000).toUTCString() },
    }));
    await expect(deliverAs(0, 'a-receiver-behind', 'receiver-behind')).rejects.toMatchObject({ kind: 'rate-limited', delayMs: 5_000 });
    const left = await blockLeftMs('receiver-behind');
    expect(left).toBeGreaterThan(4_500);
    expect(left).toBeLessThanOrEqual(5_000);
  });
});

describe('a channel another worker blocked', () => {
  for (const [channel, skew] of [
    ['blocked-ahead', HOUR],
    ['blocked-behind', -HOUR],
  ] as const) {
    it(`holds the delivery for what is left of the block on a worker whose clock runs an hour ${channel.slice(8)}`, async () => {
      // Set as a worker with a right clock would: the block's end on Redis's clock.
      await ledger().blockChannel(channel, (await redisNowMs()) + 1_500);
      const nowMs = Date.now() + skew;
      const outcome = await deliverAs(skew, `a-${channel}`, channel);
      expect(outcome.status).toBe('wait');
      const until = (outcome as { untilMs: number }).untilMs;
      expect(until - nowMs).toBeGreaterThan(1_000);
      expect(until - nowMs).toBeLessThanOrEqual(1_600);
      expect(on(channel)).toEqual([]);
    });
  }
});

describe('a notify job on a worker whose clock runs an hour ahead', () => {
  for (const channel of ['job-ahead', 'paced-ahead']) {
    it(`after a 429 asking for 1 s, sends again about a second later, not an hour (${channel})`, async () => {
      workerSkew = HOUR;
      try {
        scripts.set(channel, (n) => (n === 0 ? { status: 429, headers: { 'Retry-After': '1' } } : { status: 200 }));
        await storeAlert(`a-${channel}`);
        const id = jobId('notify', deliveryKey(`a-${channel}`, 1, channel));
        await run.worker.context.queues.notify.add('notify', { alertId: `a-${channel}`, version: 1, channelId: channel }, { jobId: id });
        const { state } = await jobSettled(run.worker.context.queues.notify, id, 8_000);
        expect(state).toBe('completed');
        const [first, second] = on(channel);
        expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000);
        expect(second!.at - first!.at).toBeLessThan(4_000);
      } finally {
        workerSkew = 0;
      }
    }, 15_000);
  }
});
