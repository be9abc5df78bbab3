import type { Redis } from 'ioredis';
import { decayed, fillSeries, HOUR_MS, type RiskPoint } from '../alerts/risk.js';
import type { Direction } from '../scoring/types.js';
import { keyFor } from './keys.js';
import { redisScript } from './script.js';

export interface RiskSettings {
  halfLifeHours: number;
  threshold: number;
  /** Re-arms only after the index falls this fraction below the threshold (and stays there half a half-life). */
  hysteresis: number;
  /** Hourly points kept per series; also how long an index, and a story's part in it, outlive the last news. */
  seriesHours: number;
  /**
   * How long a material's episode count outlives its last contribution: at least the alerts' retention, since an
   * episode's number is its risk alert's id and must not come round again while that alert exists. Unset: kept for
   * good (one small key per watchlist x material).
   */
  alertRetentionHours?: number;
}

/** What one contribution did to the index. */
export interface RiskUpdate {
  value: number;
  /** True exactly once per episode: the contribution that took the index over the threshold. */
  crossed: boolean;
  /** Above the threshold and not re-armed yet (an alert for `episode` should exist). */
  active: boolean;
  episode: number;
  /** Stories that contributed to the index within the retention (`seriesHours`), each counted once. */
  stories: number;
}

export interface RiskIndexEntry {
  watchlistId: string;
  material: string;
  /** Decayed to the time of the listing. */
  value: number;
  threshold: number;
  active: boolean;
  episode: number;
  updatedAt: string;
}

/** One assessment's addition to one material's risk index. */
export interface RiskContribution {
  watchlistId: string;
  material: string;
  storyId: string;
  score: number;
  direction: Direction;
  atMs: number;
  nowMs: number;
}

/**
 * The risk index in Redis, one state per watchlist x material, updated by one atomic script so that any number of
 * workers agree on the value and on the single contribution that crossed the threshold. Each story counts once at its
 * highest score (its increase is added when it escalates; a de-escalation subtracts its score once), so forty outlets
 * carrying one story do not make forty times the risk, and re-processing an item adds nothing.
 */
export interface RiskIndexStore {
  record(input: RiskContribution): Promise<RiskUpdate>;
  /** Each contribution in turn, as record would apply them one after another, in one round trip. */
  recordMany(inputs: RiskContribution[]): Promise<RiskUpdate[]>;
  riskSeries(watchlistId: string, material: string, since: Date | number, now?: Date | number): Promise<RiskPoint[]>;
  listRiskIndex(now?: Date | number): Promise<RiskIndexEntry[]>;
}

