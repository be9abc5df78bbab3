import { deliveryKey } from '../alerts/ids.js';
import { DeliveryError } from '../errors.js';
import type { RateLimit } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { NotifyJob } from '../queue/names.js';
import { MAX_QUIET_MOVES } from '../alerts/dispatch.js';
import type { Dispatch } from '../alerts/routing.js';
import type { Alert } from '../alerts/types.js';
import type { AttemptOutcome, Delivery, DeliveryStore, LedgerRead, RecordOptions } from '../store/deliveries.js';
import type { DispatchStore } from '../store/dispatch.js';
import type { DeliveryReceipt } from '../notifiers/types.js';
import { DEFAULT_RATE_LIMIT_DELAY_MS } from '../notifiers/retry-after.js';
import type { ConfigState } from './runtime.js';
import { quietHoursAt, quietHoursHold, type QuietHours } from '../alerts/quiet-hours.js';

export type DeliverOutcome =
  | { status: 'delivered'; response: string; /** The alert as sent (this version). */ alert: Alert }
  | { status: 'already-delivered' }
  /** ended: a run before ended it without a send (superseded, or held for the digest: see DeliveryStore.holdForDigest). */
  | { status: 'skipped'; reason: 'unknown-channel' | 'alert-expired' | 'superseded' | 'ended' }
  | { status: 'wait'; untilMs: number }
  /**
   * A paced channel: this delivery's slot (reserved for it) is waitMs away. `first`: the slot was given by this call,
   * not one the delivery held already (its wait is counted once, not on every wake).
   */
  | { status: 'paced'; waitMs: number; first: boolean }
  /**
   * A routine delivery parked past its channel's quiet hours woke before the moment it waits for (see stillParked): it
   * waits again until untilMs (pipeline clock), its wait, throttle count and place in the pace settled when it parked.
   */
  | { status: 'parked'; untilMs: number }
  /**
   * A routine delivery whose channel is in quiet hours now (see quietHoursHold): not sent in them, whatever brought it
   * here early (a promoted job, a retry's backoff or a 429's wait ending in them, a queue running late). The job layer
   * holds it for the digest where the channel defers them to it, else moves its throttle count and parks it past endsAt.
   */
  | { status: 'quiet'; endsAt: number };

/**
 * Notify stage for one alert version and one channel: consults the ledger (a delivered entry makes this a no-op),
 * honours a channel's 429 block and its pace, renders and sends, and records the attempt. Throws DeliveryError for
 * the job layer to turn into retry, rate-limit wait or permanent failure.
 */
