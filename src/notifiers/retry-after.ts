import { parseHttpDate } from '../http-date.js';

export { parseHttpDate };

/** Wait used when a receiver answers 429 without a usable Retry-After (Slack documents none as optional). */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 30_000;
/**
 * Longest wait we honour: a rate-limited delivery burns no attempt, so an absurd Retry-After would park the channel
 * for days; an hour is longer than any platform documents.
 */
export const MAX_RATE_LIMIT_DELAY_MS = 60 * 60_000;
/** Shortest wait: "Retry-After: 0" must not turn into a tight retry loop. */
export const MIN_RATE_LIMIT_DELAY_MS = 1_000;

type Header = string | string[] | undefined;

/**
 * Milliseconds to wait from a Retry-After header (RFC 9110: delay-seconds or an HTTP-date), clamped to
 * [MIN, MAX]; the default when the header is absent or unreadable. See statedRetryAfterMs for `answeredAt`.
 */
export function retryAfterMs(header: Header, now: Date = new Date(), answeredAt?: Header): number {
  return statedRetryAfterMs(header, now, answeredAt) ?? DEFAULT_RATE_LIMIT_DELAY_MS;
}

/**
 * The wait a Retry-After header states, clamped to [MIN, MAX]; undefined when the header is absent or unreadable (a
 * 503 without one is retried on the usual backoff).
 *
 * An HTTP-date becomes a wait once, here, where the answer arrived; from then on only the wait travels (the channel's
 * block is set from it on Redis's clock). The date is on the receiver's clock, so the wait is measured from the
 * answer's own Date header (`answeredAt`, the receiver's clock when it answered) when readable: neither this worker's
 * clock nor the receiver's being off then changes it. Without one, from this worker's `now`.
 */
export function statedRetryAfterMs(header: Header, now: Date = new Date(), answeredAt?: Header): number | undefined {
  const value = firstOf(header);
  let ms: number | undefined;
  if (value && /^\d+$/.test(value)) ms = Number(value) * 1000;
  else if (value) {
    const at = parseHttpDate(value, now);
    const date = firstOf(answeredAt);
    // Date has whole seconds, truncated: measured from it, the wait can only come out longer, never too short.
    const answered = date ? parseHttpDate(date, now) : undefined;
    if (at !== undefined) ms = at - (answered ?? now.getTime());
  }
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RATE_LIMIT_DELAY_MS, Math.max(MIN_RATE_LIMIT_DELAY_MS, ms));
}

const firstOf = (header: Header) => (Array.isArray(header) ? header[0] : header)?.trim();
