import type { ChannelConfig, WatchlistConfig } from '../config/schema.js';
import { levelRank } from '../scoring/types.js';
import { quietHoursAt } from './quiet-hours.js';
import type { Alert } from './types.js';

/** Channels an alert goes to: each route whose minLevel the alert reaches, if its channel is active. */
export function routeAlert(alert: Alert, watchlist: WatchlistConfig, activeChannels: ReadonlyMap<string, ChannelConfig>): string[] {
  const out = new Set<string>();
  for (const route of watchlist.routes) {
    if (levelRank(alert.level) >= levelRank(route.minLevel) && activeChannels.has(route.channel)) out.add(route.channel);
  }
  return [...out];
}

/**
 * Why a notification went (or will go) where it did. A closed set: shown in the alert's history, logged, and used as
 * a metric label.
 */
export type DispatchWhy =
  | 'immediate'
  | 'critical'
  | 'below-immediate-level'
  | 'quiet-hours'
  | 'quiet-hours-digest'
  | 'throttled'
  | 'throttled-delayed';

/** Before the throttle is consulted: send at `at` (now, or the end of quiet hours), or hold for the digest. */
export type ChannelPlan =
  | { kind: 'send'; at: number; why: 'immediate' | 'critical' | 'quiet-hours'; throttle: 'count' | 'force' | 'none' }
  | { kind: 'digest'; why: 'below-immediate-level' | 'quiet-hours-digest' };

/** Where one alert version goes on one channel, as decided once and recorded. */
export interface Dispatch {
  channelId: string;
  version: number;
  mode: 'immediate' | 'deferred' | 'digest';
  why: DispatchWhy;
  /** Ms since epoch: when a deferred notification is due (equal to decidedAt for immediate ones). */
  sendAt?: number;
  /**
   * sendAt is inside the channel's quiet hours because a throttle backlog ran past MAX_QUIET_MOVES of them: it is sent
   * there. Without it, a notification due in quiet hours (ones a reload added since) waits for their end.
   */
  inQuietHours?: true;
  decidedAt: number;
}

/**
 * Pure: how one alert version should reach one channel, ignoring the throttle.
 * Order: the digest's immediate level first (below it, the digest is where the alert belongs, whatever the hour);
 * critical passes quiet hours and is never throttled; in quiet hours, defer to their end or to the digest.
 * `defer: digest` without a digest configured falls back to the end of quiet hours, so nothing is lost.
 */
export function planChannel(alert: Pick<Alert, 'level'>, channel: ChannelConfig, nowMs: number): ChannelPlan {
  const digest = channel.digest;
  const throttle = channel.throttle ? 'count' : 'none';
  if (digest && levelRank(alert.level) < levelRank(digest.immediateLevel)) return { kind: 'digest', why: 'below-immediate-level' };
  if (alert.level === 'critical') return { kind: 'send', at: nowMs, why: 'critical', throttle: channel.throttle ? 'force' : 'none' };
  const quiet = channel.quietHours ? quietHoursAt(nowMs, channel.quietHours) : { quiet: false as const };
  if (quiet.quiet) {
    if (channel.quietHours?.defer === 'digest' && digest) return { kind: 'digest', why: 'quiet-hours-digest' };
    return { kind: 'send', at: quiet.endsAt, why: 'quiet-hours', throttle };
  }
  return { kind: 'send', at: nowMs, why: 'immediate', throttle };
}

/**
 * Pure: the final dispatch once the throttle has answered. `slot` is the time the throttle reserved for the send
 * (null when the hour's budget is spent and the channel has a digest to take the overflow); `inQuietHours`: the
 * throttle left it inside quiet hours (see Dispatch.inQuietHours).
 */
export function finishDispatch(plan: ChannelPlan, slot: number | null, channelId: string, version: number, nowMs: number, inQuietHours = false): Dispatch {
  const base = { channelId, version, decidedAt: nowMs };
  if (plan.kind === 'digest') return { ...base, mode: 'digest', why: plan.why };
  if (slot === null) return { ...base, mode: 'digest', why: 'throttled' };
  const why = slot > plan.at ? 'throttled-delayed' : plan.why;
  return { ...base, mode: slot > nowMs ? 'deferred' : 'immediate', why, sendAt: slot, ...(inQuietHours && { inQuietHours: true as const }) };
}
