import type { Redis } from 'ioredis';
import { keyFor } from './keys.js';
import { redisScript } from './script.js';

/**
 * Fingerprints of items already handed to scoring, one key each with a TTL, so memory is bounded by the retention
 * and a restarted worker (or another replica) never alerts an item twice.
 */
export interface SeenStore {
  /** Returns the ids that have not been seen, in input order. */
  filterUnseen(ids: string[]): Promise<string[]>;
  markSeen(ids: string[]): Promise<void>;
}

/** Keys per command: one MGET or one script call per chunk instead of one command per item (the poll's hot path). */
const CHUNK = 500;

// One script call sets a chunk of keys with their TTL (MSET has no EX). All keys share the prefix's hash tag, so
// this is one slot on Redis Cluster too.
const MARK = redisScript(`for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1]) end return #KEYS`);

export function createSeenStore(redis: Redis, prefix: string, ttlSeconds: number): SeenStore {
  const key = (id: string) => keyFor(prefix, 'seen', id);
  const ttl = String(Math.ceil(ttlSeconds));
  return {
    async filterUnseen(ids) {
      const unseen: string[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        const values = await redis.mget(chunk.map(key));
        chunk.forEach((id, j) => {
          if (values[j] === null) unseen.push(id);
        });
      }
      return unseen;
    },
    async markSeen(ids) {
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        await MARK(redis, chunk.map(key), [ttl]);
      }
    },
  };
}
