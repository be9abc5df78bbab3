import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { withTimeout } from '../timeout.js';

const CHECK_TIMEOUT_MS = 2_000;

interface Check {
  ok: boolean;
  detail: string;
}

/**
 * Liveness says the process answers; readiness says this instance can do its work: Redis answers, every queue can be
 * read, a validated config is loaded. Both are unauthenticated and cheap enough for a probe every few seconds.
 */
export function healthRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', async () => ({ status: 'ok', version: ctx.version, uptimeSeconds: Math.round(process.uptime()) }));

  app.get('/readyz', async (_request, reply) => {
    const checks = { redis: await redisCheck(ctx), queues: await queuesCheck(ctx), config: configCheck(ctx) };
    const reasons = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([name, c]) => `${name}: ${c.detail}`);
    return reply.code(reasons.length ? 503 : 200).send({ status: reasons.length ? 'not-ready' : 'ready', checks, reasons });
  });
}

async function redisCheck(ctx: ApiContext): Promise<Check> {
  // Without a live connection a command would wait in ioredis' offline queue; answer at once instead.
  if (ctx.redis.status !== 'ready') return { ok: false, detail: `not connected (connection ${ctx.redis.status})` };
  try {
    const started = Date.now();
    await withTimeout(ctx.redis.ping(), CHECK_TIMEOUT_MS, 'PING');
    return { ok: true, detail: `PING answered in ${Date.now() - started} ms` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

async function queuesCheck(ctx: ApiContext): Promise<Check> {
  if (ctx.redis.status !== 'ready') return { ok: false, detail: 'Redis is not connected' };
  try {
    const names = await withTimeout(
      Promise.all(ctx.queues.all().map(async (q) => (await q.getJobCounts('waiting'), q.name))),
      CHECK_TIMEOUT_MS,
      'reading the queues',
    );
    return { ok: true, detail: `${names.join(', ')} reachable` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

function configCheck(ctx: ApiContext): Check {
  const config = ctx.config();
  const inactive = config.inactiveChannels.length ? `, ${config.inactiveChannels.length} inactive` : '';
  return {
    ok: true,
    detail: `loaded: ${config.sources.length} sources, ${config.watchlists.length} watchlists, ${config.channels.length} channels${inactive}`,
  };
}
