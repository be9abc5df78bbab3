import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { channelSchema, settingsFileSchema, watchlistSchema } from '../../src/config/schema.js';
import type { ChokepointConfig } from '../../src/config/load.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { scoreStage } from '../../src/pipeline/score.js';
import { createMemoryAlertStore } from '../../src/store/alerts.js';
import { createMemoryStoryStore } from '../../src/store/stories.js';
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
});
