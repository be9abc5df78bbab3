import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { enqueueDigest } from '../../src/queue/digest-schedule.js';
import { jobId } from '../../src/queue/names.js';
import { enqueuePoll } from '../../src/queue/scheduler.js';
import { startWorker, type RunningWorker } from '../../src/worker/start.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startFeedServer } from '../helpers/http.js';
import { syntheticEntries } from '../helpers/synthetic.js';
import { startReceiver, type Receiver } from './support/receiver.js';
import { startOwnRedis, type OwnRedis } from './support/redis-server.js';
import { waitUntil } from './support/wait.js';

/**
 * Redis Cluster runs multi-key commands and scripts only on keys of one slot. Every key the pipeline writes must
 * therefore carry the prefix as its hash tag: "{prefix}:...". A Redis of our own reports every key touched
 * (keyspace notifications), so short-lived keys such as locks are checked too, not only what is left at the end.
 */
const prefix = 'cluster-check';
let redisServer: OwnRedis;
let subscriber: Redis;
let receiver: Receiver;
let feed: Awaited<ReturnType<typeof startFeedServer>>;
let config: { dir: string; cleanup: () => void };
let worker: RunningWorker | undefined;
const touched = new Set<string>();

beforeAll(async () => {
  redisServer = await startOwnRedis({ appendonly: false, args: ['--notify-keyspace-events', 'KEA'] });
  subscriber = new Redis(redisServer.url);
  subscriber.on('pmessage', (_pattern, _channel, key: string) => touched.add(key));
  await subscriber.psubscribe('__keyevent@*__:*');
  receiver = await startReceiver();
  let limitedOnce = false;
  receiver.respond = (req) => {
    // One 429 writes the channel block; a 400 is permanent and lands in the failed index.
    if (req.channel === 'limited' && !limitedOnce) return (limitedOnce = true), { status: 429, headers: { 'Retry-After': '1' } };
    if (req.channel === 'broken') return { status: 400 };
    return { status: 200 };
  };
  feed = await startFeedServer(syntheticEntries(30, { alertEvery: 3, prefix }));
  config = writeConfigDir({
    'sources.yaml': `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "0 0 1 1 *" }\n`,
    'watchlists.yaml': `watchlists:\n  - id: minerals\n    materials: [gallium, germanium, samarium, dysprosium, terbium, antimony, graphite, tungsten, neodymium]\n    keywords: ["rare earth"]\n    routes: [{ channel: ok, minLevel: info }, { channel: limited, minLevel: info }, { channel: broken, minLevel: info }, { channel: later, minLevel: info }]\n`,
    'channels.yaml': `channels:
  - { id: ok, kind: webhook, url: "${receiver.urlFor('ok')}", throttle: { maxPerHour: 100 } }
  - { id: limited, kind: webhook, url: "${receiver.urlFor('limited')}" }
  - { id: broken, kind: webhook, url: "${receiver.urlFor('broken')}" }
  - { id: later, kind: webhook, url: "${receiver.urlFor('later')}", digest: { schedule: "0 8 1 1 *", immediateLevel: critical } }
`,
    // A low risk-index threshold: the index crosses and raises its own alert, so its keys are written too.
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\napi: { enabled: false }\nworker: { pollOnStart: false }\nriskIndex: { threshold: 20 }\n`,
  });
}, 30_000);

afterAll(async () => {
  await worker?.stop();
  subscriber?.disconnect();
  await Promise.allSettled([feed?.close(), receiver?.close()]);
  config?.cleanup();
  await redisServer?.close();
});

async function allKeys(redis: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

describe('keys and queues on Redis Cluster', () => {
  it('writes every key of a full run (poll, score, notify, 429, failure, digest) under the {prefix} hash tag', async () => {
    worker = await startWorker({ config: loadConfig(config.dir, { REDIS_URL: redisServer.url }), log: memoryLogger('warn').log });
    const { queues } = worker.context;
    await enqueuePoll(queues.poll, 'wire', 60_000);
    await waitUntil(async () => (await (await queues.poll.getJob(jobId('poll', 'wire', 60_000)))?.isCompleted()) === true, { timeoutMs: 15_000 });
    await waitUntil(() => receiver.accepted('ok').keys.size >= 10 && receiver.accepted('limited').keys.size >= 10, { timeoutMs: 20_000 });
    await enqueueDigest(queues.digest, 'later', Date.now());
    await waitUntil(async () => (await queues.digest.getCompletedCount()) + (await queues.digest.getFailedCount()) >= 1, { timeoutMs: 15_000 });
    await waitUntil(async () => (await queues.notify.getFailedCount()) >= 10, { timeoutMs: 15_000 });
    await worker.stop();
    worker = undefined;

    const probe = new Redis(redisServer.url);
    const left = await allKeys(probe);
    probe.disconnect();
    const all = [...new Set([...touched, ...left])];
    const kinds = [...new Set(all.map((key) => key.split(':').slice(0, 2).join(':')))].sort();
    console.log(`[reliability] ${all.length} keys touched in the run, ${kinds.length} kinds: ${kinds.join(' ')}`);
    // The run must have exercised the stores, not only the queues.
    for (const kind of ['seen', 'story', 'alert', 'delivery', 'deliveries', 'channel-block', 'source', 'dispatch', 'risk', 'poll', 'score', 'notify', 'digest']) {
      expect(kinds, kind).toContain(`{${prefix}}:${kind}`);
    }
    expect(all.filter((key) => !key.startsWith(`{${prefix}}:`))).toEqual([]);
  });
});
