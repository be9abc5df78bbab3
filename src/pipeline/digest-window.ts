/**
 * How a digest window ends without a send of this run's (skipped, superseded, failed for recipients still without
 * it), and the guards that keep such an ending from landing under a twin run's send (the job's lock lapsed): the
 * window as read, the twins' send marks, and the conditional ledger writes. The digest stage (digest.ts) decides; this
 * module writes the endings.
 */
import { digestKey, digestWindowOf } from '../alerts/digest.js';
import { LedgerChangedError, SendMarkedError, type AttemptOutcome, type Delivery, type LedgerRead } from '../store/deliveries.js';
import type { CarriedDigest } from '../store/digests.js';
import type { DigestDeps, DigestOutcome } from './digest.js';

/** The window's delivery changed (a twin run sent or carried it) since this run read it: ending it now would be wrong. */
export class WindowChanged extends Error {
  constructor(key: string) {
    super(`digest ${key} changed while this run was ending it unsent (a twin run of the job sent it)`);
    this.name = 'WindowChanged';
  }
}

/**
 * A twin run's send of the window may still land (its mark has not run out): ending the window, or dropping its shown
 * message, before that send's outcome is recorded would leave a recipient it deferred without the message for good.
 */
export class SendInFlight extends Error {
  constructor(
    key: string,
    readonly forMs: number,
  ) {
    super(`a send of digest ${key} by a twin run of the job is still in flight`);
    this.name = 'SendInFlight';
  }
}

/** Longest a run waits before looking again at a twin's send in flight: such a send usually lands within seconds. */
export const IN_FLIGHT_POLL_MS = 5_000;

/** How long BullMQ's job lock runs (its default: the workers set none): a twin run exists only once one lapsed. */
const JOB_LOCK_MS = 30_000;

/**
 * How long a send begun now may still land: an email send waits up to 5 minutes (or ten times the send timeout) for a
 * free connection of the channel's pool (notifiers/email.ts), then takes up to the send timeout; its run's lock may
 * have lapsed for up to a lock duration before that.
 */
export function sendMayLandWithinMs(timeoutMs: number): number {
  return Math.max(5 * 60_000, 10 * timeoutMs) + timeoutMs + JOB_LOCK_MS;
}

/** The window as this run read it: an ending write must find it so, or a twin run's send is overwritten. */
export interface WindowRead {
  key: string;
  channelId: string;
  windowEnd: number;
  existing?: Delivery;
  entryAsRead: LedgerRead;
  carried?: CarriedDigest;
  /** A run recorded what it was about to send (DigestStore.plan): one may send it yet, even with no entry written. */
  sendPlanned: boolean;
}

/** Skipping a window: superseded by the later window that sent its alerts, or with every alert it carried expired. */
type SkipReason = { reason: 'superseded'; by: number } | { reason: 'alerts-expired' };

/**
 * Skips a window with nothing left to send, and ends its delivery (if a send of it was tried). Superseded: recorded
 * skipped, naming the later window that sent its alerts (they were delivered, just not under this window). Alerts
 * expired under recipients still without it: recorded failed with the reason, so it stays listed (an operator's retry
 * took it off the failed list) instead of silently never arriving.
 */
export async function skippedFor(deps: DigestDeps, window: WindowRead, skip: SkipReason): Promise<DigestOutcome> {
  const { existing } = window;
  // With no entry yet but a send planned, superseded is written too: a run paused before its send then finds it ended.
  // With no entry but what it carried recorded, a send reached someone whose run died before the ledger write: its
  // alerts expired, it ends failed, listed, since who is without it is not known.
  const reachedUnrecorded = !existing && window.carried !== undefined;
  const ends = existing ? existing.status !== 'delivered' : (window.sendPlanned && skip.reason === 'superseded') || reachedUnrecorded;
  if (!ends) {
    await stillAsRead(deps, window);
    // No entry, no plan: ended in the plan's place, so that a twin run paused before planning sends nothing (see
    // endUnsent). A plan recorded first makes this run decide again.
    if (!existing && !window.sendPlanned && !(await deps.digests.endUnplanned(window.channelId, window.windowEnd))) throw new WindowChanged(window.key);
  } else if (skip.reason === 'superseded') {
    await endWindow(deps, window, { status: 'skipped', response: supersededBy(window.channelId, skip.by) });
  } else {
    // Who is without it: the recipients its entry names as deferring, else, when what it carried is all that says a
    // send reached anyone (its run died before writing who), that some may be.
    const unrecorded = window.carried !== undefined && !Object.values(existing?.recipients ?? {}).includes('accepted');
    const without = (existing ? stillWithout(existing) : '') || (unrecorded ? `; ${REACHED_UNRECORDED}` : '');
    await endWindow(deps, window, { status: 'failed', error: `given up: the alerts it carried have expired${without}`, errorKind: 'permanent' });
  }
  // Only once the entry says the window ended: without one, a send whose mark ran out may still record (at worst a
  // shown message left to expire).
  if (existing || ends) await forgetShown(deps, window.channelId, window.windowEnd);
  return { status: 'skipped', reason: skip.reason };
}

