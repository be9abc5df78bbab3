import type { Redis } from 'ioredis';
import { deliveryKey } from '../alerts/ids.js';
import type { Dispatch } from '../alerts/routing.js';
import { digestHeldKey, MAX_HELD } from './digests.js';
import { keyFor } from './keys.js';
import { replyValues } from './replies.js';
import { redisScript } from './script.js';

const HOUR_MS = 3_600_000;

/**
 * How the throttle answers when the hour's budget is spent: `deny` (the caller holds the alert for the digest),
 * `search` (reserve the earliest later time the budget allows: the channel has no digest to take the overflow) or
 * `force` (critical: reserve now anyway, so it still counts against the hour).
 */
export type ThrottleMode = 'deny' | 'search' | 'force';

/**
 * Per-channel state of dispatch decisions, shared by every worker:
 * - the throttle: a sliding one-hour window of reserved send times per channel (a sorted set of delivery keys, so
 *   reserving the same delivery twice is a no-op and a retried job is not counted twice);
 * - the decision recorded for each alert version and channel (first writer wins), so a replayed job applies the
 *   same decision instead of deciding again at another time.
 */
export interface DispatchStore {
  /**
   * Reserves a send time for one delivery: `at` if it fits, else per mode. Returns the reserved time or null.
   * `replaces`: delivery keys of earlier versions that this one supersedes if it gets a slot: their reservations still
   * ahead (not sent yet) give way to it; when it gets none, they keep them.
   * `moveFrom`: the delivery gives up the slot it reserved (one in the channel's quiet hours) for one from `at` on;
   * given as the slot's time, only if it still has that one (else a twin run moved it already, and the slot it has is
   * returned as it is), or 'any'.
   */
  reserve(
    channelId: string,
    deliveryKey: string,
    at: number,
    maxPerHour: number,
    mode: ThrottleMode,
    nowMs: number,
    replaces?: string[],
    moveFrom?: number | 'any',
  ): Promise<number | null>;
  /**
   * Records the dispatch unless one is recorded for this alert version and channel, and returns the recorded one.
   * Recording it settles the channel's digest holding of the alert, atomically and only then: held for a digest
   * decision, else released, provided no newer version of the alert is recorded for the channel (an older version
   * decided or recorded late must not take the newer one out of the digest, nor put the alert back). A decision that
   * was recorded already (a replay, a twin run's) changes no holding: it settled it when it was recorded, and a
   * digest may have carried and cleared that holding since. A digest decision for a version the ledger already has
   * delivered to the channel (an older version's job sent it, the alert's current content, before this was decided)
   * releases instead: the digest would send it again.
   */
  record(alertId: string, dispatch: Dispatch): Promise<Dispatch>;
  get(alertId: string, version: number, channelId: string): Promise<Dispatch | undefined>;
  /** Every recorded dispatch of an alert, oldest version first (the API shows them with the deliveries). */
  list(alertId: string): Promise<Dispatch[]>;
  /** `list` of several alerts in one round trip. */
  listMany(alertIds: string[]): Promise<Map<string, Dispatch[]>>;
  /** Gives back a delivery's reservation: it will not be sent (a superseded version's job ended without a send). */
  release(channelId: string, deliveryKey: string): Promise<void>;
  /** Sends reserved in the channel's window from `fromMs` on (for tests and the API). */
  reserved(channelId: string, fromMs: number): Promise<number[]>;
  /** Forgets the channel's reservations: its throttle was taken out (see wakeThrottleWaits). */
  forgetThrottle(channelId: string): Promise<void>;
}

// Every one-hour window [s, s+h-1] (ms) that contains t must hold fewer than n reservations for t to fit. Sliding s
// from t-h+1 to t, the count only grows when the window's end reaches a reservation e in (t, t+h-1], i.e. at
// s = e-h+1; checking s = t-h+1 and those starts is exact.
// ARGV 7: to move the delivery's own reservation ('any', or the time it must still have; '' not to move): taken out
// first, put back if no slot is found; one at another time is returned as it is (a twin run moved it). 8..: reservations
// of the versions this one replaces, those still ahead (not sent yet) taken out before the search and put back if it
// finds no slot (it then goes to the digest and they are still sent).
const RESERVE = redisScript(`
local key, member = KEYS[1], ARGV[1]
local at, n, h, mode, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', now - h))
local replaced = {}
if ARGV[7] ~= '' then
  local own = redis.call('ZSCORE', key, member)
  if own and ARGV[7] ~= 'any' and tonumber(own) ~= tonumber(ARGV[7]) then return own end
  if own then
    replaced[#replaced + 1] = {own, member}
    redis.call('ZREM', key, member)
  end
end
for i = 8, #ARGV do
  local score = redis.call('ZSCORE', key, ARGV[i])
  if score and tonumber(score) > now then
    replaced[#replaced + 1] = {score, ARGV[i]}
    redis.call('ZREM', key, ARGV[i])
  end
end
local existing = redis.call('ZSCORE', key, member)
if existing then return existing end
local function fmt(x) return string.format('%d', x) end
local function fits(t)
  if redis.call('ZCOUNT', key, fmt(t - h + 1), fmt(t)) >= n then return false end
  local ends = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(t), fmt(t + h - 1), 'WITHSCORES')
  for i = 2, #ends, 2 do
    local s = tonumber(ends[i]) - h + 1
    if redis.call('ZCOUNT', key, fmt(s), fmt(s + h - 1)) >= n then return false end
  end
  return true
end
local slot = nil
if mode == 'force' or fits(at) then
  slot = at
elseif mode == 'search' then
  local later = redis.call('ZRANGEBYSCORE', key, '(' .. fmt(at - h), '+inf', 'WITHSCORES')
  local candidates = {}
  for i = 2, #later, 2 do candidates[#candidates + 1] = tonumber(later[i]) + h end
  table.sort(candidates)
  for _, c in ipairs(candidates) do
    if c > at and fits(c) then slot = c; break end
  end
end
if not slot then
  for _, r in ipairs(replaced) do redis.call('ZADD', key, r[1], r[2]) end
  return false
end
redis.call('ZADD', key, fmt(slot), member)
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', key, math.max(1000, tonumber(last[2]) + h - now))
return fmt(slot)
`);

