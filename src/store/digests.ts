import type { Redis } from 'ioredis';
import type { Digest } from '../alerts/types.js';
import { keyFor } from './keys.js';
import { REDIS_NOW_MS, redisScript } from './script.js';

/** An alert waiting for a channel's digest, and when it was put there (its latest version's decision time). */
export interface HeldAlert {
  alertId: string;
  heldAt: number;
}

/** What one window's digest carried (or was about to): the held entries it is built from. */
export interface CarriedDigest {
  windowStart: number;
  held: HeldAlert[];
}

/**
 * Alerts held for each channel's next digest: a sorted set per channel (alert id by time held). Only the dispatch store
 * holds and releases alerts, in the script that records a decision (store/dispatch.ts), so that a holding always
 * follows the decision that won the record: a newer version held moves the alert to the newer time,
 * one sent by itself releases it, and an older version or a replayed decision changes nothing. A digest takes what
 * was held up to its window's end; once a send of it reached anyone it carries exactly those entries (carry), so an
 * alert held again while the digest was being sent waits for the next one, and a later window never repeats what an
 * earlier one carried, even while some of its recipients are still deferring it. Bounded by count; alerts past their
 * retention drop out.
 */
export interface DigestStore {
  /** Held up to and including `upToMs`, oldest first. */
  pending(channelId: string, upToMs: number): Promise<HeldAlert[]>;
  /** Removes these entries unless they were held again since: an empty digest's (a sent digest's go with carry). */
  clear(channelId: string, entries: HeldAlert[]): Promise<void>;
  /** End of the last digest window sent (ms), or undefined before the first. */
  lastWindowEnd(channelId: string): Promise<number | undefined>;
  setLastWindowEnd(channelId: string, windowEnd: number): Promise<void>;
  /** What the window's digest carried, if a send of it reached anyone. */
  carried(channelId: string, windowEnd: number): Promise<CarriedDigest | undefined>;
  /**
   * A send of the window's digest reached someone: records what it carried (a record already there is kept: it is
   * what an earlier send carried), takes those entries out of the holding unless held again since, and moves
   * lastWindowEnd up to the window's end, all in one step, so that a crash leaves all of it or none.
   */
  carry(channelId: string, windowEnd: number, carried: CarriedDigest): Promise<void>;
  /**
   * What the window's digest was first about to send, recorded before its first send (the first record wins and is
   * returned): a retry after a send whose carry failed sends and carries exactly that, never an alert held after the
   * first send read the holding. ENDED_UNPLANNED if a run ended the window first with nothing to send: no send of it
   * may go out.
   */
  plan(channelId: string, windowEnd: number, contents: CarriedDigest): Promise<WindowPlan>;
  /** The window's recorded plan, if a send of it was attempted, or ENDED_UNPLANNED. */
  planned(channelId: string, windowEnd: number): Promise<WindowPlan | undefined>;
  /**
   * A run found nothing to send in the window, with no send of it planned: records the window ended in the plan's
   * place, unless a twin run (its job's lock lapsed) recorded its plan first (false: that run may send it). Exclusive
   * with plan(), so that a twin paused before planning cannot send a window whose job this run completes: a recipient
   * deferring that send would never be retried. Kept as long as a run of the job may last (`shownSeconds`).
   */
  endUnplanned(channelId: string, windowEnd: number): Promise<boolean>;
  /**
   * Keeps the digest a send of the window is about to show, one that nobody has yet (it replaces what an earlier send
   * that reached nobody showed): the window's later sends, to recipients that deferred it, show the same message.
   * Kept for SHOWN_SECONDS at most, since a full digest is large; forget() drops it once the window has ended.
   */
  show(channelId: string, windowEnd: number, digest: Digest): Promise<void>;
  /** The digest the window's sends show, while it is kept. */
  shown(channelId: string, windowEnd: number): Promise<Digest | undefined>;
  /** The window has ended (delivered to all, skipped, failed for good): its digest as shown is no longer needed. */
  forget(channelId: string, windowEnd: number): Promise<void>;
  /**
   * A run (`token`, its own) is about to send the window's digest, and the send may land for up to `forMs`: a twin run
   * of the job that finds nothing left must not end the window before that send's outcome is recorded. The mark
   * expires on its own, so a run that died mid-send holds nobody up for longer.
   */
  markSending(channelId: string, windowEnd: number, token: string, forMs: number): Promise<void>;
  /** The send of run `token` is recorded: drops its own mark, never another run's. */
  unmarkSending(channelId: string, windowEnd: number, token: string): Promise<void>;
  /** How long a send of the window may still land (ms on Redis's clock; 0: none in flight). */
  sendingForMs(channelId: string, windowEnd: number): Promise<number>;
}

