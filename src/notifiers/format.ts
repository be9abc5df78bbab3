import type { Alert, Digest } from '../alerts/types.js';
import { type Level, levelRank } from '../scoring/types.js';

/**
 * Channel-neutral wording shared by every renderer, so Slack, email, Teams and webhooks say the same thing in the
 * same words. Everything here is pure.
 */

/** Colour-coded marker per level: the first thing a reader scanning a channel sees. */
export const LEVEL_MARKERS: Record<Level, string> = {
  critical: '🔴',
  high: '🟠',
  medium: '🟡',
  low: '🔵',
  info: '⚪',
  none: '⚪',
};

export function levelLabel(level: Level): string {
  return level.toUpperCase();
}

/**
 * Cuts text to at most `max` UTF-16 units with a trailing ellipsis, never splitting a surrogate pair (a cut emoji
 * makes Slack reject the whole payload as invalid UTF-8).
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  let cut = max - 1;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return text.slice(0, Math.max(0, cut)) + '…';
}

/** Collapses runs of whitespace (including newlines) so untrusted text cannot break a one-line field. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function sourceCountText(count: number): string {
  return `reported by ${count} source${count === 1 ? '' : 's'}`;
}

/**
 * The source count of a story alert; none for a risk-index alert, whose `sources` name only the latest of the many
 * stories that added up to the index ("reported by 1 source" would understate it).
 */
export function sourcesText(alert: Alert): string | undefined {
  return alert.kind === 'risk-index' ? undefined : sourceCountText(alert.sources.length);
}

export function watchlistLabel(alert: Alert): string {
  return alert.watchlistName ?? alert.watchlistId;
}

/** Only http(s) links are rendered: an item URL comes from a feed and could be `javascript:` or `file:`. */
export function safeLink(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * "2025-10-09 08:15 UTC": unambiguous for readers in any time zone. A digest passes its schedule's time zone, so
 * its window reads in local time with the zone's abbreviation ("2025-10-09 10:15 CEST").
 */
export function formatTime(iso: string, timeZone?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  if (!timeZone || timeZone === 'UTC') return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  try {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        timeZoneName: 'short',
      })
        .formatToParts(date)
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
  } catch {
    return formatTime(iso);
  }
}

/** A digest's window, in its time zone. */
export function formatWindow(start: string, end: string, timeZone?: string): string {
  return `${formatTime(start, timeZone)} – ${formatTime(end, timeZone)}`;
}

/** Items of an alert not listed: the alert keeps at most 50 refs but counts every item. */
export function moreItems(alert: Alert, shown: number): number {
  return Math.max(alert.items.length, alert.itemCount ?? 0) - shown;
}

/** Alerts a digest covers: those listed and those the digest stage left out to stay within limits. */
export function digestTotal(digest: Digest): number {
  return digest.alerts.length + (digest.omitted ?? 0);
}

/** The sentence a follow-up leads with: what changed since the last message about this alert. */
export function changeLine(alert: Alert): string | undefined {
  if (alert.reason === 'test') return 'Test message sent by `chokepoint notify-test`; no action needed.';
  if (alert.version <= 1) return undefined;
  switch (alert.reason) {
    case 'escalated':
      return `Update ${alert.version}: escalated to ${levelLabel(alert.level)} (score ${alert.score}).`;
    case 'direction-changed':
      return alert.direction === 'de-escalation'
        ? `Update ${alert.version}: the situation is easing (de-escalation).`
        : `Update ${alert.version}: direction changed, now ${alert.direction}.`;
    case 'corroborated':
      return `Update ${alert.version}: corroborated, now ${sourceCountText(alert.sources.length)}.`;
    default:
      return `Update ${alert.version}.`;
  }
}

/** A short tag for subjects and fallback texts: "escalated", "easing", "5 sources". */
export function changeTag(alert: Alert): string | undefined {
  if (alert.reason === 'test') return 'test';
  if (alert.version <= 1) return undefined;
  switch (alert.reason) {
    case 'escalated':
      return 'escalated';
    case 'direction-changed':
      return alert.direction === 'de-escalation' ? 'easing' : `now ${alert.direction}`;
    case 'corroborated':
      return `${alert.sources.length} sources`;
    default:
      return `update ${alert.version}`;
  }
}

/** Most severe first, then highest score, then newest; the id breaks ties so output is deterministic. */
export function compareAlerts(a: Alert, b: Alert): number {
  return (
    levelRank(b.level) - levelRank(a.level) ||
    b.score - a.score ||
    (b.updatedAt < a.updatedAt ? -1 : b.updatedAt > a.updatedAt ? 1 : 0) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export interface WatchlistGroup {
  watchlistId: string;
  name: string;
  alerts: Alert[];
}

/** Digest order: groups by watchlist, the group with the most severe alert first, alerts sorted inside each group. */
export function groupByWatchlist(alerts: readonly Alert[]): WatchlistGroup[] {
  const groups = new Map<string, WatchlistGroup>();
  for (const alert of [...alerts].sort(compareAlerts)) {
    let group = groups.get(alert.watchlistId);
    if (!group) {
      group = { watchlistId: alert.watchlistId, name: watchlistLabel(alert), alerts: [] };
      groups.set(alert.watchlistId, group);
    }
    group.alerts.push(alert);
  }
  // Insertion order already follows each group's best alert, because alerts were visited in sorted order.
  return [...groups.values()];
}

/**
 * How many of `count` alerts, taken most important first, a message can show: the largest n for which `fits(n)` holds
 * (found by bisection; fits(0) must hold). A digest cut this way drops its least important alerts whatever their
 * watchlist; the survivors are then shown grouped.
 */
export function fitCount(count: number, fits: (n: number) => boolean): number {
  if (fits(count)) return count;
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Alerts per watchlist id: a group's title counts all its alerts, also those a cut digest leaves out. */
export function watchlistSizes(alerts: readonly Alert[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const alert of alerts) sizes.set(alert.watchlistId, (sizes.get(alert.watchlistId) ?? 0) + 1);
  return sizes;
}

/** Alerts most important first (compareAlerts): the order in which a digest that must be cut keeps them. */
export function rankAlerts(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort(compareAlerts);
}

/** The highest level present in a digest, for its subject and header. */
export function topLevel(alerts: readonly Alert[]): Level {
  return alerts.reduce<Level>((top, alert) => (levelRank(alert.level) > levelRank(top) ? alert.level : top), 'none');
}

export function alertCountText(count: number): string {
  return `${count} alert${count === 1 ? '' : 's'}`;
}
