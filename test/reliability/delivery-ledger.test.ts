import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { recordStalledOut } from '../../src/queue/delivery-job.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

/** The delivery ledger's 429 bookkeeping against a real Redis: per notification and per channel. */
const prefix = uniquePrefix('rel-ledger');
const redis = new Redis(testRedisUrl());
const ledger = createDeliveryStore(redis, prefix, 3600);
const at = new Date('2026-03-01T10:00:00Z');

afterAll(async () => {
  redis.disconnect();
  await cleanPrefix(prefix);
});

describe('429s of one notification', () => {
  it('counts the 429 answers the notification itself got, and counts anew after a failed verdict (an operator retry)', async () => {
    const base = { alertId: 'r1', version: 1, channelId: 'hook' };
    const limited = { status: 'rate-limited', error: 'HTTP 429', errorKind: 'rate-limited', at } as const;
    for (let i = 0; i < 3; i++) await ledger.recordAttempt('r1-v1-hook', base, limited);
    await ledger.recordAttempt('r1-v1-hook', base, { status: 'pending', error: 'HTTP 500', errorKind: 'retryable', at });
    expect(await ledger.get('r1-v1-hook')).toMatchObject({ status: 'pending', attempts: 1, rateLimited: 3 });
    await ledger.recordAttempt('r1-v1-hook', base, limited);
    expect(await ledger.recordAttempt('r1-v1-hook', base, { status: 'failed', error: 'HTTP 429', errorKind: 'rate-limited', at })).toMatchObject({ status: 'failed', rateLimited: 4 });
    // Retried by the operator: the notification gets the whole allowance again.
    expect(await ledger.recordAttempt('r1-v1-hook', base, limited)).toMatchObject({ status: 'rate-limited', rateLimited: 1 });
  });

  it('leaves the count out of an entry that never got a 429', async () => {
    const entry = await ledger.recordAttempt('r2-v1-hook', { alertId: 'r2', version: 1, channelId: 'hook' }, { status: 'delivered', response: 'HTTP 200', at });
    expect(entry.rateLimited).toBeUndefined();
  });
});

