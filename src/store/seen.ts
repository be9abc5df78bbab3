import type { Redis } from 'ioredis';
import { keyFor } from './keys.js';

/**
 * Fingerprints of items already handed to scoring, one key each with a TTL, so memory is bounded by the retention
 * and a restarted worker (or another replica) never alerts an item twice.
 */
export interface SeenStore {
  /** Returns the ids that have not been seen, in input order. */
  filterUnseen(ids: string[]): Promise<string[]>;
  markSeen(ids: string[]): Promise<void>;
}

export function createSeenStore(redis: Redis, prefix: string, ttlSeconds: number): SeenStore {
  const key = (id: string) => keyFor(prefix, 'seen', id);
  return {
    async filterUnseen(ids) {
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.exists(key(id));
      const results = (await pipeline.exec()) ?? [];
      return ids.filter((_, i) => {
        const [err, exists] = results[i] ?? [];
        if (err) throw err;
        return exists === 0;
      });
    },
    async markSeen(ids) {
      if (ids.length === 0) return;
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.set(key(id), '1', 'EX', Math.ceil(ttlSeconds));
      const results = (await pipeline.exec()) ?? [];
      for (const [err] of results) if (err) throw err;
    },
  };
}
