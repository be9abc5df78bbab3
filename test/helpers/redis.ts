import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis the tests use: $REDIS_URL (set by .ci/run) or the local default. */
export function testRedisUrl(): string {
  return process.env.REDIS_URL || 'redis://127.0.0.1:6379';
}

/** A key prefix unique to one test file or test, so files can run in parallel on one Redis. */
export function uniquePrefix(label: string): string {
  return `cptest-${label}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under the prefix (including BullMQ's "{prefix}:..." keys). */
export async function cleanPrefix(prefix: string, url = testRedisUrl()): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  try {
    // A test's own prefixes derived from its prefix (`${prefix}-big`) are its too.
    for (const pattern of [`${prefix}*`, `{${prefix}}*`, `{${prefix}-*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}
