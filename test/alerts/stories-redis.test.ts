import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../../src/items/item.js';
import { storyFeatures } from '../../src/items/story-tokens.js';
import { createStoryStore } from '../../src/store/stories.js';
import { scoreClusters } from '../../bench/stories.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { STORY_FIXTURES } from './story-fixtures.js';

const prefix = uniquePrefix('stories');
const NOW = new Date('2025-10-06T12:00:00Z');
// Four connections: four "workers" whose commands really interleave in Redis.
const connections: Redis[] = [];

beforeAll(() => {
  for (let i = 0; i < 4; i++) connections.push(new Redis(testRedisUrl()));
});

afterAll(async () => {
  connections.forEach((c) => c.disconnect());
  await cleanPrefix(prefix);
});

const items: Item[] = STORY_FIXTURES.map((f, i) => ({ id: `fx${i}`, sourceId: f.source, title: f.title, summary: f.summary, publishedAt: null, fetchedAt: NOW.toISOString() }));

describe('stories in Redis', () => {
  it('ends two reworded headlines processed at the same instant by two workers in one story', async () => {
    for (let round = 0; round < 10; round++) {
      const p = `${prefix}-pair${round}`;
      const [a, b] = [createStoryStore(connections[0], p, { windowHours: 72 }), createStoryStore(connections[1], p, { windowHours: 72 })];
      const [x, y] = await Promise.all([a.assign(items[0], NOW), b.assign(items[1], NOW)]);
      expect(x.storyId).toBe(y.storyId);
      expect([x.isNew, y.isNew].filter(Boolean)).toHaveLength(1);
    }
  });

  it('reports a commit that found its read out of date, then reads and chooses again', async () => {
    // Both reads go out before either commit (one connection, in order): the second commit finds the postings that
    // the first one wrote, and its item joins the first one's story on the next attempt.
    const conflicts: string[] = [];
    const p = `${prefix}-conflict`;
    const [a, b] = ['a', 'b'].map((name) => createStoryStore(connections[0], p, { windowHours: 72, onConflict: () => conflicts.push(name) }));
    const [x, y] = await Promise.all([a!.assign(items[0], NOW), b!.assign(items[1], NOW)]);
    expect(conflicts).toEqual(['b']);
    expect(y).toMatchObject({ storyId: x.storyId, isNew: false });
    // The same race lost by assignMany, whose commit carries its next item's read.
    conflicts.length = 0;
    const [c, d] = ['c', 'd'].map((name) => createStoryStore(connections[0], `${p}-many`, { windowHours: 72, onConflict: () => conflicts.push(name) }));
    const [single, many] = await Promise.all([c!.assign(items[1]!, NOW), d!.assignMany([items[0]!, items[5]!], NOW)]);
    expect(conflicts).toEqual(['d']);
    expect(many[0]).toMatchObject({ storyId: single.storyId, isNew: false });
  });

  it('clusters a whole batch processed concurrently by four workers exactly as one worker would', async () => {
    for (let round = 0; round < 3; round++) {
      const p = `${prefix}-batch${round}`;
      const stores = connections.map((c) => createStoryStore(c, p, { windowHours: 72 }));
      const assigned = await Promise.all(items.map((item, i) => stores[i % stores.length].assign(item, NOW)));
      const score = scoreClusters(STORY_FIXTURES.map((f) => f.story), assigned.map((a) => a.storyId));
      expect(score.pairP).toBe(1);
      expect(score.pairR).toBe(1);
    }
  });

  it('assigns a batch in one call exactly as item after item, a repeated item included', async () => {
    const batch = [...items.slice(0, 6), items[1]!, ...items.slice(6)];
    const one = createStoryStore(connections[0], `${prefix}-many-ref`, { windowHours: 72 });
    const expected = [];
    for (const item of batch) expected.push(await one.assign(item, NOW));
    const many = await createStoryStore(connections[1], `${prefix}-many`, { windowHours: 72 }).assignMany(batch, NOW);
    expect(many).toEqual(expected);
    expect(many[6]).toMatchObject({ storyId: many[1]!.storyId, isNew: false });
    expect(await createStoryStore(connections[1], `${prefix}-many`, { windowHours: 72 }).assignMany([], NOW)).toEqual([]);
  });

  it('clusters batches that four workers assign at once exactly as one worker would', async () => {
    for (let round = 0; round < 3; round++) {
      const p = `${prefix}-many-batch${round}`;
      const stores = connections.map((c) => createStoryStore(c, p, { windowHours: 72 }));
      // Worker w takes every fourth item, so each batch's stories are also being built by the other three.
      const batches = stores.map((_, w) => items.filter((_, i) => i % stores.length === w));
      const results = await Promise.all(stores.map((store, w) => store.assignMany(batches[w]!, NOW)));
      const storyOf = new Map<string, string>();
      batches.forEach((batch, w) => batch.forEach((item, i) => storyOf.set(item.id, results[w]![i]!.storyId)));
      const score = scoreClusters(STORY_FIXTURES.map((f) => f.story), items.map((item) => storyOf.get(item.id)!));
      expect(score.pairP).toBe(1);
      expect(score.pairR).toBe(1);
    }
  });

  it('counts every write of a posting in its revision, which no time range returns and no trim removes', async () => {
    const p = `${prefix}-rev`;
    const store = createStoryStore(connections[0], p, { windowHours: 1 });
    const postings = async () => (await connections[0].keys(`{${p}}:story-postings:*`)).sort();
    await store.assign(items[0]!, NOW);
    const [posting] = await postings();
    expect(await connections[0].zscore(posting!, '#rev')).toBe('1000000000000001');
    // What a time range returns (ms since 1970, this side of the year 5000): the story, not the revision.
    const stories = () => connections[0].zrangebyscore(posting!, '-inf', 1e14);
    expect(await stories()).toEqual([expect.stringMatching(/^s/)]);
    // Two windows later the first story is trimmed from the postings it shares with the next item; the revision stays.
    const later = new Date(NOW.getTime() + 3 * 3_600_000);
    await store.assign({ ...items[0]!, id: 'fx0-again' }, later);
    expect(await connections[0].zscore(posting!, '#rev')).toBe('1000000000000002');
    expect(await stories()).toEqual([expect.stringMatching(/^s/)]);
    expect(await stories()).not.toContain((await store.assign(items[0]!, later)).storyId);
    // An older build's trim (from -inf) leaves the revision where it is.
    await connections[0].zremrangebyscore(posting!, '-inf', Date.now());
    expect(await connections[0].zscore(posting!, '#rev')).toBe('1000000000000002');
  });

  it('assigns a batch on a server that has forgotten its scripts (restart, SCRIPT FLUSH)', async () => {
    const store = createStoryStore(connections[2], `${prefix}-flushed`, { windowHours: 72 });
    await store.assign(items[0]!, NOW);
    await connections[2].script('FLUSH');
    const assigned = await store.assignMany(items.slice(1, 4), NOW);
    const reference = await createStoryStore(connections[3], `${prefix}-flushed-ref`, { windowHours: 72 }).assignMany(items.slice(0, 4), NOW);
    // Story ids derive from item ids, so the two prefixes name the same stories.
    expect(assigned).toEqual(reference.slice(1));
  });

  it('counts the distinct sources of a story and returns the same story when an item is processed again', async () => {
    const store = createStoryStore(connections[0], `${prefix}-sources`, { windowHours: 72 });
    const [a, b, c] = items;
    await store.assign(a, NOW);
    await store.assign(b, NOW);
    const third = await store.assign(c, NOW);
    expect(third.sources).toEqual(['trade-press', 'wire-a', 'wire-b']);
    expect(third.items).toBe(3);
    const again = await store.assign(b, NOW);
    expect(again).toMatchObject({ storyId: third.storyId, isNew: false, items: 3 });
  });

  it('does not join an item to a story whose latest item is older than the window', async () => {
    const store = createStoryStore(connections[0], `${prefix}-window`, { windowHours: 1 });
    const first = await store.assign(items[0], NOW);
    const later = await store.assign(items[1], new Date(NOW.getTime() + 2 * 3_600_000));
    expect(later.storyId).not.toBe(first.storyId);
    expect(later.isNew).toBe(true);
  });
});

