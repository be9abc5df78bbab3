import { describe, expect, it } from 'vitest';
import { makeItem } from '../../src/items/normalise.js';
import { Automaton } from '../../src/scoring/automaton.js';
import { createScratch, normalizeText } from '../../src/scoring/normalize.js';
import { withCpuMs } from '../helpers/cpu.js';
import { assessFor, defaultScorer } from './helpers.js';

const KOREAN = '중국 상무부는 갈륨과 게르마늄 관련 품목에 대한 수출 통제를 발표했다. ';
const ENGLISH = 'China bans gallium exports to the United States with immediate effect. ';

/** The normalised text as a string (lowercase form). */
function normalised(text: string): string {
  const n = normalizeText(text, createScratch());
  expect(n.length).toBeLessThanOrEqual(n.lower.length);
  return String.fromCharCode(...n.lower.subarray(0, n.length));
}

function feedItem(summary: string) {
  return makeItem({ sourceId: 'kr-news', title: 'Market update', summary, fetchedAt: new Date('2025-10-09T08:00:00Z') });
}

/** How often the summary's matches name gallium in English. */
function galliumMatches(summary: string): number {
  const a = assessFor(defaultScorer(), 'critical-minerals', feedItem(summary));
  return a.matches.filter((m) => m.field === 'summary' && m.term.toLowerCase() === 'gallium').length;
}

describe('text whose characters expand when normalised', () => {
  it('keeps every unit when "㎏", "ﷺ" and "™" fold into several letters each', () => {
    // "㎏" folds to "kg", "ﷺ" to 18 letters and "™" to "tm": the normalised text outgrows the original.
    expect(normalised('㎏ ﷺ '.repeat(30) + ENGLISH.repeat(38)).endsWith('with immediate effect')).toBe(true);
    expect(normalised('™'.repeat(200) + ' ' + ENGLISH.repeat(53)).endsWith('with immediate effect')).toBe(true);
  });

  it('keeps the matches at the end of a text that ends in a non-ASCII character', () => {
    const text = normalised('™'.repeat(200) + ' ' + ENGLISH.repeat(53) + 'é');
    expect(text.endsWith('china bans gallium exports to the united states with immediate effect e')).toBe(true);
    expect(text.includes('\u0000')).toBe(false);
  });

  it('scores a Korean lede followed by English sentences quickly, finding every English match', () => {
    const summary = KOREAN.repeat(30) + ENGLISH.repeat(38);
    galliumMatches(ENGLISH); // compile and warm up first: not part of the time per item
    const { value: found, ms } = withCpuMs(() => galliumMatches(summary));
    expect(found).toBe(38);
    expect(ms).toBeLessThan(1000);
  });

  it('scores a summary of 200 "™" followed by English sentences quickly, finding every English match', () => {
    const summary = '™'.repeat(200) + ' ' + ENGLISH.repeat(53);
    galliumMatches(ENGLISH); // compile and warm up first: not part of the time per item
    const { value: found, ms } = withCpuMs(() => galliumMatches(summary));
    expect(found).toBe(53);
    expect(ms).toBeLessThan(1000);
  });
});

describe('a long text repeating the halves of a split term', () => {
  it('scores 20,000 characters of "禁止镓出口" and "禁止" without full stops in well under a second', () => {
    const content = '禁止禁止镓、锗出口出口'.repeat(1800);
    const it = { id: 'long', sourceId: 'wire', title: 'Market update', summary: '', content, publishedAt: null, fetchedAt: '2025-10-09T08:00:00Z' };
    assessFor(defaultScorer(), 'critical-minerals', { ...it, content: '禁止镓出口' }); // compile and warm up first
    const { value: a, ms } = withCpuMs(() => assessFor(defaultScorer(), 'critical-minerals', it));
    expect(ms).toBeLessThan(1000);
    expect(a.why).toMatch(/^Export ban on gallium and germanium/);
  });
});

describe('the automaton on a length beyond its text', () => {
  it('stops at the end of the buffer instead of reading past it', () => {
    const codes = (s: string) => Uint16Array.from(s, (c) => c.charCodeAt(0));
    const found: number[] = [];
    new Automaton([codes('ban')]).scan(codes('a ban'), 50, (_, end) => found.push(end));
    expect(found).toEqual([5]);
  });
});

describe('one long sentence naming an entity and a signal many times', () => {
  it('scores 20,000 characters of "Nvidia H100 ban " without full stops in well under a second', () => {
    const content = 'Nvidia H100 ban '.repeat(1250);
    const it = { id: 'long', sourceId: 'wire', title: 'Chip market', summary: '', content, publishedAt: null, fetchedAt: '2025-10-09T08:00:00Z' };
    assessFor(defaultScorer(), 'semiconductors', { ...it, content: 'Nvidia H100 ban' }); // compile and warm up first
    const { value: a, ms } = withCpuMs(() => assessFor(defaultScorer(), 'semiconductors', it));
    expect(ms).toBeLessThan(1000);
    expect(a.level).not.toBe('none');
  });
});

describe('one long sentence naming many firms by their nationality', () => {
  it('scores 20,000 characters of "Chinese firm Shenghe halts exports" and firms\' orders without full stops in well under a second', () => {
    const content = 'Chinese firm Shenghe halts rare earth exports Lynas orders its units to halt exporting rare earths '.repeat(200);
    const it = { id: 'long', sourceId: 'wire', title: 'Market update', summary: '', content, publishedAt: null, fetchedAt: '2025-10-09T08:00:00Z' };
    assessFor(defaultScorer(), 'rare-earth-magnets', { ...it, content: 'Chinese firm Shenghe halts rare earth exports' }); // compile and warm up first
    const { value: a, ms } = withCpuMs(() => assessFor(defaultScorer(), 'rare-earth-magnets', it));
    expect(ms).toBeLessThan(1000);
    expect(a.level).not.toBe('none');
  });
});
