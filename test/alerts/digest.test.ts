import { describe, expect, it } from 'vitest';
import { buildDigest, digestKey, digestWindowOf } from '../../src/alerts/digest.js';
import { wallTime } from '../../src/alerts/quiet-hours.js';
import { channelSchema } from '../../src/config/schema.js';
import { isDigestTime, nextDigestTimes } from '../../src/queue/digest-schedule.js';
import { makeAlert } from './fixtures.js';

const channel = channelSchema.parse({
  id: 'buyers',
  kind: 'webhook',
  url: 'https://example.org/hook',
  digest: { schedule: '0 8 * * 1-5', timezone: 'Europe/Berlin', maxAlerts: 4 },
});

describe('digest content', () => {
  const alerts = [
    makeAlert({ id: 'm1', watchlistId: 'magnets', watchlistName: 'Magnets', level: 'low', score: 30 }),
    makeAlert({ id: 's1', watchlistId: 'semis', watchlistName: 'Chips', level: 'medium', score: 55 }),
    makeAlert({ id: 'm2', watchlistId: 'magnets', watchlistName: 'Magnets', level: 'medium', score: 40 }),
    makeAlert({ id: 'm3', watchlistId: 'magnets', watchlistName: 'Magnets', level: 'medium', score: 60 }),
    makeAlert({ id: 's2', watchlistId: 'semis', watchlistName: 'Chips', level: 'info', score: 10 }),
  ];
  const windowStart = Date.parse('2025-07-01T06:00:00Z');
  const windowEnd = Date.parse('2025-07-02T06:00:00Z');

  it('groups alerts by watchlist and orders them by level, then score, with their links', () => {
    const digest = buildDigest({ channel: channelSchema.parse({ ...channel, digest: { ...channel.digest, maxAlerts: 10 } }), windowStart, windowEnd, alerts });
    expect(digest.alerts.map((a) => a.id)).toEqual(['s1', 's2', 'm3', 'm2', 'm1']); // "Chips" sorts before "Magnets"
    expect(digest.alerts.every((a) => a.url?.startsWith('https://'))).toBe(true);
    expect(digest).toMatchObject({ channelId: 'buyers', windowStart: '2025-07-01T06:00:00.000Z', windowEnd: '2025-07-02T06:00:00.000Z', timezone: 'Europe/Berlin' });
    expect(digest.omitted).toBeUndefined();
  });

  it('keeps the most severe alerts when there are more than it may list, and counts the rest', () => {
    const digest = buildDigest({ channel, windowStart, windowEnd, alerts });
    expect(digest.alerts.map((a) => a.id)).toEqual(['s1', 'm3', 'm2', 'm1']);
    expect(digest.omitted).toBe(1);
  });
});

describe('digest schedule in a non-UTC time zone', () => {
  it('fires at 08:00 Berlin time on weekdays, which is 06:00 UTC in summer and 07:00 UTC in winter', () => {
    expect(isDigestTime(channel, new Date('2025-07-01T06:00:00Z'))).toBe(true); // Tuesday, CEST
    expect(isDigestTime(channel, new Date('2025-07-01T08:00:00Z'))).toBe(false);
    expect(isDigestTime(channel, new Date('2025-12-02T07:00:00Z'))).toBe(true); // Tuesday, CET
    expect(isDigestTime(channel, new Date('2025-07-05T06:00:00Z'))).toBe(false); // Saturday
  });

  it('lists the next digest times as 08:00 local on weekdays', () => {
    const times = nextDigestTimes(channel, 6);
    expect(times).toHaveLength(6);
    for (const time of times) {
      const local = wallTime(time.getTime(), 'Europe/Berlin');
      expect([local.hour, local.minute]).toEqual([8, 0]);
      const weekday = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Berlin', weekday: 'short' }).format(time);
      expect(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']).toContain(weekday);
    }
  });
});

describe('digest ledger keys', () => {
  it("reads a window's end back from its key, and only from the channel's own digests", () => {
    expect(digestWindowOf(digestKey('mail', 1767254400000), 'mail')).toBe(1767254400000);
    // Another channel whose id starts with this one's, and an alert delivery, are not this channel's digests.
    expect(digestWindowOf(digestKey('mail-eu', 1767254400000), 'mail')).toBeUndefined();
    expect(digestWindowOf('a1b2-3-mail', 'mail')).toBeUndefined();
  });
});
