import { afterEach, describe, expect, it } from 'vitest';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startReceiver } from '../reliability/support/receiver.js';
import { startFeedFarm, writeScenarioConfig } from '../reliability/support/scenario.js';
import { spawnWorker, type WorkerProcess } from '../reliability/support/worker-process.js';
import { drained, openQueues } from '../reliability/support/queues.js';
import { sleep, waitUntil } from '../reliability/support/wait.js';

/**
 * Three `chokepoint worker` processes on one Redis, 10,000 items from 10 local feeds released over ~40 s, of which
 * 1,000 alert, each routed to two webhook channels. Once cleanly, once with workers SIGKILLed and restarted all along.
 */
const ITEMS = Number(process.env.SOAK_ITEMS ?? 10_000);
const SOURCES = 10;
const ALERT_EVERY = 10;
const RELEASE_PER_SECOND = 250;
const CHANNELS = ['ops', 'buyers'];
/** settings.worker.notifyConcurrency, the default. */
const NOTIFY_CONCURRENCY = 8;

const teardown: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

async function run(options: { killEveryMs?: [number, number] }) {
  const prefix = uniquePrefix('soak-many');
  const farm = await startFeedFarm({ items: ITEMS, sources: SOURCES, alertEvery: ALERT_EVERY, window: 500, tag: prefix });
  const receiver = await startReceiver();
  const config = writeScenarioConfig({
    prefix,
    farm,
    sources: SOURCES,
    channels: Object.fromEntries(CHANNELS.map((c) => [c, receiver.urlFor(c)])),
    settings: [`worker: { notifyConcurrency: ${NOTIFY_CONCURRENCY} }`],
  });
  teardown.push(() => cleanPrefix(prefix), config.cleanup, () => farm.close(), () => receiver.close());

  const workers: WorkerProcess[] = [];
  const spawnOne = () => spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
  for (let i = 0; i < 3; i++) workers.push(spawnOne());
  teardown.push(() => Promise.all(workers.map((w) => w.stop())));
  await Promise.all(workers.map((w) => w.waitFor(/worker started/, 60_000)));

  const started = Date.now();
  const releasing = farm.releaseAll(RELEASE_PER_SECOND);
  let kills = 0;
  const killTimes: number[] = [];
  let killing = Boolean(options.killEveryMs);
  const respawns: Array<Promise<void>> = [];
  const killer = (async () => {
    while (killing) {
      const [min, max] = options.killEveryMs!;
      await sleep(min + Math.random() * (max - min));
      // Kill a worker that is up and working (one still starting up would prove little), then bring it back.
      const up = workers.map((w, i) => [w, i] as const).filter(([w]) => w.child.exitCode === null && /worker started/.test(w.output()));
      if (!killing || up.length === 0) continue;
      const [victim, index] = up[Math.floor(Math.random() * up.length)];
      killTimes.push(Date.now());
      await victim.kill();
      kills++;
      respawns.push(sleep(1000).then(() => void (workers[index] = spawnOne())));
    }
  })();
  await releasing;
  // Keep killing a while after the last release: crashes while the tail is scored and delivered count most.
  if (killing) await sleep(10_000);
  killing = false;
  await killer;
  await Promise.all(respawns);

  const expected = farm.alertingLinks.size;
  await waitUntil(() => CHANNELS.every((c) => receiver.accepted(c).keys.size >= expected), {
    timeoutMs: 300_000,
    intervalMs: 250,
    describe: () => CHANNELS.map((c) => `${c}: ${receiver.accepted(c).keys.size}/${expected}`).join(', '),
  });
  const drainedMs = Date.now() - started;
  // Jobs of a killed worker are re-run once their lock expires (up to ~60 s): a duplicate can only come from those,
  // so wait until every queue is empty, stalled jobs included, before counting.
  const queues = await openQueues(testRedisUrl(), prefix);
  teardown.push(() => queues.close());
  let pending: Record<string, number> = {};
  await waitUntil(async () => drained((pending = await queues.pending())), { timeoutMs: 180_000, intervalMs: 500, describe: () => JSON.stringify(pending) });
  const failed = await queues.failed();
  return { farm, receiver, kills, killTimes, drainedMs, expected, workers, started, failed };
}

describe('many worker processes on one Redis', () => {
  it('delivers every alert exactly once per channel with three workers sharing 10,000 items', async () => {
    const { farm, receiver, drainedMs, expected } = await run({});
    const figures = CHANNELS.map((c) => ({ channel: c, ...receiver.accepted(c) }));
    console.log(
      `[soak] 3 workers, ${ITEMS} items, ${expected} alerting, ${CHANNELS.length} channels: all delivered ${(drainedMs / 1000).toFixed(1)} s after the first release; ` +
        figures.map((f) => `${f.channel} ${f.keys.size} delivered, ${f.duplicates} duplicates`).join('; '),
    );
    expect(expected).toBeGreaterThanOrEqual(Math.min(500, ITEMS / ALERT_EVERY));
    for (const f of figures) {
      expect([...farm.alertingLinks].filter((link) => !f.links.has(link))).toEqual([]);
      expect(f.keys.size).toBe(expected);
      expect(f.duplicates).toBe(0);
    }
  });

  it('loses no alert when workers are SIGKILLed again and again; each kill duplicates at most the deliveries it interrupted', async () => {
    const { farm, receiver, kills, killTimes, drainedMs, expected, failed } = await run({ killEveryMs: [2_000, 5_000] });
    const figures = CHANNELS.map((c) => ({ channel: c, ...receiver.accepted(c) }));
    const duplicates = figures.reduce((sum, f) => sum + f.duplicates, 0);
    // Every duplicate must be a delivery that was on the wire when a worker died: its first copy reached the receiver
    // just before a kill (the at-least-once window), never a send that a ledger entry should have stopped.
    const firstAt = new Map<string, number>();
    const counts = new Map<string, number>();
    for (const r of receiver.requests.filter((q) => q.status === 200)) {
      if (!firstAt.has(r.idempotencyKey)) firstAt.set(r.idempotencyKey, r.at);
      counts.set(r.idempotencyKey, (counts.get(r.idempotencyKey) ?? 0) + 1);
    }
    const killFor = (key: string) => killTimes.find((kill) => firstAt.get(key)! <= kill + 50 && firstAt.get(key)! > kill - 2_000);
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([key]) => key);
    const unexplained = duplicated.filter((key) => killFor(key) === undefined);
    const killsWithDuplicates = new Set(duplicated.map(killFor)).size;
    console.log(
      `[soak] 3 workers, ${ITEMS} items, ${expected} alerting x ${CHANNELS.length} channels, ${kills} SIGKILLs: all delivered ${(drainedMs / 1000).toFixed(1)} s after the first release; ` +
        `${duplicates} duplicate deliveries (${figures.map((f) => `${f.channel} ${f.duplicates}`).join(', ')}) from ${killsWithDuplicates} of the kills; failed jobs ${JSON.stringify(failed)}`,
    );
    expect(kills).toBeGreaterThanOrEqual(Math.min(5, Math.floor(ITEMS / 1000)));
    for (const f of figures) {
      expect([...farm.alertingLinks].filter((link) => !f.links.has(link))).toEqual([]);
      expect(f.keys.size).toBe(expected);
    }
    expect(unexplained).toEqual([]);
    // A kill interrupts at most notifyConcurrency notifications of the worker it kills.
    expect(duplicates).toBeLessThanOrEqual(kills * NOTIFY_CONCURRENCY);
    expect(failed.notify).toBe(0);
  });
});
