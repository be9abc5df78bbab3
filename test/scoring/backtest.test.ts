import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alerts } from '../../src/cli/commands/backtest.js';
import { backtest, ranks, type Scored, spearman, summarise } from '../../src/scoring/backtest.js';
import { jsonLines, parseInputLine } from '../../src/scoring/input.js';
import type { Assessment } from '../../src/scoring/types.js';
import { defaultConfig, defaultScorer } from './helpers.js';

const DEV_SET = new URL('../../../shared/eval/dev.jsonl', import.meta.url);

describe('metrics', () => {
  it('ranks ties by their average rank', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
  });

  it('computes Spearman correlation: 1 for the same order, -1 for the reverse, null without variance', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(spearman([1, 2, 3], [2, 2, 2])).toBeNull();
    // ranks [1,3,2,5,4] and [1.5,3,1.5,4.5,4.5]: 9 / sqrt(10 x 9)
    expect(spearman([10, 40, 30, 70, 60], [1, 2, 1, 3, 3])).toBeCloseTo(0.949, 3);
  });

  it('counts "level is not none" against "relevant" and lists the worst false alarms and misses', () => {
    const result = (score: number, level: Scored['result']['level']) => ({ id: '', score, level, direction: 'neutral' as const, why: `why ${score}`, watchlists: [] });
    const scored: Scored[] = [
      { id: 'a', title: 'A', labels: { relevant: true, severity: 3 }, result: result(90, 'critical'), alerted: true },
      { id: 'b', title: 'B', labels: { relevant: true, severity: 1 }, result: result(20, 'info'), alerted: true },
      { id: 'c', title: 'C', labels: { relevant: true, severity: 2 }, result: result(5, 'none'), alerted: false },
      { id: 'd', title: 'D', labels: { relevant: false }, result: result(40, 'low'), alerted: true },
      { id: 'e', title: 'E', labels: { relevant: false }, result: result(0, 'none'), alerted: false },
    ];
    const report = backtest(scored);
    expect(report.confusion).toEqual({ truePositives: 2, falsePositives: 1, falseNegatives: 1, trueNegatives: 1 });
    expect([report.precision, report.recall, report.f1]).toEqual([0.667, 0.667, 0.667]);
    expect(report.falseAlarms).toEqual([{ id: 'd', title: 'D', score: 40, level: 'low', why: 'why 40' }]);
    expect(report.misses).toEqual([{ id: 'c', title: 'C', severity: 2, score: 5, why: 'why 5' }]);
    expect(report.spearman).toBe(0.5);
  });

  it('summarises an item by its highest-scoring watchlist, and says none when no watchlist reaches info', () => {
    const a = (watchlistId: string, score: number, level: Assessment['level']): Assessment => ({
      itemId: 'x', watchlistId, score, level, direction: 'escalation', matches: [], factors: [], why: `${watchlistId} why`, entities: [],
    });
    expect(summarise('x', [a('one', 20, 'info'), a('two', 50, 'medium')])).toMatchObject({ score: 50, level: 'medium', why: 'two why' });
    expect(summarise('x', [a('one', 9, 'none')])).toMatchObject({ score: 9, level: 'none', direction: 'neutral' });
  });
});

/** The default config's backtest of a labelled JSONL file, as `chokepoint backtest` runs it. */
function backtestOf(file: URL): ReturnType<typeof backtest> {
  const scorer = defaultScorer();
  const watchlists = new Map(defaultConfig().watchlists.map((w) => [w.id, w]));
  const scored: Scored[] = [];
  for (const { line, number } of jsonLines(readFileSync(file, 'utf8'))) {
    const parsed = parseInputLine(line, number, '2025-01-01T00:00:00Z');
    if ('error' in parsed || !parsed.labels) throw new Error(`${file.pathname} line ${number} is unreadable`);
    const assessments = scorer.assess(parsed.item);
    const result = summarise(parsed.item.id, assessments);
    scored.push({ id: parsed.item.id, title: parsed.item.title, labels: parsed.labels, result, alerted: alerts(assessments, watchlists) });
  }
  return backtest(scored);
}

