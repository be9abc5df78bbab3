import { randomUUID } from 'node:crypto';
import { buildDigest, digestKey } from '../alerts/digest.js';
import type { Digest } from '../alerts/types.js';
import { type ChannelConfig, digestSchema } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { DigestJob } from '../queue/names.js';
import type { AlertStore } from '../store/alerts.js';
import type { DeliveryStore } from '../store/deliveries.js';
import { DeliveryError } from '../errors.js';
import { ENDED_UNPLANNED, type CarriedDigest, type DigestStore, type HeldAlert } from '../store/digests.js';
import type { NotifierEntry } from '../notifiers/registry.js';
import type { DeliveryReceipt } from '../notifiers/types.js';
import { awaitTurn, recordFailedSend, recordSent, writeAfterSend } from './deliver.js';
import {
  IN_FLIGHT_POLL_MS,
  NOTHING_LEFT,
  SendInFlight,
  WindowChanged,
  type WindowRead,
  endUnsent,
  forgetShown,
  sendMayLandWithinMs,
  skippedFor,
  stillAsRead,
  supersedeEarlier,
  unchangedSinceRead,
} from './digest-window.js';
import type { ConfigState } from './runtime.js';

export type DigestOutcome =
  | { status: 'delivered'; alerts: number; response: string }
  | { status: 'already-delivered' }
  | { status: 'empty' }
  /**
   * superseded: nothing of its own to send, a later window's digest took what it held (no send of it had reached
   * anyone; its ledger entry ends skipped, naming that window); alerts-expired: every alert it carried is gone, so its
   * remaining recipients cannot be sent it; ended: its ledger entry had already ended skipped, or a run had found
   * nothing to send in it before any send of it was planned.
   */
  | { status: 'skipped'; reason: 'unknown-channel' | 'no-digest' | 'superseded' | 'alerts-expired' | 'ended' }
  | { status: 'wait'; untilMs: number }
  | { status: 'paced'; waitMs: number; first: boolean };

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
 * windows do not repeat it. Once some recipients have the window's digest, its later sends show them the same message
 * (DigestStore.show, kept for days, not as long as the ledger), not the alerts' later versions; a send that nobody has
 * had yet shows what the window holds now. A digest that reached nobody leaves its alerts held for the next one, whose
 * send ends this one's delivery as superseded. Throws DeliveryError for the job layer, like the notify stage.
 */
export async function digestStage(job: DigestJob, deps: DigestDeps): Promise<DigestOutcome> {
  for (let round = 1; ; round++) {
    try {
      return await digestOnce(job, deps);
    } catch (err) {
      if (err instanceof SendInFlight) {
        // Without using an attempt: the job must outlive the twin's send to see what it did.
        deps.log.info({ deliveryKey: digestKey(job.channelId, job.windowEnd), channelId: job.channelId }, `${err.message}; deciding once it is recorded`);
        return { status: 'wait', untilMs: deps.now().getTime() + Math.min(err.forMs, IN_FLIGHT_POLL_MS) };
      }
      if (!(err instanceof WindowChanged)) throw err;
      // A twin run (the job's lock lapsed) moved the window on while this one was deciding to end it: decide again
      // from what it did. Twins settle in a round or two; past that the job's retry decides, later.
      if (round >= MAX_DECISIONS) throw DeliveryError.retryable(job.channelId, `${err.message}; will decide again on the retry`);
    }
  }
}

/** Runs of the stage's decision in one job run when a twin run keeps changing the window under it. */
const MAX_DECISIONS = 3;

/** The digest settings a closing digest is sent with: the defaults (its schedule is never used). */
const CLOSING_DIGEST = digestSchema.parse({ schedule: '0 0 * * *' });


