import cron, { type ScheduledTask } from 'node-cron';
import type { Queue } from 'bullmq';
import type { SourceConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { jobId, type PollJob } from './names.js';

/** How long a poll job id stays refused after the job is gone; longer than any sane schedule interval. */
const POLL_DEDUP_TTL_MS = 6 * 3600_000;

/**
 * Every worker process runs the same cron schedules; each tick only enqueues, with a job id derived from the source
 * and the scheduled slot (ctx.date, identical in every replica), so N replicas collapse into one poll per tick.
 * The deduplication key with a TTL keeps refusing the id after the completed job has been removed.
 */
export async function enqueuePoll(queue: Queue<PollJob>, sourceId: string, tick: number): Promise<void> {
  const id = jobId('poll', sourceId, tick);
  await queue.add('poll', { sourceId, tick }, { jobId: id, deduplication: { id, ttl: POLL_DEDUP_TTL_MS } });
}

export interface Scheduler {
  stop(): Promise<void>;
  /** Number of schedules running. */
  size(): number;
}

/**
 * node-cron skips a tick whose timer fires more than a second late (the event loop was busy, the host was suspended)
 * and only reports it. A skipped slot is still enqueued, late: the latest of a run of skipped ones, since a poll
 * covers the slots before it and a digest's window covers everything held up to its end; and none when the slot
 * after them ran on time anyway. Only the latest: a worker suspended for a night would otherwise enqueue a poll for
 * every minute of it. `ran` is told of every slot that ran on time.
 */
export function catchUpMissedTicks(task: ScheduledTask, enqueue: (slot: number) => Promise<void>, log: Logger, fields: Record<string, unknown>): { ran(slot: number): void } {
  let latestRun = Number.NEGATIVE_INFINITY;
  let latestMissed: number | undefined;
  let skipped = 0;
  task.on('execution:missed', (ctx) => {
    skipped++;
    const first = latestMissed === undefined;
    latestMissed = Math.max(latestMissed ?? Number.NEGATIVE_INFINITY, ctx.date.getTime());
    if (!first) return;
    // node-cron reports a run of skipped slots one after another, then runs the next slot if it is on time: decide
    // once all of that has happened.
    setImmediate(() => {
      const [slot, count] = [latestMissed!, skipped];
      latestMissed = undefined;
      skipped = 0;
      if (latestRun > slot) {
        log.warn({ ...fields, skipped: count }, 'schedule ticks fired late (busy event loop or suspended host); the next one ran on time');
        return;
      }
      log.warn({ ...fields, slot: new Date(slot).toISOString(), skipped: count }, 'schedule ticks fired late (busy event loop or suspended host); the latest enqueued now');
      enqueue(slot).catch((err: unknown) => log.warn({ ...fields, slot, err }, 'could not enqueue a late schedule tick'));
    });
  });
  return {
    ran(slot) {
      latestRun = Math.max(latestRun, slot);
    },
  };
}

export function startPollSchedules(sources: SourceConfig[], queue: Queue<PollJob>, log: Logger): Scheduler {
  const tasks: ScheduledTask[] = [];
  for (const source of sources.filter((s) => s.enabled)) {
    const task = cron.schedule(
      source.schedule,
      async (ctx) => {
        const tick = ctx.date.getTime();
        catchUp.ran(tick);
        try {
          await enqueuePoll(queue, source.id, tick);
        } catch (err) {
          // Redis down: this tick is lost for this replica; another replica or the next tick will poll.
          log.warn({ sourceId: source.id, tick, err }, 'could not enqueue scheduled poll');
        }
      },
      { name: `poll-${source.id}`, timezone: 'UTC', noOverlap: true, suppressMissedWarning: true },
    );
    const catchUp = catchUpMissedTicks(task, (slot) => enqueuePoll(queue, source.id, slot), log, { sourceId: source.id });
    tasks.push(task);
  }
  return {
    async stop() {
      await Promise.allSettled(tasks.map((task) => task.destroy()));
    },
    size: () => tasks.length,
  };
}

/** A tick for polls at start: the current minute, so replicas started together still collapse to one poll. */
export function startupTick(now: Date): number {
  return Math.floor(now.getTime() / 60_000) * 60_000;
}
