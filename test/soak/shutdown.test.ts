import { afterEach, describe, expect, it } from 'vitest';
import { writeConfigDir } from '../helpers/config-dir.js';
import { startFeedServer } from '../helpers/http.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startReceiver } from '../reliability/support/receiver.js';
import { waitUntil } from '../reliability/support/wait.js';
import { spawnWorker } from '../reliability/support/worker-process.js';

/**
 * SIGTERM while a notification hangs on a receiver that does not answer: the worker must still exit, within its
 * shutdown timeout, and the notification it had to abandon must be delivered by the next worker (at-least-once).
 */
const teardown: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

describe('shutting down with a notification in flight', () => {
  it('exits within the timeout, and the abandoned notification is delivered by the next worker', async () => {
    const prefix = uniquePrefix('soak-shutdown');
    const feed = await startFeedServer([
      { guid: 'hang-1', title: 'China bans exports of gallium to Zentravix Holdings', link: 'https://example.org/hang/1', description: 'An immediate gallium export ban.' },
    ]);
    const receiver = await startReceiver();
    let hang = true;
    // The first request never gets an answer (within the test); later ones are accepted.
    receiver.respond = () => (hang ? { status: 200, delayMs: 120_000 } : { status: 200 });
    const config = writeConfigDir({
      'sources.yaml': `sources:\n  - { id: wire, kind: rss, url: "${feed.feedUrl}", schedule: "0 0 1 1 *" }\n`,
      'watchlists.yaml': `watchlists:\n  - { id: minerals, keywords: [gallium], routes: [{ channel: hook, minLevel: info }] }\n`,
      'channels.yaml': `channels:\n  - { id: hook, kind: webhook, url: "${receiver.urlFor('hook')}" }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true, timeoutMs: 120000 }\napi: { enabled: false }\nworker: { shutdownTimeoutMs: 2000 }\nriskIndex: { threshold: 1000000000 }\n`,
    });
    teardown.push(() => cleanPrefix(prefix), config.cleanup, () => feed.close(), () => receiver.close());

    const first = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
    teardown.push(() => first.kill());
    await waitUntil(() => receiver.requests.length === 1, { timeoutMs: 60_000 });
    const signalled = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const exitMs = Date.now() - signalled;
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(2_000 + 5_000);
    expect(first.output()).toMatch(/closing forcefully/);

    hang = false;
    const second = spawnWorker({ configDir: config.dir, env: { REDIS_URL: testRedisUrl() } });
    teardown.push(() => second.stop());
    const restarted = Date.now();
    // The abandoned job's lock expires (30 s) and the stalled-job check (every 30 s) hands it to this worker.
    await waitUntil(() => receiver.accepted('hook').keys.size === 1 && receiver.requests.length === 2, { timeoutMs: 120_000, intervalMs: 250 });
    console.log(
      `[soak] SIGTERM with a notification hanging: exited ${exitMs} ms later (shutdownTimeoutMs 2000); ` +
        `the next worker delivered it ${((Date.now() - restarted) / 1000).toFixed(1)} s after it started`,
    );
    expect(receiver.requests.map((r) => r.idempotencyKey)).toEqual([receiver.requests[0].idempotencyKey, receiver.requests[0].idempotencyKey]);
  });
});
