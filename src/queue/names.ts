import type { Item } from '../items/item.js';

/** Queue names. BullMQ keys are "{prefix}:<queue>:...", under the same hash tag as our own keys. */
export const QUEUES = { poll: 'poll', score: 'score', notify: 'notify', digest: 'digest' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface PollJob {
  sourceId: string;
  /** The scheduled slot (ms since epoch) this poll belongs to; shared by every replica's cron tick. */
  tick: number;
}

export interface ScoreJob {
  sourceId: string;
  items: Item[];
}

export interface NotifyJob {
  alertId: string;
  version: number;
  channelId: string;
  /**
   * The moment inside quiet hours it was scheduled for on purpose (a throttle backlog past two weeks of them), kept
   * while it waits for its pace slot there: the slot replaces the parked marker that said so (kept by jobs/notify.ts).
   */
  dueInQuietHours?: number;
}

export interface DigestJob {
  channelId: string;
  /** End of the digest window (ms since epoch): the scheduled slot. */
  windowEnd: number;
  /**
   * A last digest for a channel whose digest was taken out of the config while alerts were held for it: sent once,
   * as a digest would have been, so that those alerts are not left held for ever (see enqueueClosingDigests).
   */
  closing?: true;
}

/** BullMQ refuses ":" in custom ids and all-digit ids; ids here are "<kind>-<parts>" with ":" replaced. */
export function jobId(...parts: Array<string | number>): string {
  return parts.map((p) => String(p).replace(/:/g, '_')).join('-');
}
