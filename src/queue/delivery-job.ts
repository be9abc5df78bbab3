import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { RateLimit } from '../config/schema.js';
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Delivery, DeliveryStore } from '../store/deliveries.js';
import type { PipelineMetrics } from '../worker/context.js';
import { digestKey } from '../alerts/digest.js';
import { deliveryKey } from '../alerts/ids.js';
import { DEFAULT_RATE_LIMIT_DELAY_MS } from '../notifiers/retry-after.js';
import { quietHoursAt, quietHoursHold, type QuietHours } from '../alerts/quiet-hours.js';
import { QUEUES, type DigestJob, type NotifyJob } from './names.js';

export interface DeliveryJobContext {
  job: Job;
  token?: string;
  /** Ledger key of this delivery (alert version x channel, or digest window x channel). */
  key: string;
  base: { alertId?: string; version?: number; channelId: string };
  deliveries: DeliveryStore;
  maxRateLimitWaits: number;
  now: () => Date;
  log: Logger;
  metrics?: PipelineMetrics;
  /** "delivery" or "digest", for log lines. */
  what: string;
  /** The channel's pace (NotifierEntry.rateLimit): after a 429, the job then waits for a slot after the block. */
  rateLimit?: RateLimit;
  /**
   * A critical alert's delivery (set by the stage once it loaded the alert): its slot after a 429 is taken as urgent,
   * ahead of the routine deliveries waiting, as its first slot was.
   */
  urgent?: boolean;
  /**
   * The channel's quiet hours, for a notification (a digest is sent when scheduled): a routine one whose pace slot
   * falls in them waits for their end instead (see waitForSlot).
   */
  quietHours?: QuietHours;
  /**
   * The moment the notification was scheduled for inside quiet hours on purpose (set by the stage: see quietHoursHold):
   * a pace slot in those same quiet hours is waited for there, not moved past them, or a backlog is never sent.
   */
  dueInQuietHours?: number;
  /**
   * Counts the notification in its channel's throttle at the first moment after the quiet hours ending at `endsAt` that
   * the hour's budget allows, instead of when it was decided (it waits longer), and returns that moment.
   */
  moveThrottle?: (endsAt: number) => Promise<number>;
  /**
   * The channel defers its quiet hours to its digest (quietHours.defer: digest, with a digest): a routine notification
   * due in them is held for the digest instead of waiting for their end, as one decided in them is. How it ended
   * without a send (held, superseded by a newer version the digest sends, ended already, or delivered by a twin run);
   * undefined if it must be sent by itself after all (see DeliveryStore.holdForDigest).
   */
  holdForDigest?: () => Promise<'held' | 'superseded' | 'ended' | 'delivered' | undefined>;
}

/**
 * What a delivery that ends without a send of its own ends as (the job's result): held for the digest from the quiet
 * hours it was due in, superseded by a newer version the digest sends, or ended already (by a twin run, or a digest of
 * the window delivered by one).
 */
export type EndedUnsent =
  | { status: 'skipped'; reason: 'held-for-digest' | 'superseded' | 'ended' }
  | { status: 'already-delivered' };

/** Where a job's delivery is recorded: its ledger key and the fields its entry carries. */
export type Ledger = Pick<DeliveryJobContext, 'key' | 'base'>;

/** The ledger entry of a notify job: one alert version on one channel. */
export function notifyLedger({ alertId, version, channelId }: NotifyJob): Ledger {
  return { key: deliveryKey(alertId, version, channelId), base: { alertId, version, channelId } };
}

/** The ledger entry of a digest job: one channel's window. */
export function digestLedger({ channelId, windowEnd }: DigestJob): Ledger {
  return { key: digestKey(channelId, windowEnd), base: { channelId } };
}

/**
 * When a job waiting for untilMs should wake: never before (Retry-After is honoured), but spread over up to a quarter
 * of the wait (1 s to 60 s), because every job of a blocked channel waits for the same instant and, woken together,
 * would mostly earn another 429.
 */
export function wakeAt(untilMs: number, nowMs: number, random: () => number = Math.random): number {
  const spread = Math.min(60_000, Math.max(1_000, (untilMs - nowMs) / 4));
  return Math.ceil(untilMs + random() * spread);
}

/**
 * A stage asked to wait (a channel blocked after a 429) until untilMs on the pipeline's clock (ctx.now): delay the job
 * without using an attempt. BullMQ wakes delayed jobs by the process clock, so what it is given is the wait from
 * Date.now(), whatever clock the pipeline runs on.
 */
