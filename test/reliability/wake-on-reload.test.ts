import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { channelSchema } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import { type DigestJob, jobId, type NotifyJob, QUEUES } from '../../src/queue/names.js';
import {
  channelsFreedOfPace,
  channelsFreedOfPaceForDigests,
  channelsFreedOfQuietHours,
  channelsFreedOfThrottle,
  wakeDigestSlotWaits,
  wakePaceWaits,
  wakeQuietHoursWaits,
  wakeThrottleWaits,
} from '../../src/queue/wake.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { jobSettled } from './support/wait.js';

/**
 * A reload that takes a channel's quiet hours out wakes the notifications waiting for their end (deferred there when
 * decided, or parked there when they ran), and only those: a throttle's moment, a retry's backoff and other channels'
 * waits are kept.
 */
const prefix = uniquePrefix('wake-on-reload');
const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
const queue = new Queue<NotifyJob>(QUEUES.notify, { connection: redis, prefix: `{${prefix}}` });
const stores = { deliveries: createDeliveryStore(redis, prefix, 3600), dispatch: createDispatchStore(redis, prefix, 3600) };
const HOUR = 3_600_000;
const later = Date.now() + 5 * HOUR;

const digestQueue = new Queue<DigestJob>(QUEUES.digest, { connection: redis, prefix: `{${prefix}}` });

afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  await digestQueue.obliterate({ force: true });
  await digestQueue.close();
  redis.disconnect();
  await cleanPrefix(prefix);
});

async function waitingJob(alertId: string, channelId: string): Promise<string> {
  const id = jobId('notify', deliveryKey(alertId, 1, channelId));
  await queue.add('notify', { alertId, version: 1, channelId }, { jobId: id, delay: 5 * HOUR });
  return id;
}

const deferred = (alertId: string, channelId: string, why: 'quiet-hours' | 'throttled-delayed') =>
  stores.dispatch.record(alertId, { channelId, version: 1, mode: 'deferred', why, sendAt: later, decidedAt: Date.now() });

/** A notification of channel "ops" deferred for `why` that then ran and failed: it waits for its retry's backoff. */
async function failedAndRetrying(alertId: string, why: 'quiet-hours' | 'throttled-delayed'): Promise<string> {
  await deferred(alertId, 'ops', why);
  const id = jobId('notify', deliveryKey(alertId, 1, 'ops'));
  await queue.add('notify', { alertId, version: 1, channelId: 'ops' }, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 5 * HOUR } });
  const connection = redis.duplicate();
  const failing = new Worker<NotifyJob>(QUEUES.notify, async () => { throw new Error('HTTP 500'); }, { connection, prefix: `{${prefix}}` });
  await jobSettled(queue, id, 10_000, ['delayed']);
  await failing.close();
  connection.disconnect();
  return id;
}

describe('the channels a reload frees of quiet hours', () => {
  it('are those whose quiet hours it takes out, without a throttle', () => {
    const quiet = { start: '22:00', end: '07:00' };
    const channel = (id: string, extra: object) => channelSchema.parse({ id, kind: 'webhook', url: 'https://example.org/h', ...extra });
    const before = createNotifiers([channel('a', { quietHours: quiet }), channel('b', { quietHours: quiet }), channel('c', {}), channel('d', { quietHours: quiet })]);
    const afterChannels = [channel('a', {}), channel('b', { throttle: { maxPerHour: 5 } }), channel('c', {}), channel('d', { quietHours: { ...quiet, end: '06:00' } })];
    expect([...channelsFreedOfQuietHours(before, createNotifiers(afterChannels), afterChannels)]).toEqual(['a']);
  });

  it('include a channel whose quiet hours went in an earlier reload that kept its throttle, once the throttle goes', () => {
    const quiet = { start: '22:00', end: '07:00' };
    const throttle = { maxPerHour: 5 };
    const channel = (id: string, extra: object) => channelSchema.parse({ id, kind: 'webhook', url: 'https://example.org/h', ...extra });
    const first = [channel('a', { quietHours: quiet, throttle })];
    const second = [channel('a', { throttle })];
    const third = [channel('a', {})];
    const [one, two, three] = [first, second, third].map((channels) => createNotifiers(channels));
    expect([...channelsFreedOfQuietHours(one!, two!, second)]).toEqual([]);
    expect([...channelsFreedOfQuietHours(two!, three!, third)]).toEqual(['a']);
  });
});

