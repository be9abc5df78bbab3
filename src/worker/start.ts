import { Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { ChokepointConfig } from '../config/load.js';
import { restartOnlyChanges } from '../config/restart-only.js';
import type { Logger } from '../log.js';
import { buildConfigState, type Runtime } from '../pipeline/runtime.js';
import { createStores } from '../pipeline/stores.js';
import { createRedis, safeRedisUrl, waitForRedis } from '../queue/connection.js';
import { QUEUES } from '../queue/names.js';
import { bullPrefix, cappedBackoff, createQueues } from '../queue/queues.js';
import { recordStalledOut } from '../queue/delivery-job.js';
import { enqueuePoll, type Scheduler, startPollSchedules, startupTick } from '../queue/scheduler.js';
import { pollProcessor } from '../../jobs/poll.js';
import { scoreProcessor } from '../../jobs/score.js';
import { notifyProcessor } from '../../jobs/notify.js';
import { digestProcessor } from '../../jobs/digest.js';
import { enqueueClosingDigests, enqueueMissedDigests, startDigestSchedules } from '../queue/digest-schedule.js';
import { channelsFreedOfPace, channelsFreedOfPaceForDigests, channelsFreedOfQuietHours, channelsFreedOfThrottle, wakeAfterReload } from '../queue/wake.js';
import type { PipelineMetrics, WorkerContext } from './context.js';
import { logUnlessConnectionError } from './worker-errors.js';

/** Times a job may be recovered after its worker died before it fails for good (BullMQ's default is 1). */
export const MAX_STALLED_COUNT = 5;

export type Role = 'scheduler' | 'poll' | 'score' | 'notify';
export const ALL_ROLES: Role[] = ['scheduler', 'poll', 'score', 'notify'];

export interface StartOptions {
  config: ChokepointConfig;
  log: Logger;
  roles?: Role[];
  metrics?: PipelineMetrics;
  now?: () => Date;
  /** Aborts the wait for Redis at start (shutdown requested before Redis came up). */
  signal?: AbortSignal;
}

export interface RunningWorker {
  context: WorkerContext;
  workers: Worker[];
  scheduler?: Scheduler;
  connections: Redis[];
  /** Stop scheduling, finish in-flight jobs (forcing after the timeout), close connections. */
  stop(): Promise<void>;
  /**
   * Applies a new, already validated config: swaps the runtime state whole (jobs in flight finish with the state
   * they started with) and restarts the schedules. The settings in RESTART_ONLY_SETTINGS (config/restart-only.ts) need a restart.
   */
  reload(config: ChokepointConfig): Promise<void>;
}

/**
 * Starts the worker: waits for Redis (logging, not crashing, while it is down), then runs the BullMQ consumers of
 * its roles and, with the scheduler role, the cron schedules.
 */
export async function startWorker(options: StartOptions): Promise<RunningWorker> {
  const { config, log } = options;
  const roles = new Set(options.roles ?? ALL_ROLES);
  const settings = config.settings;
  const connect = (name: string, role: 'producer' | 'consumer') => createRedis({ url: config.redisUrl, cluster: settings.redis.cluster, log, name, role });
  const redis = connect('main', 'producer');
  const blocking = connect('consumer', 'consumer');
  // The stores get a connection of their own: BullMQ defines some fifty scripts on the connections it uses, and
  // ioredis copies every defined script into each pipeline or transaction created on that connection, which the
  // stores create for nearly every item (a third of the pipeline's CPU when they shared it).
  const storesRedis = connect('stores', 'producer');
  const connections = [redis, blocking, storesRedis];
  log.info({ redis: safeRedisUrl(config.redisUrl), roles: [...roles] }, 'starting worker');
  try {
    await waitForRedis(redis, log, options.signal);
  } catch (err) {
    connections.forEach((c) => c.disconnect());
    throw err;
  }
  await warnOnEvictionPolicy(redis, log);

  const runtime: Runtime = {
    state: buildConfigState(config),
    log,
    redis,
    prefix: settings.redis.prefix,
    now: options.now ?? (() => new Date()),
  };
  const queues = createQueues(redis, settings);
  for (const queue of queues.all()) queue.on('error', (err) => logUnlessConnectionError(log, err, { queue: queue.name }, 'queue error'));
  const metrics = options.metrics;
  const stores = createStores(storesRedis, settings, (store) => metrics?.conflicts.inc({ store }));
  const context: WorkerContext = { runtime, stores, queues, metrics };

  const prefix = bullPrefix(settings);
  const common = {
    connection: blocking,
    prefix,
    removeOnComplete: { age: settings.retention.completedJobsAgeSeconds, count: settings.retention.completedJobs },
    removeOnFail: { age: settings.retention.failedJobsAgeSeconds, count: settings.retention.failedJobs },
    // A job whose worker died (SIGKILL, OOM, lost host) is "stalled" and re-run by another worker. BullMQ's default
    // fails it for good at the second stall, which would silently drop an alert when crashes come in a row; every
    // processor is idempotent, so allow several, while still stopping a job that kills every worker it lands on.
    maxStalledCount: MAX_STALLED_COUNT,
  };
  const workers: Worker[] = [];
  const concurrency = settings.worker;
  if (roles.has('poll')) workers.push(new Worker(QUEUES.poll, pollProcessor(context), { ...common, concurrency: concurrency.pollConcurrency }));
  if (roles.has('score')) workers.push(new Worker(QUEUES.score, scoreProcessor(context), { ...common, concurrency: concurrency.scoreConcurrency }));
  if (roles.has('notify')) {
    workers.push(
      new Worker(QUEUES.notify, notifyProcessor(context), {
        ...common,
        concurrency: concurrency.notifyConcurrency,
        settings: { backoffStrategy: cappedBackoff(settings.delivery) },
      }),
    );
    // Digests are notifications too: same role, same retry policy, one at a time per worker.
    workers.push(new Worker(QUEUES.digest, digestProcessor(context), { ...common, concurrency: 1, settings: { backoffStrategy: cappedBackoff(settings.delivery) } }));
  }
  for (const worker of workers) {
    worker.on('error', (err) => logUnlessConnectionError(log, err, { queue: worker.name }, 'worker error'));
    worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) log.debug({ queue: worker.name, jobId: job.id, err }, 'job failed for good');
      // Not an error the processor saw (nothing else records it): say so loudly.
      else if (/stalled more than allowable limit/.test(err.message)) {
        log.error({ queue: worker.name, jobId: job?.id, maxStalledCount: MAX_STALLED_COUNT }, 'job failed for good: its workers died while running it too many times');
        if (job) {
          recordStalledOut(worker.name, job.data, { deliveries: stores.deliveries, now: runtime.now, metrics }, MAX_STALLED_COUNT + 1).catch((recordErr: unknown) =>
            log.error({ queue: worker.name, jobId: job.id, err: recordErr }, 'could not record the given-up delivery in its ledger entry'),
          );
        }
      }
    });
  }

  let scheduler: Scheduler | undefined;  // replaced on reload
  let digestScheduler: Scheduler | undefined;
  // Whatever its roles: a worker that held alerts for a digest its config has lost since sends them (see there).
  void enqueueClosingDigests(config.channels, queues.digest, stores.digests, log, runtime.now().getTime());
  if (roles.has('scheduler')) {
    scheduler = startPollSchedules(config.sources, queues.poll, log);
    digestScheduler = startDigestSchedules(config.channels, queues.digest, log);
    void enqueueMissedDigests(config.channels, queues.digest, stores.digests, log, runtime.now().getTime());
    if (settings.worker.pollOnStart) {
      const tick = startupTick(runtime.now());
      for (const source of config.sources.filter((s) => s.enabled)) {
        await enqueuePoll(queues.poll, source.id, tick).catch((err) => log.warn({ err, sourceId: source.id }, 'could not enqueue start-up poll'));
      }
    }
  }
  log.info({ sources: config.sources.length, watchlists: config.watchlists.length, channels: config.channels.length, schedules: scheduler?.size() ?? 0 }, 'worker started');

  let stopping: Promise<void> | undefined;
  const reload = async (next: ChokepointConfig) => {
    const previous = runtime.state;
    runtime.state = buildConfigState(next);
    if (roles.has('scheduler')) {
      await scheduler?.stop();
      scheduler = startPollSchedules(next.sources, queues.poll, log);
      await digestScheduler?.stop();
      digestScheduler = startDigestSchedules(next.channels, queues.digest, log);
    }
    void enqueueClosingDigests(next.channels, queues.digest, stores.digests, log, runtime.now().getTime());
    if (roles.has('notify')) {
      const freed = {
        quietHours: channelsFreedOfQuietHours(previous.notifiers, runtime.state.notifiers, next.channels),
        throttle: channelsFreedOfThrottle(previous.notifiers, runtime.state.notifiers, next.channels),
        pace: channelsFreedOfPace(previous.notifiers, runtime.state.notifiers, next.channels),
        digestPace: channelsFreedOfPaceForDigests(previous.notifiers, runtime.state.notifiers, next.channels),
      };
      wakeAfterReload(freed, { queue: queues.notify, digestQueue: queues.digest, redis, stores, log, notifiers: () => runtime.state.notifiers, stopping: () => stopping !== undefined });
    }
    // Compared with the start-up config: the connections, queues and stores still hold its values.
    const ignored = restartOnlyChanges(config, next);
    if (ignored.length) log.warn({ settings: ignored }, 'these settings take effect only on restart; the worker keeps their start-up values');
    // Let jobs that started with the old notifiers finish before their SMTP pools close.
    setTimeout(() => {
      previous.http.close();
      void previous.notifiers.close().catch(() => undefined);
    }, 60_000).unref();
    log.info({ sources: next.sources.length, watchlists: next.watchlists.length, channels: next.channels.length }, 'config reloaded');
  };
  return {
    reload,
    context,
    workers,
    scheduler,
    connections,
    stop() {
      stopping ??= (async () => {
        // A tick blocked on a Redis call (Redis just came back, or is still down) must not hold the shutdown up.
        const stopSchedules = Promise.allSettled([scheduler?.stop(), digestScheduler?.stop()]);
        await Promise.race([stopSchedules, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
        const timeout = settings.worker.shutdownTimeoutMs;
        // Wait for in-flight jobs with pause(), then close: once a close() has started, BullMQ's close(true) returns
        // that same pending promise, so a close stuck waiting for a job (bullmq#4656, e.g. right after Redis came
        // back) could never be forced, and its lock-renewal timer kept the process alive after "worker stopped".
        const drained = Promise.allSettled(workers.map((worker) => worker.pause()));
        const inTime = await Promise.race([drained.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeout).unref())]);
        if (!inTime) log.warn({ timeoutMs: timeout }, 'in-flight jobs did not finish in time; closing forcefully (they will be retried)');
        const graceful = (async () => {
          await Promise.allSettled(workers.map((worker) => worker.close(!inTime)));
          await queues.close();
          await runtime.state.notifiers.close();
          runtime.state.http.close();
          await Promise.allSettled(connections.map((c) => c.quit()));
        })();
        // worker.close() can wait forever while Redis is unreachable (bullmq#4656): never outlive the deadline.
        const deadline = new Promise((resolve) => setTimeout(resolve, 1_500).unref());
        const finished = await Promise.race([graceful.then(() => true), deadline.then(() => false)]);
        if (!finished) {
          // A close that did not finish leaves BullMQ's own connections (the workers' blocking clients) reconnecting
          // for ever, which keeps the process alive after "worker stopped". Cut them, without waiting long.
          const cut = Promise.allSettled([...workers, ...queues.all()].map((q) => q.disconnect()));
          await Promise.race([cut, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
        }
        connections.forEach((c) => c.disconnect());
      })();
      return stopping;
    },
  };
}

async function warnOnEvictionPolicy(redis: Redis, log: Logger): Promise<void> {
  // On a cluster, each primary has its own policy, and the one serving the slot of "{prefix}" may change.
  const cluster = redis as unknown as Partial<Cluster>;
  const nodes = cluster.isCluster && cluster.nodes ? cluster.nodes('master') : [redis];
  for (const node of nodes) {
    try {
      const policy = (await node.config('GET', 'maxmemory-policy')) as string[];
      if (policy[1] && policy[1] !== 'noeviction') {
        log.warn({ policy: policy[1], ...(nodes.length > 1 ? { node: `${node.options.host}:${node.options.port}` } : {}) }, 'Redis maxmemory-policy should be "noeviction": an evicting Redis silently loses queued jobs and alert state');
      }
    } catch {
      // CONFIG may be disabled on managed Redis; BullMQ also checks the policy.
    }
  }
}
