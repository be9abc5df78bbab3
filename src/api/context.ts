import type { Redis } from 'ioredis';
import type { ChokepointConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Stores } from '../pipeline/stores.js';
import type { Queues } from '../queue/queues.js';
import type { AuthMode } from './auth.js';
import type { ChokepointMetrics } from './metrics.js';

/** What every route reads through: the live config (swapped on reload), Redis, the stores and the queues. */
export interface ApiContext {
  config(): ChokepointConfig;
  redis: Redis;
  stores: Stores;
  queues: Queues;
  metrics: ChokepointMetrics;
  auth: AuthMode;
  log: Logger;
  now(): Date;
  version: string;
  startedAt: Date;
}
