import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { uniquePrefix } from '../helpers/redis.js';
import { drained, openQueues } from '../reliability/support/queues.js';
import { startReceiver } from '../reliability/support/receiver.js';
import { startOwnRedis } from '../reliability/support/redis-server.js';
import { startFeedFarm, writeScenarioConfig } from '../reliability/support/scenario.js';
import { sleep, waitUntil } from '../reliability/support/wait.js';
import { spawnWorker, type WorkerProcess } from '../reliability/support/worker-process.js';

/**
 * Redis with AOF (fsync always) killed with SIGKILL in the middle of a run and started again on the same files: the
 * two worker processes must reconnect by themselves, every delivery the ledger had recorded must still be there,
 * and every alert must still be delivered.
 */
const ITEMS = 3_000;
const SOURCES = 5;

const teardown: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

async function deliveredKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `{${prefix}}:delivery:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(keys);
  return keys.filter((_, i) => values[i]?.includes('"status":"delivered"'));
}

describe('a Redis restart', () => {
  it('is survived by the workers without restarting them, and loses nothing Redis acknowledged', async () => {
    const redisServer = await startOwnRedis();
    teardown.push(() => redisServer.close());
    const prefix = uniquePrefix('soak-redis');
    const farm = await startFeedFarm({ items: ITEMS, sources: SOURCES, alertEvery: 10, window: 600, tag: prefix });
    const receiver = await startReceiver();
    const config = writeScenarioConfig({ prefix, farm, sources: SOURCES, channels: { ops: receiver.urlFor('ops') } });
    teardown.push(config.cleanup, () => farm.close(), () => receiver.close());

    const workers: WorkerProcess[] = [0, 1].map(() => spawnWorker({ configDir: config.dir, env: { REDIS_URL: redisServer.url } }));
    teardown.push(() => Promise.all(workers.map((w) => w.stop())));
    await Promise.all(workers.map((w) => w.waitFor(/worker started/, 60_000)));

    const started = Date.now();
    const releasing = farm.releaseAll(150);
    await waitUntil(() => receiver.accepted('ops').keys.size >= 50, { timeoutMs: 60_000 });

    // What the ledger holds just before the crash: Redis acknowledged these writes.
    let probe = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    const before = await deliveredKeys(probe, prefix);
    probe.disconnect();
    const killedAt = Date.now();
    await redisServer.kill();
    await sleep(3_000);
    await redisServer.start();
    const restartedAt = Date.now();

    await Promise.all(workers.map((w) => w.waitFor(/Redis connection restored/, 60_000)));
    const reconnectedMs = Date.now() - restartedAt;

    probe = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    teardown.push(() => probe.disconnect());
    const after = new Set(await deliveredKeys(probe, prefix));
    const lostLedger = before.filter((key) => !after.has(key));
    await releasing;
    const expected = farm.alertingLinks.size;
    await waitUntil(() => receiver.accepted('ops').keys.size >= expected, {
      timeoutMs: 240_000,
      intervalMs: 250,
      describe: () => `ops: ${receiver.accepted('ops').keys.size}/${expected}`,
    });
    const queues = await openQueues(redisServer.url, prefix);
    teardown.push(() => queues.close());
    let pending: Record<string, number> = {};
    await waitUntil(async () => drained((pending = await queues.pending())), { timeoutMs: 180_000, intervalMs: 500, describe: () => JSON.stringify(pending) });

    const ops = receiver.accepted('ops');
    console.log(
      `[soak] Redis SIGKILLed ${((killedAt - started) / 1000).toFixed(1)} s into the run, back 3 s later: ${before.length} ledger entries before, ${lostLedger.length} lost; ` +
        `both workers reconnected within ${(reconnectedMs / 1000).toFixed(1)} s of the restart; ${ops.keys.size}/${expected} alerts delivered, ${ops.duplicates} duplicates; ` +
        `all delivered ${((Date.now() - started) / 1000).toFixed(1)} s after the first release`,
    );
    expect(before.length).toBeGreaterThan(0);
    expect(lostLedger).toEqual([]);
    for (const worker of workers) {
      expect(worker.child.exitCode).toBeNull();
      // One line per outage, not one per reconnect attempt.
      expect(worker.output().match(/Redis connection lost/g)?.length ?? 0).toBeLessThanOrEqual(3);
    }
    expect([...farm.alertingLinks].filter((link) => !ops.links.has(link))).toEqual([]);
    expect(ops.keys.size).toBe(expected);
  });
});
