import type { Queues } from '../queue/queues.js';
import type { Runtime } from '../pipeline/runtime.js';
import type { Stores } from '../pipeline/stores.js';
import type { Alert } from '../alerts/types.js';

interface CounterLike<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void;
}

/** The counters the processors update; implemented with prom-client by the API module (absent in one-shot runs). */
export interface PipelineMetrics {
  polls: CounterLike<'source' | 'outcome'>;
  items: CounterLike<'source' | 'kind'>;
  assessments: CounterLike<'watchlist' | 'level'>;
  alerts: CounterLike<'watchlist' | 'level'>;
  deliveries: CounterLike<'channel' | 'outcome'>;
  /** Optimistic writes (story, alert, delivery ledger) that found their record changed since the read. */
  conflicts: CounterLike<'store'>;
  /** Called when a delivery succeeds, with the alert as delivered (its version the one sent) and the pipeline's clock, to observe fetch-to-delivery latency. */
  observeDelivered?(alert: Alert, at: Date): void;
  /** Called when a delivery on a paced channel (rateLimit) is delayed waitMs for its send slot. */
  observePaceWait?(channel: string, waitMs: number): void;
}

/** What every BullMQ processor receives: the live runtime, the stores and the queues to hand work on to. */
export interface WorkerContext {
  runtime: Runtime;
  stores: Stores;
  queues: Queues;
  metrics?: PipelineMetrics;
}