export async function deliverStage(
  job: NotifyJob,
  deps: LedgerDeps & {
    state: ConfigState;
    signal?: AbortSignal;
    /** Told whether the delivery is urgent once the alert is loaded: the job layer's slot after a 429 keeps it so. */
    onUrgency?: (urgent: boolean) => void;
    /**
     * Told the moment the delivery was scheduled for inside quiet hours on purpose (see quietHoursHold), or undefined:
     * the job layer's pace wait and its slot after a 429 then keep it in those quiet hours instead of moving it past.
     */
    onDueInQuietHours?: (dueAt: number | undefined) => void | Promise<void>;
  },
): Promise<DeliverOutcome> {
  const key = deliveryKey(job.alertId, job.version, job.channelId);
  const entry = deps.state.notifiers.get(job.channelId);
  // Everything the send depends on in one round trip: this runs once per notification, the most frequent job.
  const { existing, blockedForMs, refs: previousRefs, entryAsRead, alert, decisions, heldForDigest, parked } = await deps.deliveries.beforeSend(
    key,
    job.alertId,
    job.channelId,
    !entry?.rateLimit,
  );
  if (existing?.status === 'delivered') return { status: 'already-delivered' };
  // Ended without a send of its own: a re-run (a twin, or after a crash) must not send it by itself either (one held
  // for the digest would reach the channel twice). Its throttle count goes back, as when it ended.
  if (existing?.status === 'skipped') {
    await giveBackCount(deps, job.channelId, key, existing);
    return { status: 'skipped', reason: 'ended' };
  }

  if (!entry) return { status: 'skipped', reason: 'unknown-channel' };
  if (!alert) return { status: 'skipped', reason: 'alert-expired' };
  // A newer version supersedes this one only once it exists; until then this version is what people must see.
  if (alert.version < job.version) return { status: 'skipped', reason: 'alert-expired' };

  const base = { alertId: job.alertId, version: job.version, channelId: job.channelId };
  // A deferred older version that a newer version replaced (its delayed job may already have started running).
  const sentByItself = decisions.find((d) => d.channelId === job.channelId && d.version > job.version && d.mode !== 'digest');
  if (sentByItself) return skipOlder(deps, key, base, existing, `superseded: version ${sentByItself.version} is sent to the channel by itself`);

  // The store keeps only the alert's current content. An older version's job that runs once a newer version exists
  // (its decision not recorded yet, or recorded for the digest) can only send that content: it sends it as what it
  // is, the newer version under that version's key, and records that version delivered, taking it out of the digest
  // holding in the same step, or the newer version's own job or the digest would send the receiver the same content
  // again. Nothing, if that version reached the channel already, by itself or in a digest.
  const newerKey = alert.version > job.version ? deliveryKey(job.alertId, alert.version, job.channelId) : undefined;
  if (newerKey) {
    const skipped = await reachedAlready(deps, newerKey, alert.version, job.channelId, decisions, heldForDigest === true);
    if (skipped) return skipOlder(deps, key, base, existing, skipped);
  }
  deps.onUrgency?.(isUrgent(alert));

  // Paced only now, after the checks above: a delivery that will not be sent takes no slot, and one that waited for
  // its slot passed them again on waking (a newer version decided meanwhile drops it, so pacing never sends an older
  // version after a newer one).
  // The block as this worker's clock sees it: what is left of it on Redis's clock, from this worker's now.
  const now = deps.now();
  // Before its turn is asked for: asking would give a parked delivery a new slot (at once, on an idle channel), and a
  // routine one due in the quiet hours a slot in them.
  const quietHours = isUrgent(alert) ? undefined : entry.channel.quietHours;
  const parkedFor = stillParked(parked, quietHours, now.getTime());
  if (parkedFor !== undefined) return { status: 'parked', untilMs: parkedFor };
  // Scheduled inside the quiet hours on purpose (a throttle backlog past two weeks of them): sent there, when due.
  const decision = parked ? undefined : decisions.find((d) => d.channelId === job.channelId && d.version === job.version && d.mode === 'deferred');
  const dueInQuietHours = parked
    ? parked.inQuietHours
      ? parked.untilMs
      : undefined
    : decision && inQuietHoursOnPurpose(decision)
      ? decision.sendAt
      : job.dueInQuietHours;
  await deps.onDueInQuietHours?.(dueInQuietHours);
  // Woken before that moment (promoted, or by a worker whose clock runs ahead) inside quiet hours: it waits for it, as a
  // parked one does, instead of being moved past them.
  if (quietHours && dueInQuietHours !== undefined && dueInQuietHours > now.getTime() && quietHoursAt(now.getTime(), quietHours).quiet) {
    return { status: 'parked', untilMs: dueInQuietHours };
  }
  // Past its moment (kept in the job's data above where that is in quiet hours) with no pace to hold its place in: the
  // marker goes, so that nothing takes it for parked any more (a reload taking out the quiet hours wakes parked jobs
  // only, never one waiting for a retry's backoff).
  if (parked && !entry.rateLimit) await deps.deliveries.unpark(key);
  const quietEnd = quietHoursHold(quietHours, now.getTime(), dueInQuietHours);
  if (quietEnd !== undefined) return { status: 'quiet', endsAt: quietEnd };
  const paced = await awaitTurn(deps.deliveries, job.channelId, key, entry.rateLimit, now.getTime() + (blockedForMs ?? 0), now, isUrgent(alert));
  if (paced) return paced;

  let receipt: DeliveryReceipt;
  try {
    const payload = entry.notifier.render({ type: 'alert', alert }, entry.channel);
    receipt = await entry.notifier.send(payload, entry.channel, {
      idempotencyKey: newerKey ?? key,
      previousRefs,
      // An email some recipients already have goes only to the others; the ledger, not this job, knows who they are.
      recipients: existing?.recipients ?? {},
      signal: deps.signal,
      http: { allowPrivateAddresses: deps.state.config.settings.http.allowPrivateAddresses, timeoutMs: deps.state.config.settings.http.timeoutMs },
    });
  } catch (err) {
    throw await recordFailedSend(deps, key, base, err, entryAsRead, entry.rateLimit);
  }
  if (!newerKey) {
    await recordSent(deps, key, base, receipt, entryAsRead);
    return { status: 'delivered', response: receipt.response, alert };
  }
  // The newer version's entry first: a worker dying between the two writes then leaves this job, run again, finding
  // that version delivered (and skipping), instead of that version's own job sending it again. Only once every
  // recipient has that version: this send reached the rest, and every one an earlier send reached got that same
  // content (the entry's sentVersion); one that got the older content, or one still deferring, does not have it.
  if (reachedWholeChannel(receipt, existing, alert.version)) await recordNewerDelivered(deps, newerKey, { ...base, version: alert.version }, receipt);
  const asSent = { ...receipt, response: `${receipt.response} (sent as version ${alert.version}, the alert's current content)` };
  await recordSent(deps, key, base, asSent, entryAsRead, alert.version);
  return { status: 'delivered', response: receipt.response, alert };
}

