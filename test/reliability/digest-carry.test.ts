import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { memoryLogger } from '../../src/log.js';
import { digestStage } from '../../src/pipeline/digest.js';
import { createAlertStore } from '../../src/store/alerts.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { createDigestStore } from '../../src/store/digests.js';
import { createDispatchStore } from '../../src/store/dispatch.js';
import { makeAlert } from '../alerts/fixtures.js';
import { uniquePrefix } from '../helpers/redis.js';
import { GREY, OK, redis, server, smtp, state, useEmailDigestChannel } from '../alerts/email-digest.js';

/**
 * What an email digest carries from its first send that reached anyone, run stage by stage on real Redis and SMTP.
 * Its worker killed after the send, before each Redis write that follows it in turn, then run again as BullMQ would
 * run the stalled job, before or after the next window's digest: nothing may be lost, and a recipient may get an
 * alert twice only if the killed run had not yet recorded that it has it (the at-least-once window).
 */
const prefix = uniquePrefix('digest-carry');
/** The recipient that defers while `server.greylisting` is set. */
const FULL = GREY;
const HOUR = 3_600_000;

useEmailDigestChannel(prefix, '{ schedule: "0 8 * * *" }');

const WRITES = new Set(['set', 'del', 'zadd', 'zrem', 'hset', 'expire', 'eval', 'evalsha']);

/**
 * The Redis client of a worker that dies after `writes` more writes once armed: the next write, and everything after
 * it, never happens. `killed` resolves then.
 */
function dyingRedis(writes: number) {
  let armed = false;
  let left = writes;
  let die!: () => void;
  const killed = new Promise<void>((resolve) => (die = resolve));
  const client = new Proxy(redis, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (!armed || !WRITES.has(String(prop))) return value.bind(target);
      return (...args: unknown[]) => {
        if (left-- > 0) return value.apply(target, args);
        die();
        return new Promise(() => undefined);
      };
    },
  });
  return { client, killed, arm: () => (armed = true) };
}

function storesOn(client: Redis, p: string) {
  return {
    alerts: createAlertStore(client, p, { days: 1, count: 1000 }),
    deliveries: createDeliveryStore(client, p, 3600),
    digests: createDigestStore(client, p, 3600),
  };
}

const log = memoryLogger('fatal').log;
const stage = (windowEnd: number, stores: ReturnType<typeof storesOn>) =>
  digestStage({ channelId: 'mail', windowEnd }, { state, ...stores, log, now: () => new Date() });

/** Per address, how many messages of these deliveries listed each alert; and whether any listed none. */
function copies(keys: string[], alertIds: string[]) {
  const counts: Record<string, Record<string, number>> = { [OK]: {}, [FULL]: {} };
  let empty = 0;
  smtp.received.forEach((mail, i) => {
    if (!keys.includes(String(mail.headers.get('x-chokepoint-delivery')))) return;
    const listed = alertIds.filter((id) => mail.text?.includes(`Alert ${id}`));
    if (listed.length === 0) empty++;
    for (const address of smtp.envelopes[i]!) for (const id of listed) counts[address]![id] = (counts[address]![id] ?? 0) + 1;
  });
  return { counts, empty };
}

let scenarios = 0;

/**
 * Window 1 holds one alert; its digest's worker dies after `writes` writes following the send (full@ deferring it or
 * not). Then full@ accepts, a second alert is held, and window 1's digest runs again and window 2's runs, in either
 * order. Returns false when the run made no more writes than that: it lived, and its job's retry (if a recipient
 * deferred) is what ran again.
 */
async function killedAt(writes: number, { fullDefersFirst, laterWindowFirst }: { fullDefersFirst: boolean; laterWindowFirst: boolean }): Promise<boolean> {
  const n = scenarios++;
  const p = `${prefix}-${n}`;
  const stores = storesOn(redis, p);
  const dispatch = createDispatchStore(redis, p, 3600);
  const [one, two] = [`c${n}-one`, `c${n}-two`];
  // Windows of different scenarios apart: mails are told apart by their delivery key.
  const w1 = Date.UTC(2026, 0, 1) + n * 10 * 24 * HOUR;
  const w2 = w1 + 24 * HOUR;
  const hold = async (id: string, at: number) => {
    await stores.alerts.update(id, async () => ({ alert: makeAlert({ id }), result: null }));
    await dispatch.record(id, { channelId: 'mail', version: 1, mode: 'digest', why: 'below-immediate-level', decidedAt: at });
  };
  await hold(one, w1 - HOUR);

  server.greylisting = fullDefersFirst;
  const dying = dyingRedis(writes);
  server.onData = dying.arm;
  const run = await Promise.race([
    stage(w1, storesOn(dying.client, p)).then(
      () => 'ran',
      () => 'ran',
    ),
    dying.killed.then(() => 'killed'),
  ]);
  server.onData = undefined;
  const recorded = (await stores.deliveries.get(digestKey('mail', w1)))?.recipients ?? {};

  server.greylisting = false;
  await hold(two, w1 + HOUR);
  const next = [() => stage(w1, stores), () => stage(w2, stores)];
  for (const go of laterWindowFirst ? next.reverse() : next) await go();

  const { counts, empty } = copies([digestKey('mail', w1), digestKey('mail', w2)], [one, two]);
  const where = `killed after ${writes} writes (${JSON.stringify({ fullDefersFirst, laterWindowFirst, recorded })})`;
  expect(empty, where).toBe(0);
  for (const address of [OK, FULL]) {
    expect(counts[address]![two], `${address}, ${where}`).toBe(1);
    // A repeat only where the killed run had not recorded that this recipient has it.
    expect(counts[address]![one], `${address}, ${where}`).toBeGreaterThanOrEqual(1);
    expect(counts[address]![one], `${address}, ${where}`).toBeLessThanOrEqual(recorded[address] === 'accepted' ? 1 : 2);
  }
  expect(await stores.digests.pending('mail', Infinity), where).toEqual([]);
  for (const key of [digestKey('mail', w1), digestKey('mail', w2)]) {
    const entry = await stores.deliveries.get(key);
    if (entry) expect(entry.status, `${key}, ${where}`).toBe('delivered');
  }
  return run === 'killed';
}

