import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { ChannelConfig, SourceConfig } from '../../src/config/schema.js';
import { memoryLogger } from '../../src/log.js';
import { startDigestSchedules } from '../../src/queue/digest-schedule.js';
import type { DigestJob, PollJob } from '../../src/queue/names.js';
import { startPollSchedules, type Scheduler } from '../../src/queue/scheduler.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/**
 * node-cron skips a tick whose timer fires over a second late; a worker parsing a large feed can hold its event loop
 * that long. A skipped daily digest would hold a day's alerts until the next one, so the slot is enqueued late.
 */
const prefix = uniquePrefix('missed-ticks');
const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
const digests = new Queue<DigestJob>('digest', { connection: redis, prefix: `{${prefix}}` });
const polls = new Queue<PollJob>('poll', { connection: redis, prefix: `{${prefix}}` });
let schedules: Scheduler[] = [];

afterEach(async () => {
  await Promise.all(schedules.map((s) => s.stop()));
  schedules = [];
  await Promise.all([digests.obliterate({ force: true }), polls.obliterate({ force: true })]);
});

afterAll(async () => {
  await Promise.all([digests.close(), polls.close()]);
  redis.disconnect();
  await cleanPrefix(prefix);
});

/** Holds the event loop, as a CPU-bound parse does. */
function blockFor(ms: number): { from: number; to: number } {
  const from = Date.now();
  while (Date.now() - from < ms) {
    // busy
  }
  return { from, to: Date.now() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function start(schedule: string) {
  const { log, lines } = memoryLogger('debug');
  const channel = { id: 'ops', digest: { schedule, timezone: 'Europe/Berlin' } } as unknown as ChannelConfig;
  const source = { id: 'wire', enabled: true, schedule } as unknown as SourceConfig;
  schedules = [startDigestSchedules([channel], digests, log), startPollSchedules([source], polls, log)];
  const late = () => lines().filter((l) => l.includes('fired late')).map((l) => JSON.parse(l) as { msg: string; slot?: string; skipped: number; channelId?: string; sourceId?: string });
  return { late };
}

async function enqueuedSlots() {
  const [d, p] = await Promise.all([digests.getJobs(['waiting']), polls.getJobs(['waiting'])]);
  return { digest: d.map((j) => j.data.windowEnd), poll: p.map((j) => j.data.tick) };
}

describe('schedule ticks that fire late', () => {
  it('enqueues a skipped digest window and poll slot late, when no later slot ran on time', async () => {
    const { late } = start('*/5 * * * * *');
    // Hold the loop from half a second before a slot to over two seconds after it (node-cron counts whole seconds
    // late): it skips the slot, and the next one is still under three seconds away.
    await sleep(5_000 - (Date.now() % 5_000) - 500);
    const slot = Math.ceil(Date.now() / 5_000) * 5_000;
    blockFor(slot + 2_300 - Date.now());
    await vi.waitFor(() => expect(late().filter((l) => l.slot === new Date(slot).toISOString())).toHaveLength(2), { timeout: 6_000, interval: 50 });
    await vi.waitFor(async () => expect(await enqueuedSlots()).toEqual({ digest: [slot], poll: [slot] }), { timeout: 6_000, interval: 50 });
    expect(late().map((l) => l.channelId ?? l.sourceId).sort()).toEqual(['ops', 'wire']);
  });

  it('enqueues nothing late when the slot after the skipped ones ran on time (it covers them)', async () => {
    const { late } = start('* * * * * *');
    await sleep(1_100);
    const blocked = blockFor(3_500);
    await vi.waitFor(() => expect(late().filter((l) => l.channelId === 'ops' && l.skipped >= 2)).not.toHaveLength(0), { timeout: 6_000, interval: 50 });
    await sleep(300);
    const { digest, poll } = await enqueuedSlots();
    for (const slots of [digest, poll]) {
      // The skipped slots inside the held stretch are not enqueued; the one it ended in ran on time.
      expect(slots.filter((s) => s > blocked.from + 1_000 && s < blocked.to - 1_000)).toEqual([]);
      expect(slots.some((s) => s > blocked.to - 1_000 && s <= blocked.to)).toBe(true);
    }
  });
});
