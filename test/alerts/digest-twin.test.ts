import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { memoryLogger } from '../../src/log.js';
import { digestStage } from '../../src/pipeline/digest.js';
import type { ConfigState } from '../../src/pipeline/runtime.js';
import { ENDED_UNPLANNED, type DigestStore } from '../../src/store/digests.js';
import { alertKeyFor } from '../../src/store/alerts.js';
import { settleDeliveryFailure } from '../../src/queue/delivery-job.js';
import { uniquePrefix } from '../helpers/redis.js';
import { GREY, OK, expectOneMessageForBoth, mailsOf, redis, server, state, useEmailDigestChannel, windowStores } from './email-digest.js';

/**
 * A digest window that some recipients have, on real Redis and a real SMTP server: a twin run of its job (the lock
 * lapsed) that read the window before the other run sent it must not end it unsent, and a permanent failure must not
 * drop the message those still without it are owed.
 */
const prefix = uniquePrefix('digest-twin');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

useEmailDigestChannel(prefix, '{ schedule: "0 8 * * *", maxAlerts: 1 }');

function setup(name: string) {
  // Production's retention: the ledger and what a window carried are kept 90 days.
  return windowStores(`${prefix}-${name}`);
}


describe('twin runs of a digest job', () => {
  it('sends the window to a recipient that deferred the twin\'s send, when the other run read the window before that send', async () => {
    const { stores, hold, stage } = setup('twin');
    const windowEnd = Date.UTC(2026, 4, 1, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    server.failing = 451;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.failing = undefined;
    // The retry runs twice at once: B has read the entry and found nothing carried when A sends (OK accepts, GREY
    // defers), carries and records.
    server.greylisting = true;
    let twinRan = false;
    const seenByB: DigestStore = {
      ...stores.digests,
      carried: async (channelId, end) => {
        const read = await stores.digests.carried(channelId, end);
        if (!twinRan) {
          twinRan = true;
          await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
        }
        return read;
      },
    };
    await stage(windowEnd, seenByB).catch(() => undefined);
    const entry = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(entry?.status).toBe('pending');
    expect(entry?.recipients).toEqual({ [OK]: 'accepted', [GREY]: 'deferred' });

    server.greylisting = false;
    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered' });
    expectOneMessageForBoth(windowEnd);
  });
});

describe('a digest that fails for good after some recipients have it', () => {
  it('keeps the message as shown, so an operator\'s retry shows the rest the same message', async () => {
    const { stores, hold, stage, keys } = setup('permanent');
    const windowEnd = Date.UTC(2026, 4, 11, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    server.failing = 554;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'permanent' });
    server.failing = undefined;
    expect(await redis.exists(keys(windowEnd).shown)).toBe(1);
    await stores.alerts.update('top', async (a) => ({ alert: { ...a!, title: 'Top magnet story, updated later' }, result: null }));

    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered' });
    const mails = mailsOf(windowEnd);
    expect(mails[GREY]).toHaveLength(1);
    expect(mails[GREY]![0]!.text).not.toContain('updated later');
    expect(mails[GREY]![0]!.text).toBe(mails[OK]![0]!.text);
  });
});

