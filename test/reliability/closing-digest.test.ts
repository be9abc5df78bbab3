import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DigestJob } from '../../src/queue/names.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDigestStore } from '../../src/store/digests.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startFeedServer, startServer } from '../helpers/http.js';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitUntil } from './support/wait.js';
import { endWorkerRun, spawnWorker, type WorkerProcess } from './support/worker-process.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A channel's digest taken out of the config while alerts are held for it: no scheduled digest will send them now, so
 * the worker sends them in a last digest, at the reload (and at start, for a change made while it was down).
 */
const prefix = uniquePrefix('closing-digest');
// A firm's halt: below critical, so held for the digest.
const STORY = { guid: 'closing-1', link: 'https://example.org/closing/1', title: 'Germanium smelter in Yunnan halted after flood, Quorvane Metals says', description: 'Quorvane Metals declared force majeure on germanium deliveries.' };

const settingsYaml = `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\napi: { port: 0 }\nriskIndex: { threshold: 1000000000 }\n`;
const watchlistsYaml = 'watchlists:\n  - id: minerals\n    keywords: [germanium]\n    routes: [{ channel: ops, minLevel: info }]\n';
// A digest once a year: only a closing digest can send what it holds during the test.
const channelsYaml = (digest: boolean) =>
  `channels:\n  - id: ops\n    kind: webhook\n    url: "${receiver.url}/ops"\n${digest ? '    digest: { schedule: "0 0 1 1 *", timezone: UTC, immediateLevel: critical }\n' : ''}`;

let feed: Awaited<ReturnType<typeof startFeedServer>>;
let receiver: Awaited<ReturnType<typeof startServer>>;
const bodies: Array<{ digest?: { alerts: Array<{ title: string }> }; alert?: unknown }> = [];
let config: { dir: string; cleanup: () => void };
let worker: WorkerProcess;
let redis: Redis;

beforeAll(async () => {
  feed = await startFeedServer([STORY]);
  receiver = await startServer(async (_raw, res, body) => {
    bodies.push(JSON.parse(body) as (typeof bodies)[number]);
    res.writeHead(200).end('ok');
  });
  config = writeConfigDir({
    'sources.yaml': `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "*/2 * * * * *" }\n`,
    'watchlists.yaml': watchlistsYaml,
    'channels.yaml': channelsYaml(true),
    'settings.yaml': settingsYaml,
  });
  worker = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
  redis = new Redis(testRedisUrl());
  await worker.waitFor(/worker started/, 30_000);
}, 40_000);

afterAll(() => endWorkerRun({ worker, servers: [feed, receiver], redis, config, prefix }));

describe('a digest taken out of the config while alerts are held for it', () => {
  it('sends the held alerts in one last digest on the reload, and nothing by itself', async () => {
    const digests = createDigestStore(redis, prefix, 3600);
    await waitUntil(async () => (await digests.pending('ops', Number.MAX_SAFE_INTEGER)).length === 1, { timeoutMs: 20_000 });
    expect(bodies).toEqual([]);

    writeFileSync(path.join(config.dir, 'channels.yaml'), channelsYaml(false));
    const before = worker.output().length;
    worker.child.kill('SIGHUP');
    await worker.waitFor(/config reloaded/, 10_000);
    await waitUntil(() => bodies.length > 0, { timeoutMs: 15_000 });
    expect(worker.output().slice(before)).toMatch(/alerts are held for one: sending them in a last digest/);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.digest?.alerts.map((a) => a.title)).toEqual([expect.stringContaining('Germanium')]);
    expect(await digests.pending('ops', Number.MAX_SAFE_INTEGER)).toEqual([]);
    // A minute on, one more looks for alerts held for the digest since (a score job deciding with the old config).
    const queue = new Queue<DigestJob>('digest', { connection: redis, prefix: `{${prefix}}` });
    try {
      await waitUntil(async () => (await queue.getJobs(['delayed'])).some((j) => j.data.channelId === 'ops' && j.data.closing), { timeoutMs: 5_000 });
    } finally {
      await queue.close();
    }

    // Another reload finds nothing held: no second digest.
    worker.child.kill('SIGHUP');
    await worker.waitFor(/config reloaded[\s\S]*config reloaded/, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(bodies).toHaveLength(1);
  }, 60_000);
});
