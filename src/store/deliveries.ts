import type { Redis } from 'ioredis';
import { keyFor } from './keys.js';
import { replyValues } from './replies.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'rate-limited';

/** One notification of one alert version (or one digest) to one channel. */
export interface Delivery {
  /** alertId-version-channelId, or digest-channelId-windowEnd. */
  key: string;
  alertId?: string;
  version?: number;
  channelId: string;
  status: DeliveryStatus;
  /** Sends that got an answer other than 429 (or no answer): the failed ones and the one that succeeded. */
  attempts: number;
  lastError?: string;
  errorKind?: string;
  response?: string;
  deliveredAt?: string;
  updatedAt: string;
  refs?: Record<string, string>;
}

/**
 * The delivery ledger: read before sending, written after every attempt. A delivered entry makes a retried or
 * duplicated notify job a no-op. Entries expire after the retention; failed ones are also indexed for listing.
 */
export interface DeliveryStore {
  get(key: string): Promise<Delivery | undefined>;
  /**
   * What a send needs to know, in one round trip: the ledger entry, the channel's 429 block, and the refs of earlier
   * deliveries of this alert to this channel (for threading follow-ups).
   */
  beforeSend(key: string, alertId: string, channelId: string): Promise<{ existing?: Delivery; blockedUntil: number; refs: Record<string, string> }>;
  recordAttempt(key: string, base: Omit<Delivery, 'status' | 'attempts' | 'updatedAt' | 'key'>, outcome: {
    status: DeliveryStatus;
    error?: string;
    errorKind?: string;
    response?: string;
    refs?: Record<string, string>;
    at: Date;
  }): Promise<Delivery>;
  listFailed(limit?: number, offset?: number): Promise<Delivery[]>;
  /** Per-channel "do not send before" time after a 429, shared by all workers. */
  blockedUntil(channelId: string): Promise<number>;
  blockChannel(channelId: string, untilMs: number): Promise<void>;
  listForAlert(alertId: string): Promise<Delivery[]>;
  clearFailed(key: string): Promise<void>;
}

export function createDeliveryStore(redis: Redis, prefix: string, retentionSeconds: number): DeliveryStore {
  const entryKey = (key: string) => keyFor(prefix, 'delivery', key);
  const failedKey = keyFor(prefix, 'deliveries', 'failed');
  const refsKey = (alertId: string, channelId: string) => keyFor(prefix, 'delivery-refs', alertId, channelId);
  const byAlertKey = (alertId: string) => keyFor(prefix, 'deliveries', 'alert', alertId);
  const blockKey = (channelId: string) => keyFor(prefix, 'channel-block', channelId);

  const parse = (raw: string | null): Delivery | undefined => (raw ? (JSON.parse(raw) as Delivery) : undefined);

  return {
    async get(key) {
      return parse(await redis.get(entryKey(key)));
    },
    async beforeSend(key, alertId, channelId) {
      const [entry, block, refs] = replyValues(await redis.pipeline().get(entryKey(key)).get(blockKey(channelId)).hgetall(refsKey(alertId, channelId)).exec());
      return { existing: parse(entry as string | null), blockedUntil: Number(block ?? 0), refs: refs as Record<string, string> };
    },
    async recordAttempt(key, base, outcome) {
      // Read now, not before the send: a job whose lock lapsed may run twice at once, and each outcome builds on the
      // entry as it is. Delivered is final: a failing twin must not reopen it (its retry would send again).
      const previous = parse(await redis.get(entryKey(key)));
      if (previous?.status === 'delivered' && outcome.status !== 'delivered') return previous;
      const delivery: Delivery = {
        ...base,
        key,
        status: outcome.status,
        // A send is counted once, by its outcome (pending = failed but will retry, delivered). "failed" is the verdict
        // on the last send, already counted, and a 429 costs no attempt.
        attempts: (previous?.attempts ?? 0) + (outcome.status === 'pending' || outcome.status === 'delivered' ? 1 : 0),
        lastError: outcome.error ?? (outcome.status === 'delivered' ? undefined : previous?.lastError),
        errorKind: outcome.errorKind,
        response: outcome.response ?? previous?.response,
        deliveredAt: outcome.status === 'delivered' ? outcome.at.toISOString() : previous?.deliveredAt,
        updatedAt: outcome.at.toISOString(),
        refs: outcome.refs ?? previous?.refs,
      };
      const multi = redis.multi().set(entryKey(key), JSON.stringify(delivery), 'EX', retentionSeconds);
      if (delivery.status === 'failed') multi.zadd(failedKey, outcome.at.getTime(), key);
      else multi.zrem(failedKey, key);
      if (base.alertId) {
        multi.sadd(byAlertKey(base.alertId), key).expire(byAlertKey(base.alertId), retentionSeconds);
        if (outcome.refs && Object.keys(outcome.refs).length > 0 && delivery.status === 'delivered') {
          multi.hset(refsKey(base.alertId, base.channelId), outcome.refs).expire(refsKey(base.alertId, base.channelId), retentionSeconds);
        }
      }
      // Bound the failed index even if nobody ever looks at it.
      multi.zremrangebyrank(failedKey, 0, -10_001);
      await multi.exec();
      return delivery;
    },
    async listFailed(limit = 100, offset = 0) {
      const keys = await redis.zrevrange(failedKey, offset, offset + limit - 1);
      if (keys.length === 0) return [];
      const raws = await redis.mget(keys.map(entryKey));
      return raws.map(parse).filter((d): d is Delivery => d !== undefined && d.status === 'failed');
    },
    async blockedUntil(channelId) {
      return Number((await redis.get(blockKey(channelId))) ?? 0);
    },
    async blockChannel(channelId, untilMs) {
      const ttl = Math.max(1, untilMs - Date.now());
      // Keep the later of two concurrent blocks.
      const current = Number((await redis.get(blockKey(channelId))) ?? 0);
      if (current < untilMs) await redis.set(blockKey(channelId), String(untilMs), 'PX', ttl);
    },
    async listForAlert(alertId) {
      const keys = await redis.smembers(byAlertKey(alertId));
      if (keys.length === 0) return [];
      const raws = await redis.mget(keys.map(entryKey));
      return raws.map(parse).filter((d): d is Delivery => d !== undefined);
    },
    async clearFailed(key) {
      await redis.zrem(failedKey, key);
    },
  };
}