export async function waitUntil(ctx: DeliveryJobContext, untilMs: number): Promise<never> {
  const nowMs = ctx.now().getTime();
  await ctx.job.moveToDelayed(Date.now() + (wakeAt(untilMs, nowMs) - nowMs), ctx.token);
  throw new DelayedError();
}

/**
 * A paced channel gave the job a slot waitMs away: delay it until then, without using an attempt. No spread, unlike
 * waitUntil: the slot is this job's alone. Date.now(), not ctx.now(): the wait was measured on Redis's clock, and
 * BullMQ wakes delayed jobs by the process clock, whatever clock the pipeline runs on. `first`: the slot was given
 * now (see PaceTurn.fresh); a wait is counted in the metrics once per delivery, not again each time the job wakes
 * early (a critical alert moved its slot back, or another worker's clock promoted it).
 */
export async function waitForSlot(ctx: DeliveryJobContext, waitMs: number, first = true): Promise<EndedUnsent> {
  const quietEnd = quietHoursEnd(ctx, waitMs);
  if (quietEnd !== undefined) return holdOrWaitOutQuietHours(ctx, quietEnd, !first);
  ctx.log.debug({ waitMs }, `${ctx.what} paced: waiting for its slot`);
  if (first) observePaceWait(ctx, waitMs);
  return delayBy(ctx, waitMs);
}

/** Counts a delivery's wait for its turn on a paced channel, once per delivery. A metric never fails a delivery. */
function observePaceWait(ctx: DeliveryJobContext, waitMs: number): void {
  try {
    ctx.metrics?.observePaceWait?.(ctx.base.channelId, waitMs);
  } catch (err) {
    ctx.log.debug({ err }, 'could not observe the pace wait');
  }
}

/**
 * When the quiet hours end (ms, pipeline clock), if a routine notification's pace slot waitMs away falls in them (it
 * then waits for their end, or is held for the digest where the channel defers them to it: the job ends). They
 * were judged when it was decided: a long queue must not carry it into them. A critical alert ignores them, and one
 * scheduled in these very quiet hours on purpose (ctx.dueInQuietHours) is sent in them.
 */
function quietHoursEnd(ctx: DeliveryJobContext, waitMs: number): number | undefined {
  if (ctx.urgent) return undefined;
  return quietHoursHold(ctx.quietHours, ctx.now().getTime() + waitMs, ctx.dueInQuietHours);
}

/**
 * A routine notification found its channel in quiet hours ending at endsAt (see DeliverOutcome 'quiet'): as one paced
 * into them, without a pace wait to count (it was not waiting for its turn).
 */
export async function deferPastQuietHours(ctx: DeliveryJobContext, endsAt: number): Promise<EndedUnsent> {
  return holdOrWaitOutQuietHours(ctx, endsAt, true);
}

/** A notification due in the quiet hours: held for the digest where the channel defers them to it, else parked. */
async function holdOrWaitOutQuietHours(ctx: DeliveryJobContext, endsAt: number, counted: boolean): Promise<EndedUnsent> {
  const held = ctx.holdForDigest && (await ctx.holdForDigest());
  if (held === 'held') {
    ctx.log.info(`${ctx.what} due in the channel's quiet hours: held for the digest, as the channel defers them to it`);
    return { status: 'skipped', reason: 'held-for-digest' };
  }
  if (held === 'superseded') {
    ctx.log.info(`${ctx.what} due in the channel's quiet hours: superseded by a newer version of the alert, which the digest sends`);
    return { status: 'skipped', reason: 'superseded' };
  }
  if (held === 'ended') {
    ctx.log.info(`${ctx.what} due in the channel's quiet hours had ended without a send already (a twin run's hold): nothing to do`);
    return { status: 'skipped', reason: 'ended' };
  }
  // Sent: its throttle count stays where it was, and there is nothing to wait for.
  if (held === 'delivered') {
    ctx.log.info(`${ctx.what} due in the channel's quiet hours was delivered already (a twin run's send): nothing to do`);
    return { status: 'already-delivered' };
  }
  return waitOutQuietHours(ctx, endsAt, counted);
}

/**
 * Parks the slot in the quiet hours (a critical alert may still take its place: see DeliveryStore.parkSlot), counts
 * the notification in the throttle at the first moment after them the hour's budget allows, and waits until then,
 * when it takes a new slot of the pace. Its wait is counted now, to that moment, unless it was (`counted`): the slot
 * it takes then may be free at once, with no wait to count.
 */
