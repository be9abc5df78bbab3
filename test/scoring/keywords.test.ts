import { describe, expect, it } from 'vitest';
import { createScorer } from '../../src/scoring/index.js';
import { assessFor, configWith, item } from './helpers.js';

describe('watchlist keywords', () => {
  const scorer = createScorer(
    configWith(`watchlists:
  - { id: kw, keywords: [SAMARIUM, "Rare Earth Magnet", HBM4, "^GaN"] }
`),
  );

  it('match in any letter case, however they are written in the watchlist (bar short capitals)', () => {
    expect(assessFor(scorer, 'kw', item('China bans exports of samarium')).entities).toEqual(['samarium']);
    expect(assessFor(scorer, 'kw', item('China bans exports of SAMARIUM')).entities).toEqual(['samarium']);
    expect(assessFor(scorer, 'kw', item('China bans exports of rare-earth magnets')).entities).toEqual(['rare earth magnet']);
  });

  it('match only in the case written when marked "^", and are named without the mark', () => {
    expect(assessFor(scorer, 'kw', item('China bans exports of GaN wafers')).entities).toEqual(['gan']);
    expect(assessFor(scorer, 'kw', item('Regulator Gan bans exports of wafers')).entities).toEqual([]);
  });
});

describe('short all-caps watchlist keywords', () => {
  const scorer = createScorer(configWith('watchlists:\n  - { id: kw, keywords: [TEL, ARM, TI, GE, HBM4, NAURA] }\n'));

  it('match only in capitals, and without a plural', () => {
    expect(assessFor(scorer, 'kw', item('US imposes sanctions on Iranian firms after Tel Aviv strike')).entities).toEqual([]);
    expect(assessFor(scorer, 'kw', item('EU extends arms embargo on Russia')).entities).toEqual([]);
    expect(assessFor(scorer, 'kw', item('Sanctions hit Ti and Ge producers')).entities).toEqual([]);
    expect(assessFor(scorer, 'kw', item('US adds Tokyo Electron (TEL) China unit to Entity List')).entities).toEqual(['tel']);
    expect(assessFor(scorer, 'kw', item('US bans exports of HBM4 stacks to China')).entities).toEqual(['hbm4']);
  });

  it('of five letters or more still match in any case', () => {
    expect(assessFor(scorer, 'kw', item('US bans exports to Naura')).entities).toEqual(['naura']);
  });
});
