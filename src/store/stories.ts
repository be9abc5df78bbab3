import type { Redis } from 'ioredis';
import type { Item } from '../items/item.js';
import { chooseStory, INDEX_TOKENS, MAX_CANDIDATES, MAX_STORY_MEMBERS, MAX_STORY_TOKENS, STORIES_PER_TOKEN, STORY_THRESHOLD, storyTime, type StoryCandidate } from '../items/story.js';
import { featureWeights, readMembers, type FeatureWeights } from '../items/story-similarity.js';
import { distinctiveTokens, featuresJson, storyWeights, type StoryFeatures } from '../items/story-tokens.js';
import { keyFor } from './keys.js';
import { redisScript } from './script.js';

/** Where an item landed: its story, whether it started it, and the distinct sources of the story so far. */
export interface StoryAssignment {
  storyId: string;
  isNew: boolean;
  /** Distinct source ids of the story, this item's included. */
  sources: string[];
  /** Items in the story, this one included. */
  items: number;
}

/** Clusters items into stories; safe to call from several workers at once and idempotent per item id. */
export interface StoryStore {
  assign(item: Item, now: Date): Promise<StoryAssignment>;
  /** The items' assignments, exactly as if each were assigned in turn (an item sees the stories of those before it). */
  assignMany(items: Item[], now: Date): Promise<StoryAssignment[]>;
}

/** The member of a posting that holds its revision (see READ); never a story id, which starts with "s". */
const REV = '#rev';
/** Where revisions start: far above any story time (ms), so no time range returns the member and no trim removes it. */
const REV_BASE = '1000000000000000';

/** A members JSON array (as read: plan has parsed or checked it already) with one more member, without parsing it. */
function withMember(membersJson: string, weights: FeatureWeights): string {
  const member = featuresJson(weights);
  return membersJson === '[]' ? `[${member}]` : `${membersJson.slice(0, -1)},${member}]`;
}

export class StoryConflictError extends Error {
  constructor(itemId: string, attempts: number) {
    super(`could not assign item ${itemId} to a story after ${attempts} attempts: other workers kept changing the candidate stories`);
    this.name = 'StoryConflictError';
  }
}

/**
 * The tokens an item is indexed and looked up by: its heaviest distinctive ones (title words before summary words,
 * longer before shorter), or its heaviest tokens when it has no distinctive one. A reworded report of the same event
 * shares several of its headline's words, so a dozen find it; indexing every word of the lede only made each item
 * cost a posting read and write per word.
 */
function indexTokens(weights: FeatureWeights): string[] {
  const distinctive = distinctiveTokens(weights);
  const pool = distinctive.length ? distinctive : [...weights.keys()];
  return pool
    .sort((a, b) => weights.get(b)! - weights.get(a)! || b.length - a.length || (a < b ? -1 : 1))
    .slice(0, INDEX_TOKENS)
    .sort();
}

// Every posting (a sorted set of story ids by their latest time) also holds a revision: the member "${REV}", its score
// counting up from REV_BASE by one on every write of the posting. Story times (ms since 1970) stay far below it, so no
// time range returns the member and no trim (by time) removes it, this build's or an older build's.
// A commit checks that the revisions of the item's postings are as read: a story that appeared on the item's tokens,
// or moved into the most recent ones, since the read makes it read and choose again. (Was a SHA-1 of every story id
// of the postings, which the commit had to collect, sort and hash again: half of its time.)

