import { describe, expect, it } from 'vitest';
import { applyAssessment, versionProducedBy } from '../../src/alerts/lifecycle.js';
import type { Alert } from '../../src/alerts/types.js';
import { watchlistSchema } from '../../src/config/schema.js';
import type { Level } from '../../src/scoring/types.js';
import { makeAssessment, makeItem } from './fixtures.js';

const watchlist = watchlistSchema.parse({ id: 'magnets', name: 'Magnets', minLevel: 'low' });
const NOW = new Date('2025-10-06T12:00:00Z');

function fold(previous: Alert | undefined, sourceId: string, level: Level, options: { direction?: 'escalation' | 'de-escalation'; publishedAt?: string; milestones?: number[] } = {}) {
  const item = makeItem({ sourceId, title: `${sourceId}: samarium export ban`, publishedAt: options.publishedAt ?? '2025-10-06T08:00:00.000Z' });
  return { item, decision: applyAssessment({ previous, assessment: makeAssessment(item, 'magnets', level, { direction: options.direction }), item, storyId: 'story-1', watchlist, milestones: options.milestones ?? [3], now: NOW }) };
}

describe('the alert lifecycle', () => {
  it('makes no alert from an assessment below the watchlist level', () => {
    expect(fold(undefined, 'wire-a', 'info').decision).toBeNull();
  });

  it('adds later outlets as sources silently until a corroboration milestone', () => {
    const first = fold(undefined, 'wire-a', 'high').decision!;
    expect(first).toMatchObject({ notify: 'first', alert: { version: 1, sources: ['wire-a'] } });
    const second = fold(first.alert, 'wire-b', 'medium').decision!;
    expect(second.notify).toBeNull();
    expect(second.alert).toMatchObject({ version: 1, level: 'high', sources: ['wire-a', 'wire-b'], itemCount: 2 });
    const third = fold(second.alert, 'wire-c', 'info').decision!; // below the watchlist level: still corroborates
    expect(third).toMatchObject({ notify: 'corroborated', alert: { version: 2, sources: ['wire-a', 'wire-b', 'wire-c'] } });
  });

  it('raises the version with one follow-up when the level rises, and records the step', () => {
    const first = fold(undefined, 'wire-a', 'medium').decision!;
    const escalated = fold(first.alert, 'wire-b', 'critical').decision!;
    expect(escalated).toMatchObject({ notify: 'escalated', alert: { version: 2, level: 'critical' } });
    expect(escalated.alert.history!.map((e) => [e.version, e.reason, e.level])).toEqual([
      [1, 'first', 'medium'],
      [2, 'escalated', 'critical'],
    ]);
    expect(fold(escalated.alert, 'wire-c', 'high', { milestones: [] }).decision!.notify).toBeNull();
  });

  it('flips the direction when a newer item reports the ban suspended, keeping the highest level', () => {
    const ban = fold(undefined, 'wire-a', 'critical').decision!;
    const suspended = fold(ban.alert, 'wire-b', 'medium', { direction: 'de-escalation', publishedAt: '2025-10-07T08:00:00.000Z' }).decision!;
    expect(suspended).toMatchObject({ notify: 'direction-changed', alert: { version: 2, direction: 'de-escalation', level: 'critical' } });
  });

  it('does not flip back when an outlet re-reports the original ban after the suspension', () => {
    const ban = fold(undefined, 'wire-a', 'high').decision!;
    const suspended = fold(ban.alert, 'wire-b', 'medium', { direction: 'de-escalation', publishedAt: '2025-10-07T08:00:00.000Z' }).decision!;
    const stale = fold(suspended.alert, 'wire-c', 'high', { publishedAt: '2025-10-06T09:00:00.000Z', milestones: [] }).decision!;
    expect(stale.notify).toBeNull();
    expect(stale.alert.direction).toBe('de-escalation');
  });

  it('keeps the latest news when an older, more alarming report of the original ban comes in after the suspension', () => {
    const ban = fold(undefined, 'wire-a', 'medium').decision!;
    const suspended = fold(ban.alert, 'wire-b', 'low', { direction: 'de-escalation', publishedAt: '2025-10-06T11:00:00.000Z' }).decision!;
    // Published at 09:00, before the suspension, and scored high: it still corroborates, but it does not escalate
    // the alert back to the ban's direction, title or explanation.
    const late = fold(suspended.alert, 'wire-c', 'high', { publishedAt: '2025-10-06T09:00:00.000Z', milestones: [3] }).decision!;
    expect(late.notify).toBe('corroborated');
    expect(late.alert).toMatchObject({ level: 'medium', direction: 'de-escalation', directionSince: '2025-10-06T11:00:00.000Z', title: suspended.alert.title, why: suspended.alert.why });
    expect(late.alert.sources).toEqual(['wire-a', 'wire-b', 'wire-c']);
    expect(late.alert.history!.at(-1)).toMatchObject({ reason: 'corroborated', direction: 'de-escalation', level: 'medium' });
  });

  it('lets an older report that agrees with the latest direction raise the level', () => {
    const ban = fold(undefined, 'wire-a', 'medium', { publishedAt: '2025-10-06T10:00:00.000Z' }).decision!;
    const earlier = fold(ban.alert, 'wire-b', 'high', { publishedAt: '2025-10-06T09:00:00.000Z' });
    expect(earlier.decision).toMatchObject({ notify: 'escalated', alert: { level: 'high', direction: 'escalation', title: earlier.item.title } });
    expect(earlier.decision!.alert.directionSince).toBe('2025-10-06T10:00:00.000Z');
  });

  it('changes nothing when the same item is folded again', () => {
    const first = fold(undefined, 'wire-a', 'high');
    const again = applyAssessment({ previous: first.decision!.alert, assessment: makeAssessment(first.item, 'magnets', 'critical'), item: first.item, storyId: 'story-1', watchlist, milestones: [], now: NOW });
    expect(again).toEqual({ alert: first.decision!.alert, notify: null });
    expect(versionProducedBy(first.decision!.alert, first.item.id)?.version).toBe(1);
  });
});
