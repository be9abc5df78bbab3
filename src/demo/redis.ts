import { Redis } from 'ioredis';
import { hashTag } from '../store/keys.js';

function probe(url: string): Redis {
  // One quick try: the demo says how to start Redis instead of waiting for it like the worker does.
  return new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
}

/** Null when Redis answers PING; otherwise why not, in a few words. */
export async function redisProblem(url: string): Promise<string | null> {
  const redis = probe(url);
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    redis.disconnect();
  }
}

/** Deletes every key of the prefix ("{prefix}:..." holds the worker's state and its BullMQ queues). */
export async function cleanRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = probe(url);
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${hashTag(prefix)}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
