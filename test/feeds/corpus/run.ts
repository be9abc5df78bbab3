import { type Check, manifest, parseInput, rates } from './compare.js';
import { feedparserChecks, feedparserHttp } from './feedparser.js';
import { gofeedChecks } from './gofeed.js';
import { rssParserChecks } from './rss-parser.js';

/** Parses every manifest entry once and checks it against its set's expectations. */
export function runCorpus(): Check[] {
  const checks: Check[] = [];
  for (const entry of manifest()) {
    if (entry.set.startsWith('gofeed')) checks.push(...gofeedChecks(entry, parseInput(entry.input)));
    else if (entry.set === 'rss-parser') checks.push(...rssParserChecks(entry, parseInput(entry.input, { contentType: entry.encoding ? 'text/xml; charset=latin1' : undefined })));
    else checks.push(...feedparserChecks(entry, parseInput(entry.input, feedparserHttp(entry))));
  }
  return checks;
}

/** A printable table: per set and overall, the match rate of each field ("non-empty" counts only expected values). */
export function report(checks: Check[]): string {
  const lines: string[] = [];
  const sets = ['all', ...new Set(checks.map((c) => c.set))];
  for (const set of sets) {
    const subset = set === 'all' ? checks : checks.filter((c) => c.set === set);
    const cells = [...rates(subset)].map(([field, r]) => `${field} ${pct(r.ok, r.total)} (${r.ok}/${r.total}; non-empty ${pct(r.nonEmptyOk, r.nonEmpty)})`);
    lines.push(`${set.padEnd(22)} ${cells.join(' | ')}`);
  }
  return lines.join('\n');
}

export function pct(ok: number, total: number): string {
  return total === 0 ? 'n/a' : `${((100 * ok) / total).toFixed(1)}%`;
}
