import { buildDigest, digestKey } from '../alerts/digest.js';
import type { Digest } from '../alerts/types.js';
import type { Logger } from '../log.js';
import type { DigestJob } from '../queue/names.js';
import type { AlertStore } from '../store/alerts.js';
import type { Delivery, DeliveryStore } from '../store/deliveries.js';
import type { CarriedDigest, DigestStore } from '../store/digests.js';
import type { DeliveryReceipt } from '../notifiers/types.js';
import { awaitTurn, recordFailedSend, recordSent, writeAfterSend } from './deliver.js';
import type { ConfigState } from './runtime.js';

export type DigestOutcome =
  | { status: 'delivered'; alerts: number; response: string }
  | { status: 'already-delivered' }
  | { status: 'empty' }
  /**
   * superseded: nothing of its own to send, a later window's digest took what it held (no send of it had reached
   * anyone); alerts-expired: every alert it carried is gone, so its remaining recipients cannot be sent it.
   */
  | { status: 'skipped'; reason: 'unknown-channel' | 'no-digest' | 'superseded' | 'alerts-expired' }
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
 * a no-op. The first send that reaches anyone carries the held alerts off (DigestStore.carry, before the ledger
 * write): from then on this window's retries, the job's or an operator's, send exactly what it carried, and later
 * windows do not repeat it. A digest that reached nobody leaves its alerts held for the next one. Throws
 * DeliveryError for the job layer, like the notify stage.
 */
export async function digestStage(job: DigestJob, deps: DigestDeps): Promise<DigestOutcome> {
  const { channelId, windowEnd } = job;
  const key = digestKey(channelId, windowEnd);
  const entry = deps.state.notifiers.get(channelId);
  if (!entry) return { status: 'skipped', reason: 'unknown-channel' };
  if (!entry.channel.digest) return { status: 'skipped', reason: 'no-digest' };

  const existing = await deps.deliveries.get(key);
  const carried = await deps.digests.carried(channelId, windowEnd);
  // What an earlier run of this window was about to send, if it got as far as sending.
  const planned = carried ? undefined : await deps.digests.planned(channelId, windowEnd);
  if (existing?.status === 'delivered') {
    // Delivered, but what it carried was not recorded (that write failed): carry what was sent now, or the next digest
    // repeats it. Only what was sent: an alert held since waits for the next digest.
    if (!carried) await deps.digests.carry(channelId, windowEnd, planned ?? (await heldNow(deps, channelId, windowEnd)));
    return { status: 'already-delivered' };
  }
  if (!carried && !planned && Object.values(existing?.recipients ?? {}).includes('accepted')) {
    // Someone has it but its record is gone (expired before the ledger entry): rebuilding would send others another digest.
    return skippedFor(deps, key, existing, 'alerts-expired');
  }
  let contents = carried;
  if (!contents) {
    const now = await heldNow(deps, channelId, windowEnd);
    if (now.held.length === 0 && now.later) return skippedFor(deps, key, existing, 'superseded');
    // A retry sends what the first send was about to, less what a later digest has taken meanwhile.
    const stillHeld = new Set(now.held.map((h) => `${h.alertId} ${h.heldAt}`));
    contents = planned ? { windowStart: planned.windowStart, held: planned.held.filter((h) => stillHeld.has(`${h.alertId} ${h.heldAt}`)) } : now;
  }

  const found = await deps.alerts.getMany(contents.held.map((h) => h.alertId));
  const digest: Digest = buildDigest({ channel: entry.channel, windowStart: contents.windowStart, windowEnd, alerts: found });
  if (digest.alerts.length === 0) {
    // Sent to some with alerts: an empty digest under its Message-ID would tell the rest there was nothing.
    if (contents.held.length > 0 && carried) return skippedFor(deps, key, existing, 'alerts-expired');
    if (!entry.channel.digest.sendEmpty) {
      if (!carried) {
        await deps.digests.clear(channelId, contents.held);
        await deps.digests.setLastWindowEnd(channelId, windowEnd);
      }
      return { status: 'empty' };
    }
  }

  // A digest takes its turn in the channel's pace like any notification.
  const blockedUntil = entry.rateLimit ? 0 : await deps.deliveries.blockedUntil(channelId);
  const paced = await awaitTurn(deps.deliveries, channelId, key, entry.rateLimit, blockedUntil, deps.now());
  if (paced) return paced;

  const base = { channelId };
  // Recorded before the first send; a retry after a send whose carry failed sends and carries exactly this.
  if (!carried && !planned) contents = await deps.digests.plan(channelId, windowEnd, contents);
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
  // Carried before the ledger write: a worker killed between the two leaves the alerts with this window (its re-run
  // sends them again to everyone, the at-least-once window), never in the next window too.
  let carryFailed: unknown;
  if (!carried && reachedAnyone(receipt)) {
    try {
      await writeAfterSend(() => deps.digests.carry(channelId, windowEnd, contents));
    } catch (err) {
      carryFailed = err;
      deps.log.error({ err, deliveryKey: key, channelId }, 'digest sent but what it carried could not be recorded; its alerts stay held');
    }
  }
  // Throws (retryable) while some recipients are still deferred: the retry sends what was carried to them.
  const recorded = await recordSent(deps, key, base, receipt);
  if (carryFailed !== undefined) {
    // Recorded: the job's retry finds the ledger entry and only carries. Not recorded: a retry would send the digest
    // again, so the held alerts are left for the next digest instead.
    if (recorded) throw carryFailed;
    deps.log.error({ deliveryKey: key, channelId }, 'digest delivered but its held alerts could not be cleared; the next digest repeats them');
  }
  return { status: 'delivered', alerts: digest.alerts.length, response: receipt.response };
}

/**
 * Skips a window with nothing left to send. A delivery of it that some sends did not reach is recorded failed with
 * the reason, so it stays listed (an operator's retry took it off the failed list) instead of silently never arriving.
 */
async function skippedFor(
  deps: DigestDeps,
  key: string,
  existing: Delivery | undefined,
  reason: 'superseded' | 'alerts-expired',
): Promise<DigestOutcome> {
  if (existing && existing.status !== 'delivered') {
    const why = reason === 'superseded' ? 'a later digest sent the alerts this one held' : 'the alerts it carried have expired';
    const without = Object.entries(existing.recipients ?? {}).filter(([, status]) => status === 'deferred').map(([address]) => address);
    const error = `given up: ${why}${without.length > 0 ? `; still without it: ${without.join(', ')}` : ''}`;
    await deps.deliveries.recordAttempt(key, { channelId: existing.channelId }, { status: 'failed', error, errorKind: 'permanent', at: deps.now() });
  }
  return { status: 'skipped', reason };
}

/** A send reached someone: any send without per-recipient answers that did not fail, else one with a recipient that accepted. */
function reachedAnyone(receipt: DeliveryReceipt): boolean {
  return !receipt.recipients || Object.values(receipt.recipients).includes('accepted');
}

/**
 * What the window's digest would carry now: the alerts held up to its end, from the end of the last window sent
 * (`later`: that was a later window than this one).
 */
async function heldNow(deps: DigestDeps, channelId: string, windowEnd: number): Promise<CarriedDigest & { later: boolean }> {
  const held = await deps.digests.pending(channelId, windowEnd);
  const last = await deps.digests.lastWindowEnd(channelId);
  const later = last !== undefined && last > windowEnd;
  const windowStart = last !== undefined && last < windowEnd ? last : Math.min(windowEnd - FIRST_WINDOW_MS, ...held.map((h) => h.heldAt));
  return { windowStart, held, later };
}