/**
 * Why an older version's job must not send the alert's current content (version `version`), if that content already
 * reached the channel: recorded delivered (by an earlier run of an older job, or an operator's retry), or carried by a
 * digest (decided for the digest and no longer held for it: a digest took it). Undefined: send it.
 */
async function reachedAlready(
  deps: { deliveries: DeliveryStore },
  newerKey: string,
  version: number,
  channelId: string,
  decisions: Dispatch[],
  heldForDigest: boolean,
): Promise<string | undefined> {
  if ((await deps.deliveries.get(newerKey))?.status === 'delivered') return `superseded: version ${version} was delivered to the channel (${newerKey})`;
  const decided = decisions.find((d) => d.channelId === channelId && d.version === version);
  if (decided?.mode === 'digest' && !heldForDigest) return `superseded: version ${version} went out in the channel's digest`;
  return undefined;
}

/** Whether, after this send, every recipient has version `version`: none left deferred, and none got other content. */
function reachedWholeChannel(receipt: DeliveryReceipt, existing: Delivery | undefined, version: number): boolean {
  const now = Object.values(receipt.recipients ?? {});
  const before = Object.values(existing?.recipients ?? {});
  return !now.includes('deferred') && (!before.includes('accepted') || existing?.sentVersion === version);
}

/**
 * An older version's job that ends without a send: an entry it left open (an email some recipients deferred, a failed
 * verdict an operator retried) ends skipped, naming the newer version, instead of staying pending or listed as failed.
 */
async function skipOlder(deps: LedgerDeps, key: string, base: DeliveryBase, existing: Delivery | undefined, why: string): Promise<DeliverOutcome> {
  // Written even when it had no entry: a worker that died between recording the newer version and this version's
  // entry leaves this one, run again, showing what became of it rather than no delivery at all.
  if (existing?.status !== 'skipped') await deps.deliveries.recordAttempt(key, base, { status: 'skipped', response: why, at: deps.now() });
  // Not sent: its throttle count goes back to the channel (one a parked version moved past the quiet hours, say,
  // where the newer version is counted too). Unless some recipients have it (an email some deferred): it was sent.
  await giveBackCount(deps, base.channelId, key, existing);
  return { status: 'skipped', reason: 'superseded' };
}

/** A notification that ends unsent gives its throttle count back to the channel, unless some recipients have it. */
async function giveBackCount(deps: LedgerDeps, channelId: string, key: string, existing: Delivery | undefined): Promise<void> {
  if (!Object.values(existing?.recipients ?? {}).includes('accepted')) await deps.dispatch?.release(channelId, key);
}

/**
 * Records the newer version an older version's job sent as delivered, and takes it out of the channel's digest holding
 * in the same step; a failure costs a repeat send, not the job.
 */
async function recordNewerDelivered(deps: LedgerDeps, key: string, base: DeliveryBase, receipt: DeliveryReceipt): Promise<void> {
  const outcome = { status: 'delivered', response: receipt.response, refs: receipt.refs, recipients: receipt.recipients } as const;
  const { entry, err } = await recordReached(deps, key, base, outcome, undefined, { releaseDigestHold: true });
  if (!entry) deps.log.warn({ err, deliveryKey: key, channelId: base.channelId }, 'sent a newer version but could not record it; its own job or the digest will send it again');
}

