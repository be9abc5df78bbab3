import type { Redis } from 'ioredis';
import type { Alert } from '../alerts/types.js';
import type { Dispatch } from '../alerts/routing.js';
import type { RateLimit } from '../config/schema.js';
import type { RecipientStatus } from '../notifiers/types.js';
import { alertKeyFor } from './alerts.js';
import { digestHeldKey, digestSendingKey, MAX_HELD } from './digests.js';
import { decisionsKey, ledgerEntryKey, parseDecisions } from './dispatch.js';
import { keyFor } from './keys.js';
import { REDIS_NOW_MS, redisScript } from './script.js';

/** skipped: ended without a send of its own (a digest window whose alerts a later window's digest sent). */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'rate-limited' | 'skipped';

/** One notification of one alert version (or one digest) to one channel. */
export interface Delivery {
  /** alertId-version-channelId, or digest-channelId-windowEnd. */
  key: string;
  alertId?: string;
  version?: number;
  channelId: string;
  status: DeliveryStatus;
  /** Sends that got an answer other than 429 (or no answer): the failed ones and the one that succeeded. */
  attempts: number;
  /**
   * 429 answers this notification itself got, bounded by settings.delivery.maxRateLimitWaits. Counted anew after a
   * failed verdict, so an operator's retry gets the full allowance again.
   */
  rateLimited?: number;
  lastError?: string;
  errorKind?: string;
  response?: string;
  deliveredAt?: string;
  updatedAt: string;
  refs?: Record<string, string>;
  /**
   * Email: where each recipient stands after the sends so far. Kept through a failed verdict, so that a retry sends
   * only to the channel's recipients not settled here; a delivered entry names here (and in its response) the
   * recipients that refused for good. A recipient a reload removed from the channel stays as it was (a deferred one
   * then does not keep the delivery open).
   */
  recipients?: Record<string, RecipientStatus>;
  /**
   * The alert version whose content the recipients that accepted got, when not this entry's own: an older version's
   * job sends the alert's current content. 'mixed': some got one version, some another.
   */
  sentVersion?: number | 'mixed';
}

/** The outcome of one attempt, as recordAttempt writes it on top of the entry. */
export interface AttemptOutcome {
  status: DeliveryStatus;
  error?: string;
  errorKind?: string;
  response?: string;
  refs?: Record<string, string>;
  /** Every recipient the channel has now and where this send left it; merged into the entry's (see mergeRecipients). */
  recipients?: Record<string, RecipientStatus>;
  /** The alert version whose content the send carried (see Delivery.sentVersion); absent: the entry's own. */
  sentVersion?: number;
  at: Date;
}

/**
 * The delivery ledger: read before sending, written after every attempt. A delivered entry makes a retried or
 * duplicated notify job a no-op. Entries expire after the retention; failed ones are also indexed for listing.
 */
