import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Item } from '../../src/items/item.js';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';
import { createScorer } from '../../src/scoring/index.js';
import { Matcher, type Term } from '../../src/scoring/matcher.js';
import { normalizeText } from '../../src/scoring/normalize.js';
import { LEVELS } from '../../src/scoring/types.js';

/**
 * Matching and scoring run on every item of every source: whatever the text, they must return (never throw),
 * deterministically, with scores and levels in range. Items are assembled from words the shipped lexicon knows,
 * near-misses, exclusions and arbitrary text, so the property reaches the scoring rules and not only "no match".
 */
const config = loadConfig(PACKAGE_CONFIG_DIR, {});
const scorer = createScorer(config);

const WORDS = [
  'China', 'Beijing', 'US', 'Commerce', 'bans', 'ban', 'export', 'exports', 'export controls', 'licence', 'license requirement',
  'gallium', 'germanium', 'samarium', 'rare earths', 'rare-earth magnets', 'dysprosium', 'antimony', 'graphite', 'tungsten',
  'HBM', 'AI chips', 'chips', 'potato chips', 'poker chips', 'magnet school', 'Earth Day', 'lifts', 'eases', 'suspends', 'tariff',
  'sanctions', 'Entity List', 'shutdown', 'fire', 'shortage', 'price spike', 'ASML', 'TSMC', 'Nvidia', 'smelter', 'mine',
  '镓', '锗', '出口管制', '稀土', '禁止', '出口', '、', '，', '갈륨을', '수출을', '금지', 'Ｇａｌｌｉｕｍ', 'GALLIUM', 'gal-lium',
  'not', 'no longer', 'would', 'may', 'rumour',
  '.', ',', ';', ' - ', '—', '(', ')', '"', "'", '\n', '  ', '2025', '50%',
];
const prose = fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 40 }).map((w) => w.join(' '));
const item = fc.record({
  title: prose,
  summary: fc.oneof(prose, fc.constant('')),
  content: fc.option(prose, { nil: undefined }),
  sourceId: fc.constantFrom('wire', 'federalregister.gov', 'unknown-blog', ''),
  publishedAt: fc.option(fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2030-01-01') }).map((d) => d.toISOString()), { nil: null }),
});

describe('the scorer', () => {
  it('assesses any item against every watchlist, deterministically, with score and level in range', () => {
    const watchlists = config.watchlists.filter((w) => w.enabled).length;
    let relevant = 0;
    fc.assert(
      fc.property(item, fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }), (fields, corroboration) => {
        const it: Item = { id: 'p1', fetchedAt: '2026-03-01T12:00:00.000Z', ...fields };
        const context = { corroboration, now: new Date('2026-03-01T12:00:00Z') };
        const assessments = scorer.assess(it, context);
        expect(assessments).toHaveLength(watchlists);
        for (const a of assessments) {
          expect(a.score).toBeGreaterThanOrEqual(0);
          expect(a.score).toBeLessThanOrEqual(100);
          expect(LEVELS).toContain(a.level);
          expect(['escalation', 'de-escalation', 'neutral']).toContain(a.direction);
          expect(typeof a.why).toBe('string');
          for (const m of a.matches) expect(['title', 'summary', 'content']).toContain(m.field);
          if (a.level !== 'none') relevant++;
        }
        expect(scorer.assess(it, context)).toEqual(assessments);
      }),
      { numRuns: 1_000 },
    );
    // The generator must reach the scoring rules, not only items that match nothing.
    expect(relevant).toBeGreaterThan(20);
  });
});

describe('the matcher', () => {
  it('finds hits only within the text, whatever the terms and the text', () => {
    const alias = fc.oneof(fc.constantFrom('gallium', 'rare earth', 'rare-earth{s,}', 'HBM', '^ASML', '=U.S.', '镓', 'chip{s,}', '禁止…出口', '수출…금지'), fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/[{}|]/.test(s)));
    fc.assert(
      fc.property(fc.array(fc.array(alias, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }), fc.oneof(prose, fc.string({ unit: 'binary' })), (aliases, text) => {
        const terms: Term[] = aliases.map((_, i) => ({ kind: i % 2 ? 'keyword' : 'material', id: `t${i}`, scope: 'w' }));
        const matcher = new Matcher(terms, (i) => aliases[i]);
        const normalized = normalizeText(text);
        for (const hit of matcher.find(normalized)) {
          expect(hit.start).toBeGreaterThanOrEqual(0);
          expect(hit.end).toBeGreaterThan(hit.start);
          expect(hit.end).toBeLessThanOrEqual(normalized.length);
          expect(hit.term).toBeLessThan(terms.length);
        }
      }),
      { numRuns: 1_000 },
    );
  });
});
