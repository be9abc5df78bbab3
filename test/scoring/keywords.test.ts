import { describe, expect, it } from 'vitest';
import { createScorer } from '../../src/scoring/index.js';
import { assessFor, configWith, item } from './helpers.js';

describe('watchlist keywords', () => {
  const scorer = createScorer(
    configWith(`watchlists:
  - { id: kw, keywords: [SAMARIUM, "Rare Earth Magnet", HBM4, "^GaN"] }
`),
  );

  it('match in any letter case, however they are written in the watchlist', () => {
    expect(assessFor(scorer, 'kw', item('China bans exports of samarium')).entities).toEqual(['samarium']);
    expect(assessFor(scorer, 'kw', item('China bans exports of SAMARIUM')).entities).toEqual(['samarium']);
    expect(assessFor(scorer, 'kw', item('China bans exports of rare-earth magnets')).entities).toEqual(['rare earth magnet']);
    expect(assessFor(scorer, 'kw', item('US bans exports of hbm4 stacks to China')).entities).toEqual(['hbm4']);
  });

  it('match only in the case written when marked "^", and are named without the mark', () => {
    expect(assessFor(scorer, 'kw', item('China bans exports of GaN wafers')).entities).toEqual(['gan']);
    expect(assessFor(scorer, 'kw', item('Regulator Gan bans exports of wafers')).entities).toEqual([]);
  });
});
