import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Alert } from '../alerts/types.js';
import type { ChokepointConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Queues } from '../queue/queues.js';
import type { RiskIndexEntry } from '../store/risk-index.js';
import type { SourceHealth } from '../store/source-state.js';
import type { PipelineMetrics } from '../worker/context.js';
import { CONTENDED_STORES } from '../pipeline/stores.js';
import { withTimeout } from './timeout.js';

/** Where the scrape-time gauges and the latency lookup read from; the API server attaches its own connection. */
export interface MetricsReaders {
  redis: Redis;
  queues: Queues;
  listHealth(): Promise<SourceHealth[]>;
  listRiskIndex(): Promise<RiskIndexEntry[]>;
  riskThreshold(): number;
  log: Logger;
  now(): Date;
}

/** prom-client registry with the pipeline counters (PipelineMetrics) and gauges read from Redis on each scrape. */
export interface ChokepointMetrics extends PipelineMetrics {
  observePaceWait(channel: string, waitMs: number): void;
  registry: Registry;
  attach(readers: MetricsReaders): void;
  /** Creates the zero series of every configured source and channel, so rate() works from the first poll. */
  prime(config: ChokepointConfig): void;
  /** Refreshes the gauges from Redis (bounded in time) and renders the Prometheus text format. */
  scrape(): Promise<string>;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;
const SCRAPE_TIMEOUT_MS = 4_000;

// Delivery latency spans seconds (immediate alerts) to a day (quiet hours, retries over a receiver outage).
const LATENCY_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600];
// A pace wait is one interval per delivery queued ahead (Slack's default: 1 s each), from a fraction of a second to
// minutes behind a backlog.
const PACE_WAIT_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900];

interface QueueReading {
  name: string;
  counts: Record<string, number>;
  oldestWaitingSeconds: number;
  /** Undefined when Redis refuses CLIENT LIST. */
  workers: number | undefined;
}

/** What one scrape read from Redis for the queue, source and risk gauges. */
interface RedisReadings {
  queues: QueueReading[];
  sources: SourceHealth[];
  risk: RiskIndexEntry[];
}

/** One scrape's look at Redis: whether it answered PING, and the readings unless they failed or timed out. */
interface RedisLook {
  up: boolean;
  readings?: RedisReadings;
}

