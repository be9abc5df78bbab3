import type { Labels } from './input.js';
import type { Assessment, Direction, Level } from './types.js';
import { LEVELS } from './types.js';

/** What `chokepoint score` prints for one item: the strongest watchlist on top, every watchlist below. */
export interface ItemScore {
  id: string;
  score: number;
  level: Level;
  direction: Direction;
  why: string;
  watchlists: Array<{ id: string; score: number; level: Level; direction: Direction; reasons: string[] }>;
}

/** Folds one item's assessments into its summary: the top-level fields are those of the highest-scoring watchlist. */
export function summarise(id: string, assessments: Assessment[], explain = false): ItemScore {
  let top: Assessment | undefined;
  // Highest score; among equals (all zero, say) the one that found the most, so "why" says the most useful thing.
  for (const a of assessments) if (!top || a.score > top.score || (a.score === top.score && a.entities.length > top.entities.length)) top = a;
  const relevant = top && top.level !== 'none' ? top : undefined;
  return {
    id,
    score: top?.score ?? 0,
    level: relevant?.level ?? 'none',
    direction: relevant?.direction ?? 'neutral',
    why: top?.why ?? 'No watchlist is enabled',
    watchlists: assessments.map((a) => ({
      id: a.watchlistId,
      score: a.score,
      level: a.level,
      direction: a.direction,
      reasons: explain ? [a.why, ...a.factors.map((f) => `${f.name} ${f.value}: ${f.detail}`)] : [a.why],
    })),
  };
}

export interface Scored {
  id: string;
  title: string;
  labels: Labels;
  result: ItemScore;
  /** Whether the pipeline alerts on the item: some watchlist's assessment reaches that watchlist's minLevel. */
  alerted: boolean;
}

export interface BacktestReport {
  items: number;
  relevant: number;
  confusion: { truePositives: number; falsePositives: number; falseNegatives: number; trueNegatives: number };
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  /** Spearman rank correlation of score with labelled severity, over relevant items (null when undefined). */
  spearman: number | null;
  bySeverity: Array<{ severity: number; items: number; meanScore: number; levels: Partial<Record<Level, number>> }>;
  /** Agreement of the predicted direction with the labelled one, over relevant items found and labelled. */
  direction: { agree: number; total: number };
  falseAlarms: Array<{ id: string; title: string; score: number; level: Level; why: string }>;
  misses: Array<{ id: string; title: string; severity: number | null; score: number; why: string }>;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Precision, recall and F1 of "alerted" against `relevant`, and how well scores rank severity. */
export function backtest(scored: Scored[], worst = 10): BacktestReport {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (const s of scored) {
    const predicted = s.alerted;
    if (predicted && s.labels.relevant) tp++;
    else if (predicted) fp++;
    else if (s.labels.relevant) fn++;
    else tn++;
  }
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  const relevant = scored.filter((s) => s.labels.relevant);
  const graded = relevant.filter((s) => s.labels.severity !== undefined);

  const severities = [...new Set(graded.map((s) => s.labels.severity!))].sort();
  const bySeverity = severities.map((severity) => {
    const group = graded.filter((s) => s.labels.severity === severity);
    const levels: Partial<Record<Level, number>> = {};
    for (const s of group) levels[s.result.level] = (levels[s.result.level] ?? 0) + 1;
    const ordered = Object.fromEntries(LEVELS.filter((l) => levels[l]).map((l) => [l, levels[l]])) as Partial<Record<Level, number>>;
    return { severity, items: group.length, meanScore: round(group.reduce((sum, s) => sum + s.result.score, 0) / group.length), levels: ordered };
  });

  let agree = 0;
  let total = 0;
  for (const s of relevant) {
    if (!s.labels.direction || !s.alerted) continue;
    total++;
    if (normaliseDirection(s.labels.direction) === s.result.direction) agree++;
  }

  return {
    items: scored.length,
    relevant: relevant.length,
    confusion: { truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn },
    precision: round(precision),
    recall: round(recall),
    f1: round(ratio(2 * precision * recall, precision + recall)),
    accuracy: round(ratio(tp + tn, scored.length)),
    spearman: spearman(graded.map((s) => s.result.score), graded.map((s) => s.labels.severity!)),
    bySeverity,
    direction: { agree, total },
    falseAlarms: scored
      .filter((s) => !s.labels.relevant && s.alerted)
      .sort((a, b) => b.result.score - a.result.score)
      .slice(0, worst)
      .map((s) => ({ id: s.id, title: s.title, score: s.result.score, level: s.result.level, why: s.result.why })),
    misses: scored
      .filter((s) => s.labels.relevant && !s.alerted)
      .sort((a, b) => (b.labels.severity ?? 0) - (a.labels.severity ?? 0) || a.result.score - b.result.score)
      .slice(0, worst)
      .map((s) => ({ id: s.id, title: s.title, severity: s.labels.severity ?? null, score: s.result.score, why: s.result.why })),
  };
}

function normaliseDirection(label: string): Direction {
  const l = label.toLowerCase().replace(/[^a-z]/g, '');
  if (l === 'deescalation') return 'de-escalation';
  if (l === 'escalation') return 'escalation';
  return 'neutral';
}

/** Ranks with ties sharing their average rank (1-based). */
export function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const average = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k][1]] = average;
    i = j + 1;
  }
  return out;
}

/** Spearman's rho: Pearson correlation of the ranks (ties averaged). Null when either side has no variance. */
export function spearman(xs: number[], ys: number[]): number | null {
  if (xs.length !== ys.length || xs.length < 2) return null;
  const rx = ranks(xs);
  const ry = ranks(ys);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const mx = mean(rx);
  const my = mean(ry);
  let num = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < rx.length; i++) {
    num += (rx[i] - mx) * (ry[i] - my);
    dx += (rx[i] - mx) ** 2;
    dy += (ry[i] - my) ** 2;
  }
  if (dx === 0 || dy === 0) return null;
  return round(num / Math.sqrt(dx * dy));
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

