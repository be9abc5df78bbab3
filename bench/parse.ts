import { readFileSync } from 'node:fs';
import Parser from 'rss-parser';
import { FeedParseError } from '../src/errors.js';
import { parseFeed } from '../src/sources/feed/parse.js';

/**
 * Feed parse throughput over the peer corpus (read in place from ../shared/feeds-corpus), ours side by side with
 * rss-parser's parseString in the same process, on the same documents, after a warm-up.
 *
 * Ours does more work per byte: charset detection and decoding from bytes, HTML to text, date parsing, canonical
 * URLs and a SHA-256 fingerprint per item. rss-parser is handed an already decoded string and stops at its own
 * object model (it does strip HTML for contentSnippet). MB/s counts every document offered, whether it parsed or
 * not; items/s counts the items each parser returned.
 */
interface Run {
  seconds: number;
  items: number;
  failures: number;
}

const ROUNDS = 10;

interface DocumentSet {
  name: string;
  docs: Buffer[];
}

/** The whole corpus (mostly tiny single-case test documents), and its 29 captures of real publishers' feeds. */
function corpus(): DocumentSet[] {
  const root = new URL('../../shared/feeds-corpus/', import.meta.url);
  const manifest = JSON.parse(readFileSync(new URL('manifest.json', root), 'utf8')) as Array<{ input: string; set: string }>;
  const read = (inputs: string[]) => [...new Set(inputs)].map((input) => readFileSync(new URL(input, root)));
  return [
    { name: 'whole peer corpus', docs: read(manifest.map((e) => e.input)) },
    { name: 'real publishers\' feeds (rss-parser set)', docs: read(manifest.filter((e) => e.set === 'rss-parser').map((e) => e.input)) },
  ];
}

function ours(docs: Buffer[]): Run {
  let items = 0;
  let failures = 0;
  const started = performance.now();
  for (const doc of docs) {
    try {
      items += parseFeed(doc, { sourceId: 'bench' }).items.length;
    } catch (err) {
      if (!(err instanceof FeedParseError)) throw err;
      failures++;
    }
  }
  return { seconds: (performance.now() - started) / 1000, items, failures };
}

async function theirs(parser: Parser, docs: string[]): Promise<Run> {
  let items = 0;
  let failures = 0;
  const started = performance.now();
  for (const doc of docs) {
    try {
      items += (await parser.parseString(doc)).items.length;
    } catch {
      failures++;
    }
  }
  return { seconds: (performance.now() - started) / 1000, items, failures };
}

function best(runs: Run[]): Run {
  return runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

function line(name: string, run: Run, bytes: number, docs: number): string {
  const mbs = bytes / 1e6 / run.seconds;
  return `${name.padEnd(12)} ${mbs.toFixed(2).padStart(7)} MB/s  ${Math.round(run.items / run.seconds).toString().padStart(8)} items/s  (${run.items} items, ${docs - run.failures}/${docs} documents parsed, best of ${ROUNDS}: ${(run.seconds * 1000).toFixed(0)} ms)`;
}

async function measure({ name, docs }: DocumentSet, parser: Parser): Promise<void> {
  const strings = docs.map((d) => d.toString('utf8'));
  const bytes = docs.reduce((sum, d) => sum + d.length, 0);
  // Warm-up: both parsers' code paths compiled before anything is timed.
  ours(docs);
  await theirs(parser, strings);
  const oursRuns: Run[] = [];
  const theirRuns: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    oursRuns.push(ours(docs));
    theirRuns.push(await theirs(parser, strings));
  }
  const a = best(oursRuns);
  const b = best(theirRuns);
  console.log(`${name}: ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB`);
  console.log(line('chokepoint', a, bytes, docs.length));
  console.log(line('rss-parser', b, bytes, docs.length));
  console.log(`ratio (MB/s, chokepoint / rss-parser): ${(b.seconds / a.seconds).toFixed(2)}x; items/s ratio: ${(a.items / a.seconds / (b.items / b.seconds)).toFixed(2)}x`);
}

/** Prints MB/s and items/s for both parsers and the ratio, over the whole corpus and over its real feeds. */
export async function run(): Promise<void> {
  const parser = new Parser();
  for (const set of corpus()) await measure(set, parser);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