export interface DeliveryStore {
  get(key: string): Promise<Delivery | undefined>;
  /** The entry and the entry exactly as stored: a precondition for a later write that must not build on a twin's. */
  read(key: string): Promise<{ existing?: Delivery; entryAsRead: LedgerRead }>;
  /**
   * What a send needs to know, in one round trip: the ledger entry, the channel's 429 block, the refs of earlier
   * deliveries of this alert to this channel (for threading follow-ups), the alert and its dispatch decisions.
   * `unpaced`: the channel has no pace now; a slot the delivery still holds from when it had one is given up.
   */
  beforeSend(key: string, alertId: string, channelId: string, unpaced?: boolean): Promise<BeforeSend>;
  /**
   * Records the outcome of an attempt on top of the entry as it is now. `readBefore` (from beforeSend) saves reading
   * the entry again when nothing changed it since; a twin run that did change it is seen by the write, which then
   * builds on the newer entry (unless options.ifUnchanged). A digest window's entry that a recipient accepted is never
   * turned skipped (the entry is returned as it is): its deferred recipients are still owed that message. Nor is a
   * notification's skipped entry turned pending, rate-limited or failed (see endedUnsent): the recipients such a write
   * reports are merged in, its status kept. A delivered outcome landing on it also takes the alert out of the channel's
   * digest holding, as options.releaseDigestHold does.
   */
  recordAttempt(key: string, base: Omit<Delivery, 'status' | 'attempts' | 'updatedAt' | 'key'>, outcome: AttemptOutcome, readBefore?: LedgerRead, options?: RecordOptions): Promise<Delivery>;
  listFailed(limit?: number, offset?: number): Promise<Delivery[]>;
  /** Per-channel "do not send before" time after a 429 (ms on Redis's clock), shared by all workers; 0 when none. */
  blockedUntil(channelId: string): Promise<number>;
  /** How long the channel's 429 block still runs, measured on Redis's clock (0 when none): safe to add to any worker's now. */
  blockedForMs(channelId: string): Promise<number>;
  /**
   * Blocks the channel for delayMs from now on Redis's clock (the clock the pace script compares the block with), as a
   * receiver's Retry-After asks; atomically, and a block already ending later, or sooner by at most BLOCK_MERGE_MS and
   * less than one interval of the channel's pace `rate` (simultaneous 429s), is kept. Returns the block end in force.
   */
  blockChannelFor(channelId: string, delayMs: number, rate?: RateLimit): Promise<number>;
  /** Blocks the channel until untilMs on Redis's clock (an operator's or a test's fixed end); as blockChannelFor. */
  blockChannel(channelId: string, untilMs: number, rate?: RateLimit): Promise<void>;
  /**
   * A paced channel's turn for one delivery (`key`: its ledger key), shared by every worker: 0 to send now, else how
   * many ms to wait for the slot reserved for it. Asking again for a slot still ahead returns the same slot; one that
   * has come is used up by the answer 0, however late. A slot a later 429 block overran is replaced. An `urgent`
   * delivery (a critical alert) that would wait takes the earliest slot ahead held by a non-urgent one; that one and
   * the non-urgent ones after it, up to MAX_ROTATED, move back one slot each, in order, the last taking the urgent
   * one's slot (behind any further back): the same slots change hands, so the channel never gets more than its rate.
   */
  reserveSlot(channelId: string, key: string, rate: RateLimit, urgent?: boolean): Promise<number>;
  /** reserveSlot, also telling whether the slot was given by this call (a first wait) or was the delivery's already. */
  paceTurn(channelId: string, key: string, rate: RateLimit, urgent?: boolean): Promise<PaceTurn>;
  /**
   * The delivery will not send in its slot (a routine one whose slot fell in its channel's quiet hours): it forgets the
   * slot, and takes a new one of the pace when it asks again. Its place among the channel's waiting deliveries stays
   * held, so that a critical alert still takes it (and moves it back) as it would have: no slot is ever given to two
   * deliveries, and at worst a place nobody uses is a pause in the pace. Its wait was counted in the metrics when it
   * parked, so the new slot's is not (see PaceTurn.fresh). Kept `forMs`, until it asks again. `untilMs`: the moment
   * (pipeline clock) it waits for, which beforeSend reports (BeforeSend.parkedUntil), so that a job woken before then
   * can wait again without asking for a slot.
   */
  parkSlot(key: string, forMs: number, untilMs: number, inQuietHours?: boolean): Promise<void>;
  /** Whether the delivery's slot key marks it parked (see parkSlot): it waits for the end of quiet hours. */
  isParked(key: string): Promise<boolean>;
  /**
   * Whether the delivery holds a slot of its channel's pace that it has not taken yet: it waits for it. A delivery gives
   * its slot up when it takes its turn, so one waiting for a retry's backoff holds none, nor does a parked one.
   */
  holdsSlot(key: string): Promise<boolean>;
  /** Forgets a channel's pace state (its next free moment, its held slots): it has no pace any more. */
  forgetPace(channelId: string): Promise<void>;
  /**
   * Gives up a slot of the pace the delivery still holds (a moment, not a parked marker) on a channel unpaced now, as
   * beforeSend does for a notification: a digest's retry backoff then holds none, and a reload's wake leaves it.
   */
  giveUpSlot(key: string, channelId: string): Promise<void>;
  /** Forgets a parked delivery's marker: it passed the moment it waited for, on a channel with no pace to hold its place in. */
  unpark(key: string): Promise<void>;
  /**
   * A routine notification due in its channel's quiet hours, on a channel that defers them to its digest: holds the
   * alert for the channel's next digest and ends the delivery skipped (`why` its response) in one step, and forgets its
   * slot (its place stays, as a parked one's). See DigestHold.
   */
  holdForDigest(key: string, base: Required<Pick<Delivery, 'alertId' | 'version' | 'channelId'>>, why: string, at: Date): Promise<DigestHold>;
  listForAlert(alertId: string): Promise<Delivery[]>;
  clearFailed(key: string): Promise<void>;
  /** Undoes clearFailed: the entry back on the failed list at its verdict time (the entry itself is unchanged). */
  relistFailed(key: string, atMs: number): Promise<void>;
}

export interface RecordOptions {
  /**
   * A delivered alert version sent by an older version's job: also takes the alert out of the channel's digest holding
   * in the same step, unless a version newer than this one was decided for the channel since (its holding is its own).
   * The digest would otherwise send the receiver the same content again. Implied when the outcome lands on a
   * notification's skipped entry (a twin held it for the digest while this run was sending it).
   */
  releaseDigestHold?: boolean;
  /**
   * Write only if the entry is still as `readBefore` read it; otherwise write nothing and throw LedgerChangedError. For
   * a decision taken from that read (ending a window unsent) that a twin run's write since would make wrong.
   */
  ifUnchanged?: boolean;
  /**
   * A digest window's end (of base.channelId): write nothing while a run's mark of a send of that window is live
   * (DigestStore.markSending), and throw SendMarkedError. Checked in the write's own step: a decision to end the window
   * unsent, taken before a run marked its send, cannot land after that run has read the entry again and sent.
   */
  unlessSending?: number;
}

/** A conditional ledger write (RecordOptions.ifUnchanged) found the entry changed since it was read. */
export class LedgerChangedError extends Error {
  constructor(readonly key: string) {
    super(`delivery ledger entry ${key} changed since it was read`);
    this.name = 'LedgerChangedError';
  }
}

/** A ledger write asked to wait out a digest window's sends (RecordOptions.unlessSending) found one live. */
export class SendMarkedError extends Error {
  constructor(
    readonly key: string,
    /** How long the latest live mark still runs (ms). */
    readonly forMs: number,
  ) {
    super(`a send of ${key} is marked in flight: its ledger entry was not written`);
    this.name = 'SendMarkedError';
  }
}

