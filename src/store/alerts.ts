import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Alert } from '../alerts/types.js';
import { LEVELS, levelRank, type Level } from '../scoring/types.js';
import { keyFor } from './keys.js';
import { redisScript } from './script.js';

/** Filters and page of `AlertStore.list`. Times are ISO strings or ms since epoch; they bound `updatedAt`. */
export interface AlertQuery {
  watchlistId?: string;
  /** Exactly this level. */
  level?: Level;
  /** This level or higher. */
  minLevel?: Level;
  since?: string | number | Date;
  until?: string | number | Date;
  /** Page size, 1..500. */
  limit: number;
  /** Opaque; `nextCursor` of the previous page. */
  cursor?: string;
  /**
   * Most alerts read for one page when a level filters them (default SCAN_BUDGET): rare levels otherwise make one
   * request read and parse the whole history. A page cut short by it has fewer alerts and a nextCursor to go on.
   */
  scanBudget?: number;
}

/** Alerts one filtered page reads at most: a few tens of milliseconds of the worker's CPU. */
export const SCAN_BUDGET = 2_000;

export interface AlertPage {
  alerts: Alert[];
  /** Absent on the last page. */
  nextCursor?: string;
}

/**
 * What is left of an alert the count limit deleted (`retention.alertCount`): its last version and level. A later item
 * of its story makes the alert again; it goes on from that version, so the deliveries and decisions recorded for the
 * old versions (kept for `alertDays`) never stand in for the new ones, and it is notified only above that level.
 */
export interface EvictedAlert {
  version: number;
  level: Level;
}

/** An alert as read for an update (undefined: none stored), and what the count limit left of an earlier one. */
export interface StoredAlert {
  readonly alert: Alert | undefined;
  readonly evicted?: EvictedAlert;
}

/** The Redis store's own: the alert as stored, for the compare-and-set. */
class StoredRaw implements StoredAlert {
  readonly alert: Alert | undefined;
  readonly evicted?: EvictedAlert;
  constructor(
    readonly raw: string | null,
    evictedRaw: string | null = null,
  ) {
    this.alert = raw ? (JSON.parse(raw) as Alert) : undefined;
    this.evicted = parseEvicted(evictedRaw);
  }
}

/** "version|level", as TRIM writes it. */
function parseEvicted(raw: string | null): EvictedAlert | undefined {
  if (!raw) return undefined;
  const [version, level] = raw.split('|');
  const number = Number(version);
  return Number.isInteger(number) && number > 0 && LEVELS.includes(level as Level) ? { version: number, level: level as Level } : undefined;
}

/** What an update callback returns: the new alert (or null for no change), the caller's result, item ids folded. */
export interface AlertChange<T> {
  alert: Alert | null;
  result: T;
  /** Item ids to remember as folded into the alert (beyond the refs the alert keeps). */
  items?: string[];
}

/**
 * Alerts in Redis: one JSON value per alert with a TTL (retention by age), a time index over all alerts and one per
 * watchlist (retention by count: alerts pushed out of the global index are deleted), and the set of item ids folded
 * into each alert (so re-processing an item is a no-op even for stories with more items than an alert keeps).
 * An update is a compare-and-set, so replicas updating one alert at once never lose a corroborating source.
 */
export interface AlertStore {
  get(id: string): Promise<Alert | undefined>;
  getMany(ids: string[]): Promise<Alert[]>;
  /** Whether the item was already folded into the alert. */
  hasItem(alertId: string, itemId: string): Promise<boolean>;
  /** The alerts as stored now, for `update` to start from instead of reading each again: one round trip for many. */
  readForUpdate(ids: string[]): Promise<Map<string, StoredAlert>>;
  /**
   * Read-modify-write, atomic across workers: fn gets the alert as stored and returns the new one (or null for no
   * change). The write happens only if the alert is still as fn saw it; otherwise fn runs again on the newer alert,
   * so fn must not have side effects of its own. `stored` (from readForUpdate) saves the first read; if the alert
   * changed since, the write sees it and fn runs again.
   */
  update<T>(id: string, fn: (previous: Alert | undefined, evicted?: EvictedAlert) => Promise<AlertChange<T>>, stored?: StoredAlert): Promise<T>;
  /** Newest activity first (by `updatedAt`), filtered, paginated with a cursor that is stable under inserts. */
  list(query: AlertQuery): Promise<AlertPage>;
  listRecent(limit: number, offset?: number): Promise<Alert[]>;
}

