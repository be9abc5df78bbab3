import type { Job } from 'bullmq';
import { deliveryKey } from '../src/alerts/ids.js';
import { dispatchDue } from '../src/alerts/dispatch.js';
import { scoreStage } from '../src/pipeline/score.js';
import { jobId, type ScoreJob } from '../src/queue/names.js';
import type { WorkerContext } from '../src/worker/context.js';

/**
 * score -> assess, cluster into stories, fold into alerts, feed the risk index -> decide per channel (now, later,
 * digest) -> enqueue one notify job per alert version and channel, delayed when deferred; drop the deferred jobs of
 * versions a newer one replaces.
 */
export function scoreProcessor(ctx: WorkerContext) {
  return async (job: Job<ScoreJob>) => {
    const log = ctx.runtime.log.child({ queue: 'score', jobId: job.id, sourceId: job.data.sourceId });
    const state = ctx.runtime.state;
    const now = ctx.runtime.now();
    const { stores } = ctx;
    // Started before (a retry, or again after its worker stalled: that run may still be going as a twin).
    const rerun = job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0;
    const outcome = await scoreStage(job.data.items, { state, alerts: stores.alerts, stories: stores.stories, risk: stores.risk, now, rerun });
    for (const a of outcome.assessments) ctx.metrics?.assessments.inc({ watchlist: a.watchlistId, level: a.level });
    for (const d of outcome.due) if (d.version === 1 && !d.replay) ctx.metrics?.alerts.inc({ watchlist: d.alert.watchlistId, level: d.alert.level });

    const dispatched = await dispatchDue(outcome.due, { watchlists: state.watchlists, channels: state.channels, dispatch: stores.dispatch, now });
    for (const old of dispatched.superseded) {
      // A delayed job that already started cannot be removed; its delivery then goes out, as it would have anyway.
      await ctx.queues.notify.remove(jobId('notify', deliveryKey(old.alertId, old.version, old.channelId))).catch(() => undefined);
    }
    if (dispatched.notifications.length > 0) {
      await ctx.queues.notify.addBulk(
        dispatched.notifications.map((n) => ({
          name: 'notify',
          data: { alertId: n.alertId, version: n.version, channelId: n.channelId },
          opts: { jobId: jobId('notify', deliveryKey(n.alertId, n.version, n.channelId)), delay: n.delayMs },
        })),
      );
    }
    if (outcome.due.length > 0) {
      log.info(
        { due: outcome.due.length, notifications: dispatched.notifications.map((n) => `${n.alertId}-v${n.version}-${n.channelId}:${n.dispatch.why}`), held: dispatched.held.length },
        'alerts due',
      );
    }
    return { items: job.data.items.length, stories: outcome.newStories, notifications: dispatched.notifications.length, held: dispatched.held.length };
  };
}
