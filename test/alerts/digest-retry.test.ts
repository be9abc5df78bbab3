import type { ParsedMail } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { uniquePrefix } from '../helpers/redis.js';
import { GREY, OK, mailsOf, redis, server, useEmailDigestChannel, windowStores } from './email-digest.js';

/**
 * Retries of an email digest, on real Redis and a real SMTP server: a retry sends the deferred recipients the very
 * message the others got, and a window whose alerts a later digest sent ends superseded, not failed.
 */
const prefix = uniquePrefix('digest-retry');
const HOUR = 3_600_000;

useEmailDigestChannel(prefix, '{ schedule: "0 8 * * *" }');

function setup(name: string) {
  return windowStores(`${prefix}-${name}`, { retentionSeconds: 3600, alertDays: 1, logLevel: 'fatal' });
}

/** The messages of one window's digest that reached each address. */

/** What a reader sees of a message: the headers that render it and both bodies. */
const seen = (mail: ParsedMail) => ({ subject: mail.subject, messageId: mail.messageId, text: mail.text, html: mail.html });

describe('an email digest retried for a recipient that deferred it', () => {
  it('sends that recipient the message the others got, though an alert in it was updated before the retry', async () => {
    const { stores, hold, stage } = setup('updated');
    const windowEnd = Date.UTC(2026, 2, 2, 8);
    await hold('tariff', windowEnd - 2 * HOUR, { id: 'tariff', title: 'Tariff on magnets announced', level: 'info' });
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    // A new version of the alert before the retry: new title and level, held again for the next digest.
    await hold('tariff', windowEnd + HOUR, { id: 'tariff', version: 2, title: 'Tariff on magnets doubled', level: 'low', sources: ['a', 'b', 'c'] });

    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered', alerts: 1 });
    const mails = mailsOf(windowEnd);
    expect(mails[OK]).toHaveLength(1);
    expect(mails[GREY]).toHaveLength(1);
    expect(seen(mails[GREY]![0]!)).toEqual(seen(mails[OK]![0]!));
    expect(mails[GREY]![0]!.text).toContain('Tariff on magnets announced');
    expect(mails[GREY]![0]!.text).not.toContain('doubled');
    // The new version is the next digest's news, for everyone.
    expect(await stage(windowEnd + 24 * HOUR)).toMatchObject({ status: 'delivered', alerts: 1 });
    const next = mailsOf(windowEnd + 24 * HOUR);
    for (const address of [OK, GREY]) expect(next[address]!.map((m) => m.text?.includes('Tariff on magnets doubled')), address).toEqual([true]);
    expect((await stores.deliveries.get(digestKey('mail', windowEnd)))?.status).toBe('delivered');
  });

  it('sends it the same message also when what the first send carried was not recorded', async () => {
    const { stores, hold, stage } = setup('uncarried');
    const windowEnd = Date.UTC(2026, 2, 12, 8);
    const heldAt = windowEnd - 2 * HOUR;
    await hold('quota', heldAt, { id: 'quota', title: 'Export quota cut', level: 'info' });
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    // The carry's write was lost (the worker died before it): the alert is still held, nothing recorded as carried.
    await redis.del(`{${prefix}-uncarried}:digest-carried:mail:${windowEnd}`, `{${prefix}-uncarried}:digest-last:mail`);
    await redis.zadd(`{${prefix}-uncarried}:digest-held:mail`, heldAt, 'quota');
    expect(await stores.digests.carried('mail', windowEnd)).toBeUndefined();
    expect(await stores.digests.pending('mail', Infinity)).toEqual([{ alertId: 'quota', heldAt }]);
    // Updated before the retry, same version (another outlet carried the story).
    await stores.alerts.update('quota', async (a) => ({ alert: { ...a!, title: 'Export quota cut by half', sources: ['x', 'y'] }, result: null }));

    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered' });
    const mails = mailsOf(windowEnd);
    expect(mails[GREY]).toHaveLength(1);
    expect(seen(mails[GREY]![0]!)).toEqual(seen(mails[OK]![0]!));
    expect(mails[GREY]![0]!.text).not.toContain('by half');
  });
});

