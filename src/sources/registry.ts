import type { Logger } from '../log.js';
import type { SourceConfig } from '../config/schema.js';
import type { Item } from '../items/item.js';
import type { SourceStateStore } from '../store/source-state.js';
import type { HttpClient } from './http.js';
import { HostHeldError, type HostHolds } from './http/host-hold.js';
import * as html from './kinds/html.js';
import * as json from './kinds/json.js';
import * as rss from './kinds/rss.js';
import * as screening from './kinds/screening.js';

/** What a source kind needs to poll: the shared HTTP client, its Redis-backed state, the clock and a logger. */
export interface PollContext {
  http: HttpClient;
  state: SourceStateStore;
  now: Date;
  log: Logger;
  signal?: AbortSignal;
  /**
   * When true, the kind does not store the conditional-GET validators (or the screening snapshot) itself but returns
   * `commit` for the caller to run once the items are safely queued: a crash in between then re-fetches the items
   * instead of losing them behind a 304.
   */
  deferCommit?: boolean;
  /**
   * Called once every body of the poll has arrived, before its items are built (each kind calls it; a paginated JSON
   * source has read each page for the next one's address by then). The worker holds its poll gate from here until
   * the items are queued, so polls overlap their network waits but not the phase that holds a whole feed in memory.
   */
  bodyArrived?: () => Promise<void>;
}

/** A 304 (or an unchanged file) is a result, not an error; it costs no parsing. */
export type PollResult =
  | { status: 'not-modified' }
  | { status: 'ok'; items: Item[]; bytes: number; title?: string; commit: () => Promise<void> };

/** One source kind: fetch (conditional GET) and parse in one call; throws SourceFetchError or FeedParseError. */
export interface SourceKind<S extends SourceConfig = SourceConfig> {
  poll(source: S, ctx: PollContext): Promise<PollResult>;
}

type KindOf<K extends SourceConfig['kind']> = Extract<SourceConfig, { kind: K }>;
const KINDS: { [K in SourceConfig['kind']]: SourceKind<KindOf<K>> } = { rss, json, html, screening };

/** Polls one source with the module registered for its kind. */
export function pollSource(source: SourceConfig, ctx: PollContext): Promise<PollResult> {
  const kind = KINDS[source.kind] as SourceKind;
  return kind.poll(source, ctx);
}

/** A poll that sent nothing (more) because a host it goes to is under another source's Retry-After. */
export interface HostDeferral {
  status: 'deferred';
  origin: string;
  notBefore: Date;
  /** This source's polls skipped by this hold so far, this one included. */
  skipped: number;
}

/**
 * Polls a source and records its health: one log line when it becomes degraded or recovers, a debug line otherwise,
 * so a feed that is down for a day does not write an error every fifteen minutes. Rethrows the poll's error.
 * With a state store that keeps host holds, no request goes to a held host: the poll is then `deferred`, and neither
 * a failure nor a success is recorded.
 */
export async function pollSourceWithHealth(source: SourceConfig, ctx: PollContext): Promise<PollResult | HostDeferral> {
  const log = ctx.log.child({ sourceId: source.id });
  const origins = new Set<string>();
  let result: PollResult;
  try {
    result = await pollSource(source, { ...ctx, http: withHostHolds(ctx.http, source.id, ctx.state, origins) });
  } catch (err) {
    if (err instanceof HostHeldError) return { status: 'deferred', origin: err.origin, notBefore: err.notBefore, skipped: err.skipped };
    const change = await ctx.state.recordFailure(source.id, err, ctx.now, [...origins]);
    if (change.becameDegraded) {
      log.error({ err, consecutiveFailures: change.consecutiveFailures }, 'source degraded: it failed %d times in a row', change.consecutiveFailures);
    } else {
      log.debug({ err, consecutiveFailures: change.consecutiveFailures }, 'source poll failed');
    }
    throw err;
  }
  const change = await ctx.state.recordSuccess(source.id, {
    items: result.status === 'ok' ? result.items.length : 0,
    notModified: result.status === 'not-modified',
    bytes: result.status === 'ok' ? result.bytes : 0,
    at: ctx.now,
    origins: [...origins],
  });
  if (change.recovered) log.info('source recovered');
  return result;
}

/**
 * The HTTP client with the store's host holds on every request of this source's poll; `origins` collects the origins
 * it sent to, which the source's health keeps so that its view shows their holds. Unchanged for a store without holds.
 */
function withHostHolds(http: HttpClient, sourceId: string, state: SourceStateStore, origins: Set<string>): HttpClient {
  const { deferRequest, holdHost } = state;
  if (!deferRequest || !holdHost) return http;
  const hostHolds: HostHolds = {
    check: (origin) => {
      origins.add(origin);
      return deferRequest.call(state, sourceId, origin);
    },
    hold: (origin, waitMs) => holdHost.call(state, origin, waitMs),
  };
  return { get: (request) => http.get({ ...request, hostHolds }), close: () => http.close() };
}