async function digestOnce(job: DigestJob, deps: DigestDeps): Promise<DigestOutcome> {
  const { channelId, windowEnd } = job;
  const key = digestKey(channelId, windowEnd);
  const configured = deps.state.notifiers.get(channelId);
  // Unpaced now (a reload took the pace out, and may have woken this run): a slot still held from the pace is given up
  // first, so that whatever this run ends in (a 429 block's wait, a retry's backoff after a failure) holds none, and the
  // reload's second pass does not wake it again.
  if (configured && !configured.rateLimit) await deps.deliveries.giveUpSlot(key, channelId);
  const { existing, entryAsRead } = await deps.deliveries.read(key);
  // A closing digest is sent as the channel's digest would have been: with its settings where this worker's config has
  // the digest (back in it, or not yet reloaded), else with their defaults.
  const entry = configured && !configured.channel.digest && job.closing ? { ...configured, channel: { ...configured.channel, digest: CLOSING_DIGEST } } : configured;
  if (!entry?.channel.digest) {
    const reason = entry ? 'no-digest' : 'unknown-channel';
    const why = entry ? 'the channel no longer sends digests' : 'the channel is no longer configured';
    const carried = await deps.digests.carried(channelId, windowEnd);
    const plan = await deps.digests.planned(channelId, windowEnd);
    const sendPlanned = plan !== undefined && plan !== ENDED_UNPLANNED;
    await endUnsent(deps, { key, channelId, windowEnd, existing, entryAsRead, carried, sendPlanned }, `not sent: ${why}`);
    return { status: 'skipped', reason };
  }

  // Ended without a send (superseded by a later window, nothing left to send): there is nothing to do.
  if (existing?.status === 'skipped') return { status: 'skipped', reason: 'ended' };
  const carried = await deps.digests.carried(channelId, windowEnd);
  // What the window's first send was about to send, if a run got as far as sending.
  const plan = await deps.digests.planned(channelId, windowEnd);
  if (plan === ENDED_UNPLANNED) return endedUnplanned(deps, { key, channelId, windowEnd, existing, entryAsRead, carried, sendPlanned: false });
  const planned: CarriedDigest | undefined = plan;
  const window: WindowRead = { key, channelId, windowEnd, existing, entryAsRead, carried, sendPlanned: planned !== undefined };
  if (existing?.status === 'delivered') {
    // Delivered, but what it carried was not recorded (that write failed): carry what was sent now, or the next digest
    // repeats it. Only what was sent: an alert held since waits for the next digest.
    if (!carried) await deps.digests.carry(channelId, windowEnd, entriesOf(planned ?? (await heldNow(deps, channelId, windowEnd))));
    await forgetShown(deps, channelId, windowEnd);
    return { status: 'already-delivered' };
  }
  const reached = Object.values(existing?.recipients ?? {}).includes('accepted');
  if (!carried && !planned && reached) {
    // Someone has it but its record is gone (expired before the ledger entry): rebuilding would send others another digest.
    return skippedFor(deps, window, { reason: 'alerts-expired' });
  }
  let contents = carried;
  if (!contents) {
    const now = await heldNow(deps, channelId, windowEnd, job.closing);
    // Superseded only if nobody has it: a recipient still deferring it is owed the message the others got.
    if (!reached && now.held.length === 0 && now.last !== undefined && now.last > windowEnd) {
      return skippedFor(deps, window, { reason: 'superseded', by: now.last });
    }
    // Some have it (what it carried was not recorded): the rest get that same digest, even what a later digest took.
    // Otherwise a retry sends what the first send was about to, less what a later digest has taken meanwhile.
    const stillHeld = new Set(now.held.map((h) => `${h.alertId} ${h.heldAt}`));
    const notTaken = (h: HeldAlert) => stillHeld.has(`${h.alertId} ${h.heldAt}`);
    if (!planned) contents = entriesOf(now);
    else contents = reached ? entriesOf(planned) : { windowStart: planned.windowStart, held: planned.held.filter(notTaken) };
  }

  // Some recipients have the window's digest: the rest get that same message while it is kept. Nobody has it: this
  // send shows what the window holds now (the first attempt's message may list alerts that have left the window since,
  // and only count the ones still in it).
  const haveIt = carried !== undefined || reached;
  const shown = haveIt ? await deps.digests.shown(channelId, windowEnd) : undefined;
  if (haveIt && !shown) {
    deps.log.info(
      { deliveryKey: key, channelId },
      'the digest as first sent is no longer kept (or an older version did not keep it): the recipients still without it get it rebuilt from the alerts as stored now',
    );
  }
  let digest = await digestOf(deps, entry.channel, windowEnd, contents, shown);
  if (digest.alerts.length === 0) {
    // Sent to some with alerts: an empty digest under its Message-ID would tell the rest there was nothing.
    if (contents.held.length > 0 && haveIt) return skippedFor(deps, window, { reason: 'alerts-expired' });
    if (!entry.channel.digest.sendEmpty) {
      // Nothing to send as this run read the window; a twin run may have sent it since (carrying what it held).
      await stillAsRead(deps, window);
      // Ended first: a twin run that planned a send meanwhile refuses the ending, and this run decides again.
      await endUnsent(deps, window, NOTHING_LEFT);
      if (!carried) {
        await deps.digests.clear(channelId, contents.held);
        await deps.digests.setLastWindowEnd(channelId, windowEnd);
      }
      return { status: 'empty' };
    }
  }

  // A digest takes its turn in the channel's pace like any notification.
  // The block as this worker's clock sees it: what is left of it on Redis's clock, from this worker's now.
  const now = deps.now();
  const blockedUntil = entry.rateLimit ? 0 : now.getTime() + (await deps.deliveries.blockedForMs(channelId));
  const paced = await awaitTurn(deps.deliveries, channelId, key, entry.rateLimit, blockedUntil, now);
  if (paced) return paced;

  if (!carried && !planned) {
    // Recorded before the first send: a retry after a send whose carry failed sends and carries exactly these entries.
    const recorded = await deps.digests.plan(channelId, windowEnd, contents);
    // A twin run (the job's lock lapsed) found nothing left and completed the job: a send now would never be retried.
    if (recorded === ENDED_UNPLANNED) throw new WindowChanged(key);
    // A twin run's plan may have been recorded first: this run sends what that one was about to.
    if (!sameEntries(recorded.held, contents.held)) {
      contents = entriesOf(recorded);
      digest = await digestOf(deps, entry.channel, windowEnd, contents, undefined);
      // Nothing of that plan left to show: decide again from it, as a run that read it would (it ends the window).
      if (digest.alerts.length === 0 && !entry.channel.digest.sendEmpty) throw new WindowChanged(key);
    }
  }
  // Before the send: a worker killed once it is out must not leave recipients with a message nobody kept.
  if (!haveIt) await deps.digests.show(channelId, windowEnd, digest);
  // Until its outcome is recorded, a twin run that finds nothing left waits instead of ending the window (SendInFlight).
  const token = randomUUID();
  await deps.digests.markSending(channelId, windowEnd, token, sendMayLandWithinMs(deps.state.config.settings.http.timeoutMs));
  try {
    // Marked first, then looked at again: a twin that ended or sent the window before seeing the mark is seen here, and
    // this run decides again rather than sending over it.
    await unchangedSinceRead(deps, window);
    return await sendAndRecord(deps, window, entry, contents, digest, haveIt);
  } finally {
    await unmarkSending(deps, window, token);
  }
}

