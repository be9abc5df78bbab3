import { describe, expect, it } from 'vitest';
import { assessFor, defaultScorer, item } from './helpers.js';

const scorer = defaultScorer();

describe('a verb that changes what a signal means', () => {
  it('does not lift a ban from another clause ("chip stocks drop as the US bans exports")', () => {
    const a = assessFor(scorer, 'semiconductors', item('Chip stocks drop as US bans exports of AI accelerators to China'));
    expect(a.direction).toBe('escalation');
    expect(a.why).not.toMatch(/lifted/);
    expect(a.level).not.toBe('none');
  });

  it('does not suspend controls from another clause ("halts talks as the US restricts exports")', () => {
    for (const title of ['Beijing halts talks as US restricts exports of AI chips', 'China suspends talks as US imposes export controls on AI chips']) {
      const a = assessFor(scorer, 'semiconductors', item(title));
      expect(a.direction, title).toBe('escalation');
      expect(a.why, title).not.toMatch(/suspended/);
    }
  });

  it('lets the nearer verb decide when a lifting verb and an escalating one both precede the signal', () => {
    const a = assessFor(scorer, 'critical-minerals', item('China lifts tariffs and imposes export controls on gallium'));
    expect(a.direction).toBe('escalation');
    expect(a.why).toMatch(/^Export controls on gallium/);
    expect(a.why).not.toMatch(/lifted/);
  });

  it('still reads a lifting verb as governing a participle that modifies the signal, before or after it', () => {
    for (const title of ['China agreed to suspend newly imposed export controls on rare earth elements', 'China lifts rare earth export controls imposed in 2023']) {
      const a = assessFor(scorer, 'rare-earth-magnets', item(title));
      expect(a.direction, title).toBe('de-escalation');
    }
  });

  it('still reads a dropped plan to restrict exports as a possible lifting', () => {
    const a = assessFor(scorer, 'semiconductors', item('US drops plan to restrict AI chip exports'));
    expect(a.direction).toBe('de-escalation');
  });
});
