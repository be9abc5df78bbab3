import type { SourceConfig } from '../config/schema.js';
import type { Item } from '../items/item.js';
import type { Logger } from '../log.js';
import { pollSourceWithHealth } from '../sources/registry.js';
import type { HttpClient } from '../sources/http.js';
import type { SourceStateStore } from '../store/source-state.js';
import type { SeenStore } from '../store/seen.js';

export type PollOutcome =
  | { status: 'not-modified' }
  | { status: 'ok'; fetched: number; fresh: Item[] };

/**
 * Poll stage: fetch and parse one source (recording its health), and drop items already seen.
 * Items are NOT marked seen here: the caller marks them once they are safely queued for scoring, so a crash in
 * between re-delivers them (downstream is idempotent) instead of losing them.
 */
export async function pollStage(
  source: SourceConfig,
  deps: { http: HttpClient; sourceState: SourceStateStore; seen: SeenStore; log: Logger; now: Date; signal?: AbortSignal },
): Promise<PollOutcome> {
  const result = await pollSourceWithHealth(source, { http: deps.http, state: deps.sourceState, now: deps.now, log: deps.log, signal: deps.signal });
  if (result.status === 'not-modified') return { status: 'not-modified' };
  const unique = dedupeById(result.items);
  const freshIds = new Set(await deps.seen.filterUnseen(unique.map((item) => item.id)));
  return { status: 'ok', fetched: result.items.length, fresh: unique.filter((item) => freshIds.has(item.id)) };
}

function dedupeById(items: Item[]): Item[] {
  const seen = new Set<string>();
  return items.filter((item) => (seen.has(item.id) ? false : (seen.add(item.id), true)));
}
