import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { digestWindowOf } from '../alerts/digest.js';
import { deliveryKey } from '../alerts/ids.js';
import type { ChannelConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { NotifierSet } from '../notifiers/registry.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { DispatchStore } from '../store/dispatch.js';
import type { DigestJob, NotifyJob } from './names.js';

/** How long after a reload's wake it looks again, for jobs that came to wait for the old quiet hours meanwhile. */
const WAKE_AGAIN_MS = 60_000;
/** Delayed job ids read per page while looking for the ones to wake. */
const PAGE = 500;

/**
 * Channels whose notifications a reload frees of quiet hours: without quiet hours or a throttle now, and not so
 * before. A notification deferred to, or parked until, the end of the old quiet hours would otherwise wait for it. Not
 * a channel that keeps a throttle: a notification's throttle count was put at the moment it waits for, and sent now it
 * would go beyond the hour's budget. So a channel whose quiet hours go in one reload and its throttle in a later one
 * is freed by the later one.
 */
export function channelsFreedOfQuietHours(previous: NotifierSet, next: NotifierSet, channels: readonly ChannelConfig[]): Set<string> {
  return new Set(channels.filter(({ id }) => previous.get(id) && !freeOfQuietHours(previous, id) && freeOfQuietHours(next, id)).map(({ id }) => id));
}

/**
 * Channels whose notifications a reload frees of their throttle: throttled before, not now. A notification the
 * throttle delayed to a later moment of the hour's budget would otherwise wait for it: hours, on a busy channel.
 */
export function channelsFreedOfThrottle(previous: NotifierSet, next: NotifierSet, channels: readonly ChannelConfig[]): Set<string> {
  return new Set(channels.filter(({ id }) => previous.get(id)?.channel.throttle && freeOfThrottle(next, id)).map(({ id }) => id));
}

/** Whether the channel is there and without a throttle: its waits for a throttle's moment may be woken. */
function freeOfThrottle(notifiers: NotifierSet, channelId: string): boolean {
  const channel = notifiers.get(channelId)?.channel;
  return channel !== undefined && !channel.throttle;
}

/** Whether the channel is there, without quiet hours and without a throttle: its waits for quiet hours may be woken. */
function freeOfQuietHours(notifiers: NotifierSet, channelId: string): boolean {
  const channel = notifiers.get(channelId)?.channel;
  return channel !== undefined && !channel.quietHours && !channel.throttle;
}

/**
 * Channels whose notifications a reload frees of their pace: unpaced now (`rateLimit: false`), without quiet hours or a
 * throttle, whose moments a paced wait may also stand for, and not so before: paced, or already unpaced but still with
 * a throttle or quiet hours (its pace went in an earlier reload, which could not wake its slot waits). A notification
 * waiting for its slot would otherwise wait for it: a backlog on a paced channel, minutes.
 */
export function channelsFreedOfPace(previous: NotifierSet, next: NotifierSet, channels: readonly ChannelConfig[]): Set<string> {
  return new Set(channels.filter(({ id }) => previous.get(id) && !freeOfPace(previous, id) && freeOfPace(next, id)).map(({ id }) => id));
}

/** Whether the channel is there, unpaced, without quiet hours and without a throttle: its waits for a slot may be woken. */
function freeOfPace(notifiers: NotifierSet, channelId: string): boolean {
  return unpaced(notifiers, channelId) && freeOfQuietHours(notifiers, channelId);
}

/**
 * Channels whose digests a reload frees of their pace: paced before, unpaced now. A digest keeps no quiet hours or
 * throttle (it is sent when scheduled), so its slot wait stands for the pace alone, whatever else the channel keeps.
 */
export function channelsFreedOfPaceForDigests(previous: NotifierSet, next: NotifierSet, channels: readonly ChannelConfig[]): Set<string> {
  return new Set(channels.filter(({ id }) => previous.get(id)?.rateLimit && unpaced(next, id)).map(({ id }) => id));
}

/** Whether the channel is there and unpaced: its digests' waits for a slot may be woken. */
function unpaced(notifiers: NotifierSet, channelId: string): boolean {
  const entry = notifiers.get(channelId);
  return entry !== undefined && !entry.rateLimit;
}

/** The channels a reload frees, by what they waited for. */
export interface FreedChannels {
  quietHours: ReadonlySet<string>;
  throttle: ReadonlySet<string>;
  pace: ReadonlySet<string>;
  /** Of their pace for digests (see channelsFreedOfPaceForDigests): those not freed of it for all are woken alone. */
  digestPace: ReadonlySet<string>;
}

/** What a reload's wake works with: `notifiers` the config in force when it runs, `stopping` whether the worker stops. */
export interface ReloadWake {
  queue: Queue<NotifyJob>;
  /** The digest queue: a digest waits for its slot of the pace as a notification does. */
  digestQueue?: Queue<DigestJob>;
  redis: Redis;
  stores: WakeStores;
  log: Logger;
  notifiers: () => NotifierSet;
  stopping: () => boolean;
}

/**
 * After a reload that freed channels of their quiet hours, their throttle or their pace: wakes what waits for them
 * now, and again a minute on (a job running during the reload, or decided by a score job still on the old config, may
 * have come to wait for the old ones since), then only for channels a later reload has not given them, or a throttle,
 * again. Not awaited: a reload does not wait on the scan.
 */
export function wakeAfterReload(freed: FreedChannels, wake: ReloadWake): void {
  const { queue, digestQueue, redis, stores, log } = wake;
  const kinds = [
    { channels: freed.quietHours, stillFree: freeOfQuietHours, run: (ids: ReadonlySet<string>) => wakeQuietHoursWaits(queue, redis, stores, ids, log), what: 'quiet hours' },
    { channels: freed.throttle, stillFree: freeOfThrottle, run: (ids: ReadonlySet<string>) => wakeThrottleWaits(queue, redis, stores, ids, log), what: 'a moment of the throttle' },
    { channels: freed.pace, stillFree: freeOfPace, run: (ids: ReadonlySet<string>) => wakePaceWaits(queue, redis, stores, ids, log, digestQueue), what: 'their slot of the pace' },
    {
      // Channels that keep quiet hours or a throttle: their notifications' slot waits may stand for those, not their digests'.
      channels: new Set([...freed.digestPace].filter((id) => !freed.pace.has(id))),
      stillFree: unpaced,
      run: (ids: ReadonlySet<string>) => (digestQueue ? wakeDigestSlotWaits(digestQueue, redis, stores, ids, log) : Promise.resolve(0)),
      what: 'their slot of the pace (digests)',
    },
  ];
  for (const { channels, stillFree, run, what } of kinds) {
    if (channels.size === 0) continue;
    const pass = (ids: ReadonlySet<string>) =>
      void run(ids).catch((err: unknown) => {
        if (!wake.stopping()) log.warn({ err, channels: [...ids] }, `could not wake the notifications waiting for ${what} the reload took out; they wait as they were`);
      });
    pass(channels);
    setTimeout(() => {
      const still = new Set([...channels].filter((id) => stillFree(wake.notifiers(), id)));
      if (!wake.stopping() && still.size) pass(still);
    }, WAKE_AGAIN_MS).unref();
  }
}

/** What the wakes read to tell a job that waits for quiet hours, or a slot, from one that waits for something else. */
export interface WakeStores {
  deliveries: Pick<DeliveryStore, 'isParked' | 'holdsSlot' | 'forgetPace'>;
  dispatch: Pick<DispatchStore, 'get' | 'forgetThrottle'>;
}

/**
 * Wakes the delayed notify jobs of the given channels that wait for the end of quiet hours: never run yet, deferred
 * there by their routing decision, or parked there when they ran (DeliveryStore.isParked). Each runs again now and
 * decides afresh under the new config. A job waiting for a throttle's moment, a retry's backoff or a 429 block keeps
 * its wait. Returns how many it woke.
 */
export async function wakeQuietHoursWaits(queue: Queue<NotifyJob>, redis: Redis, stores: WakeStores, channelIds: ReadonlySet<string>, log: Logger): Promise<number> {
  const woken = await wakeWaits(queue, redis, channelIds, log, ofNotifyChannel, (job) => waitsForQuietHours(job, stores));
  if (woken) log.info({ channels: [...channelIds], woken }, 'woke the notifications waiting for quiet hours the reload took out');
  return woken;
}

/**
 * Wakes the delayed notify jobs of the given channels that wait for a later moment of the hour's budget their throttle
 * gave them (`why: throttled-delayed`) and have not run yet. Each runs again now and decides afresh under the new
 * config: sent at once, or, where the channel keeps quiet hours and they have begun, held until their end. A job that
 * ran (parked for quiet hours, a retry's backoff, a 429 block) keeps its wait. The channels' throttle counts are
 * forgotten: a throttle put back later starts from an empty hour, not from the moments of sends made now. Returns how
 * many it woke.
 */
export async function wakeThrottleWaits(queue: Queue<NotifyJob>, redis: Redis, stores: WakeStores, channelIds: ReadonlySet<string>, log: Logger): Promise<number> {
  for (const channelId of channelIds) await stores.dispatch.forgetThrottle(channelId);
  const woken = await wakeWaits(queue, redis, channelIds, log, ofNotifyChannel, (job) => waitsForThrottle(job, stores));
  if (woken) log.info({ channels: [...channelIds], woken }, 'woke the notifications waiting for a moment of the throttle the reload took out');
  return woken;
}

/**
 * Wakes the delayed notify jobs of the given channels that wait for their slot of the channel's pace (the delivery holds
 * a slot still ahead: DeliveryStore.holdsSlot), and their digests waiting so, when `digestQueue` is given. Each runs
 * again now, unpaced. A job waiting for a retry's backoff holds no slot (it gave its slot up when it took its turn, paced
 * or, once woken, unpaced: see DeliveryStore.beforeSend and giveUpSlot), nor does one parked for quiet hours: they keep
 * their waits. A job waiting for its slot after a 429 block is woken, and waits again for the end of the block. Returns
 * how many it woke.
 */
export async function wakePaceWaits(
  queue: Queue<NotifyJob>,
  redis: Redis,
  stores: WakeStores,
  channelIds: ReadonlySet<string>,
  log: Logger,
  digestQueue?: Queue<DigestJob>,
): Promise<number> {
  // The channel's next free moment and held slots stand for sends the wake makes now: were the pace put back within the
  // hour, a new notification would wait behind them.
  for (const channelId of channelIds) await stores.deliveries.forgetPace(channelId);
  // Both scans run though one fails: each job it could not reach keeps its wait, and the pass a minute later tries again.
  const [notifications, digests] = await Promise.allSettled([
    wakeWaits(queue, redis, channelIds, log, ofNotifyChannel, (job) => stores.deliveries.holdsSlot(deliveryKey(job.data.alertId, job.data.version, job.data.channelId))),
    digestQueue ? digestSlotWaits(digestQueue, redis, stores, channelIds, log) : Promise.resolve(0),
  ]);
  if (notifications.status === 'rejected') throw notifications.reason;
  if (digests.status === 'rejected') throw digests.reason;
  const woken = notifications.value;
  if (woken + digests.value) log.info({ channels: [...channelIds], woken, digests: digests.value }, 'woke the notifications waiting for their slot of the pace the reload took out');
  return woken + digests.value;
}

/**
 * Wakes the delayed digests of the given channels that wait for their slot of the pace (see wakePaceWaits), alone: the
 * channels keep quiet hours or a throttle, which their notifications' waits may stand for. The channels' pace state is
 * kept: those notifications still hold their slots in it. Returns how many it woke.
 */
export async function wakeDigestSlotWaits(digestQueue: Queue<DigestJob>, redis: Redis, stores: WakeStores, channelIds: ReadonlySet<string>, log: Logger): Promise<number> {
  const digests = await digestSlotWaits(digestQueue, redis, stores, channelIds, log);
  if (digests) log.info({ channels: [...channelIds], digests }, 'woke the digests waiting for their slot of the pace the reload took out');
  return digests;
}

/** A digest's job id is its ledger key (digestKey), the key its slot is held under. */
function digestSlotWaits(digestQueue: Queue<DigestJob>, redis: Redis, stores: WakeStores, channelIds: ReadonlySet<string>, log: Logger): Promise<number> {
  return wakeWaits(digestQueue, redis, channelIds, log, ofDigestChannel, (job) => stores.deliveries.holdsSlot(job.id!));
}

/** A notify job's id ends with its channel (as jobId writes it). */
const ofNotifyChannel = (id: string, channelId: string) => id.endsWith(`-${channelId.replace(/:/g, '_')}`);
/** A digest job's id is its digestKey, which names its channel and window. */
const ofDigestChannel = (id: string, channelId: string) => digestWindowOf(id, channelId) !== undefined;

/**
 * Wakes the delayed jobs of the given channels for which `waiting` says yes, no job twice in one pass. The delayed set
 * is read in order of due time, each page from the last due time seen: jobs leaving it meanwhile (coming due, promoted
 * by another replica's reload) shift no one past the scan, as positions would. A job's id names its channel
 * (`ofChannel`): other channels' jobs are ruled out before any of them is read.
 */
async function wakeWaits<T extends { channelId: string }>(
  queue: Queue<T>,
  redis: Redis,
  channelIds: ReadonlySet<string>,
  log: Logger,
  ofChannel: (id: string, channelId: string) => boolean,
  waiting: (job: Job<T>) => Promise<boolean>,
): Promise<number> {
  if (channelIds.size === 0) return 0;
  const woken = new Set<string>();
  const seen = new Set<string>();
  const wakeAll = async (ids: string[]) => {
    for (let i = 0; i < ids.length; i += PAGE) await Promise.all(ids.slice(i, i + PAGE).map((id) => wakeIfWaiting(queue, id, waiting, channelIds, woken, log)));
  };
  /** A job id not looked at yet in this pass that may be one of the channels' (its id ends with the channel). */
  const ofChannels = (id: string) => {
    if (seen.has(id)) return false;
    seen.add(id);
    for (const channelId of channelIds) if (ofChannel(id, channelId)) return true;
    return false;
  };
  for (let from = '-inf'; ; ) {
    const page = await redis.zrangebyscore(queue.keys.delayed!, from, '+inf', 'WITHSCORES', 'LIMIT', 0, PAGE);
    const ids: string[] = [];
    for (let i = 0; i < page.length; i += 2) if (ofChannels(page[i]!)) ids.push(page[i]!);
    await wakeAll(ids);
    if (page.length < PAGE * 2) break;
    const last = page[page.length - 1]!;
    if (page.every((v, i) => i % 2 === 0 || v === last)) {
      // A whole page due at one instant (BullMQ gives every job past the 4,096th due in one ms the same score, and
      // quiet hours end for many at once): that instant's jobs all at once, then past it.
      await wakeAll((await redis.zrangebyscore(queue.keys.delayed!, last, last)).filter(ofChannels));
      from = `(${last}`;
    } else {
      // From the last due time seen, again: jobs due at that instant that the page cut off (the ones seen are skipped).
      from = last;
    }
  }
  return woken.size;
}

async function wakeIfWaiting<T extends { channelId: string }>(
  queue: Queue<T>,
  id: string,
  waiting: (job: Job<T>) => Promise<boolean>,
  channelIds: ReadonlySet<string>,
  woken: Set<string>,
  log: Logger,
): Promise<void> {
  try {
    const job = (await queue.getJob(id)) as Job<T> | undefined;
    if (!job?.data || !channelIds.has(job.data.channelId) || !(await waiting(job))) return;
    await job.promote();
    woken.add(id);
  } catch (err) {
    // One job does not stop the others: it left the delayed set meanwhile (woken by another replica's pass, come due,
    // removed), or its records could not be read; it keeps its wait.
    log.debug({ jobId: id, err }, 'could not wake a waiting notification');
  }
}

async function waitsForQuietHours(job: Job<NotifyJob>, stores: WakeStores): Promise<boolean> {
  const { alertId, version, channelId } = job.data;
  if (await stores.deliveries.isParked(deliveryKey(alertId, version, channelId))) return true;
  return deferredFor(job, stores, 'quiet-hours');
}

const waitsForThrottle = (job: Job<NotifyJob>, stores: WakeStores) => deferredFor(job, stores, 'throttled-delayed');

/** Deferred by its routing decision for `why`, and not run since (a job that ran and failed waits for its backoff). */
async function deferredFor(job: Job<NotifyJob>, { dispatch }: WakeStores, why: 'quiet-hours' | 'throttled-delayed'): Promise<boolean> {
  if (job.processedOn || job.attemptsMade > 0) return false;
  const { alertId, version, channelId } = job.data;
  const decision = await dispatch.get(alertId, version, channelId);
  return decision?.mode === 'deferred' && decision.why === why;
}