describe('a digest whose channel is gone after some recipients have it', () => {
  it('ends failed, naming the recipients still without it, not skipped', async () => {
    const { stores, hold, stage } = setup('gone');
    const windowEnd = Date.UTC(2026, 4, 21, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    const removed = { ...state, notifiers: { get: () => undefined, close: async () => undefined } } as unknown as ConfigState;
    expect(await digestStage({ channelId: 'mail', windowEnd }, { state: removed, ...stores, log: memoryLogger('fatal').log, now: () => new Date() })).toEqual({
      status: 'skipped',
      reason: 'unknown-channel',
    });
    const entry = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(entry?.status).toBe('failed');
    expect(entry?.lastError).toContain(GREY);
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', windowEnd));
  });
});

/** The configuration with the mail channel's first send running `meanwhile` before it goes out (a run paused mid-send). */
function pausedInSend(meanwhile: () => Promise<void>): ConfigState {
  let paused = false;
  const get = (id: string) => {
    const entry = state.notifiers.get(id);
    if (!entry) return entry;
    const { notifier } = entry;
    const send: typeof notifier.send = async (payload, channel, context) => {
      if (!paused) {
        paused = true;
        await meanwhile();
      }
      return notifier.send(payload, channel, context);
    };
    return { ...entry, notifier: { ...notifier, render: notifier.render.bind(notifier), send } };
  };
  return { ...state, notifiers: { get, close: async () => undefined } } as unknown as ConfigState;
}

describe('a twin run that finds nothing left while the other run\'s send of the window is in flight', () => {
  /**
   * Run B (its job lock lapsed) is inside its send when the window's content changes (a newer version of its alert is
   * held for the next window) and the job's re-run A finds nothing left. Once B's send lands, GREY (deferred) is owed
   * the message OK got.
   */
  async function race(name: string, windowEnd: number, earlierAttempt: boolean) {
    const { stores, hold, stage, keys } = setup(name);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    if (earlierAttempt) {
      server.failing = 451;
      await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
      server.failing = undefined;
    }
    server.greylisting = true;
    let a: unknown;
    const inSend = pausedInSend(async () => {
      await hold('top', windowEnd + HOUR, { id: 'top', version: 2, title: 'Top magnet story, changed', level: 'medium', score: 91 });
      a = await stage(windowEnd);
    });
    const b = digestStage({ channelId: 'mail', windowEnd }, { state: inSend, ...stores, log: memoryLogger('fatal').log, now: () => new Date() });
    await expect(b).rejects.toMatchObject({ kind: 'retryable' });
    return { a, stores, stage, keys };
  }

  async function expectOwedMessageArrives(windowEnd: number, stage: (windowEnd: number) => Promise<unknown>) {
    server.greylisting = false;
    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered' });
    const mails = expectOneMessageForBoth(windowEnd);
    expect(mails[GREY]![0]!.text).toBe(mails[OK]![0]!.text);
  }

  it('waits for the first send\'s outcome instead of completing the job empty, and keeps the message it shows', async () => {
    const windowEnd = Date.UTC(2026, 5, 1, 8);
    const { a, stores, stage, keys } = await race('inflight-first', windowEnd, false);
    expect(a).toMatchObject({ status: 'wait' });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'pending', recipients: { [OK]: 'accepted', [GREY]: 'deferred' } });
    expect(await redis.exists(keys(windowEnd).shown)).toBe(1);
    await expectOwedMessageArrives(windowEnd, stage);
  });

  it('waits for a retry\'s send instead of ending the earlier attempt\'s entry skipped under it', async () => {
    const windowEnd = Date.UTC(2026, 5, 11, 8);
    const { a, stores, stage } = await race('inflight-retry', windowEnd, true);
    expect(a).toMatchObject({ status: 'wait' });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'pending', recipients: { [OK]: 'accepted', [GREY]: 'deferred' } });
    await expectOwedMessageArrives(windowEnd, stage);
  });

  it.each([
    ['its first send', false],
    ['a retry', true],
  ])('does not send a window that the job\'s re-run ended while this run was paused just before %s', async (_, earlierAttempt) => {
    const { stores, hold, stage } = setup(`paused-before-send-${earlierAttempt}`);
    const windowEnd = Date.UTC(2026, 5, earlierAttempt ? 16 : 17, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    if (earlierAttempt) {
      server.failing = 451;
      await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
      server.failing = undefined;
    }
    const sentBefore = mailsOf(windowEnd);
    // B has planned what to send and pauses before it marks its send; meanwhile the alert moves on and A ends the window.
    const pausedBeforeSend: DigestStore = {
      ...stores.digests,
      show: async (channelId, end, digest) => {
        await hold('top', windowEnd + HOUR, { id: 'top', version: 2, title: 'Top magnet story, changed', level: 'medium', score: 91 });
        expect(await stage(windowEnd)).toEqual({ status: 'empty' });
        await stores.digests.show(channelId, end, digest);
      },
    };
    expect(await stage(windowEnd, pausedBeforeSend)).toEqual({ status: 'skipped', reason: 'ended' });
    expect(mailsOf(windowEnd)).toEqual(sentBefore);
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'skipped', response: expect.stringContaining('nothing left to send') });
  });

  it('does not send a window that the job\'s re-run ended with nothing planned while this run was paused just before planning', async () => {
    const { stores, hold, stage, keys } = setup('paused-before-plan');
    const windowEnd = Date.UTC(2026, 5, 18, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    server.greylisting = true;
    // B has read the window (top held) and pauses just before it records its plan; meanwhile the alert moves on to the
    // next window and the job's re-run A finds nothing left, with no plan or entry to end, and completes the job.
    let a: unknown;
    const pausedBeforePlan: DigestStore = {
      ...stores.digests,
      plan: async (channelId, end, contents) => {
        if (a === undefined) {
          await hold('top', windowEnd + HOUR, { id: 'top', version: 2, title: 'Top magnet story, changed', level: 'medium', score: 91 });
          a = await stage(windowEnd);
        }
        return stores.digests.plan(channelId, end, contents);
      },
    };
    // Were B to send now, GREY would defer it and, the job being complete, never be sent it.
    const b = await stage(windowEnd, pausedBeforePlan);
    server.greylisting = false;
    expect(a).toEqual({ status: 'empty' });
    expect(b).toEqual({ status: 'skipped', reason: 'ended' });
    expect(mailsOf(windowEnd)).toEqual({ [OK]: [], [GREY]: [] });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toBeUndefined();
    expect(await redis.exists(keys(windowEnd).shown)).toBe(0);
    // The alert's newer version goes with the next window, as if B had never run.
    expect((await stores.digests.pending('mail', windowEnd + DAY)).map((h) => h.alertId)).toEqual(['top']);
    // The ending outlives any run of the job, and no longer.
    const ttl = await redis.ttl(keys(windowEnd).plan);
    expect(ttl).toBeGreaterThan(86_400);
    expect(ttl).toBeLessThanOrEqual(7 * 86_400);
  });

  it('ends the window in the ledger instead when a twin run planned its send just before this run\'s ending', async () => {
    const { stores, hold, stage, keys } = setup('planned-before-end');
    const windowEnd = Date.UTC(2026, 5, 19, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    const twinsPlan = { windowStart: windowEnd - DAY, held: await stores.digests.pending('mail', windowEnd) };
    await hold('top', windowEnd + HOUR, { id: 'top', version: 2, title: 'Top magnet story, changed', level: 'medium', score: 91 });
    // A finds nothing left; the twin B records its plan between A's read and A's ending.
    const endings: boolean[] = [];
    const twinPlansFirst: DigestStore = {
      ...stores.digests,
      endUnplanned: async (channelId, end) => {
        if (endings.length === 0) await stores.digests.plan(channelId, end, twinsPlan);
        endings.push(await stores.digests.endUnplanned(channelId, end));
        return endings.at(-1)!;
      },
    };
    expect(await stage(windowEnd, twinPlansFirst)).toEqual({ status: 'empty' });
    expect(endings).toEqual([false]);
    expect(await redis.get(keys(windowEnd).plan)).toContain('top');
    // B, marking its send later, finds the window ended and sends nothing (as when paused just before its send).
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'skipped', response: expect.stringContaining('nothing left to send') });
    expect(await stage(windowEnd)).toEqual({ status: 'skipped', reason: 'ended' });
    expect(mailsOf(windowEnd)).toEqual({ [OK]: [], [GREY]: [] });
  });

  it('sends nothing when a twin run\'s plan, recorded first, holds only alerts that are gone', async () => {
    const { stores, hold, stage } = setup('twin-plan-empty');
    const windowEnd = Date.UTC(2026, 5, 20, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    // The twin planned an alert that is no longer stored (past retention) and died before its send.
    const twinPlansFirst: DigestStore = {
      ...stores.digests,
      plan: async (channelId, end, contents) => {
        await stores.digests.plan(channelId, end, { windowStart: contents.windowStart, held: [{ alertId: 'gone', heldAt: windowEnd - 3 * HOUR }] });
        return stores.digests.plan(channelId, end, contents);
      },
    };
    expect(await stage(windowEnd, twinPlansFirst)).toEqual({ status: 'empty' });
    expect(mailsOf(windowEnd)).toEqual({ [OK]: [], [GREY]: [] });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'skipped' });
    // What this run read stays held for the next window.
    expect((await stores.digests.pending('mail', windowEnd + DAY)).map((h) => h.alertId)).toEqual(['top']);
  });

  it('does not send a window that the job\'s re-run found superseded while this run was paused just before planning', async () => {
    const { stores, hold, stage } = setup('superseded-before-plan');
    const w1 = Date.UTC(2026, 5, 22, 8);
    const w2 = w1 + DAY;
    await hold('top', w1 - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    let a: unknown;
    const pausedBeforePlan: DigestStore = {
      ...stores.digests,
      plan: async (channelId, end, contents) => {
        if (a === undefined) {
          // The next window's digest sends the alert to everyone, then the job's re-run A finds W1 superseded.
          expect(await stage(w2)).toMatchObject({ status: 'delivered' });
          a = await stage(w1);
          server.greylisting = true;
        }
        return stores.digests.plan(channelId, end, contents);
      },
    };
    const b = await stage(w1, pausedBeforePlan);
    server.greylisting = false;
    expect(a).toEqual({ status: 'skipped', reason: 'superseded' });
    expect(b).toEqual({ status: 'skipped', reason: 'ended' });
    expect(mailsOf(w2)[OK]).toHaveLength(1);
    // B would have sent it again under W1: twice for OK, and never for GREY (deferred, the job complete).
    expect(mailsOf(w1)).toEqual({ [OK]: [], [GREY]: [] });
  });

  it('ends the entry of a window ended with nothing planned whose job was then given up, on an operator\'s retry', async () => {
    const { stores, stage, keys } = setup('given-up-after-ending');
    const windowEnd = Date.UTC(2026, 5, 23, 8);
    const key = digestKey('mail', windowEnd);
    // The ending is recorded, then clearing the holding fails on the job's last attempt: the job lists it failed.
    const failsAfterEnding: DigestStore = { ...stores.digests, clear: async () => Promise.reject(new Error('Connection is closed.')) };
    const err = await stage(windowEnd, failsAfterEnding).catch((e: unknown) => e);
    expect(await redis.get(keys(windowEnd).plan)).toBe(ENDED_UNPLANNED);
    const job = { attemptsMade: 4, opts: { attempts: 5 } } as unknown as Job;
    const settle = { job, key, base: { channelId: 'mail' }, deliveries: stores.deliveries, maxRateLimitWaits: 3, now: () => new Date(), log: memoryLogger('fatal').log, what: 'digest' as const };
    await settleDeliveryFailure(settle, err).catch(() => undefined);
    expect((await stores.deliveries.get(key))?.status).toBe('failed');
    // The operator's retry takes it off the failed list and runs the job again: its entry ends, not left failed unlisted.
    await stores.deliveries.clearFailed(key);
    expect(await stage(windowEnd)).toEqual({ status: 'empty' });
    expect(await stores.deliveries.get(key)).toMatchObject({ status: 'skipped', response: expect.stringContaining('nothing left to send') });
  });

  it('moves the last window end up on a re-run, when the run that ended the window died before it did', async () => {
    const { stores, stage } = setup('died-after-ending');
    const windowEnd = Date.UTC(2026, 5, 24, 8);
    const dies: DigestStore = { ...stores.digests, clear: async () => Promise.reject(new Error('killed')) };
    await expect(stage(windowEnd, dies)).rejects.toThrow('killed');
    expect(await stores.digests.lastWindowEnd('mail')).toBeUndefined();
    expect(await stage(windowEnd)).toEqual({ status: 'skipped', reason: 'ended' });
    expect(await stores.digests.lastWindowEnd('mail')).toBe(windowEnd);
  });

  it('ends the window as before once the send has landed: nothing is held up after it', async () => {
    const { stores, hold, stage } = setup('inflight-after');
    const windowEnd = Date.UTC(2026, 5, 21, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered' });
    expect(await stores.digests.sendingForMs('mail', windowEnd)).toBe(0);
  });
});

