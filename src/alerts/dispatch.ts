import type { ChannelConfig, WatchlistConfig } from '../config/schema.js';
import { mapByKey } from '../keyed-concurrency.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { DispatchStore } from '../store/dispatch.js';
import { deliveryKey } from './ids.js';
import { quietHoursAt, type QuietHours } from './quiet-hours.js';
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
  /**
   * Earlier versions still waiting to be sent (deferred) that this version replaces: their notify jobs go (their
   * throttle slots were given back when this version reserved its own).
   */
  superseded: Array<{ alertId: string; version: number; channelId: string }>;
}

export interface DispatchDeps {
  watchlist: WatchlistConfig;
  channels: ReadonlyMap<string, ChannelConfig>;
  /** Records decisions, and with them settles the channels' digest holdings. */
  dispatch: DispatchStore;
  now: Date;
}

/**
 * Decides, once per alert version and channel, whether the version is sent now, later or in the digest, and records
 * the decision (so a replay applies the same one); recording it settles the channel's digest holding of the alert.
 * Returns the notify jobs to enqueue. Replaying it for a version already dispatched changes nothing and returns the
 * same jobs (their ids dedupe them).
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
    // Earlier versions still waiting to be sent: this version replaces them if it is sent by itself.
    const waiting = recorded.filter((d) => d.channelId === channelId && d.version < version && d.mode === 'deferred' && (d.sendAt ?? 0) > nowMs);
    // Earlier versions decided to be sent by themselves: their throttle counts still ahead go to this version.
    const earlier = recorded.filter((d) => d.channelId === channelId && d.version < version && d.mode !== 'digest');
    const dispatch = await decision(alert, version, channel, recorded, earlier, deps, nowMs);
    if (dispatch.mode === 'digest') {
      out.held.push({ alertId: alert.id, channelId, dispatch });
      continue;
    }
    const delayMs = Math.max(0, (dispatch.sendAt ?? nowMs) - nowMs);
    out.notifications.push({ alertId: alert.id, version, channelId, reason, delayMs, dispatch });
    for (const previous of waiting) out.superseded.push({ alertId: alert.id, version: previous.version, channelId });
  }
  return out;
}

/** Quiet hours come at most once a day: this many moves carry a throttle slot past two weeks of them, no further. */
export const MAX_QUIET_MOVES = 14;

/**
 * A throttle slot that falls in the channel's quiet hours, moved by `moveTo(endsAt, from)` to the first free moment
 * after them, and again while that falls in later quiet hours (past MAX_QUIET_MOVES, it stays where it is: a backlog
 * that long is sent in them rather than held for ever). Routing moves an overflow so; a notification paced into the
 * quiet hours moves its count so.
 */
export async function movePastQuietHours(
  slot: number,
  quietHours: QuietHours,
  moveTo: (endsAt: number, from: number) => Promise<number | null>,
): Promise<number> {
  for (let moves = 0; moves < MAX_QUIET_MOVES; moves++) {
    const quiet = quietHoursAt(slot, quietHours);
    if (!quiet.quiet) break;
    const moved = await moveTo(quiet.endsAt, slot);
    if (moved === null) break;
    slot = moved;
  }
  return slot;
}

/**
 * A notification paced into its channel's quiet hours is counted in the throttle at the first moment after them that
 * the hour's budget allows (and past later quiet hours, as an overflow is moved), where it is then sent. It was
 * decided to be sent: the budget is searched, never refused. Returns that moment.
 */
export async function moveCountPastQuietHours(
  dispatch: DispatchStore,
  delivery: { channelId: string; key: string; maxPerHour: number; quietHours: QuietHours },
  endsAt: number,
  nowMs: number,
): Promise<number> {
  const { channelId, key, maxPerHour, quietHours } = delivery;
  const moveTo = (at: number, from: number | 'any') => dispatch.reserve(channelId, key, at, maxPerHour, 'search', nowMs, [], from);
  return movePastQuietHours((await moveTo(endsAt, 'any')) ?? endsAt, quietHours, moveTo);
}