/**
 * A run found nothing to send in the window before any run planned a send of it: the window is over, and what is held
 * goes with the next one. Repeats what that run may not have got to after its ending (it died, or the write failed):
 * moving lastWindowEnd up, and ending an entry (its job given up on that failure, then retried by an operator).
 */
async function endedUnplanned(deps: DigestDeps, window: WindowRead): Promise<DigestOutcome> {
  await deps.digests.setLastWindowEnd(window.channelId, window.windowEnd);
  if (!window.existing) return { status: 'skipped', reason: 'ended' };
  await endUnsent(deps, window, NOTHING_LEFT);
  return { status: 'empty' };
}

/** Sends the window's digest and records what the send achieved: carried, then the ledger. */
async function sendAndRecord(deps: DigestDeps, window: WindowRead, entry: NotifierEntry, contents: CarriedDigest, digest: Digest, haveIt: boolean): Promise<DigestOutcome> {
  const { key, channelId, windowEnd, existing, carried } = window;
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
    const error = await recordFailedSend(deps, key, base, err, undefined, entry.rateLimit);
    // Failed for good: no retry of the job sends it. Kept (it expires) when some recipients have it, as for a retryable
    // one the job gives up: an operator's retry shows the rest that same message.
    const someHaveIt = haveIt || Object.values(error.recipients ?? {}).includes('accepted');
    if (error.kind === 'permanent' && !someHaveIt) await forgetShown(deps, channelId, windowEnd);
    throw error;
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
    if (carryFailed === undefined) await supersedeEarlier(deps, channelId, windowEnd);
  }
  // Throws (retryable) while some recipients are still deferred: the retry sends what was carried to them.
  const recorded = await recordSent(deps, key, base, receipt);
  await forgetShown(deps, channelId, windowEnd);
  if (carryFailed !== undefined) {
    // Recorded: the job's retry finds the ledger entry and only carries. Not recorded: a retry would send the digest
    // again, so the held alerts are left for the next digest instead.
    if (recorded) throw carryFailed;
    deps.log.error({ deliveryKey: key, channelId }, 'digest delivered but its held alerts could not be cleared; the next digest repeats them');
  }
  return { status: 'delivered', alerts: digest.alerts.length, response: receipt.response };
}

