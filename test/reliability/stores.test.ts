import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dispatch } from '../../src/alerts/routing.js';
import { makeAlert } from '../alerts/fixtures.js';
import { createAlertStore } from '../../src/store/alerts.js';
import { createDeliveryStore, LedgerChangedError, SendMarkedError } from '../../src/store/deliveries.js';
import { createDigestStore } from '../../src/store/digests.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { createSeenStore } from '../../src/store/seen.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/** The two stores every item and every notification passes through, against a real Redis. */
const prefix = uniquePrefix('rel-stores');
const redis = new Redis(testRedisUrl());

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

describe('the seen store', () => {
  it('remembers a large poll in chunks and reports only the new ids, in order', async () => {
    const seen = createSeenStore(redis, prefix, 60);
    const ids = Array.from({ length: 1_234 }, (_, i) => `item-${i}`);
    await seen.markSeen(ids.filter((_, i) => i % 3 === 0));
    const unseen = await seen.filterUnseen([...ids, 'brand-new']);
    expect(unseen).toEqual([...ids.filter((_, i) => i % 3 !== 0), 'brand-new']);
  });

  it('lets fingerprints expire with the retention, so memory stays bounded', async () => {
    const seen = createSeenStore(redis, prefix, 60);
    await seen.markSeen(['expiring']);
    const ttl = await redis.ttl(`{${prefix}}:seen:expiring`);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it('keeps an id seen past its first retention while every poll still lists it, and lets an unlisted one expire', async () => {
    // A 1 s retention stands for 30 days; a check every 150 ms for a poll every few minutes.
    const seen = createSeenStore(redis, prefix, 1);
    await seen.markSeen(['still-listed', 'dropped-from-feed']);
    const until = Date.now() + 1_600;
    while (Date.now() < until) {
      expect(await seen.filterUnseen(['still-listed'])).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(await seen.filterUnseen(['still-listed', 'dropped-from-feed'])).toEqual(['dropped-from-feed']);
  });
});

describe('the delivery ledger', () => {
  const base = { alertId: 'a1', version: 1, channelId: 'hook' };
  const at = new Date('2026-03-01T10:00:00Z');

  it('counts each send once when a notification is finally given up', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    for (let i = 0; i < 3; i++) await ledger.recordAttempt('a1-v1-hook', base, { status: 'pending', error: 'HTTP 500', errorKind: 'retryable', at });
    await ledger.recordAttempt('a1-v1-hook', base, { status: 'failed', error: 'HTTP 500', errorKind: 'retryable', at });
    const [failed] = await ledger.listFailed();
    expect(failed).toMatchObject({ key: 'a1-v1-hook', status: 'failed', attempts: 3, lastError: 'HTTP 500' });
  });

  it('does not count 429 answers as attempts, and forgets the failure once delivered', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const b = { ...base, alertId: 'a2' };
    await ledger.recordAttempt('a2-v1-hook', b, { status: 'rate-limited', error: 'HTTP 429', errorKind: 'rate-limited', at });
    await ledger.recordAttempt('a2-v1-hook', b, { status: 'pending', error: 'HTTP 500', errorKind: 'retryable', at });
    await ledger.recordAttempt('a2-v1-hook', b, { status: 'delivered', response: 'HTTP 200', at });
    expect(await ledger.get('a2-v1-hook')).toMatchObject({ status: 'delivered', attempts: 2 });
    expect((await ledger.listFailed()).map((d) => d.key)).not.toContain('a2-v1-hook');
  });

  it('keeps a delivered entry delivered when a twin run of the job fails afterwards (its retry would send again)', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const b = { ...base, alertId: 'a3' };
    await ledger.recordAttempt('a3-v1-hook', b, { status: 'delivered', response: 'HTTP 200', refs: { ts: '1.2' }, at });
    for (const status of ['pending', 'rate-limited', 'failed'] as const) {
      const entry = await ledger.recordAttempt('a3-v1-hook', b, { status, error: 'socket hang up', errorKind: 'retryable', at });
      expect(entry).toMatchObject({ status: 'delivered', attempts: 1, refs: { ts: '1.2' } });
    }
    expect(await ledger.get('a3-v1-hook')).toMatchObject({ status: 'delivered', attempts: 1, deliveredAt: at.toISOString() });
    expect((await ledger.listFailed()).map((d) => d.key)).not.toContain('a3-v1-hook');
  });

  it('builds on the entry as it is when a twin run changed it after this run read it before sending', async () => {
    let conflicts = 0;
    const ledger = createDeliveryStore(redis, prefix, 3600, () => conflicts++);
    const b = { ...base, alertId: 'a4' };
    await ledger.recordAttempt('a4-v1-hook', b, { status: 'pending', error: 'HTTP 500', errorKind: 'retryable', at });
    // Both runs read the ledger before their send; one twin fails again, then the other delivers, then a late failure.
    const [mine, twin] = [await ledger.beforeSend('a4-v1-hook', 'a4', 'hook'), await ledger.beforeSend('a4-v1-hook', 'a4', 'hook')];
    await ledger.recordAttempt('a4-v1-hook', b, { status: 'pending', error: 'HTTP 502', errorKind: 'retryable', at }, twin.entryAsRead);
    const delivered = await ledger.recordAttempt('a4-v1-hook', b, { status: 'delivered', response: 'HTTP 200', refs: { ts: '9.9' }, at }, mine.entryAsRead);
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 3, refs: { ts: '9.9' } });
    expect(conflicts).toBe(1);
    const late = await ledger.recordAttempt('a4-v1-hook', b, { status: 'failed', error: 'timeout', errorKind: 'retryable', at }, twin.entryAsRead);
    expect(late).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(conflicts).toBe(2);
    expect(await ledger.get('a4-v1-hook')).toMatchObject({ status: 'delivered', attempts: 3, response: 'HTTP 200' });
    expect(await redis.hgetall(`{${prefix}}:delivery-refs:a4:hook`)).toEqual({ ts: '9.9' });
    expect(await redis.smembers(`{${prefix}}:deliveries:alert:a4`)).toEqual(['a4-v1-hook']);
  });

  it('reads everything a send depends on in one call: entry, 429 block, refs, the alert and its decisions', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const alerts = createAlertStore(redis, prefix, { days: 1, count: 100 });
    const dispatch = createDispatchStore(redis, prefix, 3600);
    const empty = await ledger.beforeSend('a5-v1-hook', 'a5', 'hook');
    expect(empty).toEqual({ existing: undefined, blockedUntil: 0, refs: {}, entryAsRead: { raw: null }, alert: undefined, decisions: [] });

    const alert = makeAlert({ id: 'a5', version: 2 });
    await alerts.update('a5', async () => ({ alert, result: null }));
    const decision = (version: number, channelId: string): Dispatch => ({ channelId, version, mode: 'immediate', why: 'immediate', sendAt: 5, decidedAt: 5 });
    for (const [version, channelId] of [[2, 'hook'], [1, 'mail'], [1, 'hook']] as const) await dispatch.record('a5', decision(version, channelId));
    await ledger.recordAttempt('a5-v1-hook', { ...base, alertId: 'a5' }, { status: 'delivered', response: 'HTTP 200', refs: { ts: '1.5' }, at });
    // A block that has not ended yet: one already over expires (at least 1 ms later), under load before it is read.
    const until = Date.now() + 60_000;
    await ledger.blockChannel('hook', until);
    const read = await ledger.beforeSend('a5-v1-hook', 'a5', 'hook');
    expect(read.existing).toMatchObject({ status: 'delivered', refs: { ts: '1.5' } });
    expect(read.entryAsRead.raw).toBe(await redis.get(`{${prefix}}:delivery:a5-v1-hook`));
    expect(read.blockedUntil).toBe(until);
    expect(read.refs).toEqual({ ts: '1.5' });
    expect(read.alert).toEqual(alert);
    expect(read.decisions.map((d) => `${d.version}|${d.channelId}`)).toEqual(['1|hook', '1|mail', '2|hook']);
  });

  it("reads a 429 block's time left as beforeSend does: from the stored end on Redis's clock, TTL or not", async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const [seconds, micros] = await redis.time();
    const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    // Set by hand (an operator, an older release): an end without a TTL still holds the channel.
    await redis.set(`{${prefix}}:channel-block:by-hand`, String(redisNow + 60_000));
    const left = await ledger.blockedForMs('by-hand');
    expect(left).toBeGreaterThan(59_000);
    expect(left).toBeLessThanOrEqual(60_000);
    expect((await ledger.beforeSend('x-v1-by-hand', 'x', 'by-hand')).blockedForMs).toBeGreaterThan(59_000);
    await redis.set(`{${prefix}}:channel-block:over`, String(redisNow - 1_000));
    expect(await ledger.blockedForMs('over')).toBe(0);
    expect(await ledger.blockedForMs('never')).toBe(0);
  });

  it("records a dispatch decision and settles the channel's digest holding by the decision that won the record", async () => {
    const dispatch = createDispatchStore(redis, prefix, 3600);
    const digests = createDigestStore(redis, prefix, 3600);
    const held: Dispatch = { channelId: 'ops', version: 1, mode: 'digest', why: 'throttled', decidedAt: 1_700_000_000_123 };
    expect(await dispatch.record('tw', held)).toEqual(held);
    expect(await digests.pending('ops', Infinity)).toEqual([{ alertId: 'tw', heldAt: held.decidedAt }]);
    // A twin run that decided otherwise loses the record, and the holding stays as the winner says.
    const twin: Dispatch = { channelId: 'ops', version: 1, mode: 'immediate', why: 'immediate', sendAt: 1_700_000_000_200, decidedAt: 1_700_000_000_200 };
    expect(await dispatch.record('tw', twin)).toEqual(held);
    expect(await digests.pending('ops', Infinity)).toEqual([{ alertId: 'tw', heldAt: held.decidedAt }]);
    // A newer version that goes out by itself releases the holding.
    expect(await dispatch.record('tw', { ...twin, version: 2 })).toEqual({ ...twin, version: 2 });
    expect(await digests.pending('ops', Infinity)).toEqual([]);
    expect(await redis.ttl(`{${prefix}}:dispatch:tw`)).toBeGreaterThan(3500);
  });

  it('does not hold for the digest a version the ledger already has delivered to the channel', async () => {
    const dispatch = createDispatchStore(redis, prefix, 3600);
    const digests = createDigestStore(redis, prefix, 3600);
    const ledger = createDeliveryStore(redis, prefix, 3600);
    // An older version's job sent version 2's content (the alert's current one) before version 2 was decided.
    await ledger.recordAttempt('late-v2-late', { alertId: 'late', version: 2, channelId: 'late' }, { status: 'delivered', response: 'HTTP 200', at });
    await dispatch.record('late', { channelId: 'late', version: 2, mode: 'digest', why: 'below-immediate-level', decidedAt: 1_700_000_000_300 });
    expect(await digests.pending('late', Infinity)).toEqual([]);
  });

  it('indexes a digest delivery (no alert) as failed and unindexes it once delivered', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const d = { channelId: 'mail' };
    await ledger.recordAttempt('digest-mail-1', d, { status: 'failed', error: 'HTTP 500', errorKind: 'retryable', at });
    expect((await ledger.listFailed()).map((x) => x.key)).toContain('digest-mail-1');
    const before = await ledger.beforeSend('digest-mail-1', 'digest', 'mail');
    await ledger.recordAttempt('digest-mail-1', d, { status: 'delivered', response: 'sent', at }, before.entryAsRead);
    expect(await ledger.get('digest-mail-1')).toMatchObject({ status: 'delivered', attempts: 1 });
    expect((await ledger.listFailed()).map((x) => x.key)).not.toContain('digest-mail-1');
  });

  it('never ends skipped a digest window a recipient has, so the ones still deferring it get it', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const d = { channelId: 'mail' };
    const recipients = { 'ok@example.com': 'accepted', 'grey@example.com': 'deferred' } as const;
    await ledger.recordAttempt('digest-mail-2', d, { status: 'pending', error: 'deferred', errorKind: 'retryable', recipients, at });
    const entry = await ledger.recordAttempt('digest-mail-2', d, { status: 'skipped', response: 'nothing left to send', at });
    expect(entry).toMatchObject({ status: 'pending', recipients });
    expect(await ledger.get('digest-mail-2')).toMatchObject({ status: 'pending', recipients });
  });

  it('writes a conditional entry only if it is still as read, and says so otherwise', async () => {
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const d = { channelId: 'mail' };
    await ledger.recordAttempt('digest-mail-3', d, { status: 'pending', error: 'HTTP 500', errorKind: 'retryable', at });
    const { entryAsRead } = await ledger.read('digest-mail-3');
    await ledger.recordAttempt('digest-mail-3', d, { status: 'pending', error: 'HTTP 502', errorKind: 'retryable', at });
    await expect(ledger.recordAttempt('digest-mail-3', d, { status: 'skipped', response: 'nothing left', at }, entryAsRead, { ifUnchanged: true })).rejects.toBeInstanceOf(LedgerChangedError);
    expect(await ledger.get('digest-mail-3')).toMatchObject({ status: 'pending', lastError: 'HTTP 502' });
  });
});