describe('waking the notifications that wait for quiet hours', () => {
  it('promotes the deferred and parked ones of the freed channels, once, and keeps every other wait', async () => {
    await deferred('quiet-deferred', 'ops', 'quiet-hours');
    const quietDeferred = await waitingJob('quiet-deferred', 'ops');
    await stores.deliveries.parkSlot(deliveryKey('quiet-parked', 1, 'ops'), 5 * HOUR, later);
    const quietParked = await waitingJob('quiet-parked', 'ops');
    await deferred('throttled', 'ops', 'throttled-delayed');
    const throttled = await waitingJob('throttled', 'ops');
    await deferred('elsewhere', 'other', 'quiet-hours');
    const elsewhere = await waitingJob('elsewhere', 'other');
    // A notification deferred for the quiet hours that then ran and failed waits for its backoff.
    const retrying = await failedAndRetrying('retrying', 'quiet-hours');

    const { log, lines } = memoryLogger('info');
    expect(await wakeQuietHoursWaits(queue, redis, stores, new Set(['ops']), log)).toBe(2);
    const states = async (ids: string[]) => Promise.all(ids.map((id) => queue.getJobState(id)));
    expect(await states([quietDeferred, quietParked])).toEqual(['waiting', 'waiting']);
    expect(await states([throttled, elsewhere, retrying])).toEqual(['delayed', 'delayed', 'delayed']);
    expect(lines().some((l) => l.includes('"woken":2'))).toBe(true);

    // A second reload finds nothing more to wake.
    expect(await wakeQuietHoursWaits(queue, redis, stores, new Set(['ops']), log)).toBe(0);
  });

  it('pages through a delayed set larger than a page without waking anything twice', async () => {
    await queue.obliterate({ force: true });
    const ids: string[] = [];
    for (let i = 0; i < 450; i++) {
      await deferred(`many-${i}`, i % 3 === 0 ? 'ops' : 'other', 'quiet-hours');
      ids.push(await waitingJob(`many-${i}`, i % 3 === 0 ? 'ops' : 'other'));
    }
    expect(await wakeQuietHoursWaits(queue, redis, stores, new Set(['ops']), memoryLogger('fatal').log)).toBe(150);
    expect((await queue.getDelayed(0, -1)).map((j) => j.data.channelId).every((c) => c === 'other')).toBe(true);
    expect(await queue.getDelayedCount()).toBe(300);
  });

  it('finds every one of thousands due at one instant, where BullMQ gives most of them one score', async () => {
    await queue.obliterate({ force: true });
    // Quiet hours end for many at once: past the 4,096th job due in one ms, every one shares a score, and another
    // channel's jobs come first among them.
    const at = Date.now();
    const channelOf = (i: number) => (i % 3 === 0 ? 'other' : 'ops');
    for (let i = 0; i < 6_000; i += 500) {
      const batch = Array.from({ length: 500 }, (_, k) => `instant-${i + k}`);
      await Promise.all(batch.map((alertId, k) => deferred(alertId, channelOf(i + k), 'quiet-hours')));
      await queue.addBulk(
        batch.map((alertId, k) => {
          const channelId = channelOf(i + k);
          return { name: 'notify', data: { alertId, version: 1, channelId }, opts: { jobId: jobId('notify', deliveryKey(alertId, 1, channelId)), delay: HOUR, timestamp: at } };
        }),
      );
    }
    expect(await wakeQuietHoursWaits(queue, redis, stores, new Set(['ops']), memoryLogger('fatal').log)).toBe(4_000);
    expect(await queue.getDelayedCount()).toBe(2_000);
  }, 30_000);

  it('finds every one while other jobs leave the delayed set and other replicas wake the same ones at once', async () => {
    await queue.obliterate({ force: true });
    const ops: string[] = [];
    const others: string[] = [];
    for (let i = 0; i < 1_200; i++) {
      const channel = i % 2 === 0 ? 'ops' : 'other';
      await deferred(`busy-${i}`, channel, 'quiet-hours');
      (channel === 'ops' ? ops : others).push(await waitingJob(`busy-${i}`, channel));
    }
    // Jobs of another channel come due (leave the set) throughout, ahead of the scans' positions.
    const leaving = (async () => {
      for (const id of others) await (await queue.getJob(id))?.promote();
    })();
    const log = memoryLogger('fatal').log;
    const passes = await Promise.all([1, 2, 3].map(() => wakeQuietHoursWaits(queue, redis, stores, new Set(['ops']), log)));
    await leaving;
    expect(passes.reduce((a, b) => a + b, 0)).toBe(600);
    expect((await Promise.all(ops.map((id) => queue.getJobState(id)))).filter((state) => state === 'delayed')).toEqual([]);
  }, 30_000);
});

