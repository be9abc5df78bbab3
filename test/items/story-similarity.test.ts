import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { featureWeights, similarity, storyFeatures } from '../../src/items/story-tokens.js';

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