describe('a third run of a digest job that sends while another run\'s send is still out', () => {
  it('leaves that run\'s mark standing, so a run that finds nothing left waits instead of completing the job', async () => {
    const { stores, hold, stage } = setup('third-run');
    const windowEnd = Date.UTC(2026, 6, 1, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    server.greylisting = true;
    let d: unknown;
    let leftAfterC = 0;
    const inSend = pausedInSend(async () => {
      // C marks its own send, fails it (451 for all) and drops its mark: B's send is still out.
      server.failing = 451;
      await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
      server.failing = undefined;
      leftAfterC = await stores.digests.sendingForMs('mail', windowEnd);
      await hold('top', windowEnd + HOUR, { id: 'top', version: 2, title: 'Top magnet story, changed', level: 'medium', score: 91 });
      d = await stage(windowEnd);
    });
    const b = digestStage({ channelId: 'mail', windowEnd }, { state: inSend, ...stores, log: memoryLogger('fatal').log, now: () => new Date() });
    await expect(b).rejects.toMatchObject({ kind: 'retryable' });
    expect(leftAfterC).toBeGreaterThan(0);
    expect(d).toMatchObject({ status: 'wait' });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'pending', recipients: { [OK]: 'accepted', [GREY]: 'deferred' } });
  });
});

