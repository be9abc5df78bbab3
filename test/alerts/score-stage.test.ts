import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { channelSchema, settingsFileSchema, watchlistSchema } from '../../src/config/schema.js';
import type { ChokepointConfig } from '../../src/config/load.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { scoreStage } from '../../src/pipeline/score.js';
import { createAlertStore, createMemoryAlertStore, type AlertStore } from '../../src/store/alerts.js';
import { createMemoryStoryStore, createStoryStore } from '../../src/store/stories.js';
import { createRiskIndexStore } from '../../src/store/risk-index.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { FakeScorer } from './harness.js';
import { STORY_FIXTURES } from './story-fixtures.js';

const NOW = new Date('2025-10-06T12:00:00Z');

const prefix = uniquePrefix('score-stage');
let redis: Redis | undefined;

afterAll(async () => {
  redis?.disconnect();
  await cleanPrefix(prefix);
});

function state(scorer: FakeScorer, riskThreshold = 150): ConfigState {
  const watchlist = watchlistSchema.parse({ id: 'minerals', minLevel: 'low', routes: [{ channel: 'ops', minLevel: 'low' }] });
  const channel = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h' });
  const settings = settingsFileSchema.parse({ alerts: { corroborationMilestones: [3] }, riskIndex: { threshold: riskThreshold } });
  return {
    config: { settings, sources: [], watchlists: [watchlist], channels: [channel] } as unknown as ChokepointConfig,
    scorer,
    notifiers: undefined as never,
    http: undefined as never,
    sources: new Map(),
    watchlists: new Map([[watchlist.id, watchlist]]),
    channels: new Map([[channel.id, channel]]),
  };
}

describe('the score stage with in-memory stores (as in a one-shot scan)', () => {
  it('makes one alert per story across outlets and reports each version due once', async () => {
    const scorer = new FakeScorer(['minerals']);
    const fixtures = STORY_FIXTURES.slice(0, 6); // the gallium ban (4 outlets) and the graphite controls (2)
    for (const f of fixtures) scorer.set(f.title, { watchlistId: 'minerals', level: 'high', entities: ['gallium'] });
    const items = fixtures.map((f, i) => ({ id: `s${i}`, sourceId: f.source, title: f.title, summary: f.summary, publishedAt: null, fetchedAt: NOW.toISOString() }));
    const deps = { state: state(scorer), alerts: createMemoryAlertStore(), stories: createMemoryStoryStore({ windowHours: 72 }), now: NOW };
    const outcome = await scoreStage(items, deps);
    expect(outcome.due.map((d) => [d.alert.title.slice(0, 20), d.version, d.reason])).toEqual([
      ['China bans exports o', 1, 'first'],
      ['China bans exports o', 2, 'corroborated'],
      ['China tightens expor', 1, 'first'],
    ]);
    const { alerts } = await deps.alerts.list({ limit: 10 });
    expect(alerts.map((a) => a.sources.length).sort()).toEqual([2, 4]);
    expect((await scoreStage(items, deps)).due.every((d) => d.replay)).toBe(true);
  });

  it('hands a risk alert back right after the alert of the item that raised it, as items come', async () => {
    const scorer = new FakeScorer(['minerals']);
    const titles = ['Gallium exports halted at the border', 'Tungsten mine flooded in Jiangxi', 'Dysprosium quota cut for next year'];
    titles.forEach((title, i) => scorer.set(title, { watchlistId: 'minerals', level: 'high', entities: [['gallium', 'tungsten', 'dysprosium'][i]] }));
    const items = titles.map((title, i) => ({ id: `r${i}`, sourceId: 'wire', title, summary: '', publishedAt: null, fetchedAt: NOW.toISOString() }));
    redis ??= new Redis(testRedisUrl());
    // A threshold one high-level item reaches: each item raises its material's risk alert.
    const risk = createRiskIndexStore(redis, prefix, { halfLifeHours: 72, threshold: 60, hysteresis: 0.2, seriesHours: 24 });
    const deps = { state: state(scorer, 60), alerts: createMemoryAlertStore(), stories: createMemoryStoryStore({ windowHours: 72 }), risk, now: NOW };
    const outcome = await scoreStage(items, deps);
    expect(outcome.due.map((d) => (d.alert.storyId.startsWith('risk') ? `risk ${d.alert.entities[0]}` : d.alert.title.split(' ')[0]))).toEqual([
      'Gallium',
      'risk gallium',
      'Tungsten',
      'risk tungsten',
      'Dysprosium',
      'risk dysprosium',
    ]);
  });

  it('raises a new risk alert when the index crosses again after it expired for lack of news', async () => {
    const scorer = new FakeScorer(['minerals']);
    const titles = ['Gallium exports halted at the border', 'Gallium smelter fire cuts capacity'];
    for (const title of titles) scorer.set(title, { watchlistId: 'minerals', level: 'high', entities: ['gallium'] });
    redis ??= new Redis(testRedisUrl());
    // A 1 s series retention stands for seriesDays; the alerts (here in memory) outlive it, as they do with alertDays.
    const risk = createRiskIndexStore(redis, `${prefix}-expiring`, { halfLifeHours: 72, threshold: 60, hysteresis: 0.2, seriesHours: 1 / 3600 });
    const deps = { state: state(scorer, 60), alerts: createMemoryAlertStore(), stories: createMemoryStoryStore({ windowHours: 72 }), risk, now: NOW };
    const item = (i: number) => ({ id: `x${i}`, sourceId: 'wire', title: titles[i]!, summary: '', publishedAt: null, fetchedAt: NOW.toISOString() });
    const first = await scoreStage([item(0)], deps);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const later = new Date(NOW.getTime() + 40 * 86_400_000);
    const second = await scoreStage([{ ...item(1), fetchedAt: later.toISOString() }], { ...deps, now: later });
    const riskAlerts = [...first.due, ...second.due].filter((d) => d.alert.kind === 'risk-index');
    expect(riskAlerts.map((d) => [d.version, d.replay ?? false])).toEqual([
      [1, false],
      [1, false],
    ]);
    expect(new Set(riskAlerts.map((d) => d.alert.id)).size).toBe(2);
  });
});

