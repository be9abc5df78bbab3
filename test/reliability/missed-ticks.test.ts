import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelConfig, SourceConfig } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { startDigestSchedules } from '../../src/queue/digest-schedule.js';
import type { DigestJob, PollJob } from '../../src/queue/names.js';
import { startPollSchedules, type Scheduler } from '../../src/queue/scheduler.js';
import { scheduleSlots } from '../../src/queue/slots.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * node-cron does not run a slot whose timer fires over a second late (a worker parsing a large feed can hold its event
 * loop that long), nor one due while the previous slot's enqueue is still under way. A skipped daily digest would hold
 * a day's alerts until the next one, so the slot is enqueued late.
 *
 * Only the clock is faked, and it stands still between steps: node-cron's own timers run for real, and a timer that
 * fires before a step has moved the clock finds its slot not yet due and waits again. So a slow machine changes how
 * long these tests take, never what they see. Moving the clock past a slot before its timer fires is the event loop
 * held over that slot.
 */
const prefix = uniquePrefix('missed-ticks');
const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
const digests = new Queue<DigestJob>('digest', { connection: redis, prefix: `{${prefix}}` });
const polls = new Queue<PollJob>('poll', { connection: redis, prefix: `{${prefix}}` });
let stops: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  await Promise.all(stops.map((stop) => stop()));
  stops = [];
  vi.useRealTimers();
  await Promise.all([digests.obliterate({ force: true }), polls.obliterate({ force: true })]);
});

afterAll(async () => {
  await Promise.all([digests.close(), polls.close()]);
  redis.disconnect();
  await cleanPrefix(prefix);
});