export interface AlertRetention {
  days: number;
  count: number;
}

const MAX_PAGE = 500;

/** Writers racing on one alert settle in a round each; this many means something is badly wrong. */
const MAX_UPDATE_ROUNDS = 50;

// KEYS: 1 alert, 2 time index, 3 watchlist index, 4 the alert's item set, 5 its eviction record. ARGV: SHA-1 of the
// alert as read ('' for none), new alert JSON, ttl s, updated ms, alert id, oldest ms kept by age, then item ids to
// remember. Writes only if the alert is still as read: returns {1, alerts indexed}, else {0, alert now, its eviction
// record now}. One script instead of a lock taken, read, written and released in two transactions: every alerting item
// takes this path, and each queued command of a transaction costs the client as much as a script call.
const WRITE_ALERT = redisScript(`
local current = redis.call('GET', KEYS[1])
if (current and redis.sha1hex(current) or '') ~= ARGV[1] then return {0, current, redis.call('GET', KEYS[5])} end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[6])
redis.call('EXPIRE', KEYS[3], ttl)
if #ARGV > 6 then
  redis.call('SADD', KEYS[4], unpack(ARGV, 7))
  redis.call('EXPIRE', KEYS[4], ttl)
end
return {1, redis.call('ZCARD', KEYS[2])}
`);

// KEYS: 1 the time index, then per alert: the alert, its item set, its watchlist's index (the time index again when
// the alert is gone), its eviction record. ARGV: 1 the eviction record's TTL s, then per alert: id, its score in the
// time index as read, "version|level" as read. Deletes an alert only if its score is still that one: an alert updated
// since the trim read the index is no longer among the oldest.
const TRIM = redisScript(`
local removed = 0
for i = 2, #ARGV, 3 do
  local id, k = ARGV[i], 2 + (i - 2) / 3 * 4
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', KEYS[k], KEYS[k + 1])
    redis.call('ZREM', KEYS[k + 2], id)
    if ARGV[i + 2] ~= '' then redis.call('SET', KEYS[k + 3], ARGV[i + 2], 'EX', ARGV[1]) end
    removed = removed + 1
  end
end
return removed
`);

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** Where an alert is kept; the delivery store reads it with the ledger entry before a send. */
export const alertKeyFor = (prefix: string, id: string) => keyFor(prefix, 'alert', id);

/**
 * `onConflict` is called for every write that found the alert changed since it was read (by another worker, or by an
 * earlier fold of the same job after readForUpdate), after which the update runs again.
 */
