import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { PipelineMetrics } from '../worker/context.js';

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
}

/** A stage asked to wait (a channel blocked after a 429): delay the job without using an attempt. */
export async function waitUntil(ctx: DeliveryJobContext, untilMs: number): Promise<never> {
  await ctx.job.moveToDelayed(untilMs, ctx.token);
  throw new DelayedError();
}

/**
 * The one place where a delivery failure becomes BullMQ behaviour, for notify and digest jobs alike:
 * retryable -> rethrow (capped exponential backoff; recorded as failed on the last attempt); rate-limited -> the job
 * is delayed until Retry-After without using an attempt (bounded by maxRateLimitWaits); permanent -> recorded as a
 * failed delivery, UnrecoverableError, no retry.
 */
export async function settleDeliveryFailure(ctx: DeliveryJobContext, err: unknown): Promise<never> {
  if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
  const { job, base, log, metrics } = ctx;
  const error = err instanceof DeliveryError ? err : DeliveryError.retryable(base.channelId, (err as Error).message, { cause: err });
  const giveUp = async (why: string): Promise<never> => {
    await ctx.deliveries.recordAttempt(ctx.key, base, { status: 'failed', error: error.message, errorKind: error.kind, at: ctx.now() });
    metrics?.deliveries.inc({ channel: base.channelId, outcome: 'failed' });
    log.error({ err: error, attempts: job.attemptsMade + 1 }, `${ctx.what} given up: ${why}`);
    throw new UnrecoverableError(error.message);
  };
  if (error.kind === 'permanent') return giveUp('permanent error');
  if (error.kind === 'rate-limited') {
    metrics?.deliveries.inc({ channel: base.channelId, outcome: 'rate-limited' });
    if (job.attemptsStarted > ctx.maxRateLimitWaits) return giveUp('rate limited too many times');
    log.warn({ retryAfterMs: error.delayMs }, 'receiver rate-limited us; waiting');
    return waitUntil(ctx, ctx.now().getTime() + (error.delayMs ?? 30_000));
  }
  metrics?.deliveries.inc({ channel: base.channelId, outcome: 'retry' });
  if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) return giveUp('attempts exhausted');
  log.warn({ err: error, attempt: job.attemptsMade + 1 }, `${ctx.what} failed; will retry`);
  throw error;
}
