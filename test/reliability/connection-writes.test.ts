import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log.js';
import { createRedis } from '../../src/queue/connection.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('conn-writes');
afterAll(() => cleanPrefix(prefix));

/** Counts the writes that reach the socket's handle (each a syscall), not the calls to socket.write. */
function countHandleWrites(socket: Socket): () => number {
  let writes = 0;
  const target = socket as unknown as { _write: (...args: unknown[]) => unknown; _writev: (...args: unknown[]) => unknown };
  for (const method of ['_write', '_writev'] as const) {
    const original = target[method];
    target[method] = function (this: unknown, ...args: unknown[]) {
      writes++;
      return original.apply(this, args);
    };
  }
  return () => writes;
}

describe('a Redis connection', () => {
  it('sends the commands of one turn of the event loop in one write, replies in order, also after reconnecting', async () => {
    const { log } = memoryLogger('warn');
    const redis = createRedis({ url: testRedisUrl(), log, name: 'writes-test', role: 'producer' });
    try {
      for (const round of [1, 2]) {
        await redis.ping();
        const writes = countHandleWrites(redis.stream as unknown as Socket);
        const keys = Array.from({ length: 50 }, (_, i) => `{${prefix}}:r${round}:k${i}`);
        const set = await Promise.all(keys.map((key, i) => redis.set(key, String(i))));
        expect(set.every((reply) => reply === 'OK')).toBe(true);
        // 50 commands issued together: one write (two if a reply arrived midway), where each took its own before.
        expect(writes()).toBeLessThanOrEqual(2);
        expect(await Promise.all(keys.map((key) => redis.get(key)))).toEqual(keys.map((_, i) => String(i)));
        // A pipeline's own write goes through the same socket.
        const piped = await redis.pipeline(keys.slice(0, 3).map((key) => ['get', key])).exec();
        expect(piped?.map(([, value]) => value)).toEqual(['0', '1', '2']);
        if (round === 1) {
          redis.disconnect(true);
          await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
        }
      }
    } finally {
      redis.disconnect();
    }
  });
});