describe('dispatch decisions and digest holdings', () => {
  const decided = (version: number, mode: Dispatch['mode'], at: number): Dispatch =>
    mode === 'digest' ? { channelId: 'desk', version, mode, why: 'below-immediate-level', decidedAt: at } : { channelId: 'desk', version, mode, why: 'immediate', sendAt: at, decidedAt: at };

  it('keeps a digest send mark until the run that set it drops it or it runs out, never dropped by another run', async () => {
    const digests = createDigestStore(redis, `${prefix}-sending`, 3600);
    expect(await digests.sendingForMs('desk', 1_000)).toBe(0);
    await digests.markSending('desk', 1_000, 'run-a', 60_000);
    await digests.markSending('desk', 1_000, 'run-b', 60_000);
    await digests.unmarkSending('desk', 1_000, 'run-a');
    const left = await digests.sendingForMs('desk', 1_000);
    expect(left).toBeGreaterThan(59_000);
    expect(left).toBeLessThanOrEqual(60_000);
    await digests.unmarkSending('desk', 1_000, 'run-b');
    expect(await digests.sendingForMs('desk', 1_000)).toBe(0);
    await digests.markSending('desk', 2_000, 'run-c', 30);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await digests.sendingForMs('desk', 2_000)).toBe(0);
  });

  it('keeps one send mark per run: a later run\'s mark and its drop leave an earlier run\'s standing', async () => {
    const digests = createDigestStore(redis, `${prefix}-sending-runs`, 3600);
    const key = `{${prefix}-sending-runs}:digest-sending:desk:1000`;
    await digests.markSending('desk', 1_000, 'run-a', 60_000);
    await digests.markSending('desk', 1_000, 'run-b', 5_000);
    expect(await digests.sendingForMs('desk', 1_000)).toBeGreaterThan(59_000);
    await digests.unmarkSending('desk', 1_000, 'run-b');
    expect(await digests.sendingForMs('desk', 1_000)).toBeGreaterThan(59_000);
    // The key lasts as long as its longest mark, not past it.
    expect(await redis.pttl(key)).toBeGreaterThan(59_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);
    // An expired member counts for nothing and is dropped.
    await digests.markSending('desk', 1_000, 'run-c', 20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await digests.unmarkSending('desk', 1_000, 'run-a');
    expect(await digests.sendingForMs('desk', 1_000)).toBe(0);
    expect(await redis.exists(key)).toBe(0);
  });

  it('takes a send mark an earlier version left (one string with a TTL) as a live mark, without WRONGTYPE', async () => {
    const p = `${prefix}-sending-legacy`;
    const ledger = createDeliveryStore(redis, p, 3600);
    const digests = createDigestStore(redis, p, 3600);
    const key = `{${p}}:digest-sending:desk:1000`;
    await redis.set(key, 'old-run', 'PX', 60_000);
    await expect(ledger.recordAttempt('digest-desk-1000', { channelId: 'desk' }, { status: 'skipped', at: new Date() }, { raw: null }, { ifUnchanged: true, unlessSending: 1_000 })).rejects.toBeInstanceOf(SendMarkedError);
    expect(await digests.sendingForMs('desk', 1_000)).toBeGreaterThan(59_000);
    await digests.markSending('desk', 1_000, 'new-run', 1_000);
    await digests.unmarkSending('desk', 1_000, 'new-run');
    expect(await digests.sendingForMs('desk', 1_000)).toBeGreaterThan(58_000);
  });

  it('refuses a ledger write asked to wait out a live send mark of its window, and writes it once the mark is gone', async () => {
    const p = `${prefix}-sending-write`;
    const ledger = createDeliveryStore(redis, p, 3600);
    const digests = createDigestStore(redis, p, 3600);
    const d = { channelId: 'desk' };
    const at = new Date();
    const { entryAsRead } = await ledger.read('digest-desk-1000');
    await digests.markSending('desk', 1_000, 'run-a', 60_000);
    const refused = ledger.recordAttempt('digest-desk-1000', d, { status: 'skipped', response: 'nothing left', at }, entryAsRead, { ifUnchanged: true, unlessSending: 1_000 });
    await expect(refused).rejects.toBeInstanceOf(SendMarkedError);
    await expect(refused).rejects.toMatchObject({ forMs: expect.any(Number) });
    expect(await ledger.get('digest-desk-1000')).toBeUndefined();
    // Another window's mark is not this one's.
    await digests.markSending('desk', 2_000, 'run-b', 60_000);
    await digests.unmarkSending('desk', 1_000, 'run-a');
    await ledger.recordAttempt('digest-desk-1000', d, { status: 'skipped', response: 'nothing left', at }, entryAsRead, { ifUnchanged: true, unlessSending: 1_000 });
    expect(await ledger.get('digest-desk-1000')).toMatchObject({ status: 'skipped' });
  });

  it('settles a holding only when it records the decision, so a digest that carried the alert is not repeated', async () => {
    const dispatch = createDispatchStore(redis, `${prefix}-held-once`, 3600);
    const digests = createDigestStore(redis, `${prefix}-held-once`, 3600);
    await dispatch.record('once', decided(1, 'digest', 1_000));
    const carried = await digests.pending('desk', Infinity);
    expect(carried).toEqual([{ alertId: 'once', heldAt: 1_000 }]);
    await digests.clear('desk', carried);
    // Recording the same version again (a twin run's decision, a replay) finds it recorded and holds nothing.
    expect(await dispatch.record('once', decided(1, 'digest', 2_000))).toEqual(decided(1, 'digest', 1_000));
    expect(await digests.pending('desk', Infinity)).toEqual([]);
  });

  it('lets only the newest version recorded for the channel hold or release the alert', async () => {
    const dispatch = createDispatchStore(redis, `${prefix}-held-newest`, 3600);
    const digests = createDigestStore(redis, `${prefix}-held-newest`, 3600);
    await dispatch.record('newest', decided(2, 'digest', 2_000));
    // Version 1 recorded late (sent at once) leaves version 2 held; a late held version 1 does not move it back.
    await dispatch.record('newest', decided(1, 'immediate', 1_000));
    expect(await digests.pending('desk', Infinity)).toEqual([{ alertId: 'newest', heldAt: 2_000 }]);
    await dispatch.record('newest', { ...decided(1, 'digest', 1_500), channelId: 'other' });
    expect(await digests.pending('other', Infinity)).toEqual([{ alertId: 'newest', heldAt: 1_500 }]);
    // A newer version sent by itself releases it; one for another channel does not.
    await dispatch.record('newest', decided(3, 'immediate', 3_000));
    expect(await digests.pending('desk', Infinity)).toEqual([]);
    expect(await digests.pending('other', Infinity)).toEqual([{ alertId: 'newest', heldAt: 1_500 }]);
  });
});
