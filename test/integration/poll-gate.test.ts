import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { enqueuePoll } from '../../src/queue/scheduler.js';
import { startWorker } from '../../src/worker/start.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { rssDocument, startServer } from '../helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { syntheticEntries } from '../helpers/synthetic.js';

/**
 * The poll gate: a worker's polls wait on the network together, but hold their feeds in memory (parse, filter,
 * enqueue) one at a time. Seen from Redis: every score job of one feed is queued before any of the next feed's.
 */
const prefix = uniquePrefix('poll-gate');
const FEEDS = 3;
const ITEMS = 1_500; // two enqueue rounds of up to 1,000 items per feed: room for another feed's to come in between

afterAll(async () => {
  await cleanPrefix(prefix);
});

describe('the poll gate', () => {
  it("fetches a worker's feeds at once and queues each feed's items before the next feed's", async () => {
    const bodies = Array.from({ length: FEEDS }, (_, f) => rssDocument(`feed ${f}`, syntheticEntries(ITEMS, { alertEvery: 1_000_000, prefix: `gate${f}` })));
    // Every response waits until all three requests have arrived: the fetches overlapped.
    const waiting: Array<() => void> = [];
    const feeds = await startServer((req, res) => {
      const f = Number(/feed-(\d+)/.exec(req.url ?? '')?.[1]);
      waiting.push(() => res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(bodies[f]));
      if (waiting.length === FEEDS) waiting.splice(0).forEach((send) => send());
    });
    const config = writeConfigDir({
      'sources.yaml': `sources:\n${Array.from({ length: FEEDS }, (_, f) => `  - { id: feed-${f}, kind: rss, url: "${feeds.url}/feed-${f}.xml", schedule: "0 0 1 1 *" }`).join('\n')}\n`,
      'watchlists.yaml': 'watchlists:\n  - id: minerals\n    keywords: [gallium]\n    routes: [{ channel: hook, minLevel: info }]\n',
      'channels.yaml': 'channels:\n  - { id: hook, kind: webhook, url: "http://127.0.0.1:9/hook" }\n',
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true, perHostIntervalMs: 0, perHostConcurrency: ${FEEDS} }\napi: { enabled: false }\nworker: { pollConcurrency: ${FEEDS} }\n`,
    });
    const redis = new Redis(testRedisUrl());
    // The poll role alone: the score jobs stay queued, in the order they were added.
    const worker = await startWorker({ config: loadConfig(config.dir, { REDIS_URL: testRedisUrl() }), log: memoryLogger('warn').log, roles: ['poll'] });
    try {
      for (let f = 0; f < FEEDS; f++) await enqueuePoll(worker.context.queues.poll, `feed-${f}`, Date.now());
      const expected = FEEDS * Math.ceil(ITEMS / 100);
      const deadline = Date.now() + 30_000;
      while ((await redis.llen(`{${prefix}}:score:wait`)) < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // The wait list is pushed on the left: oldest last.
      const order = (await redis.lrange(`{${prefix}}:score:wait`, 0, -1)).reverse().map((id) => /feed-\d+/.exec(id)?.[0]);
      expect(order).toHaveLength(expected);
      const runs = order.filter((source, i) => i === 0 || source !== order[i - 1]);
      expect(runs.sort()).toEqual(['feed-0', 'feed-1', 'feed-2']);
    } finally {
      await worker.stop();
      redis.disconnect();
      await feeds.close();
      config.cleanup();
    }
  }, 60_000);
});