async function waitOutQuietHours(ctx: DeliveryJobContext, endsAt: number, counted: boolean): Promise<never> {
  // Sent where it is counted: after the quiet hours, or (past two weeks' backlog of them) in them, as routing does.
  const until = Math.max(endsAt, ctx.moveThrottle ? await ctx.moveThrottle(endsAt) : endsAt);
  const nowMs = ctx.now().getTime();
  if (!counted) observePaceWait(ctx, until - nowMs);
  // Kept an hour past its time, as a slot is: a job woken late still finds it.
  const inQuietHours = ctx.quietHours !== undefined && quietHoursAt(until, ctx.quietHours).quiet;
  await ctx.deliveries.parkSlot(ctx.key, until - nowMs + 3_600_000, until, inQuietHours);
  ctx.log.info({ until: new Date(until).toISOString() }, `${ctx.what} due in the channel's quiet hours: waiting for their end`);
  return delayBy(ctx, until - nowMs);
}

/**
 * A parked notification woke before the moment it waits for (promoted early): it waits again until untilMs (pipeline
 * clock). Nothing else: its wait was counted, its throttle count moved and its slot parked when it parked.
 */
export async function waitParked(ctx: DeliveryJobContext, untilMs: number): Promise<never> {
  ctx.log.info({ until: new Date(untilMs).toISOString() }, `${ctx.what} parked past the channel's quiet hours woke early: waiting again`);
  return delayBy(ctx, untilMs - ctx.now().getTime());
}

async function delayBy(ctx: DeliveryJobContext, waitMs: number): Promise<never> {
  await ctx.job.moveToDelayed(Date.now() + waitMs, ctx.token);
  throw new DelayedError();
}

/**
 * The one place where a delivery failure becomes BullMQ behaviour, for notify and digest jobs alike:
 * retryable -> rethrow (capped exponential backoff; recorded as failed on the last attempt); rate-limited -> the job
 * is delayed until Retry-After (on a paced channel: its slot after it, and past the quiet hours that slot falls in, or
 * held for the digest: see waitForSlot) without using an attempt (bounded by
 * maxRateLimitWaits 429s of its own, as counted in its ledger entry); permanent -> recorded as a failed delivery,
 * UnrecoverableError, no retry.
 */
export async function settleDeliveryFailure(ctx: DeliveryJobContext, err: unknown): Promise<EndedUnsent> {
  if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
  const { job, base, log, metrics } = ctx;
  const error = err instanceof DeliveryError ? err : DeliveryError.retryable(base.channelId, (err as Error).message, { cause: err });
  // The ledger entry, the log line and the failed job all carry the verdict, never what the last failure said would
  // happen next ("will retry").
  const giveUp = async (why: string, fields: Record<string, unknown> = {}, verdict = error.message): Promise<EndedUnsent> => {
    const entry = await ctx.deliveries.recordAttempt(ctx.key, base, { status: 'failed', error: verdict, errorKind: error.kind, at: ctx.now() });
    // A twin run ended it meanwhile (delivered it, or held it for the digest): the ledger kept that, and this run's
    // failure is no delivery's failure.
    if (entry.status !== 'failed') {
      log.info({ err: givenUpError(error, verdict), status: entry.status }, `${ctx.what} ended by another run meanwhile (${entry.status}): not given up`);
      return endedByTwin(entry, base) ?? { status: 'skipped', reason: 'ended' };
    }
    metrics?.deliveries.inc({ channel: base.channelId, outcome: 'failed' });
    log.error({ err: givenUpError(error, verdict), attempts: job.attemptsMade + 1, ...fields }, `${ctx.what} given up: ${why}`);
    throw new UnrecoverableError(verdict);
  };
  if (error.kind === 'permanent') return giveUp('permanent error');
  if (error.kind === 'rate-limited') {
    const entry = await ctx.deliveries.get(ctx.key);
    // A twin run ended it while this one's send was answered 429 (the ledger kept that over the 429): no delivery of
    // it is waiting, so it takes no slot, and the 429 is no delivery's.
    const ended = endedByTwin(entry, base);
    if (ended) {
      log.info({ status: entry!.status }, `${ctx.what} rate-limited, but ended by another run meanwhile (${entry!.status}): not waiting`);
      return ended;
    }
    metrics?.deliveries.inc({ channel: base.channelId, outcome: 'rate-limited' });
    // Its own 429s only: waits for a channel that other jobs' 429s blocked, retries and stalls are not counted.
    const rateLimited = entry?.rateLimited ?? 0;
    if (rateLimited > ctx.maxRateLimitWaits) {
      return giveUp('rate limited too many times', { rateLimited }, `${error.message}; given up after ${rateLimited} rate-limited answers`);
    }
    log.warn({ retryAfterMs: error.delayMs, rateLimited }, 'receiver rate-limited us; waiting');
    // Paced, the job takes its turn after the block (which the failed send just set) among the channel's others.
    if (ctx.rateLimit) {
      // Never sooner than Retry-After by this worker's clock either: with Redis's clock ahead of it, the slot may
      // already look due. Not a pace wait for the metrics: the receiver set it, and it is counted as rate-limited.
      const slotMs = await ctx.deliveries.reserveSlot(base.channelId, ctx.key, ctx.rateLimit, ctx.urgent);
      const waitMs = Math.max(slotMs, error.delayMs ?? DEFAULT_RATE_LIMIT_DELAY_MS);
      const quietEnd = quietHoursEnd(ctx, waitMs);
      // Not a pace wait for the metrics, after the quiet hours either.
      if (quietEnd !== undefined) return holdOrWaitOutQuietHours(ctx, quietEnd, true);
      return delayBy(ctx, waitMs);
    }
    return waitUntil(ctx, ctx.now().getTime() + (error.delayMs ?? DEFAULT_RATE_LIMIT_DELAY_MS));
  }
  metrics?.deliveries.inc({ channel: base.channelId, outcome: 'retry' });
  if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) return giveUp('attempts exhausted', {}, exhaustedVerdict(error, job.attemptsMade + 1));
  log.warn({ err: error, attempt: job.attemptsMade + 1 }, `${ctx.what} failed; will retry`);
  throw error;
}

