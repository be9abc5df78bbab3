import type { Queue } from 'bullmq';
import type { SourceConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { jobId, type PollJob } from './names.js';
import { type RunningSchedule, scheduleSlots } from './slots.js';

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

export function startPollSchedules(sources: SourceConfig[], queue: Queue<PollJob>, log: Logger): Scheduler {
  const tasks: RunningSchedule[] = [];
  for (const source of sources.filter((s) => s.enabled)) {
    tasks.push(
      scheduleSlots({
        name: `poll-${source.id}`,
        expression: source.schedule,
        timezone: 'UTC',
        enqueue: (slot) => enqueuePoll(queue, source.id, slot),
        log,
        fields: { sourceId: source.id },
        what: 'poll',
      }),
    );
  }
  return schedulerOf(tasks);
}

/** The running schedules as one Scheduler (a source's polls, a channel's digests). */
export function schedulerOf(tasks: RunningSchedule[]): Scheduler {
  return {
    async stop() {
      await Promise.allSettled(tasks.map((task) => task.stop()));
    },
    size: () => tasks.length,
  };
}

/** A tick for polls at start: the current minute, so replicas started together still collapse to one poll. */
export function startupTick(now: Date): number {
  return Math.floor(now.getTime() / 60_000) * 60_000;
}
