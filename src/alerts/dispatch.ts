import type { ChannelConfig, WatchlistConfig } from '../config/schema.js';
import { mapByKey } from '../keyed-concurrency.js';
import type { DigestStore } from '../store/digests.js';
import type { DispatchStore } from '../store/dispatch.js';
import { deliveryKey } from './ids.js';
import { finishDispatch, planChannel, routeAlert, type Dispatch } from './routing.js';
import type { Alert, NotifyReason } from './types.js';

/** A notify job to enqueue: immediately (delayMs 0) or at the end of quiet hours / the next free throttle slot. */
export interface DueNotification {
  alertId: string;
  version: number;
  channelId: string;
  reason: NotifyReason;
  delayMs: number;
  dispatch: Dispatch;
}

export interface DispatchOutcome {
  notifications: DueNotification[];
  /** Alert x channel pairs held for the digest. */
  held: Array<{ alertId: string; channelId: string; dispatch: Dispatch }>;
  /** Earlier versions still waiting to be sent (deferred) that this version replaces: their notify jobs go. */
  superseded: Array<{ alertId: string; version: number; channelId: string }>;
}

export interface DispatchDeps {
  watchlist: WatchlistConfig;
  channels: ReadonlyMap<string, ChannelConfig>;
  dispatch: DispatchStore;
  digests: DigestStore;
  now: Date;
}

/**
 * Decides, once per alert version and channel, whether the version is sent now, later or in the digest, records the
 * decision (so a replay applies the same one) and updates the digest holdings. Returns the notify jobs to enqueue.
 * Replaying it for a version already dispatched changes nothing and returns the same jobs (their ids dedupe them).
 */
export async function dispatchAlert(alert: Alert, reason: NotifyReason, version: number, deps: DispatchDeps, listed?: Dispatch[]): Promise<DispatchOutcome> {
  const out: DispatchOutcome = { notifications: [], held: [], superseded: [] };
  const nowMs = deps.now.getTime();
  // Read even for a version 1 this run just created: while the rest of its score job ran, another worker may have
  // taken the alert to version 2 and sent that. (`listed`: read with the job's other alerts, just before.)
  const recorded = listed ?? (await deps.dispatch.list(alert.id));
  for (const channelId of routeAlert(alert, deps.watchlist, deps.channels)) {
    const channel = deps.channels.get(channelId)!;
    // A replay of an old version after a newer one went (or will go) out on this channel would only repeat old news.
    if (recorded.some((d) => d.channelId === channelId && d.version > version && d.mode !== 'digest')) continue;
    const dispatch = await decision(alert, version, channel, recorded, deps, nowMs);
    if (dispatch.mode === 'digest') {
      out.held.push({ alertId: alert.id, channelId, dispatch });
      continue;
    }
    const delayMs = Math.max(0, (dispatch.sendAt ?? nowMs) - nowMs);
    out.notifications.push({ alertId: alert.id, version, channelId, reason, delayMs, dispatch });
    for (const previous of recorded) {
      if (previous.channelId === channelId && previous.version < version && previous.mode === 'deferred' && (previous.sendAt ?? 0) > nowMs) {
        out.superseded.push({ alertId: alert.id, version: previous.version, channelId });
      }
    }
  }
  return out;
}

/**
 * The decision for one alert version and channel, recorded, with the channel's digest holding brought in line with it
 * (held for a digest decision; otherwise released, since this version reaches the channel by itself and the held
 * entry of an earlier version is no longer news). A recorded decision never changes (first writer wins), so one found
 * in the alert's list is final.
 */
async function decision(alert: Alert, version: number, channel: ChannelConfig, recorded: Dispatch[], deps: DispatchDeps, nowMs: number): Promise<Dispatch> {
  const settleDigest = (d: Dispatch) => (d.mode === 'digest' ? deps.digests.hold(channel.id, alert.id, d.decidedAt) : deps.digests.release(channel.id, alert.id));
  let known = recorded.find((d) => d.channelId === channel.id && d.version === version);
  // Reserving a throttle slot is the one side effect of deciding: read again first, so that a decision another worker
  // recorded since the list was read wins before this one reserves a slot it would never use.
  if (!known && channel.throttle) known = await deps.dispatch.get(alert.id, version, channel.id);
  if (known) {
    await settleDigest(known);
    return known;
  }
  const plan = planChannel(alert, channel, nowMs);
  let slot: number | null = plan.kind === 'send' ? plan.at : null;
  if (plan.kind === 'send' && plan.throttle !== 'none' && channel.throttle) {
    const mode = plan.throttle === 'force' ? 'force' : channel.digest ? 'deny' : 'search';
    slot = await deps.dispatch.reserve(channel.id, deliveryKey(alert.id, version, channel.id), plan.at, channel.throttle.maxPerHour, mode, nowMs);
  }
  // The record settles the holding by the decision that won it (a twin run of the same job may have recorded another).
  return deps.dispatch.record(alert.id, finishDispatch(plan, slot, channel.id, version, nowMs));
}

/**
 * Dispatches every due alert version of a score job; merges the outcomes in the order of `due`. The versions of one
 * alert are dispatched in order (a later one supersedes an earlier one's deferred job); different alerts concurrently,
 * unless a channel has a throttle: its slots then go to the job's alerts in the order their items came.
 */
export async function dispatchDue(
  due: Array<{ alert: Alert; version: number; reason: NotifyReason }>,
  deps: Omit<DispatchDeps, 'watchlist'> & { watchlists: ReadonlyMap<string, WatchlistConfig> },
): Promise<DispatchOutcome> {
  // Unthrottled, the job's alerts are dispatched at once, and their decisions are read together first. An alert's
  // first due version uses that read; its later ones read again (the version before recorded its own decision).
  const throttled = [...deps.channels.values()].some((channel) => channel.throttle);
  const listed = throttled ? new Map<string, Dispatch[]>() : await deps.dispatch.listMany([...new Set(due.map((d) => d.alert.id))]);
  const dispatchOne = async ({ alert, version, reason }: (typeof due)[number]) => {
    const watchlist = deps.watchlists.get(alert.watchlistId);
    if (!watchlist) return null;
    const recorded = listed.get(alert.id);
    listed.delete(alert.id);
    // Route a replayed older version by the level it had then, so it reaches the channels it was meant for.
    const level = alert.history?.find((e) => e.version === version)?.level ?? alert.level;
    return dispatchAlert({ ...alert, level }, reason, version, { ...deps, watchlist }, recorded);
  };
  const outcomes = [];
  if (throttled) for (const d of due) outcomes.push(await dispatchOne(d));
  else outcomes.push(...(await mapByKey(due, (d) => d.alert.id, dispatchOne)));
  const out: DispatchOutcome = { notifications: [], held: [], superseded: [] };
  for (const one of outcomes) {
    if (!one) continue;
    out.notifications.push(...one.notifications);
    out.held.push(...one.held);
    out.superseded.push(...one.superseded);
  }
  return out;
}