describe('the default config on the labelled development set', () => {
  // Measured when this floor was set: F1 0.992, Spearman 0.779 (103 items). The held-out set is harder; these
  // floors catch a lexicon or weight change that breaks what works, not a change of a point or two.
  it('keeps F1 at or above 0.95 and the severity correlation at or above 0.70', () => {
    const report = backtestOf(DEV_SET);
    expect(report.items).toBe(103);
    expect(report.f1).toBeGreaterThanOrEqual(0.95);
    expect(report.precision).toBeGreaterThanOrEqual(0.95);
    expect(report.spearman).toBeGreaterThanOrEqual(0.7);
  });
});

/**
 * Our own labelled sets, written for this project in the style of news titles and ledes and labelled as the dev set
 * is (../shared/eval/README.md): they show how the scorer does on wording the dev set never used. Sets A (110 relevant,
 * 120 hard negatives), B (90/60), D (78/60; its items about copper, tin and bauxite, which no default watchlist watches,
 * left out), E (100/60), F (110/50), G (105/55), I (95/65, official and regulatory wording), J (95/65, wire copy from
 * outside the US), L (95/65, buyers' and suppliers' words), M (95/65, a quarter in Chinese and Korean) and O (72/48,
 * ledes of four to seven sentences) taught the lexicon some of its terms. Sets C (100/60), H, K and N (95/65 each, in
 * the dev set's proportions) and P (70/50, ledes of four to seven sentences) were written after others had taught it
 * and were scored, never tuned on: keep them so, or they stop telling how the scorer generalises. Measured when the floors were set, as precision, recall, F1, Spearman (the build before any of them
 * taught anything in brackets; for I to N, 2eddc4e, the build before I and J taught it):
 * A 1.000, 0.936, 0.967, 0.73 (0.989, 0.827, 0.901, 0.64); B 0.988, 0.878, 0.929, 0.61 (0.959, 0.789, 0.866, 0.54);
 * C 0.966, 0.860, 0.910, 0.53 (0.964, 0.810, 0.880, 0.45); D 0.956, 0.833, 0.890, 0.46 (0.947, 0.692, 0.800, 0.33);
 * E 0.987, 0.760, 0.859, 0.65 (0.986, 0.680, 0.805, 0.64); F 1.000, 0.855, 0.922, 0.56 (1.000, 0.782, 0.878, 0.45);
 * G 1.000, 0.838, 0.912, 0.53 (0.973, 0.676, 0.798, 0.41); H 1.000, 0.863, 0.927, 0.47 (1.000, 0.811, 0.895, 0.40);
 * I 0.989, 0.926, 0.957, 0.64 (0.963, 0.821, 0.886, 0.48); J 0.989, 0.916, 0.951, 0.60 (0.974, 0.800, 0.879, 0.43);
 * K 0.989, 0.926, 0.957, 0.66 (0.988, 0.863, 0.921, 0.64); L 0.976, 0.874, 0.922, 0.57 (0.947, 0.568, 0.711, 0.38);
 * M 1.000, 0.905, 0.950, 0.53 (1.000, 0.800, 0.889, 0.44); N 1.000, 0.821, 0.902, 0.64 (1.000, 0.800, 0.889, 0.63);
 * O 0.908, 0.958, 0.932, 0.39 (0.895, 0.944, 0.919, 0.40); P 0.945, 0.986, 0.965, 0.54 (0.945, 0.986, 0.965, 0.50).
 * After I to O taught it: C 0.967, 0.880, 0.921, 0.58; H 1.000, 0.895, 0.944, 0.57; the dev set as before. Long
 * ledes cost precision: a lede's history ("the 2010 dispute led to a halt in rare earth shipments") still reads as news.
 * Set Q (70/50, a tenth in Chinese, Japanese and Korean) was written by someone who had not read the lexicon and scored
 * before anything was tuned: 0.913, 0.900, 0.906, 0.39 on a332faa; 0.914, 0.914, 0.914, 0.42 after the next changes,
 * which the teaching sets' misses prompted (after the review below: 16 more found over all sets, 13 of them in teaching sets; no negative of any set newly alerted). Its misses then
 * prompted Japanese terms (3 of its items; it is not clean for Japanese and Korean wording any more): 0.918, 0.957,
 * 0.937, 0.39; an exclusion of lithium carbonate tablets (set L's false alarm) then also took out one of Q's: 0.931,
 * 0.957, 0.944. Read in the same run: C 0.968, 0.900, 0.933, 0.66 and K 0.989, 0.937, 0.962, 0.67 (each gained from a
 * pattern that a listing of all sets' misses had shown: they are not quite clean either); H 1.000, 0.895, 0.944, 0.60;
 * N 1.000, 0.821, 0.902, 0.64; P as before. A review of these changes with 170 headlines written to trip them (human
 * memory, soil magnesium, abrasives, demand backlogs, debarments, "lifts halt on dual-use items") narrowed them: the
 * memory, magnesium and silicon carbide terms to their industry's words, Western Digital and Sandisk out (their halts are
 * of consumer goods), and a verb halts or resumes dual-use items only right before them, unlifted. Set R (70/50, a third
 * with ledes of five to seven sentences), written by another hand after all of it and never tuned on: 0.938, 0.871,
 * 0.904, 0.61 on a332faa; 0.928, 0.914, 0.921, 0.62 now (its one new false alarm a Japanese book review of the 2010
 * halt, which now reads as analysis, at low, as the English one does).
 *
 * Set S (70/50, a third with long ledes, a tenth in Chinese, Japanese and Korean), written by someone who had not read
 * the lexicon and scored before any change: 0.970, 0.914, 0.941, 0.56. Set T (80/80) was written to teach: half of it
 * hard negatives of the classes the held-out sets still alerted on (coins, magnetic toys, book reviews, stock tips,
 * event registrations, remedies, power banks, chip seal, CHIPS Act courses), half relevant items worded to be missed:
 * 0.846, 0.963, 0.901, 0.61 before. Its lessons: an exclusion may fix the sense of bare words for the story (sameSense:
 * "Chip shortage hits Britain's chippies"; from the title for its clause and the lede, from a lede for its sentence);
 * a title announcing an event, a course or an exhibition weighs 0.15; "ON Semiconductor" only as written ("export
 * controls on semiconductors" named the firm); chip schooling, lithium as medicine, vitamin B12, cabin fires, a
 * chipmaker's consumer devices; from its misses, a state telling firms to replace foreign chips is a purchase ban and
 * "memory shortage" names memory chips ("memory crunch" stays out: a student's memory crunch). Two red teams of 217 and
 * 147 headlines written to break these narrowed them (a title's exclusion keeps to its clause; a registration needs an
 * event and to open the title; no "talent plan", "chip leader", "semiconductor major", "exhibit on", "ban on
 * aircraft", histories or small caps as analysis, mints, toy makers or antacid makers as senses) and taught the
 * negatives that still alerted (snack brands, casinos, road chips, pets' chips, shortages of engineers, lithium as a
 * psychiatric drug, batteries on planes, titles labelled "Workshop:", "Review:", "書評："). Set U (70/50), written by
 * another hand after most of that: 1.000, 0.900, 0.947, 0.57, as on the stop's first build; two of its misses named
 * titanium, which the lexicon did not know (a critical mineral on the US list; titanium dioxide and titanium phones
 * are excluded). Two of S's misses taught the Traditional Chinese forms of the lexicon's Chinese terms (generated with
 * OpenCC into config/lexicon-zh-hant.yaml: 經濟部將晶片業者列入實體名單) and power cuts (停电, 공장 정전, not 정전기).
 * The false alarms Q and R had kept taught magnetic toys, the five-cent nickel, bismuth subsalicylate, stock picks and
 * review labels. Now: T 0.975, 0.988, 0.981, 0.64; S 1.000, 0.943, 0.971, 0.62 (taught by 2 items; its first two
 * false alarms, casino chips and a summit's registration, were of classes T taught); U 1.000, 0.929, 0.963, 0.64
 * (taught by 2); Q 1.000, 0.957, 0.978 (taught by 7 now); R 1.000, 0.914, 0.955 (taught by 3; two more of its false alarms went with T's classes); O one book review and
 * a chip design school fewer, B one titanium item more. No item of any set newly alerted or missed against the stop's
 * first build.
 */
