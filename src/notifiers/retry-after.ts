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

/**
 * Milliseconds to wait from a Retry-After header (RFC 9110: delay-seconds or an HTTP-date), clamped to
 * [MIN, MAX]; the default when the header is absent or unreadable.
 */
export function retryAfterMs(header: string | string[] | undefined, now: Date = new Date()): number {
  return statedRetryAfterMs(header, now) ?? DEFAULT_RATE_LIMIT_DELAY_MS;
}

/**
 * The wait a Retry-After header states, clamped to [MIN, MAX]; undefined when the header is absent or unreadable (a
 * 503 without one is retried on the usual backoff).
 */
export function statedRetryAfterMs(header: string | string[] | undefined, now: Date = new Date()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  let ms: number | undefined;
  if (value && /^\d+$/.test(value)) ms = Number(value) * 1000;
  else if (value) {
    const at = parseHttpDate(value, now);
    if (at !== undefined) ms = at - now.getTime();
  }
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RATE_LIMIT_DELAY_MS, Math.max(MIN_RATE_LIMIT_DELAY_MS, ms));
}
