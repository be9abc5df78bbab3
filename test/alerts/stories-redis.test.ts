import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Item } from '../../src/items/item.js';
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