/**
 * How long a window's digest as shown is kept at most (seconds): the span of a digest job's attempts (about 3.5 hours
 * with the default delivery settings, a day or so with the largest), its pace and rate-limit waits, and an operator's
 * retry of a given-up digest a few days later. It holds every alert listed in full (a 500-alert digest is megabytes),
 * and Redis runs without eviction: it must not stay as long as the ledger. Past it, a send rebuilds the digest from
 * the alerts as stored then.
 */
export const SHOWN_SECONDS = 7 * 86_400;

/** A window's plan: what its first send was about to send, or ENDED_UNPLANNED. */
export type WindowPlan = CarriedDigest | typeof ENDED_UNPLANNED;

/** In a window's plan's place: a run ended the window with nothing to send before any run planned a send of it. */
export const ENDED_UNPLANNED = 'ended-unplanned';

/** More than any digest could show; beyond it the oldest held entries give way. */
export const MAX_HELD = 5_000;

/** The channel's holding; the dispatch store settles it in the script that records a decision. */
export const digestHeldKey = (prefix: string, channelId: string) => keyFor(prefix, 'digest-held', channelId);

const CLEAR = redisScript(`
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
`);

// KEYS: 1 the window's carried record, 2 the channel's holding, 3 its last window end. ARGV: record JSON, retention s,
// window end ms, then alert id, held-at pairs.
const CARRY = redisScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
for i = 4, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then redis.call('ZREM', KEYS[2], ARGV[i]) end
end
if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[3]) then redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[2]) end
return 1
`);

// KEYS: 1 the window's plan. ARGV: record JSON (or the ended marker), retention s. The first record wins (a plan, or
// the window ended unplanned); returns the one kept.
const PLAN = redisScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
return redis.call('GET', KEYS[1])
`);

/**
 * A window's send marks: a sorted set of run token by the ms (Redis's clock) its send may land until, one member per
 * run, so that a later run's mark, or its drop, never hides an earlier run's send still out. A member past its time
 * counts for nothing; the key itself expires with its latest member.
 */
export const digestSendingKey = (prefix: string, channelId: string, windowEnd: number) => keyFor(prefix, 'digest-sending', channelId, windowEnd);

// A mark an earlier version set (one string per window, its TTL the time left) becomes a member, so that a deploy
// meets no WRONGTYPE and loses no send still out.
const LEGACY_MARK = `
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local token, left = redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  if left > 0 then redis.call('ZADD', KEYS[1], now + left, token) end
end`;