export function createAlertStore(redis: Redis, prefix: string, retention: AlertRetention, clock: () => number = Date.now, onConflict?: () => void): AlertStore {
  const alertKey = (id: string) => alertKeyFor(prefix, id);
  const itemsKey = (id: string) => keyFor(prefix, 'alert-items', id);
  const evictedKey = (id: string) => keyFor(prefix, 'alert-evicted', id);
  const indexKey = keyFor(prefix, 'alerts', 'by-time');
  const watchlistIndexKey = (watchlistId: string) => keyFor(prefix, 'alerts', 'by-watchlist', watchlistId);
  const ttl = Math.ceil(retention.days * 86_400);
  const parse = (raw: string | null) => (raw ? (JSON.parse(raw) as Alert) : undefined);

  async function getMany(ids: string[]): Promise<Array<Alert | undefined>> {
    if (ids.length === 0) return [];
    const raws = await redis.mget(ids.map(alertKey));
    return raws.map(parse);
  }

  /** Deletes alerts pushed out of the global index by the count limit, so the count bounds memory too. */
  async function trimByCount(indexed: number): Promise<void> {
    if (indexed <= retention.count) return;
    // Everything but the newest `count`, as the index is now: a count read earlier is stale when several alerts of a
    // job are folded at once, and trimming by it would evict one alert too many.
    const flat = await redis.zrange(indexKey, '0', String(-(retention.count + 1)), 'WITHSCORES');
    if (flat.length === 0) return;
    const evicted: string[] = [];
    const scores: string[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      evicted.push(flat[i]!);
      scores.push(flat[i + 1]!);
    }
    const alerts = await getMany(evicted);
    const keys = [indexKey];
    // Kept as long as the deleted alert's deliveries and decisions are.
    const args: string[] = [String(ttl)];
    evicted.forEach((id, i) => {
      const alert = alerts[i];
      keys.push(alertKey(id), itemsKey(id), alert?.watchlistId ? watchlistIndexKey(alert.watchlistId) : indexKey, evictedKey(id));
      args.push(id, scores[i]!, alert ? `${alert.version}|${alert.level}` : '');
    });
    await TRIM(redis, keys, args);
  }

  return {
    async get(id) {
      return parse(await redis.get(alertKey(id)));
    },
    async getMany(ids) {
      return (await getMany(ids)).filter((a): a is Alert => a !== undefined);
    },
    async hasItem(alertId, itemId) {
      return (await redis.sismember(itemsKey(alertId), itemId)) === 1;
    },
    async readForUpdate(ids) {
      if (ids.length === 0) return new Map();
      // The eviction records in the same round trip: an alert the count limit deleted may come back with any item.
      const raws = await redis.mget([...ids.map(alertKey), ...ids.map(evictedKey)]);
      return new Map(ids.map((id, i) => [id, new StoredRaw(raws[i] ?? null, raws[ids.length + i] ?? null)]));
    },
    async update(id, fn, stored) {
      const read = stored instanceof StoredRaw ? stored : new StoredRaw(...((await redis.mget(alertKey(id), evictedKey(id))) as [string | null, string | null]));
      let { raw, alert: previous, evicted } = read;
      for (let round = 0; round < MAX_UPDATE_ROUNDS; round++) {
        // Writers that keep overtaking each other step apart a little.
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * round));
        const change = await fn(previous, previous ? undefined : evicted);
        if (!change.alert) return change.result;
        const updatedMs = Date.parse(change.alert.updatedAt);
        // Age is measured from the write being made (the pipeline's clock), not from this process's clock.
        const oldest = Math.min(clock(), updatedMs) - ttl * 1000;
        const [written, now, evictedNow] = await WRITE_ALERT<[number, string | number | null, string | null]>(
          redis,
          [alertKey(id), indexKey, watchlistIndexKey(change.alert.watchlistId), itemsKey(id), evictedKey(id)],
          [raw === null ? '' : sha1(raw), JSON.stringify(change.alert), ttl, updatedMs, id, oldest, ...(change.items ?? [])],
        );
        if (written === 1) {
          await trimByCount(Number(now));
          return change.result;
        }
        onConflict?.();
        raw = (now as string | null) ?? null;
        previous = parse(raw);
        // The alert may be gone because the count limit deleted it meanwhile: its record is as fresh as the alert.
        evicted = parseEvicted(evictedNow ?? null);
      }
      throw new Error(`alert ${id} kept changing under ${MAX_UPDATE_ROUNDS} updates`);
    },
    async list(query) {
      const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(query.limit)));
      const key = query.watchlistId ? watchlistIndexKey(query.watchlistId) : indexKey;
      const after = query.cursor ? decodeCursor(query.cursor) : undefined;
      const minMs = query.since === undefined ? '-inf' : String(toMs(query.since));
      let maxMs = query.until === undefined ? '+inf' : String(toMs(query.until));
      if (after && (maxMs === '+inf' || after.score < Number(maxMs))) maxMs = String(after.score);
      const wanted = (alert: Alert) =>
        (!query.level || alert.level === query.level) &&
        (!query.minLevel || levelRank(alert.level) >= levelRank(query.minLevel)) &&
        (!query.watchlistId || alert.watchlistId === query.watchlistId);

      const out: Alert[] = [];
      const batch = Math.max(limit * 2, 50);
      // The time and watchlist filters are the index's; only a level filter makes alerts be read and passed over.
      const budget = query.level || query.minLevel ? Math.max(1, query.scanBudget ?? SCAN_BUDGET) : Number.POSITIVE_INFINITY;
      let examined = 0;
      // Each batch goes on from the last entry read, as a cursor does, not by offset: dropping expired entries and
      // updates moving an alert to the top shift offsets, and a batch read by offset would then pass over live alerts.
      // `position` is the last entry read (or the cursor's); `skip`, how many entries with the top score of the range
      // (maxMs) this request has already read and left in the index.
      let position = after;
      let skip = 0;
      for (;;) {
        const flat = await redis.zrevrangebyscore(key, maxMs, minMs, 'WITHSCORES', 'LIMIT', skip, batch);
        const entries: Array<{ id: string; score: number }> = [];
        for (let i = 0; i < flat.length; i += 2) entries.push({ id: flat[i], score: Number(flat[i + 1]) });
        // Members with the position's score sort in reverse lexicographic order: those >= its id came before.
        const fresh = entries.filter((e) => !(position && e.score === position.score && e.id >= position.id));
        const alerts = await getMany(fresh.map((e) => e.id));
        const gone = new Set(fresh.filter((_, i) => !alerts[i]).map((e) => e.id));
        if (gone.size) await redis.zrem(key, ...gone);
        for (let i = 0; i < fresh.length; i++) {
          const alert = alerts[i];
          const more = () => i < fresh.length - 1 || entries.length === batch;
          if (alert && wanted(alert)) {
            out.push(alert);
            if (out.length === limit) return { alerts: out, nextCursor: more() ? encodeCursor(fresh[i]!) : undefined };
          }
          // Out of budget: the page ends here, and the next one goes on from the last alert read, matched or not.
          if (++examined >= budget) return { alerts: out, nextCursor: more() ? encodeCursor(fresh[i]!) : undefined };
        }
        if (entries.length < batch) return { alerts: out };
        const end = entries.at(-1)!;
        const lastScore = end.score;
        const stillThere = entries.filter((e) => e.score === lastScore && !gone.has(e.id)).length;
        // A run of equal scores longer than a batch: skip what this batch read of it on top of what earlier ones did.
        skip = String(lastScore) === maxMs && entries[0]!.score === lastScore ? skip + stillThere : stillThere;
        maxMs = String(lastScore);
        // A batch the cursor filtered out whole has not reached the cursor's position yet: keep that position.
        if (!position || end.score < position.score || (end.score === position.score && end.id < position.id)) position = end;
      }
    },
    async listRecent(limit, offset = 0) {
      const ids = await redis.zrevrange(indexKey, offset, offset + limit - 1);
      return this.getMany(ids);
    },
  };
}

