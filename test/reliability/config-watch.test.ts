import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConfigDir } from '../helpers/config-dir.js';
import { testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { endWorkerRun, spawnWorker, type WorkerProcess } from './support/worker-process.js';

/** `chokepoint worker --watch-config`: a change of the config files is applied as a SIGHUP would apply it. */
const prefix = uniquePrefix('config-watch');
const channels = (ids: string[]) => `channels:\n${ids.map((id) => `  - { id: ${id}, kind: webhook, url: "http://127.0.0.1:9/${id}" }`).join('\n')}\n`;
const watchlists = (keyword: string) => `watchlists:\n  - id: minerals\n    keywords: [${keyword}]\n    routes: [{ channel: first, minLevel: info }]\n`;

let config: { dir: string; cleanup: () => void };
let worker: WorkerProcess;
const write = (name: string, text: string) => writeFileSync(path.join(config.dir, name), text);
/** How many times the worker's output says it. */
const count = (what: RegExp) => worker.output().split('\n').filter((line) => what.test(line)).length;

beforeAll(async () => {
  config = writeConfigDir({
    'sources.yaml': 'sources: []\n',
    'watchlists.yaml': watchlists('gallium'),
    'channels.yaml': channels(['first']),
    'settings.yaml': `redis: { prefix: ${prefix} }\napi: { enabled: false }\n`,
  });
  worker = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() }, args: ['--watch-config'] });
  await worker.waitFor(/worker started/, 30_000);
  expect(worker.output()).toContain('watching the config directory');
}, 60_000);

afterAll(() => endWorkerRun({ worker, config, prefix }));

describe('a worker watching its config directory', () => {
  it('applies a changed file, refuses an invalid one whole with its errors, and applies the fix', async () => {
    write('channels.yaml', channels(['first', 'second']));
    await worker.waitFor(/config files changed: reloading config/, 15_000);
    await worker.waitFor(/"channels":2,"msg":"config reloaded"/, 15_000);

    // A watchlist routed to a channel that does not exist: the whole new config is refused, the old one stays.
    write('watchlists.yaml', watchlists('gallium').replace('channel: first', 'channel: nowhere'));
    await worker.waitFor(/new config is invalid/, 15_000);
    expect(worker.output()).toMatch(/nowhere/);
    expect(count(/"msg":"config reloaded"/)).toBe(1);

    write('watchlists.yaml', watchlists('germanium'));
    await worker.waitFor(/"msg":"config reloaded"[\s\S]*"msg":"config reloaded"/, 15_000);
    // The same text written again is no change: nothing is reloaded.
    write('watchlists.yaml', watchlists('germanium'));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(count(/"msg":"config reloaded"/)).toBe(2);
    expect(worker.child.exitCode).toBeNull();
  }, 60_000);
});
