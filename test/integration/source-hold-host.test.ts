import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type ChokepointMetrics } from '../../src/api/metrics.js';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { jobId } from '../../src/queue/names.js';
import { enqueuePoll } from '../../src/queue/scheduler.js';
import { createSourceStateStore } from '../../src/store/source-state.js';
import { startWorker, type RunningWorker } from '../../src/worker/start.js';
import { writePollConfigDir } from '../helpers/config-dir.js';
import { jobSettled } from '../reliability/support/wait.js';
import { endWorkerRun } from '../reliability/support/worker-process.js';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startServer, type TestServer } from '../sources/helpers.js';

/**
 * A Retry-After is the host's word about this client, not about one URL: once one source on a host draws a 429 with
 * an hour's Retry-After, no source is sent to that host (scheme, host, port) until then, on any worker; sources on
 * other hosts are polled as usual.
 */
const prefix = uniquePrefix('source-hold-host');
let host: TestServer; // one publisher serving two feeds
let other: TestServer; // another origin (another port)
let redirector: TestServer; // an origin whose feed moved to the publisher
let worker: RunningWorker;
let metrics: ChokepointMetrics;
let config: ReturnType<typeof writePollConfigDir>;
let redis: Redis;
let lines: () => string[];

const rss = (guid: string) =>
  `<rss version="2.0"><channel><title>${guid}</title><item><guid>${guid}-1</guid><title>Gallium export licences</title><link>https://agency.example/${guid}</link></item></channel></rss>`;
const feed = (res: import('node:http').ServerResponse, guid: string) => res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(rss(guid));

beforeAll(async () => {
  host = await startServer((req, res) => {
    if (req.url === '/a.xml') return res.writeHead(429, { 'Retry-After': '3600' }).end();
    if (req.url === '/b.xml') return feed(res, 'b');
    res.writeHead(404).end();
  });
  other = await startServer((req, res) => (req.url === '/c.xml' ? feed(res, 'c') : res.writeHead(404).end()));
  redirector = await startServer((req, res) => {
    if (req.url === '/moved.xml') return res.writeHead(302, { Location: `${host.url}/b.xml` }).end();
    if (req.url === '/d.xml') return feed(res, 'd');
    res.writeHead(404).end();
  });
  const sources = [
    ['a', `${host.url}/a.xml`],
    ['b', `${host.url}/b.xml`],
    ['c', `${other.url}/c.xml`],
    ['moved', `${redirector.url}/moved.xml`],
    ['d', `${redirector.url}/d.xml`],
  ].map(([id, url]) => `  - { id: ${id}, kind: rss, url: "${url}", schedule: "0 0 1 1 *" }`);
  config = writePollConfigDir(prefix, sources);
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  const logger = memoryLogger('info');
  lines = logger.lines;
  metrics = createMetrics({ defaultMetrics: false });
  worker = await startWorker({ config: loadConfig(config.dir, { REDIS_URL: testRedisUrl() }), log: logger.log, roles: ['poll'], metrics });
});

afterAll(() => endWorkerRun({ worker, servers: [host, other, redirector], redis, config, prefix }));

async function pollOnce(sourceId: string, states = ['completed', 'failed']): Promise<{ job: Job; state: string }> {
  const tick = Date.now();
  await enqueuePoll(worker.context.queues.poll, sourceId, tick);
  return jobSettled(worker.context.queues.poll, jobId('poll', sourceId, tick), 10_000, states);
}

const requests = (server: TestServer, path: string) => server.requests.filter((r) => r.path === path).length;
const skipLines = (sourceId: string) => lines().filter((l) => l.includes('"msg":"poll skipped') && l.includes(`"sourceId":"${sourceId}"`));
const deferred = async (sourceId: string) =>
  (await metrics.registry.getSingleMetric('chokepoint_polls_total')!.get()).values.find((v) => v.labels.source === sourceId && v.labels.outcome === 'deferred')?.value ?? 0;

async function redisNow(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('a Retry-After holds every source on the host that sent it', () => {
  it('polls the sources normally before any host asks to wait', async () => {
    expect((await pollOnce('b')).job.returnvalue).toMatchObject({ status: 'ok', fetched: 1 });
    expect(requests(host, '/b.xml')).toBe(1);
  });

  it("sends no request for another source on the host once one drew a 429 with an hour's Retry-After: its polls are deferred, logged once", async () => {
    const before = await redisNow();
    const limited = await pollOnce('a');
    expect(limited.state).toBe('failed');
    expect(limited.job.failedReason).toContain('HTTP 429');
    const after = await redisNow();

    for (let i = 0; i < 2; i++) {
      const { job, state } = await pollOnce('b');
      expect(state).toBe('completed');
      expect(job.returnvalue).toMatchObject({ status: 'skipped', reason: 'retry-after', origin: host.url });
      // On Redis's clock, an hour from the 429.
      const notBefore = Date.parse(job.returnvalue.notBefore);
      expect(notBefore).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(notBefore).toBeLessThanOrEqual(after + 3_600_000);
    }
    expect(requests(host, '/b.xml')).toBe(1);
    expect(requests(host, '/a.xml')).toBe(1);
    expect(await deferred('b')).toBe(2);
    const logged = skipLines('b');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('"level":30');
    expect(logged[0]).toContain(`"origin":"${host.url}"`);
  });

  it('keeps polling a source on another origin', async () => {
    expect((await pollOnce('c')).job.returnvalue).toMatchObject({ status: 'ok', fetched: 1 });
    expect((await pollOnce('d')).job.returnvalue).toMatchObject({ status: 'ok', fetched: 1 });
    expect(requests(other, '/c.xml')).toBe(1);
    expect(await deferred('c')).toBe(0);
  });

  it('holds a request that a redirect leads to the held host, but not the origin that redirected', async () => {
    const { job, state } = await pollOnce('moved');
    expect(state).toBe('completed');
    expect(job.returnvalue).toMatchObject({ status: 'skipped', reason: 'retry-after', origin: host.url });
    expect(requests(redirector, '/moved.xml')).toBe(1);
    expect(requests(host, '/b.xml')).toBe(1);
    // Nothing was fetched: no failure recorded, nothing seen.
    expect(await createSourceStateStore(redis, prefix).getHealth('moved')).toBeNull();
  });

  it("shows the host's hold as the notBefore of each source on it, and none on the others", async () => {
    const health = new Map((await createSourceStateStore(redis, prefix).listHealth()).map((h) => [h.sourceId, h]));
    const own = health.get('a')?.notBefore;
    expect(own).toEqual(expect.any(String));
    expect(Math.abs(Date.parse(health.get('b')?.notBefore ?? '') - Date.parse(own ?? ''))).toBeLessThan(1000);
    expect(health.get('b')).toMatchObject({ consecutiveFailures: 0, holdOrigin: host.url });
    expect(health.get('c')?.notBefore).toBeNull();
    expect(health.get('d')?.notBefore).toBeNull();
  });

  it('keeps the hold under the hash-tagged prefix (Redis Cluster)', async () => {
    const port = new URL(host.url).port;
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `*127.0.0.1:${port}*`, 'COUNT', 10_000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith(`{${prefix}}:`))).toEqual([]);
  });
});
