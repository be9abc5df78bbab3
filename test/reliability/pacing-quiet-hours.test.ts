import { DelayedError, type Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { jobId } from '../../src/queue/names.js';
import { waitForSlot, type DeliveryJobContext } from '../../src/queue/delivery-job.js';
import { memoryLogger } from '../../src/log.js';
import type { PaceTurn } from '../../src/store/deliveries.js';
import type { Level } from '../../src/scoring/types.js';
import { makeAlert } from '../alerts/fixtures.js';
import { dispatchAlert } from '../../src/alerts/dispatch.js';
import { deliverStage } from '../../src/pipeline/deliver.js';
import { watchlistSchema } from '../../src/config/schema.js';
import { startTestWorker } from '../alerts/harness.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { QUIET_END, QUIET_START, shiftedClock } from './support/quiet-clock.js';

/**
 * Quiet hours on a paced channel: a routine delivery decided before the quiet hours whose slot falls inside them is
 * sent after they end, not during them; a critical one keeps its slot. The worker's clock runs at real speed from
 * just before 22:00 UTC, so that the quiet hours (22:00-22:01 UTC) begin a second or two into the test.
 */
const prefix = uniquePrefix('pacing-quiet');
const clock = shiftedClock();
/** One a second: slots 1 s apart. */
const INTERVAL_MS = 1_000;
const JITTER_MS = 150;
const HOUR = 3_600_000;

let receiver: Receiver;
let run: Awaited<ReturnType<typeof startTestWorker>>;
/** Pipeline-clock time of each accepted request, by channel. */
const sentAt = new Map<string, number[]>();

beforeAll(async () => {
  receiver = await startReceiver();
  receiver.respond = (req) => {
    sentAt.set(req.channel, [...(sentAt.get(req.channel) ?? []), req.at + clock.offset]);
    return { status: 200 };
  };
  const channel = (id: string, quietEnd = '22:01') =>
    `  - id: ${id}\n    kind: webhook\n    url: "${receiver.urlFor(id)}"\n    rateLimit: { perMinute: 60 }\n    quietHours: { start: "22:00", end: "${quietEnd}", timezone: UTC }`;
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists: []\n',
      'channels.yaml': `channels:\n${channel('routine')}\n${channel('critical')}\n${channel('throttled')}\n    throttle: { maxPerHour: 10 }\n${channel('full', '23:30')}\n    throttle: { maxPerHour: 3 }\n${channel('sup', '23:30')}\n    throttle: { maxPerHour: 10 }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
    },
    {},
    [],
    clock,
  );
}, 30_000);

afterAll(async () => {
  await run?.stop();
  await receiver?.close();
  await cleanPrefix(prefix);
});

async function notify(alertId: string, channelId: string, level: Level): Promise<string> {
  const { stores, queues } = run.worker.context;
  await stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId, level }), result: null }));
  const id = jobId('notify', deliveryKey(alertId, 1, channelId));
  await queues.notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
  return id;
}

const stateOf = async (queue: Queue, id: string) => (await queue.getJob(id))?.getState();

/**
 * Settled: a notify job sent, or waiting (in real time) until `endsAt` (pipeline clock) or later, not merely for its
 * next pace slot a second or so away.
 */
async function sentOrParkedPast(id: string, endsAt: number): Promise<boolean> {
  // The state first: a job read before it could predate the move that the state shows.
  const state = await run.worker.context.queues.notify.getJobState(id);
  const job = await run.worker.context.queues.notify.getJob(id);
  return state === 'completed' || (state === 'delayed' && job!.timestamp + job!.delay > Date.now() + (endsAt - clock.now) - 5_000);
}

describe('a routine delivery whose pace slot falls in the quiet hours', () => {
  it('is sent after the quiet hours end, at the pace, while a critical one keeps its slot in them', async () => {
    const queue = run.worker.context.queues.notify;
    // 21:59:58.5: slots at 21:59:58.5 (at once), 21:59:59.5, then 22:00:00.5 and 22:00:01.5, inside the quiet hours.
    clock.offset = Date.parse('2025-07-01T21:59:58.500Z') - Date.now();
    const routine: string[] = [];
    for (let i = 0; i < 4; i++) routine.push(await notify(`q-routine-${i}`, 'routine', 'medium'));
    const critical: string[] = [];
    for (let i = 0; i < 3; i++) critical.push(await notify(`q-critical-${i}`, 'critical', 'critical'));

    // Past the last slot's time (22:00:01.5), well inside the quiet hours.
    await vi.waitFor(() => expect(clock.now).toBeGreaterThan(QUIET_START + 3_000), { timeout: 10_000, interval: 50 });
    // Every routine one sent or parked past the quiet hours, and every critical one sent (a loaded worker takes longer).
    await vi.waitFor(async () => {
      expect(await Promise.all(routine.map((id) => sentOrParkedPast(id, QUIET_END)))).toEqual(routine.map(() => true));
      expect(sentAt.get('critical')).toHaveLength(3);
    }, { timeout: 15_000, interval: 50 });
    // Two went before them (fewer where the worker ran late); the rest wait.
    const before = sentAt.get('routine') ?? [];
    expect(before.filter((at) => at >= QUIET_START)).toEqual([]);
    expect(before.length).toBeLessThanOrEqual(2);
    const waiting = routine.slice(before.length);
    for (const id of waiting) expect(await stateOf(queue, id)).toBe('delayed');
    // Critical alerts ignore quiet hours: the third (at least) went in its slot, inside them.
    expect(sentAt.get('critical')!.filter((at) => at >= QUIET_START).length).toBeGreaterThanOrEqual(1);

    // The quiet hours end (the clock jumps past them; the delayed jobs are woken as BullMQ would at their end).
    clock.offset += QUIET_END - clock.now + 100;
    for (const id of waiting) await (await queue.getJob(id))?.promote();
    for (const id of waiting) await vi.waitFor(async () => expect(await stateOf(queue, id)).toBe('completed'), { timeout: 10_000, interval: 50 });
    const times = sentAt.get('routine')!;
    expect(times).toHaveLength(4);
    expect(times.filter((at) => at >= QUIET_START && at < QUIET_END)).toEqual([]);
    expect(receiver.accepted('routine').duplicates).toBe(0);
    // Still at the pace once they go.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `send ${i}`).toBeGreaterThanOrEqual(INTERVAL_MS - JITTER_MS);
  }, 30_000);
});

describe('a throttled channel\'s routine delivery parked in quiet hours', () => {
  it('moves its throttle reservation to their end, where it is sent', async () => {
    const { stores, queues } = run.worker.context;
    clock.offset = Date.parse('2025-07-01T21:59:58.500Z') - Date.now();
    const decidedAt = clock.now;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const alertId = `t-routine-${i}`;
      // As the dispatch decided it: its throttle slot reserved now.
      await stores.dispatch.reserve('throttled', deliveryKey(alertId, 1, 'throttled'), decidedAt, 10, 'search', decidedAt);
      ids.push(await notify(alertId, 'throttled', 'medium'));
    }
    // Two go before the quiet hours on time (fewer where the worker runs late); the rest are parked in them.
    await vi.waitFor(async () => expect(await Promise.all(ids.map((id) => sentOrParkedPast(id, QUIET_END)))).toEqual(ids.map(() => true)), { timeout: 15_000, interval: 50 });
    const sent = (sentAt.get('throttled') ?? []).length;
    expect(sent).toBeLessThanOrEqual(2);
    const reserved = (await stores.dispatch.reserved('throttled', 0)).sort((x, y) => x - y);
    expect(reserved).toEqual([...new Array(sent).fill(decidedAt), ...new Array(4 - sent).fill(QUIET_END)]);
  }, 30_000);
});

describe('a throttled channel whose hour after the quiet hours is spent already', () => {
  it('counts a parked delivery at the first moment after them the budget allows, and sends it then', async () => {
    const { stores, queues } = run.worker.context;
    // This channel is quiet 22:00-23:30.
    const end = Date.parse('2025-07-01T23:30:00.000Z');
    clock.offset = Date.parse('2025-07-01T21:59:58.500Z') - Date.now();
    const decidedAt = clock.now;
    // Decisions made already (overflows delayed past the quiet hours) spend the budget of the hour after them.
    for (let i = 0; i < 3; i++) expect(await stores.dispatch.reserve('full', `other-${i}`, end, 3, 'search', decidedAt)).toBe(end);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const alertId = `full-${i}`;
      expect(await stores.dispatch.reserve('full', deliveryKey(alertId, 1, 'full'), decidedAt, 3, 'search', decidedAt)).toBe(decidedAt);
      ids.push(await notify(alertId, 'full', 'medium'));
    }
    // Paced a second apart from 1.5 s before the quiet hours: two go before them on time (fewer where the worker runs
    // late), the rest are parked in them.
    await vi.waitFor(async () => expect(await Promise.all(ids.map((id) => sentOrParkedPast(id, end)))).toEqual(ids.map(() => true)), { timeout: 15_000, interval: 50 });
    const sent = sentAt.get('full') ?? [];
    const parked = ids.slice(sent.length);
    expect(parked.length).toBeGreaterThanOrEqual(1);
    expect(sent.every((at) => at < QUIET_START)).toBe(true);
    const reserved = (await stores.dispatch.reserved('full', 0)).sort((x, y) => x - y);
    expect(reserved.filter((at) => at >= end && at < end + HOUR)).toHaveLength(3);
    // Each parked one is counted, and waits, for the first moment the budget allows after the quiet hours: an hour on.
    expect(reserved.filter((at) => at === end + HOUR)).toHaveLength(parked.length);
    expect(reserved.filter((at) => at === decidedAt)).toHaveLength(sent.length);
    for (const id of parked) {
      const job = await queues.notify.getJob(id);
      expect(job!.timestamp + job!.delay).toBeGreaterThan(Date.now() + (end + HOUR - clock.now) - 5_000);
    }
  }, 30_000);
});

/** A notify job's context over the worker's stores, its job a stand-in that only records its delay. */
function stubContext(key: string, channelId: string, now: () => Date, observe: () => void): DeliveryJobContext {
  return {
    job: { moveToDelayed: async () => undefined },
    key,
    base: { channelId },
    deliveries: run.worker.context.stores.deliveries,
    maxRateLimitWaits: 5,
    now,
    log: memoryLogger('fatal').log,
    metrics: { observePaceWait: observe },
    what: 'delivery',
    quietHours: { start: '22:00', end: '22:01', timezone: 'UTC' },
  } as unknown as DeliveryJobContext;
}

describe('a parked version that a newer one, decided in the quiet hours, supersedes', () => {
  it('gives its throttle count, still ahead, to the newer version, and its job ends without a send', async () => {
    const { stores, queues, runtime } = run.worker.context;
    const end = Date.parse('2025-07-01T23:30:00.000Z');
    const watchlist = watchlistSchema.parse({ id: 'w', routes: [{ channel: 'sup', minLevel: 'low' }] });
    const channels = new Map([['sup', runtime.state.channels.get('sup')!]]);
    clock.offset = Date.parse('2025-07-01T21:59:58.500Z') - Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const alertId = `sup-${i}`;
      await dispatchAlert(makeAlert({ id: alertId, level: 'medium' }), 'first', 1, { watchlist, channels, dispatch: stores.dispatch, now: new Date(clock.now) });
      ids.push(await notify(alertId, 'sup', 'medium'));
    }
    await vi.waitFor(async () => expect(await stateOf(queues.notify, ids[2]!)).toBe('delayed'), { timeout: 10_000, interval: 50 });
    expect(await stores.dispatch.reserved('sup', end)).toHaveLength(1);
    // 22:10: version 2 of the parked alert, deferred to the end of the quiet hours and counted there too.
    const v2 = makeAlert({ id: 'sup-2', level: 'medium', version: 2 });
    await stores.alerts.update('sup-2', async () => ({ alert: v2, result: null }));
    const decided = await dispatchAlert(v2, 'escalated', 2, { watchlist, channels, dispatch: stores.dispatch, now: new Date(QUIET_START + 600_000) });
    expect(decided.notifications).toMatchObject([{ version: 2, dispatch: { mode: 'deferred', sendAt: end } }]);
    // Version 1's count, still ahead (not sent), went to version 2.
    expect(await stores.dispatch.reserved('sup', end)).toHaveLength(1);
    // Version 1's job wakes (at the end, promoted here), finds itself superseded and sends nothing.
    await (await queues.notify.getJob(ids[2]!))?.promote();
    await vi.waitFor(async () => expect(await stateOf(queues.notify, ids[2]!)).toBe('completed'), { timeout: 10_000, interval: 50 });
    expect(await stores.dispatch.reserved('sup', end)).toHaveLength(1);
    expect(await stores.deliveries.get(deliveryKey('sup-2', 1, 'sup'))).toMatchObject({ status: 'skipped' });
  }, 30_000);
});

describe('an older version that reached some recipients before a newer one superseded it', () => {
  it('keeps its throttle count when its job ends without sending again', async () => {
    const { stores, runtime } = run.worker.context;
    const watchlist = watchlistSchema.parse({ id: 'w', routes: [{ channel: 'sup', minLevel: 'low' }] });
    const channels = new Map([['sup', runtime.state.channels.get('sup')!]]);
    clock.offset = Date.parse('2025-07-02T12:00:00.000Z') - Date.now();
    const now = new Date(clock.now);
    await dispatchAlert(makeAlert({ id: 'partial', level: 'medium' }), 'first', 1, { watchlist, channels, dispatch: stores.dispatch, now });
    // Version 1's send reached one recipient and another deferred it: it went out.
    const base = { alertId: 'partial', version: 1, channelId: 'sup' };
    await stores.deliveries.recordAttempt(deliveryKey('partial', 1, 'sup'), base, { status: 'pending', recipients: { 'x@example.com': 'accepted', 'y@example.com': 'deferred' }, sentVersion: 1, at: now });
    const v2 = makeAlert({ id: 'partial', level: 'medium', version: 2 });
    await stores.alerts.update('partial', async () => ({ alert: v2, result: null }));
    await dispatchAlert(v2, 'escalated', 2, { watchlist, channels, dispatch: stores.dispatch, now });
    const sent = await deliverStage(base, { ...stores, state: runtime.state, log: memoryLogger('fatal').log, now: () => now });
    expect(sent).toMatchObject({ status: 'skipped', reason: 'superseded' });
    // Two messages reached the channel: both are counted.
    expect((await stores.dispatch.reserved('sup', 0)).filter((at) => at === now.getTime())).toHaveLength(2);
  });
});

describe('slots of routine deliveries parked in quiet hours (the pace script on Redis)', () => {
  const rate = { perMinute: 60, burst: 1 };
  const near = (actual: number, expected: number) => {
    expect(actual).toBeGreaterThan(expected - 150);
    expect(actual).toBeLessThanOrEqual(expected);
  };

  it('still go to a critical alert that comes during the quiet hours, and none is given twice', async () => {
    const { deliveries } = run.worker.context.stores;
    await deliveries.reserveSlot('parked', 'p-0', rate);
    near(await deliveries.reserveSlot('parked', 'p-1', rate), 1_000);
    near(await deliveries.reserveSlot('parked', 'p-2', rate), 2_000);
    // Both fall in the quiet hours: their routine deliveries park them and wait for the end.
    await deliveries.parkSlot('p-1', 60_000, QUIET_END);
    await deliveries.parkSlot('p-2', 60_000, QUIET_END);
    near(await deliveries.reserveSlot('parked', 'p-u1', rate, true), 1_000);
    near(await deliveries.reserveSlot('parked', 'p-u2', rate, true), 2_000);
    // A routine one decided now queues behind the places the parked ones held (moved back by the critical ones).
    near(await deliveries.reserveSlot('parked', 'p-3', rate), 5_000);
    // At the end of the quiet hours a parked one asks again: a new slot of the pace, never one a critical alert took.
    near(await deliveries.reserveSlot('parked', 'p-1', rate), 6_000);
    near(await deliveries.reserveSlot('parked', 'p-2', rate), 7_000);
  });

  it('give a parked delivery its new slot as not fresh: its wait was counted when it parked', async () => {
    const { deliveries } = run.worker.context.stores;
    await deliveries.paceTurn('parked-count', 'c-0', rate);
    expect(await deliveries.paceTurn('parked-count', 'c-1', rate)).toMatchObject({ fresh: true });
    await deliveries.parkSlot('c-1', 60_000, QUIET_END);
    expect(await deliveries.paceTurn('parked-count', 'c-1', rate)).toMatchObject({ fresh: false });
  });

  it('count a parked delivery\'s wait when it parks, so once even when its new slot after them is free at once', async () => {
    const { deliveries } = run.worker.context.stores;
    let count = 0;
    let t = QUIET_START - 500;
    const ctx = stubContext('i-r1', 'idle-after', () => new Date(t), () => void count++);
    expect((await deliveries.paceTurn('idle-after', 'i-r0', rate)).waitMs).toBe(0);
    const first = await deliveries.paceTurn('idle-after', 'i-r1', rate);
    await expect(waitForSlot(ctx, first.waitMs, first.fresh)).rejects.toBeInstanceOf(DelayedError);
    expect(count).toBe(1);
    // After the quiet hours (and past the place it held) the channel is idle: it sends at once, not counted again.
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    t = QUIET_END + 100;
    expect(await deliveries.paceTurn('idle-after', 'i-r1', rate)).toEqual({ waitMs: 0, fresh: false });
    expect(count).toBe(1);
  });

  it('send a parked delivery where it is counted in the throttle when its backlog outlasts two weeks of quiet hours', async () => {
    const { dispatch } = run.worker.context.stores;
    // Quiet 00:30-00:00 UTC (awake half an hour a day), one an hour; the first hour after each of 15 quiet ends is taken.
    const quietHours = { start: '00:30', end: '00:00', timezone: 'UTC' };
    const day0 = Date.parse('2025-07-01T00:00:00.000Z');
    const t = day0 + 10 * 60_000;
    for (let d = 1; d <= 15; d++) await dispatch.reserve('backlog', `other-${d}`, day0 + d * 24 * HOUR, 1, 'search', t);
    await dispatch.reserve('backlog', 'b-1', t, 1, 'search', t);
    let delayedTo = 0;
    const ctx = {
      ...stubContext('b-1', 'backlog', () => new Date(t), () => undefined),
      job: { moveToDelayed: async (at: number) => void (delayedTo = at - Date.now() + t) },
      quietHours,
      moveThrottle: async (atMs: number) => (await dispatch.reserve('backlog', 'b-1', atMs, 1, 'search', t, [], 'any'))!,
    } as DeliveryJobContext;
    await expect(waitForSlot(ctx, 30 * 60_000, true)).rejects.toBeInstanceOf(DelayedError);
    // Its reservation, as the throttle reads it (a delivery reserved already gets its own time back).
    const counted = (await dispatch.reserve('backlog', 'b-1', t, 1, 'deny', t))!;
    expect(Math.abs(delayedTo - counted)).toBeLessThan(1_000);
  });

  it('count a routine delivery once when a critical alert moved it from its counted slot into the quiet hours', async () => {
    const { deliveries } = run.worker.context.stores;
    let count = 0;
    let t = QUIET_START - 1_500;
    const ctx = {
      job: { moveToDelayed: async () => undefined },
      key: 'm-r1',
      base: { channelId: 'moved-in' },
      deliveries,
      maxRateLimitWaits: 5,
      now: () => new Date(t),
      log: memoryLogger('fatal').log,
      metrics: { observePaceWait: () => void count++ },
      what: 'delivery',
      quietHours: { start: '22:00', end: '22:01', timezone: 'UTC' },
    } as unknown as DeliveryJobContext;
    const wait = (turn: PaceTurn) => expect(waitForSlot(ctx, turn.waitMs, turn.fresh)).rejects.toBeInstanceOf(DelayedError);
    expect((await deliveries.paceTurn('moved-in', 'm-r0', rate)).waitMs).toBe(0);
    const first = await deliveries.paceTurn('moved-in', 'm-r1', rate);
    await wait(first);
    expect(count).toBe(1);
    // A critical alert takes its slot; it learns of its new one (in the quiet hours) when it wakes, and parks.
    await deliveries.paceTurn('moved-in', 'm-u', rate, true);
    await wait(await deliveries.paceTurn('moved-in', 'm-r1', rate));
    t = QUIET_END + 100;
    await wait(await deliveries.paceTurn('moved-in', 'm-r1', rate));
    expect(count).toBe(1);
  });
});
