import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { redisSeedUrls } from '../config/schema.js';
import type { Logger } from '../log.js';
import { isCredentialParam, redactSecrets, safeDecode } from '../secrets.js';

/**
 * Redis connections with one log line per state change (lost / restored), not one per reconnect attempt, and
 * reconnection with capped exponential backoff forever: a worker outlives a Redis restart.
 */
export interface ConnectionOptions {
  url: string;
  log: Logger;
  /** Name shown in logs and CLIENT LIST. */
  name: string;
  /** Blocking consumers (BullMQ Worker/QueueEvents) need null; producers fail a command after a few retries. */
  role: 'consumer' | 'producer';
  /** `url` names nodes of a Redis Cluster (settings.yaml redis.cluster): a cluster client, which follows MOVED and ASK. */
  cluster?: boolean;
}

/** The Redis URL for a log line: user, password and credential query parameters (ioredis takes `?password=`) masked. */
export function safeRedisUrl(url: string): string {
  // A cluster's seed nodes, comma-separated: each masked on its own.
  const seeds = url.split(/,(?=\s*rediss?:\/\/)/i);
  if (seeds.length > 1) return seeds.map((seed) => safeRedisUrl(seed.trim())).join(',');
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username) parsed.username = '***';
    for (const name of [...parsed.searchParams.keys()]) if (isCredentialParam(name)) parsed.searchParams.set(name, '***');
    return redactSecrets(parsed.toString());
  } catch {
    return '(unparseable Redis URL)';
  }
}

/** Reconnection delay after `times` failed attempts: 1 s, 2 s, 4 s ... up to 15 s, with jitter so workers spread out. */
function reconnectDelayMs(times: number): number {
  return Math.min(500 * 2 ** Math.min(times, 6), 15_000) + Math.floor(Math.random() * 250);
}

/**
 * A connection to the Redis of `options.url`. With `options.cluster`, a cluster client (typed as Redis: it serves
 * every command the project sends, all of whose keys share the one hash tag "{prefix}", so each goes to the primary of
 * that slot, and BullMQ takes either).
 */
export function createRedis(options: ConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    connectionName: `chokepoint-${options.name}`,
    maxRetriesPerRequest: options.role === 'consumer' ? null : 3,
    enableReadyCheck: true,
  };
  const where = safeRedisUrl(options.url);
  const log = options.log.child({ redis: options.name });
  if (options.cluster) {
    const cluster = createCluster(options.url, redisOptions, options.role);
    // A node's connection is made when the cluster client first needs that node, and again after a failover.
    cluster.on('+node', (node: Redis) => node.on('connect', () => coalesceWrites(node.stream as unknown as import('node:net').Socket)));
    watchConnection(cluster, log, where);
    return cluster as unknown as Redis;
  }
  const redis = new Redis(options.url, {
    ...redisOptions,
    retryStrategy: reconnectDelayMs,
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  });
  redis.on('connect', () => coalesceWrites(redis.stream as unknown as import('node:net').Socket));
  watchConnection(redis, log, where);
  return redis;
}

/**
 * How long a command waits out a failover before it fails. While a dead primary still owns the slot (until the cluster
 * agrees it has failed: `cluster-node-timeout`, 15 s by default, and a replica's election), the other nodes redirect
 * to it and its connection is closed: each such round costs two redirections and RETRY_AFTER_MOVED_MS +
 * RETRY_AFTER_FAILOVER_MS. ioredis's defaults (16 redirections, 0 / 100 ms) give up after ~1 s, and a command
 * that gives up after a send it was recording repeats that send. 120 redirections: ~36 s. Producer connections only
 * (the stores, the queues' adds, the API): the consumer connection, BullMQ's workers and their blocking waits, keeps
 * ioredis's budget. BullMQ retries its own loop, and a blocking wait held in the long retry queue kept a worker's
 * pause() from returning: the first shutdown after a failover waited out its timeout.
 */
const MAX_REDIRECTIONS = 120;
const RETRY_AFTER_MOVED_MS = 100;
const RETRY_AFTER_FAILOVER_MS = 500;