/**
 * How a job ends whose delivery's entry shows it ended by another run: delivered, or (a notification's, final: see
 * DeliveryStore.recordAttempt) skipped. Undefined while it is still open. A digest window's skipped entry is not final.
 */
function endedByTwin(entry: Delivery | undefined, base: DeliveryJobContext['base']): EndedUnsent | undefined {
  if (entry?.status === 'delivered') return { status: 'already-delivered' };
  if (entry?.status === 'skipped' && base.alertId !== undefined) return { status: 'skipped', reason: 'ended' };
  return undefined;
}

/**
 * What a delivery's failed entry says once its attempts ran out: what the last attempt failed on (a notifier's error
 * says what failed, never what happens next) and that it was given up. An email's verdict names who is still without
 * it instead.
 */
export function exhaustedVerdict(error: DeliveryError, attempts: number): string {
  if (error.stillWithout) return `given up after ${attempts} attempts; still without it: ${error.stillWithout}`;
  return `${error.message}; given up after ${attempts} attempts`;
}

/** The error as a given-up log line shows it: the verdict for its message, its code, kind and (scrubbed) cause kept. */
function givenUpError(error: DeliveryError, verdict: string): Error {
  const logged = new Error(verdict, { cause: error.cause });
  return Object.assign(logged, { name: error.name, code: error.code, kind: error.kind, channelId: error.channelId });
}

/**
 * Records as failed, in its ledger entry, a notification or digest whose job BullMQ failed for good because the
 * workers running it kept dying (its stall limit): no processor saw that failure, and without the entry it would be
 * missing from the failed deliveries that ops list and retry. A delivered entry stays delivered.
 */
export async function recordStalledOut(
  queueName: string,
  data: unknown,
  deps: { deliveries: DeliveryStore; now: () => Date; metrics?: PipelineMetrics },
  stalls: number,
): Promise<boolean> {
  // The entry the job's processor would have written (jobs/notify.ts, jobs/digest.ts).
  const ledger = queueName === QUEUES.notify ? notifyLedger(data as NotifyJob) : queueName === QUEUES.digest ? digestLedger(data as DigestJob) : undefined;
  if (!ledger) return false;
  const error = `the workers running it died ${stalls} times in a row (a crash, OOM or kill each time); given up`;
  const entry = await deps.deliveries.recordAttempt(ledger.key, ledger.base, { status: 'failed', error, errorKind: 'stalled', at: deps.now() });
  if (entry.status !== 'failed') return false;
  deps.metrics?.deliveries.inc({ channel: ledger.base.channelId, outcome: 'failed' });
  return true;
}
