import type { Redis } from 'ioredis';
import { keyFor } from './keys.js';
import { redisScript } from './script.js';

/** An alert waiting for a channel's digest, and when it was put there (its latest version's decision time). */
export interface HeldAlert {
  alertId: string;
  heldAt: number;
}

/**
 * Alerts held for each channel's next digest: a sorted set per channel (alert id by time held). Only the dispatch store
 * holds and releases alerts, in the script that records a decision (store/dispatch.ts), so that a holding always
 * follows the decision that won the record: a newer version held moves the alert to the newer time,
 * one sent by itself releases it, and an older version or a replayed decision changes nothing. A digest takes what
 * was held up to its window's end and clears exactly those entries once it is delivered, so an alert held again
 * while the digest was being sent waits for the next one. Bounded by count; alerts past their retention drop out.
 */
export interface DigestStore {
  /** Held up to and including `upToMs`, oldest first. */
  pending(channelId: string, upToMs: number): Promise<HeldAlert[]>;
  /** Removes the entries a delivered digest carried, unless they were held again since. */
  clear(channelId: string, entries: HeldAlert[]): Promise<void>;
  /** End of the last digest window delivered (ms), or undefined before the first. */
  lastWindowEnd(channelId: string): Promise<number | undefined>;
  setLastWindowEnd(channelId: string, windowEnd: number): Promise<void>;
}

/** More than any digest could show; beyond it the oldest held entries give way. */
export const MAX_HELD = 5_000;

/** The channel's holding; the dispatch store settles it in the script that records a decision. */
export const digestHeldKey = (prefix: string, channelId: string) => keyFor(prefix, 'digest-held', channelId);

const CLEAR = redisScript(`
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
`);

export function createDigestStore(redis: Redis, prefix: string, retentionSeconds: number): DigestStore {
  const heldKey = (channelId: string) => digestHeldKey(prefix, channelId);
  const lastKey = (channelId: string) => keyFor(prefix, 'digest-last', channelId);
  return {
    async pending(channelId, upToMs) {
      const flat = await redis.zrangebyscore(heldKey(channelId), '-inf', String(upToMs), 'WITHSCORES');
      const out: HeldAlert[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ alertId: flat[i], heldAt: Number(flat[i + 1]) });
      return out;
    },
    async clear(channelId, entries) {
      if (entries.length === 0) return;
      await CLEAR(redis, [heldKey(channelId)], entries.flatMap((e) => [e.alertId, String(e.heldAt)]));
    },
    async lastWindowEnd(channelId) {
      const raw = await redis.get(lastKey(channelId));
      return raw ? Number(raw) : undefined;
    },
    async setLastWindowEnd(channelId, windowEnd) {
      // Never move backwards: a late retry of an older window must not reopen a newer one.
      const current = Number((await redis.get(lastKey(channelId))) ?? 0);
      if (windowEnd > current) await redis.set(lastKey(channelId), String(windowEnd), 'EX', retentionSeconds);
    },
  };
}
