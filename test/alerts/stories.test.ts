import { describe, expect, it } from 'vitest';
import { chooseStory, storyIdFor, storyTime } from '../../src/items/story.js';
import { similarity } from '../../src/items/story-similarity.js';
import { storyFeatures, storyTokens } from '../../src/items/story-tokens.js';
import { createMemoryStoryStore } from '../../src/store/stories.js';
import { scoreClusters } from '../../bench/stories.js';
import { STORY_FIXTURES, SUSPENSION } from './story-fixtures.js';

const NOW = new Date('2025-10-06T12:00:00Z');

describe('story text features', () => {
  it('folds synonyms, plurals and tenses so reworded headlines share tokens', () => {
    expect(storyTokens('Beijing halts shipments of gallium to the U.S.')).toEqual(['china', 'ban', 'export', 'gallium', 'us']);
    expect(storyTokens('China bans gallium exports to the United States')).toEqual(['china', 'ban', 'gallium', 'export', 'us']);
    expect(storyTokens('restricts restricted restricting restrictions')).toEqual(['restrict', 'restrict', 'restrict', 'restrict']);
  });

  it('folds accents, compatibility forms, curly apostrophes and multi-word names, in ASCII and in Unicode text', () => {
    expect(storyTokens("People's Republic of China curbs rare-earths to the U.K.")).toEqual(['china', 'restrict', 'rare', 'earth', 'uk']);
    expect(storyTokens('Ｕ．Ｓ． and the European Union: Gällium’s ﬁnal 1,000 tonnes')).toEqual(['us', 'europe', 'gallium', 'final', '1000', 'tonne']);
    expect(storyTokens('The constructor stopped passing buses')).toEqual(['constructor', 'ban', 'pass', 'buse']);
    // Weighed once per token, the title's weight winning over the summary's, in the order the tokens came.
    expect(Object.entries(storyFeatures({ title: 'Gallium ban', summary: 'gallium exports and the 2025 ban' }))).toEqual([
      ['2025', 1],
      ['gallium', 2],
      ['ban', 1],
      ['export', 0.5],
    ]);
  });

  it('gives two items that share only generic words no similarity at all', () => {
    const a = storyFeatures({ title: 'China restricts exports of graphite', summary: '' });
    const b = storyFeatures({ title: 'US restricts exports of memory chips to China', summary: '' });
    expect(similarity(a, b)).toBe(0);
  });
});

describe('aggregator outlet suffixes', () => {
  it('do not make two unrelated stories from one outlet similar', () => {
    const a = storyFeatures({ title: 'Beijing lifts antimony export curbs - Metal Bulletin Daily', summary: 'Beijing lifts antimony export curbs Metal Bulletin Daily' });
    const b = storyFeatures({ title: 'Gallium smelters idle as power rationing bites - Metal Bulletin Daily', summary: 'Gallium smelters idle as power rationing bites Metal Bulletin Daily' });
    expect(similarity(a, b)).toBeLessThan(0.1);
  });

  it('keep a dash that is part of the headline', () => {
    const features = storyFeatures({ title: 'Rare earths - the new oil' });
    expect(Object.keys(features)).toEqual(expect.arrayContaining([expect.stringMatching(/^oil/)]));
  });
});

describe('story choice', () => {
  it('names a new story after its first item, so a retry names it the same', () => {
    const choice = chooseStory('item-1', storyFeatures({ title: 'Gallium ban' }), []);
    expect(choice).toEqual({ kind: 'new', storyId: storyIdFor('item-1') });
  });

  it('clamps an item time into the window so backfilled items do not open stories in the past', () => {
    const window = 72 * 3_600_000;
    expect(storyTime({ publishedAt: '2020-01-01T00:00:00Z' }, NOW, window)).toBe(NOW.getTime() - window);
    expect(storyTime({ publishedAt: '2030-01-01T00:00:00Z' }, NOW, window)).toBe(NOW.getTime());
    expect(storyTime({ publishedAt: null }, NOW, window)).toBe(NOW.getTime());
  });
});

describe('clustering reworded headlines from several outlets', () => {
  async function cluster(fixtures = STORY_FIXTURES) {
    const store = createMemoryStoryStore({ windowHours: 72 });
    const predicted: string[] = [];
    for (const [i, f] of fixtures.entries()) {
      const item = { id: `f${i}`, sourceId: f.source, title: f.title, summary: f.summary, publishedAt: null, fetchedAt: NOW.toISOString() };
      predicted.push((await store.assign(item, NOW)).storyId);
    }
    return { predicted, score: scoreClusters(fixtures.map((f) => f.story), predicted) };
  }

  it('puts every outlet of one event in one story and keeps same-week events apart', async () => {
    const { score } = await cluster();
    // Pairwise precision 1: no two different events merged; recall 1: no event split, on these fixtures.
    expect(score.pairP).toBe(1);
    expect(score.pairR).toBe(1);
  });

  it('puts a later suspension of a ban into the story of the ban', async () => {
    const { predicted } = await cluster([...STORY_FIXTURES, SUSPENSION]);
    expect(predicted.at(-1)).toBe(predicted[0]);
  });

  it('starts a new story for a similar item outside the window', async () => {
    const store = createMemoryStoryStore({ windowHours: 72 });
    const [a, b] = STORY_FIXTURES;
    const first = await store.assign({ id: 'x1', sourceId: a.source, title: a.title, summary: a.summary, publishedAt: null, fetchedAt: '' }, NOW);
    const later = new Date(NOW.getTime() + 80 * 3_600_000);
    const second = await store.assign({ id: 'x2', sourceId: b.source, title: b.title, summary: b.summary, publishedAt: null, fetchedAt: '' }, later);
    expect(second.storyId).not.toBe(first.storyId);
  });
});
