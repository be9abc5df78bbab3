import cron from 'node-cron';
import type { Queue } from 'bullmq';
import type { ChannelConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { digestKey } from '../alerts/digest.js';
import type { DigestStore } from '../store/digests.js';
import type { DigestJob } from './names.js';
import { type Scheduler, schedulerOf } from './scheduler.js';
import { type RunningSchedule, scheduleSlots } from './slots.js';

/** Longer than any digest interval is likely to be: the id stays refused after the job is gone. */
const DIGEST_DEDUP_TTL_MS = 8 * 86_400_000;

/**
 * Enqueues one channel's digest for the window ending at the scheduled slot. The job id is derived from the channel
 * and the slot (identical in every replica), so N replicas collapse into one digest per window.
 */
export async function enqueueDigest(queue: Queue<DigestJob>, channelId: string, windowEnd: number): Promise<void> {
  const id = digestKey(channelId, windowEnd);
  await queue.add('digest', { channelId, windowEnd }, { jobId: id, deduplication: { id, ttl: DIGEST_DEDUP_TTL_MS } });
}

/**
 * Enqueues a closing digest (see DigestJob.closing) for each configured channel without a digest that still holds
 * alerts for one: its digest was taken out of the config (by a reload, or while the worker was down) with alerts held
 * for it, which no scheduled digest will send now. Run at start and on every reload, not awaited: a slow Redis does not
 * hold up either. One closing digest per channel is queued at a time (replicas reloading together add one), and it
 * takes everything held when it runs.
 */
export async function enqueueClosingDigests(channels: ChannelConfig[], queue: Queue<DigestJob>, digests: Pick<DigestStore, 'pending'>, log: Logger, nowMs: number): Promise<void> {
  // The channels at once: at start-up, one round trip for all of them rather than one after another.
  await Promise.all(
    channels
      .filter((c) => !c.digest)
      .map(async (channel) => {
        try {
          const held = await digests.pending(channel.id, Number.MAX_SAFE_INTEGER);
          if (held.length === 0) return;
          await enqueueClosingDigest(queue, channel.id, nowMs);
          log.warn({ channelId: channel.id, alerts: held.length }, 'the channel no longer has a digest but alerts are held for one: sending them in a last digest');
        } catch (err) {
          log.warn({ channelId: channel.id, err }, 'could not check for alerts held for a digest the channel no longer has; the next start or reload checks again');
        }
      }),
  );
}

/** How far back a start looks for a digest slot missed while no worker ran: a weekly digest's interval, and a day. */
const MISSED_DIGEST_LOOKBACK_MS = 8 * 86_400_000;

/**
 * Enqueues, for each channel with a digest, the latest digest slot that passed while no worker was running (a worker
 * down over the 08:00 digest, a deploy at that moment): without it, that digest waited for the next slot, a day or a
 * week later. Only the latest slot (its window takes everything held up to its end, as a digest catching up after a
 * busy stretch does), and only one after the channel's last digest, or, for a channel that never had one, while alerts
 * are held for it. The job id is the slot's, so replicas starting together add one. Run at start, not awaited.
 */
export async function enqueueMissedDigests(
  channels: ChannelConfig[],
  queue: Queue<DigestJob>,
  digests: Pick<DigestStore, 'lastWindowEnd' | 'pending'>,
  log: Logger,
  nowMs: number,
): Promise<void> {
  await Promise.all(
    channels.map(async (channel) => {
      if (!channel.digest) return;
      try {
        const last = await digests.lastWindowEnd(channel.id);
        const slot = latestDigestSlot(channel, Math.max(last ?? 0, nowMs - MISSED_DIGEST_LOOKBACK_MS), nowMs);
        if (slot === undefined) return;
        if (last === undefined && (await digests.pending(channel.id, slot)).length === 0) return;
        await enqueueDigest(queue, channel.id, slot);
        log.info({ channelId: channel.id, windowEnd: new Date(slot).toISOString() }, 'a digest slot passed while no worker was running: sending that digest now');
      } catch (err) {
        log.warn({ channelId: channel.id, err }, 'could not check for a digest missed while no worker was running; the next slot sends what is held');
      }
    }),
  );
}

/**
 * The latest of a channel's digest slots in (after, now], looking backwards from now so that the usual case (the last
 * slot a few hours ago) checks few instants: whole minutes, at the seconds a six-field schedule names. A slot with the
 * same local time as `after` is the same slot: in the hour repeated when clocks go back, the scheduler runs a slot
 * once, and its other occurrence is no missed digest.
 */
export function latestDigestSlot(channel: ChannelConfig, after: number, now: number): number | undefined {
  if (!channel.digest) return undefined;
  const { schedule, timezone } = channel.digest;
  const fields = schedule.trim().split(/\s+/);
  // A seconds field of plain numbers ("30", "0,30"); anything else in it is no digest schedule worth catching up.
  const seconds = (fields.length === 6 ? fields[0].split(',').map(Number) : [0]).sort((a, b) => b - a);
  if (seconds.some((s) => !Number.isInteger(s) || s < 0 || s > 59)) return undefined;
  const task = cron.createTask(schedule, () => undefined, { timezone });
  const local = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  const sameLocalTime = (a: number, b: number) => local.format(a) === local.format(b);
  try {
    for (let minute = Math.floor(now / 60_000) * 60_000; minute + 60_000 > after; minute -= 60_000) {
      for (const s of seconds) {
        const at = minute + s * 1000;
        if (at > now || at <= after) continue;
        if (task.match(new Date(at))) return sameLocalTime(at, after) ? undefined : at;
      }
    }
    return undefined;
  } finally {
    void task.destroy();
  }
}

/** How long after a closing digest the next one looks for alerts held for the digest since. */
const CLOSING_FOLLOW_UP_MS = 60_000;

/**
 * After a closing digest sent something: alerts may still be held for it a little later (a score job deciding with the
 * old config, a replica not yet reloaded), so one more a minute on takes them, and ends the chain if there are none.
 */
export async function enqueueClosingFollowUp(queue: Queue<DigestJob>, channelId: string, nowMs: number): Promise<void> {
  await enqueueClosingDigest(queue, channelId, nowMs + CLOSING_FOLLOW_UP_MS, CLOSING_FOLLOW_UP_MS);
}

/**
 * A closing digest for one channel, `delayMs` from now. One per channel at a time: while one waits, another is not
 * added; while one runs, the latest asked for is kept and added once it ends (BullMQ's keepLastIfActive), so two never
 * run at once and send the same alerts twice.
 */
export async function enqueueClosingDigest(queue: Queue<DigestJob>, channelId: string, windowEnd: number, delayMs?: number): Promise<void> {
  await queue.add('digest', { channelId, windowEnd, closing: true }, { jobId: digestKey(channelId, windowEnd), delay: delayMs, deduplication: { id: `closing-${channelId}`, keepLastIfActive: true } });
}

/** A cron task per channel with a digest, in the digest's time zone (so "0 8 * * 1-5" is 08:00 local, DST included). */
export function startDigestSchedules(channels: ChannelConfig[], queue: Queue<DigestJob>, log: Logger): Scheduler {
  const tasks: RunningSchedule[] = [];
  for (const channel of channels) {
    const digest = channel.digest;
    if (!digest) continue;
    tasks.push(
      scheduleSlots({
        name: `digest-${channel.id}`,
        expression: digest.schedule,
        timezone: digest.timezone,
        enqueue: (windowEnd) => enqueueDigest(queue, channel.id, windowEnd),
        log,
        fields: { channelId: channel.id },
        what: 'digest',
      }),
    );
  }
  return schedulerOf(tasks);
}

/** The next `count` digest times of a channel (for `chokepoint validate`, the API and tests). */
export function nextDigestTimes(channel: ChannelConfig, count: number): Date[] {
  if (!channel.digest) return [];
  const task = cron.createTask(channel.digest.schedule, () => undefined, { timezone: channel.digest.timezone });
  try {
    return task.getNextRuns(count);
  } finally {
    void task.destroy();
  }
}

/** Whether an instant is one of a channel's digest times (in the digest's time zone). */
export function isDigestTime(channel: ChannelConfig, date: Date): boolean {
  if (!channel.digest) return false;
  const task = cron.createTask(channel.digest.schedule, () => undefined, { timezone: channel.digest.timezone });
  try {
    return task.match(date);
  } finally {
    void task.destroy();
  }
}