// KEYS: 1 state, 2 each story's highest score (and "<story>|de" once it de-escalated), 3 series, 4 the list of indexes,
// 5 each story's last contribution (ms), 6 the episode count. The episode count has a key of its own: the state
// expires with the series, but an episode's number names its risk alert, which lives as long as alerts do.
const RECORD = redisScript(`
local state, stories, series, index, times, episodes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local storyId, score, direction = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local at, now, halfLife = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local threshold, rearm, maxPoints, ttl, member = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
local episodeTtl = tonumber(ARGV[12])
local s = redis.call('HMGET', state, 'value', 'at', 'armed', 'episode', 'below')
local value, since = tonumber(s[1] or '0'), tonumber(s[2] or tostring(now))
local armed, episode, below = (s[3] or '1') == '1', tonumber(s[4] or '0'), tonumber(s[5] or '')
-- The state may have expired (no news for the retention) or predate the episode key (an earlier build wrote it).
local counted = tonumber(redis.call('GET', episodes) or '0')
if counted > episode then episode = counted end
local stored = value
if now > since then value = value * 2 ^ (-(now - since) / halfLife) end
-- When did it go below the re-arm level? Decay is known, so the moment can be computed.
if value < rearm and not below then
  if stored > rearm then below = since + halfLife * math.log(stored / rearm) / math.log(2) else below = since end
end
-- Re-arm only after staying below for half a half-life: a dip between two stories of one run is no new episode.
if not armed and value < rearm and now - below >= halfLife / 2 then armed = true end
-- Stories recorded by an earlier build have no contribution time yet: they count from now.
if redis.call('EXISTS', times) == 0 then
  for _, f in ipairs(redis.call('HKEYS', stories)) do
    if string.sub(f, -3) ~= '|de' then redis.call('ZADD', times, string.format('%d', now), f) end
  end
end
local delta = 0
if direction == 'de-escalation' then
  if redis.call('HSETNX', stories, storyId .. '|de', score) == 1 then delta = -score end
else
  local previous = tonumber(redis.call('HGET', stories, storyId) or '0')
  if score > previous then
    delta = score - previous
    redis.call('HSET', stories, storyId, score)
  end
end
local last = tonumber(redis.call('ZSCORE', times, storyId) or '0')
if now > last then redis.call('ZADD', times, string.format('%d', now), storyId) end
-- A story that has not contributed within the retention is forgotten (its weight has long decayed away).
local cutoff = '(' .. string.format('%d', now - ttl * 1000)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', times, '-inf', cutoff)) do redis.call('HDEL', stories, old, old .. '|de') end
redis.call('ZREMRANGEBYSCORE', times, '-inf', cutoff)
if at > now then at = now end
value = value + delta * 2 ^ (-(now - at) / halfLife)
if value < 0 then value = 0 end
if value >= rearm then below = nil elseif not below then below = now end
local crossed = false
if armed and value >= threshold then
  armed = false
  episode = episode + 1
  crossed = true
end
if episode > counted then
  if episodeTtl > 0 then redis.call('SET', episodes, episode, 'EX', episodeTtl) else redis.call('SET', episodes, episode) end
elseif episodeTtl > 0 then
  redis.call('EXPIRE', episodes, episodeTtl)
end
redis.call('HSET', state, 'value', tostring(value), 'at', string.format('%d', now), 'armed', armed and '1' or '0', 'episode', episode)
if below then redis.call('HSET', state, 'below', string.format('%d', below)) else redis.call('HDEL', state, 'below') end
redis.call('EXPIRE', state, ttl)
redis.call('EXPIRE', stories, ttl)
redis.call('EXPIRE', times, ttl)
if delta ~= 0 then
  redis.call('HSET', series, string.format('%d', now - now % 3600000), tostring(value) .. '@' .. string.format('%d', now))
  local fields = redis.call('HKEYS', series)
  if #fields > maxPoints then
    local buckets = {}
    for i, f in ipairs(fields) do buckets[i] = tonumber(f) end
    table.sort(buckets)
    for i = 1, #buckets - maxPoints do redis.call('HDEL', series, string.format('%d', buckets[i])) end
  end
  redis.call('EXPIRE', series, ttl)
end
redis.call('SADD', index, member)
return {tostring(value), crossed and 1 or 0, armed and 0 or 1, episode, redis.call('ZCARD', times)}
`);

type RecordReply = [string, number, number, number, number];

