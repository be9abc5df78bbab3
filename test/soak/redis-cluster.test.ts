import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { jobId } from '../../src/queue/names.js';
import { enqueuePoll } from '../../src/queue/scheduler.js';
import { startWorker, type RunningWorker } from '../../src/worker/start.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startFeedServer } from '../helpers/http.js';
import { syntheticEntries } from '../helpers/synthetic.js';
import { startReceiver, type Receiver } from '../reliability/support/receiver.js';
import { type LocalCluster, startLocalCluster } from '../reliability/support/redis-cluster.js';
import { waitUntil } from '../reliability/support/wait.js';

/**
 * A real three-primary Redis Cluster: with every key under the one hash tag "{prefix}", the whole pipeline lives in
 * one slot, so a worker pointed at the primary that serves that slot runs unchanged (no CROSSSLOT, no MOVED), and
 * the other primaries hold nothing of it. This is how docs/reliability.md says to run on a cluster today.
 */
const prefix = 'chokepoint-cluster';
let cluster: LocalCluster;
let receiver: Receiver;
let feed: Awaited<ReturnType<typeof startFeedServer>>;
let config: { dir: string; cleanup: () => void };
let worker: RunningWorker | undefined;

beforeAll(async () => {
  cluster = await startLocalCluster();
  receiver = await startReceiver();
  feed = await startFeedServer(syntheticEntries(60, { alertEvery: 3, prefix }));
  config = writeConfigDir({
    'sources.yaml': `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "0 0 1 1 *" }\n`,
    'watchlists.yaml': `watchlists:\n  - id: minerals\n    materials: [gallium, germanium, samarium, dysprosium, terbium, antimony, graphite, tungsten, neodymium]\n    keywords: ["rare earth"]\n    routes: [{ channel: ok, minLevel: info }]\n`,
    'channels.yaml': `channels:\n  - { id: ok, kind: webhook, url: "${receiver.urlFor('ok')}" }\n`,
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\napi: { enabled: false }\nworker: { pollOnStart: false }\n`,
  });
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await Promise.allSettled([feed?.close(), receiver?.close()]);
  config?.cleanup();
  await cluster?.close();
});

describe('on a Redis Cluster', () => {
  it('runs the whole pipeline on the primary serving the {prefix} slot, and nothing lands on the others', async () => {
    const owner = await cluster.ownerOf(`{${prefix}}`);
    const { log, lines } = memoryLogger('warn');
    worker = await startWorker({ config: loadConfig(config.dir, { REDIS_URL: owner }), log });
    const { queues } = worker.context;
    await enqueuePoll(queues.poll, 'wire', 60_000);
    await waitUntil(async () => (await (await queues.poll.getJob(jobId('poll', 'wire', 60_000)))?.isCompleted()) === true, { timeoutMs: 20_000 });
    await waitUntil(() => receiver.accepted('ok').keys.size >= 20, { timeoutMs: 30_000, describe: () => `${receiver.accepted('ok').keys.size}/20` });
    await worker.stop();
    worker = undefined;

    const sizes: Record<string, number> = {};
    for (const port of cluster.ports) {
      const node = new Redis({ port, host: '127.0.0.1' });
      sizes[`redis://127.0.0.1:${port}`] = await node.dbsize();
      node.disconnect();
    }
    console.log(`[soak] Redis Cluster of 3 primaries: keys per node ${JSON.stringify(sizes)}; worker on ${owner}; ${receiver.accepted('ok').keys.size} alerts delivered`);
    expect(receiver.accepted('ok').keys.size).toBe(20);
    expect(receiver.accepted('ok').duplicates).toBe(0);
    for (const [url, size] of Object.entries(sizes)) expect(size > 0, url).toBe(url === owner);
    expect(lines().join('\n')).not.toMatch(/CROSSSLOT|MOVED/);
  });
});
