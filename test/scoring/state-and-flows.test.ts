import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/errors.js';
import { createScorer } from '../../src/scoring/index.js';
import { summarise } from '../../src/scoring/backtest.js';
import { configWith, defaultScorer, item } from './helpers.js';

const scorer = defaultScorer();
const top = (title: string) => {
  const r = summarise('t', scorer.assess(item(title)));
  return `${r.level} ${r.direction}`;
};

describe('signals only a state sends (lexicon `state`)', () => {
  it('read "bars ... from selling" as an export ban from a state, not from a regulator, a judge or a contract', () => {
    expect(top('US bars Nvidia from selling H20 chips to China')).toBe('high escalation');
    expect(top('SEC bars former Nvidia trader from selling securities')).toBe('none neutral');
    expect(top('Court bars Samsung from selling Galaxy phones in patent row')).toBe('none neutral');
  });

  it('read a state that opens a later sentence of a summary as heading its order, and one told by others as not', () => {
    const inSummary = (summary: string) => {
      const r = summarise('s', scorer.assess(item('Market update', summary)));
      return `${r.level} ${r.direction}`;
    };
    expect(inSummary('Trade tensions rose on Monday. China orders exporters to stop shipping gallium to US.')).toBe('high escalation');
    expect(inSummary('Trade tensions rose on Monday. Lawmakers want White House to order Nvidia to stop selling chips to China.')).toBe('none neutral');
  });

  it('read a state named in an earlier sentence as heading an order only through "it" or "the ministry", not a company, union or judge', () => {
    const inSummary = (title: string, summary: string) => {
      const r = summarise('s', scorer.assess(item(title, summary)));
      return `${r.level} ${r.direction}`;
    };
    expect(inSummary('New curbs', 'The U.S. Commerce Department acted on Tuesday. It told Nvidia to stop selling H20 chips to China.')).toBe('high escalation');
    expect(inSummary('Magnet curbs widen', 'China said on Tuesday it would tighten rare earth export controls. The commerce ministry ordered exporters to stop shipping magnets to US defence firms.')).toBe('high escalation');
    expect(inSummary('Nvidia guidance', 'US export curbs remain in place. Nvidia told distributors to stop selling RTX 4090 chips to China, the company said.')).toMatch(/^(none|info) /);
    expect(inSummary('Strike at Samsung', "Seoul's labour ministry is mediating. Samsung's union told members to stop shipping HBM to China during the walkout.")).toMatch(/^(none|info) /);
    expect(inSummary('Court ruling', 'The US has appealed a patent ruling. A Delaware judge ordered Qualcomm to stop selling Snapdragon chips to Chinese phone makers.')).toMatch(/^(none|info) /);
    expect(inSummary('Distributor changes', "China remains Micron's third-largest market. Arrow Electronics no longer allows resellers to ship Micron DRAM to Russia.")).toMatch(/^(none|info) /);
  });

  it('weigh a halt by a company as a supply halt, not an export halt', () => {
    const state = summarise('s', scorer.assess(item('China cancels gallium shipments to Japan')));
    const company = summarise('c', scorer.assess(item('Exporter cancels gallium shipments after price dispute')));
    expect(state.level).toBe('high');
    expect(company.level).toBe('medium');
  });

  it('reports an `otherwise` that names no signal', () => {
    const config = configWith('watchlists: []\n', {
      'lexicon.yaml': `signals:
  - id: seizure
    class: restriction
    weight: 40
    state: subject
    otherwise: confiscaton
    aliases: [seizure]
`,
    });
    let issues: string[] = [];
    try {
      createScorer(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues = err.issues.map(formatIssue);
    }
    expect(issues).toEqual([expect.stringMatching(/lexicon\.yaml:\d+: signals\[0\]\.otherwise: unknown signal "confiscaton"$/)]);
  });
});

describe('what halts a flow', () => {
  it('ends a flow only from before it', () => {
    expect(top('China ends exports of rare earth magnets to US defence firms')).toBe('high escalation');
    expect(top("China's rare earth exports end 2024 down 40%")).toBe('none neutral');
  });

  it('acts on the noun a flow qualifies, not the flow', () => {
    expect(top('Chipmakers end supply talks without deal')).toBe('none neutral');
    // Cancelling car shipments halts no chips; the chip shortage it names is the supply news (a bare flow beside it is
    // no news that would make the shortage its mere background).
    const toyota = summarise('t', scorer.assess(item('Toyota cancels shipments of cars amid chip shortage')));
    expect(toyota.why).toMatch(/^Shortage of semiconductors/);
    expect(toyota.why).not.toMatch(/halt/i);
  });

  it('reads a lifted halt as easing it', () => {
    expect(top('China lifts halt of rare earth exports')).toBe('low de-escalation');
    expect(summarise('w', scorer.assess(item('China lifts halt of rare earth exports'))).why).toMatch(/^Halt of exports affecting rare earths .* lifted — /);
    expect(top('중국, 희토류 수출 중단 해제')).toBe('low de-escalation');
  });

  it('keeps English split terms to a few words of one clause', () => {
    expect(top('US bars AI chip exports to China')).toBe('high escalation');
    expect(top('US bars deal as chip exports rise')).toBe('none neutral');
  });
});
