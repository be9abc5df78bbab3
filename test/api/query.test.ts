import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { timeParam } from '../../src/api/query.js';

describe('times in query strings', () => {
  const zone = process.env.TZ;
  beforeEach(() => {
    // Node applies a new TZ at once; a server in India must read the same URL as one in UTC.
    process.env.TZ = 'Asia/Kolkata';
  });
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  it('reads an ISO date-time without an offset as UTC, whatever the server\'s time zone', () => {
    expect(new Date(Date.UTC(2025, 9, 6, 8)).getHours()).toBe(13); // the zone is in effect: 08:00Z is 13:30 there
    expect(timeParam.parse('2025-10-06T08:00')).toBe(Date.UTC(2025, 9, 6, 8, 0));
    expect(timeParam.parse('2025-10-06T08:00:30')).toBe(Date.UTC(2025, 9, 6, 8, 0, 30));
    expect(timeParam.parse('2025-10-06T08:00:30.250')).toBe(Date.UTC(2025, 9, 6, 8, 0, 30, 250));
    expect(timeParam.parse('2025-10-06 08:00')).toBe(Date.UTC(2025, 9, 6, 8, 0));
  });

  it('keeps an explicit offset or Z, a bare date (UTC midnight) and milliseconds as they are', () => {
    expect(timeParam.parse('2025-10-06T08:00:00Z')).toBe(Date.UTC(2025, 9, 6, 8));
    expect(timeParam.parse('2025-10-06T08:00+02:00')).toBe(Date.UTC(2025, 9, 6, 6));
    expect(timeParam.parse('2025-10-06')).toBe(Date.UTC(2025, 9, 6));
    expect(timeParam.parse('1759737600000')).toBe(1759737600000);
    expect(timeParam.safeParse('2025-10-06T25:00').success).toBe(false);
  });
});