describe('an email delivery that some recipients deferred', () => {
  const base = (alertId: string) => ({ alertId, version: 1, channelId: 'mail' });
  const partial = { status: 'pending', error: 'deferred: b@example.com', errorKind: 'retryable', response: '250 OK', refs: { messageId: '<m1@example.com>' }, at } as const;

  it('stays pending with who has the message, and is delivered once every recipient accepted or was refused for good', async () => {
    const first = await ledger.recordAttempt('p1-v1-mail', base('p1'), { ...partial, recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred', 'c@example.com': 'refused' } });
    expect(first).toMatchObject({ status: 'pending', attempts: 1, recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred', 'c@example.com': 'refused' } });
    expect(await ledger.get('p1-v1-mail')).toEqual(first);
    // Not yet a thread to follow up in: the refs are kept for this delivery's retries only.
    expect(await redis.hgetall(`{${prefix}}:delivery-refs:p1:mail`)).toEqual({});
    // A failure with no word on the recipients (the server could not be reached) keeps what is known.
    await ledger.recordAttempt('p1-v1-mail', base('p1'), { status: 'pending', error: 'ECONNECTION', errorKind: 'retryable', at });
    expect((await ledger.get('p1-v1-mail'))!.recipients).toEqual(first.recipients);
    const done = await ledger.recordAttempt('p1-v1-mail', base('p1'), {
      status: 'delivered',
      response: '250 OK; refused: c@example.com',
      refs: { messageId: '<m1@example.com>' },
      recipients: { 'a@example.com': 'accepted', 'b@example.com': 'accepted', 'c@example.com': 'refused' },
      at,
    });
    expect(done).toMatchObject({ status: 'delivered', attempts: 3, recipients: { 'b@example.com': 'accepted', 'c@example.com': 'refused' } });
    expect(await redis.hgetall(`{${prefix}}:delivery-refs:p1:mail`)).toEqual({ messageId: '<m1@example.com>' });
  });

  it('keeps an acceptance that a twin run reports as deferred, and is delivered when the twins together reached everyone', async () => {
    await ledger.recordAttempt('p2-v1-mail', base('p2'), { status: 'pending', error: 'ECONNECTION', errorKind: 'retryable', at });
    const [mine, twin] = [await ledger.beforeSend('p2-v1-mail', 'p2', 'mail'), await ledger.beforeSend('p2-v1-mail', 'p2', 'mail')];
    await ledger.recordAttempt('p2-v1-mail', base('p2'), { ...partial, recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred' } }, twin.entryAsRead);
    const entry = await ledger.recordAttempt('p2-v1-mail', base('p2'), { ...partial, recipients: { 'a@example.com': 'deferred', 'b@example.com': 'accepted' } }, mine.entryAsRead);
    expect(entry).toMatchObject({ status: 'delivered', recipients: { 'a@example.com': 'accepted', 'b@example.com': 'accepted' } });
    expect(entry.lastError).toBeUndefined();
    expect(entry.deliveredAt).toBe(at.toISOString());
    // A third run, late with its partial send, cannot reopen it: its retry would send again.
    const late = await ledger.recordAttempt('p2-v1-mail', base('p2'), { ...partial, recipients: { 'a@example.com': 'deferred', 'b@example.com': 'deferred' } }, twin.entryAsRead);
    expect(late).toEqual(entry);
  });

  it('keeps the recipients through a failed verdict, for an operator retry to send to the rest', async () => {
    await ledger.recordAttempt('p3-v1-mail', base('p3'), { ...partial, recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred' } });
    const failed = await ledger.recordAttempt('p3-v1-mail', base('p3'), { status: 'failed', error: 'attempts exhausted', errorKind: 'retryable', at });
    expect(failed).toMatchObject({ status: 'failed', recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred' } });
    expect((await ledger.listFailed()).find((d) => d.key === 'p3-v1-mail')?.recipients).toEqual(failed.recipients);
  });

  it('keeps a recipient that accepted before a config reload removed it, so that once the reload is undone it is not sent the message again', async () => {
    await ledger.recordAttempt('p5-v1-mail', base('p5'), { ...partial, recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred' } });
    // The reload removed a: the retry went to b alone, which deferred again.
    const second = await ledger.recordAttempt('p5-v1-mail', base('p5'), { ...partial, recipients: { 'b@example.com': 'deferred' } });
    expect(second).toMatchObject({ status: 'pending', attempts: 2, recipients: { 'a@example.com': 'accepted', 'b@example.com': 'deferred' } });
  });

  it('is done once the recipients the channel has now are reached, whatever one removed since was left at', async () => {
    await ledger.recordAttempt('p6-v1-mail', base('p6'), { ...partial, recipients: { 'gone@example.com': 'deferred', 'b@example.com': 'deferred' } });
    const [mine, twin] = [await ledger.beforeSend('p6-v1-mail', 'p6', 'mail'), await ledger.beforeSend('p6-v1-mail', 'p6', 'mail')];
    // After a reload that removed gone@ and added c@, two runs at once: each reached one of b and c.
    await ledger.recordAttempt('p6-v1-mail', base('p6'), { ...partial, recipients: { 'b@example.com': 'accepted', 'c@example.com': 'deferred' } }, twin.entryAsRead);
    const entry = await ledger.recordAttempt('p6-v1-mail', base('p6'), { ...partial, recipients: { 'b@example.com': 'deferred', 'c@example.com': 'accepted' } }, mine.entryAsRead);
    expect(entry).toMatchObject({ status: 'delivered', recipients: { 'gone@example.com': 'deferred', 'b@example.com': 'accepted', 'c@example.com': 'accepted' } });
  });

  it('is not delivered when every recipient refused for good and none accepted', async () => {
    const entry = await ledger.recordAttempt('p4-v1-mail', base('p4'), { ...partial, recipients: { 'a@example.com': 'refused', 'b@example.com': 'refused' } });
    expect(entry.status).toBe('pending');
  });
});

describe('a channel blocked after 429s', () => {
  it('keeps the later of two blocks that arrive together, whatever their order', async () => {
    const later = Date.now() + 60_000;
    await Promise.all([ledger.blockChannel('twin', later), ledger.blockChannel('twin', later - 30_000)]);
    expect(await ledger.blockedUntil('twin')).toBe(later);
    await Promise.all([ledger.blockChannel('twin', later - 10_000), ledger.blockChannel('twin', later + 5_000)]);
    expect(await ledger.blockedUntil('twin')).toBe(later + 5_000);
  });

  it('expires the block when it ends', async () => {
    const until = Date.now() + 20_000;
    await ledger.blockChannel('expiring', until);
    const ttl = await redis.pttl(`{${prefix}}:channel-block:expiring`);
    expect(ttl).toBeGreaterThan(15_000);
    expect(ttl).toBeLessThanOrEqual(20_000);
  });
});

describe('a notification whose workers kept dying', () => {
  const deps = { deliveries: ledger, now: () => at };

  it('is recorded failed, and listed with the failed deliveries, notify and digest jobs alike', async () => {
    expect(await recordStalledOut('notify', { alertId: 's1', version: 2, channelId: 'hook' }, deps, 6)).toBe(true);
    expect(await ledger.get('s1-v2-hook')).toMatchObject({ status: 'failed', errorKind: 'stalled', alertId: 's1', version: 2 });
    expect((await ledger.get('s1-v2-hook'))!.lastError).toContain('died 6 times');
    expect(await recordStalledOut('digest', { channelId: 'hook', windowEnd: 1_700_000_000_000 }, deps, 6)).toBe(true);
    const failed = (await ledger.listFailed()).map((d) => d.key);
    expect(failed).toEqual(expect.arrayContaining(['s1-v2-hook', 'digest-hook-1700000000000']));
  });

  it('stays delivered when it was, and is not a delivery at all on another queue', async () => {
    const base = { alertId: 's2', version: 1, channelId: 'hook' };
    await ledger.recordAttempt('s2-v1-hook', base, { status: 'delivered', response: 'HTTP 200', at });
    expect(await recordStalledOut('notify', base, deps, 6)).toBe(false);
    expect(await ledger.get('s2-v1-hook')).toMatchObject({ status: 'delivered' });
    expect(await recordStalledOut('score', { sourceId: 'wire', items: [] }, deps, 6)).toBe(false);
  });
});
