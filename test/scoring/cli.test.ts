import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { backtestCommand } from '../../src/cli/commands/backtest.js';
import { scoreCommand } from '../../src/cli/commands/score.js';
import type { Command, ParsedArgs } from '../../src/cli/command.js';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';
import { runCliCaptured } from '../helpers/cli.js';
import { writeConfigDir } from '../helpers/config-dir.js';

const DEV_SET = new URL('../../../shared/eval/dev.jsonl', import.meta.url).pathname;
const work = mkdtempSync(path.join(tmpdir(), 'chokepoint-score-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function file(name: string, lines: unknown[]): string {
  const p = path.join(work, name);
  writeFileSync(p, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return p;
}

/** Runs a command's run() with in-memory streams and the default config. */
async function run(command: Command, values: ParsedArgs['values'], stdin = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await command.run({ values: { config: PACKAGE_CONFIG_DIR, ...values }, positionals: [] }, { stdout, stderr, stdin: Readable.from([stdin]), env: {} });
  return { code, stdout: out, stderr: err };
}

const ban = { id: 'ban-1', title: 'China bans exports of gallium and germanium to the US', summary: 'The commerce ministry announced the ban on Tuesday.', source: 'news.example', extra: 'ignored' };
const snack = { id: 'snack-1', title: 'Frito-Lay recalls tortilla chips', summary: 'Bags of chips had an undeclared allergen.' };

describe('chokepoint score', () => {
  it('writes one JSON line per item with the strongest watchlist on top and every watchlist below', async () => {
    const result = await run(scoreCommand, { input: file('items.jsonl', [ban, snack]) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [first, second] = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(first)).toEqual(['id', 'score', 'level', 'direction', 'watchlists']);
    expect(first).toMatchObject({ id: 'ban-1', level: 'critical', direction: 'escalation' });
    const minerals = first.watchlists.find((w: { id: string }) => w.id === 'critical-minerals');
    expect(minerals).toEqual({ id: 'critical-minerals', score: first.score, level: 'critical', direction: 'escalation', reasons: [expect.stringMatching(/^Export ban on gallium and germanium/)] });
    expect(first.watchlists.map((w: { id: string }) => w.id)).toEqual(['rare-earth-magnets', 'critical-minerals', 'semiconductors', 'chipmaking-tools']);
    expect(second).toMatchObject({ id: 'snack-1', level: 'none', direction: 'neutral' });
  });

  it('reads stdin for "-" and, with --explain, adds factors, matches and the explanation', async () => {
    const result = await run(scoreCommand, { input: '-', explain: true }, `${JSON.stringify(ban)}\n`);
    const line = JSON.parse(result.stdout);
    expect(line.why).toMatch(/^Export ban on gallium/);
    const minerals = line.watchlists.find((w: { id: string }) => w.id === 'critical-minerals');
    expect(minerals.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^concentration 1\.19: China 98% of refining/)]));
    expect(minerals.matches).toEqual(expect.arrayContaining([expect.objectContaining({ entity: 'gallium', category: 'material', field: 'title' })]));
    expect(minerals.entities).toEqual(['gallium', 'germanium', 'us-china']);
  });

  it('reports bad lines with their numbers, scores the rest and exits 1', async () => {
    const result = await run(scoreCommand, { input: file('bad.jsonl', [ban, '{not json', { id: 'x', summary: 'no title' }]) });
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^line 2: not JSON/m);
    expect(result.stderr).toMatch(/^line 3: title: /m);
    expect(result.stderr).toMatch(/2 lines skipped/);
  });

  it('refuses to run without --input, and reports a missing file', async () => {
    expect((await run(scoreCommand, {})).code).toBe(2);
    const missing = await run(scoreCommand, { input: path.join(work, 'nope.jsonl') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.jsonl/);
  });

  it('is registered in the CLI', async () => {
    const result = await runCliCaptured(['score', '--input', '-', '--config', PACKAGE_CONFIG_DIR], {}, JSON.stringify(snack));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).level).toBe('none');
  });
});

describe('chokepoint backtest', () => {
  it('prints precision, recall, F1, the confusion counts, the severity correlation and the worst cases', async () => {
    const result = await run(backtestCommand, { input: DEV_SET, worst: '3' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Backtest of 103 items \(60 labelled relevant\)/);
    expect(result.stdout).toMatch(/precision \d\.\d{3} {3}recall \d\.\d{3} {3}F1 \d\.\d{3}/);
    expect(result.stdout).toMatch(/confusion: \d+ true positives, \d+ false positives, \d+ false negatives, \d+ true negatives/);
    expect(result.stdout).toMatch(/Spearman correlation of score with severity \(relevant items\): 0\.\d{3}/);
    expect(result.stdout).toMatch(/Worst misses \(\d\):/);
  });

  it('prints the same as one JSON object with --json', async () => {
    const result = await run(backtestCommand, { input: DEV_SET, json: true });
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ items: 103, relevant: 60 });
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['precision', 'recall', 'f1', 'confusion', 'spearman', 'falseAlarms', 'misses']));
  });

  it('exits 1 when a --min-f1 floor is missed, and rejects items without labels', async () => {
    const labelled = { ...snack, labels: { relevant: true, severity: 2 } };
    const result = await run(backtestCommand, { input: file('labelled.jsonl', [labelled, ban]), 'min-f1': '0.5', json: true });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/item ban-1: no "labels"/);
    expect(result.stderr).toMatch(/F1 0 is below --min-f1 0\.5/);
    expect(JSON.parse(result.stdout).misses).toEqual([expect.objectContaining({ id: 'snack-1', severity: 2 })]);
  });

  it("counts an item as alerted only when it reaches the watchlist's minLevel, as the pipeline does", async () => {
    const { dir, cleanup } = writeConfigDir({
      'sources.yaml': 'sources: []\n',
      'channels.yaml': 'channels: []\n',
      'watchlists.yaml': 'watchlists:\n  - { id: magnets, name: Magnets, materials: [rare-earths], minLevel: medium }\n',
    });
    try {
      // A proposal scores low: below this watchlist's minLevel, the pipeline raises no alert for it.
      const proposal = { id: 'proposal-1', title: 'China considers new rare earth export curbs', labels: { relevant: false, severity: 0 } };
      const result = await run(backtestCommand, { input: file('minlevel.jsonl', [proposal]), config: dir, json: true });
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout).confusion).toEqual({ truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 1 });
    } finally {
      cleanup();
    }
  });

  it('rejects a --worst that is not a number', async () => {
    const result = await run(backtestCommand, { input: DEV_SET, worst: 'many' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--worst must be a non-negative number/);
  });
});