describe('a digest window whose alerts a later window sent', () => {
  it('ends superseded, naming the later window, when it runs again with retries left', async () => {
    const { stores, hold, stage } = setup('pending');
    const first = Date.UTC(2026, 3, 1, 8);
    const later = first + 24 * HOUR;
    await hold('ore', first - HOUR);
    server.failing = 451;
    await expect(stage(first)).rejects.toMatchObject({ kind: 'retryable' });
    server.failing = undefined;
    expect((await stores.deliveries.get(digestKey('mail', first)))?.status).toBe('pending');
    await hold('smelter', later - HOUR);
    expect(await stage(later)).toMatchObject({ status: 'delivered', alerts: 2 });

    expect(await stage(first)).toEqual({ status: 'skipped', reason: 'superseded' });
    const entry = await stores.deliveries.get(digestKey('mail', first));
    expect(entry?.status).toBe('skipped');
    expect(entry?.response).toContain(new Date(later).toISOString());
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).not.toContain(digestKey('mail', first));
    expect(mailsOf(first)[OK]).toHaveLength(0);
  });

  it('ends superseded, naming the later window, when it had already been given up', async () => {
    const { stores, hold, stage } = setup('given-up');
    const first = Date.UTC(2026, 3, 11, 8);
    const later = first + 24 * HOUR;
    await hold('ore', first - HOUR);
    server.failing = 451;
    await expect(stage(first)).rejects.toMatchObject({ kind: 'retryable' });
    server.failing = undefined;
    // Its attempts ran out: the job layer recorded it failed (settleDeliveryFailure); no job of it runs again.
    await stores.deliveries.recordAttempt(digestKey('mail', first), { channelId: 'mail' }, { status: 'failed', error: 'given up after 8 attempts', errorKind: 'retryable', at: new Date() });
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', first));
    await hold('smelter', later - HOUR);
    expect(await stage(later)).toMatchObject({ status: 'delivered', alerts: 2 });

    const entry = await stores.deliveries.get(digestKey('mail', first));
    expect(entry?.status).toBe('skipped');
    expect(entry?.response).toContain(new Date(later).toISOString());
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).not.toContain(digestKey('mail', first));
  });

  it('stays failed when some of its recipients had it: the later digest did not send them its alerts', async () => {
    const { stores, hold, stage } = setup('reached');
    const first = Date.UTC(2026, 3, 21, 8);
    const later = first + 24 * HOUR;
    await hold('ore', first - HOUR);
    server.greylisting = true;
    await expect(stage(first)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    await stores.deliveries.recordAttempt(digestKey('mail', first), { channelId: 'mail' }, { status: 'failed', error: 'given up after 8 attempts', errorKind: 'retryable', at: new Date() });
    await hold('smelter', later - HOUR);
    expect(await stage(later)).toMatchObject({ status: 'delivered', alerts: 1 });

    expect((await stores.deliveries.get(digestKey('mail', first)))?.status).toBe('failed');
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', first));
  });
});

describe('a digest on a channel whose pace a reload took out', () => {
  it('gives up the slot it still held from the pace, so that its retry is not woken as a slot wait', async () => {
    const { stores, hold, stage } = setup('unpaced');
    const windowEnd = Date.UTC(2026, 3, 2, 8);
    await hold('ban', windowEnd - HOUR, { id: 'ban', title: 'Gallium export ban', level: 'info' });
    // Held when the channel was paced (the reload's wake then promoted the job); a parked marker would stay.
    const key = digestKey('mail', windowEnd);
    await stores.deliveries.reserveSlot('mail', digestKey('mail', windowEnd - 1), { perMinute: 1, burst: 1 });
    await stores.deliveries.reserveSlot('mail', key, { perMinute: 1, burst: 1 });
    expect(await stores.deliveries.holdsSlot(key)).toBe(true);
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    expect(await stores.deliveries.holdsSlot(key)).toBe(false);
    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered', alerts: 1 });
  });

  it('gives it up also when the run then waits for a 429 block, or fails before it sends', async () => {
    const { stores, hold, stage } = setup('unpaced-blocked');
    const windowEnd = Date.UTC(2026, 3, 3, 8);
    await hold('quota', windowEnd - HOUR, { id: 'quota', title: 'Antimony quota cut', level: 'info' });
    const key = digestKey('mail', windowEnd);
    const rate = { perMinute: 1, burst: 1 };
    await stores.deliveries.reserveSlot('mail', digestKey('mail', windowEnd - 1), rate);
    await stores.deliveries.reserveSlot('mail', key, rate);
    await stores.deliveries.blockChannelFor('mail', 10 * 60_000);
    expect(await stage(windowEnd)).toMatchObject({ status: 'wait' });
    expect(await stores.deliveries.holdsSlot(key)).toBe(false);
    await stores.deliveries.blockChannel('mail', 0);
    // Held again (a replica still paced ran it), then a run that fails before it sends: the slot goes first.
    await stores.deliveries.reserveSlot('mail', key, rate);
    await redis.set(`{${prefix}-unpaced-blocked}:digest-plan:mail:${windowEnd}`, 'not json');
    await expect(stage(windowEnd)).rejects.toBeDefined();
    expect(await stores.deliveries.holdsSlot(key)).toBe(false);
  });
});
