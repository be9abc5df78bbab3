import type { Job } from 'bullmq';
import { deliveryKey } from '../src/alerts/ids.js';
import { scoreStage } from '../src/pipeline/score.js';
import { jobId, type ScoreJob } from '../src/queue/names.js';
import type { WorkerContext } from '../src/worker/context.js';

/** score -> assess, fold into alerts -> enqueue one notify job per alert version and channel. */
export function scoreProcessor(ctx: WorkerContext) {
  return async (job: Job<ScoreJob>) => {
    const log = ctx.runtime.log.child({ queue: 'score', jobId: job.id, sourceId: job.data.sourceId });
    const outcome = await scoreStage(job.data.items, { state: ctx.runtime.state, alerts: ctx.stores.alerts, now: ctx.runtime.now() });
    for (const a of outcome.assessments) ctx.metrics?.assessments.inc({ watchlist: a.watchlistId, level: a.level });
    if (outcome.notifications.length > 0) {
      await ctx.queues.notify.addBulk(
        outcome.notifications.map((n) => ({
          name: 'notify',
          data: { alertId: n.alertId, version: n.version, channelId: n.channelId },
          opts: { jobId: jobId('notify', deliveryKey(n.alertId, n.version, n.channelId)) },
        })),
      );
      log.info({ notifications: outcome.notifications.length }, 'alerts due');
    }
    return { items: job.data.items.length, notifications: outcome.notifications.length };
  };
}