/**
 * Whether a delivery may go now on its channel: undefined if so, else the wait. Unpaced, only a 429 block holds it
 * (`blockedUntil` on the clock of `now`: see BeforeSend.blockedForMs); paced, it goes in the slot the channel's pace
 * gives it, which a 429 block pushes back (see reserveSlot).
 */
export async function awaitTurn(
  deliveries: DeliveryStore,
  channelId: string,
  key: string,
  rateLimit: RateLimit | undefined,
  blockedUntil: number,
  now: Date,
  urgent = false,
): Promise<{ status: 'wait'; untilMs: number } | { status: 'paced'; waitMs: number; first: boolean } | undefined> {
  if (!rateLimit) return blockedUntil > now.getTime() ? { status: 'wait', untilMs: blockedUntil } : undefined;
  const { waitMs, fresh } = await deliveries.paceTurn(channelId, key, rateLimit, urgent);
  return waitMs > 0 ? { status: 'paced', waitMs, first: fresh } : undefined;
}

/**
 * Until when a delivery parked past its channel's quiet hours (see DeliveryStore.parkSlot) that woke early (its job
 * promoted by an operator) must wait again: the moment it parked for (their end, or later where its throttle count was
 * moved), while that is still ahead on the pipeline's clock. Sent before it, it would go out in the quiet hours, or
 * over the throttle's budget of the hour after them. An older worker's marker names no moment: the end of the quiet
 * hours the channel is in now, if it is. `quietHours`: the channel's, undefined for a critical alert (the alert's
 * content became critical since: it ignores them) or once a reload removed them. No guard against a worker whose
 * clock runs ahead: by its clock the moment has come, and it sends.
 */
export function stillParked(parked: { untilMs?: number } | undefined, quietHours: QuietHours | undefined, nowMs: number): number | undefined {
  if (!parked || !quietHours) return undefined;
  if (parked.untilMs === undefined) {
    const at = quietHoursAt(nowMs, quietHours);
    return at.quiet ? at.endsAt : undefined;
  }
  return parked.untilMs > nowMs ? parked.untilMs : undefined;
}

/**
 * Whether a deferred decision put its send inside quiet hours on purpose (a throttle backlog past MAX_QUIET_MOVES of
 * them). Decisions from before the flag existed say so by their reach: only such a backlog defers that far.
 */
function inQuietHoursOnPurpose(decision: Dispatch): boolean {
  return decision.inQuietHours === true || (decision.sendAt !== undefined && decision.sendAt - decision.decidedAt >= (MAX_QUIET_MOVES - 1) * 86_400_000);
}

/**
 * A critical alert goes ahead of the others waiting for a paced channel's slots (see reserveSlot): a minute behind
 * sixty routine alerts is too late for the one that matters. Judged on what is sent: the alert's current content.
 */
export function isUrgent(alert: Alert): boolean {
  return alert.level === 'critical';
}

type LedgerDeps = {
  deliveries: DeliveryStore;
  log: Logger;
  now: () => Date;
  /** The channels' throttles: a superseded version that will not be sent gives its count back. */
  dispatch?: Pick<DispatchStore, 'release'>;
};
type DeliveryBase = Pick<Delivery, 'alertId' | 'version' | 'channelId'>;

/**
 * Records a send that failed (a 429 also blocks the channel for every worker) and returns the DeliveryError for the
 * job layer to settle. `rate`: the channel's pace, which bounds how close two 429 blocks must end to be one.
 */
export async function recordFailedSend(
  deps: LedgerDeps,
  key: string,
  base: DeliveryBase,
  err: unknown,
  readBefore?: LedgerRead,
  rate?: RateLimit,
): Promise<DeliveryError> {
  const error = err instanceof DeliveryError ? err : DeliveryError.retryable(base.channelId, (err as Error).message, { cause: err });
  if (error.kind === 'rate-limited') {
    // The wait the receiver asked for, from now on Redis's clock: the clock every worker's pace and block checks use.
    await deps.deliveries.blockChannelFor(base.channelId, error.delayMs ?? DEFAULT_RATE_LIMIT_DELAY_MS, rate);
    await deps.deliveries.recordAttempt(key, base, { status: 'rate-limited', error: error.message, errorKind: error.kind, at: deps.now() }, readBefore);
  } else {
    // An email that failed as a whole may still have settled some recipients (refused for good): the ledger must know,
    // or a retry would ask them again.
    const recipients = error.recipients && { recipients: error.recipients };
    await deps.deliveries.recordAttempt(key, base, { status: 'pending', error: error.message, errorKind: error.kind, ...recipients, at: deps.now() }, readBefore);
  }
  return error;
}