/**
 * What holdForDigest did. 'held'. 'superseded': ended skipped, not held: a newer version of the alert was decided for
 * the channel's digest, which sends that version's content (the only one the store keeps). Nothing done, and nothing to
 * do: 'ended', it ended without a send already (a twin held it, and a digest may have carried it since: holding it
 * again would send it twice); 'delivered', a twin delivered it. Nothing done, to be sent by itself: 'reached', some
 * recipients have it (the rest get it by itself); 'newer', a newer version is decided for the channel to be sent by
 * itself (this one then finds itself superseded when it runs).
 */
export type DigestHold = 'held' | 'superseded' | 'ended' | 'delivered' | 'reached' | 'newer';

/** A paced delivery's turn: ms to wait (0: send now), and whether this call gave it the slot it waits for. */
export interface PaceTurn {
  waitMs: number;
  fresh: boolean;
}

export interface BeforeSend {
  existing?: Delivery;
  /** The channel's 429 block end, on Redis's clock (0: none). */
  blockedUntil: number;
  /**
   * How long that block still runs, on Redis's clock; absent when it is over. A worker adds it to its own now: its
   * clock may differ from Redis's, the length of a wait does not.
   */
  blockedForMs?: number;
  refs: Record<string, string>;
  entryAsRead: LedgerRead;
  alert?: Alert;
  /** The alert's recorded dispatch decisions, oldest version first. */
  decisions: Dispatch[];
  /** Present (true) when the alert waits in the channel's digest holding. */
  heldForDigest?: true;
  /**
   * Present when the delivery is parked (see DeliveryStore.parkSlot): `untilMs`, the moment it waits for on the
   * pipeline's clock; absent from an older worker's marker, which has none.
   */
  parked?: { untilMs?: number; inQuietHours?: true };
}

// KEYS: the delivery's slot, the channel's held slots. ARGV: the delivery key. A parked marker is no slot: it stays.
const GIVE_UP_SLOT = redisScript(`
if tonumber(redis.call('GET', KEYS[1]) or '') then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 0
`);

// KEYS: 1 entry, 2 channel block, 3 refs hash, 4 alert, 5 the alert's decisions, 6 the channel's digest holding, 7 the
// delivery's slot, 8 the channel's held slots. ARGV: alert id; '1' when the channel is unpaced now; the delivery key.
// One script, not a pipeline of seven: this runs for every notification, and each command costs the client more than
// the script does. The block also comes back as the ms it still runs on Redis's clock, which a worker with a wrong
// clock can still use. On a channel unpaced now, a slot the delivery still held (the channel was paced when it took it)
// is given up, as a paced turn gives it up: a retry's backoff then holds none, which a reload's wake relies on.
const BEFORE_SEND = redisScript(`${REDIS_NOW_MS}
local block = redis.call('GET', KEYS[2]) or '0'
local slot = redis.call('GET', KEYS[7]) or ''
if ARGV[2] == '1' and tonumber(slot) then
  redis.call('DEL', KEYS[7])
  redis.call('ZREM', KEYS[8], ARGV[3])
  slot = ''
end
return {redis.call('GET', KEYS[1]) or '', block, redis.call('HGETALL', KEYS[3]),
  redis.call('GET', KEYS[4]) or '', redis.call('HVALS', KEYS[5]), math.max(0, tonumber(block) - now),
  redis.call('ZSCORE', KEYS[6], ARGV[1]) and 1 or 0, slot}
`);

// KEYS: 1 channel block. The time left as BEFORE_SEND reads it: from the stored end on Redis's clock, so that a block
// without a TTL (set by hand) holds digests exactly as it holds notifications.
const BLOCK_LEFT = redisScript(`${REDIS_NOW_MS}
return math.max(0, tonumber(redis.call('GET', KEYS[1]) or '0') - now)
`);

/** A ledger entry exactly as stored (null: none), as a precondition for recordAttempt. */
export type LedgerRead = { readonly raw: string | null };

