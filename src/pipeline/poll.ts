import type { SourceConfig } from '../config/schema.js';
import { identifyPastRepeatedGuids, sharesGuidWith } from '../items/fingerprint.js';
import type { Item } from '../items/item.js';
import type { Logger } from '../log.js';
import { pollSourceWithHealth } from '../sources/registry.js';
import type { HttpClient } from '../sources/http.js';
import type { SourceStateStore } from '../store/source-state.js';
import type { SeenStore } from '../store/seen.js';

export type PollOutcome =
  /** `origin`: the host whose hold (set by another source's Retry-After) deferred it; absent for the source's own. */
  | { status: 'deferred'; notBefore: Date; skipped: number; origin?: string }
  | { status: 'not-modified' }
  | { status: 'ok'; fetched: number; fresh: Item[]; commit: () => Promise<void> };

/**
 * Poll stage: fetch and parse one source (recording its health), and drop items already seen.
 * Neither are items marked seen nor the source's validators (ETag, screening snapshot) stored here: the caller does
 * both (markSeen, then commit) once the items are safely queued for scoring, so a crash in between re-delivers them
 * (downstream is idempotent) instead of losing them behind a 304.
 * A poll that starts while the source's Retry-After holds, or that would send a request to a host under a Retry-After
 * (any source's), is `deferred`: nothing fetched, recorded or marked seen, so the first poll after that time fetches
 * whatever came out meanwhile.
 */
export async function pollStage(
  source: SourceConfig,
  deps: { http: HttpClient; sourceState: SourceStateStore; seen: SeenStore; log: Logger; now: Date; signal?: AbortSignal; bodyArrived?: () => Promise<void> },
): Promise<PollOutcome> {
  const deferral = await deps.sourceState.deferPoll?.(source.id);
  if (deferral) return { status: 'deferred', ...deferral };
  const result = await pollSourceWithHealth(source, {
    http: deps.http,
    state: deps.sourceState,
    now: deps.now,
    log: deps.log,
    signal: deps.signal,
    bodyArrived: deps.bodyArrived,
    deferCommit: true,
  });
  if (result.status === 'deferred') return result;
  if (result.status === 'not-modified') return { status: 'not-modified' };
  const unique = uniqueItems(result.items, source.id, deps.log);
  const freshIds = new Set(await deps.seen.filterUnseen(unique.map((item) => item.id)));
  return { status: 'ok', fetched: result.items.length, fresh: unique.filter((item) => freshIds.has(item.id)), commit: result.commit };
}

/**
 * The poll's items, one per id. Items that share an id because their document gave different items one guid are
 * identified apart (by link, or link and title) instead of all but the first being dropped, now and at every poll.
 */
function uniqueItems(items: Item[], sourceId: string, log: Logger): Item[] {
  const { unique, repeated } = dedupeById(items);
  if (!repeated) return unique;
  const guids = unique.filter((item) => repeated.has(item.id)).map((item) => item.guid?.slice(0, 200));
  log.warn(
    { sourceId, guids: guids.slice(0, 3), items: items.filter((item) => repeated.has(item.id)).length },
    'the source gives different items the same guid; those items are told apart by their link and title instead',
  );
  return dedupeById(identifyPastRepeatedGuids(items, repeated)).unique;
}

/** Keeps the first item of each id; `repeated` holds the ids that a document's guid gave to different items. */
function dedupeById(items: Item[]): { unique: Item[]; repeated?: Set<string> } {
  const first = new Map<string, Item>();
  const unique: Item[] = [];
  let repeated: Set<string> | undefined;
  for (const item of items) {
    const prior = first.get(item.id);
    if (prior === undefined) {
      first.set(item.id, item);
      unique.push(item);
    } else if (sharesGuidWith(prior, item)) {
      (repeated ??= new Set()).add(item.id);
    }
  }
  return { unique, repeated };
}
