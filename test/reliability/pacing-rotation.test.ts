import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { jobId } from '../../src/queue/names.js';
import type { Level } from '../../src/scoring/types.js';
import { createDeliveryStore, MAX_ROTATED } from '../../src/store/deliveries.js';
import { makeAlert } from '../alerts/fixtures.js';
import { startTestWorker } from '../alerts/harness.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { type Receiver, startReceiver } from './support/receiver.js';

/**
 * A critical alert on a paced channel with more than MAX_ROTATED routine deliveries waiting: it takes the earliest
 * slot, and every routine delivery ahead of its own slot moves back exactly one slot, in order, the ones past
 * MAX_ROTATED included (as the ones before them wake), instead of one of them going to the back of the queue.
 */
const prefix = uniquePrefix('pacing-rotation');
const redis = new Redis(testRedisUrl());
const ledger = createDeliveryStore(redis, prefix, 3600);
const rate = { perMinute: 60, burst: 1 };

afterAll(async () => {
  await cleanPrefix(prefix);
  redis.disconnect();
});

/** Queues `count` routine deliveries after one sent at once; returns when each one's slot is (its wait from now). */
async function queueRoutine(channel: string, count: number): Promise<number[]> {
  await ledger.reserveSlot(channel, `${channel}-0`, rate);
  const at: number[] = [];
  for (let i = 1; i <= count; i++) at.push(Date.now() + (await ledger.reserveSlot(channel, `${channel}-${i}`, rate)));
  return at;
}

/** Asks again for each slot, in queue order, as the deliveries do when they wake: where each one's slot is now. */
async function wakeInOrder(channel: string, count: number): Promise<number[]> {
  const at: number[] = [];
  for (let i = 1; i <= count; i++) at.push(Date.now() + (await ledger.reserveSlot(channel, `${channel}-${i}`, rate)));
  return at;
}

describe('a critical alert displacing more than MAX_ROTATED waiting routine deliveries', () => {
  it('moves every one of them back one slot, in order, none to the back of the queue', async () => {
    const count = MAX_ROTATED + 20;
    const before = await queueRoutine('long', count);
    const urgentAt = Date.now() + (await ledger.reserveSlot('long', 'long-urgent', rate, true));
    expect(Math.abs(urgentAt - before[0]!)).toBeLessThan(100);

    const after = await wakeInOrder('long', count);
    for (let i = 0; i < count; i++) expect(Math.abs(after[i]! - (before[i]! + 1_000)), `long-${i + 1}`).toBeLessThan(100);
    // Still one delivery a slot: no two share one.
    for (let i = 1; i < count; i++) expect(after[i]! - after[i - 1]!, `long-${i + 1}`).toBeGreaterThan(900);
    // No slot was added: the next routine delivery queues one interval after the last one.
    const next = Date.now() + (await ledger.reserveSlot('long', 'long-next', rate));
    expect(Math.abs(next - (after[count - 1]! + 1_000))).toBeLessThan(100);
  });

  it('moves the ones past MAX_ROTATED only as the ones before them wake, a slot ahead of their turn', async () => {
    const count = MAX_ROTATED + 5;
    const before = await queueRoutine('lazy', count);
    await ledger.reserveSlot('lazy', 'lazy-urgent', rate, true);
    // The last one, asked before any other wakes, still has its slot: the urgent call moved a bounded number.
    const last = Date.now() + (await ledger.reserveSlot('lazy', `lazy-${count}`, rate));
    expect(Math.abs(last - before[count - 1]!)).toBeLessThan(100);
    const after = await wakeInOrder('lazy', count);
    for (let i = 0; i < count; i++) expect(Math.abs(after[i]! - (before[i]! + 1_000)), `lazy-${i + 1}`).toBeLessThan(100);
  });

  it('keeps the order of two critical alerts in a row and of the routine deliveries behind them', async () => {
    const count = MAX_ROTATED + 10;
    const before = await queueRoutine('two', count);
    const first = Date.now() + (await ledger.reserveSlot('two', 'two-u1', rate, true));
    const second = Date.now() + (await ledger.reserveSlot('two', 'two-u2', rate, true));
    expect(Math.abs(first - before[0]!)).toBeLessThan(100);
    expect(Math.abs(second - before[1]!)).toBeLessThan(100);
    const after = await wakeInOrder('two', count);
    for (let i = 0; i < count; i++) expect(Math.abs(after[i]! - (before[i]! + 2_000)), `two-${i + 1}`).toBeLessThan(100);
    for (let i = 1; i < count; i++) expect(after[i]! - after[i - 1]!, `two-${i + 1}`).toBeGreaterThan(900);
  });
});

