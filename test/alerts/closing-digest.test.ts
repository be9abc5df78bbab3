import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger, silentLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import { digestStage } from '../../src/pipeline/digest.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { enqueueClosingDigest, enqueueClosingDigests, enqueueMissedDigests, latestDigestSlot } from '../../src/queue/digest-schedule.js';
import { digestKey } from '../../src/alerts/digest.js';
import type { DigestJob } from '../../src/queue/names.js';
import { createAlertStore } from '../../src/store/alerts.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { createDigestStore } from '../../src/store/digests.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startServer } from '../helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { makeAlert } from './fixtures.js';

/** The last digest of a channel whose digest was taken out of the config (see enqueueClosingDigests). */
const prefix = uniquePrefix('closing-stage');
const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
let receiver: Awaited<ReturnType<typeof startServer>>;
const bodies: Array<{ digest?: { alerts: Array<{ id: string }> } }> = [];
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  receiver = await startServer(async (_req, res, body) => {
    bodies.push(JSON.parse(body) as (typeof bodies)[number]);
    res.writeHead(200).end('ok');
  });
});

afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
  await receiver?.close();
  redis.disconnect();
  await cleanPrefix(prefix);
});

/** The config state of one webhook channel `ops`, with a digest or without. */
function stateWith(digest: boolean): ConfigState {
  const dir = writeConfigDir({
    'sources.yaml': 'sources: []\n',
    'watchlists.yaml': 'watchlists: []\n',
    'channels.yaml': `channels:\n  - id: ops\n    kind: webhook\n    url: "${receiver.url}/ops"\n${digest ? '    digest: { schedule: "0 8 * * *", timezone: UTC }\n' : ''}`,
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
  });
  const config = loadConfig(dir.dir, { REDIS_URL: testRedisUrl() });
  dir.cleanup();
  const notifiers = createNotifiers(config.channels);
  cleanups.push(() => notifiers.close());
  return { config, scorer: undefined as never, notifiers, http: undefined as never, sources: new Map(), watchlists: new Map(), channels: new Map(config.channels.map((c) => [c.id, c])) };
}

/** Stores under a prefix of the test's own, and a way to hold an alert for `ops`'s digest at a given time. */
function storesFor(name: string) {
  const own = `${prefix}-${name}`;
  const stores = { alerts: createAlertStore(redis, own, { days: 90, count: 1000 }), deliveries: createDeliveryStore(redis, own, 86_400), digests: createDigestStore(redis, own, 86_400) };
  const dispatch = createDispatchStore(redis, own, 86_400);
  const hold = async (id: string, at: number) => {
    const alert = makeAlert({ id, level: 'medium' });
    await stores.alerts.update(id, async () => ({ alert, result: null }));
    await dispatch.record(id, { channelId: 'ops', version: alert.version, mode: 'digest', why: 'below-immediate-level', decidedAt: at });
  };
  return { stores, hold, own };
}

