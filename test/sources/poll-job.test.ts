import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { startServer, type TestServer } from './helpers.js';

/**
 * The poll job as the worker runs it: which failed polls BullMQ retries after the poll queue's backoff (10 s), and which
 * polls a source's Retry-After holds back. Each source has a server (an origin) of its own: a Retry-After holds every
 * source on the host that sent it (test/integration/source-hold-host.test.ts).
 */
const prefix = uniquePrefix('poll-job');
const servers = new Map<string, TestServer>();
let worker: RunningWorker;
let config: ReturnType<typeof writePollConfigDir>;
let redis: Redis;
let lines: () => string[];

const RSS = '<rss version="2.0"><channel><title>Blip</title><item><guid>blip-1</guid><title>Gallium export licences</title><link>https://agency.example/1</link></item></channel></rss>';

const SOURCES = ['limited', 'briefly-limited', 'down', 'maintenance', 'flaky', 'blip'];

beforeAll(async () => {
  const answer = (server: TestServer, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const asked = server.requests.filter((r) => r.path === req.url).length;
    if (req.url === '/limited.xml') return res.writeHead(429, { 'Retry-After': '3600' }).end();
    if (req.url === '/briefly-limited.xml') return res.writeHead(429, { 'Retry-After': '4' }).end();
    if (req.url === '/maintenance.xml') return res.writeHead(503, { 'Retry-After': new Date(Date.now() + 7_200_000).toUTCString() }).end();
    // Down without saying for how long, then rate-limited for an hour.
    if (req.url === '/flaky.xml') return asked === 1 ? res.writeHead(503).end() : res.writeHead(429, { 'Retry-After': '3600' }).end();
    // Asks for a second, then serves its feed.
    if (req.url === '/blip.xml') return asked === 1 ? res.writeHead(429, { 'Retry-After': '1' }).end() : res.writeHead(200, { 'Content-Type': 'application/rss+xml' }).end(RSS);
    res.writeHead(503).end();
  };
  for (const id of SOURCES) servers.set(id, await startServer((req, res) => answer(servers.get(id)!, req, res)));
  const sources = SOURCES.map((id) => `  - { id: ${id}, kind: rss, url: "${servers.get(id)!.url}/${id}.xml", schedule: "0 0 1 1 *" }`);
  // One request per poll: a Retry-After of 4 s exceeds no wait in place.
  config = writePollConfigDir(prefix, sources);
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  const logger = memoryLogger('info');
  lines = logger.lines;
  worker = await startWorker({ config: loadConfig(config.dir, { REDIS_URL: testRedisUrl() }), log: logger.log, roles: ['poll'] });
});

afterAll(() => endWorkerRun({ worker, servers: [...servers.values()], redis, config, prefix }));

/** Polls the source once through the queue and returns the job once it is in one of `states`. */
async function pollOnce(sourceId: string, states = ['failed', 'delayed']): Promise<{ job: Job; state: string }> {
  const tick = Date.now();
  await enqueuePoll(worker.context.queues.poll, sourceId, tick);
  return settled(jobId('poll', sourceId, tick), states);
}

async function settled(id: string, states: string[]): Promise<{ job: Job; state: string }> {
  return jobSettled(worker.context.queues.poll, id, 10_000, states);
}

const requestsFor = (sourceId: string) => servers.get(sourceId)!.requests.filter((r) => r.path === `/${sourceId}.xml`).length;
const skipLines = (sourceId: string) => lines().filter((l) => l.includes('"msg":"poll skipped') && l.includes(`"sourceId":"${sourceId}"`));

describe('the poll job', () => {
  it('does not retry a poll sooner than the Retry-After of a 429: it fails it, and the source is polled again after that time', async () => {
    const { job, state } = await pollOnce('limited');
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('HTTP 429');
    expect(job.failedReason).toContain('the source asked us to come back in 3600 s; its polls are skipped until then');
    expect(requestsFor('limited')).toBe(1);
    expect(await createSourceStateStore(redis, prefix).getHealth('limited')).toMatchObject({ lastErrorCode: 'CP_SOURCE_RATE_LIMITED', consecutiveFailures: 1 });
  });

  it('retries a poll after the backoff when the Retry-After of its 429 is shorter than that', async () => {
    const { job, state } = await pollOnce('briefly-limited');
    expect(state).toBe('delayed');
    expect(job.attemptsMade).toBe(1);
  });

  it('retries a poll that failed for a transient reason (503) after the backoff', async () => {
    const { job, state } = await pollOnce('down');
    expect(state).toBe('delayed');
    expect(job.failedReason).toContain('HTTP 503');
  });

  it('skips the scheduled polls of a source that asked to wait, quietly: completed, not failed, no request, one info line saying when it polls again', async () => {
    // 'limited' answered 429 with an hour's Retry-After in the first test.
    const health = await createSourceStateStore(redis, prefix).getHealth('limited');
    expect(health?.notBefore).not.toBeNull();
    for (let i = 0; i < 2; i++) {
      const { job } = await pollOnce('limited', ['completed', 'failed']);
      expect(job.returnvalue).toEqual({ status: 'skipped', reason: 'retry-after', notBefore: health?.notBefore });
    }
    expect(requestsFor('limited')).toBe(1);
    expect(await createSourceStateStore(redis, prefix).getHealth('limited')).toMatchObject({ consecutiveFailures: 1, notBefore: health?.notBefore });
    const logged = skipLines('limited');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('"level":30');
    expect(logged[0]).toContain(`"notBefore":"${health?.notBefore}"`);
  });

  it('treats the Retry-After (an HTTP date) of a 503 like a 429s: no retry sooner, and the next scheduled poll skipped', async () => {
    const { job, state } = await pollOnce('maintenance');
    expect(state).toBe('failed');
    expect(job.failedReason).toContain('HTTP 503');
    expect(job.failedReason).toMatch(/come back in 7\d{3} s/);
    const next = await pollOnce('maintenance', ['completed', 'failed']);
    expect(next.job.returnvalue).toMatchObject({ status: 'skipped' });
    expect(requestsFor('maintenance')).toBe(1);
  });

  it('skips the pending retry of a poll too once another poll of the source was told to wait', async () => {
    const first = await pollOnce('flaky');
    expect(first.state).toBe('delayed');
    const second = await pollOnce('flaky');
    expect(second.state).toBe('failed');
    expect(second.job.failedReason).toContain('HTTP 429');
    // The first poll's retry comes due (BullMQ's backoff, brought forward).
    await first.job.promote();
    const retried = await settled(first.job.id!, ['completed', 'failed']);
    expect(retried.job.returnvalue).toMatchObject({ status: 'skipped' });
    expect(requestsFor('flaky')).toBe(2);
  });

  it('polls a source normally as soon as a short Retry-After is over', async () => {
    const first = await pollOnce('blip');
    expect(first.state).toBe('delayed');
    const notBefore = (await createSourceStateStore(redis, prefix).getHealth('blip'))?.notBefore;
    expect(notBefore).toEqual(expect.any(String));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(notBefore ?? '') - Date.now()) + 50));
    const next = await pollOnce('blip', ['completed', 'failed']);
    expect(next.job.returnvalue).toMatchObject({ status: 'ok', fetched: 1, fresh: 1 });
    expect(requestsFor('blip')).toBe(2);
    expect(await createSourceStateStore(redis, prefix).getHealth('blip')).toMatchObject({ consecutiveFailures: 0, notBefore: null });
  });
});