// KEYS: 1 entry, 2 failed index, 3 the alert's delivery set (or the entry again when no alert), 4 the refs hash, 5 the
// channel's digest holding, 6 the alert's decisions (both the entry again when not released), 7 (only when given: its
// presence is the flag) a digest window's send marks (store/digests.ts): while one is live (its time on Redis's clock
// still ahead), nothing is written and {2, ms it still runs} comes back. In the write's own step, so that a run marking
// its send either is seen here or, having marked, sees this write when it reads the entry again.
// ARGV: entry as read ('' for none), new entry JSON, retention s, failed ('1'/'0'), at ms, delivery key, alert ('1'/'0'),
// release the digest holding ('1'/'0'), alert id, channel id, version, then refs as field, value pairs. Writes only if
// the entry is still as read: returns {1}, else {0, entry now}. The release is in the same step as the write: a crash
// cannot leave the version recorded delivered and still held for the digest (which would send it again).
const WRITE_ENTRY = redisScript(`
if #KEYS > 6 then
  local redisTime = redis.call('TIME')
  local now = tonumber(redisTime[1]) * 1000 + math.floor(tonumber(redisTime[2]) / 1000)
  local latest
  if redis.call('TYPE', KEYS[7]).ok == 'string' then
    -- A mark an earlier version set: one string, its TTL the time left.
    local left = redis.call('PTTL', KEYS[7])
    if left > 0 then latest = now + left end
  else
    local top = redis.call('ZREVRANGEBYSCORE', KEYS[7], '+inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, 1)
    if #top > 0 then latest = tonumber(top[2]) end
  end
  if latest then return {2, latest - now} end
end
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return {0, current} end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
if ARGV[4] == '1' then redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6]) else redis.call('ZREM', KEYS[2], ARGV[6]) end
if ARGV[7] == '1' then
  redis.call('SADD', KEYS[3], ARGV[6])
  redis.call('EXPIRE', KEYS[3], ttl)
  if #ARGV > 11 then
    redis.call('HSET', KEYS[4], unpack(ARGV, 12))
    redis.call('EXPIRE', KEYS[4], ttl)
  end
end
if ARGV[8] == '1' then
  -- A newer version decided for the channel owns the holding (fields are "<version>|<channelId>").
  local version, suffix = tonumber(ARGV[11]), '|' .. ARGV[10]
  local newer = false
  for _, field in ipairs(redis.call('HKEYS', KEYS[6])) do
    if #field > #suffix and string.sub(field, -#suffix) == suffix and (tonumber(string.sub(field, 1, #field - #suffix)) or 0) > version then
      newer = true
      break
    end
  end
  if not newer then redis.call('ZREM', KEYS[5], ARGV[9]) end
end
-- Bound the failed index even if nobody ever looks at it.
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -10001)
return {1}
`);

// KEYS: 1 entry, 2 failed index, 3 the alert's delivery set, 4 the channel's digest holding, 5 the alert's decisions, 6
// the delivery's slot. ARGV: entry as read ('' for none), held entry JSON, retention s, delivery key, alert id, version,
// channel id, held at ms, most entries a holding keeps, superseded entry JSON. Returns {1} held, {0, entry now} if the
// entry changed since it was read, {2} if a newer version is decided for the channel to be sent by itself, {3} if the
// newer versions decided for it all go to the digest (the entry ends superseded, the holding is theirs). Fields are
// "<version>|<channelId>", as WRITE_ENTRY reads them; values the decisions' JSON. The entry and the holding in one step:
// a crash cannot leave the alert held and the delivery still to send by itself (both), nor skipped and not held
// (neither).
const HOLD_FOR_DIGEST = redisScript(`
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return {0, current} end
local version, suffix = tonumber(ARGV[6]), '|' .. ARGV[7]
local digested = false
local decisions = redis.call('HGETALL', KEYS[5])
for i = 1, #decisions, 2 do
  local field = decisions[i]
  if #field > #suffix and string.sub(field, -#suffix) == suffix and (tonumber(string.sub(field, 1, #field - #suffix)) or 0) > version then
    local ok, decided = pcall(cjson.decode, decisions[i + 1])
    if not ok or type(decided) ~= 'table' or decided.mode ~= 'digest' then return {2} end
    digested = true
  end
end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], digested and ARGV[10] or ARGV[2], 'EX', ttl)
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('DEL', KEYS[6])
if digested then return {3} end
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[5])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[9]) + 1))
redis.call('EXPIRE', KEYS[4], ttl)
return {1}
`);

// KEYS: 1 channel block. ARGV: until ms, or '' and a delay ms from now, merge ms. The end and its TTL are on Redis's
// clock, the one RESERVE_SLOT compares the block with: a worker's clock running ahead or behind would make the block
// too long or too short (or already over). Two workers' 429s may arrive together: the later block wins whatever the
// order, which a read then a write could not promise, except that one ending at most `merge` ms after the block in
// force is the same block (simultaneous 429s, answered ms apart): kept as it is, a slot given at its end stays good
// (RESERVE_SLOT replaces any slot a block overran). Returns the block end in force (0: none).
const EXTEND_BLOCK = redisScript(`${REDIS_NOW_MS}
local untilMs = ARGV[1] ~= '' and tonumber(ARGV[1]) or now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untilMs - tonumber(ARGV[3]) or untilMs <= now then return current end
redis.call('SET', KEYS[1], untilMs, 'PX', untilMs - now)
return untilMs
`);

/**
 * How far apart two 429 blocks may end and be taken as one (simultaneous 429s, each measured from its own answer):
 * the receiver gets its next message at most this much before the later one asked.
 */
const BLOCK_MERGE_MS = 100;

/**
 * The merge for a channel paced at `rate`: at most one interval, so that at most the one send due first after the
 * block comes before the end the later 429 asked for (at 3000/min, 100 ms would let five through). An unpaced channel
 * has no slots a merge could keep: the later end always wins.
 */
function blockMergeMs(rate: RateLimit | undefined): number {
  return rate ? Math.min(BLOCK_MERGE_MS, paceIntervalMs(rate)) : 0;
}

/**
 * A parked delivery's slot key (see DeliveryStore.parkSlot): the marker, then ':' and the moment it waits for, and
 * ':quiet' after it where that moment is inside the quiet hours. An older worker's marker is the bare word: it still
 * marks the delivery parked for the pace, with no moment to report.
 */