// KEYS: 1 item->story, then N posting keys of the item's tokens. ARGV: hi, lo, story key prefix ("{prefix}:story:").
// Returns {'existing', storyId} or {'ok', then the N postings' revisions, then per candidate: id, rev, members JSON,
// tokens JSON}. The candidates are the stories sharing the most tokens with the item (ties by id), at most
// MAX_CANDIDATES, among the STORIES_PER_TOKEN most recent of each token within the window.
// The story hashes are read by name: they share the hash tag of the declared keys, so they live in the same slot.
const READ = redisScript(`
local hi, lo, storyPrefix = ARGV[1], ARGV[2], ARGV[3]
local known = redis.call('GET', KEYS[1])
if known then return {'existing', known} end
local out = {'ok'}
local shared, ids = {}, {}
for i = 2, #KEYS do
  out[i] = redis.call('ZSCORE', KEYS[i], '${REV}') or '0'
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[i], hi, lo, 'LIMIT', 0, ${STORIES_PER_TOKEN})) do
    if shared[id] then shared[id] = shared[id] + 1 else shared[id] = 1; ids[#ids + 1] = id end
  end
end
table.sort(ids)
-- Ranked by tokens shared, most first, ids ascending among equals: ids is sorted, so grouping it by count keeps that
-- order within each group (sorting with a Lua comparator instead was over a third of the script's time).
local byCount, most = {}, 0
for _, id in ipairs(ids) do
  local count = shared[id]
  local group = byCount[count]
  if group then group[#group + 1] = id else byCount[count] = {id} end
  if count > most then most = count end
end
local taken = 0
for count = most, 1, -1 do
  for _, id in ipairs(byCount[count] or {}) do
    if taken == ${MAX_CANDIDATES} then return out end
    taken = taken + 1
    local story = redis.call('HMGET', storyPrefix .. id, 'rev', 'members', 'tokens')
    out[#out + 1] = id
    out[#out + 1] = story[1]
    out[#out + 1] = story[2]
    out[#out + 1] = story[3]
  end
end
return out
`);

// KEYS: 1 item->story, 2 story hash, 3 story sources, then N posting keys of the item's tokens, then M candidate story
// hashes (rev check), then P posting keys of the chosen story's other tokens (refreshed to the new last time).
// ARGV: storyId, at, ttl, sourceId, members JSON, tokens JSON, isNew, N, M, trimBefore, itemId, then the N postings'
// revisions as read, then the M candidates' revs as read.
// Returns {'ok', items, source...}, {'existing', storyId} or {'conflict'}.
const COMMIT = redisScript(`
local storyId, at, ttl, sourceId = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local members, tokens, isNew = ARGV[5], ARGV[6], ARGV[7]
local nPost, nCand, trimBefore = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local existing = redis.call('GET', KEYS[1])
if existing then return {'existing', existing} end
for i = 1, nPost do
  if (redis.call('ZSCORE', KEYS[3 + i], '${REV}') or '0') ~= ARGV[11 + i] then return {'conflict'} end
end
for i = 1, nCand do
  if (redis.call('HGET', KEYS[3 + nPost + i], 'rev') or '0') ~= ARGV[11 + nPost + i] then return {'conflict'} end
end
local last = at
if isNew == '1' then
  redis.call('HSET', KEYS[2], 'rev', 1, 'first', at, 'last', at, 'members', members, 'tokens', tokens, 'items', 1)
else
  local previous = tonumber(redis.call('HGET', KEYS[2], 'last') or at)
  if previous > last then last = previous end
  redis.call('HINCRBY', KEYS[2], 'rev', 1)
  redis.call('HINCRBY', KEYS[2], 'items', 1)
  redis.call('HSET', KEYS[2], 'last', last, 'members', members, 'tokens', tokens)
end
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('SADD', KEYS[3], sourceId)
redis.call('EXPIRE', KEYS[3], ttl)
for i = 4, #KEYS do
  if i <= 3 + nPost or i > 3 + nPost + nCand then
    redis.call('ZADD', KEYS[i], last, storyId)
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', trimBefore)
    redis.call('ZADD', KEYS[i], 'NX', '${REV_BASE}', '${REV}')
    redis.call('ZINCRBY', KEYS[i], 1, '${REV}')
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end
redis.call('SET', KEYS[1], storyId, 'EX', ttl)
local out = {'ok', redis.call('HGET', KEYS[2], 'items')}
for _, source in ipairs(redis.call('SMEMBERS', KEYS[3])) do out[#out + 1] = source end
return out
`);

