import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { withLock } from '../../src/store/lock.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/** The alert lock: read with the lock, write with the release, and never left held by a failure. */
const prefix = uniquePrefix('lock');
const redis = new Redis(testRedisUrl());
const key = (name: string) => `{${prefix}}:${name}`;

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

describe('withLock', () => {
  it('serialises read-modify-write: 40 concurrent increments of one record all count', async () => {
    await Promise.all(
      Array.from({ length: 40 }, () =>
        withLock(redis, key('lock-a'), key('counter'), async (value, writes) => {
          writes.set(key('counter'), String(Number(value ?? 0) + 1));
        }),
      ),
    );
    expect(await redis.get(key('counter'))).toBe('40');
    expect(await redis.exists(key('lock-a'))).toBe(0);
  });

  it('returns the replies of the writes it queued, without the release', async () => {
    const { result, replies } = await withLock(redis, key('lock-b'), key('set'), async (_value, writes) => {
      writes.sadd(key('set'), 'x', 'y').scard(key('set'));
      return 'done';
    });
    expect(result).toBe('done');
    expect(replies).toEqual([[null, 2], [null, 2]]);
  });

  it('releases the lock when the callback throws, and when Redis refuses the transaction', async () => {
    await expect(withLock(redis, key('lock-c'), key('x'), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await redis.exists(key('lock-c'))).toBe(0);
    // An unknown command is refused when queued, so EXEC aborts the whole transaction, the release included.
    await expect(withLock(redis, key('lock-c'), key('x'), async (_value, writes) => void writes.call('CP_NO_SUCH_COMMAND'))).rejects.toThrow();
    expect(await redis.exists(key('lock-c'))).toBe(0);
  });
});