const PARKED = 'parked';

/** Whether a slot key as stored marks its delivery parked, and the moment it waits for if the marker says one. */
function parkedAs(slot: string): BeforeSend['parked'] {
  if (slot === PARKED) return {};
  if (!slot.startsWith(`${PARKED}:`)) return undefined;
  const [at, quiet] = slot.slice(PARKED.length + 1).split(':');
  const until = Number(at);
  if (!Number.isFinite(until)) return {};
  return quiet === IN_QUIET_HOURS ? { untilMs: until, inQuietHours: true } : { untilMs: until };
}

/** Ends a parked marker whose moment is inside the quiet hours (a backlog past two weeks of them: see Dispatch). */
const IN_QUIET_HOURS = 'quiet';

/** The most waiting routine deliveries an urgent one moves back a slot (the work and the wakes it costs are bounded). */
export const MAX_ROTATED = 50;

// KEYS: 1 the channel's pace (GCRA theoretical arrival time, ms), 2 the channel's 429 block, 3 this delivery's slot,
// 4 the channel's slots held by non-urgent deliveries (sorted set: delivery key by slot).
// ARGV: interval ms, burst, most routine deliveries rotated, urgent ('1'/'0'), this delivery's key. Returns {ms to
// wait (0: send now), 1 if this call gave the delivery a slot it had none of (its first wait: the metrics count a
// wait once, not per wake)}.
// GCRA as next-slot reservation: each caller is handed its own slot, so N waiting deliveries wake once each, one
// interval apart, instead of all waking and contending again. The pace is kept on Redis's clock (TIME), so worker
// clock skew cannot let two workers both think the channel is free. A slot is the delivery's for good: one woken late
// (workers busy, a delayed job promoted behind others) still sends, since its place is already counted in the pace;
// handing it a new slot at the back would starve a busy channel's oldest deliveries. Only a 429 block that came
// after the slot was given and ends after it replaces it with one after the block, with no burst: the receiver has
// just said it had enough. Waiting a slot out to the block end instead would put it less than an interval before the
// next slot (simultaneous 429s are one block: see EXTEND_BLOCK). A slot key outlives its slot by an hour, so a
// delivery woken late still finds it.
// An urgent delivery (a critical alert) that would have to wait takes the earliest slot still ahead held by a
// non-urgent delivery; that one and the non-urgent ones after it, up to ARGV[3] of them, move back one slot each, in
// their order (a rotation), the last of them getting the slot the pace gave the urgent delivery (behind the ones
// further back, which keep theirs). Each learns of its new slot from its score in KEYS[4] when it wakes (at its old
// slot: one wake more, for an interval's wait). Slots change hands, none is added: the pace holds whatever the levels.
const RESERVE_SLOT = redisScript(`${REDIS_NOW_MS}
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local member = ARGV[5]
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
local raw = redis.call('GET', KEYS[3]) or ''
local held = tonumber(raw)
local queued = tonumber(redis.call('ZSCORE', KEYS[4], member) or '')
if held and queued and queued ~= held then
  -- An urgent delivery moved this one back a slot (see below).
  held = queued
  redis.call('SET', KEYS[3], held, 'PX', math.max(1, held - now) + 3600000)
end
if held and held >= blocked then
  -- A few ms early (another worker's clock promoted the job) is due: waking again for them would cost a job run.
  if held > now + 10 then return {held - now, 0} end
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], member)
  return {0, 0}
end
-- A parked delivery (see parkSlot) was counted when it parked: its new slot is not fresh.
local fresh = (held or string.sub(raw, 1, ${PARKED.length}) == '${PARKED}') and 0 or 1
redis.call('ZREM', KEYS[4], member)
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
if blocked > now then tat = math.max(tat, blocked + tolerance) end
local slot = math.max(now, tat - tolerance)
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', tat - now)
if slot <= now then
  redis.call('DEL', KEYS[3])
  return {0, fresh}
end
if ARGV[4] == '1' then
  local ahead = redis.call('ZRANGEBYSCORE', KEYS[4], math.max(now + 1, blocked), '(' .. slot, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
  local n = #ahead / 2
  if n > 0 then
    for i = 1, n do redis.call('ZADD', KEYS[4], i < n and ahead[2 * i + 2] or slot, ahead[2 * i - 1]) end
    slot = tonumber(ahead[2])
  end
else
  redis.call('ZADD', KEYS[4], slot, member)
end
-- Entries live as long as the slot keys they stand for (an hour past the slot).
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 3600000)
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('PEXPIRE', KEYS[4], tat - now + 3600000) end
redis.call('SET', KEYS[3], slot, 'PX', slot - now + 3600000)
return {slot - now, fresh}
`);

/** Ms between two sends at the rate; rounded up, so the pace never exceeds the rate. */
function paceIntervalMs(rate: RateLimit): number {
  return Math.ceil(60_000 / rate.perMinute);
}

const RECIPIENT_RANK: Record<RecipientStatus, number> = { deferred: 0, refused: 1, accepted: 2 };

/**
 * The recipients after a send: every one known before and every one the send reports, each at the higher of the two
 * reports. A twin run may report deferred a recipient the other run reached: accepted stays. One the send does not
 * report (a reload removed it from the channel) is kept as it was: should a reload bring it back, one that has the
 * message is not sent it again.
 */
