import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redactSecrets } from '../secrets.js';
import { keyFor } from './keys.js';
import { REDIS_NOW_MS, redisScript } from './script.js';
import { replyValues } from './replies.js';

/** Conditional-GET validators of a source's last successful fetch (of the URL they were saved for). */
export interface SourceValidators {
  etag?: string;
  lastModified?: string;
}

/** What the operator sees about one source (API /sources, `chokepoint status`). */
export interface SourceHealth {
  sourceId: string;
  lastPollAt: string | null;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  /** Message of the last failure (secrets scrubbed), kept after recovery for the record. */
  lastError: string | null;
  /** Stable code of the last failure, e.g. CP_SOURCE_TIMEOUT. */
  lastErrorCode: string | null;
  consecutiveFailures: number;
  degraded: boolean;
  degradedSince: string | null;
  /** Items the last successful poll produced. */
  lastItems: number;
  /** Whether the last successful poll was answered 304 Not Modified. */
  lastNotModified: boolean;
  lastBytes: number;
  /**
   * Until when the source's polls are skipped, because it, or another source on a host it is polled from, answered 429
   * or 503 with a Retry-After; null once that time has passed (or when nobody asked). Absent from stores that keep
   * nothing between runs.
   */
  notBefore?: string | null;
  /** The origin (scheme, host, port) whose Retry-After sets notBefore; null when it is the source's own (or none). */
  holdOrigin?: string | null;
}

/** A poll held back by the source's not-before time. */
export interface PollDeferral {
  notBefore: Date;
  /** Polls skipped for this not-before time so far, this one included: the first is the one worth an info line. */
  skipped: number;
}

/** What changed in a source's health by one poll; the caller logs only when something did. */
export interface HealthChange {
  becameDegraded: boolean;
  recovered: boolean;
  consecutiveFailures: number;
}

export interface SourceStateStore {
  /**
   * The validators saved for this source and this URL; none when they were saved for another URL (ops changed the
   * source's address: the old URL's ETag sent to the new one could be answered 304 and hide the new feed) or by a
   * version that did not record the URL (one full fetch, then they are kept again).
   */
  getValidators(sourceId: string, url: string): Promise<SourceValidators>;
  saveValidators(sourceId: string, url: string, validators: SourceValidators): Promise<void>;
  /** `origins`: the origins the poll sent requests to, kept (when any) to show the source under their holds. */
  recordSuccess(sourceId: string, poll: { items: number; notModified: boolean; bytes: number; at: Date; origins?: string[] }): Promise<HealthChange>;
  /**
   * Records a failed poll. When the error carries the source's Retry-After (`retryAfterMs`, a 429 or 503), also holds
   * the source's polls back until then (see deferPoll), capped at MAX_NOT_BEFORE_MS. `origins` as for recordSuccess.
   */
  recordFailure(sourceId: string, error: unknown, at: Date, origins?: string[]): Promise<HealthChange>;
  /**
   * Skips this poll (counts it, returns until when) while a Retry-After the source sent is still in force by Redis's
   * clock; null when the poll may fetch. Absent from stores that keep nothing between runs: they have nothing to honour.
   */
  deferPoll?(sourceId: string): Promise<PollDeferral | null>;
  /**
   * Holds every source's requests to `origin` (scheme, host, port) for `waitMs`, capped at MAX_NOT_BEFORE_MS, on
   * Redis's clock: a Retry-After is the host's word about this client, not about one URL. A later time already set is
   * kept; nothing lifts a hold early (a success of a request begun before it says nothing about the host's wish).
   */
  holdHost?(origin: string, waitMs: number): Promise<void>;
  /**
   * The hold on `origin` a request of this source would break, with the source's polls skipped by it so far (this one
   * included), or null when the request may go.
   */
  deferRequest?(sourceId: string, origin: string): Promise<PollDeferral | null>;
  getHealth(sourceId: string): Promise<SourceHealth | null>;
  listHealth(): Promise<SourceHealth[]>;
  /** Entry key -> content hash of the list as last seen; null before the first (baseline) poll. */
  getScreeningSnapshot(sourceId: string): Promise<Map<string, string> | null>;
  /** Applies a diff to the snapshot (and marks the baseline as taken) in one transaction. */
  updateScreeningSnapshot(sourceId: string, diff: { set: Map<string, string>; remove: string[] }, at: Date): Promise<void>;
  /**
   * Forgets the snapshot and the validators, so that the next poll fetches the list whole and records it as a new
   * baseline, without alerts (`chokepoint rebaseline`). Whether there was a snapshot.
   */
  resetScreeningSnapshot(sourceId: string): Promise<boolean>;
}

