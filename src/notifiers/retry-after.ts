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
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  let ms: number | undefined;
  if (value && /^\d+$/.test(value)) ms = Number(value) * 1000;
  // An HTTP-date names a weekday and month; Date.parse alone would also accept "-5" as a year.
  else if (value && /[a-z]{3}/i.test(value)) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) ms = at - now.getTime();
  }
  if (ms === undefined || !Number.isFinite(ms)) return DEFAULT_RATE_LIMIT_DELAY_MS;
  return Math.min(MAX_RATE_LIMIT_DELAY_MS, Math.max(MIN_RATE_LIMIT_DELAY_MS, ms));
}