describe('the channels a reload frees of their throttle', () => {
  it('are those throttled before and not now, whatever else they keep', () => {
    const throttle = { maxPerHour: 5 };
    const channel = (id: string, extra: object) => channelSchema.parse({ id, kind: 'webhook', url: 'https://example.org/h', ...extra });
    const before = createNotifiers([
      channel('a', { throttle }),
      channel('b', { throttle, quietHours: { start: '22:00', end: '07:00' } }),
      channel('c', { throttle }),
      channel('d', {}),
      channel('gone', { throttle }),
    ]);
    const afterChannels = [
      channel('a', {}), // freed
      channel('b', { quietHours: { start: '22:00', end: '07:00' } }), // freed: a woken job waits for their end if they have begun
      channel('c', { throttle: { maxPerHour: 50 } }), // a larger budget: its moments were put by the old one, kept
      channel('d', {}), // never throttled
    ];
    expect([...channelsFreedOfThrottle(before, createNotifiers(afterChannels), afterChannels)]).toEqual(['a', 'b']);
  });
});

describe('waking the notifications that wait for a moment of the throttle', () => {
  it('promotes the ones the throttle delayed that never ran, of the freed channels only, and forgets their counts', async () => {
    await queue.obliterate({ force: true });
    await deferred('throttle-1', 'ops', 'throttled-delayed');
    await deferred('throttle-2', 'ops', 'throttled-delayed');
    const delayed = [await waitingJob('throttle-1', 'ops'), await waitingJob('throttle-2', 'ops')];
    for (const alertId of ['throttle-1', 'throttle-2']) await stores.dispatch.reserve('ops', deliveryKey(alertId, 1, 'ops'), later, 1, 'search', Date.now());
    await deferred('quiet', 'ops', 'quiet-hours');
    const quiet = await waitingJob('quiet', 'ops');
    await deferred('throttle-other', 'other', 'throttled-delayed');
    const elsewhere = await waitingJob('throttle-other', 'other');
    // Throttle-delayed, then it ran and failed: it waits for its backoff.
    const retrying = await failedAndRetrying('throttle-retrying', 'throttled-delayed');
    expect(await stores.dispatch.reserved('ops', 0)).toHaveLength(2);

    const { log, lines } = memoryLogger('info');
    expect(await wakeThrottleWaits(queue, redis, stores, new Set(['ops']), log)).toBe(2);
    const states = async (ids: string[]) => Promise.all(ids.map((id) => queue.getJobState(id)));
    expect(await states(delayed)).toEqual(['waiting', 'waiting']);
    expect(await states([quiet, elsewhere, retrying])).toEqual(['delayed', 'delayed', 'delayed']);
    expect(lines().some((l) => l.includes('woke the notifications waiting for a moment of the throttle') && l.includes('"woken":2'))).toBe(true);
    // A throttle put back later starts from an empty hour.
    expect(await stores.dispatch.reserved('ops', 0)).toEqual([]);
    expect(await wakeThrottleWaits(queue, redis, stores, new Set(['ops']), log)).toBe(0);
  });
});

