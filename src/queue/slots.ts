import cron, { type Logger as CronLogger, type ScheduledTask, type TaskContext } from 'node-cron';
import type { Logger } from '../log.js';

/**
 * How long an enqueue may take before its slot is let go. A Redis (or a proxy before it) that stops answering without
 * closing the connection would otherwise hold the enqueue, and with it the schedule (`noOverlap`), until a restart.
 * Letting go is safe: the command may still land later, and enqueues are idempotent per slot.
 */
export const ENQUEUE_TIMEOUT_MS = 30_000;

/** How far back a stopping schedule looks for a slot that came due while the event loop was busy (see stop). */
const STOP_LOOKBACK_MS = 60_000;

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
  /** See ENQUEUE_TIMEOUT_MS (tests shorten it). */
  enqueueTimeoutMs?: number;
}

export interface RunningSchedule {
  task: ScheduledTask;
  /**
   * Stops the schedule. A slot it was told of but had not enqueued yet, or one that came due just now while the event
   * loop was busy (a reload's own work can straddle a slot), is still enqueued: the schedule that replaces it starts
   * from the next slot and would never look back. Not awaited: shutdown does not wait on Redis for it.
   */
  stop(): Promise<void>;
}

/**
 * Runs a schedule: each slot is enqueued on time, and a slot node-cron did not run is enqueued late (see
 * catchUpMissedTicks). `noOverlap` keeps a slow enqueue (Redis down: ioredis queues the command until it returns)
 * from piling up one pending enqueue per tick; the slots it holds back go to the catch-up instead.
 */
export function scheduleSlots(schedule: SlotSchedule): RunningSchedule {
  const { log, fields, what } = schedule;
  const timeoutMs = schedule.enqueueTimeoutMs ?? ENQUEUE_TIMEOUT_MS;
  const enqueue = (slot: number) => settleWithin(schedule.enqueue(slot), timeoutMs);
  const task = cron.schedule(
    schedule.expression,
    async (ctx) => {
      const slot = ctx.date.getTime();
      catchUp.ran(slot);
      try {
        await enqueue(slot);
      } catch (err) {
        // Redis down: this slot is lost for this replica; another replica, or the next slot, covers it.
        log.warn({ ...fields, slot: iso(slot), err }, `could not enqueue scheduled ${what}`);
      }
    },
    { name: schedule.name, timezone: schedule.timezone, noOverlap: true, suppressMissedWarning: true, logger: cronLogger(log, fields) },
  );
  const catchUp = catchUpMissedTicks(task, enqueue, log, fields);
  return {
    task,
    async stop() {
      const due = latestSlotIn(task, catchUp.handledUntil(), Date.now());
      if (due !== undefined) catchUp.missed(due, 'skipped');
      catchUp.stop();
      await task.destroy();
    },
  };
}

/** The latest slot of a task in (after, now], looking back at most STOP_LOOKBACK_MS (whole seconds: cron's grain). */
function latestSlotIn(task: ScheduledTask, after: number, now: number): number | undefined {
  const from = Math.max(after, now - STOP_LOOKBACK_MS);
  for (let at = Math.floor(now / 1000) * 1000; at > from; at -= 1000) if (task.match(new Date(at))) return at;
  return undefined;
}

/** The promise, or a rejection once `ms` have passed without it settling. */
function settleWithin(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms (the command may still land later)`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const iso = (slot: number) => new Date(slot).toISOString();

/**
 * node-cron's own lines go to our log (it writes to the console otherwise). Its warnings are about the slots it does
 * not run, which catchUpMissedTicks reports in words of its own, so they are kept at debug.
 */
function cronLogger(log: Logger, fields: Record<string, unknown>): CronLogger {
  const line = (level: 'debug' | 'error') => (message: string | Error, err?: Error) =>
    message instanceof Error ? log[level]({ ...fields, err: message }, 'node-cron reported an error') : log[level]({ ...fields, ...(err ? { err } : {}) }, `node-cron: ${message}`);
  return { info: line('debug'), warn: line('debug'), debug: line('debug'), error: line('error') };
}

type MissReason = 'skipped' | 'behindEnqueue';

/**
 * node-cron does not run a slot whose timer fires more than a second late (the event loop was busy, the host was
 * suspended), nor one that comes while the previous slot's enqueue is still under way (`noOverlap`; after a busy
 * stretch the timer can fire before the previous enqueue's reply is read); it only reports them. Such a slot is
 * still enqueued, late: the latest of a run of them, since a poll covers the slots before it and a digest's window
 * covers everything held up to its end; and none when the slot after them ran on time anyway. Only the latest: a
 * worker suspended for a night would otherwise enqueue a poll for every minute of it. One late enqueue at a time: the
 * slots that come while it is under way wait for it, and again only the latest of them is enqueued. `ran` is told of
 * every slot that ran on time; `missed` of a slot found otherwise; `stop` decides at once what is pending.
 */
export function catchUpMissedTicks(
  task: ScheduledTask,
  enqueue: (slot: number) => Promise<void>,
  log: Logger,
  fields: Record<string, unknown>,
): { ran(slot: number): void; missed(slot: number, reason: MissReason): void; handledUntil(): number; stop(): void } {
  // Slots before the schedule started are not its own.
  let handled = Date.now();
  let latestRun = Number.NEGATIVE_INFINITY;
  let latestMissed: number | undefined;
  let counts = { skipped: 0, behindEnqueue: 0 };
  let deciding = false;
  let enqueuing = false;

  const decide = () => {
    deciding = false;
    if (enqueuing || latestMissed === undefined) return;
    const slot = latestMissed;
    const { skipped, behindEnqueue } = counts;
    latestMissed = undefined;
    counts = { skipped: 0, behindEnqueue: 0 };
    const reasons = { skipped: skipped + behindEnqueue, ...(behindEnqueue > 0 ? { behindEnqueue } : {}) };
    if (latestRun > slot) {
      log.warn({ ...fields, ...reasons }, 'schedule ticks fired late (busy event loop, suspended host or slow Redis); the next one ran on time');
      return;
    }
    log.warn({ ...fields, slot: iso(slot), ...reasons }, 'schedule ticks fired late (busy event loop, suspended host or slow Redis); the latest enqueued now');
    enqueuing = true;
    Promise.resolve()
      .then(() => enqueue(slot))
      .catch((err: unknown) => log.warn({ ...fields, slot: iso(slot), err }, 'could not enqueue a late schedule tick'))
      .finally(() => {
        enqueuing = false;
        decide();
      });
  };

  const missed = (slot: number, reason: MissReason) => {
    counts[reason]++;
    handled = Math.max(handled, slot);
    latestMissed = Math.max(latestMissed ?? Number.NEGATIVE_INFINITY, slot);
    if (deciding) return;
    deciding = true;
    // node-cron reports a run of skipped slots one after another, then runs the next slot if it is on time: decide
    // once all of that has happened.
    setImmediate(decide);
  };
  task.on('execution:missed', (ctx: TaskContext) => missed(ctx.date.getTime(), 'skipped'));
  task.on('execution:overlap', (ctx: TaskContext) => missed(ctx.date.getTime(), 'behindEnqueue'));
  return {
    ran(slot) {
      latestRun = Math.max(latestRun, slot);
      handled = Math.max(handled, slot);
    },
    missed,
    handledUntil: () => handled,
    stop: decide,
  };
}
