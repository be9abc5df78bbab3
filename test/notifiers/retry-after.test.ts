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

  it("measures an HTTP-date from the answer's Date header (the receiver's clock) when it has one", () => {
    // The receiver's clock is an hour behind ours: its date an hour in our past still means two minutes.
    expect(retryAfterMs('Tue, 03 Dec 2024 04:02:00 GMT', now, 'Tue, 03 Dec 2024 04:00:00 GMT')).toBe(120_000);
    // Our clock an hour behind the receiver's: not an hour and two minutes.
    expect(retryAfterMs('Tue, 03 Dec 2024 06:02:00 GMT', now, ['Tue, 03 Dec 2024 06:00:00 GMT'])).toBe(120_000);
    // An unreadable Date falls back to our clock; delay-seconds need neither.
    expect(retryAfterMs('Tue, 03 Dec 2024 05:02:00 GMT', now, 'yesterday')).toBe(120_000);
    expect(retryAfterMs('30', now, 'Tue, 03 Dec 2024 01:00:00 GMT')).toBe(30_000);
  });

  it('reads the Date header of a 429 that a notifier classifies', () => {
    const target = { channelId: 'hook', label: 'webhook', url: 'http://127.0.0.1/x', secrets: [] };
    const headers = { date: 'Tue, 03 Dec 2024 04:00:00 GMT', 'retry-after': 'Tue, 03 Dec 2024 04:00:45 GMT' };
    let err: DeliveryError | undefined;
    try {
      classifyReply(target, { status: 429, headers, body: '' });
    } catch (e) {
      err = e as DeliveryError;
    }
    expect(err).toMatchObject({ kind: 'rate-limited', delayMs: 45_000 });
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
    // What the receiver asked for, not what we will do: whether there is a retry is the caller's to say.
    expect(answer(503, '120').message).toBe('channel "hook": webhook answered HTTP 503, Retry-After 120 s: down for maintenance');
    expect(answer(429, '7').message).toBe('channel "hook": webhook rate-limited us (HTTP 429, Retry-After 7 s)');
    expect(answer(429)).toMatchObject({ kind: 'rate-limited', delayMs: DEFAULT_RATE_LIMIT_DELAY_MS, message: 'channel "hook": webhook rate-limited us (HTTP 429)' });
    expect(answer(500).message).not.toMatch(/retry/i);
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

