import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { memoryLogger } from '../../src/log.js';
import { jobId } from '../../src/queue/names.js';
import { enqueuePoll } from '../../src/queue/scheduler.js';
import { createSourceStateStore } from '../../src/store/source-state.js';
import { startWorker, type RunningWorker } from '../../src/worker/start.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startServer, type TestServer } from './helpers.js';

/** The poll job as the worker runs it: which failed polls BullMQ retries after the poll queue's backoff (10 s). */
const prefix = uniquePrefix('poll-job');
let server: TestServer;
let worker: RunningWorker;
let config: ReturnType<typeof writeConfigDir>;
let redis: Redis;

beforeAll(async () => {
  server = await startServer((req, res) => {
    if (req.url === '/limited.xml') return res.writeHead(429, { 'Retry-After': '3600' }).end();
    if (req.url === '/briefly-limited.xml') return res.writeHead(429, { 'Retry-After': '4' }).end();
    res.writeHead(503).end();
  });
  const sources = ['limited', 'briefly-limited', 'down'].map((id) => `  - { id: ${id}, kind: rss, url: "${server.url}/${id}.xml", schedule: "0 0 1 1 *" }`);
  config = writeConfigDir({
    'sources.yaml': `sources:\n${sources.join('\n')}\n`,
    'watchlists.yaml': 'watchlists:\n  - id: minerals\n    keywords: [gallium]\n    routes: [{ channel: hook, minLevel: info }]\n',
    'channels.yaml': 'channels:\n  - { id: hook, kind: webhook, url: "http://127.0.0.1:9/hook" }\n',
    // No retries inside the HTTP client, so each poll is one request; a Retry-After of 4 s exceeds no wait in place.
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true, perHostIntervalMs: 0, retries: 0 }\napi: { enabled: false }\n`,
  });
  redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  worker = await startWorker({ config: loadConfig(config.dir, { REDIS_URL: testRedisUrl() }), log: memoryLogger('warn').log, roles: ['poll'] });
});

afterAll(async () => {
  await worker?.stop();
  await server?.close();
  redis?.disconnect();
  config?.cleanup();
  await cleanPrefix(prefix);
});

/** Polls the source once through the queue and returns the job once it has failed or waits for its retry. */
async function pollOnce(sourceId: string): Promise<{ job: Job; state: string }> {
  const tick = Date.now();
  await enqueuePoll(worker.context.queues.poll, sourceId, tick);
  return vi.waitFor(
    async () => {
      const job = await worker.context.queues.poll.getJob(jobId('poll', sourceId, tick));
      const state = job ? await job.getState() : 'missing';
      if (!job || (state !== 'failed' && state !== 'delayed')) throw new Error(`poll of ${sourceId} is ${state}`);
      return { job, state };
    },
    { timeout: 10_000, interval: 50 },
  );
}

describe('the poll job', () => {
  it('does not retry a poll sooner than the Retry-After of a 429: it fails it and leaves it to the next scheduled poll', async () => {
    const { job, state } = await pollOnce('limited');
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('HTTP 429');
    expect(job.failedReason).toContain('the source asked us to come back in 3600 s; the next scheduled poll will');
    expect(server.requests.filter((r) => r.path === '/limited.xml')).toHaveLength(1);
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
});
