import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { notFound } from '../errors.js';
import { parseQuery, timeParam } from '../query.js';

const DAY_MS = 86_400_000;

const seriesQuery = z.strictObject({
  // The answer repeats `since` as an ISO date, which exists only up to year 275760.
  since: timeParam.refine((ms) => !Number.isNaN(new Date(ms).getTime()), { message: 'is beyond the range of dates' }).optional(),
  days: z.coerce.number().positive().max(365).optional(),
});

/** The risk index: current values, and hourly series (kept settings.riskIndex.seriesDays) per watchlist x material. */
export function riskRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const settings = () => ctx.config().settings.riskIndex;
  const watchlistName = (id: string) => ctx.config().watchlists.find((w) => w.id === id)?.name ?? id;
  const sinceOf = (query: unknown) => {
    const q = parseQuery(seriesQuery, query);
    const now = ctx.now().getTime();
    return q.since ?? now - (q.days ?? Math.min(30, settings().seriesDays)) * DAY_MS;
  };

  app.get('/api/risk', async () => {
    const entries = await ctx.stores.risk.listRiskIndex(ctx.now());
    const s = settings();
    return {
      threshold: s.threshold,
      halfLifeHours: s.halfLifeHours,
      seriesDays: s.seriesDays,
      entries: entries.map((e) => ({ ...e, watchlistName: watchlistName(e.watchlistId) })),
    };
  });

  app.get<{ Params: { watchlistId: string } }>('/api/risk/:watchlistId', async (request) => {
    const since = sinceOf(request.query);
    const { watchlistId } = request.params;
    const now = ctx.now();
    const materials = (await ctx.stores.risk.listRiskIndex(now)).filter((e) => e.watchlistId === watchlistId);
    if (materials.length === 0 && !ctx.config().watchlists.some((w) => w.id === watchlistId)) {
      throw notFound(`no watchlist "${watchlistId}" and no risk index for it`);
    }
    const series = await Promise.all(
      materials.map(async (e) => ({ material: e.material, value: e.value, active: e.active, points: await ctx.stores.risk.riskSeries(watchlistId, e.material, since, now) })),
    );
    return { watchlistId, watchlistName: watchlistName(watchlistId), threshold: settings().threshold, since: new Date(since).toISOString(), series };
  });

  app.get<{ Params: { watchlistId: string; material: string } }>('/api/risk/:watchlistId/:material', async (request) => {
    const since = sinceOf(request.query);
    const { watchlistId, material } = request.params;
    const points = await ctx.stores.risk.riskSeries(watchlistId, material, since, ctx.now());
    return { watchlistId, material, threshold: settings().threshold, since: new Date(since).toISOString(), points };
  });
}
