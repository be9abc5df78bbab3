import { buildDigest, digestKey } from '../alerts/digest.js';
import type { Digest } from '../alerts/types.js';
import type { Logger } from '../log.js';
import type { DigestJob } from '../queue/names.js';
import type { AlertStore } from '../store/alerts.js';
import type { DeliveryStore } from '../store/deliveries.js';
import type { DigestStore } from '../store/digests.js';
import type { DeliveryReceipt } from '../notifiers/types.js';
import { awaitTurn, recordFailedSend, recordSent } from './deliver.js';
import type { ConfigState } from './runtime.js';

export type DigestOutcome =
  | { status: 'delivered'; alerts: number; response: string }
  | { status: 'already-delivered' }
  | { status: 'empty' }
  | { status: 'skipped'; reason: 'unknown-channel' | 'no-digest' }
  | { status: 'wait'; untilMs: number }
  | { status: 'paced'; waitMs: number };

export interface DigestDeps {
  state: ConfigState;
  alerts: AlertStore;
  deliveries: DeliveryStore;
  digests: DigestStore;
  log: Logger;
  now: () => Date;
  signal?: AbortSignal;
}

/** Window start when no digest was sent before: the oldest held alert, else one day before the end. */
const FIRST_WINDOW_MS = 86_400_000;

/**
 * Digest stage for one channel and window: the alerts held for the channel up to the window's end, rendered by the
 * channel's notifier and sent once. The ledger (key digest-<channel>-<windowEnd>) makes a retried or duplicated job
 * a no-op; the held entries are cleared only after delivery, so a failed digest loses nothing. Throws DeliveryError
 * for the job layer, like the notify stage.
 */
export async function digestStage(job: DigestJob, deps: DigestDeps): Promise<DigestOutcome> {
  const { channelId, windowEnd } = job;
  const key = digestKey(channelId, windowEnd);
  const entry = deps.state.notifiers.get(channelId);
  if (!entry) return { status: 'skipped', reason: 'unknown-channel' };
  if (!entry.channel.digest) return { status: 'skipped', reason: 'no-digest' };

  const held = await deps.digests.pending(channelId, windowEnd);
  const existing = await deps.deliveries.get(key);
  if (existing?.status === 'delivered') {
    await deps.digests.clear(channelId, held);
    return { status: 'already-delivered' };
  }
  const found = await deps.alerts.getMany(held.map((h) => h.alertId));
  const windowStart = (await deps.digests.lastWindowEnd(channelId)) ?? Math.min(windowEnd - FIRST_WINDOW_MS, ...held.map((h) => h.heldAt));
  const digest: Digest = buildDigest({ channel: entry.channel, windowStart, windowEnd, alerts: found });
  if (digest.alerts.length === 0 && !entry.channel.digest.sendEmpty) {
    await deps.digests.clear(channelId, held);
    await deps.digests.setLastWindowEnd(channelId, windowEnd);
    return { status: 'empty' };
  }

  // A digest takes its turn in the channel's pace like any notification.
  const blockedUntil = entry.rateLimit ? 0 : await deps.deliveries.blockedUntil(channelId);
  const paced = await awaitTurn(deps.deliveries, channelId, key, entry.rateLimit, blockedUntil, deps.now());
  if (paced) return paced;

  const base = { channelId };
  let receipt: DeliveryReceipt;
  try {
    const payload = entry.notifier.render({ type: 'digest', digest }, entry.channel);
    receipt = await entry.notifier.send(payload, entry.channel, {
      idempotencyKey: key,
      // An email digest some recipients already have goes only to the others.
      recipients: existing?.recipients ?? {},
      signal: deps.signal,
      http: { allowPrivateAddresses: deps.state.config.settings.http.allowPrivateAddresses, timeoutMs: deps.state.config.settings.http.timeoutMs },
    });
  } catch (err) {
    throw await recordFailedSend(deps, key, base, err);
  }
  // Throws (retryable) while some recipients are still deferred, before the held alerts are cleared.
  const recorded = await recordSent(deps, key, base, receipt);
  try {
    await deps.digests.clear(channelId, held);
    await deps.digests.setLastWindowEnd(channelId, windowEnd);
  } catch (err) {
    // Recorded: the job's retry finds the ledger entry and only clears. Not recorded: a retry would send the digest
    // again, so the held alerts are left for the next digest instead.
    if (recorded) throw err;
    deps.log.error({ err, deliveryKey: key, channelId }, 'digest delivered but its held alerts could not be cleared; the next digest repeats them');
  }
  return { status: 'delivered', alerts: digest.alerts.length, response: receipt.response };
}
