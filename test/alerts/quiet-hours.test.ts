import { describe, expect, it } from 'vitest';
import { quietHoursAt, wallTime, zonedTime } from '../../src/alerts/quiet-hours.js';
import { finishDispatch, planChannel } from '../../src/alerts/routing.js';
import { channelSchema } from '../../src/config/schema.js';

const berlin = { start: '22:00', end: '07:00', timezone: 'Europe/Berlin' };
const t = (iso: string) => Date.parse(iso);

describe('quiet hours in a time zone', () => {
  it('are quiet late in the evening and end at 07:00 local the next morning', () => {
    // 21:30 UTC = 23:30 in Berlin (summer time, UTC+2).
    expect(quietHoursAt(t('2025-07-01T21:30:00Z'), berlin)).toEqual({ quiet: true, endsAt: t('2025-07-02T05:00:00Z') });
  });

  it('are quiet after midnight and end the same morning', () => {
    expect(quietHoursAt(t('2025-01-15T02:00:00Z'), berlin)).toEqual({ quiet: true, endsAt: t('2025-01-15T06:00:00Z') });
  });

  it('are not quiet during the day', () => {
    expect(quietHoursAt(t('2025-01-15T12:00:00Z'), berlin)).toEqual({ quiet: false });
    expect(quietHoursAt(t('2025-01-15T06:00:00Z'), berlin)).toEqual({ quiet: false }); // 07:00 sharp: over
  });

  it('end at 07:00 local on the night the clocks go back', () => {
    // 2025-10-26: Berlin returns from UTC+2 to UTC+1 at 03:00; 07:00 local is 06:00 UTC.
    expect(quietHoursAt(t('2025-10-25T21:00:00Z'), berlin)).toEqual({ quiet: true, endsAt: t('2025-10-26T06:00:00Z') });
  });

  it('end at the second 02:30 when the clock reads 02:10 for the second time on the night the clocks go back', () => {
    // 2024-10-27: Berlin goes from 03:00 CEST back to 02:00 CET (01:00 UTC), so 02:00-03:00 happens twice.
    const night = { start: '00:00', end: '02:30', timezone: 'Europe/Berlin' };
    expect(quietHoursAt(t('2024-10-27T00:10:00Z'), night)).toEqual({ quiet: true, endsAt: t('2024-10-27T00:30:00Z') }); // 02:10 CEST
    expect(quietHoursAt(t('2024-10-27T01:10:00Z'), night)).toEqual({ quiet: true, endsAt: t('2024-10-27T01:30:00Z') }); // 02:10 CET
  });

  it('handle a same-day window in a zone west of Greenwich', () => {
    const lunch = { start: '12:00', end: '13:30', timezone: 'America/New_York' };
    expect(quietHoursAt(t('2025-03-10T16:15:00Z'), lunch)).toEqual({ quiet: true, endsAt: t('2025-03-10T17:30:00Z') });
  });

  it('resolve a wall time inside the spring gap to after the gap', () => {
    // 2025-03-30 02:30 does not exist in Berlin; the clock jumps from 02:00 to 03:00 (01:00 UTC).
    const at = zonedTime({ year: 2025, month: 3, day: 30, hour: 2, minute: 30 }, 'Europe/Berlin');
    expect(wallTime(at, 'Europe/Berlin')).toMatchObject({ hour: 3, minute: 30 });
  });
});

describe('per-channel plan', () => {
  const channel = channelSchema.parse({
    id: 'procurement',
    kind: 'webhook',
    url: 'https://example.org/hook',
    quietHours: berlin,
    throttle: { maxPerHour: 5 },
    digest: { schedule: '0 8 * * *', timezone: 'Europe/Berlin', immediateLevel: 'medium' },
  });
  const night = t('2025-07-01T21:30:00Z');
  const day = t('2025-07-01T10:00:00Z');

  it('holds alerts below the immediate level for the digest, day or night', () => {
    expect(planChannel({ level: 'low' }, channel, day)).toEqual({ kind: 'digest', why: 'below-immediate-level' });
  });

  it('defers alerts in quiet hours to their end, and lets critical ones through at once', () => {
    expect(planChannel({ level: 'high' }, channel, night)).toEqual({ kind: 'send', at: t('2025-07-02T05:00:00Z'), why: 'quiet-hours', throttle: 'count' });
    expect(planChannel({ level: 'critical' }, channel, night)).toEqual({ kind: 'send', at: night, why: 'critical', throttle: 'force' });
  });

  it('sends quiet-hours alerts to the digest when so configured', () => {
    const toDigest = channelSchema.parse({ ...channel, quietHours: { ...berlin, defer: 'digest' } });
    expect(planChannel({ level: 'high' }, toDigest, night)).toEqual({ kind: 'digest', why: 'quiet-hours-digest' });
  });

  it('falls back to the end of quiet hours when they should defer to a digest the channel does not have', () => {
    const noDigest = channelSchema.parse({ ...channel, digest: undefined, quietHours: { ...berlin, defer: 'digest' } });
    expect(planChannel({ level: 'low' }, noDigest, night)).toMatchObject({ kind: 'send', why: 'quiet-hours' });
  });

  it('turns a spent throttle into the digest, and a later slot into a deferred send', () => {
    const plan = planChannel({ level: 'high' }, channel, day);
    expect(finishDispatch(plan, null, 'procurement', 1, day)).toMatchObject({ mode: 'digest', why: 'throttled' });
    expect(finishDispatch(plan, day + 600_000, 'procurement', 1, day)).toMatchObject({ mode: 'deferred', why: 'throttled-delayed', sendAt: day + 600_000 });
    expect(finishDispatch(plan, day, 'procurement', 1, day)).toMatchObject({ mode: 'immediate', why: 'immediate', sendAt: day });
  });

  it('refuses quiet hours that start when they end', () => {
    expect(() => channelSchema.parse({ ...channel, quietHours: { start: '07:00', end: '07:00' } })).toThrow(/must differ/);
  });
});
