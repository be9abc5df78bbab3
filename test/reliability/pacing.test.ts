import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { enqueueDigest } from '../../src/queue/digest-schedule.js';
import { jobId } from '../../src/queue/names.js';
import { createDeliveryStore } from '../../src/store/deliveries.js';
import { makeAlert } from '../alerts/fixtures.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startRealTimeWorker, type TestWorker } from './support/delivery-worker.js';
import { type ReceivedRequest, type Receiver, type Reply, startReceiver } from './support/receiver.js';
import { jobSettled } from './support/wait.js';

/**
 * Channels with a send rate (rateLimit) on real BullMQ, Redis and a local receiver that answers 429 to anything
 * faster than the rate, with two workers (two processes' worth of BullMQ workers and stores) on one Redis: what
 * arrives when, that nothing is lost or sent twice, that pacing costs no attempt, and how often a job is woken.
 */
const prefix = uniquePrefix('pacing');
/** 300 a minute: one every 200 ms. */
const FAST = { perMinute: 300, intervalMs: 200 };
/** 120 a minute: one every 500 ms. */
const SLOW = { perMinute: 120, intervalMs: 500 };
/**
 * How much faster than the rate the receiver lets a request come: the sender's wake-up and HTTP latency jitter by a
 * few tens of ms, and a job may send up to half an interval after its slot.
 */
const JITTER_MS = 150;

let receiver: Receiver;
let first: TestWorker;
let second: TestWorker;
/** Per channel: how the receiver decides; channels without one accept everything. */
const policies = new Map<string, (req: ReceivedRequest, n: number) => Reply>();
const on = (channel: string) => receiver.requests.filter((r) => r.channel === channel);

/**
 * A receiver that enforces a rate as a GCRA (the "virtual scheduling" form of a token bucket): `burst` requests may
 * come at once, then one per interval; anything earlier (less JITTER_MS) gets 429 with Retry-After: 1.
 */
function enforcing(intervalMs: number, burst: number): (req: ReceivedRequest) => Reply {
  let tat = 0;
  return (req) => {
    if (req.at < tat - (burst - 1) * intervalMs - JITTER_MS) return { status: 429, headers: { 'Retry-After': '1' } };
    tat = Math.max(tat, req.at) + intervalMs;
    return { status: 200 };
  };
}

const webhook = (id: string, extra = '') => `  - { id: ${id}, kind: webhook, url: "${receiver.urlFor(id)}"${extra} }`;
const slack = (id: string, extra = '') => `  - { id: ${id}, kind: slack, webhookUrl: "${receiver.urlFor(id)}"${extra} }`;

