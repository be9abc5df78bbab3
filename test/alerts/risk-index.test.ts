import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillSeries } from '../../src/alerts/risk.js';
import { createRiskIndexStore, type RiskIndexStore } from '../../src/store/risk-index.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('risk');
const HOUR = 3_600_000;
const T0 = Date.parse('2025-07-01T00:00:00Z');
let redis: Redis;
let risk: RiskIndexStore;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
  // Threshold 100, re-arms below 80, half-life 10 h.
  risk = createRiskIndexStore(redis, prefix, { halfLifeHours: 10, threshold: 100, hysteresis: 0.2, seriesHours: 48 });
});

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

const add = (storyId: string, score: number, hour: number, material = 'samarium', direction: 'escalation' | 'de-escalation' = 'escalation') =>
  risk.record({ watchlistId: 'magnets', material, storyId, score, direction, atMs: T0 + hour * HOUR, nowMs: T0 + hour * HOUR });

describe('the risk index', () => {
  it('crosses the threshold once and does not flap while it hovers around it', async () => {
    const crossings: number[] = [];
    // Stories of 40 every 5 hours: 40, 68, 88, 102 (crosses), then dips to 72 before the next story and settles between 97 and 137.
    for (let i = 0; i < 12; i++) {
      const update = await add(`s${i}`, 40, i * 5);
      if (update.crossed) crossings.push(i);
    }
    expect(crossings).toEqual([3]);
    const [entry] = await risk.listRiskIndex(T0 + 55 * HOUR);
    expect(entry).toMatchObject({ watchlistId: 'magnets', material: 'samarium', active: true, episode: 1 });
  });

  it('re-arms after falling below the hysteresis level and crosses again as a new episode', async () => {
    await add('quiet', 0, 100); // 45 h of decay later: far below 80
    const again = await add('big', 120, 100);
    expect(again).toMatchObject({ crossed: true, episode: 2 });
  });

  it('counts a story once, at its highest score, however many outlets carry it', async () => {
    const first = await add('one-story', 30, 0, 'gallium');
    const sameAgain = await add('one-story', 30, 0, 'gallium');
    const escalated = await add('one-story', 50, 0, 'gallium');
    expect([first.value, sameAgain.value, escalated.value]).toEqual([30, 30, 50]);
    const suspended = await add('one-story', 20, 0, 'gallium', 'de-escalation');
    expect(suspended.value).toBe(30);
  });

  it('decays with the half-life and keeps a bounded hourly series', async () => {
    const start = await add('decay', 80, 0, 'dysprosium');
    const later = await add('decay-2', 0, 10, 'dysprosium');
    expect(start.value).toBe(80);
    expect(later.value).toBeCloseTo(40, 5);
    const series = await risk.riskSeries('magnets', 'dysprosium', T0, T0 + 20 * HOUR);
    expect(series[0]).toEqual({ at: new Date(T0).toISOString(), value: 80 });
    expect(series.find((p) => p.at === new Date(T0 + 10 * HOUR).toISOString())?.value).toBeCloseTo(40, 1);
    expect(series.at(-1)).toEqual({ at: new Date(T0 + 20 * HOUR).toISOString(), value: 20 });
    // Never more than the kept hours, however far back one asks.
    expect((await risk.riskSeries('magnets', 'dysprosium', 0, T0 + 100 * HOUR)).length).toBeLessThanOrEqual(49);
  });

  it('applies a batch of contributions in one call exactly as one after another, also after a SCRIPT FLUSH', async () => {
    const settings = { halfLifeHours: 10, threshold: 100, hysteresis: 0.2, seriesHours: 48 };
    const inputs = [40, 30, 45, 40, 50, 20].map((score, i) => ({
      watchlistId: 'magnets',
      material: i % 3 === 2 ? 'gallium' : 'samarium',
      storyId: `b${i % 4}`,
      score,
      direction: 'escalation' as const,
      atMs: T0 + i * HOUR,
      nowMs: T0 + i * HOUR,
    }));
    const one = createRiskIndexStore(redis, `${prefix}-one`, settings);
    const expected = [];
    for (const input of inputs) expected.push(await one.record(input));
    expect(expected.filter((u) => u.crossed)).toHaveLength(1);
    expect(await createRiskIndexStore(redis, `${prefix}-many`, settings).recordMany(inputs)).toEqual(expected);
    await redis.script('FLUSH');
    expect(await createRiskIndexStore(redis, `${prefix}-flushed`, settings).recordMany(inputs)).toEqual(expected);
    expect(await risk.recordMany([])).toEqual([]);
    for (const p of ['one', 'many', 'flushed']) await cleanPrefix(`${prefix}-${p}`);
  });

  it('never numbers two episodes alike, even after the index of a material expired for lack of news', async () => {
    // A 1 s retention stands for seriesDays: the index, its stories and its series expire; risk alerts live on.
    const brief = createRiskIndexStore(redis, `${prefix}-expiring`, { halfLifeHours: 10, threshold: 100, hysteresis: 0.2, seriesHours: 1 / 3600 });
    const cross = (story: string) => brief.record({ watchlistId: 'magnets', material: 'gallium', storyId: story, score: 120, direction: 'escalation', atMs: T0, nowMs: T0 });
    expect(await cross('first-run')).toMatchObject({ crossed: true, episode: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(await redis.exists(`{${prefix}-expiring}:risk:magnets:gallium`)).toBe(0);
    expect(await cross('second-run')).toMatchObject({ crossed: true, episode: 2 });
    await cleanPrefix(`${prefix}-expiring`);
  });

  it('keeps counting episodes from an index written before episodes were kept apart', async () => {
    const p = `${prefix}-legacy`;
    const store = createRiskIndexStore(redis, p, { halfLifeHours: 10, threshold: 100, hysteresis: 0.2, seriesHours: 48 });
    // As the earlier build left it: episode 3 over, re-armed, the episode only in the index's own state.
    await redis.hset(`{${p}}:risk:magnets:gallium`, { value: '0', at: String(T0), armed: '1', episode: '3' });
    await redis.expire(`{${p}}:risk:magnets:gallium`, 3600);
    const contribution = (story: string, hour: number) => ({ watchlistId: 'magnets', material: 'gallium', storyId: story, score: 120, direction: 'escalation' as const, atMs: T0 + hour * HOUR, nowMs: T0 + hour * HOUR });
    expect(await store.record(contribution('quiet', 0))).toMatchObject({ crossed: true, episode: 4 });
    // The index's state then expires: the next crossing is episode 5, not 1.
    await redis.del(`{${p}}:risk:magnets:gallium`);
    expect(await store.record(contribution('later', 100))).toMatchObject({ crossed: true, episode: 5 });
    await cleanPrefix(p);
  });

  it('counts the stories that contributed within the retention and forgets older ones, however long the material is in the news', async () => {
    const p = `${prefix}-bounded`;
    const store = createRiskIndexStore(redis, p, { halfLifeHours: 10, threshold: 1000, hysteresis: 0.2, seriesHours: 48 });
    const contribution = (story: string, hour: number, direction: 'escalation' | 'de-escalation' = 'escalation') =>
      store.record({ watchlistId: 'magnets', material: 'tungsten', storyId: story, score: 10, direction, atMs: T0 + hour * HOUR, nowMs: T0 + hour * HOUR });
    await contribution('ban', 0);
    // The ban suspended: the same story, not a second one.
    expect((await contribution('ban', 1, 'de-escalation')).stories).toBe(1);
    expect((await contribution('quota', 10)).stories).toBe(2);
    // A story a day for 30 days: only those of the last 48 hours count, and only they are kept.
    let last = await contribution('day-0', 24);
    for (let day = 1; day < 30; day++) last = await contribution(`day-${day}`, 24 + day * 24);
    expect(last.stories).toBe(3);
    expect(await redis.hlen(`{${p}}:risk-stories:magnets:tungsten`)).toBe(3);
    await cleanPrefix(p);
  });

  it('fills hours without a contribution with the decayed value', () => {
    const points = fillSeries([{ atMs: T0, value: 100 }], T0, T0 + 2 * HOUR, HOUR);
    expect(points.map((p) => p.value)).toEqual([100, 50, 25]);
  });
});
