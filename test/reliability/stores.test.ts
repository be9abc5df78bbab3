import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createDeliveryStore } from '../../src/store/deliveries.js';
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
    const ledger = createDeliveryStore(redis, prefix, 3600);
    const b = { ...base, alertId: 'a4' };
    await ledger.recordAttempt('a4-v1-hook', b, { status: 'pending', error: 'HTTP 500', errorKind: 'retryable', at });
    // Both runs read the ledger before their send; one twin fails again, then the other delivers, then a late failure.
    const [mine, twin] = [await ledger.beforeSend('a4-v1-hook', 'a4', 'hook'), await ledger.beforeSend('a4-v1-hook', 'a4', 'hook')];
    await ledger.recordAttempt('a4-v1-hook', b, { status: 'pending', error: 'HTTP 502', errorKind: 'retryable', at }, twin.entryAsRead);
    const delivered = await ledger.recordAttempt('a4-v1-hook', b, { status: 'delivered', response: 'HTTP 200', refs: { ts: '9.9' }, at }, mine.entryAsRead);
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 3, refs: { ts: '9.9' } });
    const late = await ledger.recordAttempt('a4-v1-hook', b, { status: 'failed', error: 'timeout', errorKind: 'retryable', at }, twin.entryAsRead);
    expect(late).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(await ledger.get('a4-v1-hook')).toMatchObject({ status: 'delivered', attempts: 3, response: 'HTTP 200' });
    expect(await redis.hgetall(`{${prefix}}:delivery-refs:a4:hook`)).toEqual({ ts: '9.9' });
    expect(await redis.smembers(`{${prefix}}:deliveries:alert:a4`)).toEqual(['a4-v1-hook']);
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
});