describe('a story whose members were written by another tokenizer', () => {
  it('is compared, joined and extended as any other', async () => {
    const p = `${prefix}-legacy`;
    const store = createStoryStore(connections[0], p, { windowHours: 72 });
    const first = await store.assign(items[0], NOW);
    const storyKey = `{${p}}:story:${first.storyId}`;
    // A member with tokens this tokenizer never makes (accents, syntax inside a token): read by the plain route.
    const odd = { 'gällium': 2, 'a:b}': 1 };
    const stored = JSON.parse((await connections[0].hget(storyKey, 'members'))!) as Array<Record<string, number>>;
    await connections[0].hset(storyKey, 'members', JSON.stringify([odd, ...stored]));
    const second = await store.assign(items[1], NOW);
    expect(second).toMatchObject({ storyId: first.storyId, isNew: false, items: 2 });
    expect(JSON.parse((await connections[0].hget(storyKey, 'members'))!)).toEqual([odd, ...stored, storyFeatures(items[1])]);
  });
});

describe('a story carried by many outlets', () => {
  // Invented words, so that each report adds words of its own to the shared headline.
  const SYLLABLES = ['ka', 'zo', 'mi', 'tre', 'lun', 'var', 'pex', 'dol', 'qui', 'sen', 'bra', 'tor', 'fel', 'gim', 'hu', 'jor', 'nix', 'ple', 'rok', 'wen'];
  const invented = (n: number) => Array.from({ length: 4 }, (_, i) => SYLLABLES[Math.floor(n / 20 ** i) % 20]).join('') + 'x';
  const report = (i: number): Item => ({
    id: `big${i}`,
    sourceId: `outlet-${i}`,
    title: `China halts gallium and germanium exports to chipmakers ${invented(4 * i)} ${invented(4 * i + 1)}`,
    summary: `Commerce ministry licence regime tightened for gallium germanium shipments ${invented(4 * i + 2)} ${invented(4 * i + 3)}`,
    publishedAt: null,
    fetchedAt: NOW.toISOString(),
  });

  it('keeps its token list to its members, so a join touches a bounded number of keys, and stays findable', async () => {
    const p = `${prefix}-big`;
    const store = createStoryStore(connections[0], p, { windowHours: 72 });
    const assigned = [];
    for (let i = 0; i < 40; i++) assigned.push(await store.assign(report(i), NOW));
    expect(new Set(assigned.map((a) => a.storyId)).size).toBe(1);
    expect(assigned.at(-1)).toMatchObject({ items: 40 });
    expect(assigned.at(-1)!.sources).toHaveLength(40);
    const storyKey = `{${p}}:story:${assigned[0].storyId}`;
    const tokens = JSON.parse((await connections[0].hget(storyKey, 'tokens'))!) as string[];
    // 8 members x 12 index tokens at most; a report beyond the 8th adds its words to the postings, not to the story.
    expect(tokens.length).toBeLessThanOrEqual(96);
    expect(tokens).toContain(invented(0));
    expect(tokens).not.toContain(invented(4 * 39));
    expect(await connections[0].zscore(`{${p}}:story-postings:${invented(4 * 39)}`, assigned[0].storyId)).not.toBeNull();
    // A list written before the bound (every report's words) is rebuilt from the members on the next join.
    const legacy = [...tokens, ...Array.from({ length: 150 }, (_, i) => invented(1000 + i))].sort();
    await connections[0].hset(storyKey, 'tokens', JSON.stringify(legacy));
    await store.assign(report(40), NOW);
    expect(JSON.parse((await connections[0].hget(storyKey, 'tokens'))!)).toEqual(tokens);
    // Its members are the first eight reports' features, in order (appended to the JSON text as read).
    const members = (await connections[0].hget(storyKey, 'members'))!;
    expect(JSON.parse(members)).toEqual(Array.from({ length: 8 }, (_, i) => storyFeatures(report(i))));
    // A late report that shares words only with the first ones still finds the story.
    const late = await store.assign({ ...report(0), id: 'big-late', sourceId: 'late' }, new Date(NOW.getTime() + 60 * 3_600_000));
    expect(late.storyId).toBe(assigned[0].storyId);
  });
});
