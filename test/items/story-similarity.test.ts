import { describe, expect, it } from 'vitest';
import { similarity, storyFeatures } from '../../src/items/story-tokens.js';

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