describe('the default config on our own labelled sets', () => {
  const floors = [
    { name: 'A at or above F1 0.93 with precision 0.97', file: 'own-set-a.jsonl', items: 230, f1: 0.93, precision: 0.97 },
    { name: 'B at or above F1 0.88, precision 0.95, Spearman 0.55', file: 'own-set-b.jsonl', items: 150, f1: 0.88, precision: 0.95, spearman: 0.55 },
    { name: 'D at or above F1 0.85, precision 0.93, Spearman 0.38', file: 'own-set-d.jsonl', items: 138, f1: 0.85, precision: 0.93, spearman: 0.38 },
    { name: 'E at or above F1 0.82, precision 0.95, Spearman 0.55', file: 'own-set-e.jsonl', items: 160, f1: 0.82, precision: 0.95, spearman: 0.55 },
    { name: 'F at or above F1 0.88, precision 0.97, Spearman 0.48', file: 'own-set-f.jsonl', items: 160, f1: 0.88, precision: 0.97, spearman: 0.48 },
    { name: 'G at or above F1 0.88, precision 0.97, Spearman 0.45', file: 'own-set-g.jsonl', items: 160, f1: 0.88, precision: 0.97, spearman: 0.45 },
    { name: 'C, never tuned on, at or above F1 0.87, precision 0.93, Spearman 0.45', file: 'own-set-c.jsonl', items: 160, f1: 0.87, precision: 0.93, spearman: 0.45 },
    { name: 'H, never tuned on, at or above F1 0.89, precision 0.96, Spearman 0.40', file: 'own-set-h.jsonl', items: 160, f1: 0.89, precision: 0.96, spearman: 0.4 },
    { name: 'I at or above F1 0.93, precision 0.97, Spearman 0.55', file: 'own-set-i.jsonl', items: 160, f1: 0.93, precision: 0.97, spearman: 0.55 },
    { name: 'J at or above F1 0.91, precision 0.97, Spearman 0.50', file: 'own-set-j.jsonl', items: 160, f1: 0.91, precision: 0.97, spearman: 0.5 },
    { name: 'K, never tuned on, at or above F1 0.90, precision 0.95, Spearman 0.55', file: 'own-set-k.jsonl', items: 160, f1: 0.9, precision: 0.95, spearman: 0.55 },
    { name: 'L at or above F1 0.90, precision 0.95, Spearman 0.50', file: 'own-set-l.jsonl', items: 160, f1: 0.9, precision: 0.95, spearman: 0.5 },
    { name: 'M at or above F1 0.92, precision 0.97, Spearman 0.45', file: 'own-set-m.jsonl', items: 160, f1: 0.92, precision: 0.97, spearman: 0.45 },
    { name: 'N, never tuned on, at or above F1 0.86, precision 0.95, Spearman 0.55', file: 'own-set-n.jsonl', items: 160, f1: 0.86, precision: 0.95, spearman: 0.55 },
    { name: 'O at or above F1 0.89, precision 0.86, Spearman 0.30', file: 'own-set-o.jsonl', items: 120, f1: 0.89, precision: 0.86, spearman: 0.3 },
    { name: 'P, never tuned on, at or above F1 0.92, precision 0.90, Spearman 0.45', file: 'own-set-p.jsonl', items: 120, f1: 0.92, precision: 0.9, spearman: 0.45 },
    { name: 'Q, taught by 7 items, at or above F1 0.94, precision 0.95, Spearman 0.30', file: 'own-set-q.jsonl', items: 120, f1: 0.94, precision: 0.95, spearman: 0.3 },
    { name: 'R, taught by 3 items, at or above F1 0.92, precision 0.95, Spearman 0.50', file: 'own-set-r.jsonl', items: 120, f1: 0.92, precision: 0.95, spearman: 0.5 },
    { name: 'S, taught by 2 items, at or above F1 0.94, precision 0.95, Spearman 0.50', file: 'own-set-s.jsonl', items: 120, f1: 0.94, precision: 0.95, spearman: 0.5 },
    { name: 'T at or above F1 0.94, precision 0.93, Spearman 0.55', file: 'own-set-t.jsonl', items: 160, f1: 0.94, precision: 0.93, spearman: 0.55 },
    { name: 'U, taught by 2 items, at or above F1 0.93, precision 0.95, Spearman 0.55', file: 'own-set-u.jsonl', items: 120, f1: 0.93, precision: 0.95, spearman: 0.55 },
    // V (0.969 / 0.775 / 0.861 when written): 13 of its misses taught the European-language lexicon, Korean explosions and Chinese border and customs holds.
    { name: 'V, taught by 13 items, at or above F1 0.93, precision 0.95, Spearman 0.35', file: 'own-set-v.jsonl', items: 150, f1: 0.93, precision: 0.95, spearman: 0.35 },
    // W, all in German, French, Spanish, Italian and Dutch, held out: 1.000 / 0.118 / 0.211 before the European lexicon,
    // 1.000 / 0.741 / 0.851 with it; then 12 of its misses taught it more (investment blocks, customs holds, prices, talks).
    { name: 'W, taught by 12 items, at or above F1 0.90, precision 0.97, Spearman 0.45', file: 'own-set-w.jsonl', items: 160, f1: 0.9, precision: 0.97, spearman: 0.45 },
    // X: 240 headlines written to break the European lexicon (both ways), 0.21 / 0.17 against its first version; it taught it.
    { name: 'X (red team, European false friends and misses) at or above F1 0.85, precision 0.85', file: 'own-set-x.jsonl', items: 240, f1: 0.85, precision: 0.85 },
  ];
  it.each(floors)('keeps set $name', ({ file, items, f1, precision, spearman }) => {
    const report = backtestOf(new URL(`./fixtures/${file}`, import.meta.url));
    expect(report.items).toBe(items);
    expect(report.f1).toBeGreaterThanOrEqual(f1);
    expect(report.precision).toBeGreaterThanOrEqual(precision);
    if (spearman !== undefined) expect(report.spearman).toBeGreaterThanOrEqual(spearman);
  });
});

describe('headlines written in capitals', () => {
  it('finds every relevant development title written in capitals that it finds as written', () => {
    // Case-sensitive exclusions ("CHIP", the health programme) cannot tell themselves from the word in a shouting
    // headline; they used to silence "chip" in "DUTCH GOVERNMENT SEIZES CONTROL OF CHINESE CHIP MAKER".
    const scorer = defaultScorer();
    const lost: string[] = [];
    for (const { line, number } of jsonLines(readFileSync(DEV_SET, 'utf8'))) {
      const parsed = parseInputLine(line, number, '2025-01-01T00:00:00Z');
      if ('error' in parsed || !parsed.labels?.relevant) continue;
      const asWritten = { ...parsed.item, summary: '', content: undefined };
      const shouted = { ...asWritten, title: asWritten.title.toUpperCase() };
      const found = (it: typeof asWritten) => summarise(it.id, scorer.assess(it)).level !== 'none';
      if (found(asWritten) && !found(shouted)) lost.push(shouted.title);
    }
    expect(lost).toEqual([]);
  });
});