function mergeRecipients(previous: Record<string, RecipientStatus> | undefined, reported: Record<string, RecipientStatus>): Record<string, RecipientStatus> {
  const merged: Record<string, RecipientStatus> = { ...previous };
  for (const [address, status] of Object.entries(reported)) {
    const before = previous?.[address];
    merged[address] = before && RECIPIENT_RANK[before] > RECIPIENT_RANK[status] ? before : status;
  }
  return merged;
}

/**
 * Done: every recipient the send reports (the channel's now) has the message or refused it for good, and at least one
 * has it. One removed from the channel does not hold the delivery open.
 */
function reachedAll(recipients: Record<string, RecipientStatus>, reported: Record<string, RecipientStatus>): boolean {
  const statuses = Object.keys(reported).map((address) => recipients[address]);
  return statuses.includes('accepted') && !statuses.includes('deferred');
}

/**
 * The content version the entry's accepted recipients have after a send: the send's, if it reached someone new and
 * nobody had anything before, or everyone before had that same version; 'mixed' if they had another; else unchanged.
 */
function versionSent(previous: Delivery | undefined, outcome: AttemptOutcome, ownVersion: number | undefined): number | 'mixed' | undefined {
  const before = previous?.sentVersion ?? ownVersion;
  if (outcome.sentVersion === undefined || !outcome.recipients) return before;
  const had = (address: string) => previous?.recipients?.[address] === 'accepted';
  const reachedNew = Object.entries(outcome.recipients).some(([address, status]) => status === 'accepted' && !had(address));
  if (!reachedNew) return before;
  const anyBefore = Object.values(previous?.recipients ?? {}).includes('accepted');
  return !anyBefore || before === outcome.sentVersion ? outcome.sentVersion : 'mixed';
}

/**
 * A notification that ended without a send of its own (skipped: held for the digest, or superseded) stays so against a
 * later failure, 429 or retry written on top (a twin's, a give-up after a stall): listed failed, an operator's retry
 * would send it by itself while the digest holding still has it. Who a twin's send reached is still kept (see
 * withReported). A delivered outcome still lands (a twin did send it: the ledger must say so), and takes the alert out
 * of the digest holding. A digest window's skipped entry is not final: its rules are its own (pipeline/digest-window.ts).
 */
function endedUnsent(previous: Delivery | undefined, base: { alertId?: string }, outcome: AttemptOutcome): boolean {
  return previous?.status === 'skipped' && base.alertId !== undefined && outcome.status !== 'delivered' && outcome.status !== 'skipped';
}

/** The entry an attempt's outcome leaves, built on the entry as it is now (see DeliveryStore.recordAttempt). */
function nextEntry(key: string, base: Omit<Delivery, 'status' | 'attempts' | 'updatedAt' | 'key'>, previous: Delivery | undefined, outcome: AttemptOutcome): Delivery {
  const rateLimited = (previous?.status === 'failed' ? 0 : (previous?.rateLimited ?? 0)) + (outcome.status === 'rate-limited' ? 1 : 0);
  const recipients = outcome.recipients ? mergeRecipients(previous?.recipients, outcome.recipients) : previous?.recipients;
  // A send that left some recipients deferred is done after all if a twin reached them meanwhile.
  const status = outcome.status === 'pending' && outcome.recipients && reachedAll(recipients!, outcome.recipients) ? 'delivered' : outcome.status;
  const delivery: Delivery = {
    ...base,
    key,
    status,
    // A send is counted once, by its outcome (pending = failed but will retry, delivered). "failed" is the verdict on
    // the last send, already counted, and a 429 costs no attempt.
    attempts: (previous?.attempts ?? 0) + (outcome.status === 'pending' || outcome.status === 'delivered' ? 1 : 0),
    ...(rateLimited > 0 && { rateLimited }),
    lastError: status === 'delivered' ? undefined : (outcome.error ?? previous?.lastError),
    errorKind: status === 'delivered' ? undefined : outcome.errorKind,
    response: outcome.response ?? previous?.response,
    deliveredAt: status === 'delivered' ? outcome.at.toISOString() : previous?.deliveredAt,
    updatedAt: outcome.at.toISOString(),
    refs: outcome.refs ?? previous?.refs,
    ...(recipients && { recipients }),
  };
  const sentVersion = versionSent(previous, outcome, base.version);
  if (sentVersion !== undefined && sentVersion !== base.version) delivery.sentVersion = sentVersion;
  return delivery;
}

/**
 * A notification's skipped entry (see endedUnsent) with the recipients a twin's send reports merged in, its status
 * kept: one that has the message must stay known as having it (a re-run would give back the throttle count of a send
 * that reached someone, an operator's retry send it again). The entry itself when the report adds nothing.
 */
function withReported(previous: Delivery, base: { version?: number }, outcome: AttemptOutcome): Delivery {
  const recipients = mergeRecipients(previous.recipients, outcome.recipients ?? {});
  const sentVersion = versionSent(previous, outcome, base.version);
  const sameVersion = sentVersion === (previous.sentVersion ?? base.version);
  if (sameVersion && Object.entries(recipients).every(([address, status]) => previous.recipients?.[address] === status)) return previous;
  return {
    ...previous,
    recipients,
    updatedAt: outcome.at.toISOString(),
    ...(sentVersion !== undefined && sentVersion !== base.version && { sentVersion }),
  };
}