export function createRiskIndexStore(redis: Redis, prefix: string, settings: RiskSettings): RiskIndexStore {
  const halfLifeMs = settings.halfLifeHours * HOUR_MS;
  const rearm = settings.threshold * (1 - settings.hysteresis);
  const ttl = Math.ceil((settings.seriesHours * HOUR_MS) / 1000);
  const stateKey = (w: string, m: string) => keyFor(prefix, 'risk', w, m);
  const storiesKey = (w: string, m: string) => keyFor(prefix, 'risk-stories', w, m);
  const seriesKey = (w: string, m: string) => keyFor(prefix, 'risk-series', w, m);
  const timesKey = (w: string, m: string) => keyFor(prefix, 'risk-story-times', w, m);
  const episodesKey = (w: string, m: string) => keyFor(prefix, 'risk-episode', w, m);
  // Never shorter than the index itself.
  const episodeTtl = settings.alertRetentionHours === undefined ? 0 : Math.max(ttl, Math.ceil((settings.alertRetentionHours * HOUR_MS) / 1000));
  const indexKey = keyFor(prefix, 'risk-index');
  const member = (w: string, m: string) => JSON.stringify([w, m]);
  const toMs = (t: Date | number | undefined) => (t === undefined ? Date.now() : typeof t === 'number' ? t : t.getTime());
  const call = (input: RiskContribution) => {
    const { watchlistId: w, material: m } = input;
    return {
      keys: [stateKey(w, m), storiesKey(w, m), seriesKey(w, m), indexKey, timesKey(w, m), episodesKey(w, m)],
      args: [
        input.storyId, String(input.score), input.direction, String(input.atMs), String(input.nowMs), String(halfLifeMs), String(settings.threshold),
        String(rearm), String(settings.seriesHours), String(ttl), member(w, m), String(episodeTtl),
      ],
    };
  };
  const update = ([value, crossed, active, episode, stories]: RecordReply): RiskUpdate => ({
    value: Number(value),
    crossed: crossed === 1,
    active: active === 1,
    episode: Number(episode),
    stories: Number(stories),
  });

  return {
    async record(input) {
      const { keys, args } = call(input);
      return update(await RECORD<RecordReply>(redis, keys, args));
    },
    async recordMany(inputs) {
      if (inputs.length === 0) return [];
      const calls = inputs.map(call);
      const pipeline = redis.pipeline();
      // The first call carries the script's source, so the server knows it for the rest: contributions must apply in
      // order, and one run again after a NOSCRIPT would come after the later ones. (Should the script cache be flushed
      // in between all the same, a contribution run twice adds nothing the second time: a story counts once, at its
      // highest score.)
      calls.forEach(({ keys, args }, i) => RECORD.queue(pipeline, keys, args, i === 0));
      const replies = await pipeline.exec();
      const out: RiskUpdate[] = [];
      for (let i = 0; i < calls.length; i++) out.push(update(await RECORD.settle<RecordReply>(replies?.[i], redis, calls[i]!.keys, calls[i]!.args)));
      return out;
    },
    async riskSeries(watchlistId, material, since, now) {
      const raw = await redis.hvals(seriesKey(watchlistId, material));
      const recorded = raw.map((entry) => {
        const [value, atMs] = entry.split('@');
        return { value: Number(value), atMs: Number(atMs) };
      });
      const nowMs = toMs(now);
      const sinceMs = Math.max(toMs(since), nowMs - settings.seriesHours * HOUR_MS);
      return fillSeries(recorded, sinceMs, nowMs, halfLifeMs);
    },
    async listRiskIndex(now) {
      const nowMs = toMs(now);
      const members = await redis.smembers(indexKey);
      const pairs = members.map((raw) => JSON.parse(raw) as [string, string]);
      const states = await Promise.all(pairs.map(([w, m]) => redis.hmget(stateKey(w, m), 'value', 'at', 'armed', 'episode')));
      const out: RiskIndexEntry[] = [];
      const gone: string[] = [];
      pairs.forEach(([watchlistId, material], i) => {
        const [value, at, armed, episode] = states[i];
        if (value === null || at === null) {
          gone.push(members[i]);
          return;
        }
        out.push({
          watchlistId,
          material,
          value: Math.round(decayed(Number(value), Number(at), nowMs, halfLifeMs) * 100) / 100,
          threshold: settings.threshold,
          active: armed === '0',
          episode: Number(episode ?? 0),
          updatedAt: new Date(Number(at)).toISOString(),
        });
      });
      if (gone.length) await redis.srem(indexKey, ...gone);
      return out.sort((a, b) => b.value - a.value || (a.watchlistId + a.material < b.watchlistId + b.material ? -1 : 1));
    },
  };
}
