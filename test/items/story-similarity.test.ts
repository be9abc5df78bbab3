import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { featureWeights, readMembers, similarity } from '../../src/items/story-similarity.js';
import { GENERIC_FACTOR, storyFeatures, SUMMARY_WEIGHT, TITLE_WEIGHT } from '../../src/items/story-tokens.js';

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

describe('story similarity to a member read from JSON', () => {
  it('equals the comparison of two weight maps, whatever the tokens and their order', () => {
    const token = fc.constantFrom('china', 'us', 'gallium', 'export', 'ban', 'constructor', 'toString', 'a1', 'b2', 'c3', '2025', '3.5');
    const features = fc.dictionary(token, fc.constantFrom(2, 1, 0.5));
    fc.assert(
      fc.property(features, features, (item, member) => {
        const read = JSON.parse(JSON.stringify(member)) as Record<string, number>;
        expect(similarity(featureWeights(item), read)).toBe(similarity(featureWeights(item), featureWeights(member)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('a story\'s members read back from their JSON', () => {
  const item = storyFeatures({ title: 'China bans gallium and germanium exports to the US', summary: 'Beijing restricts gallium from 1.8.2025' });
  const compared = (members: ReturnType<typeof readMembers>) => members.map((m) => similarity(featureWeights(item), m));
  const plain = (json: string) => (JSON.parse(json) as Array<Record<string, number>>).map((m) => similarity(featureWeights(item), m));

  it('reads what the tokenizer writes as each member\'s text and compares it exactly as the object', () => {
    const members = [
      storyFeatures({ title: 'Beijing halts gallium shipments to America', summary: 'Commerce ministry licences from 2025' }),
      storyFeatures({ title: 'Dysprosium prices jump 3.5% after licence rules' }),
      {},
    ];
    const json = JSON.stringify(members);
    const read = readMembers(json);
    expect(read).toEqual(members.map((m) => JSON.stringify(m)));
    expect(compared(read)).toEqual(plain(json));
    expect(compared(read)[0]).toBeGreaterThan(0.24);
    expect(readMembers('[]')).toEqual([]);
  });

  it('reads any other JSON (another tokenizer, escapes, syntax inside a token) as objects', () => {
    const odd = [{ 'gällium': 2, 'a:b': 1, '{x}': 0.5, 'say "no"': 1, china: 1 }, { gallium: 2, nan: null }];
    const json = JSON.stringify(odd);
    const read = readMembers(json);
    expect(read).toEqual(odd);
    expect(compared(read)).toEqual(plain(json));
    // A key with JSON syntax in it is never read as text.
    expect(readMembers('[{"a:b":1}]')).toEqual([{ 'a:b': 1 }]);
  });

  it('compares items of any size, one after another, each against the same text', () => {
    const words = (n: number, from = 0) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${from + i}x`, i % 3 === 0 ? 2 : 1]));
    const members = [{ ...words(40), gallium: 2 }, words(10, 30)];
    const json = JSON.stringify(members);
    const read = readMembers(json);
    for (const size of [150, 3, 70, 3]) {
      const other = { ...words(size, 5), gallium: 1 };
      expect(read.map((m) => similarity(featureWeights(other), m))).toEqual(members.map((m) => similarity(featureWeights(other), m)));
    }
  });

  it('compares arbitrary members as the objects would be compared', () => {
    const token = fc.oneof(fc.stringMatching(/^[a-z0-9.]{0,8}$/), fc.constantFrom('china', 'gallium', 'constructor', '2025', 'ban', 'urban', 'a:b', '{', '"', ','));
    fc.assert(
      fc.property(fc.array(fc.dictionary(token, fc.constantFrom(2, 1, 0.5, 0, 0.25, 12.5), { maxKeys: 12 }), { maxLength: 6 }), (members) => {
        const json = JSON.stringify(members);
        expect(compared(readMembers(json))).toEqual(plain(json));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('story feature weights', () => {
  it('are whole multiples of 1/1024, so every sum of them is exact whatever the order of adding', () => {
    // The comparisons add a member's weights in its own order (by text or by object); only exact sums make that the
    // same value as adding in the item's order.
    for (const weight of [TITLE_WEIGHT, SUMMARY_WEIGHT, TITLE_WEIGHT * GENERIC_FACTOR, SUMMARY_WEIGHT * GENERIC_FACTOR]) {
      expect(Number.isInteger(weight * 1024)).toBe(true);
    }
  });
});