describe('the channels a reload frees of their pace', () => {
  it('are those unpaced now, without quiet hours or a throttle, that were not so before', () => {
    const channel = (id: string, kind: string, extra: object) => channelSchema.parse({ id, kind, ...(kind === 'slack' ? { webhookUrl: 'https://hooks.slack.com/services/T1/B1/x' } : { url: 'https://example.org/h' }), ...extra });
    const before = createNotifiers([
      channel('a', 'webhook', { rateLimit: { perMinute: 6 } }),
      channel('b', 'slack', {}),
      channel('c', 'webhook', {}),
      channel('d', 'slack', {}),
      channel('e', 'slack', {}),
      channel('f', 'webhook', { rateLimit: { perMinute: 6 } }),
      // Its pace went in an earlier reload that kept a throttle, which left its slot waits asleep.
      channel('g', 'slack', { rateLimit: false, throttle: { maxPerHour: 5 } }),
      channel('h', 'webhook', { quietHours: { start: '22:00', end: '07:00' } }),
    ]);
    const afterChannels = [
      channel('a', 'webhook', {}), // unpaced now: freed
      channel('b', 'slack', { rateLimit: false }), // the kind's pace turned off: freed
      channel('c', 'webhook', {}), // never paced
      channel('d', 'slack', {}), // still the kind's pace
      channel('e', 'slack', { rateLimit: false, throttle: { maxPerHour: 5 } }),
      channel('f', 'webhook', { quietHours: { start: '22:00', end: '07:00' } }),
      channel('g', 'slack', { rateLimit: false }), // the throttle goes now: freed
      // Its quiet hours go: its pace may have gone in an earlier reload that kept them (nothing tells), so its slot
      // waits are looked for too; a channel never paced has none.
      channel('h', 'webhook', {}),
      channel('new', 'webhook', {}), // not there before: nothing can wait for it
    ];
    expect([...channelsFreedOfPace(before, createNotifiers(afterChannels), afterChannels)]).toEqual(['a', 'b', 'g', 'h']);
  });
});

