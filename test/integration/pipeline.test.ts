import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { enqueuePoll } from '../../src/queue/scheduler.js';
import { jobId } from '../../src/queue/names.js';
import { startWorker, type RunningWorker } from '../../src/worker/start.js';
import { createMetrics, type ChokepointMetrics } from '../../src/api/metrics.js';
import type { Alert } from '../../src/alerts/types.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startFeedServer, startSlackSink, type RssEntry } from '../helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('pipeline');
const first: RssEntry = {
  guid: 'wire-1',
  title: 'China bans exports of samarium to US defence contractors',
  link: 'https://example.org/news/samarium-ban',
  description: 'The commerce ministry announced an export ban on samarium and samarium-cobalt magnets, effective immediately.',
  pubDate: 'Mon, 06 Oct 2025 08:00:00 GMT',
};
const unrelated: RssEntry = {
  guid: 'wire-2',
  title: 'Local bakery wins award for potato chips',
  link: 'https://example.org/news/chips',
  description: 'A family business was honoured for its crisps.',
};
const second: RssEntry = {
  guid: 'wire-3',
  title: 'Beijing imposes export licence requirement on rare earth magnets',
  link: 'https://example.org/news/rare-earth-licences',
  description: 'Exporters of rare earth magnets now need a licence from the commerce ministry.',
};

let feed: Awaited<ReturnType<typeof startFeedServer>>;
let slack: Awaited<ReturnType<typeof startSlackSink>>;
let cleanupDir: () => void;
let configDir: string;
const running: RunningWorker[] = [];

function env() {
  return { SLACK_WEBHOOK_URL: slack.webhookUrl, REDIS_URL: testRedisUrl() };
}

async function start(metrics?: ChokepointMetrics): Promise<RunningWorker> {
  const worker = await startWorker({ config: loadConfig(configDir, env()), log: memoryLogger('warn').log, metrics });
  running.push(worker);
  return worker;
}

async function stop(worker: RunningWorker): Promise<void> {
  await worker.stop();
  running.splice(running.indexOf(worker), 1);
}

/** Enqueues a poll for a new tick and waits until it and everything it caused has finished. */
async function pollAndSettle(worker: RunningWorker, tick: number): Promise<void> {
  const { queues } = worker.context;
  await enqueuePoll(queues.poll, 'wire', tick);
  await vi.waitFor(async () => {
    const job = await queues.poll.getJob(jobId('poll', 'wire', tick));
    expect(await job?.isCompleted()).toBe(true);
  }, { timeout: 15_000, interval: 50 });
  await vi.waitFor(async () => {
    const counts = await Promise.all([queues.score, queues.notify].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    expect(counts.every((c) => Object.values(c).every((n) => n === 0))).toBe(true);
  }, { timeout: 15_000, interval: 50 });
}

beforeAll(async () => {
  feed = await startFeedServer([first, unrelated]);
  slack = await startSlackSink();
  ({ dir: configDir, cleanup: cleanupDir } = writeConfigDir({
    'sources.yaml': `sources:
  - id: wire
    kind: rss
    url: ${feed.feedUrl}
    schedule: "0 0 1 1 *"
`,
    'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    keywords: [samarium, "rare earth"]
    routes:
      - { channel: procurement-slack, minLevel: info }
`,
    'channels.yaml': `channels:
  - { id: procurement-slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
`,
    'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
worker: { pollOnStart: false }
`,
  }));
});

afterAll(async () => {
  await Promise.allSettled(running.map((w) => w.stop()));
  await Promise.allSettled([feed?.close(), slack?.close()]);
  cleanupDir?.();
  await cleanPrefix(prefix);
});

describe('the worker end to end, with real Redis, a local feed and a local Slack sink', () => {
  it('sends exactly one Slack message for a new matching item, counted and timed in the metrics', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const worker = await start(metrics);
    await pollAndSettle(worker, 1_000);
    expect(slack.messages).toHaveLength(1);
    const text = await metrics.registry.metrics();
    expect(text).toContain('chokepoint_deliveries_total{channel="procurement-slack",outcome="delivered"} 1');
    expect(text).toMatch(/^chokepoint_delivery_latency_seconds_count 1$/m);
    expect(JSON.stringify(slack.messages[0].body)).toContain('samarium');
    expect(slack.messages[0].path).toBe('/services/T0TEST/B0TEST/secret-token-abcdef');

    // A write that loses a race is counted by the worker's stores: another writer changes the alert between this
    // update's read and its write. (The pipeline's own run above had no race.)
    expect(text).not.toContain('chokepoint_store_conflicts_total{store="alert"}');
    const alerts = worker.context.stores.alerts;
    const [alert] = await alerts.listRecent(1);
    let raced = false;
    const touch = (a: Alert | undefined) => ({ ...a!, updatedAt: new Date().toISOString() });
    await alerts.update(alert!.id, async (previous) => {
      if (!raced) {
        raced = true;
        await alerts.update(alert!.id, async (current) => ({ alert: touch(current), result: undefined }));
      }
      return { alert: touch(previous), result: undefined };
    });
    expect(await metrics.registry.metrics()).toContain('chokepoint_store_conflicts_total{store="alert"} 1');
  });

  it('records a notification whose workers kept dying as a failed delivery, counted in the metrics', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const worker = await start(metrics);
    const notify = worker.workers.find((w) => w.name === 'notify')!;
    // What BullMQ reports when a job's stall count passes maxStalledCount (its workers were killed each time).
    notify.emit('failed', { id: 'notify-x', data: { alertId: 'stalled-alert', version: 1, channelId: 'procurement-slack' }, attemptsMade: 0, opts: { attempts: 20 } } as never, new Error('job stalled more than allowable limit'), 'active');
    await vi.waitFor(async () => expect(await worker.context.stores.deliveries.get('stalled-alert-v1-procurement-slack')).toMatchObject({ status: 'failed', errorKind: 'stalled' }), { timeout: 5_000, interval: 50 });
    expect(await metrics.registry.metrics()).toContain('chokepoint_deliveries_total{channel="procurement-slack",outcome="failed"} 1');
    await stop(worker);
  });

  it('sends nothing when the feed has not changed', async () => {
    const [worker] = running;
    await pollAndSettle(worker, 2_000);
    expect(slack.messages).toHaveLength(1);
  });

  it('sends nothing again after the worker restarts, even when the feed must be fetched in full', async () => {
    await stop(running[0]);
    feed.setEntries([first, unrelated]); // new ETag: a full 200 with the same items
    const worker = await start();
    await pollAndSettle(worker, 3_000);
    expect(slack.messages).toHaveLength(1);
  });

  it('sends one message, not two, when two workers share Redis and both tick', async () => {
    const other = await start();
    feed.setEntries([first, unrelated, second]);
    await Promise.all(running.map((w) => enqueuePoll(w.context.queues.poll, 'wire', 4_000)));
    await pollAndSettle(other, 4_000);
    expect(slack.messages).toHaveLength(2);
    expect(JSON.stringify(slack.messages[1].body)).toMatch(/rare earth/i);
  });
});