// KEYS: 1 the alert's decisions, 2 the channel's digest holding, 3 this version's delivery ledger entry. ARGV: field,
// decision JSON, retention s, alert id, most entries a holding keeps, version, channel id. Returns the recorded
// decision's JSON. The holding is settled only by the call that records the decision, and only if no newer version of
// the alert is recorded for the channel (fields are "<version>|<channelId>", a handful per alert). Reading the entry
// here, in the step that holds, closes the race with the older job's write that releases (deliveries.ts WRITE_ENTRY):
// whichever runs second sees the other.
const RECORD = redisScript(`
local written = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local recorded = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if written == 0 then return recorded end
local version, suffix = tonumber(ARGV[6]), '|' .. ARGV[7]
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if #field > #suffix and string.sub(field, -#suffix) == suffix and (tonumber(string.sub(field, 1, #field - #suffix)) or 0) > version then
    return recorded
  end
end
local decision = cjson.decode(recorded)
local entry = redis.call('GET', KEYS[3])
local delivered = entry and cjson.decode(entry).status == 'delivered'
if decision.mode == 'digest' and not delivered then
  redis.call('ZADD', KEYS[2], string.format('%.0f', decision.decidedAt), ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
  redis.call('EXPIRE', KEYS[2], ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
end
return recorded
`);

/**
 * Where the delivery ledger keeps one delivery's entry (the delivery store's key, defined here so that recording a
 * decision can read it without the two stores importing each other).
 */
export const ledgerEntryKey = (prefix: string, key: string) => keyFor(prefix, 'delivery', key);

/** Where an alert's decisions are kept; the delivery store reads them with the ledger entry before a send. */
export const decisionsKey = (prefix: string, alertId: string) => keyFor(prefix, 'dispatch', alertId);

/** An alert's recorded decisions as stored (hash values), oldest version first. */
export function parseDecisions(raws: string[]): Dispatch[] {
  return raws.map((raw) => JSON.parse(raw) as Dispatch).sort((a, b) => a.version - b.version || (a.channelId < b.channelId ? -1 : 1));
}

export function createDispatchStore(redis: Redis, prefix: string, retentionSeconds: number): DispatchStore {
  const windowKey = (channelId: string) => keyFor(prefix, 'throttle', channelId);
  const recordKey = (alertId: string) => decisionsKey(prefix, alertId);
  const field = (version: number, channelId: string) => `${version}|${channelId}`;
  const parse = (raw: string | null | undefined) => (raw ? (JSON.parse(raw) as Dispatch) : undefined);

  return {
    async reserve(channelId, deliveryKey, at, maxPerHour, mode, nowMs, replaces = [], moveFrom) {
      const from = moveFrom === undefined ? '' : moveFrom === 'any' ? 'any' : String(Math.round(moveFrom));
      const args = [deliveryKey, String(Math.round(at)), String(maxPerHour), String(HOUR_MS), mode, String(nowMs), from, ...replaces];
      const slot = await RESERVE<string | null>(redis, [windowKey(channelId)], args);
      return slot === null ? null : Number(slot);
    },
    async record(alertId, dispatch) {
      const raw = await RECORD<string>(
        redis,
        [recordKey(alertId), digestHeldKey(prefix, dispatch.channelId), ledgerEntryKey(prefix, deliveryKey(alertId, dispatch.version, dispatch.channelId))],
        [field(dispatch.version, dispatch.channelId), JSON.stringify(dispatch), retentionSeconds, alertId, MAX_HELD, dispatch.version, dispatch.channelId],
      );
      return parse(raw)!;
    },
    async get(alertId, version, channelId) {
      return parse(await redis.hget(recordKey(alertId), field(version, channelId)));
    },
    async list(alertId) {
      return parseDecisions(await redis.hvals(recordKey(alertId)));
    },
    async listMany(alertIds) {
      if (alertIds.length === 0) return new Map();
      const pipeline = redis.pipeline();
      for (const id of alertIds) pipeline.hvals(recordKey(id));
      const values = replyValues(await pipeline.exec()) as string[][];
      return new Map(alertIds.map((id, i) => [id, parseDecisions(values[i]!)]));
    },
    async release(channelId, deliveryKey) {
      await redis.zrem(windowKey(channelId), deliveryKey);
    },
    async reserved(channelId, fromMs) {
      const flat = await redis.zrangebyscore(windowKey(channelId), String(fromMs), '+inf', 'WITHSCORES');
      const out: number[] = [];
      for (let i = 1; i < flat.length; i += 2) out.push(Number(flat[i]));
      return out;
    },
    async forgetThrottle(channelId) {
      await redis.del(windowKey(channelId));
    },
  };
}
