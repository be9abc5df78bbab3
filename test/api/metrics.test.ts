import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMetrics, triggerTime } from '../../src/api/metrics.js';
import { memoryLogger } from '../../src/log.js';
import { freePort } from '../helpers/process.js';
import { getJson, seedAlert, seedAll, type SeededApi, startTestApi, TOKEN } from './seed.js';

let t: SeededApi;
const scrape = async () => (await getJson(`${t.url}/metrics`)).body as string;
/** The value of one sample line, e.g. sample(text, 'chokepoint_polls_total{source="mofcom",outcome="ok"}'). */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

beforeAll(async () => {
  t = await startTestApi({ label: 'metrics', token: TOKEN });
  await seedAll(t.stores);
});

afterAll(async () => {
  await t?.close();
});

describe('GET /metrics', () => {
  it('serves Prometheus text with the process defaults and the build info', async () => {
    const response = await getJson(`${t.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toContain('process_cpu_seconds_total');
    expect(response.body).toContain('nodejs_eventloop_lag_seconds');
    expect(response.body).toMatch(/chokepoint_build_info\{version="\d+\.\d+\.\d+",node="v\d+/);
    expect(sample(response.body, 'chokepoint_redis_up')).toBe(1);
  });

  it('counts what the processors report: polls, items, assessments, alerts, deliveries', async () => {
    const m = t.api.metrics;
    m.polls.inc({ source: 'mofcom', outcome: 'ok' });
    m.polls.inc({ source: 'mofcom', outcome: 'ok' });
    m.polls.inc({ source: 'fedreg-bis', outcome: 'not-modified' });
    m.polls.inc({ source: 'gdelt-minerals', outcome: 'error' });
    m.items.inc({ source: 'mofcom', kind: 'seen' }, 14);
    m.items.inc({ source: 'mofcom', kind: 'new' }, 3);
    m.assessments.inc({ watchlist: 'rare-earth-magnets', level: 'none' }, 11);
    m.alerts.inc({ watchlist: 'rare-earth-magnets', level: 'critical' });
    m.deliveries.inc({ channel: 'procurement-slack', outcome: 'delivered' });
    m.deliveries.inc({ channel: 'risk-webhook', outcome: 'failed' });
    m.conflicts.inc({ store: 'story' });
    const text = await scrape();
    expect(sample(text, 'chokepoint_polls_total{source="mofcom",outcome="ok"}')).toBe(2);
    expect(sample(text, 'chokepoint_polls_total{source="fedreg-bis",outcome="not-modified"}')).toBe(1);
    expect(sample(text, 'chokepoint_polls_total{source="gdelt-minerals",outcome="error"}')).toBe(1);
    expect(sample(text, 'chokepoint_items_total{source="mofcom",kind="seen"}')).toBe(14);
    expect(sample(text, 'chokepoint_items_total{source="mofcom",kind="new"}')).toBe(3);
    expect(sample(text, 'chokepoint_assessments_total{watchlist="rare-earth-magnets",level="none"}')).toBe(11);
    expect(sample(text, 'chokepoint_alerts_total{watchlist="rare-earth-magnets",level="critical"}')).toBe(1);
    expect(sample(text, 'chokepoint_deliveries_total{channel="procurement-slack",outcome="delivered"}')).toBe(1);
    expect(sample(text, 'chokepoint_deliveries_total{channel="risk-webhook",outcome="failed"}')).toBe(1);
    expect(sample(text, 'chokepoint_store_conflicts_total{store="story"}')).toBe(1);
  });

  it('creates zero series for every configured source and channel in a worker, so rate() works from the start', async () => {
    t.api.metrics.prime(t.config);
    const text = await scrape();
    expect(sample(text, 'chokepoint_polls_total{source="nikkei-asia",outcome="error"}')).toBe(0);
    expect(sample(text, 'chokepoint_items_total{source="nikkei-asia",kind="new"}')).toBe(0);
    expect(sample(text, 'chokepoint_deliveries_total{channel="risk-webhook",outcome="rate-limited"}')).toBe(0);
    for (const store of ['alert', 'delivery']) expect(sample(text, `chokepoint_store_conflicts_total{store="${store}"}`)).toBe(0);
    expect(sample(text, 'chokepoint_polls_total{source="mofcom",outcome="ok"}')).toBe(2);
    expect(sample(text, 'chokepoint_store_conflicts_total{store="story"}')).toBe(1);
  });

  it('reads queue depths and the age of the oldest waiting job at scrape time', async () => {
    const before = await scrape();
    expect(sample(before, 'chokepoint_queue_jobs{queue="poll",state="waiting"}')).toBe(0);
    expect(sample(before, 'chokepoint_queue_oldest_waiting_seconds{queue="poll"}')).toBe(0);
    await t.queues.poll.add('poll', { sourceId: 'mofcom', tick: 1 }, { jobId: 'poll-mofcom-1', timestamp: Date.now() - 95_000 });
    await t.queues.poll.add('poll', { sourceId: 'mofcom', tick: 2 }, { jobId: 'poll-mofcom-2' });
    await t.queues.notify.add('notify', { alertId: 'a', version: 1, channelId: 'x' }, { jobId: 'notify-later', delay: 60_000 });
    const text = await scrape();
    expect(sample(text, 'chokepoint_queue_jobs{queue="poll",state="waiting"}')).toBe(2);
    expect(sample(text, 'chokepoint_queue_jobs{queue="notify",state="delayed"}')).toBe(1);
    expect(sample(text, 'chokepoint_queue_oldest_waiting_seconds{queue="poll"}')).toBeGreaterThanOrEqual(95);
    expect(sample(text, 'chokepoint_queue_oldest_waiting_seconds{queue="poll"}')).toBeLessThan(200);
    expect(sample(text, 'chokepoint_queue_oldest_waiting_seconds{queue="notify"}')).toBe(0);
    await t.queues.poll.obliterate({ force: true });
    await t.queues.notify.obliterate({ force: true });
  });

  it('reports each source\'s health and each risk index', async () => {
    const text = await scrape();
    expect(sample(text, 'chokepoint_source_degraded{source="gdelt-minerals"}')).toBe(1);
    expect(sample(text, 'chokepoint_source_consecutive_failures{source="gdelt-minerals"}')).toBe(5);
    expect(sample(text, 'chokepoint_source_degraded{source="mofcom"}')).toBe(0);
    expect(sample(text, 'chokepoint_source_last_success_timestamp_seconds{source="mofcom"}')).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(sample(text, 'chokepoint_risk_index_threshold')).toBe(150);
    expect(sample(text, 'chokepoint_risk_index{watchlist="rare-earth-magnets",material="samarium"}')).toBeGreaterThan(0);
  });

  it('observes fetch-to-delivery latency from the item behind the delivered alert version', async () => {
    const alert = seedAlert(
      { id: 'a-latency', watchlistId: 'ai-chips', watchlistName: 'AI chips', level: 'high', score: 70, title: 'Latency probe', why: 'x', entities: [], sources: ['mofcom'], hoursAgo: 0 },
      Date.now(),
    );
    alert.items[0].fetchedAt = new Date(Date.now() - 120_000).toISOString();
    t.api.metrics.observeDelivered?.(alert, new Date());
    await vi.waitFor(async () => expect(sample(await scrape(), 'chokepoint_delivery_latency_seconds_count')).toBe(1), { timeout: 5_000, interval: 50 });
    const text = await scrape();
    expect(sample(text, 'chokepoint_delivery_latency_seconds_sum')).toBeGreaterThanOrEqual(120);
    expect(sample(text, 'chokepoint_delivery_latency_seconds_sum')).toBeLessThan(180);
    expect(sample(text, 'chokepoint_delivery_latency_seconds_bucket{le="60"}')).toBe(0);
    expect(sample(text, 'chokepoint_delivery_latency_seconds_bucket{le="300"}')).toBe(1);
  });
});

describe('overlapping and slow scrapes', () => {
  /** Samples of a metric in a scrape (lines of that name, with or without labels). */
  const samples = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).length;

  it('renders every queue, source and risk series in each of several overlapping scrapes', async () => {
    // Two Prometheus servers, or a scrape still reading Redis when the next starts: one must not empty the other's gauges.
    const partial: string[] = [];
    for (let round = 0; round < 20; round++) {
      const texts = await Promise.all(
        [0, 1, 2, 3, 4, 5].map(async (i) => {
          await new Promise((resolve) => setTimeout(resolve, i * (round % 4)));
          return scrape();
        }),
      );
      for (const text of texts) {
        const counts = { queueJobs: samples(text, 'chokepoint_queue_jobs'), risk: samples(text, 'chokepoint_risk_index'), degraded: samples(text, 'chokepoint_source_degraded') };
        // 4 queues x 5 states, 6 watchlist x material indexes, 4 sources with health.
        if (counts.queueJobs !== 20 || counts.risk !== 6 || counts.degraded !== 4) partial.push(JSON.stringify(counts));
      }
    }
    expect(partial).toEqual([]);
  });

  it('leaves the queue, source and risk gauges without samples when the Redis reads outlast the scrape timeout', async () => {
    const metrics = createMetrics({ defaultMetrics: false, scrapeTimeoutMs: 150 });
    const memory = memoryLogger('debug');
    metrics.attach({
      redis: t.redis,
      queues: t.queues,
      listHealth: () => t.stores.sourceState.listHealth(),
      // Queues and sources answer at once; the risk index never does.
      listRiskIndex: () => new Promise(() => undefined),
      riskThreshold: () => 150,
      log: memory.log,
      now: () => new Date(),
    });
    const text = await metrics.scrape();
    expect(sample(text, 'chokepoint_redis_up')).toBe(1);
    expect(sample(text, 'chokepoint_scrape_errors_total')).toBe(1);
    for (const name of ['chokepoint_queue_jobs', 'chokepoint_queue_oldest_waiting_seconds', 'chokepoint_source_degraded', 'chokepoint_source_consecutive_failures', 'chokepoint_risk_index']) {
      expect(samples(text, name), name).toBe(0);
    }
    expect(memory.lines().join('\n')).toMatch(/metrics scrape could not read Redis in time/);
  });
});

describe('triggerTime', () => {
  it('takes the fetch time of the item that produced the current version, not the first item', () => {
    const now = Date.parse('2025-10-06T12:00:00Z');
    const alert = seedAlert(
      { id: 'a-x', watchlistId: 'w', watchlistName: 'W', level: 'high', score: 70, title: 'T', why: 'y', entities: [], sources: ['s1', 's2', 's3'], hoursAgo: 1 },
      now,
    );
    expect(alert.version).toBe(2);
    expect(triggerTime(alert)).toBe(Date.parse(alert.items[2].fetchedAt));
    expect(triggerTime({ ...alert, history: undefined })).toBe(Date.parse(alert.items[0].fetchedAt));
  });
});

describe('while Redis is unreachable', () => {
  let down: SeededApi;
  beforeAll(async () => {
    down = await startTestApi({ label: 'metrics-down', redisUrl: `redis://127.0.0.1:${await freePort()}` });
  });
  afterAll(async () => {
    await down?.close();
  });

  it('stays alive, reports not ready with the reason, and still serves metrics', async () => {
    expect((await getJson(`${down.url}/healthz`)).status).toBe(200);
    const ready = await getJson(`${down.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('not-ready');
    expect(ready.body.reasons[0]).toMatch(/^redis: not connected/);
    expect(ready.body.checks.config.ok).toBe(true);
    const metrics = await getJson(`${down.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(sample(metrics.body, 'chokepoint_redis_up')).toBe(0);
    expect(metrics.body).not.toContain('chokepoint_queue_jobs{');
  });
});