/** 10:00 UTC on a March day, plus seconds: the clock the tests set. */
const at = (seconds: number) => Date.UTC(2026, 2, 2, 10, 0, 0) + Math.round(seconds * 1000);
const setClock = (seconds: number) => vi.setSystemTime(at(seconds));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits in real time (only Date is faked) until `read` gives what `ok` accepts. */
async function until<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; last saw ${JSON.stringify(value)}`);
    await sleep(5);
  }
}

interface LateLine {
  msg: string;
  slot?: string;
  skipped: number;
  behindEnqueue?: number;
  channelId?: string;
  sourceId?: string;
}

function lateLines(lines: () => string[]): LateLine[] {
  return lines()
    .filter((l) => l.includes('fired late'))
    .map((l) => JSON.parse(l) as LateLine);
}

const iso = (seconds: number) => new Date(at(seconds)).toISOString();

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A schedule every second whose enqueues are recorded, and held until the test lets them finish. */
function everySecond(holdEnqueues: boolean, enqueueTimeoutMs?: number) {
  const { log, lines } = memoryLogger('debug');
  const enqueued: number[] = [];
  const pending: Array<() => void> = [];
  const schedule = scheduleSlots({
    name: 'every-second',
    expression: '* * * * * *',
    timezone: 'UTC',
    enqueue: (slot) => {
      enqueued.push(slot);
      if (!holdEnqueues) return Promise.resolve();
      const { promise, resolve } = deferred();
      pending.push(resolve);
      return promise;
    },
    log,
    fields: { sourceId: 'wire' },
    what: 'poll',
    enqueueTimeoutMs,
  });
  stops.push(() => schedule.stop());
  let overlaps = 0;
  schedule.task.on('execution:overlap', () => {
    overlaps++;
  });
  return {
    enqueued,
    lines,
    late: () => lateLines(lines),
    overlaps: () => overlaps,
    finishEnqueues: () => pending.splice(0).forEach((finish) => finish()),
    stop: () => schedule.stop(),
  };
}

/**
 * Runs an every-second schedule whose enqueues do not finish through three slots: 1 s enqueued on time, 2 s (due behind
 * it) enqueued late, 3 s waiting behind both. Each step moves the clock to just before the next second, so node-cron's
 * next timer is 50 ms away, and the slot it finds is on time.
 */
async function untilThreeSlotsBehind(schedule: ReturnType<typeof everySecond>): Promise<void> {
  setClock(1.95);
  await until(() => [...schedule.enqueued], (e) => e.length === 1, 'the on-time enqueue of 1 s');
  setClock(2.95);
  await until(() => [...schedule.enqueued], (e) => e.length === 2, 'the late enqueue of 2 s');
  expect(schedule.overlaps()).toBe(1);
  setClock(3.95);
  await until(() => schedule.overlaps(), (n) => n === 2, 'node-cron reporting 3 s');
}

describe('schedule slots that node-cron does not run', () => {
  it('enqueues the latest of a run of skipped digest windows and poll slots late, when no later slot ran on time', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: at(4.95) });
    const { log, lines } = memoryLogger('debug');
    const channel = { id: 'ops', digest: { schedule: '*/5 * * * * *', timezone: 'Europe/Berlin' } } as unknown as ChannelConfig;
    const source = { id: 'wire', enabled: true, schedule: '*/5 * * * * *' } as unknown as SourceConfig;
    const schedules: Scheduler[] = [startDigestSchedules([channel], digests, log), startPollSchedules([source], polls, log)];
    stops.push(...schedules.map((s) => () => s.stop()));
    // The slots at 5, 10 and 15 s pass while the loop is held; the next one (20 s) is still ahead.
    setClock(17.3);

    const waiting = async () => {
      const [d, p] = await Promise.all([digests.getJobs(['waiting']), polls.getJobs(['waiting'])]);
      return { digest: d.map((j) => j.data.windowEnd), poll: p.map((j) => j.data.tick) };
    };
    await until(waiting, (w) => w.digest.length > 0 && w.poll.length > 0, 'the late digest and poll');
    await sleep(100);
    expect(await waiting()).toEqual({ digest: [at(15)], poll: [at(15)] });
    const late = lateLines(lines);
    expect(late.map((l) => [l.channelId ?? l.sourceId, l.slot, l.skipped]).sort()).toEqual([
      ['ops', iso(15), 3],
      ['wire', iso(15), 3],
    ]);
  });

  it('enqueues nothing late when the slot after the skipped ones ran on time (it covers them)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: at(0.95) });
    const schedule = everySecond(false);
    // Held from 0.95 s to 4.3 s: node-cron skips 1, 2 and 3 s, and runs 4 s on time.
    setClock(4.3);

    await until(() => schedule.late(), (l) => l.length > 0, 'the late-ticks line');
    await until(() => [...schedule.enqueued], (e) => e.length > 0, 'the on-time slot');
    await sleep(100);
    expect(schedule.enqueued).toEqual([at(4)]);
    expect(schedule.late()).toEqual([expect.objectContaining({ skipped: 3, msg: expect.stringContaining('the next one ran on time') })]);
    expect(schedule.late()[0]).not.toHaveProperty('slot');
  });

  it("enqueues a slot due while the previous slot's enqueue is still under way once a slot is free, only the latest of several", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: at(0.95) });
    const schedule = everySecond(true);
    await untilThreeSlotsBehind(schedule);
    // 3 s and 4 s come while both enqueues are still under way: they wait, and only 4 s will be enqueued.
    setClock(4.95);
    await until(() => schedule.overlaps(), (n) => n === 3, 'node-cron reporting 4 s');
    await sleep(50);
    expect(schedule.enqueued).toEqual([at(1), at(2)]);

    schedule.finishEnqueues();
    await until(() => [...schedule.enqueued], (e) => e.length === 3, 'the late enqueue of 4 s');
    schedule.finishEnqueues();
    await sleep(100);
    expect(schedule.enqueued).toEqual([at(1), at(2), at(4)]);
    expect(schedule.late().map((l) => [l.slot, l.skipped, l.behindEnqueue])).toEqual([
      [iso(2), 1, 1],
      [iso(4), 2, 2],
    ]);
    // node-cron's own warning is in our log, at debug (the line above says it to the operator), not on the console.
    expect(schedule.lines().filter((l) => l.includes('node-cron: task still running')).map((l) => JSON.parse(l))).toEqual(
      new Array(3).fill(expect.objectContaining({ level: 20, sourceId: 'wire' })), // pino's debug
    );
  });

  it('still enqueues, when stopped, the slot it was told of but had not enqueued yet (the schedule replacing it starts after it)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: at(0.95) });
    const schedule = everySecond(true);
    await untilThreeSlotsBehind(schedule);

    await schedule.stop();
    schedule.finishEnqueues();
    await until(() => [...schedule.enqueued], (e) => e.length === 3, 'the late enqueue of 3 s');
    schedule.finishEnqueues();
    await sleep(100);
    expect(schedule.enqueued).toEqual([at(1), at(2), at(3)]);
  });

  it('enqueues, when stopped, a slot that came due while the event loop was busy (a reload straddling it)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: at(0.95) });
    const schedule = everySecond(false);
    // The slot at 1 s passes before node-cron's timer for it can fire: the reload stops the schedule first.
    setClock(1.5);
    await schedule.stop();
    await until(() => [...schedule.enqueued], (e) => e.length > 0, 'the slot of 1 s');
    await sleep(100);
    expect(schedule.enqueued).toEqual([at(1)]);
    expect(schedule.late()).toEqual([expect.objectContaining({ slot: iso(1), skipped: 1 })]);
  });

  it('lets go of an enqueue Redis does not answer, so the next slot runs on time instead of waiting behind it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: at(0.95) });
    const schedule = everySecond(true, 200);
    setClock(1.95);
    await until(() => [...schedule.enqueued], (e) => e.length === 1, 'the on-time enqueue of 1 s');
    const failed = () => schedule.lines().filter((l) => l.includes('could not enqueue scheduled poll'));
    await until(failed, (l) => l.length === 1, 'the enqueue of 1 s let go');
    expect(JSON.parse(failed()[0]!)).toMatchObject({ slot: iso(1), err: { message: expect.stringContaining('did not answer within 200 ms') } });

    setClock(2.95);
    await until(() => [...schedule.enqueued], (e) => e.length === 2, 'the on-time enqueue of 2 s');
    expect(schedule.enqueued).toEqual([at(1), at(2)]);
    expect(schedule.overlaps()).toBe(0);
  });
});