/** "; still without it: <addresses>" for the recipients of an entry that are still deferring it, else nothing. */
function stillWithout(existing: Delivery): string {
  const without = Object.entries(existing.recipients ?? {}).filter(([, status]) => status === 'deferred').map(([address]) => address);
  return without.length > 0 ? `; still without it: ${without.join(', ')}` : '';
}

/**
 * Throws SendInFlight while a twin run's send of the window may still land, else WindowChanged if a twin run moved the
 * window on since this run read it: its entry changed, or what the window carried was recorded (a send reached
 * someone; the carry comes before the ledger write).
 */
export async function stillAsRead(deps: DigestDeps, window: WindowRead): Promise<void> {
  await noSendInFlight(deps, window);
  await unchangedSinceRead(deps, window);
}

/** Throws WindowChanged if the window's entry, or what it carried, changed since this run read them. */
export async function unchangedSinceRead(deps: DigestDeps, window: WindowRead): Promise<void> {
  const carriedNow = window.carried ? window.carried : await deps.digests.carried(window.channelId, window.windowEnd);
  const { entryAsRead } = await deps.deliveries.read(window.key);
  if (carriedNow !== window.carried || entryAsRead.raw !== window.entryAsRead.raw) throw new WindowChanged(window.key);
}

/**
 * Ends the window's entry without a send, only if neither the entry nor what the window carried changed since this
 * run read them (else WindowChanged): a twin run may have sent it meanwhile, leaving a recipient deferred and owed it.
 */
async function endWindow(deps: DigestDeps, window: WindowRead, outcome: Omit<AttemptOutcome, 'at'>): Promise<void> {
  // First: a send's carry and ledger write come before its mark is dropped, so once it is gone they are seen below. A
  // mark set after this look is caught by the write.
  await noSendInFlight(deps, window);
  const carriedNow = window.carried ? window.carried : await deps.digests.carried(window.channelId, window.windowEnd);
  if (carriedNow !== window.carried) throw new WindowChanged(window.key);
  let written: Delivery;
  try {
    // The mark checked again in the write itself: a run that marked its send since the look above then reads the entry
    // again (digestOnce) and sees nothing ended, or this write sees its mark and writes nothing.
    const options = { ifUnchanged: true, unlessSending: window.windowEnd };
    written = await deps.deliveries.recordAttempt(window.key, { channelId: window.channelId }, { ...outcome, at: deps.now() }, window.entryAsRead, options);
  } catch (err) {
    if (err instanceof SendMarkedError) throw new SendInFlight(window.key, err.forMs);
    throw err instanceof LedgerChangedError ? new WindowChanged(window.key) : err;
  }
  // The ledger refused to skip a window some recipients have (see DeliveryStore.recordAttempt).
  if (written.status !== outcome.status) throw new WindowChanged(window.key);
}

/** Throws SendInFlight while a send of the window (by a twin run: this run's own is over) may still land. */
async function noSendInFlight(deps: DigestDeps, window: WindowRead): Promise<void> {
  const forMs = await deps.digests.sendingForMs(window.channelId, window.windowEnd);
  if (forMs > 0) throw new SendInFlight(window.key, forMs);
}

/** What the entry of a window that a send was tried for says when, on a retry, there was nothing left to send. */
export const NOTHING_LEFT =
  'nothing left to send: before a send of it reached anyone, every alert it held was sent on its own or with a later digest, or expired';

/** Why a window ended unsent with what it carried recorded and no ledger entry may still be owed to some recipients. */
const REACHED_UNRECORDED =
  'a send of it reached some recipients before its run died, and who got it was not recorded: some recipients may be without it';

