import { isRelevant } from '../../alerts/lifecycle.js';
import type { WatchlistConfig } from '../../config/schema.js';
import { type BacktestReport, backtest, type Scored, summarise } from '../../scoring/backtest.js';
import type { Assessment } from '../../scoring/types.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { prepare, readItems } from './score.js';

const fixed = (value: number) => value.toFixed(3);

/** Whether the pipeline would alert on an item: by the same rule, some watchlist's assessment reaches its minLevel. */
export function alerts(assessments: Assessment[], watchlists: ReadonlyMap<string, Pick<WatchlistConfig, 'minLevel'>>): boolean {
  return assessments.some((a) => {
    const watchlist = watchlists.get(a.watchlistId);
    return watchlist !== undefined && isRelevant(a, watchlist);
  });
}

/** The report as a person reads it in a terminal. */
export function formatReport(report: BacktestReport, dir: string): string {
  const c = report.confusion;
  const lines = [
    `Backtest of ${report.items} items (${report.relevant} labelled relevant) with the config in ${dir}`,
    '',
    `  precision ${fixed(report.precision)}   recall ${fixed(report.recall)}   F1 ${fixed(report.f1)}   accuracy ${fixed(report.accuracy)}`,
    `  confusion: ${c.truePositives} true positives, ${c.falsePositives} false positives, ${c.falseNegatives} false negatives, ${c.trueNegatives} true negatives`,
    `  Spearman correlation of score with severity (relevant items): ${report.spearman === null ? 'n/a' : fixed(report.spearman)}`,
    `  direction matches the label on ${report.direction.agree} of ${report.direction.total} relevant items found`,
    '',
    '  severity  items  mean score  levels',
    ...report.bySeverity.map(
      (s) =>
        `  ${String(s.severity).padEnd(8)}  ${String(s.items).padEnd(5)}  ${s.meanScore.toFixed(1).padEnd(10)}  ${Object.entries(s.levels)
          .map(([level, n]) => `${level} ${n}`)
          .join(', ')}`,
    ),
    '',
    `Worst false alarms (${report.falseAlarms.length}):`,
    ...(report.falseAlarms.length ? report.falseAlarms.flatMap((f) => [`  ${f.id}  score ${f.score} ${f.level}  ${f.title}`, `      ${f.why}`]) : ['  none']),
    '',
    `Worst misses (${report.misses.length}):`,
    ...(report.misses.length
      ? report.misses.flatMap((m) => [`  ${m.id}  severity ${m.severity ?? '?'}  score ${m.score}  ${m.title}`, `      ${m.why}`])
      : ['  none']),
  ];
  return `${lines.join('\n')}\n`;
}

export const backtestCommand: Command = {
  name: 'backtest',
  summary: 'Measure precision, recall, F1 and severity ranking of the scorer on labelled items',
  help: `Usage: chokepoint backtest --input FILE.jsonl [--config DIR] [--json] [--worst N] [--min-f1 X] [--min-spearman X]

Reads items as for "chokepoint score", each also carrying "labels":{"relevant":bool,"severity":0-3,"direction"?}.
Reports precision, recall and F1 of "alerted" (some watchlist's level reaches its minLevel, as in the pipeline)
against "relevant", the confusion counts, the Spearman correlation of score with severity over relevant items, and
the worst false alarms and misses with their explanations. Use it to see what a change to the lexicon or to
settings.yaml scoring does before deploying it.

Options:
  -i, --input FILE      labelled JSONL input ("-" for stdin)
  -j, --json            print the report as one JSON object
  --worst N             how many false alarms and misses to list (default 10)
  --min-f1 X            exit 1 when F1 is below X (for CI)
  --min-spearman X      exit 1 when the Spearman correlation is below X (for CI)

Exit codes: 0 ok, 1 invalid config, unreadable or unlabelled lines, or a --min-* floor missed, 2 usage error.`,
  options: {
    input: { type: 'string', short: 'i' },
    json: { type: 'boolean', short: 'j' },
    worst: { type: 'string' },
    'min-f1': { type: 'string' },
    'min-spearman': { type: 'string' },
  },
  async run(args, io) {
    const numbers: Record<string, number | undefined> = {};
    for (const key of ['worst', 'min-f1', 'min-spearman']) {
      const raw = args.values[key] as string | undefined;
      if (raw === undefined) continue;
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0) {
        io.stderr.write(`chokepoint backtest: --${key} must be a non-negative number, got "${raw}"\n`);
        return EXIT.USAGE;
      }
      numbers[key] = value;
    }
    const ready = await prepare(args, io, 'backtest');
    if (typeof ready === 'number') return ready;

    const watchlists = new Map(ready.config.watchlists.map((w) => [w.id, w]));
    const scored: Scored[] = [];
    let bad = 0;
    for await (const entry of readItems(ready.input, io)) {
      if ('error' in entry || !entry.labels) {
        bad++;
        io.stderr.write(`${'error' in entry ? entry.error : `item ${entry.item.id}: no "labels" (needs {"relevant": true|false, "severity": 0-3})`}\n`);
        continue;
      }
      const assessments = ready.scorer.assess(entry.item);
      const result = summarise(entry.item.id, assessments);
      scored.push({ id: entry.item.id, title: entry.item.title, labels: entry.labels, result, alerted: alerts(assessments, watchlists) });
    }
    if (scored.length === 0) {
      io.stderr.write('chokepoint backtest: no labelled items to score\n');
      return EXIT.FAILURE;
    }
    const report = backtest(scored, Math.floor(numbers.worst ?? 10));
    io.stdout.write(args.values.json ? `${JSON.stringify(report)}\n` : formatReport(report, ready.dir));

    let code: number = bad > 0 ? EXIT.FAILURE : EXIT.OK;
    if (bad > 0) io.stderr.write(`${bad} line${bad === 1 ? '' : 's'} skipped\n`);
    if (numbers['min-f1'] !== undefined && report.f1 < numbers['min-f1']) {
      io.stderr.write(`F1 ${report.f1} is below --min-f1 ${numbers['min-f1']}\n`);
      code = EXIT.FAILURE;
    }
    if (numbers['min-spearman'] !== undefined && (report.spearman ?? -1) < numbers['min-spearman']) {
      io.stderr.write(`Spearman ${report.spearman} is below --min-spearman ${numbers['min-spearman']}\n`);
      code = EXIT.FAILURE;
    }
    return code;
  },
};
