import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type ScriptArg = string | number;

/** A Lua script run as `script(redis, keys, args)`. */
export type RedisScript = <T = unknown>(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]) => Promise<T>;

/**
 * Runs a Lua script by its SHA-1 (EVALSHA), sending the source only when the server does not know it yet (after a
 * restart or a SCRIPT FLUSH, and once per server of a cluster). The hot paths run a script per item; sending a
 * kilobyte of Lua each time cost more than the script itself.
 */
export function redisScript(lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async <T>(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<T> => {
    try {
      return (await redis.evalsha(sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await redis.eval(lua, keys.length, ...keys, ...args)) as T;
    }
  };
}