function toMs(value: string | number | Date): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(value)}`);
  return ms;
}

function encodeCursor(position: { score: number; id: string }): string {
  return Buffer.from(`${position.score}:${position.id}`).toString('base64url');
}

/** Throws RangeError for a cursor this store did not produce (the API turns it into a 400). */
export function decodeCursor(cursor: string): { score: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const colon = text.indexOf(':');
  const score = Number(text.slice(0, colon));
  const id = text.slice(colon + 1);
  if (colon <= 0 || !Number.isFinite(score) || !/^[A-Za-z0-9_-]+$/.test(id)) throw new RangeError('invalid cursor');
  return { score, id };
}

/** The same store in memory, for one-shot runs (`chokepoint scan`): no retention, no locks needed. */
export function createMemoryAlertStore(): AlertStore {
  const alerts = new Map<string, Alert>();
  const items = new Map<string, Set<string>>();
  const newestFirst = () => [...alerts.values()].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : a.id < b.id ? 1 : -1));
  return {
    async get(id) {
      return alerts.get(id);
    },
    async getMany(ids) {
      return ids.map((id) => alerts.get(id)).filter((a): a is Alert => a !== undefined);
    },
    async hasItem(alertId, itemId) {
      return items.get(alertId)?.has(itemId) ?? false;
    },
    async readForUpdate(ids) {
      return new Map(ids.map((id) => [id, { alert: alerts.get(id) }]));
    },
    async update(id, fn) {
      // Nothing is deleted by count here: no eviction record.
      const change = await fn(alerts.get(id));
      if (change.alert) alerts.set(id, change.alert);
      if (change.items?.length) items.set(id, new Set([...(items.get(id) ?? []), ...change.items]));
      return change.result;
    },
    async list(query) {
      const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(query.limit)));
      const since = query.since === undefined ? -Infinity : toMs(query.since);
      const until = query.until === undefined ? Infinity : toMs(query.until);
      const after = query.cursor ? decodeCursor(query.cursor) : undefined;
      const matching = newestFirst().filter((a) => {
        const ms = Date.parse(a.updatedAt);
        return (
          ms >= since &&
          ms <= until &&
          (!query.watchlistId || a.watchlistId === query.watchlistId) &&
          (!query.level || a.level === query.level) &&
          (!query.minLevel || levelRank(a.level) >= levelRank(query.minLevel)) &&
          (!after || ms < after.score || (ms === after.score && a.id < after.id))
        );
      });
      const page = matching.slice(0, limit);
      const last = page.at(-1);
      return { alerts: page, nextCursor: matching.length > limit && last ? encodeCursor({ score: Date.parse(last.updatedAt), id: last.id }) : undefined };
    },
    async listRecent(limit, offset = 0) {
      return newestFirst().slice(offset, offset + limit);
    },
  };
}
