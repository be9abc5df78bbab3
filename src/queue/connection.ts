import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { isCredentialParam, redactSecrets } from '../secrets.js';

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
}

/** The Redis URL for a log line: user, password and credential query parameters (ioredis takes `?password=`) masked. */
export function safeRedisUrl(url: string): string {
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

export function createRedis(options: ConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    connectionName: `chokepoint-${options.name}`,
    maxRetriesPerRequest: options.role === 'consumer' ? null : 3,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(500 * 2 ** Math.min(times, 6), 15_000) + Math.floor(Math.random() * 250),
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  const redis = new Redis(options.url, redisOptions);
  redis.on('connect', () => coalesceWrites(redis.stream as unknown as import('node:net').Socket));
  watchConnection(redis, options.log.child({ redis: options.name }), safeRedisUrl(options.url));
  return redis;
}

function watchConnection(redis: Redis, log: Logger, where: string): void {
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  let lastError = '';
  redis.on('ready', () => {
    if (state === 'down') log.info({ url: where }, 'Redis connection restored');
    state = 'up';
  });
  redis.on('error', (err: Error & { code?: string }) => {
    const reason = err.code ?? err.message;
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