describe('a run ending a window while another run marks its send between the check and the write', () => {
  it('refuses the ending write (the mark is checked in the write itself) and waits', async () => {
    const { stores, hold } = setup('mark-race');
    const windowEnd = Date.UTC(2026, 6, 11, 8);
    await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
    server.greylisting = true;
    let reachedMark!: () => void;
    const atMark = new Promise<void>((resolve) => (reachedMark = resolve));
    let openMark!: () => void;
    const markGate = new Promise<void>((resolve) => (openMark = resolve));
    let reachedSend!: () => void;
    const atSend = new Promise<void>((resolve) => (reachedSend = resolve));
    let openSend!: () => void;
    const sendGate = new Promise<void>((resolve) => (openSend = resolve));
    // A: planned its send, pauses just before it marks it; later, pauses inside the send.
    const aDigests: DigestStore = {
      ...stores.digests,
      markSending: async (...args) => {
        reachedMark();
        await markGate;
        return stores.digests.markSending(...args);
      },
    };
    const aState = pausedInSend(async () => {
      reachedSend();
      await sendGate;
    });
    const a = digestStage({ channelId: 'mail', windowEnd }, { state: aState, ...stores, digests: aDigests, log: memoryLogger('fatal').log, now: () => new Date() });
    await atMark;
    await hold('top', windowEnd + HOUR, { id: 'top', version: 2, title: 'Top magnet story, changed', level: 'medium', score: 91 });
    // B: finds nothing left; its last look at the mark (before the ending write) sees none, then A marks and sends.
    let looks = 0;
    const bDigests: DigestStore = {
      ...stores.digests,
      sendingForMs: async (channelId, end) => {
        const ms = await stores.digests.sendingForMs(channelId, end);
        if (++looks === 2) {
          openMark();
          await atSend;
        }
        return ms;
      },
    };
    const b = await digestStage({ channelId: 'mail', windowEnd }, { state, ...stores, digests: bDigests, log: memoryLogger('fatal').log, now: () => new Date() });
    expect(looks).toBe(2);
    expect(b).toMatchObject({ status: 'wait' });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toBeUndefined();
    openSend();
    await expect(a).rejects.toMatchObject({ kind: 'retryable' });
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toMatchObject({ status: 'pending', recipients: { [OK]: 'accepted', [GREY]: 'deferred' } });
    server.greylisting = false;
  });
});

