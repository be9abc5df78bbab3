import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ChokepointConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { PACKAGE_ROOT } from '../paths.js';
import { createStores } from '../pipeline/stores.js';
import { createRedis } from '../queue/connection.js';
import { createQueues } from '../queue/queues.js';
import { type ApiTimeouts, buildApp } from './app.js';
import { resolveAuth } from './auth.js';
import type { ApiContext } from './context.js';
import { ApiStartError } from './errors.js';
import { createMetrics, type ChokepointMetrics } from './metrics.js';

export interface ApiServerOptions {
  config: ChokepointConfig;
  log: Logger;
  /** Holds the API token (settings.api.tokenEnv names the variable). */
  env?: NodeJS.ProcessEnv;
  /** Override settings.api.host / port (chokepoint serve --host/--port). */
  host?: string;
  port?: number;
  /** In a worker process: create the zero series of the pipeline counters, which the worker then updates. */
  pipeline?: boolean;
  now?: () => Date;
  /** Shorter client timeouts than API_TIMEOUTS (tests). */
  timeouts?: Partial<ApiTimeouts>;
}

export interface RunningApi {
  url: string;
  app: FastifyInstance;
  /** Pass to startWorker({ metrics }) so the processors count into the registry this server exposes. */
  metrics: ChokepointMetrics;
  /** Applies a reloaded config (watchlists, sources, channels shown; the listening address changes only on restart). */
  updateConfig(config: ChokepointConfig): void;
  close(): Promise<void>;
}

export const VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Starts the HTTP API on its own Redis connection and queue handles, so it answers /healthz (and says why /readyz
 * fails) while Redis is down, and works the same inside a worker or alone (`chokepoint serve`).
 * Throws ApiStartError before touching Redis when it would listen beyond loopback without a token, or cannot listen.
 */
/** Shorter tokens are warned about at start: 16 random hex characters are 64 bits. */
const MIN_TOKEN_LENGTH = 16;

export async function startApiServer(options: ApiServerOptions): Promise<RunningApi> {
  let config = options.config;
  const host = options.host ?? config.settings.api.host;
  const port = options.port ?? config.settings.api.port;
  const auth = resolveAuth({ host, tokenEnv: config.settings.api.tokenEnv }, options.env ?? process.env);
  const log = options.log;
  const now = options.now ?? (() => new Date());
  // Nothing slows down guesses over the network: only a long random token keeps them hopeless.
  if (auth.kind === 'token' && auth.token.length < MIN_TOKEN_LENGTH) {
    log.warn({ envName: auth.envName, length: auth.token.length }, `$${auth.envName} is shorter than ${MIN_TOKEN_LENGTH} characters: anyone who can reach the API may guess it; use e.g. \`openssl rand -hex 32\``);
  }

  const redis = createRedis({ url: config.redisUrl, cluster: config.settings.redis.cluster, log, name: 'api', role: 'producer' });
  const queues = createQueues(redis, config.settings);
  for (const queue of queues.all()) queue.on('error', (err) => log.debug({ err, queue: queue.name }, 'API queue handle error'));
  const stores = createStores(redis, config.settings);
  const metrics = createMetrics({ version: VERSION });
  if (options.pipeline) metrics.prime(config);
  metrics.attach({
    redis,
    queues,
    listHealth: () => stores.sourceState.listHealth(),
    listRiskIndex: () => stores.risk.listRiskIndex(now()),
    riskThreshold: () => config.settings.riskIndex.threshold,
    log,
    now,
  });
  const ctx: ApiContext = { config: () => config, redis, stores, queues, metrics, auth, log, now, version: VERSION, startedAt: now() };

  const release = async () => {
    await queues.close();
    await redis.quit().catch(() => redis.disconnect());
  };
  let app: FastifyInstance;
  let url: string;
  try {
    app = await buildApp(ctx, { timeouts: options.timeouts });
    url = await app.listen({ host, port });
  } catch (err) {
    await release();
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') {
      throw new ApiStartError('CP_API_PORT_IN_USE', `cannot serve the API on ${host}:${port}: the port is in use (set settings.api.port, or leave out the api role)`, { cause: err });
    }
    throw new ApiStartError('CP_API_LISTEN', `cannot serve the API on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
  if (auth.kind === 'loopback') {
    log.warn({ url, tokenEnv: auth.envName }, `$${auth.envName} is not set: the API, dashboard and queue board are served without a token, to loopback only`);
  }
  log.info({ url, auth: auth.kind }, 'API listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    app,
    metrics,
    updateConfig(next) {
      config = next;
      if (options.pipeline) metrics.prime(next);
    },
    close() {
      closing ??= (async () => {
        await app.close();
        await release();
      })();
      return closing;
    },
  };
}
