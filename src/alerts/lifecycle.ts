import type { Item } from '../items/item.js';
import type { Assessment } from '../scoring/types.js';
import { levelRank } from '../scoring/types.js';
import type { WatchlistConfig } from '../config/schema.js';
import type { Alert, AlertEvent, AlertItemRef, NotifyReason } from './types.js';
import { alertIdFor } from './ids.js';
import type { EvictedAlert } from '../store/alerts.js';

/** Most items kept on one alert; later ones still count as sources and in `itemCount`. */
export const MAX_ITEMS_PER_ALERT = 50;
/** Versions remembered in `history`; the first is always kept. */
export const MAX_HISTORY = 20;

export interface AlertDecision {
  alert: Alert;
  /** Why a notification is due, or null when the change is silent (e.g. one more source below a milestone). */
  notify: NotifyReason | null;
}

export interface AssessmentInput {
  previous: Alert | undefined;
  assessment: Assessment;
  item: Item;
  storyId: string;
  watchlist: WatchlistConfig;
  milestones: number[];
  now: Date;
  /** The store knows the item was folded in already (re-processing): nothing changes. */
  alreadyFolded?: boolean;
  /** What the count limit left of this alert's deleted predecessor: a new alert goes on from it (see EvictedAlert). */
  evicted?: EvictedAlert;
}

/** Whether an assessment counts for the watchlist at all (its level reaches the watchlist's minimum). */
export function isRelevant(assessment: Assessment, watchlist: Pick<WatchlistConfig, 'minLevel'>): boolean {
  return assessment.level !== 'none' && levelRank(assessment.level) >= levelRank(watchlist.minLevel);
}

/** When an item happened, for ordering direction changes: its publication time, else when it was fetched. */
function itemTime(item: Item): string {
  return item.publishedAt ?? item.fetchedAt;
}

/**
 * Pure lifecycle step: folds one assessment of one item into the alert for (watchlist, story).
 * A new alert needs a relevant assessment; later items of the story always add their source (they corroborate it
 * even when their own wording scores lower). The version rises, and a notification is due, only when the level
 * rises, the direction flips (an item newer than the one that set the direction says the opposite, e.g. a ban
 * suspended), or the number of distinct sources reaches a milestone. An item older than the one that set the
 * direction never changes it, and escalates only if it says the same. Returns null when there is no alert to make.
 */
export function applyAssessment(input: AssessmentInput): AlertDecision | null {
  const { previous, assessment, item, storyId, watchlist, now } = input;
  const relevant = isRelevant(assessment, watchlist);
  if (!previous && !relevant) return null;
  if (previous && (input.alreadyFolded || previous.items.some((existing) => existing.itemId === item.id))) {
    return { alert: previous, notify: null };
  }
  const ref: AlertItemRef = {
    itemId: item.id,
    sourceId: item.sourceId,
    title: item.title,
    url: item.url,
    publishedAt: item.publishedAt,
    fetchedAt: item.fetchedAt,
  };
  const at = now.toISOString();

  if (!previous) {
    // An alert the count limit deleted comes back after its last version and at its highest level, and is notified
    // only above that level: its old versions were sent, and their records must not answer for new ones.
    const { evicted } = input;
    const above = !evicted || levelRank(assessment.level) > levelRank(evicted.level);
    const alert: Alert = {
      id: alertIdFor(watchlist.id, storyId),
      kind: 'story',
      watchlistId: watchlist.id,
      watchlistName: watchlist.name,
      storyId,
      version: evicted ? evicted.version + 1 : 1,
      reason: 'first',
      level: above ? assessment.level : evicted.level,
      score: assessment.score,
      direction: assessment.direction,
      directionSince: itemTime(item),
      title: item.title,
      url: item.url,
      why: assessment.why,
      entities: assessment.entities,
      factors: assessment.factors,
      sources: [item.sourceId],
      items: [ref],
      itemCount: 1,
      history: [],
      firstSeenAt: at,
      updatedAt: at,
    };
    alert.history = [above ? event(alert, 'first', item.id, at) : { ...event(alert, 'first', item.id, at), silent: true }];
    return { alert, notify: above ? 'first' : null };
  }

  const sources = previous.sources.includes(item.sourceId) ? previous.sources : [...previous.sources, item.sourceId];
  const items = previous.items.length < MAX_ITEMS_PER_ALERT ? [...previous.items, ref] : previous.items;
  // The latest news sets the direction. An item published before the one that set the alert's direction is older
  // news: it never changes the direction, and it raises the level (taking its title and explanation) only when it says
  // the same as the alert (a graver account of the same news). Saying the opposite, or nothing, it predates what the
  // alert now says (an outlet re-reporting the original ban after the suspension): however alarming its wording, an
  // "escalated" follow-up with the ban's title while the ban is suspended would mislead. It still adds its source, and
  // a corroboration milestone it reaches is notified.
  const newer = itemTime(item) >= (previous.directionSince ?? previous.firstSeenAt);
  const agrees = assessment.direction === previous.direction || previous.direction === 'neutral';
  const stale = !newer && !agrees;
  const escalated = relevant && !stale && levelRank(assessment.level) > levelRank(previous.level);
  const flipped = relevant && newer && assessment.direction !== 'neutral' && previous.direction !== 'neutral' && assessment.direction !== previous.direction;
  const milestone = input.milestones.some((m) => previous.sources.length < m && sources.length >= m);

  let reason: NotifyReason | null = null;
  if (escalated) reason = 'escalated';
  else if (flipped) reason = 'direction-changed';
  else if (milestone) reason = 'corroborated';

  const takeAssessment = escalated || flipped;
  const alert: Alert = {
    ...previous,
    sources,
    items,
    itemCount: (previous.itemCount ?? previous.items.length) + 1,
    version: reason ? previous.version + 1 : previous.version,
    reason: reason ?? previous.reason,
    // The highest level reached: a follow-up (even "suspended") goes to every channel that saw the alert.
    level: escalated ? assessment.level : previous.level,
    score: Math.max(previous.score, relevant && !stale ? assessment.score : 0),
    direction: takeAssessment && newer ? assessment.direction : previous.direction,
    directionSince: flipped ? itemTime(item) : previous.directionSince,
    why: takeAssessment ? assessment.why : previous.why,
    factors: takeAssessment ? assessment.factors : previous.factors,
    entities: [...new Set([...previous.entities, ...(relevant ? assessment.entities : [])])],
    title: takeAssessment ? item.title : previous.title,
    url: takeAssessment && item.url ? item.url : previous.url,
    updatedAt: at,
  };
  if (reason) alert.history = boundHistory([...(previous.history ?? []), event(alert, reason, item.id, at)]);
  return { alert, notify: reason };
}

function event(alert: Alert, reason: NotifyReason, itemId: string, at: string): AlertEvent {
  return { version: alert.version, reason, level: alert.level, direction: alert.direction, sources: alert.sources.length, itemId, at };
}

function boundHistory(history: AlertEvent[]): AlertEvent[] {
  return history.length <= MAX_HISTORY ? history : [history[0], ...history.slice(-(MAX_HISTORY - 1))];
}

/** The version an item produced on an alert and had notified, if any (for re-emitting after a crash). */
export function versionProducedBy(alert: Alert, itemId: string): AlertEvent | undefined {
  return alert.history?.find((e) => e.itemId === itemId && !e.silent);
}
