import type { Direction, Factor, Level } from '../scoring/types.js';

/** Why a notification is (or is not) sent. A closed set: it is also a metric label. */
export type NotifyReason = 'first' | 'escalated' | 'direction-changed' | 'corroborated' | 'test';

export interface AlertItemRef {
  itemId: string;
  sourceId: string;
  title: string;
  url?: string;
  publishedAt: string | null;
  fetchedAt: string;
}

/** One watchlist x one story. */
export interface Alert {
  /** Deterministic: derived from watchlist id and story id. */
  id: string;
  watchlistId: string;
  /** Human name of the watchlist, for rendering. */
  watchlistName?: string;
  storyId: string;
  /** Rises when a follow-up notification is due (level rose, direction flipped, corroboration milestone). */
  version: number;
  reason: NotifyReason;
  level: Level;
  score: number;
  direction: Direction;
  title: string;
  url?: string;
  /** One plain sentence explaining the level. */
  why: string;
  /** Display names of the watched entities matched. */
  entities: string[];
  factors: Factor[];
  /** Distinct source ids that carried the story. */
  sources: string[];
  items: AlertItemRef[];
  firstSeenAt: string;
  updatedAt: string;
}

/** Alerts of one channel's window that were not sent immediately. */
export interface Digest {
  channelId: string;
  windowStart: string;
  windowEnd: string;
  alerts: Alert[];
}
