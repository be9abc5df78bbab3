import type { Job, Queue } from 'bullmq';
import type { ChannelConfig } from '../config/schema.js';
import { createNotifiers } from '../notifiers/registry.js';
import type { RecipientStatus } from '../notifiers/types.js';
import { jobId } from '../queue/names.js';
import type { Queues } from '../queue/queues.js';
import type { AlertStore } from '../store/alerts.js';
import type { Delivery, DeliveryStore } from '../store/deliveries.js';
import { conflict, HttpError, notFound } from './errors.js';

export interface RetryOutcome {
  key: string;
  queue: string;
  jobId: string;
  /** "retried": the failed job was moved back to waiting; "enqueued": it was gone, a new one was added. */
  action: 'retried' | 'enqueued';
  /**
   * Email that earlier sends got to some recipients (or that some refused for good): the ones it is sent to now, the
   * channel's recipients as configured now that neither accepted nor refused it (the others are not sent it again).
   */
  recipients?: string[];
}

const QUEUED = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Sends a failed delivery again. The failed job is retried in place (full attempts again) while BullMQ still keeps
 * it; once retention removed it, a new job with the same id and data is added. The delivery leaves the failed list
 * before the job is queued (and is put back if queueing fails), so a new failure, which the job lists again, stays listed.
 * An email goes only to the channel's recipients that have not accepted it nor refused it for good: the job reads
 * where each stands from the delivery's ledger entry, which is left as it is.
 */
export async function retryDelivery(
  key: string,
  deps: { deliveries: DeliveryStore; alerts: AlertStore; queues: Queues; channel(id: string): ChannelConfig | undefined },
): Promise<RetryOutcome> {
  const delivery = await deps.deliveries.get(key);
  if (!delivery) throw notFound(`no delivery "${key}" (it may have expired)`);
  if (delivery.status !== 'failed') throw conflict(`delivery "${key}" is ${delivery.status}, not failed`);
  const channel = deps.channel(delivery.channelId);
  if (!channel) throw conflict(`channel "${delivery.channelId}" is no longer configured (or is inactive)`);
  if (delivery.alertId && !(await deps.alerts.get(delivery.alertId))) {
    throw new HttpError(410, 'CP_API_GONE', `alert "${delivery.alertId}" has expired; there is nothing left to send`);
  }
  const target = jobFor(delivery, deps.queues);
  const recipients = delivery.recipients && recipientsToSend(channel, delivery.recipients);
  const existing = await target.queue.getJob(target.id);
  const state = existing ? await existing.getState() : undefined;
  if (state && QUEUED.has(state)) throw conflict(`delivery "${key}" is already queued (job ${target.id} is ${state})`);
  // Off the failed list before the job can run: a quick permanent failure puts it back, and must not be cleared after.
  await deps.deliveries.clearFailed(key);
  try {
    if (existing && state === 'failed') {
      await (existing as Job).retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch((err: Error) => {
        throw conflict(`job ${target.id} could not be retried: ${err.message}`);
      });
      return { key, queue: target.queue.name, jobId: target.id, action: 'retried', ...(recipients && { recipients }) };
    }
    if (existing) await existing.remove();
    await target.queue.add(target.name, target.data, { jobId: target.id });
    return { key, queue: target.queue.name, jobId: target.id, action: 'enqueued', ...(recipients && { recipients }) };
  } catch (err) {
    // Another request (a second operator, a double click) may have re-queued the job between our read and our retry:
    // then the delivery is on its way and is not put back on the failed list; the job lists it again if it fails.
    const now = await target.queue.getJob(target.id).then((job) => job?.getState()).catch(() => undefined);
    if (now && (QUEUED.has(now) || now === 'completed')) throw conflict(`delivery "${key}" is already queued (job ${target.id} is ${now})`);
    // Best effort: the re-queue's error is what the caller hears either way.
    await deps.deliveries.relistFailed(key, Date.parse(delivery.updatedAt)).catch(() => undefined);
    throw err;
  }
}

/**
 * Who the job will send to, as its notifier works it out when it sends: the ledger names recipients a reload may since
 * have removed, and not the ones it added. (The API's config can lag a worker's by a reload.)
 */
function recipientsToSend(channel: ChannelConfig, known: Record<string, RecipientStatus>): string[] | undefined {
  const notifiers = createNotifiers([channel]);
  const entry = notifiers.get(channel.id)!;
  const to = entry.notifier.recipientsToSend?.(entry.channel, known);
  // Nothing to wait for: the email notifier opens its SMTP pool only to send.
  void notifiers.close();
  return to;
}

function jobFor(delivery: Delivery, queues: Queues): { queue: Queue; name: string; id: string; data: object } {
  if (delivery.alertId && delivery.version !== undefined) {
    return {
      queue: queues.notify as Queue,
      name: 'notify',
      id: jobId('notify', delivery.key),
      data: { alertId: delivery.alertId, version: delivery.version, channelId: delivery.channelId },
    };
  }
  // Digest deliveries are keyed digest-<channelId>-<windowEnd>, which is also their job id.
  const windowEnd = Number(delivery.key.slice(delivery.key.lastIndexOf('-') + 1));
  if (!delivery.key.startsWith('digest-') || !Number.isFinite(windowEnd)) throw conflict(`delivery "${delivery.key}" names no alert or digest to send`);
  return { queue: queues.digest as Queue, name: 'digest', id: delivery.key, data: { channelId: delivery.channelId, windowEnd } };
}
