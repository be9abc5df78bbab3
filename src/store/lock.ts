import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Runs fn while holding a short Redis lock (SET NX PX), so read-modify-write of one alert is serialised across
 * worker processes. The TTL bounds the damage of a crashed holder.
 */
export async function withLock<T>(redis: Redis, key: string, fn: () => Promise<T>, ttlMs = 10_000, waitMs = 15_000): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  let delay = 5;
  while ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${key}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }
}