// The marks' lasting: drops the members past their time, then keeps the key until its latest member's, or deletes it.
const SETTLE_MARKS = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local latest = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #latest == 0 then return 0 end
local left = tonumber(latest[2]) - now
redis.call('PEXPIRE', KEYS[1], left)
return left`;

// KEYS: 1 the window's send marks. ARGV: the run's token, ms its send may land within. Returns the longest time left.
const MARK = redisScript(`${REDIS_NOW_MS}${LEGACY_MARK}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
${SETTLE_MARKS}
`);

// KEYS: 1 the window's send marks. ARGV: the run's token. Drops that run's mark only; returns the longest time left.
const UNMARK = redisScript(`${REDIS_NOW_MS}${LEGACY_MARK}
redis.call('ZREM', KEYS[1], ARGV[1])
${SETTLE_MARKS}
`);

// KEYS: 1 the window's send marks. Returns the longest time a send may still land (0: none).
const SENDING_FOR = redisScript(`${REDIS_NOW_MS}${LEGACY_MARK}
${SETTLE_MARKS}
`);

/** Alert ids and times only (a digest may carry thousands of alerts): kept as long as the ledger. */
type StoredCarry = { windowStart: number; held: Array<[string, number]> };

/**
 * `retentionSeconds` also keeps a window's carried record and plan as long as the ledger keeps its delivery; its
 * digest as shown, and its ending with nothing planned, are kept `shownSeconds` (SHOWN_SECONDS, never longer than
 * retention).
 */
export function createDigestStore(redis: Redis, prefix: string, retentionSeconds: number, shownSeconds = Math.min(SHOWN_SECONDS, retentionSeconds)): DigestStore {
  const heldKey = (channelId: string) => digestHeldKey(prefix, channelId);
  const lastKey = (channelId: string) => keyFor(prefix, 'digest-last', channelId);
  const carriedKey = (channelId: string, windowEnd: number) => keyFor(prefix, 'digest-carried', channelId, windowEnd);
  const planKey = (channelId: string, windowEnd: number) => keyFor(prefix, 'digest-plan', channelId, windowEnd);
  const shownKey = (channelId: string, windowEnd: number) => keyFor(prefix, 'digest-shown', channelId, windowEnd);
  const sendingKey = (channelId: string, windowEnd: number) => digestSendingKey(prefix, channelId, windowEnd);
  // Only the entries: a plan recorded by the build before this one also kept the digest, which is not read back.
  const stored = (contents: CarriedDigest): string => JSON.stringify({ windowStart: contents.windowStart, held: contents.held.map((h) => [h.alertId, h.heldAt]) });
  const parsed = (raw: string | null): CarriedDigest | undefined => {
    if (!raw) return undefined;
    const record = JSON.parse(raw) as StoredCarry;
    return { windowStart: record.windowStart, held: record.held.map(([alertId, heldAt]) => ({ alertId, heldAt })) };
  };
  const parsedPlan = (raw: string | null): WindowPlan | undefined => (raw === ENDED_UNPLANNED ? ENDED_UNPLANNED : parsed(raw));
  return {
    async pending(channelId, upToMs) {
      const flat = await redis.zrangebyscore(heldKey(channelId), '-inf', String(upToMs), 'WITHSCORES');
      const out: HeldAlert[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ alertId: flat[i], heldAt: Number(flat[i + 1]) });
      return out;
    },
    async clear(channelId, entries) {
      if (entries.length === 0) return;
      await CLEAR(redis, [heldKey(channelId)], entries.flatMap((e) => [e.alertId, String(e.heldAt)]));
    },
    async lastWindowEnd(channelId) {
      const raw = await redis.get(lastKey(channelId));
      return raw ? Number(raw) : undefined;
    },
    async setLastWindowEnd(channelId, windowEnd) {
      // Never move backwards: a late retry of an older window must not reopen a newer one.
      const current = Number((await redis.get(lastKey(channelId))) ?? 0);
      if (windowEnd > current) await redis.set(lastKey(channelId), String(windowEnd), 'EX', retentionSeconds);
    },
    async carried(channelId, windowEnd) {
      return parsed(await redis.get(carriedKey(channelId, windowEnd)));
    },
    async carry(channelId, windowEnd, carried) {
      await CARRY(
        redis,
        [carriedKey(channelId, windowEnd), heldKey(channelId), lastKey(channelId)],
        [stored(carried), retentionSeconds, windowEnd, ...carried.held.flatMap((h) => [h.alertId, String(h.heldAt)])],
      );
    },
    async plan(channelId, windowEnd, contents) {
      return parsedPlan(await PLAN<string>(redis, [planKey(channelId, windowEnd)], [stored(contents), retentionSeconds]))!;
    },
    async planned(channelId, windowEnd) {
      return parsedPlan(await redis.get(planKey(channelId, windowEnd)));
    },
    async endUnplanned(channelId, windowEnd) {
      return (await PLAN<string>(redis, [planKey(channelId, windowEnd)], [ENDED_UNPLANNED, shownSeconds])) === ENDED_UNPLANNED;
    },
    async show(channelId, windowEnd, digest) {
      await redis.set(shownKey(channelId, windowEnd), JSON.stringify(digest), 'EX', shownSeconds);
    },
    async shown(channelId, windowEnd) {
      const raw = await redis.get(shownKey(channelId, windowEnd));
      return raw ? (JSON.parse(raw) as Digest) : undefined;
    },
    async forget(channelId, windowEnd) {
      await redis.del(shownKey(channelId, windowEnd));
    },
    async markSending(channelId, windowEnd, token, forMs) {
      await MARK(redis, [sendingKey(channelId, windowEnd)], [token, Math.max(1, Math.ceil(forMs))]);
    },
    async unmarkSending(channelId, windowEnd, token) {
      await UNMARK(redis, [sendingKey(channelId, windowEnd)], [token]);
    },
    async sendingForMs(channelId, windowEnd) {
      return Math.max(0, Number(await SENDING_FOR(redis, [sendingKey(channelId, windowEnd)], [])));
    },
  };
}