describe('waking the notifications that wait for their slot of the pace', () => {
  it('promotes the ones holding a slot still ahead, of the freed channels only, and keeps parked and backoff waits', async () => {
    await queue.obliterate({ force: true });
    const rate = { perMinute: 1, burst: 1 };
    // The first takes the channel's burst and goes at once (no slot held); the next two hold slots a minute apart.
    for (const alertId of ['slot-now', 'slot-1', 'slot-2']) await stores.deliveries.reserveSlot('ops', deliveryKey(alertId, 1, 'ops'), rate);
    const holding = [await waitingJob('slot-1', 'ops'), await waitingJob('slot-2', 'ops')];
    await stores.deliveries.reserveSlot('other', deliveryKey('slot-other-0', 1, 'other'), rate);
    await stores.deliveries.reserveSlot('other', deliveryKey('slot-other', 1, 'other'), rate);
    const elsewhere = await waitingJob('slot-other', 'other');
    await stores.deliveries.parkSlot(deliveryKey('parked', 1, 'ops'), 5 * HOUR, later);
    const parked = await waitingJob('parked', 'ops');
    const backoff = await waitingJob('no-slot', 'ops');

    const { log, lines } = memoryLogger('info');
    expect(await wakePaceWaits(queue, redis, stores, new Set(['ops']), log)).toBe(2);
    const states = async (ids: string[]) => Promise.all(ids.map((id) => queue.getJobState(id)));
    expect(await states(holding)).toEqual(['waiting', 'waiting']);
    expect(await states([elsewhere, parked, backoff])).toEqual(['delayed', 'delayed', 'delayed']);
    expect(lines().some((l) => l.includes('woke the notifications waiting for their slot of the pace') && l.includes('"woken":2'))).toBe(true);
    expect(await wakePaceWaits(queue, redis, stores, new Set(['ops']), log)).toBe(0);
    // The channel's pace state is forgotten: were the pace put back, a new notification would not queue behind sends
    // the wake has made.
    expect(await stores.deliveries.reserveSlot('ops', deliveryKey('after-wake', 1, 'ops'), rate)).toBe(0);
  });

  it('does not wake again a woken job whose send failed: its unpaced turn gave its slot up, its backoff holds none', async () => {
    await queue.obliterate({ force: true });
    const rate = { perMinute: 1, burst: 1 };
    const key = deliveryKey('fails-after-wake', 1, 'ops');
    await stores.deliveries.reserveSlot('ops', deliveryKey('fails-first', 1, 'ops'), rate);
    await stores.deliveries.reserveSlot('ops', key, rate);
    expect(await stores.deliveries.holdsSlot(key)).toBe(true);
    // A worker still paced reads the slot and keeps it; one unpaced now (the reload's) gives it up before sending.
    await stores.deliveries.beforeSend(key, 'fails-after-wake', 'ops', false);
    expect(await stores.deliveries.holdsSlot(key)).toBe(true);
    expect(await redis.zscore(`{${prefix}}:delivery-slots:ops`, key)).not.toBeNull();
    await stores.deliveries.beforeSend(key, 'fails-after-wake', 'ops', true);
    expect(await stores.deliveries.holdsSlot(key)).toBe(false);
    expect(await redis.zscore(`{${prefix}}:delivery-slots:ops`, key)).toBeNull();
    // Its send failed: the job waits for its backoff, and a later pass (the reload's second, another replica's) leaves it.
    const retrying = await waitingJob('fails-after-wake', 'ops');
    expect(await wakePaceWaits(queue, redis, stores, new Set(['ops']), memoryLogger('fatal').log)).toBe(0);
    expect(await queue.getJobState(retrying)).toBe('delayed');
    // A parked marker is not a slot: an unpaced turn leaves it.
    await stores.deliveries.parkSlot(key, HOUR, later);
    await stores.deliveries.beforeSend(key, 'fails-after-wake', 'ops', true);
    expect(await stores.deliveries.isParked(key)).toBe(true);
  });
});

