import type { SourceConfig } from '../config/schema.js';
import type { Item } from '../items/item.js';
import type { Logger } from '../log.js';
import { pollSourceWithHealth } from '../sources/registry.js';
import type { HttpClient } from '../sources/http.js';
import type { SourceStateStore } from '../store/source-state.js';
import type { SeenStore } from '../store/seen.js';

export type PollOutcome =
  | { status: 'not-modified' }
  | { status: 'ok'; fetched: number; fresh: Item[]; commit: () => Promise<void> };

/**
 * Poll stage: fetch and parse one source (recording its health), and drop items already seen.
 * Neither are items marked seen nor the source's validators (ETag, screening snapshot) stored here: the caller does
 * both (markSeen, then commit) once the items are safely queued for scoring, so a crash in between re-delivers them
 * (downstream is idempotent) instead of losing them behind a 304.
 */
export async function pollStage(
  source: SourceConfig,
  deps: { http: HttpClient; sourceState: SourceStateStore; seen: SeenStore; log: Logger; now: Date; signal?: AbortSignal; bodyArrived?: () => Promise<void> },
): Promise<PollOutcome> {
  const result = await pollSourceWithHealth(source, {
    http: deps.http,
    state: deps.sourceState,
    now: deps.now,
    log: deps.log,
    signal: deps.signal,
    bodyArrived: deps.bodyArrived,
    deferCommit: true,
  });
  if (result.status === 'not-modified') return { status: 'not-modified' };
  const unique = dedupeById(result.items);
  const freshIds = new Set(await deps.seen.filterUnseen(unique.map((item) => item.id)));
  return { status: 'ok', fetched: result.items.length, fresh: unique.filter((item) => freshIds.has(item.id)), commit: result.commit };
}

function dedupeById(items: Item[]): Item[] {
  const seen = new Set<string>();
  return items.filter((item) => (seen.has(item.id) ? false : (seen.add(item.id), true)));
}
