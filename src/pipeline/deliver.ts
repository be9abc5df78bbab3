import { deliveryKey } from '../alerts/ids.js';
import { DeliveryError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NotifyJob } from '../queue/names.js';
import type { Alert } from '../alerts/types.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { ConfigState } from './runtime.js';

export type DeliverOutcome =
  | { status: 'delivered'; response: string; /** The alert as sent (this version). */ alert: Alert }
  | { status: 'already-delivered' }
  | { status: 'skipped'; reason: 'unknown-channel' | 'alert-expired' | 'superseded' }
  | { status: 'wait'; untilMs: number };

/**
 * Notify stage for one alert version and one channel: consults the ledger (a delivered entry makes this a no-op),
 * honours a channel's 429 block, renders and sends, and records the attempt. Throws DeliveryError for the job layer
 * to turn into retry, rate-limit wait or permanent failure.
 */
export async function deliverStage(
  job: NotifyJob,
  deps: {
    state: ConfigState;
    deliveries: DeliveryStore;
    log: Logger;
    now: () => Date;
    signal?: AbortSignal;
  },
): Promise<DeliverOutcome> {
  const key = deliveryKey(job.alertId, job.version, job.channelId);
  // Everything the send depends on in one round trip: this runs once per notification, the most frequent job.
  const { existing, blockedUntil, refs: previousRefs, entryAsRead, alert, decisions } = await deps.deliveries.beforeSend(key, job.alertId, job.channelId);
  if (existing?.status === 'delivered') return { status: 'already-delivered' };

  const entry = deps.state.notifiers.get(job.channelId);
  if (!entry) return { status: 'skipped', reason: 'unknown-channel' };
  if (!alert) return { status: 'skipped', reason: 'alert-expired' };
  // A newer version supersedes this one only once it exists; until then this version is what people must see.
  if (alert.version < job.version) return { status: 'skipped', reason: 'alert-expired' };

  // A deferred older version that a newer version replaced (its delayed job may already have started running).
  if (decisions.some((d) => d.channelId === job.channelId && d.version > job.version && d.mode !== 'digest')) {
    return { status: 'skipped', reason: 'superseded' };
  }

  if (blockedUntil > deps.now().getTime()) return { status: 'wait', untilMs: blockedUntil };

  const base = { alertId: job.alertId, version: job.version, channelId: job.channelId };
  // Render the alert as it was at this version: a later version of the same alert gets its own job.
  const snapshot = { ...alert, version: job.version };
  try {
    const payload = entry.notifier.render({ type: 'alert', alert: snapshot }, entry.channel);
    const receipt = await entry.notifier.send(payload, entry.channel, {
      idempotencyKey: key,
      previousRefs,
      signal: deps.signal,
      http: { allowPrivateAddresses: deps.state.config.settings.http.allowPrivateAddresses, timeoutMs: deps.state.config.settings.http.timeoutMs },
    });
    await deps.deliveries.recordAttempt(key, base, { status: 'delivered', response: receipt.response, refs: receipt.refs, at: deps.now() }, entryAsRead);
    return { status: 'delivered', response: receipt.response, alert: snapshot };
  } catch (err) {
    const error = err instanceof DeliveryError ? err : DeliveryError.retryable(job.channelId, (err as Error).message, { cause: err });
    if (error.kind === 'rate-limited') {
      const untilMs = deps.now().getTime() + (error.delayMs ?? 30_000);
      await deps.deliveries.blockChannel(job.channelId, untilMs);
      await deps.deliveries.recordAttempt(key, base, { status: 'rate-limited', error: error.message, errorKind: error.kind, at: deps.now() }, entryAsRead);
    } else {
      await deps.deliveries.recordAttempt(key, base, { status: 'pending', error: error.message, errorKind: error.kind, at: deps.now() }, entryAsRead);
    }
    throw error;
  }
}