/**
 * Stories in Redis. Optimistic concurrency, decision in TypeScript: read the candidate stories of the item's tokens,
 * choose (pure), then commit with a script that first checks that no story appeared on those tokens and no
 * candidate changed since the read; on a conflict, read and choose again. Two reworded headlines processed at the
 * same instant by two workers thus end in one story, exactly as if they had been processed one after the other.
 * An uncontended item costs two round trips: the read script (postings and candidates), the commit.
 */
export function createStoryStore(
  redis: Redis,
  prefix: string,
  options: { windowHours: number; threshold?: number; maxAttempts?: number; /** Called for every commit that found its read out of date. */ onConflict?: () => void },
): StoryStore {
  const windowMs = options.windowHours * 3_600_000;
  const ttl = Math.ceil((2 * windowMs) / 1000) + 3600;
  const threshold = options.threshold ?? STORY_THRESHOLD;
  const maxAttempts = options.maxAttempts ?? 30;
  const itemKey = (id: string) => keyFor(prefix, 'story-item', id);
  const storyKey = (id: string) => keyFor(prefix, 'story', id);
  const sourcesKey = (id: string) => keyFor(prefix, 'story-sources', id);
  const postingKey = (token: string) => keyFor(prefix, 'story-postings', token);

  async function existingAssignment(storyId: string): Promise<StoryAssignment> {
    const [sources, items] = await Promise.all([redis.smembers(sourcesKey(storyId)), redis.hget(storyKey(storyId), 'items')]);
    return { storyId, isNew: false, sources: sources.sort(), items: Number(items ?? 1) };
  }

  /** What an item is looked up and committed by, computed once however many attempts it takes. */
  interface Prepared {
    item: Item;
    weights: FeatureWeights;
    tokens: string[];
    at: number;
    read: { keys: string[]; args: string[] };
  }
  type ReadReply = Array<string | null>;
  interface CommitPlan {
    keys: string[];
    args: string[];
    storyId: string;
    isNew: boolean;
  }

  function prepare(item: Item, now: Date): Prepared {
    const weights = storyWeights(item);
    const tokens = indexTokens(weights);
    const at = storyTime(item, now, windowMs);
    const window = [String(at + windowMs), String(at - windowMs)];
    return { item, weights, tokens, at, read: { keys: [itemKey(item.id), ...tokens.map(postingKey)], args: [...window, storyKey('')] } };
  }

  /** The choice for an item from its read, as the commit that applies it (or the story it already belongs to). */
  function plan(p: Prepared, read: ReadReply, now: Date): { existing: string } | CommitPlan {
    const { item, weights, tokens } = p;
    const [readStatus, ...rest] = read;
    if (readStatus === 'existing') return { existing: rest[0]! };
    const postingRevs = rest.slice(0, tokens.length) as string[];
    const candidates: Array<StoryCandidate & { rev: string; membersJson: string | null; tokens: string | null }> = [];
    for (let i = tokens.length; i < rest.length; i += 4) {
      const [id, rev, members, storyTokens] = [rest[i]!, rest[i + 1], rest[i + 2], rest[i + 3]];
      // A story whose hash expired while its postings lived on is no candidate; its rev "0" is still checked.
      candidates.push({ id, rev: rev ?? '0', members: members ? readMembers(members) : [], membersJson: members ?? null, tokens: storyTokens ?? null });
    }

    const choice = chooseStory(item.id, weights, candidates, threshold);
    const chosen = choice.kind === 'join' ? candidates.find((c) => c.id === choice.storyId) : undefined;
    // Read with the candidates: the commit's rev check guarantees it is still what the rev says.
    const chosenTokens = chosen?.tokens ? (JSON.parse(chosen.tokens) as string[]) : [];
    const becomesMember = !chosen || chosen.members.length < MAX_STORY_MEMBERS;
    // The chosen story's members JSON as read, with this item's appended: the same text as parsing and writing them.
    const membersJson = !chosen?.membersJson
      ? `[${featuresJson(weights)}]`
      : becomesMember
        ? withMember(chosen.membersJson, weights)
        : chosen.membersJson;
    // The story's tokens are its members' (the items it is compared by): the commit refreshes each one's posting, so
    // a story carried by hundreds of outlets would otherwise touch hundreds of keys on every further join. A later
    // item's own tokens are still posted with it, and stay findable for a window after it joined.
    // A list longer than the members' tokens can be (written before the bound) is rebuilt from the members.
    const allTokens = becomesMember
      ? [...new Set([...chosenTokens, ...tokens])].sort()
      : chosenTokens.length <= MAX_STORY_TOKENS
        ? chosenTokens
        : [...new Set((JSON.parse(membersJson) as StoryFeatures[]).flatMap((member) => indexTokens(featureWeights(member))))].sort();
    const itemTokenSet = new Set(tokens);
    const refreshed = allTokens.filter((t) => !itemTokenSet.has(t));
    const keys = [
      itemKey(item.id),
      storyKey(choice.storyId),
      sourcesKey(choice.storyId),
      ...tokens.map(postingKey),
      ...candidates.map((c) => storyKey(c.id)),
      ...refreshed.map(postingKey),
    ];
    const args = [
      choice.storyId,
      String(p.at),
      String(ttl),
      item.sourceId,
      membersJson,
      JSON.stringify(allTokens),
      choice.kind === 'new' ? '1' : '0',
      String(tokens.length),
      String(candidates.length),
      String(now.getTime() - 2 * windowMs),
      item.id,
      ...postingRevs,
      ...candidates.map((c) => c.rev),
    ];
    return { keys, args, storyId: choice.storyId, isNew: choice.kind === 'new' };
  }

  async function committed(commit: CommitPlan, reply: string[]): Promise<StoryAssignment | 'conflict'> {
    const [status, ...rest] = reply;
    if (status === 'conflict') return 'conflict';
    if (status === 'existing') return existingAssignment(rest[0]!);
    const [items, ...sources] = rest;
    return { storyId: commit.storyId, isNew: commit.isNew, sources: sources.sort(), items: Number(items ?? 1) };
  }

  /**
   * One read, choice and commit. `read`: the item's read when it was made already. `next`: an item whose read goes in
   * one round trip with this commit (Redis runs them in that order, so the read sees the commit); it comes back as
   * `nextRead` only when the commit went through and both replies are good.
   */
  async function attempt(p: Prepared, now: Date, read?: ReadReply, next?: Prepared): Promise<{ outcome: StoryAssignment | 'conflict'; nextRead?: ReadReply }> {
    const decided = plan(p, read ?? (await READ<ReadReply>(redis, p.read.keys, p.read.args)), now);
    if ('existing' in decided) return { outcome: await existingAssignment(decided.existing) };
    if (!next) return { outcome: await committed(decided, await COMMIT<string[]>(redis, decided.keys, decided.args)) };
    const pipeline = redis.pipeline();
    COMMIT.queue(pipeline, decided.keys, decided.args);
    READ.queue(pipeline, next.read.keys, next.read.args);
    const replies = await pipeline.exec();
    const outcome = await committed(decided, await COMMIT.settle<string[]>(replies?.[0], redis, decided.keys, decided.args));
    const nextRead = outcome !== 'conflict' && replies?.every(([err]) => !err) ? (replies[1]![1] as ReadReply) : undefined;
    return { outcome, nextRead };
  }

  /** Read, choose, commit; on a conflict read and choose again (after a short random pause). */
  async function assignPrepared(p: Prepared, now: Date, firstAttempt = 1): Promise<StoryAssignment> {
    for (let i = firstAttempt; i <= maxAttempts; i++) {
      if (i > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (i - 1)));
      const { outcome } = await attempt(p, now);
      if (outcome !== 'conflict') return outcome;
      options.onConflict?.();
    }
    throw new StoryConflictError(p.item.id, maxAttempts);
  }

  return {
    assign(item, now) {
      return assignPrepared(prepare(item, now), now);
    },
    async assignMany(items, now) {
      // One item after another, as assign would, each commit carrying the next item's read. Only when a commit did
      // not go through (a conflict, or a server that did not know the script) is the next item read on its own.
      const out: StoryAssignment[] = [];
      let current = items.length ? prepare(items[0]!, now) : undefined;
      let read: ReadReply | undefined;
      for (let i = 0; current; i++) {
        const next = i + 1 < items.length ? prepare(items[i + 1]!, now) : undefined;
        const { outcome, nextRead } = await attempt(current, now, read, next);
        if (outcome === 'conflict') options.onConflict?.();
        out.push(outcome === 'conflict' ? await assignPrepared(current, now, 2) : outcome);
        read = nextRead;
        current = next;
      }
      return out;
    },
  };
}

