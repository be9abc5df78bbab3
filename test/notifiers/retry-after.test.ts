import { afterEach, describe, expect, it } from 'vitest';
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

  it('reads the three HTTP-date forms of RFC 9110 (IMF-fixdate, RFC 850, asctime) as GMT', () => {
    expect(retryAfterMs('Tue, 03 Dec 2024 05:02:00 GMT', now)).toBe(120_000);
    expect(retryAfterMs('Tuesday, 03-Dec-24 05:02:00 GMT', now)).toBe(120_000);
    expect(retryAfterMs('Tue Dec  3 05:02:00 2024', now)).toBe(120_000);
  });

  describe('on a server whose time zone is not UTC', () => {
    const tz = process.env.TZ;
    afterEach(() => {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    });

    it('still reads an asctime date (which names no zone) as GMT', () => {
      process.env.TZ = 'America/New_York';
      expect(new Date(0).getTimezoneOffset()).not.toBe(0); // Node applies a TZ set at run time
      expect(retryAfterMs('Tue Dec  3 05:02:00 2024', now)).toBe(120_000);
    });
  });

  it('waits the default for text that only looks like a date', () => {
    for (const junk of ['abc 2030', 'Tue, 03 Dec 2024 05:02:00 PST', '2024-12-03T05:02:00Z', 'Dec 3 2024', 'Tue, 31 Feb 2024 05:02:00 GMT', '1.5', '+30']) {
      expect(retryAfterMs(junk, now)).toBe(DEFAULT_RATE_LIMIT_DELAY_MS);
    }
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