describe('a critical alert on a paced channel with more than MAX_ROTATED routine alerts waiting', () => {
  const INTERVAL_MS = 200;
  const JITTER_MS = 150;
  let receiver: Receiver;
  let run: Awaited<ReturnType<typeof startTestWorker>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    run = await startTestWorker(
      {
        'sources.yaml': 'sources: []\n',
        'watchlists.yaml': 'watchlists: []\n',
        'channels.yaml': `channels:\n  - { id: busy, kind: webhook, url: "${receiver.urlFor('busy')}", rateLimit: { perMinute: ${60_000 / INTERVAL_MS} } }\n`,
        'settings.yaml': `redis: { prefix: ${prefix}-e2e }\nhttp: { allowPrivateAddresses: true }\n`,
      },
      {},
      [],
      {
        get now() {
          return Date.now();
        },
      },
    );
  }, 30_000);

  afterAll(async () => {
    await run?.stop();
    await receiver?.close();
  });

  async function notify(alertId: string, level: Level): Promise<string> {
    const { stores, queues } = run.worker.context;
    await stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId, level }), result: null }));
    const id = jobId('notify', deliveryKey(alertId, 1, 'busy'));
    await queues.notify.add('notify', { alertId, version: 1, channelId: 'busy' }, { jobId: id });
    return id;
  }

  it('sends the routine alerts in the order of their slots, one slot later each, at the pace', async () => {
    const queue = run.worker.context.queues.notify;
    const count = MAX_ROTATED + 6;
    const routine = await Promise.all(Array.from({ length: count }, (_, i) => notify(`e-routine-${i}`, 'medium')));
    await vi.waitFor(async () => expect((await queue.getJobCounts('delayed')).delayed).toBe(count - 1), { timeout: 10_000, interval: 20 });
    // The order the routine alerts hold their slots in, before the critical one comes.
    const held = await redis.zrange(`{${prefix}-e2e}:delivery-slots:busy`, '0', '-1');
    const critical = await notify('e-critical', 'critical');
    for (const id of [...routine, critical]) {
      await vi.waitFor(async () => expect(await (await queue.getJob(id))?.getState()).toBe('completed'), { timeout: 30_000, interval: 50 });
    }
    const accepted = receiver.requests.filter((r) => r.status === 200).sort((a, b) => a.at - b.at);
    expect(accepted).toHaveLength(count + 1);
    expect(receiver.accepted('busy').duplicates).toBe(0);
    expect(accepted.findIndex((r) => r.alertId === 'e-critical')).toBeLessThanOrEqual(2);
    const sentOrder = accepted.filter((r) => r.alertId !== 'e-critical').map((r) => deliveryKey(r.alertId, 1, 'busy'));
    expect(sentOrder.slice(-held.length)).toEqual(held);
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]!.at - accepted[i - 1]!.at, `request ${i}`).toBeGreaterThanOrEqual(INTERVAL_MS - JITTER_MS);
    expect(accepted.at(-1)!.at - accepted[0]!.at).toBeGreaterThanOrEqual(count * INTERVAL_MS - JITTER_MS);
  }, 60_000);
});