/**
 * A Redis Cluster client over the seed nodes of `url`. The first seed's credentials and TLS (rediss://) apply to every
 * node it discovers (validation refuses seeds that differ). Reconnection is the cluster's (node connections do not retry
 * on their own); a command meeting a failover, a resharding or a CLUSTERDOWN is retried after a slots refresh, for up
 * to ~36 s on a producer connection (MAX_REDIRECTIONS).
 */
function createCluster(url: string, redisOptions: RedisOptions, role: ConnectionOptions['role']): Cluster {
  const seeds = redisSeedUrls(url, true).map((seed) => new URL(seed));
  const first = seeds[0]!;
  const credential = (parsed: URL, name: 'username' | 'password') => {
    const value = parsed[name] || parsed.searchParams.get(name) || '';
    return value ? safeDecode(value) : undefined;
  };
  const tls = first.protocol === 'rediss:';
  return new Cluster(
    seeds.map((seed) => ({ host: seed.hostname.replace(/^\[|\]$/g, ''), port: Number(seed.port || 6379) })),
    {
      redisOptions: { ...redisOptions, username: credential(first, 'username'), password: credential(first, 'password'), ...(tls ? { tls: {} } : {}) },
      clusterRetryStrategy: reconnectDelayMs,
      // Managed clusters behind TLS announce addresses their certificates do not name; connecting by the name given
      // keeps the check. Without TLS, names resolve as usual.
      ...(tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
      enableOfflineQueue: true,
      ...(role === 'producer' && {
        maxRedirections: MAX_REDIRECTIONS,
        retryDelayOnMoved: RETRY_AFTER_MOVED_MS,
        retryDelayOnFailover: RETRY_AFTER_FAILOVER_MS,
        retryDelayOnClusterDown: RETRY_AFTER_FAILOVER_MS,
      }),
    },
  );
}

function watchConnection(redis: Redis | Cluster, log: Logger, where: string): void {
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  let lastError = '';
  redis.on('ready', () => {
    if (state === 'down') log.info({ url: where }, 'Redis connection restored');
    state = 'up';
  });
  redis.on('error', (err: Error & { code?: string; lastNodeError?: Error }) => {
    // A cluster client that reaches no node says only "Failed to refresh slots cache."; the node's own error (a refused
    // connection, WRONGPASS) is what tells an operator why.
    const cause = err.lastNodeError as (Error & { code?: string }) | undefined;
    const reason = redactSecrets(cause ? `${err.message} (${cause.code ?? cause.message})` : (err.code ?? err.message));
    if (state !== 'down' || reason !== lastError) {
      log.warn({ url: where, reason }, state === 'up' ? 'Redis connection lost; reconnecting with backoff' : 'Redis unreachable; retrying with backoff');
    }
    state = 'down';
    lastError = reason;
  });
}

/** Waits until Redis answers PING, logging while it does not; rejects only when aborted. */
export async function waitForRedis(redis: Redis, log: Logger, signal?: AbortSignal): Promise<void> {
  const started = Date.now();
  let warned = false;
  // A ping to an unreachable Redis waits out the client's reconnection attempts (seconds): a shutdown asked for
  // meanwhile must not wait with it.
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(new Error('aborted while waiting for Redis'));
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
  aborted.catch(() => undefined);
  for (;;) {
    if (signal?.aborted) throw new Error('aborted while waiting for Redis');
    try {
      const ping = redis.ping();
      ping.catch(() => undefined); // lost to an abort, it fails later when the connection is closed
      await Promise.race([ping, aborted]);
      if (warned) log.info({ waitedMs: Date.now() - started }, 'Redis is reachable');
      return;
    } catch (err) {
      if (signal?.aborted) throw err;
      if (!warned) {
        log.warn('waiting for Redis to become reachable');
        warned = true;
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 500)), aborted]);
    }
  }
}

/**
 * Commands written in one turn of the event loop leave in one write: replies that Redis sends together resume many
 * jobs at once, and each would otherwise write its next command with a syscall of its own.
 */
function coalesceWrites(socket: import('node:net').Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: import('node:net').Socket, ...args: Parameters<typeof write>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as typeof write;
}
