import { describe, expect, it } from 'vitest';
import { levelRank } from '../../src/scoring/types.js';
import { assessFor, defaultScorer, item, top } from './helpers.js';

const scorer = defaultScorer();
const minerals = (title: string) => assessFor(scorer, 'critical-minerals', item(title));

describe('a split Chinese term does not swallow what stands between its halves', () => {
  it('keeps an export ban when 管制 follows it: the ban is not lowered to export controls', () => {
    const a = minerals('中国对美实施镓出口禁令并加强管制');
    expect(a.why).toMatch(/^Export ban on gallium/);
    expect(a.score).toBeGreaterThanOrEqual(80);
    expect(top(scorer, item('美国扩大对华芯片出口禁令及管制范围')).why).toMatch(/^Export ban on/);
  });

  it('keeps the export ban of 禁止镓锗出口和进口 rather than reading it all as an import ban', () => {
    expect(minerals('中国禁止镓锗出口和进口').why).toMatch(/^Export ban on gallium and germanium/);
  });

  it('reads a lifting verb between 出口 and 管制 as lifting the export controls, as in English', () => {
    for (const title of ['中方对镓锗出口解除管制', '中方宣布对美镓出口取消管制', '美国对华芯片出口放宽管制', '镓锗出口暂停管制', '中国对镓出口暂停实施管制']) {
      const a = top(scorer, item(title));
      expect(a.direction, title).toBe('de-escalation');
      expect(a.why, title).toMatch(/^Export controls on .* (lifted|eased|suspended)/);
    }
  });

  it('does not let an exclusion between the halves silence the split term (模拟芯片, 石墨烯和石墨)', () => {
    expect(top(scorer, item('美国禁止模拟芯片对华出口')).why).toMatch(/^Export ban on/);
    expect(levelRank(minerals('中国宣布禁止石墨烯和石墨出口').level)).toBeGreaterThanOrEqual(levelRank('high'));
  });

  it('joins a ban and 出口 across a long list of goods and a destination', () => {
    const a = minerals('中国禁止稀土、镓、锗等关键矿产向美国军工企业出口');
    expect(levelRank(a.level)).toBeGreaterThanOrEqual(levelRank('high'));
    expect(a.why).toMatch(/^Export ban on/);
  });

  it('does not read 安全出口 (emergency exit) as exports', () => {
    expect(top(scorer, item('宁德时代工厂发生火灾 消防部门禁止堵塞安全出口')).why).not.toMatch(/[Ee]xport ban/);
  });

  it('does not join 出口 and 管制 across a space between two headline clauses', () => {
    expect(top(scorer, item('中国扩大稀土出口 加强走私管制')).why).not.toMatch(/^Export controls/);
  });
});
