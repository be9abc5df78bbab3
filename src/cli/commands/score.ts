import { constants, createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type ChokepointConfig, scorerOf } from '../../config/load.js';
import { summarise } from '../../scoring/backtest.js';
import { type InputItem, parseInputLine } from '../../scoring/input.js';
import type { Scorer } from '../../scoring/types.js';
import type { CliIO, Command, ParsedArgs } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { loadConfigOrReport } from './shared.js';

/** Reads JSONL items from a file or stdin ("-"), one at a time, reporting bad lines instead of stopping. */
export async function* readItems(input: string, io: CliIO): AsyncGenerator<InputItem | { error: string }> {
  const stream = input === '-' ? io.stdin : createReadStream(input, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  const fetchedAt = new Date().toISOString();
  let number = 0;
  for await (const line of lines) {
    number++;
    if (!line.trim()) continue;
    yield parseInputLine(line, number, fetchedAt);
  }
}

/**
 * Why a file cannot be read as input, or undefined when it can. Checked without opening or reading it: a pipe
 * (`-i <(cmd)`, /dev/stdin) must be left for the reader, and opening a FIFO with no writer would block.
 */
async function unreadable(file: string): Promise<NodeJS.ErrnoException | undefined> {
  try {
    if ((await stat(file)).isDirectory()) return Object.assign(new Error(`${file} is a directory`), { code: 'EISDIR' });
    await access(file, constants.R_OK);
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/** Shared start of score and backtest: check --input, load the config and build the scorer, or report why not. */
export async function prepare(args: ParsedArgs, io: CliIO, name: string): Promise<{ input: string; scorer: Scorer; dir: string; config: ChokepointConfig } | number> {
  const input = args.values.input as string | undefined;
  if (!input) {
    io.stderr.write(`chokepoint ${name}: --input FILE.jsonl is required ("-" reads stdin)\nRun "chokepoint ${name} --help" for usage.\n`);
    return EXIT.USAGE;
  }
  if (input !== '-') {
    // A directory or an unreadable file is a plain error here, not a crash mid-stream.
    const problem = await unreadable(input);
    if (problem) {
      const why = problem.code === 'ENOENT' ? 'no such file' : problem.code === 'EISDIR' ? 'it is a directory' : problem.code === 'EACCES' ? 'permission denied' : problem.message;
      io.stderr.write(`chokepoint ${name}: cannot read ${input}: ${why}\n`);
      return EXIT.FAILURE;
    }
  }
  // Loading it reports the lexicon's and watchlists' errors too, and builds the scorer.
  const config = loadConfigOrReport(args, io);
  if (!config) return EXIT.FAILURE;
  return { input, scorer: scorerOf(config), dir: config.dir, config };
}

export const scoreCommand: Command = {
  name: 'score',
  summary: 'Score items from a JSONL file against the watchlists and print one JSON line per item',
  help: `Usage: chokepoint score --input FILE.jsonl [--config DIR] [--explain]

Reads one item per line: {"id","title","summary","content"?,"url"?,"source"?,"publishedAt"?} (other fields are
ignored; "source" is a source id from sources.yaml or a publisher domain and sets the credibility). "-" reads stdin.
Writes one line per item:
  {"id","score","level","direction","watchlists":[{"id","score","level","direction","reasons":[...]}]}
The top-level fields are those of the highest-scoring watchlist; level is "none" when no watchlist reaches info.

Options:
  -i, --input FILE   JSONL input ("-" for stdin)
  -e, --explain      add each score's factors to "reasons", the matched terms to each watchlist, and "why"

Exit codes: 0 ok, 1 invalid config or some input lines could not be read (reported on stderr), 2 usage error.`,
  options: { input: { type: 'string', short: 'i' }, explain: { type: 'boolean', short: 'e' } },
  async run(args, io) {
    const ready = await prepare(args, io, 'score');
    if (typeof ready === 'number') return ready;
    const explain = args.values.explain === true;
    let bad = 0;
    for await (const entry of readItems(ready.input, io)) {
      if ('error' in entry) {
        bad++;
        io.stderr.write(`${entry.error}\n`);
        continue;
      }
      const assessments = ready.scorer.assess(entry.item);
      const summary = summarise(entry.item.id, assessments, explain);
      const line = {
        id: summary.id,
        score: summary.score,
        level: summary.level,
        direction: summary.direction,
        ...(explain ? { why: summary.why } : {}),
        watchlists: summary.watchlists.map((w, i) => (explain ? { ...w, matches: assessments[i].matches, entities: assessments[i].entities } : w)),
      };
      io.stdout.write(`${JSON.stringify(line)}\n`);
    }
    if (bad > 0) {
      io.stderr.write(`${bad} line${bad === 1 ? '' : 's'} skipped\n`);
      return EXIT.FAILURE;
    }
    return EXIT.OK;
  },
};
