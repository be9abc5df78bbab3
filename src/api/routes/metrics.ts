import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/** Prometheus text format; queue, source and risk gauges are read from Redis during the scrape. */
export function metricsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.scrape();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