describe('waking the digests that wait for their slot of the pace', () => {
  /** A digest job delayed as waitForSlot delays it: its id is its ledger key, the key of the slot it may hold. */
  async function waitingDigest(channelId: string, windowEnd: number): Promise<string> {
    const id = digestKey(channelId, windowEnd);
    await digestQueue.add('digest', { channelId, windowEnd }, { jobId: id, delay: 5 * HOUR });
    return id;
  }

  /** On an emptied queue: a notification takes the channel's burst, then a digest and a notification hold slots. */
  async function digestThenNotificationHoldingSlots(channelId: string, rate: { perMinute: number; burst: number }) {
    await queue.obliterate({ force: true });
    await digestQueue.obliterate({ force: true });
    await stores.deliveries.reserveSlot(channelId, deliveryKey('burst', 1, channelId), rate);
    await stores.deliveries.reserveSlot(channelId, digestKey(channelId, 1_000), rate);
    const digest = await waitingDigest(channelId, 1_000);
    await stores.deliveries.reserveSlot(channelId, deliveryKey('behind-digest', 1, channelId), rate);
    return { digest, notification: await waitingJob('behind-digest', channelId) };
  }

  it("promotes the freed channel's digests holding a slot, with its notifications, and keeps the others' waits", async () => {
    const rate = { perMinute: 1, burst: 1 };
    const { digest, notification } = await digestThenNotificationHoldingSlots('ops', rate);
    // A digest waiting for its retry's backoff holds no slot; one of a channel whose id starts like this one's is not
    // this channel's ("ops-eu"), nor is another channel's waiting for its slot.
    const backoff = await waitingDigest('ops', 2_000);
    await stores.deliveries.reserveSlot('ops-eu', deliveryKey('burst', 1, 'ops-eu'), rate);
    await stores.deliveries.reserveSlot('ops-eu', digestKey('ops-eu', 1_000), rate);
    const lookalike = await waitingDigest('ops-eu', 1_000);

    const { log, lines } = memoryLogger('info');
    expect(await wakePaceWaits(queue, redis, stores, new Set(['ops']), log, digestQueue)).toBe(2);
    expect([await digestQueue.getJobState(digest), await queue.getJobState(notification)]).toEqual(['waiting', 'waiting']);
    expect([await digestQueue.getJobState(backoff), await digestQueue.getJobState(lookalike)]).toEqual(['delayed', 'delayed']);
    expect(lines().some((l) => l.includes('"woken":1') && l.includes('"digests":1'))).toBe(true);
  });

  it('are woken alone on a channel freed of its pace that keeps quiet hours or a throttle, its notifications kept', async () => {
    const channel = (id: string, extra: object) => channelSchema.parse({ id, kind: 'webhook', url: 'https://example.org/h', ...extra });
    const quiet = { start: '22:00', end: '07:00' };
    const before = createNotifiers([channel('a', { rateLimit: { perMinute: 6 }, quietHours: quiet }), channel('b', { rateLimit: { perMinute: 6 } }), channel('c', {}), channel('d', { rateLimit: { perMinute: 6 } })]);
    const afterChannels = [channel('a', { quietHours: quiet }), channel('b', { throttle: { maxPerHour: 5 } }), channel('c', {}), channel('d', { rateLimit: { perMinute: 12 } })];
    const after = createNotifiers(afterChannels);
    expect([...channelsFreedOfPaceForDigests(before, after, afterChannels)]).toEqual(['a', 'b']);
    expect([...channelsFreedOfPace(before, after, afterChannels)]).toEqual([]);

    const { digest, notification } = await digestThenNotificationHoldingSlots('a', { perMinute: 1, burst: 1 });
    expect(await wakeDigestSlotWaits(digestQueue, redis, stores, new Set(['a']), memoryLogger('fatal').log)).toBe(1);
    expect([await digestQueue.getJobState(digest), await queue.getJobState(notification)]).toEqual(['waiting', 'delayed']);
    // The channel's pace state is kept for the notifications still holding their slots in it.
    expect(await stores.deliveries.holdsSlot(deliveryKey('behind-digest', 1, 'a'))).toBe(true);
    expect(await redis.zcard(`{${prefix}}:delivery-slots:a`)).toBeGreaterThan(0);
  });

  it('does not wake again a woken digest whose send failed: its unpaced run gave its slot up', async () => {
    await digestQueue.obliterate({ force: true });
    const rate = { perMinute: 1, burst: 1 };
    const key = digestKey('ops', 3_000);
    await stores.deliveries.reserveSlot('ops', deliveryKey('burst-2', 1, 'ops'), rate);
    await stores.deliveries.reserveSlot('ops', key, rate);
    expect(await stores.deliveries.holdsSlot(key)).toBe(true);
    // What the digest stage does on a channel unpaced now, before it sends.
    await stores.deliveries.giveUpSlot(key, 'ops');
    expect(await stores.deliveries.holdsSlot(key)).toBe(false);
    expect(await redis.zscore(`{${prefix}}:delivery-slots:ops`, key)).toBeNull();
    const retrying = await waitingDigest('ops', 3_000);
    expect(await wakePaceWaits(queue, redis, stores, new Set(['ops']), memoryLogger('fatal').log, digestQueue)).toBe(0);
    expect(await digestQueue.getJobState(retrying)).toBe('delayed');
    // A parked marker is not a slot: giving up the slot leaves it.
    await stores.deliveries.parkSlot(key, HOUR, later);
    await stores.deliveries.giveUpSlot(key, 'ops');
    expect(await stores.deliveries.isParked(key)).toBe(true);
  });
});
