import type { Item } from '../items/item.js';
import { applyAssessment } from '../alerts/lifecycle.js';
import { alertIdFor } from '../alerts/ids.js';
import { routeAlert } from '../alerts/routing.js';
import type { NotifyReason } from '../alerts/types.js';
import type { AlertStore } from '../store/alerts.js';
import { levelRank, type Assessment } from '../scoring/types.js';
import type { NotifyJob } from '../queue/names.js';
import type { ConfigState } from './runtime.js';

export interface ScoreOutcome {
  assessments: Assessment[];
  notifications: Array<NotifyJob & { reason: NotifyReason }>;
}

/**
 * Score stage: assess each item against every watchlist, fold relevant assessments into alerts, and return the
 * notifications due (one per alert version and routed channel). Idempotent: re-running it on the same items changes
 * nothing and returns no notification that was not already due.
 */
export async function scoreStage(items: Item[], deps: { state: ConfigState; alerts: AlertStore; now: Date }): Promise<ScoreOutcome> {
  const { state } = deps;
  const assessments: Assessment[] = [];
  const notifications: ScoreOutcome['notifications'] = [];
  for (const item of items) {
    const credibility = state.sources.get(item.sourceId)?.credibility;
    for (const assessment of state.scorer.assess(item, { credibility, now: deps.now })) {
      assessments.push(assessment);
      const watchlist = state.watchlists.get(assessment.watchlistId);
      if (!watchlist || assessment.level === 'none' || levelRank(assessment.level) < levelRank(watchlist.minLevel)) continue;
      const storyId = item.id;
      const alertId = alertIdFor(watchlist.id, storyId);
      const decision = await deps.alerts.update(alertId, async (previous) => {
        const result = applyAssessment({
          previous,
          assessment,
          item,
          storyId,
          watchlist,
          milestones: state.config.settings.alerts.corroborationMilestones,
          now: deps.now,
        });
        return { alert: result && result.alert !== previous ? result.alert : null, result };
      });
      if (!decision?.notify) continue;
      for (const channelId of routeAlert(decision.alert, watchlist, state.channels)) {
        notifications.push({ alertId: decision.alert.id, version: decision.alert.version, channelId, reason: decision.notify });
      }
    }
  }
  return { assessments, notifications };
}