/**
 * A routine notification due in the quiet hours of a channel that defers them to its digest is held for the digest
 * (see DeliveryStore.holdForDigest), as one decided in them is: not sent by itself, it gives back its throttle count,
 * as does one a newer version decided for the digest supersedes there. How it ended without a send of this run's
 * ('delivered': a twin run sent it); undefined if it must be sent by itself after all.
 */
export async function holdQuietForDigest(
  stores: { deliveries: Pick<DeliveryStore, 'holdForDigest'>; dispatch: Pick<DispatchStore, 'release'> },
  delivery: { key: string; base: { alertId: string; version: number; channelId: string } },
  at: Date,
): Promise<'held' | 'superseded' | 'ended' | 'delivered' | undefined> {
  const { key, base } = delivery;
  const why = "held for the digest: it was due in the channel's quiet hours, which the channel defers to its digest";
  const outcome = await stores.deliveries.holdForDigest(key, base, why, at);
  if (outcome === 'reached' || outcome === 'newer') return undefined;
  // An ended one gave its count back when it ended (a re-run of its job does too: see deliverStage); a delivered one
  // was sent, and keeps it.
  if (outcome === 'held' || outcome === 'superseded') await stores.dispatch.release(base.channelId, key);
  return outcome;
}

/**
 * The decision for one alert version and channel, recorded. A recorded decision never changes (first writer wins), so
 * one found in the alert's list is final; the digest holding was settled when it was recorded, and is not touched
 * again (a digest may have carried and cleared it since).
 */
async function decision(alert: Alert, version: number, channel: ChannelConfig, recorded: Dispatch[], earlier: Dispatch[], deps: DispatchDeps, nowMs: number): Promise<Dispatch> {
  const known = recorded.find((d) => d.channelId === channel.id && d.version === version);
  if (known) return known;
  const plan = planChannel(alert, channel, nowMs);
  let slot: number | null = plan.kind === 'send' ? plan.at : null;
  let inQuietHours = false;
  if (plan.kind === 'send' && plan.throttle !== 'none' && channel.throttle) {
    // Reserving a throttle slot is the one side effect of deciding: read again first, so that a decision another
    // worker recorded since the list was read wins before this one reserves a slot it would never use.
    const since = await deps.dispatch.get(alert.id, version, channel.id);
    if (since) return since;
    const mode = plan.throttle === 'force' ? 'force' : channel.digest ? 'deny' : 'search';
    // The versions this one supersedes give back the slots they have not been sent in yet (still ahead: a deferred
    // one, whose notify job is withdrawn, or one paced into the quiet hours, whose job then finds itself superseded),
    // unless this one finds none.
    const replaces = earlier.map((d) => deliveryKey(alert.id, d.version, channel.id));
    const key = deliveryKey(alert.id, version, channel.id);
    const { maxPerHour } = channel.throttle;
    slot = await deps.dispatch.reserve(channel.id, key, plan.at, maxPerHour, mode, nowMs, replaces);
    // An overflow delayed into the channel's quiet hours waits for their end, as an alert decided in them does. Moved
    // only from the slot this run saw: a twin run that moved it first keeps it where its decision (the one recorded)
    // says it goes.
    if (mode === 'search' && slot !== null && channel.quietHours) {
      slot = await movePastQuietHours(slot, channel.quietHours, (endsAt, from) => deps.dispatch.reserve(channel.id, key, endsAt, maxPerHour, mode, nowMs, [], from));
      // Past two weeks of them, still in quiet hours: said so, as only then is it sent in them.
      inQuietHours = slot !== null && quietHoursAt(slot, channel.quietHours).quiet;
    }
  }
  return deps.dispatch.record(alert.id, finishDispatch(plan, slot, channel.id, version, nowMs, inQuietHours));
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
