import { describe, expect, it } from 'vitest';
import { summarise } from '../../src/scoring/backtest.js';
import { createScorer } from '../../src/scoring/index.js';
import { configWith, item } from './helpers.js';

// A made-up verb and noun that no built-in term knows, so only the signal under test can match them.
const config = configWith('watchlists:\n  - { id: minerals, materials: [gallium, rare-earths] }\n', {
  'lexicon.yaml': `signals:
  - id: named-zorvak
    label: zorvak
    class: restriction
    weight: 70
    namesCompany: true
    aliases: ["zorvaks…qublets"]
`,
});
const scorer = createScorer(config);
const level = (title: string) => summarise('t', scorer.assess(item(title))).level;

describe('a signal whose split aliases name a company (lexicon `namesCompany`)', () => {
  it('joins its halves around a company named between them', () => {
    expect(level('Ministry zorvaks Lynas rare earth qublets')).not.toBe('none');
  });

  it('leaves its halves apart when no company stands between them', () => {
    expect(level('Ministry zorvaks gallium qublets')).toBe('none');
    expect(level('Lynas zorvaks rare earth qublets')).toBe('none');
  });
});