beforeAll(async () => {
  receiver = await startReceiver();
  receiver.respond = (req) => policies.get(req.channel)?.(req, on(req.channel).length) ?? { status: 200 };
  const files = {
    'channels.yaml': `channels:\n${[
      webhook('shared', `, rateLimit: { perMinute: ${FAST.perMinute}, burst: 2 }`),
      webhook('blocked', `, rateLimit: { perMinute: ${FAST.perMinute} }`),
      webhook('answers-429', `, rateLimit: { perMinute: ${FAST.perMinute} }`),
      webhook('with-digest', `, rateLimit: { perMinute: ${FAST.perMinute} }, digest: { schedule: "0 8 * * *" }`),
      webhook('versions', `, rateLimit: { perMinute: ${SLOW.perMinute} }`),
      webhook('unpaced'),
      slack('slack-default'),
      slack('slack-unpaced', ', rateLimit: false'),
    ].join('\n')}\n`,
    'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
delivery: { attempts: 3, backoffMs: 100, maxBackoffMs: 200, maxRateLimitWaits: 5 }
`,
  };
  // Two workers on one Redis, each with its own BullMQ workers (notify concurrency 4), stores and connections.
  first = await startRealTimeWorker(files);
  second = await startRealTimeWorker(files);
}, 30_000);

afterAll(async () => {
  await first?.stop();
  await second?.stop();
  await receiver?.close();
  await cleanPrefix(prefix);
});

const stores = () => first.worker.context.stores;
const queues = () => first.worker.context.queues;

/** Stores an alert version and enqueues its notification to one channel (through either worker's queue). */
async function notify(alertId: string, channelId: string, version = 1, via = first): Promise<string> {
  const alert = makeAlert({ id: alertId, version });
  await stores().alerts.update(alertId, async () => ({ alert, result: null }));
  const id = jobId('notify', deliveryKey(alertId, version, channelId));
  await via.worker.context.queues.notify.add('notify', { alertId, version, channelId }, { jobId: id });
  return id;
}

/** Arrival times of a channel's accepted requests, in order. */
const acceptedTimes = (channel: string) =>
  on(channel)
    .filter((r) => r.status === 200)
    .map((r) => r.at)
    .sort((a, b) => a - b);

/** The rate as a receiver sees it: of any k + burst requests in a row, the last comes k intervals after the first or later. */
function expectPaced(times: number[], intervalMs: number, burst: number): void {
  for (let i = 0; i < times.length; i++) {
    for (let j = i + burst; j < times.length; j++) {
      expect(times[j]! - times[i]!, `request ${j} after request ${i}`).toBeGreaterThanOrEqual((j - i - burst + 1) * intervalMs - JITTER_MS);
    }
  }
}

describe('a paced channel (rateLimit) shared by two workers', () => {
  it('spreads ten notifications at the rate with no 429, none lost or sent twice, each using one attempt', async () => {
    policies.set('shared', enforcing(FAST.intervalMs, 2));
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => notify(`a-shared-${i}`, 'shared', 1, i % 2 ? second : first)));
    const jobs = await Promise.all(ids.map((id) => jobSettled(queues().notify, id)));
    expect(jobs.map((j) => j.state)).toEqual(Array(10).fill('completed'));

    expect(on('shared').filter((r) => r.status === 429)).toEqual([]);
    const accepted = receiver.accepted('shared');
    expect(accepted.keys.size).toBe(10);
    expect(accepted.duplicates).toBe(0);
    const times = acceptedTimes('shared');
    expectPaced(times, FAST.intervalMs, 2);
    expect(times[9]! - times[0]!).toBeGreaterThanOrEqual(8 * FAST.intervalMs - JITTER_MS);
    for (let i = 0; i < 10; i++) {
      const entry = await stores().deliveries.get(deliveryKey(`a-shared-${i}`, 1, 'shared'));
      expect(entry).toMatchObject({ status: 'delivered', attempts: 1 });
      expect(entry?.rateLimited).toBeUndefined();
    }
    // Runs of each job: the first, plus one per wake-up. Two go at once (the burst); the other eight wait once, for
    // their own slot, instead of all waking together and contending again. A job that wakes too late for its slot
    // takes another, so a second wait is allowed, but not many.
    const runs = jobs.map(({ job }) => job.attemptsStarted);
    expect(Math.max(...runs)).toBeLessThanOrEqual(3);
    expect(runs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10 + 8 + 3);
  }, 30_000);
});

describe('a 429 block on a paced channel', () => {
  it('wins over pacing: nothing goes before the block ends, then the waiting jobs go one interval apart', async () => {
    policies.set('blocked', enforcing(FAST.intervalMs, 1));
    const until = Date.now() + 800;
    await stores().deliveries.blockChannel('blocked', until);
    const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => notify(`a-blocked-${i}`, 'blocked', 1, i % 2 ? second : first)));
    const jobs = await Promise.all(ids.map((id) => jobSettled(queues().notify, id)));
    expect(jobs.map((j) => j.state)).toEqual(Array(5).fill('completed'));
    const times = acceptedTimes('blocked');
    expect(times).toHaveLength(5);
    expect(Math.min(...on('blocked').map((r) => r.at))).toBeGreaterThanOrEqual(until);
    expect(on('blocked').filter((r) => r.status === 429)).toEqual([]);
    expectPaced(times, FAST.intervalMs, 1);
    // Each took a slot after the block when it first ran, and woke once for it.
    for (const { job } of jobs) expect(job.attemptsStarted).toBeLessThanOrEqual(2);
  }, 30_000);

  it("after a receiver's 429, sends nothing until Retry-After, then the rest at the rate; only that notification counts a 429", async () => {
    const pace = enforcing(FAST.intervalMs, 1);
    policies.set('answers-429', (req, n) => (n === 2 ? { status: 429, headers: { 'Retry-After': '1' } } : pace(req)));
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => notify(`a-429-${i}`, 'answers-429', 1, i % 2 ? second : first)));
    const jobs = await Promise.all(ids.map((id) => jobSettled(queues().notify, id)));
    expect(jobs.map((j) => j.state)).toEqual(Array(6).fill('completed'));

    const requests = on('answers-429');
    const limited = requests.filter((r) => r.status === 429);
    expect(limited).toHaveLength(1);
    // Requests already on the wire when the 429 came back may arrive just after it; nothing later until Retry-After.
    const early = requests.filter((r) => r.at > limited[0]!.at + 150 && r.at < limited[0]!.at + 1000 - 50);
    expect(early).toEqual([]);
    expect(receiver.accepted('answers-429').keys.size).toBe(6);
    expect(receiver.accepted('answers-429').duplicates).toBe(0);
    expectPaced(acceptedTimes('answers-429').filter((at) => at > limited[0]!.at), FAST.intervalMs, 1);

    const entries = await Promise.all(Array.from({ length: 6 }, (_, i) => stores().deliveries.get(deliveryKey(`a-429-${i}`, 1, 'answers-429'))));
    expect(entries.map((e) => e?.attempts)).toEqual(Array(6).fill(1));
    expect(entries.filter((e) => e?.rateLimited).map((e) => e!.rateLimited)).toEqual([1]);
    for (const { job } of jobs) expect(job.attemptsStarted).toBeLessThanOrEqual(4);
  }, 30_000);
});

describe('digests and versions on a paced channel', () => {
  it('paces a digest like any notification', async () => {
    policies.set('with-digest', enforcing(FAST.intervalMs, 1));
    const alert = makeAlert({ id: 'a-digested' });
    await stores().alerts.update(alert.id, async () => ({ alert, result: null }));
    const windowEnd = Date.now();
    await stores().dispatch.record(alert.id, { channelId: 'with-digest', version: 1, mode: 'digest', why: 'below-immediate-level', decidedAt: windowEnd - 1000 });
    const ids = [await notify('a-digest-0', 'with-digest'), await notify('a-digest-1', 'with-digest')];
    await enqueueDigest(queues().digest, 'with-digest', windowEnd);
    const key = digestKey('with-digest', windowEnd);
    for (const id of ids) expect((await jobSettled(queues().notify, id)).state).toBe('completed');
    expect((await jobSettled(queues().digest, key)).state).toBe('completed');

    expect(on('with-digest').filter((r) => r.status === 429)).toEqual([]);
    const times = acceptedTimes('with-digest');
    expect(times).toHaveLength(3);
    expectPaced(times, FAST.intervalMs, 1);
    expect(await stores().deliveries.get(key)).toMatchObject({ status: 'delivered', attempts: 1 });
  }, 30_000);

  it('never sends an older version after a newer one: a version still waiting for its slot when a newer one is decided is dropped', async () => {
    policies.set('versions', enforcing(SLOW.intervalMs, 1));
    // Takes the channel's one immediate slot, so that version 1 has to wait for the next.
    const filler = await notify('a-filler', 'versions');
    expect((await jobSettled(queues().notify, filler)).state).toBe('completed');
    const v1 = await notify('a-versions', 'versions', 1);
    await vi.waitFor(async () => expect(await (await queues().notify.getJob(v1))?.getState()).toBe('delayed'), { timeout: 5_000, interval: 20 });
    // Version 2 is decided (as the score stage would) while version 1 waits for its slot.
    await stores().dispatch.record('a-versions', { channelId: 'versions', version: 2, mode: 'immediate', why: 'immediate', decidedAt: Date.now() });
    const v2 = await notify('a-versions', 'versions', 2, second);
    const [one, two] = [await jobSettled(queues().notify, v1), await jobSettled(queues().notify, v2)];
    expect(two.job.returnvalue).toMatchObject({ status: 'delivered' });
    expect(one.job.returnvalue).toMatchObject({ status: 'skipped', reason: 'superseded' });
    expect(on('versions').filter((r) => r.alertId === 'a-versions').map((r) => r.version)).toEqual([2]);
  }, 30_000);
});

describe('per-kind defaults', () => {
  it('paces Slack at one message a second after a burst of three when rateLimit is omitted', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, (_, i) => notify(`a-slack-${i}`, 'slack-default', 1, i % 2 ? second : first)));
    const started: number[] = [];
    for (const id of ids) {
      const { job, state } = await jobSettled(queues().notify, id);
      expect(state).toBe('completed');
      started.push(job.attemptsStarted);
    }
    const times = acceptedTimes('slack-default');
    expect(times).toHaveLength(4);
    // The burst went without waiting for a slot (a job that waits runs again when it comes); the fourth a second on.
    expect(started.filter((n) => n === 1).length).toBeGreaterThanOrEqual(3);
    expect(times[3]! - times[0]!).toBeGreaterThanOrEqual(1000 - JITTER_MS);
  }, 30_000);

  it('sends at once when rateLimit is false, and leaves webhooks unpaced by default', async () => {
    const ids = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => notify(`a-slack-unpaced-${i}`, 'slack-unpaced', 1, i % 2 ? second : first)),
      ...Array.from({ length: 6 }, (_, i) => notify(`a-unpaced-${i}`, 'unpaced', 1, i % 2 ? second : first)),
    ]);
    for (const id of ids) {
      const { job, state } = await jobSettled(queues().notify, id);
      expect(state).toBe('completed');
      expect(job.attemptsStarted).toBe(1);
    }
    for (const channel of ['slack-unpaced', 'unpaced']) {
      const times = acceptedTimes(channel);
      expect(times).toHaveLength(6);
      // At once: none waited for a slot (each ran once, above); a loaded runner only takes longer to run them.
      expect(times[5]! - times[0]!).toBeLessThan(5_000);
    }
  }, 30_000);
});

describe('slot reservations (the pace script on Redis)', () => {
  const redis = new Redis(testRedisUrl());
  const own = `${prefix}-script`;
  const ledger = createDeliveryStore(redis, own, 3600);
  afterAll(async () => {
    await cleanPrefix(own);
    redis.disconnect();
  });

  it('gives each delivery its own slot one interval apart after the burst, on Redis clock', async () => {
    const rate = { perMinute: 60, burst: 3 };
    const waits = [];
    for (let i = 0; i < 5; i++) waits.push(await ledger.reserveSlot('script', `d-${i}`, rate));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(waits[3]).toBeGreaterThan(900);
    expect(waits[3]).toBeLessThanOrEqual(1000);
    expect(waits[4]! - waits[3]!).toBeGreaterThan(950);
    expect(waits[4]! - waits[3]!).toBeLessThanOrEqual(1050);
  });

  it('keeps a delivery its slot when it asks again, without taking another', async () => {
    const rate = { perMinute: 60, burst: 1 };
    await ledger.reserveSlot('again', 'first', rate);
    const wait = await ledger.reserveSlot('again', 'held', rate);
    const again = await ledger.reserveSlot('again', 'held', rate);
    expect(again).toBeGreaterThan(0);
    expect(again).toBeLessThanOrEqual(wait);
    // The slot after "held" is still the next one: asking again took none.
    const next = await ledger.reserveSlot('again', 'next', rate);
    expect(next - wait).toBeGreaterThan(950);
    expect(next - wait).toBeLessThanOrEqual(1050);
  });

  it('gives the first slot no earlier than the end of a 429 block, and the next one an interval later', async () => {
    const rate = { perMinute: 60, burst: 3 };
    await ledger.blockChannel('after-block', Date.now() + 2_000);
    const a = await ledger.reserveSlot('after-block', 'a', rate);
    const b = await ledger.reserveSlot('after-block', 'b', rate);
    expect(a).toBeGreaterThan(1_900);
    expect(a).toBeLessThanOrEqual(2_050);
    expect(b - a).toBeGreaterThan(950);
  });

  it('sends a delivery woken late in its slot instead of giving it a new one at the back (no starvation under load)', async () => {
    const rate = { perMinute: 600, burst: 1 };
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const waits = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.reserveSlot('late', `late-${i}`, rate)));
    // Every one wakes 250 ms after its slot (more than the 100 ms grace), as a busy worker or a long queue makes it.
    const second = await Promise.all(
      waits.map(async (wait, i) => {
        if (wait === 0) return 0;
        await sleep(wait + 250);
        return ledger.reserveSlot('late', `late-${i}`, rate);
      }),
    );
    expect(second).toEqual(new Array(8).fill(0));
  });

  it('keeps a slot that a 429 block ends just after (simultaneous 429s), waiting to the block end instead of the back', async () => {
    const rate = { perMinute: 60, burst: 1 };
    await ledger.blockChannel('raced', Date.now() + 1_000, rate);
    const first = await ledger.reserveSlot('raced', 'a', rate);
    // Another worker's 429 ends its block a few ms later (well within the channel's interval).
    await ledger.blockChannel('raced', Date.now() + first + 20, rate);
    const again = await ledger.reserveSlot('raced', 'a', rate);
    expect(again).toBeGreaterThan(first - 100);
    expect(again).toBeLessThanOrEqual(first + 40);
    // Its slot is still the first after the block: the next delivery's is an interval after it.
    const next = await ledger.reserveSlot('raced', 'b', rate);
    expect(next - again).toBeGreaterThan(900);
  });

  it('keeps the sends after a 429 block an interval apart, a slot the block overran by less than one included', async () => {
    const rate = { perMinute: 60, burst: 1 };
    for (let i = 0; i < 6; i++) await ledger.reserveSlot('after-429', `s-${i}`, rate);
    // s-0 went at once and got the 429; s-1 (1 s) and s-2 (2 s) are inside the block, s-2 only just. (Seconds, not
    // tenths: the calls in between may take tens of ms on a busy machine without moving a slot past the block.)
    const end = await ledger.blockChannelFor('after-429', 2_500);
    const redisNowMs = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    // A wait counts from when the script ran: the slot lies between Redis's clock read before the call plus the wait
    // and read after it plus the wait, however long the calls before it took (a busy CI machine: several ms each).
    const due: Array<{ earliest: number; latest: number }> = [];
    for (let i = 0; i < 6; i++) {
      const before = await redisNowMs();
      const wait = await ledger.reserveSlot('after-429', `s-${i}`, rate);
      due.push({ earliest: before + wait, latest: (await redisNowMs()) + wait });
    }
    due.sort((a, b) => a.earliest - b.earliest);
    expect(due[0]!.latest).toBeGreaterThanOrEqual(end - 5);
    for (let i = 1; i < due.length; i++) expect(due[i]!.latest - due[i - 1]!.earliest, `send ${i}`).toBeGreaterThanOrEqual(950);
  });

  it('lets at most one send of a fast pace through before the end a second, later 429 asked for', async () => {
    // 3000 a minute: one every 20 ms, so a 100 ms merge of the two blocks would let five sends through early.
    const rate = { perMinute: 3000, burst: 1 };
    const redisNowMs = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    const firstEnd = await ledger.blockChannelFor('fast-429', 2_000, rate);
    for (let i = 0; i < 6; i++) await ledger.reserveSlot('fast-429', `f-${i}`, rate);
    // Another worker's 429, answered about when the first was, asks for 95 ms more.
    const asked = firstEnd + 95;
    expect(await ledger.blockChannelFor('fast-429', asked - (await redisNowMs()), rate)).toBeGreaterThanOrEqual(asked);
    const now = await redisNowMs();
    const due: number[] = [];
    for (let i = 0; i < 6; i++) due.push(now + (await ledger.reserveSlot('fast-429', `f-${i}`, rate)));
    // Each due time is read a few ms early (Redis's now before each call): at most the first may look early.
    expect(due.filter((at) => at < asked).length).toBeLessThanOrEqual(1);
  });

  it('takes the later end of two 429 blocks of an unpaced channel, however close', async () => {
    const end = await ledger.blockChannelFor('unpaced-429', 2_000);
    expect(await ledger.blockChannelFor('unpaced-429', 2_030)).toBeGreaterThan(end);
  });

  it('keeps its keys under the {prefix} hash tag (Redis Cluster), each expiring once its slot is past', async () => {
    await ledger.reserveSlot('keys', 'k-0', { perMinute: 60, burst: 1 });
    await ledger.reserveSlot('keys', 'k-1', { perMinute: 60, burst: 1 });
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `*${own}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const written = keys.filter((k) => k.includes(':keys') || k.includes('k-1'));
    expect(written.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) {
      expect(key.startsWith(`{${own}}:`), key).toBe(true);
      const ttl = await redis.pttl(key);
      if (ttl === -2) continue; // another test's key (a 429 block) that ended between the scan and now
      // The pace lives until the last slot it knows of; a delivery's slot an hour past it (a late wake still finds it).
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(key.includes('delivery-slot') ? 3_610_000 : 10_000);
    }
  });
});