describe("an email digest's worker killed between the send and each write after it", () => {
  for (const fullDefersFirst of [true, false]) {
    for (const laterWindowFirst of [false, true]) {
      it(`loses nothing and repeats only what was not recorded (${fullDefersFirst ? 'one recipient deferred' : 'everyone accepted'}, ${laterWindowFirst ? 'the next window first' : 'run again first'})`, async () => {
        let points = 0;
        while (await killedAt(points, { fullDefersFirst, laterWindowFirst })) points++;
        // At least two: before anything was written, and after what the digest carried was.
        expect(points).toBeGreaterThanOrEqual(2);
      }, 30_000);
    }
  }
});

describe('an email digest whose carried alerts have all expired', () => {
  it('sends nothing to the recipients still without it rather than an empty digest under its Message-ID', async () => {
    const p = `${prefix}-expired`;
    const stores = storesOn(redis, p);
    const windowEnd = Date.UTC(2025, 0, 1);
    await stores.alerts.update('gone-one', async () => ({ alert: makeAlert({ id: 'gone-one' }), result: null }));
    await createDispatchStore(redis, p, 3600).record('gone-one', { channelId: 'mail', version: 1, mode: 'digest', why: 'below-immediate-level', decidedAt: windowEnd - HOUR });
    server.greylisting = true;
    await expect(stage(windowEnd, stores)).rejects.toMatchObject({ kind: 'retryable' });
    await redis.del(`{${p}}:alert:gone-one`);
    server.greylisting = false;
    const sent = smtp.received.length;
    expect(await stage(windowEnd, stores)).toEqual({ status: 'skipped', reason: 'alerts-expired' });
    expect(smtp.received).toHaveLength(sent);
    // Recorded failed with the reason, so it stays listed for an operator instead of silently never arriving.
    const entry = await stores.deliveries.get(digestKey('mail', windowEnd));
    expect(entry).toMatchObject({ status: 'failed' });
    expect(entry!.lastError).toContain('expired');
    expect(entry!.lastError).toContain(FULL);
    expect((await stores.deliveries.listFailed()).map((d) => d.key)).toContain(digestKey('mail', windowEnd));
  });
});

describe('an email digest whose carry could not be written after it reached everyone', () => {
  it('carries on its retry what it sent, not an alert held since, which goes out with the next digest once', async () => {
    const p = `${prefix}-late`;
    const stores = storesOn(redis, p);
    const dispatch = createDispatchStore(redis, p, 3600);
    const windowEnd = Date.UTC(2024, 0, 1);
    const hold = async (id: string, at: number) => {
      await stores.alerts.update(id, async () => ({ alert: makeAlert({ id }), result: null }));
      await dispatch.record(id, { channelId: 'mail', version: 1, mode: 'digest', why: 'below-immediate-level', decidedAt: at });
    };
    await hold('late-x', windowEnd - HOUR);
    // Every write of what the digest carried fails (Redis trouble outlasting the brief retries); the rest succeed.
    const failingCarry = new Proxy(redis, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        if (prop !== 'evalsha' && prop !== 'eval') return value.bind(target);
        return (...args: unknown[]) =>
          args.some((a) => typeof a === 'string' && a.includes(':digest-carried:')) ? Promise.reject(new Error('Redis blip')) : value.apply(target, args);
      },
    });
    await expect(stage(windowEnd, storesOn(failingCarry, p))).rejects.toThrow('Redis blip');
    expect((await stores.deliveries.get(digestKey('mail', windowEnd)))?.status).toBe('delivered');
    // Decided before the window's end, held after its first send read the holding.
    await hold('late-z', windowEnd - 1000);
    expect(await stage(windowEnd, stores)).toEqual({ status: 'already-delivered' });
    await stage(windowEnd + 24 * HOUR, stores);
    const { counts, empty } = copies([digestKey('mail', windowEnd), digestKey('mail', windowEnd + 24 * HOUR)], ['late-x', 'late-z']);
    expect(empty).toBe(0);
    for (const address of [OK, FULL]) expect(counts[address], address).toEqual({ 'late-x': 1, 'late-z': 1 });
    expect(await stores.digests.pending('mail', Infinity)).toEqual([]);
  }, 20_000);
});
