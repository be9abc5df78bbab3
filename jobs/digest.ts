import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { digestKey } from '../src/alerts/digest.js';
import { DeliveryError } from '../src/errors.js';
import { digestStage } from '../src/pipeline/digest.js';
import type { DigestJob } from '../src/queue/names.js';
import type { WorkerContext } from '../src/worker/context.js';

/**
 * digest -> send one channel's digest for one window. DeliveryError kinds map to BullMQ as for notify jobs:
 * retryable -> throw (capped backoff); rate-limited -> delayed until Retry-After, no attempt used; permanent ->
 * recorded as failed, no retry (the held alerts stay for the next digest).
 */
export function digestProcessor(ctx: WorkerContext) {
  return async (job: Job<DigestJob>, token?: string, signal?: AbortSignal) => {
    const { channelId, windowEnd } = job.data;
    const log = ctx.runtime.log.child({ queue: 'digest', jobId: job.id, channelId, windowEnd: new Date(windowEnd).toISOString() });
    const key = digestKey(channelId, windowEnd);
    const settings = ctx.runtime.state.config.settings.delivery;
    const fail = async (error: DeliveryError, why: string) => {
      await ctx.stores.deliveries.recordAttempt(key, { channelId }, { status: 'failed', error: error.message, errorKind: error.kind, at: ctx.runtime.now() });
      ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'failed' });
      log.error({ err: error, attempts: job.attemptsMade + 1 }, `digest given up: ${why}`);
      throw new UnrecoverableError(error.message);
    };
    try {
      const { alerts, deliveries, digests } = ctx.stores;
      const outcome = await digestStage(job.data, { state: ctx.runtime.state, alerts, deliveries, digests, log, now: ctx.runtime.now, signal });
      if (outcome.status === 'wait') {
        await job.moveToDelayed(outcome.untilMs, token);
        throw new DelayedError();
      }
      if (outcome.status === 'delivered') {
        ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'delivered' });
        log.info({ alerts: outcome.alerts, response: outcome.response }, 'digest delivered');
      } else log.debug({ outcome }, 'no digest to deliver');
      return outcome;
    } catch (err) {
      if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
      const error = err instanceof DeliveryError ? err : DeliveryError.retryable(channelId, (err as Error).message, { cause: err });
      if (error.kind === 'permanent') return fail(error, 'permanent error');
      if (error.kind === 'rate-limited') {
        if (job.attemptsStarted > settings.maxRateLimitWaits) return fail(error, 'rate limited too many times');
        await job.moveToDelayed(ctx.runtime.now().getTime() + (error.delayMs ?? 30_000), token);
        throw new DelayedError();
      }
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) return fail(error, 'attempts exhausted');
      log.warn({ err: error, attempt: job.attemptsMade + 1 }, 'digest failed; will retry');
      throw error;
    }
  };
}
