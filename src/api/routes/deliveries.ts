import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { parseQuery } from '../query.js';
import { retryDelivery } from '../retry.js';

const failedQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export function deliveryRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/deliveries/failed', async (request) => {
    const q = parseQuery(failedQuery, request.query);
    const failed = await ctx.stores.deliveries.listFailed(q.limit, q.offset);
    const alertIds = [...new Set(failed.map((d) => d.alertId).filter((id): id is string => id !== undefined))];
    const alerts = new Map((await ctx.stores.alerts.getMany(alertIds)).map((a) => [a.id, a]));
    const channels = new Map(ctx.config().channels.map((c) => [c.id, c]));
    return {
      deliveries: failed.map((d) => {
        const alert = d.alertId ? alerts.get(d.alertId) : undefined;
        return {
          ...d,
          kind: d.alertId ? 'alert' : 'digest',
          channelName: channels.get(d.channelId)?.name ?? d.channelId,
          channelKind: channels.get(d.channelId)?.kind ?? null,
          alertTitle: alert?.title ?? null,
          alertLevel: alert?.level ?? null,
        };
      }),
    };
  });

  app.post<{ Params: { key: string } }>('/api/deliveries/:key/retry', async (request, reply) => {
    const outcome = await retryDelivery(request.params.key, {
      deliveries: ctx.stores.deliveries,
      alerts: ctx.stores.alerts,
      queues: ctx.queues,
      channel: (id) => ctx.config().channels.find((c) => c.id === id),
    });
    ctx.log.info({ ...outcome }, 'failed delivery re-enqueued through the API');
    return reply.code(202).send(outcome);
  });
}
