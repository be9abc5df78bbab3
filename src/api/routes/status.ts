import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { withTimeout } from '../timeout.js';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** What the dashboard header shows: version, Redis, queue depths, and the configured watchlists and channels. */
export function statusRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/status', async () => {
    const config = ctx.config();
    const redisUp = ctx.redis.status === 'ready';
    const queues = redisUp
      ? await withTimeout(
          Promise.all(ctx.queues.all().map(async (q) => [q.name, await q.getJobCounts(...STATES)] as const)),
          3_000,
          'reading queue depths',
        )
          .then((entries) => Object.fromEntries(entries))
          .catch(() => null)
      : null;
    return {
      version: ctx.version,
      startedAt: ctx.startedAt.toISOString(),
      now: ctx.now().toISOString(),
      auth: ctx.auth.kind,
      redis: { up: redisUp },
      queues,
      watchlists: config.watchlists.filter((w) => w.enabled).map((w) => ({ id: w.id, name: w.name ?? w.id, materials: w.materials, products: w.products })),
      channels: config.channels.map((c) => ({ id: c.id, name: c.name ?? c.id, kind: c.kind })),
      inactiveChannels: config.inactiveChannels,
      riskIndex: { threshold: config.settings.riskIndex.threshold, seriesDays: config.settings.riskIndex.seriesDays },
    };
  });
}
