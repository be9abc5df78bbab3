import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { featureWeights, parseMemberWeights, similarity, storyFeatures } from '../../src/items/story-tokens.js';

describe('story similarity with words that are also Object.prototype names', () => {
  it('treats "constructor" as a word like any other', () => {
    const a = storyFeatures({ title: 'Gallium constructor halts plant' });
    const b = storyFeatures({ title: 'Gallium refiner halts plant' });
    expect(a.constructor).toBe(2);
    const score = similarity(a, b);
    expect(Number.isFinite(score)).toBe(true);
    expect(score).toBeGreaterThan(0);
    expect(similarity(b, a)).toBeCloseTo(score, 10);
  });
});

describe('story similarity of an item prepared once for many stories', () => {
  it('gives exactly the value of the plain comparison, for stories read back from JSON', () => {
    const item = storyFeatures({ title: 'China bans gallium and germanium exports to the United States', summary: 'Commerce ministry licence regime' });
    const stories = [
      'Beijing halts gallium, germanium shipments to US',
      'Germanium export licences tightened by China commerce ministry',
      'Potato chip maker expands plant',
      'Gallium constructor halts plant',
    ].map((title) => JSON.parse(JSON.stringify(storyFeatures({ title }))) as Record<string, number>);
    const prepared = featureWeights(item);
    for (const story of stories) {
      expect(similarity(prepared, story)).toBe(similarity(item, story));
      expect(similarity(story, prepared)).toBe(similarity(story, item));
    }
    expect(similarity(prepared, stories[0])).toBeGreaterThan(0.24);
    expect(similarity(prepared, stories[2])).toBe(0);
  });
});

describe('a story\'s members read back from their JSON', () => {
  const asWeights = (members: Array<Record<string, unknown>>) => members.map((m) => featureWeights(m as Record<string, number>));

  it('gives each member the weights its object has, for tokens as the tokenizer makes them', () => {
    const members = [
      storyFeatures({ title: 'China bans gallium exports to the US', summary: 'Beijing restricts gallium and germanium from 1.8.2025' }),
      storyFeatures({ title: 'Dysprosium prices jump 3.5% after licence rules', summary: 'Rare earth magnet makers warned of 2026 shortages' }),
      {},
    ];
    expect(parseMemberWeights(JSON.stringify(members))).toEqual(asWeights(members));
    expect(parseMemberWeights('[]')).toEqual([]);
  });

  it('reads any other JSON of members (an older tokenizer, escapes, syntax inside a token) as JSON.parse does', () => {
    const odd: Array<Record<string, unknown>> = [{ 'gällium': 2, 'a:b': 1, '{x}': 0.5, 'say "no"': 1, 'back\\slash': 2, ['__proto__']: 1, constructor: 2 }, { ok: 1, nan: null }];
    const json = JSON.stringify(odd);
    expect(parseMemberWeights(json)).toEqual(asWeights(JSON.parse(json) as Array<Record<string, unknown>>));
    expect([...parseMemberWeights('[{"a:b":1}]')[0]!]).toEqual([['a:b', 1]]);
  });

  it('equals the plain reading for arbitrary members', () => {
    const token = fc.oneof(fc.stringMatching(/^[a-z0-9.]{0,12}$/), fc.string({ maxLength: 8 }));
    const weight = fc.oneof(fc.constantFrom(2, 1, 0.5, 0.25), fc.double(), fc.integer());
    fc.assert(
      fc.property(fc.array(fc.dictionary(token, weight, { maxKeys: 20 }), { maxLength: 8 }), (members) => {
        const json = JSON.stringify(members);
        expect(parseMemberWeights(json)).toEqual(asWeights(JSON.parse(json) as Array<Record<string, unknown>>));
      }),
      { numRuns: 500 },
    );
  });
});