/**
 * Longest a source's Retry-After holds its polls back. Real rate-limit windows (GDELT's, agencies' API quotas) reset
 * within a day; a longer or garbled value (an HTTP date in the wrong year) would otherwise silence a source for weeks,
 * and a day of a source showing as failing with its next poll time is something an operator notices and can act on.
 */
export const MAX_NOT_BEFORE_MS = 24 * 3600_000;

// A not-before time is written and compared on Redis's clock (REDIS_NOW_MS), never on a worker's: workers whose
// clocks disagree would otherwise fetch early (clock ahead) or skip too long (clock behind).

// The scripts touch one key plus the index set, all under one hash tag: atomic, and Redis Cluster safe.
// ARGV[6] is the Retry-After in ms ('' for none). Of two requests to wait the later holds; a failure without one leaves
// a time still ahead in force (the poll that failed may have started before it was set) and drops one already past.
const RECORD_FAILURE = redisScript(`
local n = redis.call('HINCRBY', KEYS[1], 'consecutiveFailures', 1)
redis.call('HSET', KEYS[1], 'lastPollAt', ARGV[2], 'lastErrorAt', ARGV[2], 'lastError', ARGV[3], 'lastErrorCode', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
local became = 0
if n >= tonumber(ARGV[5]) and redis.call('HGET', KEYS[1], 'degraded') ~= '1' then
  redis.call('HSET', KEYS[1], 'degraded', '1', 'degradedSince', ARGV[2])
  became = 1
end
${REDIS_NOW_MS}
local held = tonumber(redis.call('HGET', KEYS[1], 'notBefore'))
if held ~= nil and held <= now then
  redis.call('HDEL', KEYS[1], 'notBefore', 'skippedPolls')
  held = nil
end
if ARGV[6] ~= '' then
  local asked = now + tonumber(ARGV[6])
  if held == nil then
    redis.call('HSET', KEYS[1], 'notBefore', string.format('%.0f', asked), 'skippedPolls', '0')
  elseif asked > held then
    -- A new, later time: its first skipped poll is logged at info like the first time's.
    redis.call('HSET', KEYS[1], 'notBefore', string.format('%.0f', asked), 'skippedPolls', '0')
  end
end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'origins', ARGV[7]) end
return {n, became}`);

const RECORD_SUCCESS = redisScript(`
local was = redis.call('HGET', KEYS[1], 'degraded')
redis.call('HSET', KEYS[1], 'consecutiveFailures', '0', 'degraded', '0', 'lastPollAt', ARGV[2], 'lastSuccessAt', ARGV[2],
  'lastItems', ARGV[3], 'lastNotModified', ARGV[4], 'lastBytes', ARGV[5])
redis.call('HDEL', KEYS[1], 'degradedSince')
-- A poll that succeeds while a hold is ahead started before another poll's answer set it (every later one is skipped):
-- it says nothing about the source's wish, so the hold stays; one already past goes.
local held = tonumber(redis.call('HGET', KEYS[1], 'notBefore'))
if held ~= nil then
  ${REDIS_NOW_MS}
  if held <= now then redis.call('HDEL', KEYS[1], 'notBefore', 'skippedPolls') end
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'origins', ARGV[6]) end
redis.call('SADD', KEYS[2], ARGV[1])
if was == '1' then return 1 end
return 0`);

// Returns nil when the poll may fetch, else {notBefore, skipped polls}. Writes only to a health hash that has a
// not-before time, so a source that never asked to wait gets no key.
const DEFER_POLL = redisScript(`
local held = tonumber(redis.call('HGET', KEYS[1], 'notBefore'))
if held == nil then return false end
${REDIS_NOW_MS}
if held <= now then return false end
return {string.format('%.0f', held), redis.call('HINCRBY', KEYS[1], 'skippedPolls', 1)}`);

// A host's hold is a hash of its own, {prefix}:host-hold:<origin>, expiring at its time: nothing to clean up, and once
// past it holds nothing. Skipped polls are counted per source (field skipped:<id>), so each source on the host logs its
// first skipped poll at info. A later time extends a hold in force and keeps its counts (a second 429 a moment later is
// the same request to wait, not a new one to log); an earlier or equal one changes nothing.
const HOLD_HOST = redisScript(`
${REDIS_NOW_MS}
local asked = now + tonumber(ARGV[1])
local held = tonumber(redis.call('HGET', KEYS[1], 'notBefore'))
if held ~= nil and held > now then
  if held >= asked then return 0 end
  redis.call('HSET', KEYS[1], 'notBefore', string.format('%.0f', asked))
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', asked))
  return 1
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'notBefore', string.format('%.0f', asked), 'origin', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', asked))
return 1`);

