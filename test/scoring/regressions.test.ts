import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { summarise } from '../../src/scoring/backtest.js';
import { LEVELS } from '../../src/scoring/types.js';
import { defaultScorer, item } from './helpers.js';

/**
 * Headlines the scorer once got wrong (missed export bans, false alarms, a lifting read as a ban), their sibling
 * phrasings and true negatives, each with what `chokepoint score` must print on top: the level, the direction and,
 * when relevant, the watchlist that scores highest.
 */
interface Case {
  id: string;
  title: string;
  /** A lede, where what the title means depends on it ("potato chips" in it makes the title's chips snack food). */
  summary?: string;
  expect: { level: (typeof LEVELS)[number]; direction: 'escalation' | 'de-escalation' | 'neutral'; watchlist?: string };
}

const FIXTURE = new URL('./fixtures/regressions.jsonl', import.meta.url);
const cases: Case[] = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Case);

const scorer = defaultScorer();

describe('the regression headlines', () => {
  it('are well formed: unique ids, known levels, a watchlist wherever an alert is expected', () => {
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const c of cases) {
      expect(LEVELS, c.id).toContain(c.expect.level);
      expect(c.expect.level === 'none' || !!c.expect.watchlist, c.id).toBe(true);
    }
  });

  it.each(cases.map((c) => [c.id, c] as const))('%s scores as expected', (_, c) => {
    const result = summarise(c.id, scorer.assess(item(c.title, c.summary)));
    const topWatchlist = result.level === 'none' ? undefined : result.watchlists.reduce((a, b) => (b.score > a.score ? b : a)).id;
    expect({ level: result.level, direction: result.direction, watchlist: topWatchlist }, `${c.title}\n${result.why}`).toEqual({
      level: c.expect.level,
      direction: c.expect.direction,
      watchlist: c.expect.watchlist,
    });
  });
});
