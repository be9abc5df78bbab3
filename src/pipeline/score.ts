import type { Item } from '../items/item.js';
import { storyTime } from '../items/story.js';
import { applyAssessment, isRelevant, versionProducedBy } from '../alerts/lifecycle.js';
import { alertIdFor } from '../alerts/ids.js';
import { riskAlert, riskStoryId } from '../alerts/risk.js';
import type { Alert, NotifyReason } from '../alerts/types.js';
import type { WatchlistConfig } from '../config/schema.js';
import type { AlertStore, StoredAlert } from '../store/alerts.js';
import type { RiskContribution, RiskIndexStore, RiskUpdate } from '../store/risk-index.js';
import type { StoryStore } from '../store/stories.js';
import type { Assessment } from '../scoring/types.js';
import type { ConfigState } from './runtime.js';
import { mapByKey } from '../keyed-concurrency.js';

/** One alert version whose notification is due (or due again: replayed after a crash between fold and enqueue). */
export interface AlertVersionDue {
  alert: Alert;
  version: number;
  reason: NotifyReason;
  /** Re-emitted for an item folded by an earlier run of the same job; dispatch replays its recorded decision. */
  replay?: boolean;
}

export interface ScoreOutcome {
  assessments: Assessment[];
  due: AlertVersionDue[];
  /** Items that started a new story, for metrics. */
  newStories: number;
}

export interface ScoreDeps {
  state: ConfigState;
  alerts: AlertStore;
  stories: StoryStore;
  /** Absent in one-shot runs: no risk index. */
  risk?: RiskIndexStore;
  now: Date;
  /**
   * The job ran before (a retry, or a re-run after its worker stalled, possibly still running as a twin): what the
   * job read at its start may already be stale against that run's writes, so the decisions that write nothing (an
   * item below the level skipped for want of an alert) read the alert again.
   */
  rerun?: boolean;
}

/**
 * Score stage: assess each item against every watchlist; cluster the items that concern any watchlist into stories
 * and re-assess with the story's corroboration; fold assessments into alerts (one per watchlist x story); feed the
 * risk index. Returns the alert versions whose notifications are due. Idempotent: re-running it on the same items
 * changes nothing and returns only versions that were already due (their notify job ids make enqueueing a no-op).
 */
export async function scoreStage(items: Item[], deps: ScoreDeps): Promise<ScoreOutcome> {
  const { state } = deps;
  const out: ScoreOutcome = { assessments: [], due: [], newStories: 0 };
  const folds: PendingFold[] = [];
  const assessed = items.map((item) => {
    const credibility = state.sources.get(item.sourceId)?.credibility;
    return { item, credibility, assessments: state.scorer.assess(item, { credibility, now: deps.now }) };
  });
  // Items no watchlist cares about at all are not clustered: their stories would only cost memory. The others are
  // clustered one after another (items of one job often share a story, and its commit is optimistic).
  const clustered = assessed.filter(({ assessments }) => assessments.some((a) => a.level !== 'none'));
  const assignments = await deps.stories.assignMany(clustered.map(({ item }) => item), deps.now);
  const storyOf = new Map(clustered.map((entry, i) => [entry, assignments[i]!]));
  for (const entry of assessed) {
    const { item, credibility } = entry;
    let assessments = entry.assessments;
    const story = storyOf.get(entry);
    if (!story) {
      out.assessments.push(...assessments);
      continue;
    }
    if (story.isNew) out.newStories++;
    if (story.sources.length > 1) {
      assessments = state.scorer.assess(item, { credibility, corroboration: story.sources.length, now: deps.now });
    }
    out.assessments.push(...assessments);
    for (const assessment of assessments) {
      const watchlist = state.watchlists.get(assessment.watchlistId);
      if (!watchlist) continue;
      const relevant = isRelevant(assessment, watchlist);
      folds.push({ alertId: alertIdFor(watchlist.id, story.storyId), item, storyId: story.storyId, assessment, watchlist, relevant });
    }
  }
  // Alerts one item after another each (an alert's versions follow its items' order), different alerts concurrently:
  // each fold is a compare-and-set, and a job's alerts otherwise wait on each other's round trips. The job's alerts
  // are read in one round trip; an alert's first fold starts from that read, its later ones read it again (the fold
  // before changed it).
  const stored = await deps.alerts.readForUpdate([...new Set(folds.map((fold) => fold.alertId))]);
  const folded = await mapByKey(
    folds,
    (fold) => fold.alertId,
    async (fold) => {
      const snapshot = stored.get(fold.alertId);
      stored.delete(fold.alertId);
      // Below the watchlist's level an item only corroborates an alert that exists; no write when none does.
      // (Asked even of an item that started its story: by now another job may have made the story's alert.)
      if (!fold.relevant && !(snapshot && !deps.rerun ? snapshot.alert : await deps.alerts.get(fold.alertId))) return null;
      return foldItem(fold.alertId, fold.item, fold.storyId, fold.assessment, fold.watchlist, deps, snapshot);
    },
  );
  // The risk index in item order: items of different stories add to the same material's index. Every contribution
  // of the job goes in one round trip (Redis applies them in the order sent). A risk alert is due right after the
  // alert of the item that raised it, as when items were taken one by one (a throttled channel's slots go in that
  // order).
  const contributions = deps.risk ? folds.flatMap((fold, foldIndex) => (fold.relevant ? riskContributions(fold, deps).map((input) => ({ input, foldIndex })) : [])) : [];
  const updates = contributions.length ? await deps.risk!.recordMany(contributions.map((c) => c.input)) : [];
  let next = 0;
  for (let i = 0; i < folds.length; i++) {
    if (folded[i]) out.due.push(folded[i]!);
    for (; next < contributions.length && contributions[next]!.foldIndex === i; next++) {
      const due = await riskAlertDue(folds[i]!, contributions[next]!.input, updates[next]!, deps);
      if (due) out.due.push(due);
    }
  }
  return out;
}