// Returns nil when the request may go, else {notBefore, the source's skipped polls}. The held origin joins the origins
// on the source's health (once per hold, and only for a source polled before), so its view shows the hold even when
// its last poll went elsewhere (a redirect that moved); writes nothing when there is no hold.
const DEFER_REQUEST = redisScript(`
local held = tonumber(redis.call('HGET', KEYS[1], 'notBefore'))
if held == nil then return false end
${REDIS_NOW_MS}
if held <= now then return false end
local skipped = redis.call('HINCRBY', KEYS[1], 'skipped:' .. ARGV[1], 1)
if skipped == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  local origins = redis.call('HGET', KEYS[2], 'origins') or ''
  if not string.find(' ' .. origins .. ' ', ' ' .. ARGV[2] .. ' ', 1, true) then
    if origins ~= '' then origins = origins .. ' ' end
    redis.call('HSET', KEYS[2], 'origins', origins .. ARGV[2])
  end
end
return {string.format('%.0f', held), skipped}`);

const CHUNK = 1000;
const MAX_ERROR_LENGTH = 500;

/**
 * Per-source state in Redis: validators, health (with the not-before time a Retry-After set) and screening snapshots,
 * and the holds on hosts. Keys are `{prefix}:source:<id>:{http|health|screening|screening-meta}`, the index set
 * `{prefix}:sources:health` and `{prefix}:host-hold:<origin>`.
 */
export function createSourceStateStore(redis: Redis, prefix: string, opts: { degradedAfter?: number } = {}): SourceStateStore {
  const degradedAfter = opts.degradedAfter ?? 3;
  const key = (sourceId: string, part: string) => keyFor(prefix, 'source', sourceId, part);
  const index = keyFor(prefix, 'sources', 'health');
  // The origin is readable in the key (no credentials: an origin has no userinfo, path or query), so an operator can
  // find a hold, and lift it by deleting the key.
  const holdKey = (origin: string) => keyFor(prefix, 'host-hold', origin);

  /** The holds (ms, Redis's clock) on the origins the given health records were polled from. */
  async function holdsOf(records: Array<Record<string, string>>): Promise<Map<string, number>> {
    const origins = [...new Set(records.flatMap(originsOf))];
    if (!origins.length) return new Map();
    const pipeline = redis.pipeline();
    for (const origin of origins) pipeline.hget(holdKey(origin), 'notBefore');
    const results = (await pipeline.exec()) ?? [];
    return new Map(origins.flatMap((origin, i) => (results[i]?.[1] ? [[origin, Number(results[i][1])] as [string, number]] : [])));
  }

  async function getHealth(sourceId: string): Promise<SourceHealth | null> {
    const h = (await redis.hgetall(key(sourceId, 'health'))) as Record<string, string>;
    return Object.keys(h).length ? toHealth(sourceId, h, await holdsOf([h])) : null;
  }

  return {
    async getValidators(sourceId, url) {
      const h = (await redis.hgetall(key(sourceId, 'http'))) as Record<string, string>;
      if (h.urlDigest !== urlDigest(url)) return {};
      return { ...(h.etag && { etag: h.etag }), ...(h.lastModified && { lastModified: h.lastModified }) };
    },

    async saveValidators(sourceId, url, validators) {
      const k = key(sourceId, 'http');
      const { etag, lastModified } = validators;
      const tx = redis.multi().del(k);
      if (etag || lastModified) tx.hset(k, { ...(etag && { etag }), ...(lastModified && { lastModified }), urlDigest: urlDigest(url) });
      replyValues(await tx.exec());
    },

    async recordSuccess(sourceId, poll) {
      const recovered = await RECORD_SUCCESS(redis, [key(sourceId, 'health'), index], [
        sourceId,
        poll.at.toISOString(),
        String(poll.items),
        poll.notModified ? '1' : '0',
        String(poll.bytes),
        (poll.origins ?? []).join(' '),
      ]);
      return { becameDegraded: false, recovered: Number(recovered) === 1, consecutiveFailures: 0 };
    },

    async recordFailure(sourceId, error, at, origins = []) {
      const message = redactSecrets(error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
      const code = (error as { code?: unknown })?.code;
      const retryAfterMs = (error as { retryAfterMs?: unknown })?.retryAfterMs;
      const wait = typeof retryAfterMs === 'number' && retryAfterMs > 0 ? String(Math.round(Math.min(retryAfterMs, MAX_NOT_BEFORE_MS))) : '';
      const [n, became] = await RECORD_FAILURE<[number, number]>(redis, [key(sourceId, 'health'), index], [
        sourceId,
        at.toISOString(),
        message,
        typeof code === 'string' ? code : 'UNKNOWN',
        String(degradedAfter),
        wait,
        origins.join(' '),
      ]);
      return { becameDegraded: Number(became) === 1, recovered: false, consecutiveFailures: Number(n) };
    },

    async deferPoll(sourceId) {
      const held = await DEFER_POLL<[string, number] | null>(redis, [key(sourceId, 'health')], []);
      return held ? { notBefore: new Date(Number(held[0])), skipped: Number(held[1]) } : null;
    },

    async holdHost(origin, waitMs) {
      if (!(waitMs > 0)) return;
      await HOLD_HOST(redis, [holdKey(origin)], [String(Math.round(Math.min(waitMs, MAX_NOT_BEFORE_MS))), origin]);
    },

    async deferRequest(sourceId, origin) {
      const held = await DEFER_REQUEST<[string, number] | null>(redis, [holdKey(origin), key(sourceId, 'health')], [sourceId, origin]);
      return held ? { notBefore: new Date(Number(held[0])), skipped: Number(held[1]) } : null;
    },

    getHealth,

    async listHealth() {
      const ids = ((await redis.smembers(index)) as string[]).sort();
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(key(id, 'health'));
      const results = (await pipeline.exec()) ?? [];
      const records = ids.flatMap((id, i) => {
        const h = results[i]?.[1] as Record<string, string> | undefined;
        return h && Object.keys(h).length ? [[id, h] as const] : [];
      });
      const holds = await holdsOf(records.map(([, h]) => h));
      return records.map(([id, h]) => toHealth(id, h, holds));
    },

    async getScreeningSnapshot(sourceId) {
      const [[, meta], [, entries]] = ((await redis.multi().get(key(sourceId, 'screening-meta')).hgetall(key(sourceId, 'screening')).exec()) ??
        []) as Array<[unknown, unknown]>;
      if (meta === null || meta === undefined) return null;
      return new Map(Object.entries((entries ?? {}) as Record<string, string>));
    },

    async updateScreeningSnapshot(sourceId, diff, at) {
      const k = key(sourceId, 'screening');
      const tx = redis.multi();
      const set = [...diff.set];
      for (let i = 0; i < set.length; i += CHUNK) tx.hset(k, Object.fromEntries(set.slice(i, i + CHUNK)));
      for (let i = 0; i < diff.remove.length; i += CHUNK) tx.hdel(k, ...diff.remove.slice(i, i + CHUNK));
      tx.set(key(sourceId, 'screening-meta'), at.toISOString(), 'NX');
      replyValues(await tx.exec());
    },

    async resetScreeningSnapshot(sourceId) {
      const [existed] = replyValues(await redis.multi().exists(key(sourceId, 'screening-meta')).del(key(sourceId, 'screening'), key(sourceId, 'screening-meta'), key(sourceId, 'http')).exec());
      return Number(existed) > 0;
    },
  };
}

/** The URL validators belong to, as a digest: a source's URL may carry an API key, which has no business in Redis. */
function urlDigest(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 32);
}

