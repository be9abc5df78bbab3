import { describe, expect, it } from 'vitest';
import { defaultScorer, item, top } from './helpers.js';

const scorer = defaultScorer();
const direction = (title: string) => top(scorer, item(title)).direction;

describe('a lifting verb before a signal governs what modifies the signal', () => {
  it('over a participle separated from the signal only by the goods', () => {
    expect(direction('China suspends newly imposed rare earth export controls')).toBe('de-escalation');
  });

  it('over a participle after the signal, "and" inside the list of goods notwithstanding', () => {
    expect(direction('China suspends gallium and germanium export controls imposed in 2023')).toBe('de-escalation');
  });

  it('over a plan, decision or rule to escalate', () => {
    for (const title of [
      'China suspends decision to tighten rare earth export controls',
      'US pauses rule that would expand chip export controls to affiliates',
      'US scraps plan to expand AI chip export curbs',
      'US drops plans to add Chinese chipmakers to Entity List',
    ]) {
      expect(direction(title), title).not.toBe('escalation');
    }
  });

  it('but not over a verb of its own coordinated with it', () => {
    expect(direction('US lifts tariffs and imposes gallium export controls')).toBe('escalation');
  });
});

describe('an aside or a topic colon does not cut a lifting verb from its signal', () => {
  it('reads the lifting across a paired aside', () => {
    expect(direction('China lifts, as of Monday, its gallium export ban')).toBe('de-escalation');
    expect(direction('Beijing suspends — for now — its gallium export ban')).toBe('de-escalation');
  });

  it('reads a lifting verb after a topic colon or dash as acting on the topic', () => {
    for (const title of ["China's rare earth export controls: Beijing eases licensing", 'Gallium export ban: China lifts it for US buyers', "China's gallium export ban – lifted"]) {
      expect(direction(title), title).toBe('de-escalation');
    }
  });

  it('but not when the verb after the colon has an object of its own', () => {
    const a = top(scorer, item("China's gallium export ban: US lifts chip tariffs"));
    expect(a.why).toMatch(/^Export ban on gallium/);
    expect(a.direction).toBe('escalation');
  });

  it('still does not let a verb before a break act on the signal after it', () => {
    expect(direction('Chip stocks drop as US bans gallium exports')).toBe('escalation');
  });

  it('does not let a verb that a comma follows act across it, while a list of goods between verb and signal stays', () => {
    for (const title of ['Shares drop, US bans exports of chipmaking tools to China', 'Talks end, China bans rare earth exports', 'US chip export ban, stocks drop']) {
      expect(direction(title), title).toBe('escalation');
    }
    expect(direction('China suspends gallium, germanium export controls')).toBe('de-escalation');
  });
});

describe('a halting verb before a verb that grants licences', () => {
  it('reads stopping or suspending the issuing of licences as an export halt', () => {
    for (const title of ['China stops issuing export licences for rare earths', 'China suspends issuing export permits for gallium', 'China halts approval of rare earth export licences']) {
      const a = top(scorer, item(title));
      expect(a.direction, title).toBe('escalation');
      expect(a.why, title).toMatch(/^Halt of export (licences|permits) affecting/);
    }
    expect(direction('China resumes issuing export licences for rare earths')).not.toBe('escalation');
  });
});

describe('resumed export licences', () => {
  it('resume the exports they allow, in English words in the reason', () => {
    for (const title of ['中国恢复稀土出口许可', 'China resumes rare earth export licences']) {
      expect(top(scorer, item(title)).why, title).toMatch(/^Resumption of export licences for rare earths/);
    }
  });
});
