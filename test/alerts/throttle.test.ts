import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchAlert, dispatchDue } from '../../src/alerts/dispatch.js';
import { quietHoursAt } from '../../src/alerts/quiet-hours.js';
import { channelSchema, watchlistSchema } from '../../src/config/schema.js';
import { createDigestStore } from '../../src/store/digests.js';
import { createDispatchStore, type DispatchStore } from '../../src/store/dispatch.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { makeAlert } from './fixtures.js';

const prefix = uniquePrefix('throttle');
const HOUR = 3_600_000;
const T0 = Date.parse('2025-07-01T10:00:00Z');
let redis: Redis;
let store: DispatchStore;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
  store = createDispatchStore(redis, prefix, 3600);
});

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

describe('the per-channel throttle', () => {
  it('allows N sends in any hour and refuses the next one', async () => {
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await store.reserve('deny', `k${i}`, T0 + i * 60_000, 3, 'deny', T0 + i * 60_000));
    expect(got).toEqual([T0, T0 + 60_000, T0 + 120_000, null]);
    // An hour after the first send, one slot is free again: a sliding window, not a clock hour.
    expect(await store.reserve('deny', 'k5', T0 + HOUR, 3, 'deny', T0 + HOUR)).toBe(T0 + HOUR);
  });

  it('counts one delivery once however often it is reserved', async () => {
    expect(await store.reserve('idem', 'same', T0, 1, 'deny', T0)).toBe(T0);
    expect(await store.reserve('idem', 'same', T0 + 1000, 1, 'deny', T0 + 1000)).toBe(T0);
    expect(await store.reserve('idem', 'other', T0 + 2000, 1, 'deny', T0 + 2000)).toBeNull();
  });

  it('finds the next free slot when the channel has no digest, so nothing is dropped', async () => {
    const slots = [];
    for (let i = 0; i < 5; i++) slots.push(await store.reserve('search', `s${i}`, T0, 2, 'search', T0));
    expect(slots).toEqual([T0, T0, T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR]);
  });

  it('lets a critical send through a spent budget but counts it', async () => {
    await store.reserve('force', 'a', T0, 1, 'deny', T0);
    expect(await store.reserve('force', 'crit', T0 + 1000, 1, 'force', T0 + 1000)).toBe(T0 + 1000);
    expect(await store.reserved('force', 0)).toHaveLength(2);
  });

  it('checks windows that reach into the future, where deferred sends wait', async () => {
    // Two sends reserved at the end of quiet hours (in 30 min); budget 2: a send now would make three in one hour.
    await store.reserve('future', 'q1', T0 + 30 * 60_000, 2, 'deny', T0);
    await store.reserve('future', 'q2', T0 + 30 * 60_000, 2, 'deny', T0);
    expect(await store.reserve('future', 'now', T0, 2, 'deny', T0)).toBeNull();
  });
});

