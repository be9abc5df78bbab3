import { describe, expect, it } from 'vitest';
import { defaultScorer, item, top } from './helpers.js';

const scorer = defaultScorer();

describe('Korean lifting and negation after the signal', () => {
  it('reads a lifting or suspending verb a word or two after a Korean signal as de-escalation', () => {
    for (const title of ['중국, 갈륨·게르마늄 대미 수출 금지 조치를 해제했다', '중국, 희토류 수출 통제를 전면 해제', '중국, 대미 희토류 수출 통제 조치 1년간 유예']) {
      expect(top(scorer, item(title)).direction, title).not.toBe('escalation');
    }
  });

  it('does not count a ban that Korean negates after it ("will not ban")', () => {
    expect(top(scorer, item('중국, 희토류 수출 금지하지 않겠다')).level).toBe('none');
  });

  it('does not count a ban negated with the short 안 before the verb, or with any ending of 않다', () => {
    for (const title of ['중국, 갈륨 수출 금지 안 한다', '중국, 희토류 수출 통제 안 하기로', '중국, 갈륨 수출 금지하지 않습니다']) {
      expect(top(scorer, item(title)).level, title).toBe('none');
    }
  });

  it('still reads a ban when 안 or 않 belong to other words (제안, 적지 않은)', () => {
    for (const title of ['중국, 희토류 수출 금지를 제안한다', '중국, 희토류 수출 금지로 적지 않은 피해']) {
      expect(top(scorer, item(title)).direction, title).toBe('escalation');
    }
  });

  it('still reads a Korean export ban as an escalation', () => {
    expect(top(scorer, item('중국, 희토류 수출 금지')).direction).toBe('escalation');
  });
});

describe('Korean words containing 관세 (tariff)', () => {
  it('does not read 관세청 (customs service) as tariffs', () => {
    expect(top(scorer, item('관세청, 희토류 밀수 적발')).why).not.toMatch(/^Tariffs/);
  });
});

describe('Korean hedges after the signal', () => {
  it('reads a ban under consideration or pursued as possible, not as a fact', () => {
    for (const title of ['중국, 희토류 수출 금지 검토', '중국, 희토류 수출 통제 강화 추진', '중국, 희토류 수출 금지할 수도']) {
      expect(top(scorer, item(title)).why, title).toMatch(/^Possible/);
    }
  });
});

describe('decomposed Hangul', () => {
  it('reads a headline sent as conjoining jamo (NFD) like the composed one', () => {
    const title = '중국, 희토류 수출 금지';
    expect(top(scorer, item(title.normalize('NFD'))).score).toBe(top(scorer, item(title)).score);
    expect(top(scorer, item(title.normalize('NFD'))).level).toBe('high');
  });
});

describe('Korean question titles', () => {
  it('hedge a measure the question ends on, as a Chinese or English yes/no question does', () => {
    for (const title of ['중국, 갈륨 수출 금지할까?', '중국 갈륨 수출 금지 나설까?', '중국이 갈륨 수출을 금지할 것인가?', '중국, 희토류 수출 중단하나?']) {
      expect(top(scorer, item(title)).why, title).toMatch(/^Analysis: possible/);
    }
  });

  it('do not hedge a measure asked about in the past, asked why, or given before a question about something else', () => {
    for (const title of ['중국은 왜 갈륨 수출을 금지했나?', '중국, 갈륨 수출 금지했나?', '중국 갈륨 수출 금지, 한국은 괜찮을까?']) {
      expect(top(scorer, item(title)).why, title).toMatch(/^Analysis: export ban/);
    }
  });

  it('name the flow in English in the reason', () => {
    expect(top(scorer, item('중국, 희토류 수출 중단')).why).toMatch(/^Halt of exports affecting rare earths/);
    expect(top(scorer, item('中国暂停稀土出口')).why).toMatch(/^Halt of exports affecting rare earths/);
    expect(top(scorer, item('중국, 희토류 공급 중단')).why).toMatch(/^Halt of supply affecting rare earths/);
  });
});

describe('Korean resumption', () => {
  it('reads 재개 after exports or export licences as their resumption, and not inside 재개발 (redevelopment)', () => {
    for (const title of ['중국, 희토류 수출 재개', '중국, 희토류 수출 허가 재개']) {
      expect(top(scorer, item(title)).why, title).toMatch(/^Resumption of export/);
      expect(top(scorer, item(title)).direction, title).toBe('de-escalation');
    }
    expect(top(scorer, item('중국, 희토류 광산 재개발 위해 수출 중단')).direction).toBe('escalation');
  });
});
