import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisScript } from '../../src/store/script.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/** Scripts run by SHA; a server that forgot them (restart, SCRIPT FLUSH) gets the source once more. */
const prefix = uniquePrefix('script');
const redis = new Redis(testRedisUrl());

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

describe('redisScript', () => {
  // A script of this file alone, so flushing it from the cache cannot be observed as anything but a reload.
  const lua = `-- ${prefix}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
  const sha = createHash('sha1').update(lua).digest('hex');
  const incrBy = redisScript(lua);
  const counter = `{${prefix}}:counter`;

  it('runs by SHA once the server knows the script, and loads it again after the server forgot it', async () => {
    expect(await incrBy<number>(redis, [counter], [2])).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await incrBy<number>(redis, [counter], [3])).toBe(5);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
  });

  it('passes script errors through instead of retrying them', async () => {
    const failing = redisScript(`-- ${prefix} failing\nreturn redis.error_reply('CP_TEST broken on purpose')`);
    await expect(failing(redis, [counter], [])).rejects.toThrow('CP_TEST broken on purpose');
  });
});
