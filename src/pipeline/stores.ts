import type { Redis } from 'ioredis';
import type { Settings } from '../config/schema.js';
import { createAlertStore, type AlertStore } from '../store/alerts.js';
import { createDeliveryStore, type DeliveryStore } from '../store/deliveries.js';
import { createSeenStore, type SeenStore } from '../store/seen.js';
import { createSourceStateStore, type SourceStateStore } from '../store/source-state.js';
import { createStoryStore, type StoryStore } from '../store/stories.js';
import { createRiskIndexStore, type RiskIndexStore } from '../store/risk-index.js';
import { createDispatchStore, type DispatchStore } from '../store/dispatch.js';
import { createDigestStore, type DigestStore } from '../store/digests.js';

export interface Stores {
  seen: SeenStore;
  alerts: AlertStore;
  deliveries: DeliveryStore;
  sourceState: SourceStateStore;
  stories: StoryStore;
  risk: RiskIndexStore;
  dispatch: DispatchStore;
  digests: DigestStore;
}

/** The records written optimistically (read, decide, write if unchanged, else decide again). */
export type ContendedStore = 'story' | 'alert' | 'delivery';
export const CONTENDED_STORES: readonly ContendedStore[] = ['story', 'alert', 'delivery'];

/** `onConflict`: a write found its record changed by another writer since it was read, and is decided again. */
export function createStores(redis: Redis, settings: Settings, onConflict?: (store: ContendedStore) => void): Stores {
  const prefix = settings.redis.prefix;
  const retention = settings.retention;
  const conflictIn = (store: ContendedStore) => (onConflict ? () => onConflict(store) : undefined);
  return {
    seen: createSeenStore(redis, prefix, retention.seenDays * 86_400),
    alerts: createAlertStore(redis, prefix, { days: retention.alertDays, count: retention.alertCount }, Date.now, conflictIn('alert')),
    deliveries: createDeliveryStore(redis, prefix, Math.ceil(retention.alertDays * 86_400), conflictIn('delivery')),
    sourceState: createSourceStateStore(redis, prefix, { degradedAfter: settings.sources.degradedAfter }),
    stories: createStoryStore(redis, prefix, { windowHours: settings.alerts.storyWindowHours, threshold: settings.alerts.storySimilarity, onConflict: conflictIn('story') }),
    risk: createRiskIndexStore(redis, prefix, { ...settings.riskIndex, seriesHours: settings.riskIndex.seriesDays * 24, alertRetentionHours: retention.alertDays * 24 }),
    dispatch: createDispatchStore(redis, prefix, Math.ceil(retention.alertDays * 86_400)),
    digests: createDigestStore(redis, prefix, Math.ceil(retention.alertDays * 86_400)),
  };
}
