import cron, { type Logger as CronLogger, type ScheduledTask, type TaskContext } from 'node-cron';
import type { Logger } from '../log.js';

/** One cron schedule whose slots each enqueue a job (a source's polls, a channel's digests). */
export interface SlotSchedule {
  /** Names the node-cron task. */
  name: string;
  expression: string;
  timezone: string;
  /** Enqueues the job of one slot; idempotent per slot, since every replica runs the same schedule. */
  enqueue(slot: number): Promise<void>;
  log: Logger;
  /** Fields that name the schedule in log lines (`sourceId`, `channelId`). */
  fields: Record<string, unknown>;
  /** What a slot enqueues, for log lines: "poll", "digest". */
  what: string;
}

/**
 * Runs a schedule: each slot is enqueued on time, and a slot node-cron did not run is enqueued late (see
 * catchUpMissedTicks). `noOverlap` keeps a hung enqueue (Redis down: ioredis queues the command until it returns)
 * from piling up one pending enqueue per tick; the slots it holds back go to the catch-up instead.
 */
export function scheduleSlots(schedule: SlotSchedule): ScheduledTask {
  const { enqueue, log, fields, what } = schedule;
  const task = cron.schedule(
    schedule.expression,
    async (ctx) => {
      const slot = ctx.date.getTime();
      catchUp.ran(slot);
      try {
        await enqueue(slot);
      } catch (err) {
        // Redis down: this slot is lost for this replica; another replica, or the next slot, covers it.
        log.warn({ ...fields, slot, err }, `could not enqueue scheduled ${what}`);
      }
    },
    { name: schedule.name, timezone: schedule.timezone, noOverlap: true, suppressMissedWarning: true, logger: cronLogger(log, fields) },
  );
  const catchUp = catchUpMissedTicks(task, enqueue, log, fields);
  return task;
}

/**
 * node-cron's own lines go to our log (it writes to the console otherwise). Its warnings are about the slots it does
 * not run, which catchUpMissedTicks reports in words of its own, so they are kept at debug.
 */
function cronLogger(log: Logger, fields: Record<string, unknown>): CronLogger {
  const line = (level: 'debug' | 'error') => (message: string | Error, err?: Error) =>
    message instanceof Error ? log[level]({ ...fields, err: message }, 'node-cron reported an error') : log[level]({ ...fields, ...(err ? { err } : {}) }, `node-cron: ${message}`);
  return { info: line('debug'), warn: line('debug'), debug: line('debug'), error: line('error') };
}

/**
 * node-cron does not run a slot whose timer fires more than a second late (the event loop was busy, the host was
 * suspended), nor one that comes while the previous slot's enqueue is still under way (`noOverlap`; after a busy
 * stretch the timer can fire before the previous enqueue's reply is read); it only reports them. Such a slot is
 * still enqueued, late: the latest of a run of them, since a poll covers the slots before it and a digest's window
 * covers everything held up to its end; and none when the slot after them ran on time anyway. Only the latest: a
 * worker suspended for a night would otherwise enqueue a poll for every minute of it. One late enqueue at a time: the
 * slots that come while it is under way wait for it, and again only the latest of them is enqueued. `ran` is told of
 * every slot that ran on time.
 */
export function catchUpMissedTicks(task: ScheduledTask, enqueue: (slot: number) => Promise<void>, log: Logger, fields: Record<string, unknown>): { ran(slot: number): void } {
  let latestRun = Number.NEGATIVE_INFINITY;
  let latestMissed: number | undefined;
  let counts = { skipped: 0, behindEnqueue: 0 };
  let deciding = false;
  let enqueuing = false;

  const decide = () => {
    deciding = false;
    if (enqueuing || latestMissed === undefined) return;
    // A stopped schedule (shutdown, or a reload that replaced it) enqueues nothing more; its replacement takes over.
    if (['stopped', 'destroyed'].includes(task.getStatus())) return;
    const slot = latestMissed;
    const { skipped, behindEnqueue } = counts;
    latestMissed = undefined;
    counts = { skipped: 0, behindEnqueue: 0 };
    const reasons = { skipped: skipped + behindEnqueue, ...(behindEnqueue > 0 ? { behindEnqueue } : {}) };
    if (latestRun > slot) {
      log.warn({ ...fields, ...reasons }, 'schedule ticks fired late (busy event loop, suspended host or slow Redis); the next one ran on time');
      return;
    }
    log.warn({ ...fields, slot: new Date(slot).toISOString(), ...reasons }, 'schedule ticks fired late (busy event loop, suspended host or slow Redis); the latest enqueued now');
    enqueuing = true;
    enqueue(slot)
      .catch((err: unknown) => log.warn({ ...fields, slot, err }, 'could not enqueue a late schedule tick'))
      .finally(() => {
        enqueuing = false;
        decide();
      });
  };

  const missed = (reason: keyof typeof counts) => (ctx: TaskContext) => {
    counts[reason]++;
    latestMissed = Math.max(latestMissed ?? Number.NEGATIVE_INFINITY, ctx.date.getTime());
    if (deciding) return;
    deciding = true;
    // node-cron reports a run of skipped slots one after another, then runs the next slot if it is on time: decide
    // once all of that has happened.
    setImmediate(decide);
  };
  task.on('execution:missed', missed('skipped'));
  task.on('execution:overlap', missed('behindEnqueue'));
  return {
    ran(slot) {
      latestRun = Math.max(latestRun, slot);
    },
  };
}
