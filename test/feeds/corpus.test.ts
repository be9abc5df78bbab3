import { describe, expect, it } from 'vitest';
import { type Field, rates } from './corpus/compare.js';
import { pct, report, runCorpus } from './corpus/run.js';

/**
 * The peer corpus (../shared/feeds-corpus): ~1,900 feeds with the expected results of gofeed's, feedparser's and
 * rss-parser's own test suites. Every pair is parsed and compared on feed title and link, and each item's title,
 * link, id and published date; the match rates are printed and must stay above floors set from what was measured.
 * Known misses, by design or upstream quirk: an RDF item's rdf:about is its id and link when it has no other (gofeed
 * leaves them empty); the first of several <link>s wins (gofeed takes the last); DOCTYPEs declaring entities are refused
 * (2 files); relative Atom ids are kept as written; Microsoft CDF documents; a feed title with a self-closing misspelt
 * end tag. Set CORPUS_VERBOSE=1 to print every miss.
 */
const FLOORS: Partial<Record<Field, number>> = {
  parses: 0.998,
  rejects: 1,
  feedTitle: 0.995,
  feedLink: 0.985,
  title: 0.995,
  link: 0.985,
  id: 0.98,
  published: 0.995,
};
/** Floors over the checks whose expected value is not empty (a missing key in gofeed's files means "empty"). */
const NON_EMPTY_FLOORS: Partial<Record<Field, number>> = { title: 0.995, link: 0.995, feedTitle: 0.995, published: 0.995 };

describe('peer corpus', () => {
  const checks = runCorpus();
  const all = rates(checks);
  console.log(`feed corpus match rates (${checks.length} checks)\n${report(checks)}`);
  if (process.env.CORPUS_VERBOSE) for (const miss of checks.filter((c) => !c.ok)) console.log(JSON.stringify(miss).slice(0, 400));

  it.each(Object.entries(FLOORS))('matches %s at or above its floor', (field, floor) => {
    const r = all.get(field as Field);
    expect(r, `no checks for ${field}`).toBeDefined();
    expect(r!.ok / r!.total, `${field}: ${pct(r!.ok, r!.total)}`).toBeGreaterThanOrEqual(floor);
  });

  it.each(Object.entries(NON_EMPTY_FLOORS))('matches non-empty %s values at or above its floor', (field, floor) => {
    const r = all.get(field as Field)!;
    expect(r.nonEmptyOk / r.nonEmpty, `${field}: ${pct(r.nonEmptyOk, r.nonEmpty)}`).toBeGreaterThanOrEqual(floor);
  });

  it('reads every real publisher feed (the rss-parser set) and nearly every title and link in it', () => {
    const real = rates(checks.filter((c) => c.set === 'rss-parser'));
    expect(real.get('parses')!.ok).toBe(real.get('parses')!.total);
    expect(real.get('title')!.ok / real.get('title')!.total).toBeGreaterThanOrEqual(0.995);
    expect(real.get('link')!.ok / real.get('link')!.total).toBeGreaterThanOrEqual(0.99);
  });
});