/** The same clustering in memory, for one-shot runs (`chokepoint scan`) and benchmarks. */
export function createMemoryStoryStore(options: { windowHours: number; threshold?: number }): StoryStore {
  const windowMs = options.windowHours * 3_600_000;
  const threshold = options.threshold ?? STORY_THRESHOLD;
  const stories = new Map<string, { members: StoryFeatures[]; tokens: Set<string>; last: number; sources: Set<string>; items: number }>();
  const byItem = new Map<string, string>();
  const postings = new Map<string, Set<string>>();
  const view = (storyId: string, isNew: boolean): StoryAssignment => {
    const story = stories.get(storyId)!;
    return { storyId, isNew, sources: [...story.sources].sort(), items: story.items };
  };
  const store: StoryStore = {
    async assignMany(items, now) {
      const out: StoryAssignment[] = [];
      for (const item of items) out.push(await store.assign(item, now));
      return out;
    },
    async assign(item, now) {
      const known = byItem.get(item.id);
      if (known) return view(known, false);
      const weights = storyWeights(item);
      const tokens = indexTokens(weights);
      const at = storyTime(item, now, windowMs);
      const shared = new Map<string, number>();
      const last = (id: string) => stories.get(id)!.last;
      for (const token of tokens) {
        // As in Redis: the token's most recently active stories within the window (ties in reverse id order).
        const recent = [...(postings.get(token) ?? [])]
          .filter((id) => Math.abs(last(id) - at) <= windowMs)
          .sort((a, b) => last(b) - last(a) || (a < b ? 1 : -1))
          .slice(0, STORIES_PER_TOKEN);
        for (const id of recent) shared.set(id, (shared.get(id) ?? 0) + 1);
      }
      const ranked = [...shared.keys()].sort((a, b) => shared.get(b)! - shared.get(a)! || (a < b ? -1 : 1)).slice(0, MAX_CANDIDATES);
      const choice = chooseStory(item.id, weights, ranked.map((id) => ({ id, members: stories.get(id)!.members })), threshold);
      let story = stories.get(choice.storyId);
      if (!story) {
        story = { members: [], tokens: new Set(), last: at, sources: new Set(), items: 0 };
        stories.set(choice.storyId, story);
      }
      if (story.members.length < MAX_STORY_MEMBERS) story.members.push(Object.fromEntries(weights));
      story.last = Math.max(story.last, at);
      story.sources.add(item.sourceId);
      story.items++;
      for (const token of tokens) {
        story.tokens.add(token);
        if (!postings.has(token)) postings.set(token, new Set());
        postings.get(token)!.add(choice.storyId);
      }
      byItem.set(item.id, choice.storyId);
      return view(choice.storyId, choice.kind === 'new');
    },
  };
  return store;
}