describe('the score stage on Redis, run twice at once (a twin run whose lock lapsed)', () => {
  const titles = ['China bans gallium exports to the United States', 'China bans gallium exports to United States, ministry says', 'Beijing bans gallium exports to the United States'];
  const item = (i: number) => ({ id: `t${i}`, sourceId: `wire-${i}`, title: titles[i]!, summary: '', publishedAt: NOW.toISOString(), fetchedAt: NOW.toISOString() });
  const setup = (name: string) => {
    redis ??= new Redis(testRedisUrl());
    const p = `${prefix}-${name}`;
    const scorer = new FakeScorer(['minerals']);
    return { scorer, deps: { state: state(scorer), alerts: createAlertStore(redis, p, { days: 1, count: 1000 }), stories: createStoryStore(redis, p, { windowHours: 72 }), now: NOW } };
  };

  it('hands back the version the other run made of an item, although it read the alert before that run folded it', async () => {
    const { scorer, deps } = setup('twin-version');
    scorer.set(titles[0]!, { watchlistId: 'minerals', level: 'medium', entities: ['gallium'] });
    scorer.set(titles[1]!, { watchlistId: 'minerals', level: 'medium', entities: ['gallium'] });
    scorer.set(titles[2]!, { watchlistId: 'minerals', level: 'high', entities: ['gallium'] });
    const [created] = (await scoreStage([item(0), item(1)], deps)).due;
    // Run B of the job [item 2] reads the alert at its start; run A then folds the item (version 2) and dies before
    // enqueueing its notification.
    const readAtStart = await deps.alerts.readForUpdate([created!.alert.id]);
    expect((await scoreStage([item(2)], deps)).due.map((d) => `v${d.version} ${d.reason}`)).toEqual(['v2 escalated']);
    const runB: AlertStore = { ...deps.alerts, readForUpdate: async () => readAtStart };
    const b = await scoreStage([item(2)], { ...deps, alerts: runB });
    expect(b.due.map((d) => `v${d.version} ${d.reason} ${d.replay}`)).toEqual(['v2 escalated true']);
    expect(b.due[0]!.alert.version).toBe(2);
  });

  it('re-runs a job: an item below the level still corroborates an alert made after the run read it', async () => {
    const { scorer, deps } = setup('twin-source');
    scorer.set(titles[0]!, { watchlistId: 'minerals', level: 'high', entities: ['gallium'] });
    scorer.set(titles[1]!, { watchlistId: 'minerals', level: 'info', entities: ['gallium'] });
    // The re-run read "no alert yet" at its start; another job made the story's alert before it got to its item.
    const readAtStart: AlertStore = { ...deps.alerts, readForUpdate: async (ids) => new Map(ids.map((id) => [id, { alert: undefined }])) };
    const [created] = (await scoreStage([item(0)], deps)).due;
    await scoreStage([item(1)], { ...deps, alerts: readAtStart, rerun: true });
    expect((await deps.alerts.get(created!.alert.id))?.sources).toEqual(['wire-0', 'wire-1']);
  });
});
