import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/api/metrics.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { jobId } from '../../src/queue/names.js';
import type { Level } from '../../src/scoring/types.js';
import { makeAlert } from '../alerts/fixtures.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startRealTimeWorker, stopDeliveryWorker, type TestWorker } from './support/delivery-worker.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { jobCompleted } from './support/wait.js';

/**
 * The pacing metrics (chokepoint_pace_waits_total, chokepoint_pace_wait_seconds) as the notify processors record them,
 * on real BullMQ, Redis and a local receiver: a paced channel's queued deliveries each wait for their slot once; an
 * unpaced channel's never do.
 */
const prefix = uniquePrefix('delivery-pace-metrics');
/** One send every 100 ms, no burst. */
const INTERVAL_MS = 100;
/** A slower channel, for a critical alert that moves the waiting ones back. */
const PRIO_INTERVAL_MS = 250;
let receiver: Receiver;
let run: TestWorker;
const metrics = createMetrics({ defaultMetrics: false });

beforeAll(async () => {
  receiver = await startReceiver();
  run = await startRealTimeWorker(
    {
      'channels.yaml': `channels:
  - { id: paced, kind: webhook, url: "${receiver.urlFor('paced')}", rateLimit: { perMinute: ${60_000 / INTERVAL_MS} } }
  - { id: unpaced, kind: webhook, url: "${receiver.urlFor('unpaced')}" }
  - { id: prio, kind: webhook, url: "${receiver.urlFor('prio')}", rateLimit: { perMinute: ${60_000 / PRIO_INTERVAL_MS} } }
`,
      'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
`,
    },
  );
  // The processors read the context's metrics for each job, as the worker wires the API's metrics in.
  run.worker.context.metrics = metrics;
}, 30_000);

afterAll(() => stopDeliveryWorker(run, receiver, prefix));

/** The value of one sample line of the registry's text. */
async function sample(series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function notifyAll(channelId: string, count: number, level: Level = 'medium', name = 'a'): Promise<Job[]> {
  const { stores, queues } = run.worker.context;
  const ids = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const alertId = `${name}-${channelId}-${i}`;
      await stores.alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId, level }), result: null }));
      const id = jobId('notify', deliveryKey(alertId, 1, channelId));
      await queues.notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
      return id;
    }),
  );
  return Promise.all(ids.map((id) => jobCompleted(queues.notify, id)));
}

describe('pacing metrics', () => {
  it('counts the deliveries of a paced channel that waited for a slot, and how long they waited', async () => {
    metrics.prime(run.worker.context.runtime.state.config);
    expect(await sample('chokepoint_pace_waits_total{channel="paced"}')).toBe(0);
    const jobs = await notifyAll('paced', 4);
    // The first goes at once; the others wait one, two and three intervals, each counted once (a job woken a few ms
    // early waits again, for the same slot).
    const waits = (await sample('chokepoint_pace_waits_total{channel="paced"}'))!;
    expect(waits).toBe(3);
    expect(jobs.reduce((n, job) => n + job.attemptsStarted - 1, 0)).toBeGreaterThanOrEqual(3);
    expect(await sample('chokepoint_pace_wait_seconds_count{channel="paced"}')).toBe(waits);
    const seconds = (await sample('chokepoint_pace_wait_seconds_sum{channel="paced"}'))!;
    // One, two and three intervals, less however late each job asked for its slot (a loaded worker asks later and
    // waits less): more than one interval in all unless the three asked half a second late between them.
    expect(seconds).toBeGreaterThan(INTERVAL_MS / 1000);
    // A sum of float seconds: 0.1 + 0.2 + 0.3 is 0.6000000000000001.
    expect(seconds).toBeLessThanOrEqual((6 * INTERVAL_MS + (waits - 3) * 20) / 1000 + 1e-9);
    expect(await sample('chokepoint_pace_wait_seconds_bucket{le="0.5",channel="paced"}')).toBe(waits);
  });

  it('counts the wait of a delivery a critical alert moved back once, though it wakes twice', async () => {
    const { queues } = run.worker.context;
    const routine = notifyAll('prio', 4);
    // Three wait for their slots (the first went at once) when the critical alert comes.
    await vi.waitFor(async () => expect((await queues.notify.getJobCounts('delayed')).delayed).toBe(3), { timeout: 5_000, interval: 10 });
    const critical = await notifyAll('prio', 1, 'critical', 'crit');
    const jobs = [...(await routine), ...critical];
    const wakes = jobs.reduce((n, job) => n + job.attemptsStarted - 1, 0);
    // Every routine one still waiting was moved back a slot: woken at its old slot, it waited again.
    expect(wakes).toBeGreaterThan(4);
    expect(await sample('chokepoint_pace_waits_total{channel="prio"}')).toBe(4);
    expect(await sample('chokepoint_pace_wait_seconds_count{channel="prio"}')).toBe(4);
  });

  it('counts no wait for an unpaced channel', async () => {
    await notifyAll('unpaced', 4);
    expect(await sample('chokepoint_pace_waits_total{channel="unpaced"}')).toBe(0);
    expect(await sample('chokepoint_pace_wait_seconds_count{channel="unpaced"}')).toBeUndefined();
  });
});
