import type { Redis } from 'ioredis';
import type { Alert } from '../alerts/types.js';
import { keyFor } from './keys.js';
import { withLock } from './lock.js';

/**
 * Alerts in Redis: one JSON value per alert with a TTL (retention by age), plus a time index (retention by count)
 * for listing. Updates of one alert are serialised with a lock so replicas never lose a corroborating source.
 */
export interface AlertStore {
  get(id: string): Promise<Alert | undefined>;
  getMany(ids: string[]): Promise<Alert[]>;
  /** Read-modify-write under a lock; fn returns the new alert (or null for no change). */
  update<T>(id: string, fn: (previous: Alert | undefined) => Promise<{ alert: Alert | null; result: T }>): Promise<T>;
  listRecent(limit: number, offset?: number): Promise<Alert[]>;
}

export function createAlertStore(redis: Redis, prefix: string, retention: { days: number; count: number }): AlertStore {
  const alertKey = (id: string) => keyFor(prefix, 'alert', id);
  const indexKey = keyFor(prefix, 'alerts', 'by-time');
  const ttl = Math.ceil(retention.days * 86_400);
  const parse = (raw: string | null) => (raw ? (JSON.parse(raw) as Alert) : undefined);

  return {
    async get(id) {
      return parse(await redis.get(alertKey(id)));
    },
    async getMany(ids) {
      if (ids.length === 0) return [];
      const raws = await redis.mget(ids.map(alertKey));
      return raws.map(parse).filter((a): a is Alert => a !== undefined);
    },
    async update(id, fn) {
      return withLock(redis, keyFor(prefix, 'lock', 'alert', id), async () => {
        const previous = parse(await redis.get(alertKey(id)));
        const { alert, result } = await fn(previous);
        if (alert) {
          await redis
            .multi()
            .set(alertKey(id), JSON.stringify(alert), 'EX', ttl)
            .zadd(indexKey, Date.parse(alert.updatedAt), id)
            .zremrangebyrank(indexKey, 0, -(retention.count + 1))
            .zremrangebyscore(indexKey, 0, Date.now() - ttl * 1000)
            .exec();
        }
        return result;
      });
    },
    async listRecent(limit, offset = 0) {
      const ids = await redis.zrevrange(indexKey, offset, offset + limit - 1);
      return this.getMany(ids);
    },
  };
}