/** Drops this run's send mark. Best effort: it expires on its own, meanwhile a twin that finds nothing left waits. */
async function unmarkSending(deps: DigestDeps, window: WindowRead, token: string): Promise<void> {
  try {
    await deps.digests.unmarkSending(window.channelId, window.windowEnd, token);
  } catch (err) {
    deps.log.warn({ err, deliveryKey: window.key, channelId: window.channelId }, 'could not drop the mark of the digest send; it expires on its own');
  }
}

/**
 * The window's digest: as `shown` (its alerts as they were when some recipients got it), less an alert no longer
 * stored (past retention, it goes for every digest); else built from the alerts of `contents` as stored now. Also
 * built when every alert `shown` listed is gone but some it only counted are still stored: they are all it can show.
 */
async function digestOf(deps: DigestDeps, channel: ChannelConfig, windowEnd: number, contents: CarriedDigest, shown: Digest | undefined): Promise<Digest> {
  const stored = await deps.alerts.getMany(contents.held.map((h) => h.alertId));
  if (shown) {
    const kept = new Set(stored.map((a) => a.id));
    const alerts = shown.alerts.filter((a) => kept.has(a.id));
    if (alerts.length > 0 || stored.length === 0) return alerts.length === shown.alerts.length ? shown : { ...shown, alerts };
  }
  return buildDigest({ channel, windowStart: contents.windowStart, windowEnd, alerts: stored });
}

/** The held entries of a plan, a carried record or the holding, without what else comes with them. */
function entriesOf(contents: CarriedDigest): CarriedDigest {
  return { windowStart: contents.windowStart, held: contents.held };
}

function sameEntries(a: readonly HeldAlert[], b: readonly HeldAlert[]): boolean {
  return a.length === b.length && a.every((h, i) => h.alertId === b[i]!.alertId && h.heldAt === b[i]!.heldAt);
}


/** A send reached someone: any send without per-recipient answers that did not fail, else one with a recipient that accepted. */
function reachedAnyone(receipt: DeliveryReceipt): boolean {
  return !receipt.recipients || Object.values(receipt.recipients).includes('accepted');
}

/**
 * What the window's digest would carry now: the alerts held up to its end, from the end of the last window sent
 * (`last`; a later window than this one when it superseded it).
 */
async function heldNow(deps: DigestDeps, channelId: string, windowEnd: number, closing?: boolean): Promise<CarriedDigest & { last?: number }> {
  // A closing digest takes everything held, however late: no later window of the channel will.
  const held = await deps.digests.pending(channelId, closing ? Number.MAX_SAFE_INTEGER : windowEnd);
  const last = await deps.digests.lastWindowEnd(channelId);
  const windowStart = last !== undefined && last < windowEnd ? last : Math.min(windowEnd - FIRST_WINDOW_MS, ...held.map((h) => h.heldAt));
  return { windowStart, held, last };
}