/**
 * The window's send lands (OK accepted, GREY deferred) and what it carried is recorded; the worker dies before the
 * ledger write.
 */
async function sentThenDied(stores: ReturnType<typeof setup>['stores'], hold: ReturnType<typeof setup>['hold'], windowEnd: number) {
  await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
  server.greylisting = true;
  const dying = { ...stores.deliveries, recordAttempt: async () => Promise.reject(new Error('killed')) } as typeof stores.deliveries;
  await expect(digestStage({ channelId: 'mail', windowEnd }, { state, ...stores, deliveries: dying, log: memoryLogger('fatal').log, now: () => new Date() })).rejects.toThrow();
  server.greylisting = false;
  expect(await stores.digests.carried('mail', windowEnd)).toBeDefined();
}

describe('a digest whose channel is gone after a send reached some recipients but before its ledger write', () => {
  it('ends failed for good, saying some recipients may be without it, not skipped', async () => {
    const { stores, hold } = setup('gone-carried');
    const windowEnd = Date.UTC(2026, 6, 21, 8);
    await sentThenDied(stores, hold, windowEnd);
    expect(await stores.deliveries.get(digestKey('mail', windowEnd))).toBeUndefined();
    const removed = { ...state, notifiers: { get: () => undefined, close: async () => undefined } } as unknown as ConfigState;
    expect(await digestStage({ channelId: 'mail', windowEnd }, { state: removed, ...stores, log: memoryLogger('fatal').log, now: () => new Date() })).toEqual({
      status: 'skipped',
      reason: 'unknown-channel',
    });
    const entry = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(entry).toMatchObject({ status: 'failed', errorKind: 'permanent' });
    expect(entry?.lastError).toContain('no longer configured');
    expect(entry?.lastError).toContain('may be without it');
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', windowEnd));
  });
});

