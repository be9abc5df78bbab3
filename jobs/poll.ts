import { createHash } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { pollStage } from '../src/pipeline/poll.js';
import type { WorkerContext } from '../src/worker/context.js';
import { jobId, type PollJob } from '../src/queue/names.js';
import { pollRetryDelayMs } from '../src/queue/queues.js';
import { SourceFetchError } from '../src/errors.js';
import { createMutex } from '../src/keyed-concurrency.js';
import { MAX_NOT_BEFORE_MS } from '../src/store/source-state.js';

/** Items per score job: big enough to amortise Redis round trips, small enough to keep job payloads modest. */
const SCORE_BATCH = 100;
/** Score jobs per addBulk (one round trip, atomic): a 50,000-item feed is 50 calls, each under a megabyte or so. */
const BATCHES_PER_ADD = 10;

/**
 * poll -> fetch, parse, drop seen -> enqueue score batches -> mark seen.
 *
 * Polls run concurrently (worker.pollConcurrency) while they wait on the network; from the moment a body has
 * arrived until its items are queued, one poll at a time per process. That phase holds a whole feed in memory (its
 * text, its items, their score jobs' JSON), and it is CPU-bound anyway: overlapping it made a worker's peak memory
 * the sum of its largest feeds instead of the largest one (bench, peak RSS: 152-161 MB with four polls at once and no
 * gate, 143 MB with one poll at a time).
 */
export function pollProcessor(ctx: WorkerContext) {
  const gate = createMutex();
  return async (job: Job<PollJob>, _token?: string, signal?: AbortSignal) => {
    let release: (() => void) | undefined;
    try {
      return await poll(job, signal, async () => {
        release ??= await gate.acquire();
      });
    } finally {
      release?.();
    }
  };

  async function poll(job: Job<PollJob>, signal: AbortSignal | undefined, bodyArrived: () => Promise<void>) {
    const { sourceId } = job.data;
    const state = ctx.runtime.state;
    const source = state.sources.get(sourceId);
    const log = ctx.runtime.log.child({ queue: 'poll', jobId: job.id, sourceId });
    if (!source) return { status: 'skipped', reason: 'source no longer configured' };

    let outcome;
    try {
      outcome = await pollStage(source, { http: state.http, sourceState: ctx.stores.sourceState, seen: ctx.stores.seen, log, now: ctx.runtime.now(), signal, bodyArrived });
    } catch (err) {
      ctx.metrics?.polls.inc({ source: sourceId, outcome: 'error' });
      log.warn({ err }, 'poll failed');
      // A poll is retried once for transient faults; anything else waits for the next tick.
      if (!(err instanceof SourceFetchError && err.retryable)) throw new UnrecoverableError((err as Error).message);
      // Nor is it retried sooner than the source asked (the Retry-After of a 429 or 503, longer than the client waits in
      // place). The failure recorded that time as the source's not-before: polls that start before it, this job's retry
      // included, are skipped, so a retry goes ahead only when its backoff ends after that time anyway.
      if (err.retryAfterMs !== undefined && err.retryAfterMs > pollRetryDelayMs(job.attemptsMade)) {
        const capped = err.retryAfterMs > MAX_NOT_BEFORE_MS ? ` (${MAX_NOT_BEFORE_MS / 3600_000} h at most)` : '';
        // A 429 also held the host that answered (http.ts): every source's requests to it wait as well.
        const host = err.code === 'CP_SOURCE_RATE_LIMITED' ? ', and so are the requests of other sources to the host that answered' : '';
        throw new UnrecoverableError(
          `${err.message}; the source asked us to come back in ${Math.ceil(err.retryAfterMs / 1000)} s; its polls are skipped until then${capped}${host}`,
        );
      }
      throw err;
    }
    if (outcome.status === 'deferred') {
      ctx.metrics?.polls.inc({ source: sourceId, outcome: 'deferred' });
      const notBefore = outcome.notBefore.toISOString();
      const { origin } = outcome;
      // One info line per source and request to wait, however many polls (on however many workers) it skips.
      const level = outcome.skipped === 1 ? 'info' : 'debug';
      if (origin === undefined) {
        log[level]({ notBefore, skippedPolls: outcome.skipped }, 'poll skipped: the source asked us to wait (Retry-After); it is polled again from notBefore');
        return { status: 'skipped', reason: 'retry-after', notBefore };
      }
      log[level]({ notBefore, origin, skippedPolls: outcome.skipped }, 'poll skipped: its host asked us to wait (Retry-After to another source on it); it is polled again from notBefore');
      return { status: 'skipped', reason: 'retry-after', notBefore, origin };
    }
    if (outcome.status === 'not-modified') {
      ctx.metrics?.polls.inc({ source: sourceId, outcome: 'not-modified' });
      return outcome;
    }
    ctx.metrics?.polls.inc({ source: sourceId, outcome: 'ok' });
    ctx.metrics?.items.inc({ source: sourceId, kind: 'seen' }, outcome.fetched);
    ctx.metrics?.items.inc({ source: sourceId, kind: 'new' }, outcome.fresh.length);
    // Queued first, marked seen after: a crash in between re-queues (same job ids) instead of losing items.
    for (let i = 0; i < outcome.fresh.length; i += SCORE_BATCH * BATCHES_PER_ADD) {
      const slice = outcome.fresh.slice(i, i + SCORE_BATCH * BATCHES_PER_ADD);
      const jobs = [];
      for (let j = 0; j < slice.length; j += SCORE_BATCH) {
        const batch = slice.slice(j, j + SCORE_BATCH);
        const digest = createHash('sha256').update(batch.map((item) => item.id).join(',')).digest('hex').slice(0, 24);
        jobs.push({ name: 'score', data: { sourceId, items: batch }, opts: { jobId: jobId('score', sourceId, digest) } });
      }
      await ctx.queues.score.addBulk(jobs);
      await ctx.stores.seen.markSeen(slice.map((item) => item.id));
    }
    await outcome.commit();
    log.info({ fetched: outcome.fetched, fresh: outcome.fresh.length }, 'polled');
    return { status: 'ok', fetched: outcome.fetched, fresh: outcome.fresh.length };
  }
}
