import { Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Settings } from '../config/schema.js';
import { DeliveryError } from '../errors.js';
import { hashTag } from '../store/keys.js';
import { type DigestJob, type NotifyJob, type PollJob, QUEUES, type ScoreJob } from './names.js';

export interface Queues {
  poll: Queue<PollJob>;
  score: Queue<ScoreJob>;
  notify: Queue<NotifyJob>;
  digest: Queue<DigestJob>;
  all(): Queue[];
  close(): Promise<void>;
}

/** BullMQ's prefix: the configured prefix as a hash tag, so every queue key lives in one Redis Cluster slot. */
export function bullPrefix(settings: Settings): string {
  return hashTag(settings.redis.prefix);
}

function retention(settings: Settings): Pick<DefaultJobOptions, 'removeOnComplete' | 'removeOnFail'> {
  const r = settings.retention;
  return {
    removeOnComplete: { age: r.completedJobsAgeSeconds, count: r.completedJobs },
    removeOnFail: { age: r.failedJobsAgeSeconds, count: r.failedJobs },
  };
}

/** A failed poll is retried once, 10 s later, for a network blip; anything longer is the next scheduled poll's. */
const POLL_RETRY = { attempts: 2, backoff: { type: 'exponential', delay: 10_000 } } as const;

/** How long BullMQ waits before retrying a poll that fails now, after `attemptsMade` earlier failed attempts. */
export function pollRetryDelayMs(attemptsMade: number): number {
  return POLL_RETRY.backoff.delay * 2 ** attemptsMade;
}

export function createQueues(connection: Redis, settings: Settings): Queues {
  const prefix = bullPrefix(settings);
  const base = { connection, prefix, streams: { events: { maxLen: 2_000 } } };
  const poll = new Queue<PollJob>(QUEUES.poll, {
    ...base,
    defaultJobOptions: { ...retention(settings), attempts: POLL_RETRY.attempts, backoff: { ...POLL_RETRY.backoff } },
  });
  const score = new Queue<ScoreJob>(QUEUES.score, {
    ...base,
    defaultJobOptions: { ...retention(settings), attempts: 5, backoff: { type: 'exponential', delay: 2_000 } },
  });
  const notify = new Queue<NotifyJob>(QUEUES.notify, {
    ...base,
    defaultJobOptions: { ...retention(settings), attempts: settings.delivery.attempts, backoff: { type: 'capped' } },
  });
  const digest = new Queue<DigestJob>(QUEUES.digest, {
    ...base,
    defaultJobOptions: { ...retention(settings), attempts: settings.delivery.attempts, backoff: { type: 'capped' } },
  });
  const all = () => [poll, score, notify, digest] as Queue[];
  return {
    poll,
    score,
    notify,
    digest,
    all,
    async close() {
      await Promise.allSettled(all().map((q) => q.close()));
    },
  };
}

/**
 * Retry delay for notifications: exponential from backoffMs, capped, with jitter so a recovered receiver is not
 * stampeded; never shorter than a Retry-After the receiver sent with its error (a 503 during maintenance).
 */
export function cappedBackoff(settings: Settings['delivery']) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const raw = Math.min(settings.backoffMs * 2 ** Math.max(0, attemptsMade - 1), settings.maxBackoffMs);
    const stated = err instanceof DeliveryError && err.kind === 'retryable' ? (err.delayMs ?? 0) : 0;
    return Math.max(Math.round(raw * (0.8 + Math.random() * 0.2)), stated);
  };
}
