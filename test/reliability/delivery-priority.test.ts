import { DelayedError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import type { Level } from '../../src/scoring/types.js';
import { jobId } from '../../src/queue/names.js';
import { type DeliveryJobContext, settleDeliveryFailure } from '../../src/queue/delivery-job.js';
import { DeliveryError } from '../../src/errors.js';
import { memoryLogger } from '../../src/log.js';
import { createDeliveryStore, MAX_ROTATED } from '../../src/store/deliveries.js';
import { makeAlert } from '../alerts/fixtures.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startRealTimeWorker, stopDeliveryWorker, type TestWorker } from './support/delivery-worker.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { jobCompleted } from './support/wait.js';

/**
 * A critical alert on a paced channel does not queue behind the routine alerts already waiting for their slots: it
 * takes the earliest slot ahead, and the delivery that held it takes the critical one's. The receiver still never
 * gets more than the rate.
 */
const prefix = uniquePrefix('delivery-priority');
const redis = new Redis(testRedisUrl());
const ledger = createDeliveryStore(redis, prefix, 3600);

afterAll(async () => {
  await cleanPrefix(prefix);
  redis.disconnect();
});

describe('slot reservations for urgent deliveries (the pace script on Redis)', () => {
  const rate = { perMinute: 60, burst: 1 };
  /**
   * A wait is counted from when the script ran, so it shrinks by however long the test took since the slots were
   * given (a busy CI machine: tens of ms). The slot itself does not move: it lies between the call plus the wait and
   * the answer plus the wait (Redis's clock and this one are both read in whole ms, rounded down).
   */
  interface Slot {
    wait: number;
    earliest: number;
    latest: number;
  }
  const reserve = async (channelId: string, key: string, urgent = false, r = rate): Promise<Slot> => {
    const from = Date.now();
    const wait = await ledger.reserveSlot(channelId, key, r, urgent);
    return { wait, earliest: from + wait, latest: Date.now() + wait };
  };
  /** `slot` is `ms` after `first` (a slot given at once, or any earlier one), however long the calls between took. */
  const near = (slot: Slot, first: Slot, ms: number) => {
    expect(slot.latest - first.earliest).toBeGreaterThanOrEqual(ms);
    expect(slot.earliest - first.latest).toBeLessThanOrEqual(ms);
  };

  it('gives an urgent delivery the earliest slot ahead and moves the waiting ones back one slot each, in order', async () => {
    const slots: Slot[] = [];
    for (let i = 0; i < 5; i++) slots.push(await reserve('swap', `n-${i}`));
    const first = slots[0]!;
    expect(first.wait).toBe(0);
    near(slots[4]!, first, 4_000);
    const urgent = await reserve('swap', 'u', true);
    near(urgent, first, 1_000);
    // Each learns of the move when it asks again (on waking): the oldest stays first among them, one slot later.
    near(await reserve('swap', 'n-1'), first, 2_000);
    near(await reserve('swap', 'n-2'), first, 3_000);
    near(await reserve('swap', 'n-3'), first, 4_000);
    near(await reserve('swap', 'n-4'), first, 5_000);
    // The urgent delivery keeps the slot it took; the next one queues after all of them: nothing was added.
    near(await reserve('swap', 'u', true), first, 1_000);
    near(await reserve('swap', 'n-5'), first, 6_000);
  });

  it('keeps a routine delivery ahead of later routine ones however many urgent ones come', async () => {
    const first = await reserve('stream', 's-0');
    near(await reserve('stream', 'r-1'), first, 1_000);
    near(await reserve('stream', 'r-2'), first, 2_000);
    for (let i = 0; i < 3; i++) await reserve('stream', `su-${i}`, true);
    const r1 = await reserve('stream', 'r-1');
    const r2 = await reserve('stream', 'r-2');
    near(r1, first, 4_000);
    near(r2, first, 5_000);
  });

  it('keeps a critical delivery urgent when it takes a new slot after a 429', async () => {
    const job = { attemptsMade: 0, opts: { attempts: 3 }, moveToDelayed: async () => undefined } as unknown as Job;
    const ctx: DeliveryJobContext = {
      job,
      key: 'c-1',
      base: { alertId: 'c', version: 1, channelId: 'after-429' },
      deliveries: ledger,
      maxRateLimitWaits: 5,
      now: () => new Date(),
      log: memoryLogger('fatal').log,
      what: 'delivery',
      rateLimit: rate,
      urgent: true,
    };
    const first = await reserve('after-429', 'first');
    await expect(settleDeliveryFailure(ctx, DeliveryError.rateLimited('after-429', 1, 'HTTP 429'))).rejects.toBeInstanceOf(DelayedError);
    // A later critical one queues after it, as after any urgent delivery: it does not take its slot.
    near(await reserve('after-429', 'c-2', true), first, 2_000);
    near(await reserve('after-429', 'c-1', true), first, 1_000);
  });

  it('does not take a slot from another urgent delivery, and sends at once when the burst allows', async () => {
    const burst = { perMinute: 60, burst: 2 };
    const first = await reserve('urgent-only', 'u-0', true, burst);
    expect(first.wait).toBe(0);
    expect((await reserve('urgent-only', 'u-1', true, burst)).wait).toBe(0);
    near(await reserve('urgent-only', 'u-2', true, burst), first, 1_000);
    near(await reserve('urgent-only', 'u-3', true, burst), first, 2_000);
    near(await reserve('urgent-only', 'u-2', true, burst), first, 1_000);
  });

  it('moves back at most MAX_ROTATED waiting routine deliveries for an urgent one; the ones further back keep their slots', async () => {
    const count = MAX_ROTATED + 30;
    // Slots are read as Date.now() plus the wait: a loaded runner reads late. A move is a whole second, well apart.
    const TOLERANCE_MS = 400;
    for (let i = 0; i <= count; i++) await ledger.reserveSlot('bounded', `bd-${i}`, rate);
    /** When each delivery's slot is, as asking again tells it (asking again changes nothing). */
    const slots = async () => {
      const at: number[] = [];
      for (let i = 1; i <= count; i++) at.push(Date.now() + (await ledger.reserveSlot('bounded', `bd-${i}`, rate)));
      return at;
    };
    const before = await slots();
    const urgentAt = Date.now() + (await ledger.reserveSlot('bounded', 'bu', rate, true));
    expect(Math.abs(urgentAt - before[0]!)).toBeLessThan(TOLERANCE_MS);
    const after = await slots();
    const moved = after.map((at, i) => at - before[i]!);
    for (let i = 0; i < MAX_ROTATED - 1; i++) expect(Math.abs(moved[i]! - 1_000), `bd-${i + 1}`).toBeLessThan(TOLERANCE_MS);
    // The last one moved takes the urgent delivery's slot, behind the ones further back, which keep theirs.
    expect(Math.abs(after[MAX_ROTATED - 1]! - (before[count - 1]! + 1_000))).toBeLessThan(TOLERANCE_MS);
    for (let i = MAX_ROTATED; i < count; i++) expect(Math.abs(moved[i]!), `bd-${i + 1}`).toBeLessThan(TOLERANCE_MS);
    // No slot was added: the next routine delivery queues one interval after the last one given.
    const next = Date.now() + (await ledger.reserveSlot('bounded', 'bd-next', rate));
    expect(Math.abs(next - (after[MAX_ROTATED - 1]! + 1_000))).toBeLessThan(TOLERANCE_MS);
  });

  it('takes no slot that a 429 block overran', async () => {
    const first = await reserve('blocked', 'b-0');
    near(await reserve('blocked', 'b-1'), first, 1_000);
    near(await reserve('blocked', 'b-2'), first, 2_000);
    await ledger.blockChannelFor('blocked', 1_500);
    // b-1's slot (1 s) falls inside the block; b-2's (2 s) is after it: that is the one to take.
    near(await reserve('blocked', 'b-u', true), first, 2_000);
  });
});

describe('a critical alert on a busy paced channel', () => {
  const INTERVAL_MS = 200;
  const JITTER_MS = 150;
  let receiver: Receiver;
  let run: TestWorker;

  beforeAll(async () => {
    receiver = await startReceiver();
    run = await startRealTimeWorker(
      {
        'channels.yaml': `channels:\n  - { id: busy, kind: webhook, url: "${receiver.urlFor('busy')}", rateLimit: { perMinute: ${60_000 / INTERVAL_MS} } }\n`,
        'settings.yaml': `redis: { prefix: ${prefix}-e2e }\nhttp: { allowPrivateAddresses: true }\n`,
      },
    );
  }, 30_000);

  afterAll(() => stopDeliveryWorker(run, receiver));

  async function notify(alertId: string, level: Level): Promise<string> {
    const { stores, queues } = run.worker.context;
    await stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId, level }), result: null }));
    const id = jobId('notify', deliveryKey(alertId, 1, 'busy'));
    await queues.notify.add('notify', { alertId, version: 1, channelId: 'busy' }, { jobId: id });
    return id;
  }

  it('is sent in the next slot, ahead of the routine alerts waiting, and the channel still gets no more than its rate', async () => {
    const queue = run.worker.context.queues.notify;
    const routine = await Promise.all(Array.from({ length: 8 }, (_, i) => notify(`a-routine-${i}`, 'medium')));
    // Every routine alert has run once and holds its slot (the first went at once).
    await vi.waitFor(async () => expect((await queue.getJobCounts('delayed')).delayed).toBe(7), { timeout: 5_000, interval: 20 });
    const critical = await notify('a-critical', 'critical');
    for (const id of [...routine, critical]) await jobCompleted(queue, id, 15_000);

    const accepted = receiver.requests.filter((r) => r.status === 200).sort((a, b) => a.at - b.at);
    expect(accepted).toHaveLength(9);
    expect(receiver.accepted('busy').duplicates).toBe(0);
    // The first routine alert went before the critical one was raised; the critical one takes the next slot.
    expect(accepted.findIndex((r) => r.alertId === 'a-critical')).toBeLessThanOrEqual(2);
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]!.at - accepted[i - 1]!.at, `request ${i}`).toBeGreaterThanOrEqual(INTERVAL_MS - JITTER_MS);
    expect(accepted.at(-1)!.at - accepted[0]!.at).toBeGreaterThanOrEqual(8 * INTERVAL_MS - JITTER_MS);
  }, 30_000);
});
