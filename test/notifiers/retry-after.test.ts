import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/errors.js';
import { classifyReply } from '../../src/notifiers/http.js';
import { DEFAULT_RATE_LIMIT_DELAY_MS, MAX_RATE_LIMIT_DELAY_MS, MIN_RATE_LIMIT_DELAY_MS, retryAfterMs } from '../../src/notifiers/retry-after.js';
import { cappedBackoff } from '../../src/queue/queues.js';

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

describe('Retry-After on an answer that is retried (503 during maintenance)', () => {
  const target = { channelId: 'hook', label: 'webhook', secrets: [] };
  const answer = (status: number, retryAfter?: string) => {
    try {
      classifyReply(target as never, { status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter }, body: 'down for maintenance' } as never);
    } catch (err) {
      return err as DeliveryError;
    }
    throw new Error('expected the answer to be refused');
  };
  const delivery = { attempts: 20, backoffMs: 5_000, maxBackoffMs: 900_000, maxRateLimitWaits: 50 };

  it('carries the wait the receiver asked for, and none when it asked for none', () => {
    expect(answer(503, '120')).toMatchObject({ kind: 'retryable', delayMs: 120_000 });
    expect(answer(503, '120').message).toContain('will retry in 120 s at the earliest (Retry-After)');
    expect(answer(500, 'later')).toMatchObject({ kind: 'retryable', delayMs: undefined });
    expect(answer(502)).toMatchObject({ kind: 'retryable', delayMs: undefined });
  });

  it('makes the retry wait at least that long, and otherwise backs off as usual', () => {
    const backoff = cappedBackoff(delivery as never);
    expect(backoff(1, 'capped', answer(503, '120'))).toBe(120_000);
    // A Retry-After shorter than the backoff does not shorten it.
    expect(backoff(8, 'capped', answer(503, '1'))).toBeGreaterThanOrEqual(0.8 * 640_000);
    const plain = backoff(1, 'capped', answer(503));
    expect(plain).toBeGreaterThanOrEqual(4_000);
    expect(plain).toBeLessThanOrEqual(5_000);
    // A 429's wait is the rate-limit path's business, not the backoff's.
    expect(backoff(1, 'capped', DeliveryError.rateLimited('hook', 120_000, 'slow down'))).toBeLessThanOrEqual(5_000);
  });
});