/**
 * Ends without a send the delivery of a window that a send was tried for (pending, or failed and retried by an
 * operator), skipped with the reason, so that it is not left pending until retention. Nobody needs its message, unless
 * some recipients have it: then those still without it never get it, and it ends failed, naming them.
 */
export async function endUnsent(deps: DigestDeps, window: WindowRead, response: string): Promise<void> {
  const { existing } = window;
  if (!existing) {
    if (window.carried) {
      // A send reached someone (what it carried was recorded) and its run died before the ledger write: who has it is
      // not known, so it ends failed for good, listed, not skipped as if nobody had it.
      await endWindow(deps, window, { status: 'failed', error: `given up: ${response}; ${REACHED_UNRECORDED}`, errorKind: 'permanent' });
      await forgetShown(deps, window.channelId, window.windowEnd);
    } else if (window.sendPlanned) {
      // A run got as far as planning a send and wrote nothing yet: ended in the ledger, so that one paused before its
      // send (its lock lapsed) finds the window ended once it marks its send, instead of sending it (see digestOnce).
      await endWindow(deps, window, { status: 'skipped', response });
      await forgetShown(deps, window.channelId, window.windowEnd);
    } else {
      // No entry and no send planned: nothing to write in the ledger (a window with nothing held ends so), but the
      // window is recorded ended in its plan's place. A twin run paused before planning its send then finds it ended
      // and sends nothing, and one that planned first makes this run decide again. A message kept by a run that died
      // is left to expire.
      await stillAsRead(deps, window);
      if (!(await deps.digests.endUnplanned(window.channelId, window.windowEnd))) throw new WindowChanged(window.key);
    }
    return;
  }
  if (existing.status !== 'delivered' && existing.status !== 'skipped') {
    if (Object.values(existing.recipients ?? {}).includes('accepted')) {
      await endWindow(deps, window, { status: 'failed', error: `given up: ${response}${stillWithout(existing)}`, errorKind: 'permanent' });
    } else if (window.carried) {
      // As with no entry: the send that reached someone was not recorded in it.
      await endWindow(deps, window, { status: 'failed', error: `given up: ${response}; ${REACHED_UNRECORDED}`, errorKind: 'permanent' });
    } else {
      await endWindow(deps, window, { status: 'skipped', response });
    }
  }
  await forgetShown(deps, window.channelId, window.windowEnd);
}

/** Drops the window's digest as shown once the window has ended. Best effort: it expires on its own (SHOWN_SECONDS). */
export async function forgetShown(deps: DigestDeps, channelId: string, windowEnd: number): Promise<void> {
  try {
    await deps.digests.forget(channelId, windowEnd);
  } catch (err) {
    deps.log.warn({ err, channelId, windowEnd }, 'could not drop the digest kept for its retries; it expires on its own');
  }
}

/** What a superseded window's entry says: which later digest delivered its alerts. */
function supersededBy(channelId: string, laterWindowEnd: number): string {
  return `superseded: the digest of the window ending ${new Date(laterWindowEnd).toISOString()} (${digestKey(channelId, laterWindowEnd)}) sent the alerts this one held`;
}

/** Failed deliveries looked through for a channel's earlier digests: the newest, a long outage's worth. */
const SUPERSEDE_SCAN = 1_000;

/**
 * This window's digest has carried everything held up to its end: an earlier window of the channel recorded failed
 * whose sends reached nobody (nothing carried) had its alerts sent by this one, so it ends superseded instead of
 * staying listed as a failure until retention. Its job is over; one still retrying finds the same in skippedFor.
 * Best effort: the send is out, so a failure here is logged, not thrown.
 */
export async function supersedeEarlier(deps: DigestDeps, channelId: string, windowEnd: number): Promise<void> {
  try {
    for (const failed of await deps.deliveries.listFailed(SUPERSEDE_SCAN)) {
      const earlier = failed.channelId === channelId ? digestWindowOf(failed.key, channelId) : undefined;
      if (earlier === undefined || earlier >= windowEnd) continue;
      if (Object.values(failed.recipients ?? {}).includes('accepted') || (await deps.digests.carried(channelId, earlier))) continue;
      await deps.deliveries.recordAttempt(failed.key, { channelId }, { status: 'skipped', response: supersededBy(channelId, windowEnd), at: deps.now() });
      await forgetShown(deps, channelId, earlier);
    }
  } catch (err) {
    deps.log.warn({ err, channelId }, 'could not mark the earlier failed digests this one superseded; they stay listed failed');
  }
}
