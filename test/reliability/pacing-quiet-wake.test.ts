import { DelayedError, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { jobId } from '../../src/queue/names.js';
import { recordStalledOut, settleDeliveryFailure, waitForSlot, type DeliveryJobContext } from '../../src/queue/delivery-job.js';
import { QUEUES } from '../../src/queue/names.js';
import { DeliveryError } from '../../src/errors.js';
import { holdQuietForDigest } from '../../src/alerts/dispatch.js';
import { keyFor } from '../../src/store/keys.js';
import { memoryLogger } from '../../src/log.js';
import type { Level } from '../../src/scoring/types.js';
import type { PipelineMetrics } from '../../src/worker/context.js';
import { deliverStage, recordSent } from '../../src/pipeline/deliver.js';
import { digestStage } from '../../src/pipeline/digest.js';
import { makeAlert } from '../alerts/fixtures.js';
import { startTestWorker } from '../alerts/harness.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { enqueueDigest } from '../../src/queue/digest-schedule.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { QUIET_END, QUIET_START, shiftedClock } from './support/quiet-clock.js';

/**
 * A routine delivery parked past its paced channel's quiet hours that wakes early (an operator promotes its delayed
 * job, or a worker whose clock runs ahead does): it waits again, and is sent only once the quiet hours are over. On a
 * channel that defers its quiet hours to its digest, it is held for the digest instead of parked. The worker's clock
 * runs at real speed from just before 22:00 UTC; the quiet hours are 22:00-22:01 UTC.
 */
const prefix = uniquePrefix('pacing-quiet-wake');
const clock = shiftedClock();
const HOUR = 3_600_000;
const rate = { perMinute: 60, burst: 1 };

let receiver: Receiver;
let run: Awaited<ReturnType<typeof startTestWorker>>;
/** Pipeline-clock time of each accepted request, by channel. */
const sentAt = new Map<string, number[]>();
/** Pace waits the worker counted, by channel. */
const paceWaits = new Map<string, number>();

beforeAll(async () => {
  receiver = await startReceiver();
  receiver.respond = (req) => {
    sentAt.set(req.channel, [...(sentAt.get(req.channel) ?? []), req.at + clock.offset]);
    return { status: 200 };
  };
  const channel = (id: string, defer = 'end', rateLimit = '{ perMinute: 60 }') =>
    `  - id: ${id}\n    kind: webhook\n    url: "${receiver.urlFor(id)}"\n    rateLimit: ${rateLimit}\n    quietHours: { start: "22:00", end: "22:01", timezone: UTC, defer: ${defer} }`;
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists: []\n',
      'channels.yaml':
        `channels:\n${channel('idle')}\n    throttle: { maxPerHour: 10 }\n${channel('busy')}\n${channel('digested', 'digest')}\n    throttle: { maxPerHour: 10 }\n    digest: { schedule: "0 8 * * *" }\n` +
        `${channel('night', 'digest')}\n    throttle: { maxPerHour: 10 }\n    digest: { schedule: "0 8 * * *" }\n` +
        `${channel('plain', 'end', 'false')}\n` +
        `${channel('twin', 'digest', 'false')}\n    throttle: { maxPerHour: 10 }\n    digest: { schedule: "0 8 * * *" }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
    },
    {},
    [],
    clock,
  );
  const counter = { inc: () => undefined };
  run.worker.context.metrics = {
    ...{ polls: counter, items: counter, assessments: counter, alerts: counter, deliveries: counter, conflicts: counter },
    observePaceWait: (channelId: string) => void paceWaits.set(channelId, (paceWaits.get(channelId) ?? 0) + 1),
  } as PipelineMetrics;
}, 30_000);

afterAll(async () => {
  await run?.stop();
  await receiver?.close();
  await cleanPrefix(prefix);
});

async function storeAlert(alertId: string, level: Level): Promise<void> {
  await run.worker.context.stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId, level }), result: null }));
}

async function notify(alertId: string, channelId: string, level: Level): Promise<string> {
  await storeAlert(alertId, level);
  const id = jobId('notify', deliveryKey(alertId, 1, channelId));
  await run.worker.context.queues.notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
  return id;
}

/** Promotes a delayed job and waits until a worker has run it again (it completed, or it was delayed once more). */
async function promoteAndRun(id: string): Promise<Job> {
  const queue = run.worker.context.queues.notify;
  const promotedAt = Date.now();
  await (await queue.getJob(id))!.promote();
  return vi.waitFor(
    async () => {
      // The state first: a job read before it could predate the move that the state shows.
      const state = await queue.getJobState(id);
      const job = (await queue.getJob(id))!;
      expect(job.processedOn).toBeGreaterThanOrEqual(promotedAt);
      expect(['completed', 'delayed']).toContain(state);
      return job;
    },
    { timeout: 10_000, interval: 50 },
  );
}

/** Parks a routine delivery as the notify job does (its slot in the quiet hours), the job a stand-in. */
async function park(key: string, channelId: string, nowMs: number, waitMs: number, movedTo?: number): Promise<void> {
  const ctx = {
    job: { moveToDelayed: async () => undefined },
    key,
    base: { channelId },
    deliveries: run.worker.context.stores.deliveries,
    maxRateLimitWaits: 5,
    now: () => new Date(nowMs),
    log: memoryLogger('fatal').log,
    what: 'delivery',
    quietHours: { start: '22:00', end: '22:01', timezone: 'UTC' },
    ...(movedTo !== undefined && { moveThrottle: async () => movedTo }),
  } as unknown as DeliveryJobContext;
  await expect(waitForSlot(ctx, waitMs, true)).rejects.toBeInstanceOf(DelayedError);
}

const stageAt = (alertId: string, channelId: string, nowMs: number) => {
  const { stores, runtime } = run.worker.context;
  return deliverStage({ alertId, version: 1, channelId }, { ...stores, state: runtime.state, log: memoryLogger('fatal').log, now: () => new Date(nowMs) });
};

/**
 * Checks a wait against the slot it should end at, `expected` ms after `t0` (taken just before the first slot was
 * given): measured from Date.now() rather than as a wait, so that a loaded machine's pauses between calls do not count.
 */
const slotNear = (t0: number, waitMs: number, expected: number) => {
  const at = Date.now() + waitMs - t0;
  expect(at).toBeGreaterThanOrEqual(expected - 5);
  expect(at).toBeLessThan(expected + 300);
};

describe('a parked routine delivery whose job is promoted while the quiet hours are still on', () => {
  it('is not sent in them: it waits again for their end, counted once, and is sent then', async () => {
    const { stores, queues } = run.worker.context;
    clock.offset = Date.parse('2025-07-01T21:59:58.500Z') - Date.now();
    const decidedAt = clock.now;
    // Three slots taken ahead of it put its own in the quiet hours, however late a loaded worker runs the job.
    for (let i = 0; i < 3; i++) await stores.deliveries.reserveSlot('idle', `filler-${i}`, rate);
    // As the dispatch decided it: its throttle slot reserved now.
    await stores.dispatch.reserve('idle', deliveryKey('early', 1, 'idle'), decidedAt, 10, 'search', decidedAt);
    const id = await notify('early', 'idle', 'medium');
    await vi.waitFor(async () => expect(await (await queues.notify.getJob(id))!.getState()).toBe('delayed'), { timeout: 10_000, interval: 50 });
    expect(await stores.dispatch.reserved('idle', 0)).toEqual([QUIET_END]);
    expect(paceWaits.get('idle')).toBe(1);

    // Past every slot taken, the channel idle, still inside the quiet hours: an operator promotes it.
    await vi.waitFor(() => expect(clock.now).toBeGreaterThan(QUIET_START + 3_000), { timeout: 10_000, interval: 50 });
    const job = await promoteAndRun(id);
    expect(await job.getState()).toBe('delayed');
    expect(sentAt.get('idle')).toBeUndefined();
    // It wakes at their end again, its throttle count still there (moved once), its wait counted once.
    expect(Math.abs(job.processedOn! + job.delay - (Date.now() + (QUIET_END - clock.now)))).toBeLessThan(1_000);
    expect(await stores.dispatch.reserved('idle', 0)).toEqual([QUIET_END]);
    expect(paceWaits.get('idle')).toBe(1);

    // The quiet hours end: it is sent, once.
    clock.offset += QUIET_END - clock.now + 100;
    expect(await (await promoteAndRun(id)).getState()).toBe('completed');
    expect(sentAt.get('idle')).toHaveLength(1);
    expect(sentAt.get('idle')![0]).toBeGreaterThanOrEqual(QUIET_END);
    expect(paceWaits.get('idle')).toBe(1);
  }, 30_000);
});

describe('a parked routine delivery woken early on a busy channel (the stage, on the pace script)', () => {
  it('keeps its place for a critical alert and takes no new slot', async () => {
    const { deliveries } = run.worker.context.stores;
    const parked = deliveryKey('busy-1', 1, 'busy');
    await storeAlert('busy-1', 'medium');
    const t0 = Date.now();
    await deliveries.reserveSlot('busy', 'b-0', rate);
    const slot = await deliveries.paceTurn('busy', parked, rate);
    slotNear(t0, slot.waitMs, 1_000);
    slotNear(t0, await deliveries.reserveSlot('busy', 'b-2', rate), 2_000);
    await park(parked, 'busy', QUIET_START - 500, slot.waitMs);

    expect(await stageAt('busy-1', 'busy', QUIET_START + 10_000)).toEqual({ status: 'parked', untilMs: QUIET_END });
    // A critical alert takes its place, as if it had not woken; the next routine one queues behind, no slot skipped.
    slotNear(t0, await deliveries.reserveSlot('busy', 'b-u', rate, true), 1_000);
    slotNear(t0, await deliveries.reserveSlot('busy', 'b-3', rate), 4_000);
    // Woken at the end, it takes a new slot of the pace (its wait counted when it parked).
    expect(await stageAt('busy-1', 'busy', QUIET_END)).toMatchObject({ status: 'paced', first: false });
  });

  it('waits for the moment its throttle count was moved to, past the end of the quiet hours', async () => {
    const parked = deliveryKey('late-1', 1, 'busy');
    await storeAlert('late-1', 'medium');
    const turn = await run.worker.context.stores.deliveries.paceTurn('busy', parked, rate);
    await park(parked, 'busy', QUIET_START - 10, Math.max(turn.waitMs, 100), QUIET_END + HOUR);
    expect(await stageAt('late-1', 'busy', QUIET_END + 60_000)).toEqual({ status: 'parked', untilMs: QUIET_END + HOUR });
  });

  it('waits again on a channel a reload left unpaced: its quiet hours still hold it', async () => {
    const { stores, runtime } = run.worker.context;
    const parked = deliveryKey('unpaced-1', 1, 'busy');
    await storeAlert('unpaced-1', 'medium');
    const turn = await stores.deliveries.paceTurn('busy', parked, rate);
    await park(parked, 'busy', QUIET_START - 10, Math.max(turn.waitMs, 100));
    const notifiers = runtime.state.notifiers;
    const unpaced = { ...runtime.state, notifiers: { get: (id: string) => notifiers.get(id) && { ...notifiers.get(id)!, rateLimit: undefined } } } as typeof runtime.state;
    const outcome = await deliverStage(
      { alertId: 'unpaced-1', version: 1, channelId: 'busy' },
      { ...stores, state: unpaced, log: memoryLogger('fatal').log, now: () => new Date(QUIET_START + 10_000) },
    );
    expect(outcome).toEqual({ status: 'parked', untilMs: QUIET_END });
  });

  it('does not hold a critical alert: a newer content of the alert that is critical takes its turn', async () => {
    const parked = deliveryKey('crit-1', 1, 'busy');
    await storeAlert('crit-1', 'medium');
    const turn = await run.worker.context.stores.deliveries.paceTurn('busy', parked, rate);
    await park(parked, 'busy', QUIET_START - 10, Math.max(turn.waitMs, 100));
    await storeAlert('crit-1', 'critical');
    expect(await stageAt('crit-1', 'busy', QUIET_START + 10_000)).toMatchObject({ status: 'paced' });
  });
});

describe('a routine delivery paced into the quiet hours of a channel that defers them to its digest', () => {
  it('is held for the digest instead of waiting for their end, and goes out once, in the digest', async () => {
    const { stores, queues } = run.worker.context;
    clock.offset = Date.parse('2025-07-01T21:59:58.500Z') - Date.now();
    const decidedAt = clock.now;
    for (let i = 0; i < 3; i++) await stores.deliveries.reserveSlot('digested', `d-filler-${i}`, rate);
    const key = deliveryKey('night', 1, 'digested');
    await stores.dispatch.reserve('digested', key, decidedAt, 10, 'deny', decidedAt);
    const id = await notify('night', 'digested', 'high');
    await vi.waitFor(async () => expect(await (await queues.notify.getJob(id))!.getState()).toBe('completed'), { timeout: 10_000, interval: 50 });
    expect((await queues.notify.getJob(id))!.returnvalue).toEqual({ status: 'skipped', reason: 'held-for-digest' });
    expect(sentAt.get('digested')).toBeUndefined();
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped' });
    expect((await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER)).map((h) => h.alertId)).toEqual(['night']);
    // Not sent by itself: it gives its throttle count back, as an alert routed to the digest takes none.
    expect(await stores.dispatch.reserved('digested', 0)).toEqual([]);
    // Run again (a twin, or a re-run after a crash), even after the quiet hours, it sends nothing by itself.
    expect(await stageAt('night', 'digested', QUIET_END + 1_000)).toMatchObject({ status: 'skipped' });

    // The digest carries it.
    const windowEnd = Date.parse('2025-07-02T08:00:00.000Z');
    clock.offset = windowEnd + 1_000 - Date.now();
    await enqueueDigest(queues.digest, 'digested', windowEnd);
    await vi.waitFor(() => expect(sentAt.get('digested')).toHaveLength(1), { timeout: 10_000, interval: 50 });
    expect((await stores.digests.carried('digested', windowEnd))?.held.map((h) => h.alertId)).toEqual(['night']);
    expect(await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER)).toEqual([]);
  }, 30_000);

  it('is not sent by itself when its job runs again after the digest carried it', async () => {
    const { stores } = run.worker.context;
    const key = deliveryKey('carried', 1, 'digested');
    await storeAlert('carried', 'high');
    expect(await stores.deliveries.holdForDigest(key, { alertId: 'carried', version: 1, channelId: 'digested' }, 'test', new Date(QUIET_START))).toBe('held');
    // The digest took it out of the holding.
    await stores.digests.clear('digested', await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER));
    expect(await stageAt('carried', 'digested', QUIET_END + HOUR)).toEqual({ status: 'skipped', reason: 'ended' });
  });

  it('is not held once a newer version of the alert is decided for the channel: that version owns the holding', async () => {
    const { stores } = run.worker.context;
    const key = deliveryKey('newer', 1, 'digested');
    await stores.dispatch.record('newer', { channelId: 'digested', version: 2, mode: 'immediate', why: 'immediate', sendAt: QUIET_START, decidedAt: QUIET_START });
    expect(await stores.deliveries.holdForDigest(key, { alertId: 'newer', version: 1, channelId: 'digested' }, 'test', new Date(QUIET_START))).toBe('newer');
    expect(await stores.deliveries.get(key)).toBeUndefined();
    expect(await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it('is not held once some of its recipients have it: the rest get it by itself', async () => {
    const { stores } = run.worker.context;
    const key = deliveryKey('partial', 1, 'digested');
    const base = { alertId: 'partial', version: 1, channelId: 'digested' };
    await stores.deliveries.recordAttempt(key, base, { status: 'pending', recipients: { 'x@example.com': 'accepted', 'y@example.com': 'deferred' }, at: new Date(QUIET_START) });
    expect(await stores.deliveries.holdForDigest(key, base, 'test', new Date(QUIET_START))).toBe('reached');
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'pending' });
    expect(await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER)).toEqual([]);
  });
});

/** A notify job's context as the job builds it, for a delivery on the 'digested' channel (the job a stand-in). */
function jobContext(alertId: string, version: number, nowMs: number, extra: Partial<DeliveryJobContext> = {}): DeliveryJobContext {
  const { stores } = run.worker.context;
  const key = deliveryKey(alertId, version, 'digested');
  const base = { alertId, version, channelId: 'digested' };
  return {
    job: { moveToDelayed: async () => undefined, attemptsMade: 0, opts: { attempts: 3 } },
    key,
    base,
    deliveries: stores.deliveries,
    maxRateLimitWaits: 5,
    now: () => new Date(nowMs),
    log: memoryLogger('fatal').log,
    what: 'delivery',
    quietHours: { start: '22:00', end: '22:01', timezone: 'UTC' },
    holdForDigest: () => holdQuietForDigest(stores, { key, base }, new Date(nowMs)),
    ...extra,
  } as unknown as DeliveryJobContext;
}

const pendingIds = async (channelId: string) => (await run.worker.context.stores.digests.pending(channelId, Number.MAX_SAFE_INTEGER)).map((h) => h.alertId);

describe('a throttle backlog scheduled inside the quiet hours of a paced channel, its pace slot a moment later', () => {
  it('is sent in them at that slot, not moved past them again', async () => {
    const { stores } = run.worker.context;
    clock.offset = QUIET_START + 5_000 - Date.now();
    // Deferred by its decision to a moment in these quiet hours on purpose (a backlog past two weeks of them); two
    // deliveries hold the next slots, so its own comes a few seconds on, still in them.
    await storeAlert('backlog-paced', 'medium');
    await stores.dispatch.record('backlog-paced', { channelId: 'busy', version: 1, mode: 'deferred', why: 'throttled-delayed', sendAt: clock.now, inQuietHours: true, decidedAt: QUIET_START - 15 * 24 * HOUR });
    for (let i = 0; i < 5; i++) await stores.deliveries.reserveSlot('busy', `backlog-filler-${i}`, rate);
    const before = sentAt.get('busy')?.length ?? 0;
    const waitsBefore = paceWaits.get('busy') ?? 0;
    const id = jobId('notify', deliveryKey('backlog-paced', 1, 'busy'));
    await run.worker.context.queues.notify.add('notify', { alertId: 'backlog-paced', version: 1, channelId: 'busy' }, { jobId: id });

    await vi.waitFor(() => expect(sentAt.get('busy')?.length ?? 0).toBe(before + 1), { timeout: 15_000, interval: 50 });
    const at = sentAt.get('busy')!.at(-1)!;
    expect(at).toBeGreaterThanOrEqual(QUIET_START + 6_000);
    expect(at).toBeLessThan(QUIET_END);
    // It did wait for its slot (the case this guards), once.
    expect(paceWaits.get('busy')).toBe(waitsBefore + 1);
    expect(await stores.deliveries.get(deliveryKey('backlog-paced', 1, 'busy'))).toMatchObject({ status: 'delivered' });
  }, 30_000);

  it('is sent in them at that slot when it was parked for a moment in them, its throttle count not moved again', async () => {
    const { stores } = run.worker.context;
    clock.offset = QUIET_START + 5_000 - Date.now();
    const key = deliveryKey('backlog-parked', 1, 'idle');
    await storeAlert('backlog-parked', 'medium');
    // As a job parks it when the throttle count moved past the quiet hours lands in later ones: due now.
    const due = clock.now - 100;
    await stores.deliveries.parkSlot(key, HOUR, due, true);
    await stores.dispatch.reserve('idle', key, due, 10, 'search', due);
    for (let i = 0; i < 5; i++) await stores.deliveries.reserveSlot('idle', `parked-filler-${i}`, rate);
    const before = sentAt.get('idle')?.length ?? 0;
    const countedAfter = async () => (await stores.dispatch.reserved('idle', 0)).filter((at) => at >= QUIET_END).length;
    const countedAfterBefore = await countedAfter();
    const id = jobId('notify', key);
    await run.worker.context.queues.notify.add('notify', { alertId: 'backlog-parked', version: 1, channelId: 'idle' }, { jobId: id });

    await vi.waitFor(() => expect(sentAt.get('idle')?.length ?? 0).toBe(before + 1), { timeout: 15_000, interval: 50 });
    expect(sentAt.get('idle')!.at(-1)!).toBeLessThan(QUIET_END);
    // The slot replaced the parked marker while it waited; its job kept the moment.
    expect((await run.worker.context.queues.notify.getJob(id))!.data.dueInQuietHours).toBe(due);
    expect(await countedAfter()).toBe(countedAfterBefore);
  }, 30_000);

  it('waits for that moment when its job wakes a little early in them, instead of being moved past them', async () => {
    const { stores } = run.worker.context;
    await storeAlert('backlog-early', 'medium');
    await stores.dispatch.record('backlog-early', { channelId: 'busy', version: 1, mode: 'deferred', why: 'throttled-delayed', sendAt: QUIET_START + 5_000, inQuietHours: true, decidedAt: QUIET_START - 15 * 24 * HOUR });
    expect(await stageAt('backlog-early', 'busy', QUIET_START + 4_995)).toEqual({ status: 'parked', untilMs: QUIET_START + 5_000 });
    // Come, it takes its turn on the paced channel there.
    expect(['paced', 'delivered']).toContain((await stageAt('backlog-early', 'busy', QUIET_START + 5_000)).status);
  });

  it('keeps its slot after a 429 in them too, instead of parking past them', async () => {
    const delayed: number[] = [];
    const key = deliveryKey('backlog-429', 1, 'busy');
    await storeAlert('backlog-429', 'medium');
    const ctx = {
      ...jobContext('backlog-429', 1, QUIET_START + 5_000, { key, base: { alertId: 'backlog-429', version: 1, channelId: 'busy' } }),
      job: { moveToDelayed: async (at: number) => void delayed.push(at - Date.now()), updateData: async () => undefined, data: {}, attemptsMade: 0, opts: { attempts: 3 } },
      holdForDigest: undefined,
      rateLimit: rate,
      moveThrottle: async () => QUIET_END + HOUR,
    } as unknown as DeliveryJobContext;
    const parked = async () => (await run.worker.context.runtime.redis.get(keyFor(prefix, 'delivery-slot', key)))?.startsWith('parked');

    await expect(settleDeliveryFailure({ ...ctx, dueInQuietHours: QUIET_START + 4_000 }, DeliveryError.rateLimited('busy', 2_000, 'HTTP 429'))).rejects.toBeInstanceOf(DelayedError);
    expect(delayed).toHaveLength(1);
    expect(delayed[0]).toBeGreaterThan(1_000);
    expect(delayed[0]).toBeLessThan(QUIET_END - QUIET_START - 5_000);
    expect(await parked()).toBeFalsy();
    // Not scheduled there on purpose: the same 429 parks it past them.
    await expect(settleDeliveryFailure(ctx, DeliveryError.rateLimited('busy', 2_000, 'HTTP 429'))).rejects.toBeInstanceOf(DelayedError);
    expect(delayed[1]).toBeGreaterThan(QUIET_END + HOUR - QUIET_START - 10_000);
  });
});

describe('a notification held for the digest that a failure is recorded on afterwards', () => {
  it('stays ended and unlisted when a twin\'s failed send and its job\'s stall-out are recorded on top', async () => {
    const { stores } = run.worker.context;
    await storeAlert('held-fail', 'high');
    const base = { alertId: 'held-fail', version: 1, channelId: 'digested' };
    const key = deliveryKey('held-fail', 1, 'digested');
    expect(await stores.deliveries.holdForDigest(key, base, 'test', new Date(QUIET_START))).toBe('held');
    await stores.deliveries.recordAttempt(key, base, { status: 'pending', error: 'HTTP 503', errorKind: 'retryable', at: new Date(QUIET_START + 1) });
    const failed: unknown[] = [];
    const metrics = { deliveries: { inc: (labels: unknown) => void failed.push(labels) } } as unknown as PipelineMetrics;
    expect(await recordStalledOut(QUEUES.notify, base, { deliveries: stores.deliveries, now: () => new Date(QUIET_START + 2), metrics }, 3)).toBe(false);
    expect(failed).toEqual([]);
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped' });
    // Not listed: an operator's retry would send it by itself, and the digest again.
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).not.toContain(key);
    expect(await pendingIds('digested')).toContain('held-fail');
  });

  it('ends a job giving up on its last attempt without a failure, when a twin held it for the digest meanwhile', async () => {
    const { stores } = run.worker.context;
    await storeAlert('held-giveup', 'high');
    const key = deliveryKey('held-giveup', 1, 'digested');
    expect(await stores.deliveries.holdForDigest(key, { alertId: 'held-giveup', version: 1, channelId: 'digested' }, 'test', new Date(QUIET_START))).toBe('held');
    const counted: unknown[] = [];
    const metrics = { deliveries: { inc: (labels: unknown) => void counted.push(labels) } } as unknown as PipelineMetrics;
    const ctx = jobContext('held-giveup', 1, QUIET_START + 1, { metrics });
    await expect(settleDeliveryFailure(ctx, DeliveryError.permanent('digested', 'HTTP 400'))).resolves.toEqual({ status: 'skipped', reason: 'ended' });
    expect(counted).toEqual([]);
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped' });
  });

  it('still lets a digest window\'s skipped entry end failed (its rules are its own)', async () => {
    const { deliveries } = run.worker.context.stores;
    const key = 'digest-digested-1';
    await deliveries.recordAttempt(key, { channelId: 'digested' }, { status: 'skipped', response: 'superseded', at: new Date(QUIET_START) });
    expect(await deliveries.recordAttempt(key, { channelId: 'digested' }, { status: 'failed', error: 'expired', at: new Date(QUIET_START + 1) })).toMatchObject({ status: 'failed' });
  });
});

describe('a twin run holding for the digest a notification another run held already', () => {
  it('does not put it back in the holding after the digest carried it, and its job ends without a send', async () => {
    const { stores } = run.worker.context;
    await storeAlert('twin-held', 'high');
    const key = deliveryKey('twin-held', 1, 'digested');
    const base = { alertId: 'twin-held', version: 1, channelId: 'digested' };
    expect(await stores.deliveries.holdForDigest(key, base, 'test', new Date(QUIET_START))).toBe('held');
    // The digest carried it.
    await stores.digests.clear('digested', await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER));
    expect(await stores.deliveries.holdForDigest(key, base, 'test', new Date(QUIET_START + 5_000))).toBe('ended');
    expect(await pendingIds('digested')).toEqual([]);
    // The twin's job, its slot in the quiet hours, ends: not parked to send it by itself after them.
    await expect(waitForSlot(jobContext('twin-held', 1, QUIET_START - 500), 1_000, true)).resolves.toEqual({ status: 'skipped', reason: 'ended' });
    expect(await pendingIds('digested')).toEqual([]);
  });
});

describe('an older version due in the quiet hours once a newer one was decided for the digest', () => {
  it('ends superseded without a send of its own, the holding left to the newer one, its throttle count given back', async () => {
    const { stores } = run.worker.context;
    await stores.digests.clear('digested', await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER));
    await run.worker.context.stores.alerts.update('older', async () => ({ alert: makeAlert({ id: 'older', level: 'high', version: 2 }), result: null }));
    const decidedAt = QUIET_START - 5_000;
    await stores.dispatch.record('older', { channelId: 'digested', version: 1, mode: 'immediate', why: 'immediate', sendAt: decidedAt, decidedAt });
    const key = deliveryKey('older', 1, 'digested');
    const before = (await stores.dispatch.reserved('digested', 0)).length;
    await stores.dispatch.reserve('digested', key, decidedAt, 10, 'deny', decidedAt);
    await stores.dispatch.record('older', { channelId: 'digested', version: 2, mode: 'digest', why: 'quiet-hours-digest', decidedAt: QUIET_START + 1_000 });
    const held = await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER);
    expect(held.map((h) => h.alertId)).toEqual(['older']);

    await expect(waitForSlot(jobContext('older', 1, QUIET_START - 500), 1_000, true)).resolves.toEqual({ status: 'skipped', reason: 'superseded' });
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped', response: expect.stringMatching(/^superseded/) });
    expect(await stores.digests.pending('digested', Number.MAX_SAFE_INTEGER)).toEqual(held);
    expect(await stores.dispatch.reserved('digested', 0)).toHaveLength(before);
    // Run again after the quiet hours, it sends nothing by itself: the digest sends the newer version.
    const sent = sentAt.get('digested')?.length ?? 0;
    expect(await stageAt('older', 'digested', QUIET_END + HOUR)).toEqual({ status: 'skipped', reason: 'ended' });
    expect(sentAt.get('digested')?.length ?? 0).toBe(sent);
  });
});

describe('a routine delivery parked by an older worker, whose marker names no moment', () => {
  it('waits for the end of the quiet hours the channel is in when its job is promoted early', async () => {
    await storeAlert('bare', 'medium');
    const key = deliveryKey('bare', 1, 'busy');
    await run.worker.context.runtime.redis.set(keyFor(prefix, 'delivery-slot', key), 'parked', 'PX', HOUR);
    expect(await stageAt('bare', 'busy', QUIET_START + 10_000)).toEqual({ status: 'parked', untilMs: QUIET_END });
  });
});

describe('a routine notification whose channel is in quiet hours when its job runs', () => {
  it('is not sent in them on an unpaced channel: it waits for their end, again if promoted early, and is sent then', async () => {
    const { queues } = run.worker.context;
    clock.offset = QUIET_START + 5_000 - Date.now();
    const id = await notify('plain-1', 'plain', 'medium');
    await vi.waitFor(async () => expect(await (await queues.notify.getJob(id))!.getState()).toBe('delayed'), { timeout: 10_000, interval: 50 });
    expect(sentAt.get('plain')).toBeUndefined();
    expect(await (await promoteAndRun(id)).getState()).toBe('delayed');
    expect(sentAt.get('plain')).toBeUndefined();
    expect(await run.worker.context.stores.deliveries.isParked(deliveryKey('plain-1', 1, 'plain'))).toBe(true);

    clock.offset += QUIET_END - clock.now + 100;
    expect(await (await promoteAndRun(id)).getState()).toBe('completed');
    expect(sentAt.get('plain')).toHaveLength(1);
    expect(sentAt.get('plain')![0]).toBeGreaterThanOrEqual(QUIET_END);
    // Past its moment, with no pace to hold its place in, it is no longer taken for parked (a reload's wake skips it).
    expect(await run.worker.context.stores.deliveries.isParked(deliveryKey('plain-1', 1, 'plain'))).toBe(false);
  }, 30_000);

  it('is not sent in them when deferred to their end by routing and promoted early', async () => {
    const { stores } = run.worker.context;
    await storeAlert('deferred', 'medium');
    await stores.dispatch.record('deferred', { channelId: 'plain', version: 1, mode: 'deferred', why: 'quiet-hours', sendAt: QUIET_END, decidedAt: QUIET_START + 1_000 });
    expect(await stageAt('deferred', 'plain', QUIET_START + 10_000)).toEqual({ status: 'quiet', endsAt: QUIET_END });
  });

  it('is held for the digest on a paced channel that defers them to it, even with its slot free at once', async () => {
    const { stores, queues } = run.worker.context;
    clock.offset = QUIET_START + 5_000 - Date.now();
    const key = deliveryKey('night-1', 1, 'night');
    await stores.dispatch.reserve('night', key, QUIET_START - 10_000, 10, 'deny', QUIET_START - 10_000);
    const id = await notify('night-1', 'night', 'high');
    await vi.waitFor(async () => expect(await (await queues.notify.getJob(id))!.getState()).toBe('completed'), { timeout: 10_000, interval: 50 });
    expect((await queues.notify.getJob(id))!.returnvalue).toEqual({ status: 'skipped', reason: 'held-for-digest' });
    expect(sentAt.get('night')).toBeUndefined();
    expect(await pendingIds('night')).toEqual(['night-1']);
    expect(await stores.dispatch.reserved('night', 0)).toEqual([]);
  }, 30_000);

  it('is sent in them when they are where its throttle count was put (a backlog past two weeks of them)', async () => {
    await storeAlert('backlog', 'medium');
    await run.worker.context.stores.deliveries.parkSlot(deliveryKey('backlog', 1, 'plain'), HOUR, QUIET_START + 5_000, true);
    expect(await stageAt('backlog', 'plain', QUIET_START + 6_000)).toMatchObject({ status: 'delivered' });
  });

  it('is not sent in quiet hours a reload added over the moment it was parked for, or deferred to', async () => {
    const { stores } = run.worker.context;
    await storeAlert('parked-before', 'medium');
    // Parked for a moment the quiet hours then did not cover (no backlog): due now, in quiet hours added since.
    await stores.deliveries.parkSlot(deliveryKey('parked-before', 1, 'plain'), HOUR, QUIET_START + 5_000);
    expect(await stageAt('parked-before', 'plain', QUIET_START + 6_000)).toEqual({ status: 'quiet', endsAt: QUIET_END });
    await storeAlert('deferred-before', 'medium');
    await stores.dispatch.record('deferred-before', { channelId: 'plain', version: 1, mode: 'deferred', why: 'throttled-delayed', sendAt: QUIET_START + 5_000, decidedAt: QUIET_START - HOUR });
    expect(await stageAt('deferred-before', 'plain', QUIET_START + 6_000)).toEqual({ status: 'quiet', endsAt: QUIET_END });
    // Deferred there on purpose (a backlog past two weeks of them): sent; so is one decided before the flag existed,
    // which only such a backlog defers that far.
    await storeAlert('deferred-legacy', 'medium');
    await stores.dispatch.record('deferred-legacy', { channelId: 'plain', version: 1, mode: 'deferred', why: 'throttled-delayed', sendAt: QUIET_START + 5_000, decidedAt: QUIET_START - 15 * 24 * HOUR });
    expect(await stageAt('deferred-legacy', 'plain', QUIET_START + 6_000)).toMatchObject({ status: 'delivered' });
    await storeAlert('deferred-backlog', 'medium');
    await stores.dispatch.record('deferred-backlog', { channelId: 'plain', version: 1, mode: 'deferred', why: 'throttled-delayed', sendAt: QUIET_START + 5_000, inQuietHours: true, decidedAt: QUIET_START - 15 * 24 * HOUR });
    expect(await stageAt('deferred-backlog', 'plain', QUIET_START + 6_000)).toMatchObject({ status: 'delivered' });
  });

  it('does not hold a critical alert: it is sent in them', async () => {
    await storeAlert('plain-critical', 'critical');
    expect(await stageAt('plain-critical', 'plain', QUIET_START + 10_000)).toMatchObject({ status: 'delivered' });
  });
});

/** A notify job's context for a delivery on the 'twin' channel (unpaced, quiet hours deferred to its digest). */
function twinContext(alertId: string, nowMs: number, extra: Partial<DeliveryJobContext> = {}): DeliveryJobContext {
  const key = deliveryKey(alertId, 1, 'twin');
  const base = { alertId, version: 1, channelId: 'twin' };
  const holdForDigest = () => holdQuietForDigest(run.worker.context.stores, { key, base }, new Date(nowMs));
  return jobContext(alertId, 1, nowMs, { key, base, holdForDigest, ...extra });
}

/** Holds a routine notification on the 'twin' channel for its digest, as a job run as the quiet hours began does. */
async function holdTwin(alertId: string): Promise<{ key: string; base: { alertId: string; version: number; channelId: string } }> {
  await storeAlert(alertId, 'high');
  const delivery = { key: deliveryKey(alertId, 1, 'twin'), base: { alertId, version: 1, channelId: 'twin' } };
  expect(await holdQuietForDigest(run.worker.context.stores, delivery, new Date(QUIET_START + 1_000))).toBe('held');
  return delivery;
}

describe('twin runs of one notification, one sending as the quiet hours begin while the other holds it for the digest', () => {
  it('does not send it again in the digest once the send lands', async () => {
    const { stores, runtime } = run.worker.context;
    const { key, base } = await holdTwin('twin-sent');
    // The run that passed the quiet-hours check just before them: its send lands now.
    const deps = { deliveries: stores.deliveries, log: memoryLogger('fatal').log, now: () => new Date(QUIET_START + 2_000) };
    expect(await recordSent(deps, key, base, { response: 'HTTP 200' })).toBe(true);
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'delivered' });
    expect(await pendingIds('twin')).not.toContain('twin-sent');

    const windowEnd = Date.parse('2025-07-02T08:00:00.000Z');
    const before = sentAt.get('twin')?.length ?? 0;
    const digest = await digestStage(
      { channelId: 'twin', windowEnd },
      { state: runtime.state, alerts: stores.alerts, deliveries: stores.deliveries, digests: stores.digests, log: memoryLogger('fatal').log, now: () => new Date(windowEnd + 1_000) },
    );
    expect(digest).toEqual({ status: 'empty' });
    expect(sentAt.get('twin')?.length ?? 0).toBe(before);
  });

  it('keeps who has it when the send reached some recipients, the entry still ended', async () => {
    const { stores } = run.worker.context;
    const { key, base } = await holdTwin('twin-partial');
    const entry = await stores.deliveries.recordAttempt(key, base, {
      status: 'pending',
      error: 'b@x deferred',
      errorKind: 'retryable',
      recipients: { 'a@x': 'accepted', 'b@x': 'deferred' },
      at: new Date(QUIET_START + 2_000),
    });
    expect(entry).toMatchObject({ status: 'skipped', recipients: { 'a@x': 'accepted', 'b@x': 'deferred' } });
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped', recipients: { 'a@x': 'accepted' } });
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).not.toContain(key);
    // A later report of that recipient as deferred does not take it back.
    await stores.deliveries.recordAttempt(key, base, { status: 'pending', recipients: { 'a@x': 'deferred' }, at: new Date(QUIET_START + 3_000) });
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped', recipients: { 'a@x': 'accepted' } });
  });

  it('ends a job whose delivery was delivered already when it finds itself due in them: no throttle move, not parked', async () => {
    const { stores, runtime } = run.worker.context;
    await storeAlert('twin-done', 'high');
    const key = deliveryKey('twin-done', 1, 'twin');
    await stores.deliveries.recordAttempt(key, { alertId: 'twin-done', version: 1, channelId: 'twin' }, { status: 'delivered', response: 'HTTP 200', at: new Date(QUIET_START - 1_000) });
    const moveThrottle = vi.fn(async (endsAt: number) => endsAt);
    const moveToDelayed = vi.fn(async () => undefined);
    const ctx = twinContext('twin-done', QUIET_START + 1_000, { moveThrottle, job: { moveToDelayed } as unknown as Job });
    await expect(waitForSlot(ctx, 0, true)).resolves.toEqual({ status: 'already-delivered' });
    expect(moveThrottle).not.toHaveBeenCalled();
    expect(moveToDelayed).not.toHaveBeenCalled();
    expect(await runtime.redis.get(keyFor(prefix, 'delivery-slot', key))).toBeNull();
  });

  it('still parks one that only some recipients have: the rest get it by itself after the quiet hours', async () => {
    const { stores } = run.worker.context;
    await storeAlert('twin-some', 'high');
    const key = deliveryKey('twin-some', 1, 'twin');
    const base = { alertId: 'twin-some', version: 1, channelId: 'twin' };
    await stores.deliveries.recordAttempt(key, base, { status: 'pending', recipients: { 'a@x': 'accepted', 'b@x': 'deferred' }, at: new Date(QUIET_START - 1_000) });
    const moveThrottle = vi.fn(async (endsAt: number) => endsAt);
    await expect(waitForSlot(twinContext('twin-some', QUIET_START + 1_000, { moveThrottle }), 0, true)).rejects.toBeInstanceOf(DelayedError);
    expect(moveThrottle).toHaveBeenCalledWith(QUIET_END);
    expect(await pendingIds('twin')).not.toContain('twin-some');
  });

  it('ends a job whose send got a 429 after its twin held the delivery for the digest: no slot, no rate-limited count', async () => {
    const { runtime } = run.worker.context;
    const counted: unknown[] = [];
    const metrics = { deliveries: { inc: (labels: unknown) => void counted.push(labels) } } as unknown as PipelineMetrics;
    const { key } = await holdTwin('twin-429');
    const ctx = twinContext('twin-429', QUIET_START + 2_000, { metrics, rateLimit: rate });
    await expect(settleDeliveryFailure(ctx, DeliveryError.rateLimited('twin', 1_000, 'HTTP 429'))).resolves.toEqual({ status: 'skipped', reason: 'ended' });
    expect(counted).toEqual([]);
    expect(await runtime.redis.get(keyFor(prefix, 'delivery-slot', key))).toBeNull();
    expect(await runtime.redis.zscore(keyFor(prefix, 'delivery-slots', 'twin'), key)).toBeNull();
  });

  it('ends a job whose send got a 429 after its twin delivered it: no slot, no rate-limited count', async () => {
    const { stores, runtime } = run.worker.context;
    const counted: unknown[] = [];
    const metrics = { deliveries: { inc: (labels: unknown) => void counted.push(labels) } } as unknown as PipelineMetrics;
    await storeAlert('twin-429-sent', 'high');
    const key = deliveryKey('twin-429-sent', 1, 'twin');
    await stores.deliveries.recordAttempt(key, { alertId: 'twin-429-sent', version: 1, channelId: 'twin' }, { status: 'delivered', response: 'HTTP 200', at: new Date(QUIET_START) });
    const ctx = twinContext('twin-429-sent', QUIET_START + 2_000, { metrics, rateLimit: rate });
    await expect(settleDeliveryFailure(ctx, DeliveryError.rateLimited('twin', 1_000, 'HTTP 429'))).resolves.toEqual({ status: 'already-delivered' });
    expect(counted).toEqual([]);
    expect(await runtime.redis.get(keyFor(prefix, 'delivery-slot', key))).toBeNull();
  });
});
