import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisScript } from '../../src/store/script.js';
import { freePort, startRedisServer } from '../helpers/process.js';

/**
 * Scripts run by SHA; a server that forgot them (restart, SCRIPT FLUSH) gets the source once more. On a Redis of
 * this file's own: flushing the shared test Redis's script cache would disturb the files running beside this one.
 */
let server: ChildProcess;
let redis: Redis;

beforeAll(async () => {
  const port = await freePort();
  server = startRedisServer(port);
  redis = new Redis({ port, host: '127.0.0.1', retryStrategy: (times) => (times > 50 ? null : 100) });
  redis.on('error', () => undefined); // refused until the server listens; the client retries
  await redis.ping();
});

afterAll(() => {
  redis.disconnect();
  server.kill('SIGTERM');
});

describe('redisScript', () => {
  const lua = `return redis.call('INCRBY', KEYS[1], ARGV[1])`;
  const sha = createHash('sha1').update(lua).digest('hex');
  const incrBy = redisScript(lua);

  it('runs by SHA once the server knows the script, and loads it again after the server forgot it', async () => {
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await incrBy<number>(redis, ['counter'], [2])).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await incrBy<number>(redis, ['counter'], [3])).toBe(5);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
  });

  it('passes script errors through instead of retrying them', async () => {
    const failing = redisScript(`return redis.error_reply('CP_TEST broken on purpose')`);
    await expect(failing(redis, ['counter'], [])).rejects.toThrow('CP_TEST broken on purpose');
  });
});