/** Pauses between tries to record a send that reached someone: rides out a Redis failover or a burst of write conflicts. */
const RECORD_RETRY_MS = [100, 500, 2_000];

/**
 * Records a delivered send, trying again briefly if the ledger write fails. The message is out: failing the job now
 * would send it again on retry, so a write that keeps failing is logged and the job still completes. Returns whether
 * the delivery was recorded.
 */
async function recordDelivered(deps: LedgerDeps, key: string, base: DeliveryBase, receipt: DeliveryReceipt, readBefore?: LedgerRead, sentVersion?: number): Promise<boolean> {
  const outcome = { status: 'delivered', response: receipt.response, refs: receipt.refs, recipients: receipt.recipients, ...(sentVersion !== undefined && { sentVersion }) } as const;
  const { entry, err } = await recordReached(deps, key, base, outcome, readBefore);
  if (!entry) deps.log.error({ err, deliveryKey: key, channelId: base.channelId }, 'delivered but not recorded: the delivery ledger could not be written; not sending again');
  return entry !== undefined;
}

/**
 * Records what a send achieved. Delivered: as recordDelivered. An email that some recipients deferred (greylisting, a
 * full mailbox): recorded pending with who has it, and the retryable DeliveryError thrown, so that the job's retry
 * sends to the deferred recipients only. Returns whether the delivery was recorded. `sentVersion`: the alert version
 * the send carried, when an older version's job sent the alert's current content (see Delivery.sentVersion).
 */
export async function recordSent(deps: LedgerDeps, key: string, base: DeliveryBase, receipt: DeliveryReceipt, readBefore?: LedgerRead, sentVersion?: number): Promise<boolean> {
  const deferred = Object.entries(receipt.recipients ?? {}).filter(([, status]) => status === 'deferred');
  if (deferred.length === 0) return recordDelivered(deps, key, base, receipt, readBefore, sentVersion);
  const error = DeliveryError.retryable(base.channelId, `some recipients deferred the message; will send it again to them only (${receipt.response})`, {
    stillWithout: receipt.stillWithout ?? deferred.map(([address]) => address).join(', '),
  });
  const outcome = {
    status: 'pending',
    error: error.message,
    errorKind: error.kind,
    response: receipt.response,
    refs: receipt.refs,
    recipients: receipt.recipients,
    ...(sentVersion !== undefined && { sentVersion }),
  } as const;
  const { entry, err } = await recordReached(deps, key, base, outcome, readBefore);
  // A twin run reached the rest meanwhile.
  if (entry?.status === 'delivered') return true;
  // Unrecorded, the retry sends to every recipient again: a duplicate for some rather than nothing for the others.
  if (!entry) deps.log.error({ err, deliveryKey: key, channelId: base.channelId }, 'sent to some recipients but not recorded: the delivery ledger could not be written; the retry sends to all of them');
  throw error;
}

/** Writes the outcome of a send that reached someone, trying again briefly; the last error if it could not. */
async function recordReached(
  deps: LedgerDeps,
  key: string,
  base: DeliveryBase,
  outcome: Omit<AttemptOutcome, 'at'>,
  readBefore?: LedgerRead,
  options?: RecordOptions,
): Promise<{ entry?: Delivery; err?: unknown }> {
  try {
    // A retried write reads the entry afresh: the failed one may have landed after all.
    return { entry: await writeAfterSend((round) => deps.deliveries.recordAttempt(key, base, { ...outcome, at: deps.now() }, round === 0 ? readBefore : undefined, options)) };
  } catch (err) {
    return { err };
  }
}

/**
 * Runs a write that follows a send that reached someone, trying again briefly (RECORD_RETRY_MS) when it fails; throws
 * the last error. Failing the job instead would send again on its retry.
 */
export async function writeAfterSend<T>(write: (round: number) => Promise<T>): Promise<T> {
  for (let round = 0; ; round++) {
    try {
      return await write(round);
    } catch (err) {
      if (round >= RECORD_RETRY_MS.length) throw err;
      await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS[round]));
    }
  }
}
