import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMIT_DELAY_MS, MAX_RATE_LIMIT_DELAY_MS, MIN_RATE_LIMIT_DELAY_MS, retryAfterMs } from '../../src/notifiers/retry-after.js';

describe('Retry-After', () => {
  const now = new Date('2024-12-03T05:00:00.000Z');

  it('reads delay-seconds', () => {
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs(['5', '9'], now)).toBe(5_000);
  });

  it('reads an HTTP-date as the time left until then', () => {
    expect(retryAfterMs('Tue, 03 Dec 2024 05:02:00 GMT', now)).toBe(120_000);
  });

  it('waits the default when the header is missing or unreadable', () => {
    expect(retryAfterMs(undefined, now)).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
    expect(retryAfterMs('soon', now)).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
    expect(retryAfterMs('-5', now)).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
  });

  it('never waits less than a second nor more than an hour', () => {
    expect(retryAfterMs('0', now)).toBe(MIN_RATE_LIMIT_DELAY_MS);
    expect(retryAfterMs('Tue, 03 Dec 2024 04:00:00 GMT', now)).toBe(MIN_RATE_LIMIT_DELAY_MS);
    expect(retryAfterMs('86400', now)).toBe(MAX_RATE_LIMIT_DELAY_MS);
  });
});
