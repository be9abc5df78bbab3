import type { Redis } from 'ioredis';
import type { Settings } from '../config/schema.js';
import { createAlertStore, type AlertStore } from '../store/alerts.js';
import { createDeliveryStore, type DeliveryStore } from '../store/deliveries.js';
import { createSeenStore, type SeenStore } from '../store/seen.js';
import { createSourceStateStore, type SourceStateStore } from '../store/source-state.js';

export interface Stores {
  seen: SeenStore;
  alerts: AlertStore;
  deliveries: DeliveryStore;
  sourceState: SourceStateStore;
}

export function createStores(redis: Redis, settings: Settings): Stores {
  const prefix = settings.redis.prefix;
  const retention = settings.retention;
  return {
    seen: createSeenStore(redis, prefix, retention.seenDays * 86_400),
    alerts: createAlertStore(redis, prefix, { days: retention.alertDays, count: retention.alertCount }),
    deliveries: createDeliveryStore(redis, prefix, Math.ceil(retention.alertDays * 86_400)),
    sourceState: createSourceStateStore(redis, prefix, { degradedAfter: settings.sources.degradedAfter }),
  };
}
