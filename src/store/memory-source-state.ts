import type { HealthChange, SourceHealth, SourceStateStore, SourceValidators } from './source-state.js';

/**
 * Source state kept in process memory, for one-shot commands that run without Redis (`chokepoint scan`):
 * nothing is remembered between runs, so every fetch is a full GET and a screening list has no baseline.
 */
export function createMemorySourceStateStore(): SourceStateStore {
  const validators = new Map<string, { url: string; value: SourceValidators }>();
  const health = new Map<string, SourceHealth>();
  const snapshots = new Map<string, Map<string, string>>();
  const blank = (sourceId: string): SourceHealth => ({
    sourceId,
    lastPollAt: null,
    lastSuccessAt: null,
    lastErrorAt: null,
    lastError: null,
    lastErrorCode: null,
    consecutiveFailures: 0,
    degraded: false,
    degradedSince: null,
    lastItems: 0,
    lastNotModified: false,
    lastBytes: 0,
  });
  return {
    async getValidators(sourceId, url) {
      const saved = validators.get(sourceId);
      return saved?.url === url ? saved.value : {};
    },
    async saveValidators(sourceId, url, value) {
      validators.set(sourceId, { url, value });
    },
    async recordSuccess(sourceId, poll): Promise<HealthChange> {
      const h = health.get(sourceId) ?? blank(sourceId);
      const recovered = h.degraded;
      const at = poll.at.toISOString();
      health.set(sourceId, { ...h, lastPollAt: at, lastSuccessAt: at, consecutiveFailures: 0, degraded: false, degradedSince: null, lastItems: poll.items, lastNotModified: poll.notModified, lastBytes: poll.bytes });
      return { becameDegraded: false, recovered, consecutiveFailures: 0 };
    },
    async recordFailure(sourceId, error, at): Promise<HealthChange> {
      const h = health.get(sourceId) ?? blank(sourceId);
      const failures = h.consecutiveFailures + 1;
      const err = error as { message?: string; code?: string };
      health.set(sourceId, { ...h, lastPollAt: at.toISOString(), lastErrorAt: at.toISOString(), lastError: err?.message ?? String(error), lastErrorCode: err?.code ?? null, consecutiveFailures: failures });
      return { becameDegraded: false, recovered: false, consecutiveFailures: failures };
    },
    async getHealth(sourceId) {
      return health.get(sourceId) ?? null;
    },
    async listHealth() {
      return [...health.values()];
    },
    async getScreeningSnapshot(sourceId) {
      return snapshots.get(sourceId) ?? null;
    },
    async updateScreeningSnapshot(sourceId, diff) {
      const snapshot = snapshots.get(sourceId) ?? new Map<string, string>();
      for (const [k, v] of diff.set) snapshot.set(k, v);
      for (const k of diff.remove) snapshot.delete(k);
      snapshots.set(sourceId, snapshot);
    },
    async resetScreeningSnapshot(sourceId) {
      return snapshots.delete(sourceId);
    },
  };
}
