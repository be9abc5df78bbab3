import type { ChokepointConfig } from './load.js';

/**
 * Settings read once at start: by the Redis connections, the logger, the API server, the BullMQ workers and queues
 * (concurrency, retention, attempts and backoff) and the stores (stories, source health, risk index, retention).
 * A reload cannot apply them; everything else in the config follows a reload. A path names a setting or a section.
 */
export const RESTART_ONLY_SETTINGS = [
  'redis',
  'log.level',
  'api',
  'worker',
  'retention',
  'delivery.attempts',
  'delivery.backoffMs',
  'delivery.maxBackoffMs',
  'sources.degradedAfter',
  'alerts.storyWindowHours',
  'alerts.storySimilarity',
  'riskIndex',
] as const;

/** The restart-only settings whose value differs between two configs, as leaf paths ("riskIndex.threshold"). */
export function restartOnlyChanges(running: ChokepointConfig, next: ChokepointConfig): string[] {
  const changed: string[] = [];
  if (running.redisUrl !== next.redisUrl) changed.push('redisUrl');
  for (const setting of RESTART_ONLY_SETTINGS) {
    const keys = setting.split('.');
    collect(setting, at(running.settings, keys), at(next.settings, keys), changed);
  }
  return changed;
}

function at(root: unknown, keys: string[]): unknown {
  return keys.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), root);
}

function collect(path: string, before: unknown, after: unknown, out: string[]): void {
  const isSection = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isSection(before) && isSection(after)) {
    const keys = new Set([...Object.keys(before as object), ...Object.keys(after as object)]);
    for (const key of keys) collect(`${path}.${key}`, (before as Record<string, unknown>)[key], (after as Record<string, unknown>)[key], out);
  } else if (JSON.stringify(before) !== JSON.stringify(after)) out.push(path);
}