/** One item's assessment for one watchlist, to fold into the alert of its story. */
interface PendingFold {
  alertId: string;
  item: Item;
  storyId: string;
  assessment: Assessment;
  watchlist: WatchlistConfig;
  relevant: boolean;
}

async function foldItem(
  alertId: string,
  item: Item,
  storyId: string,
  assessment: Assessment,
  watchlist: WatchlistConfig,
  deps: ScoreDeps,
  stored?: StoredAlert,
): Promise<AlertVersionDue | null> {
  const milestones = deps.state.config.settings.alerts.corroborationMilestones;
  return deps.alerts.update<AlertVersionDue | null>(alertId, async (previous, evicted) => {
    const alreadyFolded = previous ? await deps.alerts.hasItem(alertId, item.id) : false;
    const decision = applyAssessment({ previous, assessment, item, storyId, watchlist, milestones, now: deps.now, alreadyFolded, evicted });
    if (!decision) return { alert: null, result: null };
    if (decision.alert === previous) {
      // Folded by an earlier run that may have died before enqueueing: hand back the version this item produced. The
      // alert may have been read before that run folded the item (at this job's start, by a twin run) while the item
      // set, read just now, already has it: nothing is written, so the compare-and-set cannot tell. The item set and
      // the alert are written together, so an alert read after the set has the item's version, if it made one.
      const current = previous.items.some((ref) => ref.itemId === item.id) ? previous : ((await deps.alerts.get(alertId)) ?? previous);
      const produced = versionProducedBy(current, item.id);
      return { alert: null, result: produced ? { alert: current, version: produced.version, reason: produced.reason, replay: true } : null };
    }
    const result = decision.notify ? { alert: decision.alert, version: decision.alert.version, reason: decision.notify } : null;
    return { alert: decision.alert, result, items: [item.id] };
  }, stored);
}

/** What an assessment adds to the risk index: one contribution per watched material or product it names. */
function riskContributions(fold: PendingFold, deps: ScoreDeps): RiskContribution[] {
  const { item, assessment, watchlist, storyId } = fold;
  const settings = deps.state.config.settings;
  // The index decays from when the news was published (a backlog read on a fresh install weighs what it weighed
  // then, not as if it were all new), never from the future.
  const published = item.publishedAt ? Date.parse(item.publishedAt) : NaN;
  const atMs = Number.isFinite(published) ? Math.min(published, deps.now.getTime()) : storyTime(item, deps.now, settings.alerts.storyWindowHours * 3_600_000);
  // Risk is tracked per material or product; countries and actors ("us-china") describe who acts, not what is at risk.
  const tracked = new Set(assessment.matches.filter((m) => m.category === 'material' || m.category === 'product').map((m) => m.entity));
  return [...new Set(assessment.entities.filter((entity) => tracked.has(entity)))].map((material) => ({
    watchlistId: watchlist.id,
    material,
    storyId,
    score: assessment.score,
    direction: assessment.direction,
    atMs,
    nowMs: deps.now.getTime(),
  }));
}

/** The risk alert due when a contribution left the index above its threshold (made once per episode). */
async function riskAlertDue(fold: PendingFold, input: RiskContribution, update: RiskUpdate, deps: ScoreDeps): Promise<AlertVersionDue | null> {
  if (!update.active) return null;
  const { item, watchlist } = fold;
  const settings = deps.state.config.settings;
  const material = input.material;
  const id = alertIdFor(watchlist.id, riskStoryId(material, update.episode));
  // The crossing happens once (atomically). Its alert is made by whoever saw it or, should that worker have died
  // in between, by the next item that finds the index still above the threshold.
  return deps.alerts.update<AlertVersionDue | null>(id, async (previous) => {
    if (previous) {
      const mine = previous.history?.[0]?.itemId === item.id;
      return { alert: null, result: mine ? { alert: previous, version: 1, reason: 'first' as const, replay: true } : null };
    }
    const alert = riskAlert({
      watchlist,
      material,
      value: update.value,
      threshold: settings.riskIndex.threshold,
      halfLifeHours: settings.riskIndex.halfLifeHours,
      stories: update.stories,
      episode: update.episode,
      level: settings.riskIndex.alertLevel,
      item,
      now: deps.now,
    });
    return { alert, result: { alert, version: 1, reason: 'first' as const }, items: [item.id] };
  });
}
