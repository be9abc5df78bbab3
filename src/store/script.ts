import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';

export type ScriptArg = string | number;

/**
 * Lua that sets `now` to Redis's clock in ms. Times that several workers compare (a source's not-before, a channel's
 * pace) are kept on this one clock, never on a worker's, whose clocks may disagree.
 */
export const REDIS_NOW_MS = `
local redisTime = redis.call('TIME')
local now = tonumber(redisTime[1]) * 1000 + math.floor(tonumber(redisTime[2]) / 1000)`;

/** A Lua script run as `script(redis, keys, args)`, or queued on a pipeline with `queue` and read back with `settle`. */
export interface RedisScript {
  <T = unknown>(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<T>;
  /**
   * Queues the script by its SHA-1 on a pipeline (one round trip with the pipeline's other commands). `sendSource`
   * sends the source instead, which also makes the server know the script for the pipeline's later calls: for a
   * pipeline whose calls must run in order, where a call run again after a NOSCRIPT would come after later ones.
   */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly ScriptArg[], sendSource?: boolean): void;
  /**
   * The script's value from its pipeline reply. A server that did not know the script did not run it: it is run
   * again on its own, source included. Any other error reply is thrown.
   */
  settle<T = unknown>(reply: [Error | null, unknown] | undefined, redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<T>;
}

/**
 * Runs a Lua script by its SHA-1 (EVALSHA), sending the source only when the server does not know it yet (after a
 * restart or a SCRIPT FLUSH, and once per server of a cluster). The hot paths run a script per item; sending a
 * kilobyte of Lua each time cost more than the script itself.
 */
export function redisScript(lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  const withSource = async <T>(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]) => (await redis.eval(lua, keys.length, ...keys, ...args)) as T;
  const run = async <T>(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<T> => {
    try {
      return (await redis.evalsha(sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return withSource<T>(redis, keys, args);
    }
  };
  return Object.assign(run, {
    queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly ScriptArg[], sendSource = false) {
      if (sendSource) pipeline.eval(lua, keys.length, ...keys, ...args);
      else pipeline.evalsha(sha, keys.length, ...keys, ...args);
    },
    async settle<T>(reply: [Error | null, unknown] | undefined, redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<T> {
      if (!reply) throw new Error('Redis pipeline returned no reply');
      const [err, value] = reply;
      if (!err) return value as T;
      if (!isNoScript(err)) throw err;
      return withSource<T>(redis, keys, args);
    },
  });
}

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');
