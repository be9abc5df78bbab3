import { describe, expect, it } from 'vitest';
import { levelRank } from '../../src/scoring/types.js';
import { assessFor, defaultScorer, item, top } from './helpers.js';

const scorer = defaultScorer();
const entitiesOf = (title: string) => [...new Set(scorer.assess(item(title)).flatMap((a) => a.entities))];

describe('Chinese terms inside longer words', () => {
  it('does not read 中美洲 (Central America) as US–China, but still reads 中美 and 美中 as the pair', () => {
    expect(entitiesOf('中美洲国家对芯片实施出口管制')).not.toContain('us-china');
    expect(entitiesOf('中美贸易摩擦升级，美国对芯片实施出口管制')).toContain('us-china');
    expect(entitiesOf('美中就芯片出口管制举行会谈')).toContain('us-china');
  });

  it('does not read 模拟 (simulate, analog) as the hedge 拟 (plans to), which still hedges on its own', () => {
    const analog = assessFor(scorer, 'semiconductors', item('美国对模拟芯片实施出口管制'));
    expect(analog.why).not.toMatch(/^Possible/);
    expect(analog.score).toBe(assessFor(scorer, 'semiconductors', item('美国对芯片实施出口管制')).score);
    expect(assessFor(scorer, 'semiconductors', item('美国拟对芯片实施出口管制')).why).toMatch(/^Possible export controls/);
  });

  it('does not read 石墨烯 (graphene) as graphite or 爆炸性 (explosive) as an explosion', () => {
    expect(entitiesOf('石墨烯电池出口禁令')).not.toContain('graphite');
    expect(assessFor(scorer, 'semiconductors', item('AI芯片需求爆炸性增长')).level).toBe('none');
  });
});

describe('a Chinese ban or control whose words are split by what it applies to', () => {
  it('finds 禁止…出口 with the goods or the destination between the verb and 出口', () => {
    for (const title of ['商务部：禁止镓、锗出口', '禁止向美国出口镓和锗']) {
      const a = assessFor(scorer, 'critical-minerals', item(title));
      expect(levelRank(a.level), title).toBeGreaterThanOrEqual(levelRank('high'));
      expect(a.direction, title).toBe('escalation');
      expect(a.why, title).toMatch(/^Export ban on gallium and germanium/);
    }
  });

  it('finds controls on exports with 出口 before the verb, and still the contiguous 实施出口管制', () => {
    for (const title of ['商务部：对镓、锗出口实施管制', '商务部：对镓锗实施出口管制']) {
      const a = assessFor(scorer, 'critical-minerals', item(title));
      expect(levelRank(a.level), title).toBeGreaterThanOrEqual(levelRank('high'));
      expect(a.why, title).toMatch(/^Export controls on gallium and germanium/);
    }
  });

  it('does not join a ban and 出口 across a clause', () => {
    expect(assessFor(scorer, 'critical-minerals', item('禁止外资进入矿业，扩大镓出口')).level).toBe('none');
  });
});

describe('Korean terms with a particle attached', () => {
  it('finds a Korean export ban with particles on the material and on 수출', () => {
    const a = assessFor(scorer, 'critical-minerals', item('중국, 갈륨과 게르마늄 수출을 금지'));
    expect(levelRank(a.level)).toBeGreaterThanOrEqual(levelRank('high'));
    expect(a.entities).toEqual(expect.arrayContaining(['gallium', 'germanium']));
    expect(a.why).toMatch(/^Export ban on gallium and germanium/);
  });

  it('finds Korean export controls on rare earths written with a possessive particle', () => {
    const a = assessFor(scorer, 'rare-earth-magnets', item('중국, 희토류의 수출 통제 강화'));
    expect(a.entities).toContain('rare-earths');
    expect(a.why).toMatch(/^Export controls on rare earths/);
  });
});

describe('Chinese A-not-A questions', () => {
  it('read "会不会" and "是不是" as asking either way (a hedge), not as the negation 不会 or 不是', () => {
    for (const title of ['中国会不会禁止镓出口？', '中国是不是要禁止镓出口？', '中国会不会禁止镓出口']) {
      expect(top(scorer, item(title)).why, title).toMatch(/^(?:Analysis: possible|Possible) export ban on gallium/);
    }
    expect(top(scorer, item('中国不会禁止镓出口')).level).toBe('none');
  });
});
