import type { Direction, Factor, Level } from '../scoring/types.js';

/** Why a notification is (or is not) sent. A closed set: it is also a metric label. */
export type NotifyReason = 'first' | 'escalated' | 'direction-changed' | 'corroborated' | 'test';

/** One step of an alert's life: each version, and what produced it. */
export interface AlertEvent {
  version: number;
  reason: NotifyReason;
  level: Level;
  direction: Direction;
  /** Distinct sources at that moment. */
  sources: number;
  /** The item that caused the step. */
  itemId: string;
  at: string;
  /** Made without a notification: an alert the count limit had deleted, made again at or below its level. */
  silent?: true;
}

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
  /** A story (one event from one or more outlets) or a risk-index crossing (many stories about one material). */
  kind?: 'story' | 'risk-index';
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
  /** Time of the item that set the direction; only a newer item can flip it. */
  directionSince?: string;
  title: string;
  url?: string;
  /** One plain sentence explaining the level. */
  why: string;
  /** Display names of the watched entities matched. */
  entities: string[];
  factors: Factor[];
  /** Distinct source ids that carried the story. */
  sources: string[];
  /** The first items of the story (at most 50); `itemCount` counts them all. */
  items: AlertItemRef[];
  /** Items folded into the alert, including those beyond the kept refs. */
  itemCount?: number;
  /** Versions so far, oldest first (bounded): "escalated to critical at 14:05". */
  history?: AlertEvent[];
  firstSeenAt: string;
  updatedAt: string;
}

/** Alerts of one channel's window that were not sent immediately. */
export interface Digest {
  channelId: string;
  windowStart: string;
  windowEnd: string;
  /** Ordered by watchlist, then level (highest first), then score. */
  alerts: Alert[];
  /** Time zone of the digest schedule, for rendering window times (IANA). */
  timezone?: string;
  /** Alerts pending for the window but left out to keep the message within limits. */
  omitted?: number;
}
