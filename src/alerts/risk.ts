import type { WatchlistConfig } from '../config/schema.js';
import type { Item } from '../items/item.js';
import type { Level } from '../scoring/types.js';
import { alertIdFor } from './ids.js';
import type { Alert } from './types.js';

/**
 * The risk index of one watchlist x material: a sum of the supply-risk scores of the stories about it, each decaying
 * with a half-life, so a run of smaller events adds up to a signal that no single story gives. Pure helpers; the
 * state lives in store/risk-index.ts.
 */

export const HOUR_MS = 3_600_000;

/** A value decayed from one instant to a later one. */
export function decayed(value: number, fromMs: number, toMs: number, halfLifeMs: number): number {
  return toMs <= fromMs ? value : value * 2 ** (-(toMs - fromMs) / halfLifeMs);
}

export interface RiskPoint {
  /** ISO time of the value. */
  at: string;
  value: number;
}

/**
 * A continuous hourly series from recorded points (value at its time): recorded points as they are, and for every
 * hour without one the previous value decayed to that hour's start, ending with the value now.
 */
export function fillSeries(recorded: Array<{ atMs: number; value: number }>, sinceMs: number, nowMs: number, halfLifeMs: number): RiskPoint[] {
  const points = [...recorded].sort((a, b) => a.atMs - b.atMs);
  const out: RiskPoint[] = [];
  let previous: { atMs: number; value: number } | undefined;
  let next = 0;
  while (next < points.length && points[next].atMs < sinceMs) previous = points[next++];
  const round = (v: number) => Math.round(v * 100) / 100;
  for (let hour = Math.floor(sinceMs / HOUR_MS) * HOUR_MS; hour <= nowMs; hour += HOUR_MS) {
    const hourEnd = hour + HOUR_MS;
    let recordedThisHour = false;
    while (next < points.length && points[next].atMs < hourEnd) {
      previous = points[next++];
      if (previous.atMs >= sinceMs) {
        out.push({ at: new Date(previous.atMs).toISOString(), value: round(previous.value) });
        recordedThisHour = true;
      }
    }
    if (!recordedThisHour && previous && hour >= sinceMs && hour > previous.atMs) {
      out.push({ at: new Date(hour).toISOString(), value: round(decayed(previous.value, previous.atMs, hour, halfLifeMs)) });
    }
  }
  if (previous && nowMs > previous.atMs && (out.length === 0 || Date.parse(out[out.length - 1].at) < nowMs)) {
    out.push({ at: new Date(nowMs).toISOString(), value: round(decayed(previous.value, previous.atMs, nowMs, halfLifeMs)) });
  }
  return out;
}

/** The story id of one crossing: a new episode (after falling below the re-arm level) is a new alert. */
export function riskStoryId(material: string, episode: number): string {
  return `risk-${material}-${episode}`;
}

/** The alert raised when a watchlist's index for a material crosses the threshold upward. */
export function riskAlert(input: {
  watchlist: WatchlistConfig;
  material: string;
  value: number;
  threshold: number;
  halfLifeHours: number;
  stories: number;
  episode: number;
  level: Level;
  item: Item;
  now: Date;
}): Alert {
  const { watchlist, material, value, threshold, now, item } = input;
  const storyId = riskStoryId(material, input.episode);
  const at = now.toISOString();
  const rounded = Math.round(value);
  return {
    id: alertIdFor(watchlist.id, storyId),
    kind: 'risk-index',
    watchlistId: watchlist.id,
    watchlistName: watchlist.name,
    storyId,
    version: 1,
    reason: 'first',
    level: input.level,
    score: Math.min(100, Math.round((100 * value) / (2 * threshold))),
    direction: 'escalation',
    title: `Supply risk for ${material} is rising: risk index ${rounded} crossed ${threshold}`,
    why:
      `${input.stories} ${input.stories === 1 ? 'story' : 'stories'} about ${material} recently added up to a risk index of ${rounded}, ` +
      `above the threshold of ${threshold} (scores decay with a half-life of ${input.halfLifeHours} h); the latest: "${item.title}".`,
    entities: [material],
    factors: [
      { name: 'risk-index', value: rounded, detail: `decayed sum of assessment scores for ${material}` },
      { name: 'threshold', value: threshold, detail: 'settings riskIndex.threshold' },
    ],
    sources: [item.sourceId],
    items: [{ itemId: item.id, sourceId: item.sourceId, title: item.title, url: item.url, publishedAt: item.publishedAt, fetchedAt: item.fetchedAt }],
    itemCount: 1,
    history: [{ version: 1, reason: 'first', level: input.level, direction: 'escalation', sources: 1, itemId: item.id, at }],
    url: item.url,
    firstSeenAt: at,
    updatedAt: at,
  };
}
