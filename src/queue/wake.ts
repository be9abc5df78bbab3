import type { Job, Queue } from 'bullmq';
import { deliveryKey } from '../alerts/ids.js';
import type { ChannelConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { NotifierSet } from '../notifiers/registry.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { DispatchStore } from '../store/dispatch.js';
import type { NotifyJob } from './names.js';

/** Delayed jobs read per page while looking for the ones to wake. */
const PAGE = 200;

/**
 * Channels whose notifications a reload frees: their quiet hours taken out. A notification deferred to, or parked
 * until, the end of the old quiet hours would otherwise wait for it. Not a channel with a throttle: a notification's
 * throttle count was put at the moment it waits for, and sent now it would go beyond the hour's budget.
 */
export function channelsFreedOfQuietHours(previous: NotifierSet, next: NotifierSet, channels: readonly ChannelConfig[]): Set<string> {
  const freed = new Set<string>();
  for (const { id } of channels) {
    const entry = next.get(id);
    if (previous.get(id)?.channel.quietHours && entry && !entry.channel.quietHours && !entry.channel.throttle) freed.add(id);
  }
  return freed;
}

/** What wakeQuietHoursWaits reads to tell a job that waits for quiet hours from one that waits for something else. */
export interface WakeStores {
  deliveries: Pick<DeliveryStore, 'isParked'>;
  dispatch: Pick<DispatchStore, 'get'>;
}

/**
 * Wakes the delayed notify jobs of the given channels that wait for the end of quiet hours: never run yet, deferred
 * there by their routing decision, or parked there when they ran (DeliveryStore.isParked). Each runs again now and
 * decides afresh under the new config. A job waiting for a throttle's moment, a retry's backoff or a 429 block keeps
 * its wait, and no job is woken twice in one pass. Returns how many it woke.
 */
export async function wakeQuietHoursWaits(queue: Queue<NotifyJob>, stores: WakeStores, channelIds: ReadonlySet<string>, log: Logger): Promise<number> {
  if (channelIds.size === 0) return 0;
  const woken = new Set<string>();
  // Promoting takes a job out of the delayed set: the next page starts after the ones kept.
  for (let kept = 0; ; ) {
    const jobs = (await queue.getDelayed(kept, kept + PAGE - 1)).filter((job): job is Job<NotifyJob> => job !== undefined);
    if (jobs.length === 0) break;
    const waits = await Promise.all(jobs.map((job) => channelIds.has(job.data.channelId) && !woken.has(job.id!) && waitsForQuietHours(job, stores)));
    await Promise.all(
      jobs.map(async (job, i) => {
        if (!waits[i]) return void kept++;
        try {
          await job.promote();
          woken.add(job.id!);
        } catch (err) {
          // It left the delayed set meanwhile (promoted by another worker's reload, or removed).
          kept++;
          log.debug({ jobId: job.id, err }, 'could not wake a notification waiting for quiet hours');
        }
      }),
    );
  }
  if (woken.size) log.info({ channels: [...channelIds], woken: woken.size }, 'woke the notifications waiting for quiet hours the reload took out');
  return woken.size;
}

async function waitsForQuietHours(job: Job<NotifyJob>, { deliveries, dispatch }: WakeStores): Promise<boolean> {
  const { alertId, version, channelId } = job.data;
  if (await deliveries.isParked(deliveryKey(alertId, version, channelId))) return true;
  // Deferred to their end when it was decided, and not run since (a job that ran and failed waits for its backoff).
  if (job.processedOn || job.attemptsMade > 0) return false;
  const decision = await dispatch.get(alertId, version, channelId);
  return decision?.mode === 'deferred' && decision.why === 'quiet-hours';
}
