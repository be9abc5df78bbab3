import type { Redis } from 'ioredis';
import { keyFor } from './keys.js';
import { redisScript } from './script.js';

/**
 * Fingerprints of items already handed to scoring, one key each with a TTL, so memory is bounded by the retention
 * and a restarted worker (or another replica) never alerts an item twice.
 *
 * The TTL runs from the last poll that listed the item, not from the first: a low-churn source (a press page, a small
 * feed) lists the same items for months, and an id that expired while still listed would come back as fresh news.
 */
export interface SeenStore {
  /** Returns the ids that have not been seen, in input order; the ones seen are kept for another full retention. */
  filterUnseen(ids: string[]): Promise<string[]>;
  markSeen(ids: string[]): Promise<void>;
}

/** Keys per command: one script call per chunk instead of one command per item (the poll's hot path). */
const CHUNK = 500;

// One script call sets a chunk of keys with their TTL (MSET has no EX). All keys share the prefix's hash tag, so
// this is one slot on Redis Cluster too.
const MARK = redisScript(`for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1]) end return #KEYS`);

// Reports which keys exist (1) or not (0), and renews the TTL of the existing ones whose remaining time has fallen
// below ARGV[2] ms. Renewing only past half the retention, not on every poll, keeps a feed polled every few minutes
// from writing (and replicating, and appending to the AOF) an EXPIRE per listed item per poll; an id listed at least
// once per half retention never expires.
const CHECK = redisScript(`
local out = {}
local renewBelow = tonumber(ARGV[2])
for i = 1, #KEYS do
  local left = redis.call('PTTL', KEYS[i])
  if left == -2 then
    out[i] = 0
  else
    if left >= 0 and left < renewBelow then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
    out[i] = 1
  end
end
return out`);

export function createSeenStore(redis: Redis, prefix: string, ttlSeconds: number): SeenStore {
  const key = (id: string) => keyFor(prefix, 'seen', id);
  const ttl = String(Math.ceil(ttlSeconds));
  const renewBelowMs = String(Math.ceil(ttlSeconds * 500));
  return {
    async filterUnseen(ids) {
      const unseen: string[] = [];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        const found = await CHECK<number[]>(redis, chunk.map(key), [ttl, renewBelowMs]);
        chunk.forEach((id, j) => {
          if (Number(found[j]) !== 1) unseen.push(id);
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