describe('a digest whose alerts expire after a send reached some recipients but before its ledger write', () => {
  it('ends failed for good and stays listed, saying some recipients may be without it', async () => {
    const { stores, hold, stage, keys } = setup('expired-carried');
    const windowEnd = Date.UTC(2026, 6, 25, 8);
    await sentThenDied(stores, hold, windowEnd);
    // Its alert and the message as shown are gone (past retention) before the job's retry.
    await redis.del(alertKeyFor(`${prefix}-expired-carried`, 'top'), keys(windowEnd).shown);
    expect(await stage(windowEnd)).toEqual({ status: 'skipped', reason: 'alerts-expired' });
    const entry = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(entry).toMatchObject({ status: 'failed', errorKind: 'permanent' });
    expect(entry?.lastError).toContain('expired');
    expect(entry?.lastError).toContain('may be without it');
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', windowEnd));
    expect(mailsOf(windowEnd)[GREY]).toHaveLength(0);
    // An operator's retry (off the failed list, the job run again) ends it so again, still saying why.
    await stores.deliveries.clearFailed(digestKey('mail', windowEnd));
    expect(await stage(windowEnd)).toEqual({ status: 'skipped', reason: 'alerts-expired' });
    const retried = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(retried).toMatchObject({ status: 'failed' });
    expect(retried?.lastError).toContain('may be without it');
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', windowEnd));
  });
});