/** The response of a notification holdForDigest ended superseded. */
const SUPERSEDED_BY_DIGEST = "superseded: a newer version of the alert was decided for the channel's digest, which sends the alert's current content";

/** Twin runs racing on one entry settle in a couple of rounds; more means something is badly wrong. */
const MAX_WRITE_ROUNDS = 20;

/** `onConflict` is called for every ledger write that found the entry changed since it was read (a twin run). */
export function createDeliveryStore(redis: Redis, prefix: string, retentionSeconds: number, onConflict?: () => void): DeliveryStore {
  const entryKey = (key: string) => ledgerEntryKey(prefix, key);
  const failedKey = keyFor(prefix, 'deliveries', 'failed');
  const refsKey = (alertId: string, channelId: string) => keyFor(prefix, 'delivery-refs', alertId, channelId);
  const byAlertKey = (alertId: string) => keyFor(prefix, 'deliveries', 'alert', alertId);
  const blockKey = (channelId: string) => keyFor(prefix, 'channel-block', channelId);
  const paceKey = (channelId: string) => keyFor(prefix, 'channel-pace', channelId);
  const slotKey = (key: string) => keyFor(prefix, 'delivery-slot', key);
  const heldSlotsKey = (channelId: string) => keyFor(prefix, 'delivery-slots', channelId);
  const paceTurn = async (channelId: string, key: string, rate: RateLimit, urgent = false): Promise<PaceTurn> => {
    const interval = paceIntervalMs(rate);
    const [waitMs, fresh] = await RESERVE_SLOT<[number, number]>(
      redis,
      [paceKey(channelId), blockKey(channelId), slotKey(key), heldSlotsKey(channelId)],
      [interval, rate.burst, MAX_ROTATED, urgent ? '1' : '0', key],
    );
    return { waitMs, fresh: fresh === 1 };
  };

  const parse = (raw: string | null): Delivery | undefined => (raw ? (JSON.parse(raw) as Delivery) : undefined);

  return {
    async get(key) {
      return parse(await redis.get(entryKey(key)));
    },
    async read(key) {
      const raw = await redis.get(entryKey(key));
      return { existing: parse(raw), entryAsRead: { raw } };
    },
    async beforeSend(key, alertId, channelId, unpaced = false) {
      const [entry, block, flatRefs, alert, decisions, blockLeft, held, slot] = await BEFORE_SEND<[string, string, string[], string, string[], number, number, string]>(
        redis,
        [
          entryKey(key),
          blockKey(channelId),
          refsKey(alertId, channelId),
          alertKeyFor(prefix, alertId),
          decisionsKey(prefix, alertId),
          digestHeldKey(prefix, channelId),
          slotKey(key),
          heldSlotsKey(channelId),
        ],
        [alertId, unpaced ? '1' : '0', key],
      );
      const parked = parkedAs(slot);
      const refs: Record<string, string> = {};
      for (let i = 0; i < flatRefs.length; i += 2) refs[flatRefs[i]!] = flatRefs[i + 1]!;
      return {
        existing: parse(entry || null),
        blockedUntil: Number(block),
        ...(blockLeft > 0 && { blockedForMs: blockLeft }),
        refs,
        entryAsRead: { raw: entry || null },
        alert: alert ? (JSON.parse(alert) as Alert) : undefined,
        decisions: parseDecisions(decisions),
        ...(held === 1 && { heldForDigest: true as const }),
        ...(parked && { parked }),
      };
    },
    async recordAttempt(key, base, outcome, readBefore, options) {
      // Built on the entry as it is when written, not as it was before the send: a job whose lock lapsed may run twice
      // at once, and each outcome builds on the other's. Delivered is final: a failing twin must not reopen it (its
      // retry would send again). So is a notification's skipped (see endedUnsent), but for who a send reached.
      let raw = readBefore ? readBefore.raw : await redis.get(entryKey(key));
      for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
        const previous = parse(raw);
        if (previous?.status === 'delivered' && outcome.status !== 'delivered') return previous;
        const ended = endedUnsent(previous, base, outcome);
        if (outcome.status === 'skipped' && base.alertId === undefined && Object.values(previous?.recipients ?? {}).includes('accepted')) return previous!;
        const delivery = ended ? withReported(previous!, base, outcome) : nextEntry(key, base, previous, outcome);
        if (delivery === previous) return previous;
        const withRefs = base.alertId && delivery.status === 'delivered' && outcome.refs ? Object.entries(outcome.refs).flat() : [];
        // A twin held it for the digest while this run was sending it (it passed the quiet-hours check just before
        // them): the digest would send it again.
        const heldMeanwhile = previous?.status === 'skipped' && base.alertId !== undefined;
        const release = (options?.releaseDigestHold === true || heldMeanwhile) && delivery.status === 'delivered' && base.alertId !== undefined && base.version !== undefined;
        const keys = [
          entryKey(key),
          failedKey,
          base.alertId ? byAlertKey(base.alertId) : entryKey(key),
          base.alertId ? refsKey(base.alertId, base.channelId) : entryKey(key),
          release ? digestHeldKey(prefix, base.channelId) : entryKey(key),
          release ? decisionsKey(prefix, base.alertId!) : entryKey(key),
        ];
        if (options?.unlessSending !== undefined) keys.push(digestSendingKey(prefix, base.channelId, options.unlessSending));
        const [written, now] = await WRITE_ENTRY<[number, string | number | null]>(
          redis,
          keys,
          [
            raw ?? '',
            JSON.stringify(delivery),
            retentionSeconds,
            delivery.status === 'failed' ? '1' : '0',
            outcome.at.getTime(),
            key,
            base.alertId ? '1' : '0',
            release ? '1' : '0',
            base.alertId ?? '',
            base.channelId,
            base.version ?? 0,
            ...withRefs,
          ],
        );
        if (written === 1) return delivery;
        if (written === 2) throw new SendMarkedError(key, Number(now));
        onConflict?.();
        if (options?.ifUnchanged) throw new LedgerChangedError(key);
        raw = (now as string | null) ?? null;
      }
      throw new Error(`delivery ledger entry ${key} kept changing under ${MAX_WRITE_ROUNDS} writes`);
    },
    async listFailed(limit = 100, offset = 0) {
      const keys = await redis.zrevrange(failedKey, offset, offset + limit - 1);
      if (keys.length === 0) return [];
      const raws = await redis.mget(keys.map(entryKey));
      return raws.map(parse).filter((d): d is Delivery => d !== undefined && d.status === 'failed');
    },
    async blockedUntil(channelId) {
      return Number((await redis.get(blockKey(channelId))) ?? 0);
    },
    async blockedForMs(channelId) {
      return Number(await BLOCK_LEFT(redis, [blockKey(channelId)], []));
    },
    async blockChannelFor(channelId, delayMs, rate) {
      return Number(await EXTEND_BLOCK(redis, [blockKey(channelId)], ['', Math.max(1, Math.ceil(delayMs)), blockMergeMs(rate)]));
    },
    async blockChannel(channelId, untilMs, rate) {
      await EXTEND_BLOCK(redis, [blockKey(channelId)], [untilMs, 0, blockMergeMs(rate)]);
    },
    async reserveSlot(channelId, key, rate, urgent = false) {
      return (await paceTurn(channelId, key, rate, urgent)).waitMs;
    },
    paceTurn,
    async parkSlot(key, forMs, untilMs, inQuietHours) {
      await redis.set(slotKey(key), `${PARKED}:${Math.round(untilMs)}${inQuietHours ? `:${IN_QUIET_HOURS}` : ''}`, 'PX', Math.max(1, Math.ceil(forMs)));
    },
    async isParked(key) {
      return parkedAs((await redis.get(slotKey(key))) ?? '') !== undefined;
    },
    async holdsSlot(key) {
      const raw = await redis.get(slotKey(key));
      // A slot is a number (the moment, Redis's clock); a parked delivery's marker is not.
      return raw !== null && raw !== '' && Number.isFinite(Number(raw));
    },
    async forgetPace(channelId) {
      await redis.del(paceKey(channelId), heldSlotsKey(channelId));
    },
    async giveUpSlot(key, channelId) {
      await GIVE_UP_SLOT(redis, [slotKey(key), heldSlotsKey(channelId)], [key]);
    },
    async unpark(key) {
      await redis.del(slotKey(key));
    },
    async holdForDigest(key, base, why, at) {
      let raw = await redis.get(entryKey(key));
      for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
        const previous = parse(raw);
        // Before 'reached': a skipped entry is final (see endedUnsent), whoever it reached.
        if (previous?.status === 'skipped') return 'ended';
        if (previous?.status === 'delivered') return 'delivered';
        if (Object.values(previous?.recipients ?? {}).includes('accepted')) return 'reached';
        const { lastError: _lastError, errorKind: _errorKind, ...kept } = previous ?? { attempts: 0 };
        const ended = (response: string): string => JSON.stringify({ ...kept, ...base, key, status: 'skipped', response, updatedAt: at.toISOString() } satisfies Delivery);
        const [outcome, now] = await HOLD_FOR_DIGEST<[number, string | null]>(
          redis,
          [entryKey(key), failedKey, byAlertKey(base.alertId), digestHeldKey(prefix, base.channelId), decisionsKey(prefix, base.alertId), slotKey(key)],
          [raw ?? '', ended(why), retentionSeconds, key, base.alertId, base.version, base.channelId, at.getTime(), MAX_HELD, ended(SUPERSEDED_BY_DIGEST)],
        );
        if (outcome === 1) return 'held';
        if (outcome === 2) return 'newer';
        if (outcome === 3) return 'superseded';
        onConflict?.();
        raw = now ?? null;
      }
      throw new Error(`delivery ledger entry ${key} kept changing under ${MAX_WRITE_ROUNDS} writes`);
    },
    async listForAlert(alertId) {
      const keys = await redis.smembers(byAlertKey(alertId));
      if (keys.length === 0) return [];
      const raws = await redis.mget(keys.map(entryKey));
      return raws.map(parse).filter((d): d is Delivery => d !== undefined);
    },
    async clearFailed(key) {
      await redis.zrem(failedKey, key);
    },
    async relistFailed(key, atMs) {
      await redis.zadd(failedKey, atMs, key);
    },
  };
}
