import type { Item } from '../items/item.js';
import type { Assessment } from '../scoring/types.js';
import { levelRank } from '../scoring/types.js';
import type { WatchlistConfig } from '../config/schema.js';
import type { Alert, NotifyReason } from './types.js';
import { alertIdFor } from './ids.js';

/** Most items kept on one alert; later ones still count as sources. */
const MAX_ITEMS_PER_ALERT = 50;

export interface AlertDecision {
  alert: Alert;
  /** Why a notification is due, or null when the change is silent (e.g. one more source below a milestone). */
  notify: NotifyReason | null;
}

/**
 * Pure lifecycle step: folds one assessment of one item into the alert for (watchlist, story).
 * A notification is due for a new alert, a higher level, a flipped direction, or a corroboration milestone.
 */
export function applyAssessment(input: {
  previous: Alert | undefined;
  assessment: Assessment;
  item: Item;
  storyId: string;
  watchlist: WatchlistConfig;
  milestones: number[];
  now: Date;
}): AlertDecision | null {
  const { previous, assessment, item, storyId, watchlist, now } = input;
  if (assessment.level === 'none' || levelRank(assessment.level) < levelRank(watchlist.minLevel)) {
    if (!previous) return null;
  }
  const ref = { itemId: item.id, sourceId: item.sourceId, title: item.title, url: item.url, publishedAt: item.publishedAt, fetchedAt: item.fetchedAt };

  if (!previous) {
    return {
      alert: {
        id: alertIdFor(watchlist.id, storyId),
        watchlistId: watchlist.id,
        watchlistName: watchlist.name,
        storyId,
        version: 1,
        reason: 'first',
        level: assessment.level,
        score: assessment.score,
        direction: assessment.direction,
        title: item.title,
        url: item.url,
        why: assessment.why,
        entities: assessment.entities,
        factors: assessment.factors,
        sources: [item.sourceId],
        items: [ref],
        firstSeenAt: now.toISOString(),
        updatedAt: now.toISOString(),
      },
      notify: 'first',
    };
  }

  if (previous.items.some((existing) => existing.itemId === item.id)) return { alert: previous, notify: null };

  const sources = previous.sources.includes(item.sourceId) ? previous.sources : [...previous.sources, item.sourceId];
  const items = previous.items.length < MAX_ITEMS_PER_ALERT ? [...previous.items, ref] : previous.items;
  const relevant = assessment.level !== 'none' && levelRank(assessment.level) >= levelRank(watchlist.minLevel);
  const escalated = relevant && levelRank(assessment.level) > levelRank(previous.level);
  const flipped =
    relevant && assessment.direction !== 'neutral' && previous.direction !== 'neutral' && assessment.direction !== previous.direction;
  const milestone = sources.length > previous.sources.length && input.milestones.includes(sources.length);

  let reason: NotifyReason | null = null;
  if (escalated) reason = 'escalated';
  else if (flipped) reason = 'direction-changed';
  else if (milestone) reason = 'corroborated';

  const takeAssessment = escalated || flipped;
  const alert: Alert = {
    ...previous,
    sources,
    items,
    version: reason ? previous.version + 1 : previous.version,
    reason: reason ?? previous.reason,
    level: escalated ? assessment.level : previous.level,
    score: Math.max(previous.score, relevant ? assessment.score : 0),
    direction: takeAssessment ? assessment.direction : previous.direction,
    why: takeAssessment ? assessment.why : previous.why,
    factors: takeAssessment ? assessment.factors : previous.factors,
    entities: [...new Set([...previous.entities, ...(relevant ? assessment.entities : [])])],
    title: takeAssessment ? item.title : previous.title,
    url: takeAssessment && item.url ? item.url : previous.url,
    updatedAt: now.toISOString(),
  };
  return { alert, notify: reason };
}
