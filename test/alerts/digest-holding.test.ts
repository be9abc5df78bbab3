import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchAlert, dispatchDue } from '../../src/alerts/dispatch.js';
import type { Dispatch } from '../../src/alerts/routing.js';
import type { AlertEvent } from '../../src/alerts/types.js';
import { channelSchema, watchlistSchema } from '../../src/config/schema.js';
import { createDigestStore } from '../../src/store/digests.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { makeAlert } from './fixtures.js';

/**
 * What a channel's digest holds of an alert follows the newest version decided for that channel, and a version the
 * digest already carried is never held again: replays, twin runs and racing jobs must neither repeat an alert in the
 * next digest nor take a newer version out of it.
 */
const prefix = uniquePrefix('digest-holding');
let redis: Redis;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

const watchlist = watchlistSchema.parse({ id: 'magnets', routes: [{ channel: 'ops', minLevel: 'info' }] });
const event = (version: number, level: AlertEvent['level'] = 'high'): AlertEvent => ({
  version,
  reason: version === 1 ? 'first' : 'corroborated',
  level,
  direction: 'escalation',
  sources: version,
  itemId: `item-${version}`,
  at: '2025-07-01T10:00:00.000Z',
});

/** Stores and dispatch deps of one test (its own prefix) for one channel. */
function setup(name: string, channel: Record<string, unknown>) {
  const p = `${prefix}-${name}`;
  const dispatch = createDispatchStore(redis, p, 3600);
  const digests = createDigestStore(redis, p, 3600);
  const channels = new Map([['ops', channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', ...channel })]]);
  const deps = (iso: string) => ({ watchlists: new Map([['magnets', watchlist]]), channels, dispatch, now: new Date(iso) });
  const held = async () => (await digests.pending('ops', Infinity)).map((h) => h.alertId);
  return { dispatch, digests, channels, deps, held };
}

describe("a channel's digest holding of an alert", () => {
  it('holds a version below the immediate level and releases it when a newer version is sent on its own', async () => {
    const { deps, held, digests } = setup('normal', { digest: { schedule: '0 8 * * *', immediateLevel: 'high' } });
    const v1 = makeAlert({ id: 'n1', watchlistId: 'magnets', level: 'medium', history: [event(1, 'medium')] });
    const first = await dispatchDue([{ alert: v1, version: 1, reason: 'first' }], deps('2025-07-01T10:00:00Z'));
    expect(first.held.map((h) => h.dispatch.why)).toEqual(['below-immediate-level']);
    expect(await digests.pending('ops', Infinity)).toEqual([{ alertId: 'n1', heldAt: Date.parse('2025-07-01T10:00:00Z') }]);
    // Another version held moves the entry to its time; one sent at once takes the alert out of the digest.
    const v2 = { ...v1, version: 2, history: [event(1, 'medium'), event(2, 'medium')] };
    await dispatchDue([{ alert: v2, version: 2, reason: 'corroborated' }], deps('2025-07-01T11:00:00Z'));
    expect(await digests.pending('ops', Infinity)).toEqual([{ alertId: 'n1', heldAt: Date.parse('2025-07-01T11:00:00Z') }]);
    const v3 = { ...v1, version: 3, level: 'high' as const, history: [event(1, 'medium'), event(2, 'medium'), event(3)] };
    const sent = await dispatchDue([{ alert: v3, version: 3, reason: 'escalated' }], deps('2025-07-01T12:00:00Z'));
    expect(sent.notifications.map((n) => `v${n.version} ${n.dispatch.mode}`)).toEqual(['v3 immediate']);
    expect(await held()).toEqual([]);
  });

  it('is not held again by a replay of the score job after the digest carrying it was delivered', async () => {
    const { deps, held, digests } = setup('replay-after-digest', { digest: { schedule: '0 8 * * *', immediateLevel: 'high' } });
    const alert = makeAlert({ id: 'd1', watchlistId: 'magnets', level: 'medium', history: [event(1, 'medium')] });
    await dispatchDue([{ alert, version: 1, reason: 'first' }], deps('2025-07-01T10:00:00Z'));
    const carried = await digests.pending('ops', Date.parse('2025-07-02T08:00:00Z'));
    expect(carried.map((h) => h.alertId)).toEqual(['d1']);
    await digests.clear('ops', carried); // the digest was delivered
    // The score job runs again (retried after a crash, or its item re-queued): it replays the recorded decision.
    const replay = await dispatchDue([{ alert, version: 1, reason: 'first' }], deps('2025-07-02T09:00:00Z'));
    expect(replay.held).toHaveLength(1);
    expect(await held()).toEqual([]);
  });

  it('is not held again by a twin run that recorded its decision after the digest carrying it was delivered', async () => {
    const { deps, held, digests } = setup('twin-after-digest', { digest: { schedule: '0 8 * * *', immediateLevel: 'high' } });
    const alert = makeAlert({ id: 't1', watchlistId: 'magnets', level: 'medium', history: [event(1, 'medium')] });
    await dispatchDue([{ alert, version: 1, reason: 'first' }], deps('2025-07-01T10:00:00Z'));
    await digests.clear('ops', await digests.pending('ops', Date.parse('2025-07-02T08:00:00Z')));
    // The twin read the alert's decisions before the first run recorded its own, and records its decision late.
    const { watchlists, ...rest } = deps('2025-07-01T10:00:01Z');
    const twin = await dispatchAlert(alert, 'first', 1, { ...rest, watchlist: watchlists.get('magnets')! }, []);
    expect(twin.held.map((h) => h.dispatch.decidedAt)).toEqual([Date.parse('2025-07-01T10:00:00Z')]);
    expect(await held()).toEqual([]);
  });

  it('keeps a newer version held for the digest when an older version sent at once is replayed', async () => {
    // Quiet hours 22:00-07:00 (UTC) defer to the digest: v1 went out at noon, v2 came at 23:00 and waits for 08:00.
    const { deps, held } = setup('replay-older', {
      quietHours: { start: '22:00', end: '07:00', timezone: 'UTC', defer: 'digest' },
      digest: { schedule: '0 8 * * *', immediateLevel: 'medium' },
    });
    const v1 = makeAlert({ id: 'r1', watchlistId: 'magnets', level: 'high', history: [event(1)] });
    const first = await dispatchDue([{ alert: v1, version: 1, reason: 'first' }], deps('2025-07-01T12:00:00Z'));
    expect(first.notifications.map((n) => n.dispatch.mode)).toEqual(['immediate']);
    const v2 = { ...v1, version: 2, reason: 'corroborated' as const, history: [event(1), event(2)] };
    const second = await dispatchDue([{ alert: v2, version: 2, reason: 'corroborated' }], deps('2025-07-01T23:00:00Z'));
    expect(second.held.map((h) => h.dispatch.why)).toEqual(['quiet-hours-digest']);
    // The job that made v1 runs again and hands v1 back (its notify job id makes re-enqueueing it a no-op).
    const replay = await dispatchDue([{ alert: v2, version: 1, reason: 'first' }], deps('2025-07-01T23:05:00Z'));
    expect(replay.notifications.map((n) => `v${n.version} ${n.dispatch.mode}`)).toEqual(['v1 immediate']);
    expect(await held()).toEqual(['r1']);
  });

  it("keeps the newest version's holding when an older version's decision is recorded after it", async () => {
    // Two score jobs of one story race around the start of quiet hours: v1 is decided at 21:59:59 (send now) but
    // recorded after v2, decided at 22:00 (held for the digest).
    const { deps, held, dispatch } = setup('race', {
      quietHours: { start: '22:00', end: '07:00', timezone: 'UTC', defer: 'digest' },
      digest: { schedule: '0 8 * * *', immediateLevel: 'medium' },
    });
    const v2 = makeAlert({ id: 'q1', watchlistId: 'magnets', level: 'high', version: 2, history: [event(1), event(2)] });
    const second = await dispatchDue([{ alert: v2, version: 2, reason: 'corroborated' }], deps('2025-07-01T22:00:00Z'));
    expect(second.held).toHaveLength(1);
    const late: Dispatch = { channelId: 'ops', version: 1, mode: 'immediate', why: 'immediate', sendAt: Date.parse('2025-07-01T21:59:59Z'), decidedAt: Date.parse('2025-07-01T21:59:59Z') };
    expect(await dispatch.record('q1', late)).toEqual(late);
    expect(await held()).toEqual(['q1']);
  });
});
