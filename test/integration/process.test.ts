import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startFeedServer, startSlackSink } from '../helpers/http.js';
import { freePort, spawnCli, startRedisServer } from '../helpers/process.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('process');
let configDir: string;
let cleanup: () => void;
let feed: Awaited<ReturnType<typeof startFeedServer>>;
let slack: Awaited<ReturnType<typeof startSlackSink>>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  feed = await startFeedServer([]);
  slack = await startSlackSink();
  ({ dir: configDir, cleanup } = writeConfigDir({
    'sources.yaml': `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "*/5 * * * * *" }\n`,
    'watchlists.yaml': `watchlists:\n  - { id: magnets, keywords: [samarium], routes: [{ channel: slack, minLevel: info }] }\n`,
    'channels.yaml': `channels:\n  - { id: slack, kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }\n`,
    'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\napi: { enabled: false }\n`,
  }));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled([feed.close(), slack.close()]);
  cleanup();
  await cleanPrefix(prefix);
});

describe('the worker process', { timeout: 90_000 }, () => {
  it('shuts down cleanly on SIGTERM within 10 seconds, exit code 0', async () => {
    const worker = spawnCli(['worker', '--config', configDir], { REDIS_URL: testRedisUrl(), SLACK_WEBHOOK_URL: slack.webhookUrl });
    children.push(worker.child);
    await worker.waitFor(/worker started/);
    await worker.waitFor(/polled/); // the schedule ticks every 5 s, so a poll has run
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(10_000);
    expect(worker.output()).toMatch(/worker stopped/);
  });

  it('waits for Redis that is down at start, without a crash loop or stack trace, and carries on when it comes up', async () => {
    const port = await freePort();
    const worker = spawnCli(['worker', '--config', configDir], { REDIS_URL: `redis://127.0.0.1:${port}`, SLACK_WEBHOOK_URL: slack.webhookUrl });
    children.push(worker.child);
    await worker.waitFor(/Redis unreachable; retrying with backoff/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.child.exitCode).toBeNull();
    const redis = startRedisServer(port);
    children.push(redis);
    await worker.waitFor(/worker started/, 20_000);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    redis.kill('SIGTERM');
    const output = worker.output();
    expect(output).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/); // no stack trace for an expected fault
    expect(output.match(/Redis unreachable/g)?.length ?? 0).toBeLessThan(5); // logged on change, not per retry
  });

  it('logs a lost Redis connection once and recovers when Redis returns', async () => {
    const port = await freePort();
    let redis = startRedisServer(port);
    children.push(redis);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const worker = spawnCli(['worker', '--config', configDir], { REDIS_URL: `redis://127.0.0.1:${port}`, SLACK_WEBHOOK_URL: slack.webhookUrl });
    children.push(worker.child);
    await worker.waitFor(/worker started/);
    redis.kill('SIGKILL');
    await worker.waitFor(/Redis connection lost; reconnecting with backoff/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    redis = startRedisServer(port);
    children.push(redis);
    await worker.waitFor(/Redis connection restored/, 20_000);
    expect(worker.child.exitCode).toBeNull();
    worker.child.kill('SIGTERM');
    const exit = await Promise.race([worker.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000))]);
    if (!exit) throw new Error(`worker did not exit within 15 s of SIGTERM:\n${worker.output().slice(-4000)}`);
    expect(exit.code).toBe(0);
    redis.kill('SIGTERM');
    const output = worker.output();
    expect(output).not.toContain('"stack"'); // an expected fault is one line, not a stack trace
    // One per connection: BullMQ's (queues, consumers) and the stores'.
    expect(output.match(/Redis connection lost/g)?.length ?? 0).toBeLessThanOrEqual(3);
    expect(output).not.toMatch(/"msg":"(queue|worker) error"/);
  });
});