describe('dispatching alert versions to channels', () => {
  const watchlist = watchlistSchema.parse({ id: 'magnets', routes: [{ channel: 'ops', minLevel: 'low' }] });
  const channel = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 2 }, digest: { schedule: '0 8 * * *', immediateLevel: 'low' } });
  const channels = new Map([['ops', channel]]);

  it('sends the first N of an hour and holds the overflow for the digest, deciding each version once', async () => {
    const p = `${prefix}-dispatch`;
    const digests = createDigestStore(redis, p, 3600);
    const deps = { watchlist, channels, dispatch: createDispatchStore(redis, p, 3600), now: new Date(T0) };
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await dispatchAlert(makeAlert({ id: `al${i}`, level: 'high' }), 'first', 1, deps));
    expect(outcomes.map((o) => o.notifications.length)).toEqual([1, 1, 0]);
    expect(outcomes[2].held).toMatchObject([{ alertId: 'al2', channelId: 'ops', dispatch: { mode: 'digest', why: 'throttled' } }]);
    expect(await digests.pending('ops', T0)).toEqual([{ alertId: 'al2', heldAt: T0 }]);
    // A replay an hour later (budget free again) applies the recorded decision, not a new one.
    const replay = await dispatchAlert(makeAlert({ id: 'al2', level: 'high' }), 'first', 1, { ...deps, now: new Date(T0 + 2 * HOUR) });
    expect(replay.notifications).toHaveLength(0);
    // A newer version that goes out at once takes the alert out of the digest.
    const v2 = await dispatchAlert(makeAlert({ id: 'al2', level: 'critical', version: 2 }), 'escalated', 2, { ...deps, now: new Date(T0 + 2 * HOUR) });
    expect(v2.notifications).toMatchObject([{ version: 2, delayMs: 0, dispatch: { why: 'critical' } }]);
    expect(await digests.pending('ops', T0 + 3 * HOUR)).toEqual([]);
  });

  it("gives a throttled channel's slots to a score job's alerts in the order their items came", async () => {
    const p = `${prefix}-due-order`;
    const real = createDispatchStore(redis, p, 3600);
    // The first alert is slow to reserve: were the job's alerts dispatched at once, the later ones would take its slot.
    const dispatch: DispatchStore = { ...real, reserve: async (...args) => (args[1].includes('job-b') && (await new Promise((r) => setTimeout(r, 30))), real.reserve(...args)) };
    const deps = { watchlists: new Map([['magnets', watchlist]]), channels, dispatch, now: new Date(T0) };
    const due = ['b', 'a', 'c', 'd'].map((id) => ({ alert: makeAlert({ id: `job-${id}`, watchlistId: 'magnets', level: 'high' }), version: 1, reason: 'first' as const }));
    const outcome = await dispatchDue(due, deps);
    expect(outcome.notifications.map((n) => n.alertId)).toEqual(['job-b', 'job-a']);
    expect(outcome.held.map((h) => h.alertId)).toEqual(['job-c', 'job-d']);
  });

  it('delays a throttled overflow without a digest past quiet hours its free slot would fall in, and a critical one not', async () => {
    const p = `${prefix}-overflow-quiet`;
    // No digest, 2 per hour, quiet 10:30-12:00 UTC; T0 is 10:00: the third alert's free slot (11:00) is in the quiet hours.
    const ops = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 2 }, quietHours: { start: '10:30', end: '12:00', timezone: 'UTC' } });
    const dispatch = createDispatchStore(redis, p, 3600);
    const deps = { watchlist, channels: new Map([['ops', ops]]), dispatch, now: new Date(T0) };
    const sendAt = async (id: string, level: 'high' | 'critical') => (await dispatchAlert(makeAlert({ id, level }), 'first', 1, deps)).notifications[0]?.dispatch;
    expect(await sendAt('q1', 'high')).toMatchObject({ mode: 'immediate', sendAt: T0 });
    expect(await sendAt('q2', 'high')).toMatchObject({ mode: 'immediate', sendAt: T0 });
    const noon = Date.parse('2025-07-01T12:00:00Z');
    expect(await sendAt('q3', 'high')).toMatchObject({ mode: 'deferred', why: 'throttled-delayed', sendAt: noon });
    expect(await sendAt('q4', 'high')).toMatchObject({ mode: 'deferred', why: 'throttled-delayed', sendAt: noon });
    // The fifth waits for the hour after those two, outside the quiet hours anyway.
    expect(await sendAt('q5', 'high')).toMatchObject({ mode: 'deferred', sendAt: noon + HOUR });
    // A critical alert passes both.
    expect(await sendAt('q6', 'critical')).toMatchObject({ mode: 'immediate', why: 'critical', sendAt: T0 });
    // Each counted once: the slot a moved overflow first found in the quiet hours was given back.
    expect((await dispatch.reserved('ops', 0)).sort((a, b) => a - b)).toEqual([T0, T0, T0, noon, noon, noon + HOUR]);
  });

  it('keeps a moved overflow\'s reservation where the recorded decision sends it, when a twin run of the decision moved it first', async () => {
    const p = `${prefix}-overflow-twin`;
    const ops = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 1 }, quietHours: { start: '10:30', end: '12:00', timezone: 'UTC' } });
    const store = createDispatchStore(redis, p, 3600);
    const deps = (dispatch: DispatchStore) => ({ watchlist, channels: new Map([['ops', ops]]), dispatch, now: new Date(T0) });
    const noon = Date.parse('2025-07-01T12:00:00Z');
    const sendAt = async (id: string, level: 'high' | 'critical', version = 1, dispatch = store) =>
      (await dispatchAlert(makeAlert({ id, level }), 'first', version, deps(dispatch))).notifications[0]?.dispatch.sendAt;
    expect(await sendAt('x', 'high')).toBe(T0);
    expect(await sendAt('y', 'high')).toBe(noon);
    // Twin B of z's decision pauses after its first reservation (11:00, in the quiet hours) while twin A decides.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let paused!: () => void;
    const atGate = new Promise<void>((r) => (paused = r));
    const gated: DispatchStore = {
      ...store,
      reserve: async (...args: Parameters<DispatchStore['reserve']>) => {
        const slot = await store.reserve(...args);
        if (args[7] === undefined) {
          paused();
          await gate;
        }
        return slot;
      },
    };
    const twinB = sendAt('z', 'high', 1, gated);
    await atGate;
    expect(await sendAt('z', 'high')).toBe(noon + HOUR);
    // y's critical version 2 takes over from y's version 1, whose noon slot is given back.
    expect(await sendAt('y', 'critical', 2)).toBe(T0);
    release();
    expect(await twinB).toBe(noon + HOUR);
    const reserved = await store.reserved('ops', 0);
    // z counted where it is sent; the next overflow finds that hour spent.
    expect(reserved.filter((t) => t === noon + HOUR)).toHaveLength(1);
    expect(await sendAt('w', 'high')).toBe(noon);
  });

  it('moves overflows past the quiet hours however many days of backlog push them there', async () => {
    const p = `${prefix}-overflow-backlog`;
    // Quiet 08:00-07:00 UTC: one free hour a day; budget one an hour.
    const ops = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 1 }, quietHours: { start: '08:00', end: '07:00', timezone: 'UTC' } });
    const store = createDispatchStore(redis, p, 30 * 86_400);
    const now = new Date(Date.parse('2025-07-01T07:00:00Z'));
    const sends = [];
    for (let i = 0; i < 5; i++) {
      const d = (await dispatchAlert(makeAlert({ id: `b${i}`, level: 'high' }), 'first', 1, { watchlist, channels: new Map([['ops', ops]]), dispatch: store, now })).notifications[0]!.dispatch;
      sends.push(new Date(d.sendAt!).toISOString());
    }
    expect(sends).toEqual(['2025-07-01T07:00:00.000Z', '2025-07-02T07:00:00.000Z', '2025-07-03T07:00:00.000Z', '2025-07-04T07:00:00.000Z', '2025-07-05T07:00:00.000Z']);
  });

  it('says so when a backlog past two weeks of quiet hours leaves an overflow inside them (it is sent there), and only then', async () => {
    const p = `${prefix}-overflow-in-quiet`;
    // Quiet 08:00-07:00 UTC: one free hour a day; budget one an hour; the next fifteen free hours taken already.
    const ops = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 1 }, quietHours: { start: '08:00', end: '07:00', timezone: 'UTC' } });
    const store = createDispatchStore(redis, p, 30 * 86_400);
    const now = new Date(Date.parse('2025-07-01T07:00:00Z'));
    const dispatchOne = async (id: string) => (await dispatchAlert(makeAlert({ id, level: 'high' }), 'first', 1, { watchlist, channels: new Map([['ops', ops]]), dispatch: store, now })).notifications[0]!.dispatch;
    expect(await dispatchOne('first-free')).not.toHaveProperty('inQuietHours');
    for (let day = 1; day < 16; day++) await store.reserve('ops', `taken-${day}`, now.getTime() + day * 86_400_000, 1, 'search', now.getTime());
    const backlog = await dispatchOne('backlog');
    expect(backlog.inQuietHours).toBe(true);
    expect(quietHoursAt(backlog.sendAt!, ops.quietHours!).quiet).toBe(true);
  });

  it('gives a newer version the count an older one moved past the quiet hours (its job parked), not the hour after it', async () => {
    const p = `${prefix}-parked-older`;
    const ops = channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', rateLimit: { perMinute: 60 }, throttle: { maxPerHour: 1 }, quietHours: { start: '22:00', end: '23:00', timezone: 'UTC' } });
    const store = createDispatchStore(redis, p, 86_400);
    const deps = (now: number) => ({ watchlist, channels: new Map([['ops', ops]]), dispatch: store, now: new Date(now) });
    const t0 = Date.parse('2025-07-01T21:59:00Z');
    const end = Date.parse('2025-07-01T23:00:00Z');
    // 21:59: version 1 goes at once; its pace slot falls in the quiet hours, so its job parks and moves its count.
    expect((await dispatchAlert(makeAlert({ id: 'a', level: 'medium' }), 'first', 1, deps(t0))).notifications[0]!.dispatch).toMatchObject({ mode: 'immediate' });
    expect(await store.reserve('ops', 'a-v1-ops', end, 1, 'search', t0, [], 'any')).toBe(end);
    // 22:10: version 2, deferred to the end of the quiet hours, takes that count.
    const v2 = (await dispatchAlert(makeAlert({ id: 'a', level: 'medium', version: 2 }), 'escalated', 2, deps(end - 50 * 60_000))).notifications[0]!.dispatch;
    expect(v2.sendAt).toBe(end);
    expect(await store.reserved('ops', 0)).toEqual([end]);
  });

  it("supersedes an alert's deferred version with the job's next version of it, the job's decisions read together", async () => {
    const p = `${prefix}-due-defer`;
    // Quiet all day (T0 is 10:00 UTC): every version is deferred to 23:00.
    const quiet = new Map([['ops', channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', quietHours: { start: '01:00', end: '23:00' } })]]);
    const real = createDispatchStore(redis, p, 3600);
    let listedTogether = 0;
    const dispatch: DispatchStore = { ...real, listMany: async (ids) => (listedTogether++, real.listMany(ids)) };
    const deps = { watchlists: new Map([['magnets', watchlist]]), channels: quiet, dispatch, now: new Date(T0) };
    const alert = makeAlert({ id: 'q-1', watchlistId: 'magnets', level: 'high', version: 2 });
    const outcome = await dispatchDue(
      [
        { alert, version: 1, reason: 'first' as const },
        { alert: makeAlert({ id: 'q-2', watchlistId: 'magnets', level: 'high' }), version: 1, reason: 'first' as const },
        { alert, version: 2, reason: 'corroborated' as const },
      ],
      deps,
    );
    expect(listedTogether).toBe(1);
    expect(outcome.notifications.map((n) => `${n.alertId} v${n.version} ${n.dispatch.mode}`)).toEqual(['q-1 v1 deferred', 'q-2 v1 deferred', 'q-1 v2 deferred']);
    // Version 2 saw version 1's decision, recorded by the same job after the read they shared.
    expect(outcome.superseded).toEqual([{ alertId: 'q-1', version: 1, channelId: 'ops' }]);
  });

  it('gives the throttle slot of a superseded deferred version back to the channel', async () => {
    const p = `${prefix}-superseded-slot`;
    // 2 per hour, quiet 22:00-07:00 UTC, no digest: everything decided at night is deferred to 07:00.
    const night = new Map([['ops', channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 2 }, quietHours: { start: '22:00', end: '07:00' } })]]);
    const deps = (iso: string) => ({ watchlists: new Map([['magnets', watchlist]]), channels: night, dispatch: createDispatchStore(redis, p, 3600), now: new Date(iso) });
    const seven = Date.parse('2025-07-02T07:00:00Z');
    const v1 = makeAlert({ id: 'sup', watchlistId: 'magnets', level: 'high' });
    await dispatchDue([{ alert: v1, version: 1, reason: 'first' }], deps('2025-07-01T23:01:00Z'));
    const second = await dispatchDue([{ alert: { ...v1, version: 2 }, version: 2, reason: 'corroborated' }], deps('2025-07-01T23:02:00Z'));
    expect(second.superseded).toEqual([{ alertId: 'sup', version: 1, channelId: 'ops' }]);
    expect(second.notifications.map((n) => n.dispatch.sendAt)).toEqual([seven]);
    // v1's notify job is withdrawn, so only v2 is sent at 07:00: another alert still fits in that hour.
    const other = await dispatchDue([{ alert: makeAlert({ id: 'other', watchlistId: 'magnets', level: 'high' }), version: 1, reason: 'first' }], deps('2025-07-01T23:30:00Z'));
    expect(other.notifications.map((n) => `${n.dispatch.why} ${n.dispatch.sendAt}`)).toEqual([`quiet-hours ${seven}`]);
    expect(await createDispatchStore(redis, p, 3600).reserved('ops', 0)).toEqual([seven, seven]);
  });

  it('lets a newer version take the slot of the deferred version it supersedes, or keeps that slot when it goes to the digest', async () => {
    const p = `${prefix}-superseded-digest`;
    // Budget 1 with a digest for the overflow; quiet 22:00-07:00 UTC defers to 07:00.
    const night = new Map([['ops', channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h', throttle: { maxPerHour: 1 }, quietHours: { start: '22:00', end: '07:00' }, digest: { schedule: '0 8 * * *', immediateLevel: 'low' } })]]);
    const store = createDispatchStore(redis, p, 3600);
    const deps = (iso: string) => ({ watchlists: new Map([['magnets', watchlist]]), channels: night, dispatch: store, now: new Date(iso) });
    const seven = Date.parse('2025-07-02T07:00:00Z');
    const v1 = makeAlert({ id: 'take', watchlistId: 'magnets', level: 'high' });
    await dispatchDue([{ alert: v1, version: 1, reason: 'first' }], deps('2025-07-01T23:01:00Z'));
    const second = await dispatchDue([{ alert: { ...v1, version: 2 }, version: 2, reason: 'corroborated' }], deps('2025-07-01T23:02:00Z'));
    expect(second.notifications.map((n) => `v${n.version} ${n.dispatch.why} ${n.dispatch.sendAt}`)).toEqual([`v2 quiet-hours ${seven}`]);
    expect(second.superseded).toEqual([{ alertId: 'take', version: 1, channelId: 'ops' }]);
    expect(await store.reserved('ops', 0)).toEqual([seven]);

    // Another alert's v1 waits for 07:00 too (the hour before it is now full: a critical send at 06:50 counts).
    const w1 = makeAlert({ id: 'keep', watchlistId: 'magnets', level: 'high' });
    await store.reserve('ops', 'crit-0650', seven - 10 * 60_000, 1, 'force', Date.parse('2025-07-01T23:10:00Z'));
    const kept = await dispatchDue([{ alert: w1, version: 1, reason: 'first' }], deps('2025-07-01T23:11:00Z'));
    expect(kept.held.map((h) => h.dispatch.why)).toEqual(['throttled']);
    // Its v2 is held for the digest as well: v1 is not superseded and nothing is released.
    const after = await dispatchDue([{ alert: { ...w1, version: 2 }, version: 2, reason: 'corroborated' }], deps('2025-07-01T23:12:00Z'));
    expect(after.held.map((h) => h.dispatch.why)).toEqual(['throttled']);
    expect(after.superseded).toEqual([]);
    expect(await store.reserved('ops', 0)).toEqual([seven - 10 * 60_000, seven]);
  });

  it('dispatches the versions of one alert in order and merges a job\'s outcomes in the order they were due', async () => {
    const p = `${prefix}-due-merge`;
    const open = new Map([['ops', channelSchema.parse({ id: 'ops', kind: 'webhook', url: 'https://example.org/h' })]]);
    const real = createDispatchStore(redis, p, 3600);
    // Slow reads and records that notice when two dispatches of one alert overlap (a later version must see the
    // earlier one's decision), and whether different alerts ran at once.
    const busy = new Map<string, number>();
    let overlapsWithinAlert = 0;
    let mostAlertsAtOnce = 0;
    const watched = <A extends unknown[], R>(call: (alertId: string, ...rest: A) => Promise<R>) => async (alertId: string, ...rest: A): Promise<R> => {
      if (busy.get(alertId)) overlapsWithinAlert++;
      busy.set(alertId, (busy.get(alertId) ?? 0) + 1);
      mostAlertsAtOnce = Math.max(mostAlertsAtOnce, [...busy.values()].filter((n) => n > 0).length);
      await new Promise((resolve) => setTimeout(resolve, 10));
      try {
        return await call(alertId, ...rest);
      } finally {
        busy.set(alertId, busy.get(alertId)! - 1);
      }
    };
    const dispatch: DispatchStore = { ...real, list: watched(real.list), record: watched(real.record) };
    const deps = { watchlists: new Map([['magnets', watchlist]]), channels: open, dispatch, now: new Date(T0) };
    const due = [
      { alert: makeAlert({ id: 'm-1', watchlistId: 'magnets', level: 'high', version: 2 }), version: 1, reason: 'first' as const },
      { alert: makeAlert({ id: 'm-2', watchlistId: 'magnets', level: 'high' }), version: 1, reason: 'first' as const },
      { alert: makeAlert({ id: 'm-1', watchlistId: 'magnets', level: 'high', version: 2 }), version: 2, reason: 'corroborated' as const },
      { alert: makeAlert({ id: 'm-3', watchlistId: 'magnets', level: 'high' }), version: 1, reason: 'first' as const },
    ];
    const outcome = await dispatchDue(due, deps);
    expect(outcome.notifications.map((n) => `${n.alertId} v${n.version}`)).toEqual(['m-1 v1', 'm-2 v1', 'm-1 v2', 'm-3 v1']);
    expect((await real.list('m-1')).map((d) => d.version)).toEqual([1, 2]);
    expect(overlapsWithinAlert).toBe(0);
    expect(mostAlertsAtOnce).toBeGreaterThan(1);
  });
});
