/**
 * Holds on a host (an origin: scheme, host and port) that a Retry-After set. A 429 or 503 says when the host wants to
 * hear from this client again, not when one URL may be asked again: every source on that host waits, on every worker.
 * The HTTP client checks the hold before each request it sends (each redirect hop too) and sets it from the answer
 * that asked; the store behind it (the source state in Redis) keeps the time on Redis's clock.
 */
export interface HostHolds {
  /** The hold on `origin` a request would break (its skipped polls counted), or null when the request may go. */
  check(origin: string): Promise<{ notBefore: Date; skipped: number } | null>;
  /** Holds every request to `origin` for `waitMs` (the store caps it); a later time already set is kept. */
  hold(origin: string, waitMs: number): Promise<void>;
}

/** A request not sent because its host asked us to wait: the poll is deferred, not failed. */
export class HostHeldError extends Error {
  readonly code = 'CP_HOST_HELD';
  constructor(
    readonly origin: string,
    readonly notBefore: Date,
    /** Polls of this source skipped by this hold so far, this one included. */
    readonly skipped: number,
  ) {
    super(`${origin} asked us to wait (Retry-After) until ${notBefore.toISOString()}; nothing was sent`);
  }
}

/**
 * The hold store failed (Redis) while checking a request: the poll fails with this error, which names the store, and
 * is recorded like any poll that could not reach Redis.
 */
export class HostHoldStoreError extends Error {
  constructor(cause: unknown) {
    super(`could not read or write a host's Retry-After hold: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
