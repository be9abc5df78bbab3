import type { FastifyInstance } from 'fastify';
import type { SourceConfig } from '../../config/schema.js';
import type { SourceHealth } from '../../store/source-state.js';
import type { ApiContext } from '../context.js';

export type SourceStatus = 'ok' | 'failing' | 'degraded' | 'never-polled' | 'disabled' | 'removed';

/** A source as the operator sees it; the URL is reduced to its host, since query strings may carry credentials. */
export function describeSource(id: string, config: SourceConfig | undefined, health: SourceHealth | null) {
  return {
    id,
    name: config?.name ?? id,
    kind: config?.kind ?? null,
    host: config ? hostOf(config.url) : null,
    enabled: config?.enabled ?? false,
    configured: config !== undefined,
    schedule: config?.schedule ?? null,
    credibility: config?.credibility ?? null,
    status: statusOf(config, health),
    health,
  };
}

function statusOf(config: SourceConfig | undefined, health: SourceHealth | null): SourceStatus {
  if (!config) return 'removed';
  if (!config.enabled) return 'disabled';
  if (!health) return 'never-polled';
  if (health.degraded) return 'degraded';
  return health.consecutiveFailures > 0 ? 'failing' : 'ok';
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
}

export function sourceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/sources', async () => {
    const config = ctx.config();
    const health = new Map((await ctx.stores.sourceState.listHealth()).map((h) => [h.sourceId, h]));
    const configured = config.sources.map((s) => describeSource(s.id, s, health.get(s.id) ?? null));
    // Health kept for sources since removed from the config: shown, marked, so a stale entry is explainable.
    const removed = [...health.values()].filter((h) => !config.sources.some((s) => s.id === h.sourceId)).map((h) => describeSource(h.sourceId, undefined, h));
    return { sources: [...configured, ...removed] };
  });
}
