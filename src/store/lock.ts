import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { replyValues, type Replies } from './replies.js';

// Short enough to queue inside MULTI as a plain EVAL: a transaction cannot fall back from EVALSHA on NOSCRIPT.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Runs fn while holding a short Redis lock (SET NX PX), so read-modify-write of one record is serialised across
 * worker processes. The TTL bounds the damage of a crashed holder. The record at `readKey` is read in the
 * transaction that takes the lock, and fn queues its writes on the transaction that releases it: a locked
 * read-modify-write costs two round trips, which matters on the path every alerting item takes.
 * Returns fn's result and the replies to the writes it queued (an error reply throws).
 */
export async function withLock<T>(
  redis: Redis,
  key: string,
  readKey: string,
  fn: (value: string | null, writes: ChainableCommander) => Promise<T>,
  ttlMs = 10_000,
  waitMs = 15_000,
): Promise<{ result: T; replies: Array<[Error | null, unknown]> }> {
  const token = randomUUID();
  const deadline = Date.now() + waitMs;
  let delay = 5;
  let value: string | null;
  for (;;) {
    const [taken, read] = replyValues(await redis.multi().set(key, token, 'PX', ttlMs, 'NX').get(readKey).exec());
    if (taken === 'OK') {
      value = read as string | null;
      break;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${key}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
  const release = () => redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  // Queued client-side until exec: if fn throws, nothing of it reaches Redis.
  const writes = redis.multi();
  let result: T;
  try {
    result = await fn(value, writes);
  } catch (err) {
    await release();
    throw err;
  }
  let replies: Replies;
  try {
    replies = await writes.eval(RELEASE, 1, key, token).exec();
  } catch (err) {
    // The transaction was refused whole (EXECABORT) or the connection failed: release on its own rather than hold
    // the lock for its whole TTL.
    await release();
    throw err;
  }
  replyValues(replies);
  // The release's own reply is last (0 when the lock had lapsed: no error of the writes).
  return { result, replies: replies!.slice(0, -1) };
}
