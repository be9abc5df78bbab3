import type { Queue } from 'bullmq';
import type { Logger } from '../log.js';
import type { ChannelConfig } from '../config/schema.js';
import type { NotifierSet } from '../notifiers/registry.js';
import type { NotifyJob } from './names.js';

/** Delayed jobs read per page while looking for a channel's. */
const PAGE = 500;

/**
 * Channels whose waiting notifications a reload frees: their quiet hours or their pace taken out. A notification parked
 * past the old quiet hours, or waiting for a slot of the old pace, would otherwise wait for the moment it was given
 * under the config the operator just replaced.
 */
export function channelsFreedByReload(previous: NotifierSet, next: NotifierSet, channels: readonly ChannelConfig[]): Set<string> {
  const freed = new Set<string>();
  for (const { id } of channels) {
    const [before, entry] = [previous.get(id), next.get(id)];
    if (!before || !entry) continue;
    if ((before.channel.quietHours && !entry.channel.quietHours) || (before.rateLimit && !entry.rateLimit)) freed.add(id);
  }
  return freed;
}

/**
 * Wakes the delayed notify jobs of the given channels: each runs again now and decides afresh under the new config
 * (sent, or waiting again for what still applies: a 429's block, a retry's due time is not kept, see the README).
 * Returns how many it woke.
 */
export async function wakeDelayedNotifications(queue: Queue<NotifyJob>, channelIds: ReadonlySet<string>, log: Logger): Promise<number> {
  if (channelIds.size === 0) return 0;
  let woken = 0;
  // Promoting takes a job out of the delayed set: read from the start of what is left, past the ones kept.
  for (let kept = 0; ; ) {
    const jobs = await queue.getDelayed(kept, kept + PAGE - 1);
    if (jobs.length === 0) break;
    for (const job of jobs) {
      if (!channelIds.has(job.data.channelId)) {
        kept++;
        continue;
      }
      try {
        await job.promote();
        woken++;
      } catch (err) {
        // Gone or already running: nothing to wake.
        kept++;
        log.debug({ jobId: job.id, err }, 'could not wake a delayed notification');
      }
    }
  }
  if (woken) log.info({ channels: [...channelIds], woken }, 'woke notifications waiting for quiet hours or a pace the reload took out');
  return woken;
}
