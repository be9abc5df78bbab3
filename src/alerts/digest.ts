import type { ChannelConfig } from '../config/schema.js';
import { levelRank } from '../scoring/types.js';
import type { Alert, Digest } from './types.js';

/** Ledger key and job id suffix of one channel's digest for one window: replicas and retries collapse onto it. */
export function digestKey(channelId: string, windowEnd: number): string {
  return `digest-${channelId}-${windowEnd}`;
}

/** The window end a ledger key names if it is one of the channel's digests (digestKey), else undefined. */
export function digestWindowOf(key: string, channelId: string): number | undefined {
  const prefix = `digest-${channelId}-`;
  const rest = key.startsWith(prefix) ? key.slice(prefix.length) : '';
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/**
 * Pure: the digest of one channel's window. Alerts are grouped by watchlist (watchlists in name order), the most
 * severe first inside each group, then by score; at most `maxAlerts` are listed and the rest counted.
 */
export function buildDigest(input: { channel: ChannelConfig; windowStart: number; windowEnd: number; alerts: Alert[] }): Digest {
  const { channel } = input;
  const max = channel.digest?.maxAlerts ?? 100;
  const name = (a: Alert) => a.watchlistName ?? a.watchlistId;
  const sorted = [...input.alerts].sort(
    (a, b) =>
      compare(name(a), name(b)) ||
      compare(a.watchlistId, b.watchlistId) ||
      levelRank(b.level) - levelRank(a.level) ||
      b.score - a.score ||
      compare(a.firstSeenAt, b.firstSeenAt) ||
      compare(a.id, b.id),
  );
  // When there are too many, keep the most severe across watchlists, then restore the grouped order.
  const kept = sorted.length <= max ? sorted : keepMostSevere(sorted, max);
  return {
    channelId: channel.id,
    windowStart: new Date(input.windowStart).toISOString(),
    windowEnd: new Date(input.windowEnd).toISOString(),
    alerts: kept,
    timezone: channel.digest?.timezone,
    omitted: sorted.length - kept.length || undefined,
  };
}

function keepMostSevere(sorted: Alert[], max: number): Alert[] {
  const chosen = new Set(
    [...sorted]
      .sort((a, b) => levelRank(b.level) - levelRank(a.level) || b.score - a.score || compare(a.id, b.id))
      .slice(0, max)
      .map((a) => a.id),
  );
  return sorted.filter((a) => chosen.has(a.id));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