describe('a closing digest', () => {
  it('sends every alert held for the channel when it runs, even one held after its window ends', async () => {
    bodies.length = 0;
    const { stores, hold } = storesFor('late');
    const now = Date.now();
    await hold('early', now - 60_000);
    // Held by a score job still deciding with the old config, after the closing digest was enqueued.
    await hold('late', now + 50);
    const outcome = await digestStage({ channelId: 'ops', windowEnd: now, closing: true }, { state: stateWith(false), ...stores, log: silentLogger(), now: () => new Date(now + 100) });
    expect(outcome).toMatchObject({ status: 'delivered', alerts: 2 });
    expect(bodies.map((b) => b.digest?.alerts.map((a) => a.id).sort())).toEqual([['early', 'late']]);
    expect(await stores.digests.pending('ops', Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it("is sent with the channel's own digest settings where this worker's config still has (or again has) the digest", async () => {
    bodies.length = 0;
    const { stores, hold } = storesFor('restored');
    const now = Date.now();
    await hold('kept', now - 60_000);
    // A worker not yet reloaded (or the digest put back): nothing is left held for a digest that may never come.
    const outcome = await digestStage({ channelId: 'ops', windowEnd: now, closing: true }, { state: stateWith(true), ...stores, log: silentLogger(), now: () => new Date(now) });
    expect(outcome).toMatchObject({ status: 'delivered', alerts: 1 });
    expect(bodies.map((b) => b.digest?.alerts.map((a) => a.id))).toEqual([['kept']]);
    expect(await stores.digests.pending('ops', Number.MAX_SAFE_INTEGER)).toEqual([]);
  });
});

describe('enqueueing closing digests', () => {
  it('queues one per channel however many replicas reload together, and none for a channel holding nothing', async () => {
    const { stores, hold, own } = storesFor('replicas');
    const queue = new Queue<DigestJob>('digest', { connection: redis, prefix: `{${own}}` });
    cleanups.push(() => queue.close());
    const channels = stateWith(false).config.channels;
    const { log, lines } = memoryLogger('info');
    const now = Date.now();
    // Nothing held: nothing queued, nothing said.
    await enqueueClosingDigests(channels, queue, stores.digests, log, now);
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0 });

    await hold('a1', now - 1_000);
    // Three replicas, a few milliseconds apart.
    await Promise.all([0, 3, 7].map((ms) => enqueueClosingDigests(channels, queue, stores.digests, log, now + ms)));
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((j) => j.data)).toEqual([expect.objectContaining({ channelId: 'ops', closing: true })]);
    expect(lines().filter((l) => l.includes('sending them in a last digest'))).not.toHaveLength(0);
  });

  it('never lets two of one channel run at once: one asked for while one runs is added once it ends', async () => {
    const { own } = storesFor('one-at-a-time');
    const queue = new Queue<DigestJob>('digest', { connection: redis, prefix: `{${own}}` });
    const connection = redis.duplicate();
    let release!: () => void;
    const running: number[] = [];
    const worker = new Worker<DigestJob>(
      'digest',
      async (job) => {
        running.push(job.data.windowEnd);
        if (running.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      { connection, prefix: `{${own}}` },
    );
    cleanups.push(async () => {
      await worker.close();
      await queue.close();
      connection.disconnect();
    });
    const now = Date.now();
    await enqueueClosingDigest(queue, 'ops', now);
    await vi.waitFor(() => expect(running).toEqual([now]), { timeout: 5_000, interval: 20 });
    // A reload, and another replica's, while it runs.
    await enqueueClosingDigest(queue, 'ops', now + 5);
    await enqueueClosingDigest(queue, 'ops', now + 9);
    expect(await queue.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });
    release();
    await vi.waitFor(() => expect(running).toEqual([now, now + 9]), { timeout: 5_000, interval: 20 });
  });
});

describe('a digest slot missed while no worker ran', () => {
  it('is queued once at start, after the last digest, and not for a channel that never had one and holds nothing', async () => {
    const { stores, hold, own } = storesFor('missed');
    const queue = new Queue<DigestJob>('digest', { connection: redis, prefix: `{${own}}` });
    cleanups.push(() => queue.close());
    const channels = stateWith(true).config.channels; // 08:00 UTC daily
    const slot = Date.parse('2026-03-04T08:00:00Z');
    const now = slot + 6 * 3_600_000;
    const { log, lines } = memoryLogger('info');

    // Never had a digest, nothing held: nothing to send late.
    await enqueueMissedDigests(channels, queue, stores.digests, log, now);
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0 });

    // The last digest was yesterday's: today's 08:00 passed with no worker up. Three replicas start together.
    await hold('a1', slot - 3_600_000);
    await stores.digests.setLastWindowEnd('ops', slot - 86_400_000);
    await Promise.all([0, 5, 9].map((ms) => enqueueMissedDigests(channels, queue, stores.digests, log, now + ms)));
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((j) => [j.id, j.data])).toEqual([[digestKey('ops', slot), { channelId: 'ops', windowEnd: slot }]]);
    expect(lines().some((l) => l.includes('a digest slot passed while no worker was running'))).toBe(true);

    // Once that digest has run, a restart sends nothing more.
    await queue.obliterate({ force: true });
    await stores.digests.setLastWindowEnd('ops', slot);
    await enqueueMissedDigests(channels, queue, stores.digests, log, now + 60_000);
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0 });
    expect(latestDigestSlot(channels[0], slot - 86_400_000, now)).toBe(slot);
    expect(latestDigestSlot(channels[0], slot, now)).toBeUndefined();
  });

  it('finds the slot a six-field schedule names, and takes the repeated hour of a fall-back for the same slot', () => {
    const channel = (schedule: string, timezone: string) => ({ ...stateWith(true).config.channels[0], digest: { ...stateWith(true).config.channels[0].digest!, schedule, timezone } });
    const now = Date.parse('2026-03-31T10:00:30Z');
    expect(latestDigestSlot(channel('30 0 8 * * *', 'Europe/Berlin'), now - 86_400_000, now)).toBe(Date.parse('2026-03-31T06:00:30Z'));
    // 01:30 in New York is 05:30Z and again 06:30Z on 1 November 2026; the scheduler ran the first.
    const ny = channel('30 1 * * *', 'America/New_York');
    expect(latestDigestSlot(ny, Date.parse('2026-11-01T05:30:00Z'), Date.parse('2026-11-01T15:00:00Z'))).toBeUndefined();
    expect(latestDigestSlot(ny, Date.parse('2026-10-31T05:30:00Z'), Date.parse('2026-11-01T15:00:00Z'))).toBe(Date.parse('2026-11-01T06:30:00Z'));
  });
});
