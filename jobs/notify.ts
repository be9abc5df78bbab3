import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { deliveryKey } from '../src/alerts/ids.js';
import { DeliveryError } from '../src/errors.js';
import { deliverStage } from '../src/pipeline/deliver.js';
import type { NotifyJob } from '../src/queue/names.js';
import type { WorkerContext } from '../src/worker/context.js';

/**
 * notify -> deliver one alert version to one channel. DeliveryError kinds become BullMQ behaviour:
 * retryable -> throw (capped exponential backoff); rate-limited -> the job is delayed until Retry-After without
 * burning an attempt, and the channel is blocked for every worker; permanent -> recorded and failed, no retry.
 */
export function notifyProcessor(ctx: WorkerContext) {
  return async (job: Job<NotifyJob>, token?: string, signal?: AbortSignal) => {
    const { alertId, version, channelId } = job.data;
    const log = ctx.runtime.log.child({ queue: 'notify', jobId: job.id, alertId, version, channelId });
    const settings = ctx.runtime.state.config.settings.delivery;
    const key = deliveryKey(alertId, version, channelId);
    const fail = async (error: DeliveryError, why: string) => {
      await ctx.stores.deliveries.recordAttempt(key, { alertId, version, channelId }, { status: 'failed', error: error.message, errorKind: error.kind, at: ctx.runtime.now() });
      ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'failed' });
      log.error({ err: error, attempts: job.attemptsMade + 1 }, `delivery given up: ${why}`);
      throw new UnrecoverableError(error.message);
    };

    try {
      const outcome = await deliverStage(job.data, { ...ctx.stores, state: ctx.runtime.state, log, now: ctx.runtime.now, signal });
      if (outcome.status === 'wait') {
        await job.moveToDelayed(outcome.untilMs, token);
        throw new DelayedError();
      }
      if (outcome.status === 'delivered') {
        ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'delivered' });
        ctx.metrics?.observeDelivered?.(alertId);
        log.info({ response: outcome.response }, 'delivered');
      } else log.debug({ outcome }, 'nothing to deliver');
      return outcome;
    } catch (err) {
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      const error = err instanceof DeliveryError ? err : DeliveryError.retryable(channelId, (err as Error).message, { cause: err });
      if (error.kind === 'permanent') return fail(error, 'permanent error');
      if (error.kind === 'rate-limited') {
        ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'rate-limited' });
        if (job.attemptsStarted > settings.maxRateLimitWaits) return fail(error, 'rate limited too many times');
        const until = ctx.runtime.now().getTime() + (error.delayMs ?? 30_000);
        log.warn({ retryAfterMs: error.delayMs }, 'receiver rate-limited us; waiting');
        await job.moveToDelayed(until, token);
        throw new DelayedError();
      }
      ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'retry' });
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) return fail(error, 'attempts exhausted');
      log.warn({ err: error, attempt: job.attemptsMade + 1 }, 'delivery failed; will retry');
      throw error;
    }
  };
}
