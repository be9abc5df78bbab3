import type { Job } from 'bullmq';
import { deliverStage } from '../src/pipeline/deliver.js';
import { type DeliveryJobContext, deferPastQuietHours, notifyLedger, settleDeliveryFailure, waitForSlot, waitParked, waitUntil } from '../src/queue/delivery-job.js';
import type { NotifyJob } from '../src/queue/names.js';
import type { WorkerContext } from '../src/worker/context.js';
import { holdQuietForDigest, moveCountPastQuietHours } from '../src/alerts/dispatch.js';

/**
 * notify -> deliver one alert version to one channel. Failures become BullMQ behaviour in settleDeliveryFailure:
 * retryable -> capped exponential backoff; rate-limited -> delayed until Retry-After without burning an attempt (and
 * the channel is blocked for every worker); permanent -> recorded and failed, no retry. A paced channel (rateLimit)
 * delays the job to the slot reserved for it, also without an attempt.
 */
export function notifyProcessor(ctx: WorkerContext) {
  return async (job: Job<NotifyJob>, token?: string, signal?: AbortSignal) => {
    const { alertId, version, channelId } = job.data;
    const log = ctx.runtime.log.child({ queue: 'notify', jobId: job.id, alertId, version, channelId });
    const entry = ctx.runtime.state.notifiers.get(channelId);
    const throttle = entry?.channel.throttle;
    const quietHours = entry?.channel.quietHours;
    const ledger = notifyLedger(job.data);
    const settle: DeliveryJobContext = {
      job,
      token,
      ...ledger,
      deliveries: ctx.stores.deliveries,
      maxRateLimitWaits: ctx.runtime.state.config.settings.delivery.maxRateLimitWaits,
      now: ctx.runtime.now,
      log,
      metrics: ctx.metrics,
      what: 'delivery',
      rateLimit: entry?.rateLimit,
      quietHours,
      moveThrottle:
        throttle && quietHours
          ? (endsAt) => moveCountPastQuietHours(ctx.stores.dispatch, { channelId, key: ledger.key, maxPerHour: throttle.maxPerHour, quietHours }, endsAt, ctx.runtime.now().getTime())
          : undefined,
      holdForDigest:
        quietHours?.defer === 'digest' && entry?.channel.digest
          ? () => holdQuietForDigest(ctx.stores, { key: ledger.key, base: { alertId, version, channelId } }, ctx.runtime.now())
          : undefined,
    };
    try {
      const onUrgency = (urgent: boolean) => {
        settle.urgent = urgent;
      };
      const onDueInQuietHours = async (dueAt: number | undefined) => {
        settle.dueInQuietHours = dueAt;
        // Kept in the job's data before the stage takes a pace slot, which replaces the parked marker that said so: a
        // worker dying after that still finds it.
        if (dueAt !== undefined && job.data.dueInQuietHours !== dueAt) await job.updateData({ ...job.data, dueInQuietHours: dueAt });
      };
      const outcome = await deliverStage(job.data, { ...ctx.stores, state: ctx.runtime.state, log, now: ctx.runtime.now, signal, onUrgency, onDueInQuietHours });
      if (outcome.status === 'wait') return await waitUntil(settle, outcome.untilMs);
      if (outcome.status === 'paced') return await waitForSlot(settle, outcome.waitMs, outcome.first);
      if (outcome.status === 'parked') return await waitParked(settle, outcome.untilMs);
      if (outcome.status === 'quiet') return await deferPastQuietHours(settle, outcome.endsAt);
      if (outcome.status === 'delivered') {
        ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'delivered' });
        ctx.metrics?.observeDelivered?.(outcome.alert, ctx.runtime.now());
        log.info({ response: outcome.response }, 'delivered');
        // The job's return value is stored with it: the receiver's answer, not the whole alert.
        return { status: outcome.status, response: outcome.response };
      }
      log.debug({ outcome }, 'nothing to deliver');
      return outcome;
    } catch (err) {
      return settleDeliveryFailure(settle, err);
    }
  };
}