/** `scrapeTimeoutMs` bounds the Redis reads of a scrape (tests shorten it). */
export function createMetrics(options: { version?: string; defaultMetrics?: boolean; scrapeTimeoutMs?: number } = {}): ChokepointMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const reg = { registers: [registry] };

  const polls = new Counter({ name: 'chokepoint_polls_total', help: 'Source polls by outcome (ok, not-modified, error, deferred: skipped while a Retry-After of the source or of its host holds).', labelNames: ['source', 'outcome'], ...reg });
  const items = new Counter({ name: 'chokepoint_items_total', help: 'Items read from sources: kind="seen" every parsed item, kind="new" those not seen before.', labelNames: ['source', 'kind'], ...reg });
  const assessments = new Counter({ name: 'chokepoint_assessments_total', help: 'Item x watchlist assessments by level (none included).', labelNames: ['watchlist', 'level'], ...reg });
  const alerts = new Counter({ name: 'chokepoint_alerts_total', help: 'New alerts by watchlist and level.', labelNames: ['watchlist', 'level'], ...reg });
  const deliveries = new Counter({ name: 'chokepoint_deliveries_total', help: 'Notification attempts by channel and outcome (delivered, retry, rate-limited, failed).', labelNames: ['channel', 'outcome'], ...reg });
  const conflicts = new Counter({
    name: 'chokepoint_store_conflicts_total',
    help: 'Optimistic writes (store="story", "alert", "delivery") that found their record changed by another writer since they read it, and were decided again.',
    labelNames: ['store'],
    ...reg,
  });
  const latency = new Histogram({
    name: 'chokepoint_delivery_latency_seconds',
    help: 'From fetching the item that produced an alert version to delivering it, per delivered notification.',
    buckets: LATENCY_BUCKETS,
    ...reg,
  });
  const paceWaits = new Counter({
    name: 'chokepoint_pace_waits_total',
    help: 'Times a delivery on a paced channel (rateLimit) was delayed to wait for its send slot, by channel.',
    labelNames: ['channel'],
    ...reg,
  });
  const paceWait = new Histogram({
    name: 'chokepoint_pace_wait_seconds',
    help: 'How long a delivery on a paced channel was delayed for its send slot, per wait.',
    labelNames: ['channel'],
    buckets: PACE_WAIT_BUCKETS,
    ...reg,
  });
  const queueJobs = new Gauge({ name: 'chokepoint_queue_jobs', help: 'Jobs in each queue by state (read from Redis at scrape time).', labelNames: ['queue', 'state'], ...reg });
  const oldestWaiting = new Gauge({ name: 'chokepoint_queue_oldest_waiting_seconds', help: 'Age of the oldest waiting job of each queue (since it was created or became due); 0 when none waits.', labelNames: ['queue'], ...reg });
  const queueWorkers = new Gauge({ name: 'chokepoint_queue_workers', help: 'Worker connections consuming each queue (absent when Redis refuses CLIENT LIST).', labelNames: ['queue'], ...reg });
  const sourceDegraded = new Gauge({ name: 'chokepoint_source_degraded', help: '1 when the source has failed settings.sources.degradedAfter times in a row.', labelNames: ['source'], ...reg });
  const sourceFailures = new Gauge({ name: 'chokepoint_source_consecutive_failures', help: 'Consecutive failed polls of the source.', labelNames: ['source'], ...reg });
  const sourceLastSuccess = new Gauge({ name: 'chokepoint_source_last_success_timestamp_seconds', help: 'Unix time of the last successful poll.', labelNames: ['source'], ...reg });
  const sourceLastPoll = new Gauge({ name: 'chokepoint_source_last_poll_timestamp_seconds', help: 'Unix time of the last poll, successful or not.', labelNames: ['source'], ...reg });
  const risk = new Gauge({ name: 'chokepoint_risk_index', help: 'Current risk index of each watchlist x material (decayed to now).', labelNames: ['watchlist', 'material'], ...reg });
  const riskThreshold = new Gauge({ name: 'chokepoint_risk_index_threshold', help: 'Risk index value at which an alert is raised.', ...reg });
  const redisUp = new Gauge({ name: 'chokepoint_redis_up', help: '1 when Redis answered PING during this scrape.', ...reg });
  const scrapeErrors = new Counter({ name: 'chokepoint_scrape_errors_total', help: 'Scrapes whose Redis reads failed or timed out (gauges then have no samples).', ...reg });
  const build = new Gauge({ name: 'chokepoint_build_info', help: 'Always 1; labels carry the version.', labelNames: ['version', 'node'], ...reg });
  build.set({ version: options.version ?? 'unknown', node: process.version }, 1);

  const REDIS_GAUGES = [queueJobs, oldestWaiting, queueWorkers, sourceDegraded, sourceFailures, sourceLastSuccess, sourceLastPoll, risk];
  const scrapeTimeoutMs = options.scrapeTimeoutMs ?? SCRAPE_TIMEOUT_MS;
  let readers: MetricsReaders | undefined;

  // The notify job hands over the alert it has just rendered: reading it back would cost every delivery a round trip,
  // and could find a newer version than the one sent.
  function observeDelivered(alert: Alert, at: Date): void {
    // A metric must never fail the delivery it observes (the notify job would count it as a failed attempt).
    try {
      const from = triggerTime(alert);
      if (from === undefined || !Number.isFinite(from)) return;
      latency.observe(Math.max(0, (at.getTime() - from) / 1000));
    } catch (err) {
      readers?.log.debug({ err, alertId: alert.id }, 'could not observe delivery latency');
    }
  }

  /** Reads every Redis-backed gauge value into a snapshot; nothing is set until the whole read has succeeded. */
  async function readRedis(r: MetricsReaders): Promise<RedisReadings> {
    const nowMs = r.now().getTime();
    const [queues, sources, riskEntries] = await Promise.all([
      Promise.all(
        r.queues.all().map(async (queue): Promise<QueueReading> => {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          const [oldest] = await queue.getJobs(['waiting'], 0, 0, true);
          const since = oldest ? oldest.timestamp + (oldest.delay ?? 0) : nowMs;
          const workers = await queue.getWorkersCount().catch(() => undefined);
          return { name: queue.name, counts, oldestWaitingSeconds: Math.max(0, (nowMs - since) / 1000), workers };
        }),
      ),
      r.listHealth(),
      r.listRiskIndex(),
    ]);
    return { queues, sources, risk: riskEntries };
  }

  /** Replaces the Redis-read series with the snapshot's (none when undefined); synchronous, so no scrape sees half of it. */
  function apply(readings: RedisReadings | undefined): void {
    // Series of removed sources, drained queues and expired indexes must not linger from an earlier scrape.
    for (const gauge of REDIS_GAUGES) gauge.reset();
    if (!readings) return;
    for (const q of readings.queues) {
      for (const state of QUEUE_STATES) queueJobs.set({ queue: q.name, state }, q.counts[state] ?? 0);
      oldestWaiting.set({ queue: q.name }, q.oldestWaitingSeconds);
      if (q.workers !== undefined) queueWorkers.set({ queue: q.name }, q.workers);
    }
    for (const h of readings.sources) {
      const source = h.sourceId;
      sourceDegraded.set({ source }, h.degraded ? 1 : 0);
      sourceFailures.set({ source }, h.consecutiveFailures);
      if (h.lastSuccessAt) sourceLastSuccess.set({ source }, Date.parse(h.lastSuccessAt) / 1000);
      if (h.lastPollAt) sourceLastPoll.set({ source }, Date.parse(h.lastPollAt) / 1000);
    }
    for (const entry of readings.risk) risk.set({ watchlist: entry.watchlistId, material: entry.material }, entry.value);
  }

  /** This scrape's look at Redis (undefined before readers are attached); no readings when Redis is down or too slow. */
  async function read(): Promise<RedisLook | undefined> {
    const r = readers;
    if (!r) return undefined;
    const up = r.redis.status === 'ready' && (await withTimeout(r.redis.ping(), 1_000).then(() => true, () => false));
    if (!up) return { up };
    try {
      return { up, readings: await withTimeout(readRedis(r), scrapeTimeoutMs) };
    } catch (err) {
      scrapeErrors.inc();
      r.log.warn({ err }, 'metrics scrape could not read Redis in time; queue, source and risk gauges are missing from this scrape');
      return { up };
    }
  }

  // Scrapes overlap (two Prometheus servers, a slow Redis): each reads on its own, but setting the gauges and rendering
  // them happen one scrape at a time, so a scrape never renders another's reset or half-set gauges.
  let rendering: Promise<unknown> = Promise.resolve();
  function render(look: RedisLook | undefined): Promise<string> {
    const turn = rendering.then(() => {
      const r = readers;
      if (r) riskThreshold.set(r.riskThreshold());
      if (look) redisUp.set(look.up ? 1 : 0);
      apply(look?.readings);
      return registry.metrics();
    });
    rendering = turn.catch(() => undefined);
    return turn;
  }

  return {
    registry,
    polls,
    items,
    assessments,
    alerts,
    deliveries,
    conflicts,
    observeDelivered,
    observePaceWait(channel, waitMs) {
      paceWaits.inc({ channel });
      paceWait.observe({ channel }, waitMs / 1000);
    },
    attach(next) {
      readers = next;
    },
    prime(config) {
      for (const source of config.sources) {
        for (const outcome of ['ok', 'not-modified', 'error', 'deferred']) polls.inc({ source: source.id, outcome }, 0);
        for (const kind of ['seen', 'new']) items.inc({ source: source.id, kind }, 0);
      }
      for (const channel of config.channels) {
        for (const outcome of ['delivered', 'retry', 'rate-limited', 'failed']) deliveries.inc({ channel: channel.id, outcome }, 0);
        paceWaits.inc({ channel: channel.id }, 0);
      }
      for (const store of CONTENDED_STORES) conflicts.inc({ store }, 0);
    },
    async scrape() {
      return render(await read());
    },
  };
}

/**
 * When the item behind the alert's current version was fetched: the item of the version's history event when the
 * alert still holds its ref, else the event's time, else the earliest fetch of the story.
 */
export function triggerTime(alert: Alert): number | undefined {
  const event = alert.history?.find((e) => e.version === alert.version) ?? alert.history?.at(-1);
  const ref = event && alert.items.find((i) => i.itemId === event.itemId);
  if (ref) return Date.parse(ref.fetchedAt);
  if (event) return Date.parse(event.at);
  const times = alert.items.map((i) => Date.parse(i.fetchedAt)).filter(Number.isFinite);
  return times.length ? Math.min(...times) : undefined;
}
