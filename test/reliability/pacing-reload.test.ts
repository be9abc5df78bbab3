import { DelayedError, type Job, type Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import { jobId } from '../../src/queue/names.js';
import { type DeliveryJobContext, waitForSlot } from '../../src/queue/delivery-job.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { makeAlert } from '../alerts/fixtures.js';
import { startTestWorker } from '../alerts/harness.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { type Receiver, startReceiver } from './support/receiver.js';

/**
 * A config reload that changes a channel's pace (rateLimit removed, or another rate) reaches the deliveries already
 * waiting for their slots: a pace wait is at most a minute long, and a delivery that wakes holding a slot of the old
 * pace takes one of the new.
 */
const prefix = uniquePrefix('pacing-reload');
const redis = new Redis(testRedisUrl());
const ledger = createDeliveryStore(redis, prefix, 3600);

afterAll(async () => {
  await cleanPrefix(prefix);
  redis.disconnect();
});

/** What the README promises: a waiting delivery follows a reload within a minute. */
const BOUND_MS = 60_000;

describe('a pace wait', () => {
  it('lasts at most a minute, however far away the slot is', async () => {
    const delays: number[] = [];
    const job = { moveToDelayed: async (at: number) => void delays.push(at - Date.now()) } as unknown as Job;
    const ctx: DeliveryJobContext = {
      job,
      key: 'far-1',
      base: { alertId: 'far', version: 1, channelId: 'far' },
      deliveries: ledger,
      maxRateLimitWaits: 5,
      now: () => new Date(),
      log: memoryLogger('fatal').log,
      what: 'delivery',
    };
    await expect(waitForSlot(ctx, 3_600_000)).rejects.toBeInstanceOf(DelayedError);
    await expect(waitForSlot(ctx, 5_000, false)).rejects.toBeInstanceOf(DelayedError);
    expect(delays[0]).toBeLessThanOrEqual(BOUND_MS);
    expect(delays[0]).toBeGreaterThan(BOUND_MS - 1_000);
    expect(delays[1]).toBeGreaterThan(4_000);
    expect(delays[1]).toBeLessThanOrEqual(5_000);
  });
});

describe('slot reservations when the channel pace changes (the pace script on Redis)', () => {
  const near = (actual: number, expected: number) => {
    expect(actual).toBeGreaterThan(expected - 100);
    expect(actual).toBeLessThanOrEqual(expected + 10);
  };

  it('gives a delivery holding a slot of a slower pace a slot of the faster one when it asks again', async () => {
    const slow = { perMinute: 1, burst: 1 };
    const fast = { perMinute: 60, burst: 1 };
    await ledger.reserveSlot('faster', 'f-0', slow);
    near(await ledger.reserveSlot('faster', 'f-1', slow), 60_000);
    near(await ledger.reserveSlot('faster', 'f-2', slow), 120_000);
    // The reload: the next to ask (at its capped wake) gets a slot at the new pace, from now, as do the others.
    expect(await ledger.paceTurn('faster', 'f-2', fast)).toEqual({ waitMs: 0, fresh: false });
    near(await ledger.reserveSlot('faster', 'f-1', fast), 1_000);
    near(await ledger.reserveSlot('faster', 'f-3', fast), 2_000);
    // A slot given at the new pace is kept as usual.
    near(await ledger.reserveSlot('faster', 'f-1', fast), 1_000);
  });

  it('spreads the deliveries holding slots of a faster pace at the slower one', async () => {
    const fast = { perMinute: 600, burst: 1 };
    const slow = { perMinute: 60, burst: 1 };
    await ledger.reserveSlot('slower', 's-0', fast);
    near(await ledger.reserveSlot('slower', 's-1', fast), 100);
    near(await ledger.reserveSlot('slower', 's-2', fast), 200);
    expect(await ledger.reserveSlot('slower', 's-1', slow)).toBe(0);
    near(await ledger.reserveSlot('slower', 's-2', slow), 1_000);
  });
});

describe('a reload on a worker with deliveries waiting for slots', () => {
  let receiver: Receiver;
  let run: Awaited<ReturnType<typeof startTestWorker>>;
  const files = (rates: { faster: string; removed: string }) => ({
    'sources.yaml': 'sources: []\n',
    'watchlists.yaml': 'watchlists: []\n',
    'channels.yaml': `channels:
  - { id: faster, kind: webhook, url: "${receiver.urlFor('faster')}"${rates.faster} }
  - { id: removed, kind: webhook, url: "${receiver.urlFor('removed')}"${rates.removed} }
`,
    'settings.yaml': `redis: { prefix: ${prefix}-e2e }\nhttp: { allowPrivateAddresses: true }\n`,
  });

  beforeAll(async () => {
    receiver = await startReceiver();
    const slow = ', rateLimit: { perMinute: 1 }';
    run = await startTestWorker(files({ faster: slow, removed: slow }), {}, [], {
      get now() {
        return Date.now();
      },
    });
  }, 30_000);

  afterAll(async () => {
    await run?.stop();
    await receiver?.close();
  });

  async function notify(alertId: string, channelId: string): Promise<string> {
    const { stores, queues } = run.worker.context;
    await stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId }), result: null }));
    const id = jobId('notify', deliveryKey(alertId, 1, channelId));
    await queues.notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
    return id;
  }

  const completed = (queue: Queue, id: string) =>
    vi.waitFor(async () => expect(await (await queue.getJob(id))?.getState()).toBe('completed'), { timeout: 5_000, interval: 50 });

  /** Applies a new config as SIGHUP does (src/worker/start.ts reload): the runtime state swapped whole. */
  function reload(next: Record<string, string>): void {
    const { dir, cleanup } = writeConfigDir(next);
    const config = loadConfig(dir, { REDIS_URL: testRedisUrl() });
    cleanup();
    const runtime = run.worker.context.runtime;
    runtime.state = { ...runtime.state, config, notifiers: createNotifiers(config.channels), channels: new Map(config.channels.map((c) => [c.id, c])) };
  }

  it('sends them at the new pace once they wake, not in the slots of the old one', async () => {
    const queue = run.worker.context.queues.notify;
    const ids = { faster: [] as string[], removed: [] as string[] };
    for (const channel of ['faster', 'removed'] as const) {
      for (let i = 0; i < 3; i++) ids[channel].push(await notify(`r-${channel}-${i}`, channel));
    }
    // One each went at once; the others wait for slots a minute and two minutes away.
    await vi.waitFor(async () => expect((await queue.getJobCounts('delayed')).delayed).toBe(4), { timeout: 5_000, interval: 20 });
    reload(files({ faster: ', rateLimit: { perMinute: 600 }', removed: ', rateLimit: false' }));
    // They wake (at the latest a minute after the reload, at the end of a capped wait; here at once).
    for (const id of [...ids.faster.slice(1), ...ids.removed.slice(1)]) await (await queue.getJob(id))?.promote();
    for (const id of [...ids.faster, ...ids.removed]) await completed(queue, id);
    expect(receiver.accepted('faster').keys.size).toBe(3);
    expect(receiver.accepted('removed').keys.size).toBe(3);
    expect(receiver.accepted('faster').duplicates + receiver.accepted('removed').duplicates).toBe(0);
  }, 30_000);
});
