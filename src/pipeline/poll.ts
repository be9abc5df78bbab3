import type { SourceConfig } from '../config/schema.js';
import type { Item } from '../items/item.js';
import type { Logger } from '../log.js';
import { pollSource } from '../sources/registry.js';
import type { HttpClient } from '../sources/http.js';
import type { SourceStateStore } from '../store/source-state.js';
import type { SeenStore } from '../store/seen.js';

export type PollOutcome =
  | { status: 'not-modified' }
  | { status: 'ok'; fetched: number; fresh: Item[] };

/**
 * Poll stage: fetch and parse one source, drop items already seen, record the source's health.
 * Items are NOT marked seen here: the caller marks them once they are safely queued for scoring, so a crash in
 * between re-delivers them (downstream is idempotent) instead of losing them.
 */
export async function pollStage(
  source: SourceConfig,
  deps: { http: HttpClient; sourceState: SourceStateStore; seen: SeenStore; log: Logger; now: Date; signal?: AbortSignal },
): Promise<PollOutcome> {
  const log = deps.log;
  try {
    const result = await pollSource(source, { http: deps.http, state: deps.sourceState, now: deps.now, log, signal: deps.signal });
    if (result.status === 'not-modified') {
      await recordSuccess(deps, source.id, { items: 0, notModified: true, bytes: 0, at: deps.now });
      return { status: 'not-modified' };
    }
    const unique = dedupeById(result.items);
    const freshIds = new Set(await deps.seen.filterUnseen(unique.map((item) => item.id)));
    const fresh = unique.filter((item) => freshIds.has(item.id));
    await recordSuccess(deps, source.id, { items: result.items.length, notModified: false, bytes: result.bytes, at: deps.now });
    return { status: 'ok', fetched: result.items.length, fresh };
  } catch (err) {
    const change = await deps.sourceState.recordFailure(source.id, err, deps.now);
    if (change.becameDegraded) {
      log.error({ err, consecutiveFailures: change.consecutiveFailures }, 'source degraded: it keeps failing');
    }
    throw err;
  }
}

async function recordSuccess(
  deps: { sourceState: SourceStateStore; log: Logger },
  sourceId: string,
  stats: { items: number; notModified: boolean; bytes: number; at: Date },
): Promise<void> {
  const change = await deps.sourceState.recordSuccess(sourceId, stats);
  if (change && typeof change === 'object' && 'recovered' in change && change.recovered) deps.log.info('source recovered');
}

function dedupeById(items: Item[]): Item[] {
  const seen = new Set<string>();
  return items.filter((item) => (seen.has(item.id) ? false : (seen.add(item.id), true)));
}
