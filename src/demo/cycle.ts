import type { Queue } from 'bullmq';
import { ChokepointError } from '../errors.js';
import { jobId, type PollJob } from '../queue/names.js';
import type { Queues } from '../queue/queues.js';
import { enqueuePoll } from '../queue/scheduler.js';

/** The demo's one-cycle run did not settle in time (a source or receiver hangs, or Redis is very slow). */
export class DemoTimeoutError extends ChokepointError {
  constructor(what: string, timeoutMs: number) {
    super('CP_DEMO_TIMEOUT', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
  }
}

/** How long a wait may last, and the signal that ends it early (Ctrl-C). */
export interface Until {
  deadline: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Waits a moment before the next look, or throws when the deadline passed or the demo is being stopped. */
async function pause(until: Until, what: string): Promise<void> {
  until.signal?.throwIfAborted();
  if (Date.now() > until.deadline) throw new DemoTimeoutError(what, until.timeoutMs);
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Outcome of one poll job: done (with or without new items) or failed with BullMQ's reason. */
export interface PollOutcome {
  sourceId: string;
  failed?: string;
}

/**
 * Enqueues one poll of each source for the tick (the same job ids the scheduler would use) and waits until every one
 * has completed or failed for good.
 */
export async function pollOnce(queue: Queue<PollJob>, sourceIds: string[], tick: number, until: Until): Promise<PollOutcome[]> {
  for (const id of sourceIds) await enqueuePoll(queue, id, tick);
  const outcomes = new Map<string, PollOutcome>();
  while (outcomes.size < sourceIds.length) {
    for (const id of sourceIds) {
      if (outcomes.has(id)) continue;
      const job = await queue.getJob(jobId('poll', id, tick));
      if (!job) continue;
      const state = await job.getState();
      if (state === 'completed') outcomes.set(id, { sourceId: id });
      else if (state === 'failed') outcomes.set(id, { sourceId: id, failed: job.failedReason || 'failed' });
    }
    if (outcomes.size < sourceIds.length) await pause(until, 'polling the demo sources');
  }
  return sourceIds.map((id) => outcomes.get(id)!);
}

const PENDING = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * Waits until no queue holds pending work: every score job has run and every notification has been sent (or has
 * failed for good). A poll completes only after it enqueued its score jobs, and a score job only after it enqueued
 * its notifications, so two empty readings in a row mean the cycle is over.
 */
export async function waitForDrain(queues: Queues, until: Until): Promise<void> {
  let quiet = 0;
  while (quiet < 2) {
    const counts = await Promise.all(queues.all().map((q) => q.getJobCounts(...PENDING)));
    quiet = counts.every((c) => Object.values(c).every((n) => n === 0)) ? quiet + 1 : 0;
    if (quiet < 2) await pause(until, 'scoring and sending the alerts');
  }
}

/** The reasons of failed jobs in a queue (most recent first), for the summary. */
export async function failedReasons(queue: Queue, limit = 20): Promise<string[]> {
  const jobs = await queue.getFailed(0, limit - 1);
  return jobs.map((job) => `${job.id}: ${job.failedReason}`);
}
