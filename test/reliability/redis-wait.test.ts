import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log.js';
import { createRedis, waitForRedis } from '../../src/queue/connection.js';
import { freePort } from '../helpers/process.js';

/** A worker started while Redis is down waits for it; a shutdown asked for meanwhile must not wait too. */
describe('waiting for Redis at start', () => {
  it('gives up as soon as it is aborted, although a ping to an unreachable Redis takes seconds', async () => {
    const { log } = memoryLogger('debug');
    const redis = createRedis({ url: `redis://127.0.0.1:${await freePort()}`, log, name: 'wait-test', role: 'producer' });
    const controller = new AbortController();
    try {
      const waiting = waitForRedis(redis, log, controller.signal);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const abortedAt = Date.now();
      controller.abort();
      await expect(waiting).rejects.toThrow('aborted while waiting for Redis');
      // Well under the seconds a ping takes to fail, with room for a loaded runner.
      expect(Date.now() - abortedAt).toBeLessThan(1_000);
    } finally {
      redis.disconnect();
    }
  });
});
