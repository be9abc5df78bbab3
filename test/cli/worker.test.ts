import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { MINIMAL, writeConfigDir } from '../helpers/config-dir.js';
import { rssDocument, startServer } from '../helpers/http.js';
import { freePort, spawnCli, type Spawned, startRedisServer } from '../helpers/process.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { waitUntil } from '../reliability/support/wait.js';

/** `chokepoint worker` as ops run it: signals at awkward moments and configs the scorer refuses. */
const prefix = uniquePrefix('worker-cli');
const env = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/worker-cli-secret' };
const settings = `redis: { prefix: ${prefix} }\napi: { enabled: false }\nworker: { pollOnStart: false }\n`;
const cleanups: Array<() => void> = [];
const running: Spawned[] = [];
const servers: ChildProcess[] = [];
const closers: Array<() => Promise<void>> = [];

function configDir(files: Record<string, string> = {}): string {
  const { dir, cleanup } = writeConfigDir({ ...MINIMAL, 'settings.yaml': settings, ...files });
  cleanups.push(cleanup);
  return dir;
}

function worker(dir: string, extraEnv: NodeJS.ProcessEnv): Spawned {
  const proc = spawnCli(['worker', '--config', dir], { ...env, ...extraEnv });
  running.push(proc);
  return proc;
}

afterAll(async () => {
  for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
  for (const server of servers) server.kill('SIGKILL');
  await Promise.allSettled(closers.map((close) => close()));
  cleanups.forEach((c) => c());
  await cleanPrefix(prefix);
});

describe('chokepoint worker and SIGHUP', () => {
  it('survives a SIGHUP while it waits for Redis, reloads once Redis is up, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const proc = worker(configDir(), { REDIS_URL: `redis://127.0.0.1:${port}` });
    await proc.waitFor(/Redis unreachable; retrying with backoff/);
    proc.child.kill('SIGHUP');
    await proc.waitFor(/SIGHUP before the worker is up/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(proc.child.exitCode).toBeNull();
    expect(proc.child.signalCode).toBeNull();

    // The config may have changed while it waited: it is read again as soon as the worker runs.
    servers.push(startRedisServer(port));
    await proc.waitFor(/worker started[\s\S]*config reloaded/, 20_000);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toMatchObject({ code: 0, signal: null });
  });

  it('stops cleanly on SIGTERM after a SIGHUP while it still waits for Redis', async () => {
    const port = await freePort();
    const proc = worker(configDir(), { REDIS_URL: `redis://127.0.0.1:${port}` });
    await proc.waitFor(/Redis unreachable; retrying with backoff/);
    proc.child.kill('SIGHUP');
    await proc.waitFor(/SIGHUP before the worker is up/);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toMatchObject({ code: 0, signal: null });
    expect(proc.output()).not.toMatch(/config reloaded/);
  });

  it('ignores a SIGHUP that comes during shutdown and still exits 0', async () => {
    // A poll held by a slow source keeps the shutdown waiting (up to shutdownTimeoutMs) long enough to signal into it.
    let polled = false;
    const source = await startServer(async (_req, res) => {
      polled = true;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      res.writeHead(200, { 'content-type': 'application/rss+xml' }).end(rssDocument('slow', []));
    });
    closers.push(source.close);
    const dir = configDir({
      'sources.yaml': `sources:\n  - { id: slow, kind: rss, url: "${source.url}/feed.xml" }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\napi: { enabled: false }\nhttp: { allowPrivateAddresses: true }\nworker: { shutdownTimeoutMs: 2000 }\n`,
    });
    const proc = worker(dir, { REDIS_URL: testRedisUrl() });
    await proc.waitFor(/worker started/, 30_000);
    await waitUntil(() => polled, { timeoutMs: 20_000 });
    proc.child.kill('SIGTERM');
    // Well inside the shutdown, which waits 2 s for the held poll.
    await proc.waitFor(/shutdown requested/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    proc.child.kill('SIGHUP');
    expect(await proc.exited).toMatchObject({ code: 0, signal: null });
    expect(proc.output()).toMatch(/SIGHUP during shutdown: ignored[\s\S]*worker stopped/);
  });
});

describe('chokepoint worker with a config the scorer refuses', () => {
  it('exits 1 naming the watchlist, as for any invalid config, not 70 with a stack trace', async () => {
    const dir = configDir({
      'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    materials: [unobtainium]
    routes:
      - { channel: procurement-slack, minLevel: medium }
`,
    });
    const proc = worker(dir, { REDIS_URL: testRedisUrl() });
    expect((await proc.exited).code).toBe(1);
    expect(proc.output()).toMatch(/watchlists\.yaml:3: watchlists\[0\]\.materials\[0\]: unknown material "unobtainium"/);
    expect(proc.output()).not.toMatch(/internal error/);
  });
});
