import type { Job } from 'bullmq';
import { digestStage } from '../src/pipeline/digest.js';
import { type DeliveryJobContext, digestLedger, settleDeliveryFailure, waitForSlot, waitUntil } from '../src/queue/delivery-job.js';
import type { DigestJob } from '../src/queue/names.js';
import { enqueueClosingFollowUp } from '../src/queue/digest-schedule.js';
import type { WorkerContext } from '../src/worker/context.js';

/**
 * digest -> send one channel's digest for one window. Failures map to BullMQ as for notify jobs
 * (settleDeliveryFailure). A digest that failed for good is recorded; if no send of it reached anyone its held alerts
 * stay for the next one, else they stay with it (an operator's retry sends them to the recipients still without it).
 */
export function digestProcessor(ctx: WorkerContext) {
  return async (job: Job<DigestJob>, token?: string, signal?: AbortSignal) => {
    const { channelId, windowEnd } = job.data;
    const log = ctx.runtime.log.child({ queue: 'digest', jobId: job.id, channelId, windowEnd: new Date(windowEnd).toISOString() });
    const settle: DeliveryJobContext = {
      job,
      token,
      ...digestLedger(job.data),
      deliveries: ctx.stores.deliveries,
      maxRateLimitWaits: ctx.runtime.state.config.settings.delivery.maxRateLimitWaits,
      now: ctx.runtime.now,
      log,
      metrics: ctx.metrics,
      what: 'digest',
      rateLimit: ctx.runtime.state.notifiers.get(channelId)?.rateLimit,
    };
    try {
      const { alerts, deliveries, digests } = ctx.stores;
      const outcome = await digestStage(job.data, { state: ctx.runtime.state, alerts, deliveries, digests, log, now: ctx.runtime.now, signal });
      if (outcome.status === 'wait') return await waitUntil(settle, outcome.untilMs);
      if (outcome.status === 'paced') return await waitForSlot(settle, outcome.waitMs, outcome.first);
      if (outcome.status === 'delivered') {
        ctx.metrics?.deliveries.inc({ channel: channelId, outcome: 'delivered' });
        log.info({ alerts: outcome.alerts, response: outcome.response }, 'digest delivered');
        // Not once the digest is back: its schedule sends what is held.
        if (job.data.closing && !ctx.runtime.state.notifiers.get(channelId)?.channel.digest) {
          await enqueueClosingFollowUp(ctx.queues.digest, channelId, ctx.runtime.now().getTime()).catch((err: unknown) =>
            log.warn({ err }, 'could not enqueue the follow-up of a closing digest; the next start or reload checks again'),
          );
        }
      } else if (outcome.status === 'skipped' && outcome.reason === 'superseded') {
        log.info({ outcome }, 'digest superseded: a later window sent the alerts it held');
      } else if (outcome.status === 'skipped' && outcome.reason === 'alerts-expired') {
        log.warn({ outcome }, 'digest not sent to its remaining recipients: every alert it carried has expired');
      } else log.debug({ outcome }, 'no digest to deliver');
      return outcome;
    } catch (err) {
      return settleDeliveryFailure(settle, err);
    }
  };
}
