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
   * Until when the source's polls are skipped, because it answered 429 or 503 with a Retry-After; null once that time
   * has passed (or when it never asked). Absent from stores that keep nothing between runs.
   */
  notBefore?: string | null;
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
  recordSuccess(sourceId: string, poll: { items: number; notModified: boolean; bytes: number; at: Date }): Promise<HealthChange>;
  /**
   * Records a failed poll. When the error carries the source's Retry-After (`retryAfterMs`, a 429 or 503), also holds
   * the source's polls back until then (see deferPoll), capped at MAX_NOT_BEFORE_MS.
   */
  recordFailure(sourceId: string, error: unknown, at: Date): Promise<HealthChange>;
  /**
   * Skips this poll (counts it, returns until when) while a Retry-After the source sent is still in force by Redis's
   * clock; null when the poll may fetch. Absent from stores that keep nothing between runs: they have nothing to honour.
   */
  deferPoll?(sourceId: string): Promise<PollDeferral | null>;
  getHealth(sourceId: string): Promise<SourceHealth | null>;
  listHealth(): Promise<SourceHealth[]>;
  /** Entry key -> content hash of the list as last seen; null before the first (baseline) poll. */
  getScreeningSnapshot(sourceId: string): Promise<Map<string, string> | null>;
  /** Applies a diff to the snapshot (and marks the baseline as taken) in one transaction. */
  updateScreeningSnapshot(sourceId: string, diff: { set: Map<string, string>; remove: string[] }, at: Date): Promise<void>;
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

const CHUNK = 1000;
const MAX_ERROR_LENGTH = 500;

/**
 * Per-source state in Redis: validators, health (with the not-before time a Retry-After set) and screening snapshots.
 * Keys are `{prefix}:source:<id>:{http|health|screening|screening-meta}` plus the index set `{prefix}:sources:health`.
 */
export function createSourceStateStore(redis: Redis, prefix: string, opts: { degradedAfter?: number } = {}): SourceStateStore {
  const degradedAfter = opts.degradedAfter ?? 3;
  const key = (sourceId: string, part: string) => keyFor(prefix, 'source', sourceId, part);
  const index = keyFor(prefix, 'sources', 'health');

  async function getHealth(sourceId: string): Promise<SourceHealth | null> {
    const h = (await redis.hgetall(key(sourceId, 'health'))) as Record<string, string>;
    return Object.keys(h).length ? toHealth(sourceId, h) : null;
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
      ]);
      return { becameDegraded: false, recovered: Number(recovered) === 1, consecutiveFailures: 0 };
    },

    async recordFailure(sourceId, error, at) {
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
      ]);
      return { becameDegraded: Number(became) === 1, recovered: false, consecutiveFailures: Number(n) };
    },

    async deferPoll(sourceId) {
      const held = await DEFER_POLL<[string, number] | null>(redis, [key(sourceId, 'health')], []);
      return held ? { notBefore: new Date(Number(held[0])), skipped: Number(held[1]) } : null;
    },

    getHealth,

    async listHealth() {
      const ids = ((await redis.smembers(index)) as string[]).sort();
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(key(id, 'health'));
      const results = (await pipeline.exec()) ?? [];
      return ids.flatMap((id, i) => {
        const h = results[i]?.[1] as Record<string, string> | undefined;
        return h && Object.keys(h).length ? [toHealth(id, h)] : [];
      });
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
  };
}

/** The URL validators belong to, as a digest: a source's URL may carry an API key, which has no business in Redis. */
function urlDigest(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 32);
}

/** A MULTI reports each command's error in its result instead of rejecting. */
function toHealth(sourceId: string, h: Record<string, string>): SourceHealth {
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
    // Shown while ahead (by this worker's clock: display only); a time past is removed by the source's next poll.
    notBefore: h.notBefore && Number(h.notBefore) > Date.now() ? new Date(Number(h.notBefore)).toISOString() : null,
  };
}
