import { Worker } from 'bullmq';
import { expect, vi } from 'vitest';
import { digestProcessor } from '../../jobs/digest.js';
import { notifyProcessor } from '../../jobs/notify.js';
import { scoreProcessor } from '../../jobs/score.js';
import { loadConfig } from '../../src/config/load.js';
import type { Item } from '../../src/items/item.js';
import { memoryLogger } from '../../src/log.js';
import { createNotifiers } from '../../src/notifiers/registry.js';
import type { ConfigState, Runtime } from '../../src/pipeline/runtime.js';
import { createStores } from '../../src/pipeline/stores.js';
import { createRedis } from '../../src/queue/connection.js';
import { jobId, QUEUES } from '../../src/queue/names.js';
import { bullPrefix, cappedBackoff, createQueues } from '../../src/queue/queues.js';
import type { Assessment, Direction, Level, Scorer } from '../../src/scoring/types.js';
import type { WorkerContext } from '../../src/worker/context.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { testRedisUrl } from '../helpers/redis.js';

export interface Verdict {
  watchlistId: string;
  level: Level;
  direction?: Direction;
  entities?: string[];
}

/**
 * A scorer that returns what the test says for each title, so lifecycle tests do not depend on lexicon tuning. Every
 * configured watchlist gets an assessment, "none" unless the title's verdict names it.
 */
export class FakeScorer implements Scorer {
  readonly verdicts = new Map<string, Verdict>();
  constructor(private readonly watchlistIds: string[]) {}

  set(title: string, verdict: Verdict): void {
    this.verdicts.set(title, verdict);
  }

  assess(item: Item): Assessment[] {
    const verdict = this.verdicts.get(item.title);
    return this.watchlistIds.map((watchlistId) => {
      const level = verdict?.watchlistId === watchlistId ? verdict.level : 'none';
      const score = { none: 0, info: 15, low: 30, medium: 50, high: 70, critical: 90 }[level];
      return {
        itemId: item.id,
        watchlistId,
        score,
        level,
        direction: level === 'none' ? 'neutral' : (verdict?.direction ?? 'escalation'),
        // Watched materials as the real scorer reports them: an entity id and a match of category material.
        matches: (level === 'none' ? [] : (verdict?.entities ?? ['samarium'])).map((entity) => ({
          term: entity,
          entity,
          category: 'material' as const,
          field: 'title' as const,
          position: 0,
        })),
        factors: [{ name: 'fake', value: score, detail: 'test verdict' }],
        why: `The test says ${level}.`,
        entities: level === 'none' ? [] : (verdict?.entities ?? ['samarium']),
      };
    });
  }
}

/**
 * The score, notify and digest processors on real Redis and BullMQ, wired as src/worker/start.ts wires them, with a
 * fake scorer and a settable clock. (Built here rather than through startWorker so that these tests load no source
 * kinds and no lexicon.)
 */
export async function startTestWorker(files: Record<string, string>, env: Record<string, string>, watchlistIds: string[], clock: { now: number }) {
  const { dir, cleanup } = writeConfigDir(files);
  const config = loadConfig(dir, { ...env, REDIS_URL: testRedisUrl() });
  const logger = memoryLogger('warn');
  const log = logger.log;
  const settings = config.settings;
  const redis = createRedis({ url: config.redisUrl, log, name: 'test-main', role: 'producer' });
  const blocking = createRedis({ url: config.redisUrl, log, name: 'test-consumer', role: 'consumer' });
  const scorer = new FakeScorer(watchlistIds);
  const state: ConfigState = {
    config,
    scorer,
    notifiers: createNotifiers(config.channels),
    http: undefined as never,
    sources: new Map(config.sources.map((s) => [s.id, s])),
    watchlists: new Map(config.watchlists.map((w) => [w.id, w])),
    channels: new Map(config.channels.map((c) => [c.id, c])),
  };
  const runtime: Runtime = { state, log, redis, prefix: settings.redis.prefix, now: () => new Date(clock.now) };
  const queues = createQueues(redis, settings);
  const context: WorkerContext = { runtime, stores: createStores(redis, settings), queues };
  const common = { connection: blocking, prefix: bullPrefix(settings), settings: { backoffStrategy: cappedBackoff(settings.delivery) } };
  const workers = [
    new Worker(QUEUES.score, scoreProcessor(context), { ...common, concurrency: 2 }),
    new Worker(QUEUES.notify, notifyProcessor(context), { ...common, concurrency: 4 }),
    new Worker(QUEUES.digest, digestProcessor(context), { ...common, concurrency: 1 }),
  ];
  for (const w of workers) w.on('error', () => undefined);
  const worker = { context };
  let batch = 0;
  return {
    worker,
    scorer,
    logs: logger.lines,
    async stop() {
      await Promise.allSettled(workers.map((w) => w.close()));
      await queues.close();
      await state.notifiers.close();
      redis.disconnect();
      blocking.disconnect();
      cleanup();
    },
    /** Runs one score job (one poll's new items of one source) and waits until it and the notifications it caused are done. */
    async score(sourceId: string, items: Item[]): Promise<void> {
      const id = jobId('score', sourceId, `t${batch++}`);
      await queues.score.add('score', { sourceId, items }, { jobId: id });
      await settle(worker, id);
    },
  };
}

export async function settle(worker: { context: WorkerContext }, scoreJobId?: string): Promise<void> {
  const { queues } = worker.context;
  if (scoreJobId) {
    await vi.waitFor(async () => {
      const state = await queues.score.getJobState(scoreJobId);
      const job = await queues.score.getJob(scoreJobId);
      if (state === 'failed') throw new Error(`score job failed: ${job?.failedReason}`);
      expect(state).toBe('completed');
    }, { timeout: 15_000, interval: 30 });
  }
  await vi.waitFor(async () => {
    const counts = await Promise.all([queues.score, queues.notify, queues.digest].map((q) => q.getJobCounts('waiting', 'active', 'prioritized')));
    expect(counts.every((c) => Object.values(c).every((n) => n === 0))).toBe(true);
  }, { timeout: 15_000, interval: 30 });
}
