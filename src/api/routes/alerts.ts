import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Alert } from '../../alerts/types.js';
import { LEVELS } from '../../scoring/types.js';
import type { ApiContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { parseQuery, timeParam } from '../query.js';
import { describeSource } from './sources.js';

const listQuery = z.strictObject({
  watchlist: z.string().min(1).optional(),
  level: z.enum(LEVELS).optional(),
  minLevel: z.enum(LEVELS).optional(),
  since: timeParam.optional(),
  until: timeParam.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).optional(),
});

/** The fields a list needs; the detail endpoint has the rest (items, factors, history). */
export function alertSummary(alert: Alert) {
  return {
    id: alert.id,
    kind: alert.kind ?? 'story',
    watchlistId: alert.watchlistId,
    watchlistName: alert.watchlistName ?? alert.watchlistId,
    level: alert.level,
    score: alert.score,
    direction: alert.direction,
    title: alert.title,
    url: alert.url ?? null,
    why: alert.why,
    entities: alert.entities,
    sources: alert.sources,
    itemCount: alert.itemCount ?? alert.items.length,
    version: alert.version,
    reason: alert.reason,
    firstSeenAt: alert.firstSeenAt,
    updatedAt: alert.updatedAt,
  };
}

export function alertRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/alerts', async (request) => {
    const q = parseQuery(listQuery, request.query);
    if (q.since !== undefined && q.until !== undefined && q.since > q.until) throw badRequest('since is later than until');
    try {
      const page = await ctx.stores.alerts.list({
        watchlistId: q.watchlist,
        level: q.level,
        minLevel: q.minLevel,
        since: q.since,
        until: q.until,
        limit: q.limit,
        cursor: q.cursor,
      });
      return { alerts: page.alerts.map(alertSummary), nextCursor: page.nextCursor ?? null };
    } catch (err) {
      if (err instanceof RangeError) throw badRequest(`cursor: ${err.message}; pass nextCursor from the previous page unchanged`);
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/api/alerts/:id', async (request) => {
    const alert = await ctx.stores.alerts.get(request.params.id);
    if (!alert) throw notFound(`no alert "${request.params.id}" (it may have expired: alerts are kept settings.retention.alertDays)`);
    const config = ctx.config();
    const [deliveries, health] = await Promise.all([
      ctx.stores.deliveries.listForAlert(alert.id),
      Promise.all(alert.sources.map((id) => ctx.stores.sourceState.getHealth(id))),
    ]);
    const channels = new Map(config.channels.map((c) => [c.id, c]));
    return {
      alert: { ...alertSummary(alert), items: alert.items, factors: alert.factors, history: alert.history ?? [], storyId: alert.storyId },
      sources: alert.sources.map((id, i) => describeSource(id, config.sources.find((s) => s.id === id), health[i])),
      deliveries: deliveries
        .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1))
        .map((d) => ({ ...d, channelName: channels.get(d.channelId)?.name ?? d.channelId, channelKind: channels.get(d.channelId)?.kind ?? null })),
    };
  });
}
