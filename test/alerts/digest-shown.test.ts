import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { uniquePrefix } from '../helpers/redis.js';
import { GREY, OK, expectOneMessageForBoth, mailsOf, redis, server, useEmailDigestChannel, windowStores } from './email-digest.js';

/**
 * The digest of a window as its first send showed it, on real Redis and a real SMTP server, for a channel that lists
 * one alert a digest (the rest counted): kept only while recipients may still need it, and only once some have it; a
 * retry that nobody has had yet sends what the window holds now, so no held alert is dropped unsent.
 */
const prefix = uniquePrefix('digest-shown');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

useEmailDigestChannel(prefix, '{ schedule: "0 8 * * *", maxAlerts: 1 }');

function setup(name: string) {
  // Production's retention: the ledger and what a window carried are kept 90 days.
  return windowStores(`${prefix}-${name}`);
}


/** Two alerts held for the window: `top` listed, `rest` only counted ("1 more"). */
async function holdTwo(hold: ReturnType<typeof setup>['hold'], windowEnd: number) {
  await hold('top', windowEnd - 2 * HOUR, { id: 'top', title: 'Top magnet story', level: 'medium', score: 90 });
  await hold('rest', windowEnd - 2 * HOUR, { id: 'rest', title: 'Rest graphite story', level: 'low', score: 10 });
}

describe('a digest retried after a send that reached nobody', () => {
  it('sends an alert the first attempt only counted, once the alert it listed was sent on its own', async () => {
    const { stores, hold, sendAlone, stage } = setup('omitted');
    const windowEnd = Date.UTC(2026, 4, 1, 8);
    await holdTwo(hold, windowEnd);
    server.failing = 451;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.failing = undefined;
    await sendAlone('top', windowEnd + HOUR);

    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered', alerts: 1 });
    const mails = mailsOf(windowEnd);
    for (const address of [OK, GREY]) {
      expect(mails[address], address).toHaveLength(1);
      expect(mails[address]![0]!.text).toContain('Rest graphite story');
      expect(mails[address]![0]!.text).not.toContain('Top magnet story');
    }
    expect(await stores.digests.pending('mail', Infinity)).toEqual([]);
    expect((await stores.deliveries.get(digestKey('mail', windowEnd)))?.status).toBe('delivered');
  });

  it('ends its delivery skipped, saying why, when nothing it held is left to send', async () => {
    const { stores, hold, sendAlone, stage } = setup('nothing-left');
    const windowEnd = Date.UTC(2026, 4, 11, 8);
    await holdTwo(hold, windowEnd);
    server.failing = 451;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.failing = undefined;
    expect((await stores.deliveries.get(digestKey('mail', windowEnd)))?.status).toBe('pending');
    await sendAlone('top', windowEnd + HOUR);
    await sendAlone('rest', windowEnd + HOUR);

    expect(await stage(windowEnd)).toEqual({ status: 'empty' });
    const entry = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(entry?.status).toBe('skipped');
    expect(entry?.response).toMatch(/nothing left to send/);
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).not.toContain(digestKey('mail', windowEnd));
    expect(mailsOf(windowEnd)[OK]).toHaveLength(0);
  });
});

describe('the digest as its first send that reached anyone showed it', () => {
  it('is kept apart from the plan, for days rather than the ledger retention, while a recipient still defers it', async () => {
    const { hold, stage, keys } = setup('kept');
    const windowEnd = Date.UTC(2026, 4, 21, 8);
    await holdTwo(hold, windowEnd);
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    const { plan, shown } = keys(windowEnd);
    // The plan (kept as long as the ledger) names the alerts; it holds none of their content.
    expect(await redis.get(plan)).not.toContain('Top magnet story');
    expect(await redis.get(shown)).toContain('Top magnet story');
    const ttl = await redis.ttl(shown);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7 * 86_400);
  });

  it('is deleted once every recipient has it', async () => {
    const { stage, hold, keys } = setup('deleted');
    const windowEnd = Date.UTC(2026, 4, 31, 8);
    await holdTwo(hold, windowEnd);
    server.greylisting = true;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.greylisting = false;
    expect(await redis.exists(keys(windowEnd).shown)).toBe(1);
    expect(await stage(windowEnd)).toMatchObject({ status: 'delivered' });
    expect(await redis.exists(keys(windowEnd).shown)).toBe(0);
  });

  it('is deleted when a later digest supersedes a window that reached nobody', async () => {
    const { stage, hold, keys } = setup('superseded');
    const windowEnd = Date.UTC(2026, 5, 10, 8);
    await holdTwo(hold, windowEnd);
    server.failing = 451;
    await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
    server.failing = undefined;
    expect(await redis.exists(keys(windowEnd).shown)).toBe(1);
    expect(await stage(windowEnd + DAY)).toMatchObject({ status: 'delivered' });
    expect(await stage(windowEnd)).toEqual({ status: 'skipped', reason: 'superseded' });
    expect(await redis.exists(keys(windowEnd).shown)).toBe(0);
    expect(await redis.exists(keys(windowEnd + DAY).shown)).toBe(0);
  });

  for (const gone of ['expired', 'never recorded (a plan of an older version)'] as const) {
    it(`when ${gone}, is rebuilt from the alerts as stored now for the recipients still without it, and says so`, async () => {
      const { stores, hold, stage, keys, lines } = setup(gone === 'expired' ? 'expired' : 'older');
      const windowEnd = Date.UTC(2026, 5, gone === 'expired' ? 20 : 25, 8);
      await holdTwo(hold, windowEnd);
      server.greylisting = true;
      await expect(stage(windowEnd)).rejects.toMatchObject({ kind: 'retryable' });
      server.greylisting = false;
      const { plan, shown } = keys(windowEnd);
      await redis.del(shown);
      if (gone !== 'expired') {
        // As an older version recorded it: the entries only.
        const ttl = await redis.ttl(plan);
        const { windowStart, held } = JSON.parse((await redis.get(plan))!) as { windowStart: number; held: unknown };
        await redis.set(plan, JSON.stringify({ windowStart, held }), 'EX', ttl);
      }
      await stores.alerts.update('top', async (a) => ({ alert: { ...a!, title: 'Top magnet story, updated' }, result: null }));

      expect(await stage(windowEnd)).toMatchObject({ status: 'delivered', alerts: 1 });
      const mails = expectOneMessageForBoth(windowEnd);
      expect(mails[GREY]![0]!.text).toContain('Top magnet story, updated');
      expect(lines().some((line) => line.includes('rebuilt from the alerts as stored now'))).toBe(true);
      expect(await stores.digests.pending('mail', Infinity)).toEqual([]);
    });
  }
});