/** The origins a source's last poll sent requests to (plus a held one that deferred it since). */
function originsOf(h: Record<string, string>): string[] {
  return h.origins ? h.origins.split(' ') : [];
}

/** The later of the source's own hold and its hosts' holds, while ahead (by this worker's clock: display only). */
function heldUntil(h: Record<string, string>, hostHolds: Map<string, number>): { at: number; origin: string | null } | null {
  const now = Date.now();
  let held: { at: number; origin: string | null } | null = h.notBefore && Number(h.notBefore) > now ? { at: Number(h.notBefore), origin: null } : null;
  for (const origin of originsOf(h)) {
    const at = hostHolds.get(origin);
    if (at !== undefined && at > now && (!held || at > held.at)) held = { at, origin };
  }
  return held;
}

function toHealth(sourceId: string, h: Record<string, string>, hostHolds: Map<string, number>): SourceHealth {
  const held = heldUntil(h, hostHolds);
  return {
    sourceId,
    lastPollAt: h.lastPollAt ?? null,
    lastSuccessAt: h.lastSuccessAt ?? null,
    lastErrorAt: h.lastErrorAt ?? null,
    lastError: h.lastError ?? null,
    lastErrorCode: h.lastErrorCode ?? null,
    consecutiveFailures: Number(h.consecutiveFailures ?? 0),
    degraded: h.degraded === '1',
    degradedSince: h.degradedSince ?? null,
    lastItems: Number(h.lastItems ?? 0),
    lastNotModified: h.lastNotModified === '1',
    lastBytes: Number(h.lastBytes ?? 0),
    // A source's own time past is removed by its next poll; a host's hold expires with its key.
    notBefore: held ? new Date(held.at).toISOString() : null,
    holdOrigin: held?.origin ?? null,
  };
}
