import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { wakeAt } from '../../src/queue/delivery-job.js';
import { enqueueDigest } from '../../src/queue/digest-schedule.js';
import { jobId } from '../../src/queue/names.js';
import { retryDelivery } from '../../src/api/retry.js';
import type { DeliveryStore } from '../../src/store/deliveries.js';
import { makeAlert } from '../alerts/fixtures.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { SMTP_PASSWORD, startSmtp } from '../notifiers/smtp.js';
import { startRealTimeWorker, type TestWorker } from './support/delivery-worker.js';
import { type Receiver, type Reply, startReceiver } from './support/receiver.js';
import { jobSettled, sleep } from './support/wait.js';

/**
 * Notify and digest jobs on real BullMQ, Redis, a local webhook receiver and a local SMTP server, with the processors
 * wired as the worker wires them: what a 429 costs a notification, when blocked jobs wake, what happens when the
 * ledger cannot be written after a successful send, and how an email some recipients deferred reaches the rest.
 */
const prefix = uniquePrefix('delivery-job');
const MAX_RATE_LIMIT_WAITS = 2;
const RETRY_AFTER_429: Reply = { status: 429, headers: { 'Retry-After': '1' } };

let receiver: Receiver;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
/** Per address: how many more times the SMTP server answers 450 (greylisting) at RCPT TO. nobody-* always get 550. */
const greylisting = new Map<string, number>();
let run: TestWorker;
/** Per channel: the answer to its n-th request (0-based); channels without a script accept everything. */
const scripts = new Map<string, (n: number) => Reply>();
const on = (channel: string) => receiver.requests.filter((r) => r.channel === channel);
/** How often the SMTP server was asked to take an address (RCPT TO), accepted or not. */
const asked = (address: string) => smtp.rcpts.filter((a) => a === address).length;

beforeAll(async () => {
  receiver = await startReceiver();
  receiver.respond = (req) => scripts.get(req.channel)?.(on(req.channel).length) ?? { status: 200 };
  const channels = ['blocked', 'limited', 'herd', 'ledger-once', 'ledger-never', 'maintenance'];
  const digestChannels = ['digest-blocked', 'digest-ledger'];
  smtp = await startSmtp({
    rcpt: (address) => {
      const left = greylisting.get(address) ?? 0;
      if (left > 0) greylisting.set(address, left - 1);
      return left > 0 ? 450 : address.startsWith('nobody-') ? 550 : undefined;
    },
  });
  const mail = (id: string, to: string[]) => `  - { id: ${id}, kind: email, smtpUrl: "\${SMTP_URL}", from: "Chokepoint <alerts@example.com>", to: [${to.join(', ')}] }`;
  run = await startRealTimeWorker(
    {
      'channels.yaml': `channels:\n${[
        ...channels.map((id) => `  - { id: ${id}, kind: webhook, url: "${receiver.urlFor(id)}" }`),
        ...digestChannels.map((id) => `  - { id: ${id}, kind: webhook, url: "${receiver.urlFor(id)}", digest: { schedule: "0 8 * * *" } }`),
        mail('mail-greylist', ['buyers-a@example.com', 'greylist-a@example.com', 'nobody-a@example.com']),
        mail('mail-exhausted', ['ops-b@example.com', 'slow-b@example.com']),
        `${mail('digest-mail', ['first-d@example.com', 'late-d@example.com']).slice(0, -2)}, digest: { schedule: "0 8 * * *" } }`,
        `${mail('digest-full', ['ok-f@example.com', 'full-f@example.com']).slice(0, -2)}, digest: { schedule: "0 8 * * *" } }`,
        `${mail('digest-later', ['ok-l@example.com', 'full-l@example.com']).slice(0, -2)}, digest: { schedule: "0 8 * * *", sendEmpty: true } }`,
        mail('mail-refusing', ['nobody-late@example.com', 'nobody-r@example.com']),
      ].join('\n')}\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
delivery: { attempts: 3, backoffMs: 100, maxBackoffMs: 200, maxRateLimitWaits: ${MAX_RATE_LIMIT_WAITS} }
`,
    },
    { SMTP_URL: smtp.smtpUrl },
  );
}, 30_000);

afterAll(async () => {
  await run?.stop();
  await receiver?.close();
  await smtp?.close();
  await cleanPrefix(prefix);
});

const stores = () => run.worker.context.stores;
const queues = () => run.worker.context.queues;
/** An operator's retry through the API, against the worker's channels. */
const retry = (key: string) =>
  retryDelivery(key, { deliveries: stores().deliveries, alerts: stores().alerts, queues: queues(), channel: (id) => run.worker.context.runtime.state.channels.get(id) });

/** Stores an alert and enqueues its notification to one channel, as the score stage would. */
async function notify(alertId: string, channelId: string): Promise<string> {
  const alert = makeAlert({ id: alertId });
  await stores().alerts.update(alertId, async () => ({ alert, result: null }));
  const id = jobId('notify', deliveryKey(alertId, 1, channelId));
  await queues().notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
  return id;
}

/**
 * Holds an alert for a channel's digest (by recording a digest decision, as dispatch does) and enqueues the digest;
 * returns the digest's job id (its ledger key).
 */
async function digest(alertId: string, channelId: string): Promise<string> {
  const alert = makeAlert({ id: alertId });
  await stores().alerts.update(alertId, async () => ({ alert, result: null }));
  const windowEnd = Date.now();
  await stores().dispatch.record(alertId, { channelId, version: 1, mode: 'digest', why: 'below-immediate-level', decidedAt: windowEnd - 1000 });
  await enqueueDigest(queues().digest, channelId, windowEnd);
  return digestKey(channelId, windowEnd);
}

/** Another worker's 429s, again and again: keeps the channel blocked in short stretches for `forMs`. */
async function keepBlocked(channelId: string, forMs: number): Promise<void> {
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    await stores().deliveries.blockChannel(channelId, Math.min(end, Date.now() + 300));
    await sleep(50);
  }
}

describe('429 answers a notification may get (maxRateLimitWaits)', () => {
  it("delivers a notification whose channel other jobs' 429s blocked more often than the limit", async () => {
    scripts.set('blocked', (n) => (n === 0 ? RETRY_AFTER_429 : { status: 200 }));
    const blocking = keepBlocked('blocked', 4_000);
    const id = await notify('a-blocked', 'blocked');
    await blocking;
    const { job, state } = await jobSettled(queues().notify, id);
    expect(state).toBe('completed');
    // Woken more often than the limit (blocked by others, then its own 429), yet only one 429 was its own.
    expect(job.attemptsStarted).toBeGreaterThan(MAX_RATE_LIMIT_WAITS + 1);
    expect(on('blocked').map((r) => r.status)).toEqual([429, 200]);
    expect(await stores().deliveries.get(deliveryKey('a-blocked', 1, 'blocked'))).toMatchObject({ status: 'delivered', rateLimited: 1, attempts: 1 });
  }, 30_000);

  it('gives up a notification that itself got more 429s than the limit, and records it failed', async () => {
    scripts.set('limited', () => RETRY_AFTER_429);
    const id = await notify('a-limited', 'limited');
    const { state } = await jobSettled(queues().notify, id);
    expect(state).toBe('failed');
    expect(on('limited')).toHaveLength(MAX_RATE_LIMIT_WAITS + 1);
    const key = deliveryKey('a-limited', 1, 'limited');
    expect(await stores().deliveries.get(key)).toMatchObject({ status: 'failed', errorKind: 'rate-limited', rateLimited: MAX_RATE_LIMIT_WAITS + 1 });
    expect((await stores().deliveries.listFailed()).map((d) => d.key)).toContain(key);
    expect(run.logs().some((line) => line.includes('delivery given up: rate limited too many times'))).toBe(true);
  }, 30_000);

  it("delivers a digest whose channel other jobs' 429s blocked more often than the limit", async () => {
    scripts.set('digest-blocked', (n) => (n === 0 ? RETRY_AFTER_429 : { status: 200 }));
    const blocking = keepBlocked('digest-blocked', 4_000);
    const key = await digest('a-digest-blocked', 'digest-blocked');
    await blocking;
    const { job, state } = await jobSettled(queues().digest, key);
    expect(state).toBe('completed');
    expect(job.attemptsStarted).toBeGreaterThan(MAX_RATE_LIMIT_WAITS + 1);
    expect(on('digest-blocked').map((r) => r.status)).toEqual([429, 200]);
    expect(await stores().deliveries.get(key)).toMatchObject({ status: 'delivered', rateLimited: 1 });
    expect(await stores().digests.pending('digest-blocked', Date.now())).toEqual([]);
  }, 30_000);
});

describe('waking after a 429', () => {
  it('never wakes before the block ends, and spreads wake-ups over a quarter of the wait, 1 s to 60 s', () => {
    const now = 1_000_000;
    for (const [wait, spread] of [
      [0, 1_000],
      [2_000, 1_000],
      [40_000, 10_000],
      [3_600_000, 60_000],
    ]) {
      expect(wakeAt(now + wait, now, () => 0)).toBe(now + wait);
      expect(wakeAt(now + wait, now, () => 0.999_999)).toBeLessThanOrEqual(now + wait + spread);
      expect(wakeAt(now + wait, now, () => 0.999_999)).toBeGreaterThan(now + wait + spread * 0.99);
      for (let i = 0; i < 200; i++) {
        const at = wakeAt(now + wait, now);
        expect(at).toBeGreaterThanOrEqual(now + wait);
        expect(at).toBeLessThanOrEqual(now + wait + spread);
      }
    }
  });

  it('wakes the jobs of a blocked channel at different times, none before the block ends', async () => {
    const until = Date.now() + 1_500;
    await stores().deliveries.blockChannel('herd', until);
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => notify(`a-herd-${i}`, 'herd')));
    for (const id of ids) expect((await jobSettled(queues().notify, id)).state).toBe('completed');
    const times = on('herd').map((r) => r.at);
    expect(times).toHaveLength(12);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(until);
    // Woken together they would all arrive within a few ms of each other.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(300);
  }, 30_000);
});

describe('a 503 that says when to come back', () => {
  it('is retried no sooner than its Retry-After, using an attempt, although the backoff is shorter', async () => {
    scripts.set('maintenance', (n) => (n === 0 ? { status: 503, headers: { 'Retry-After': '2' } } : { status: 200 }));
    const id = await notify('a-maintenance', 'maintenance');
    const { state } = await jobSettled(queues().notify, id);
    expect(state).toBe('completed');
    const [first, second] = on('maintenance');
    expect([first!.status, second!.status]).toEqual([503, 200]);
    // backoffMs is 100 here: only the Retry-After explains the wait.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(2_000);
    expect(await stores().deliveries.get(deliveryKey('a-maintenance', 1, 'maintenance'))).toMatchObject({ status: 'delivered', attempts: 2 });
  }, 30_000);
});

describe('a ledger write that fails after a successful send', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  /** The delivery store, except that the first `times` "delivered" writes for the channel throw (Redis gone). */
  function failDeliveredWrites(channelId: string, times: number): void {
    const real = stores().deliveries;
    let left = times;
    const wrapped: DeliveryStore = {
      ...real,
      async recordAttempt(key, base, outcome, readBefore) {
        if (base.channelId === channelId && outcome.status === 'delivered' && left-- > 0) throw new Error('Connection is closed.');
        return real.recordAttempt(key, base, outcome, readBefore);
      },
    };
    stores().deliveries = wrapped;
    restore = () => {
      stores().deliveries = real;
    };
  }

  it('sends once and completes as delivered when the first write fails', async () => {
    failDeliveredWrites('ledger-once', 1);
    const id = await notify('a-ledger-once', 'ledger-once');
    const { job, state } = await jobSettled(queues().notify, id);
    expect(state).toBe('completed');
    expect(job.returnvalue).toMatchObject({ status: 'delivered' });
    await sleep(500); // a retry would come within the 100-200 ms backoff
    expect(on('ledger-once')).toHaveLength(1);
    expect(await stores().deliveries.get(deliveryKey('a-ledger-once', 1, 'ledger-once'))).toMatchObject({ status: 'delivered', attempts: 1 });
  }, 30_000);

  it('does not send again when the ledger cannot be written at all, and logs the delivery key', async () => {
    failDeliveredWrites('ledger-never', Infinity);
    const id = await notify('a-ledger-never', 'ledger-never');
    const { job, state } = await jobSettled(queues().notify, id);
    expect(state).toBe('completed');
    expect(job.returnvalue).toMatchObject({ status: 'delivered' });
    await sleep(500);
    expect(on('ledger-never')).toHaveLength(1);
    const logged = run.logs().map((line) => JSON.parse(line) as { level: number; msg: string; deliveryKey?: string });
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 50, deliveryKey: deliveryKey('a-ledger-never', 1, 'ledger-never'), msg: expect.stringMatching(/^delivered but not recorded/) }),
    );
  }, 30_000);

  it('sends a digest once and clears its held alerts when the first write fails', async () => {
    failDeliveredWrites('digest-ledger', 1);
    const key = await digest('a-digest-ledger', 'digest-ledger');
    const { state } = await jobSettled(queues().digest, key);
    expect(state).toBe('completed');
    await sleep(500);
    expect(on('digest-ledger')).toHaveLength(1);
    expect(await stores().deliveries.get(key)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(await stores().digests.pending('digest-ledger', Date.now())).toEqual([]);
  }, 30_000);
});

describe('an email that some recipients deferred at RCPT TO', () => {
  /** The messages the SMTP server accepted for a channel, with the envelope recipients of each. */
  const mailsTo = (channelId: string) =>
    smtp.received.map((mail, i) => ({ mail, to: smtp.envelopes[i] })).filter(({ mail }) => mail.messageId?.includes(`.${channelId}@`));

  it('reaches a greylisted recipient on a retry, and never sends again to the ones that accepted or refused for good', async () => {
    greylisting.set('greylist-a@example.com', 1);
    const id = await notify('a-mail-greylist', 'mail-greylist');
    expect((await jobSettled(queues().notify, id)).state).toBe('completed');
    const sent = mailsTo('mail-greylist');
    expect(sent.map((m) => m.to)).toEqual([['buyers-a@example.com'], ['greylist-a@example.com']]);
    expect(sent[1]!.mail.messageId).toBe(sent[0]!.mail.messageId);
    expect([asked('buyers-a@example.com'), asked('greylist-a@example.com'), asked('nobody-a@example.com')]).toEqual([1, 2, 1]);
    const entry = await stores().deliveries.get(deliveryKey('a-mail-greylist', 1, 'mail-greylist'));
    expect(entry).toMatchObject({
      status: 'delivered',
      attempts: 2,
      recipients: { 'buyers-a@example.com': 'accepted', 'greylist-a@example.com': 'accepted', 'nobody-a@example.com': 'refused' },
      refs: { messageId: sent[0]!.mail.messageId },
    });
    expect(entry!.response).toContain('refused: nobody-a@example.com');
    // Fetched again: the job `jobSettled` saw may have been read just before it completed.
    expect((await queues().notify.getJob(id))!.returnvalue).toMatchObject({ status: 'delivered', response: entry!.response });
  }, 30_000);

  it('records it failed naming the recipients still deferred when attempts run out, and an operator retry sends only to them', async () => {
    greylisting.set('slow-b@example.com', 3);
    const key = deliveryKey('a-mail-exhausted', 1, 'mail-exhausted');
    const id = await notify('a-mail-exhausted', 'mail-exhausted');
    expect((await jobSettled(queues().notify, id)).state).toBe('failed');
    const failed = await stores().deliveries.get(key);
    expect(failed).toMatchObject({ status: 'failed', attempts: 3, recipients: { 'ops-b@example.com': 'accepted', 'slow-b@example.com': 'deferred' } });
    expect(failed!.lastError).toContain('slow-b@example.com');
    expect(failed!.lastError).not.toContain('ops-b@example.com');
    expect((await stores().deliveries.listFailed()).map((d) => d.key)).toContain(key);
    expect(mailsTo('mail-exhausted').map((m) => m.to)).toEqual([['ops-b@example.com']]);

    expect(failed!.lastError).toBe('given up after 3 attempts; still without it: slow-b@example.com (450 Try again later)');
    const outcome = await retry(key);
    expect(outcome).toMatchObject({ action: 'retried', recipients: ['slow-b@example.com'] });
    expect((await jobSettled(queues().notify, id)).state).toBe('completed');
    const sent = mailsTo('mail-exhausted');
    expect(sent.map((m) => m.to)).toEqual([['ops-b@example.com'], ['slow-b@example.com']]);
    expect(sent[1]!.mail.messageId).toBe(sent[0]!.mail.messageId);
    expect(asked('ops-b@example.com')).toBe(1);
    const delivered = await stores().deliveries.get(key);
    expect(delivered).toMatchObject({ status: 'delivered', recipients: { 'ops-b@example.com': 'accepted', 'slow-b@example.com': 'accepted' } });
    expect(JSON.stringify([failed, delivered])).not.toContain(SMTP_PASSWORD);
    expect(run.logs().join('\n')).not.toContain(SMTP_PASSWORD);
  }, 30_000);

  it('sends an email digest that one recipient deferred to that recipient alone on the retry, then clears its held alerts', async () => {
    greylisting.set('late-d@example.com', 1);
    const key = await digest('a-digest-mail', 'digest-mail');
    expect((await jobSettled(queues().digest, key)).state).toBe('completed');
    const sent = smtp.received.map((mail, i) => ({ mail, to: smtp.envelopes[i] })).filter(({ to }) => to?.some((a) => a.endsWith('-d@example.com')));
    expect(sent.map((m) => m.to)).toEqual([['first-d@example.com'], ['late-d@example.com']]);
    expect(sent[1]!.mail.messageId).toBe(sent[0]!.mail.messageId);
    expect(await stores().deliveries.get(key)).toMatchObject({
      status: 'delivered',
      attempts: 2,
      recipients: { 'first-d@example.com': 'accepted', 'late-d@example.com': 'accepted' },
    });
    expect(await stores().digests.pending('digest-mail', Date.now())).toEqual([]);
  }, 30_000);

  it('records every recipient refused for good when the last ones refuse, so an operator retry asks none of them again', async () => {
    greylisting.set('nobody-late@example.com', 1);
    const key = deliveryKey('a-mail-refusing', 1, 'mail-refusing');
    const id = await notify('a-mail-refusing', 'mail-refusing');
    expect((await jobSettled(queues().notify, id)).state).toBe('failed');
    expect(await stores().deliveries.get(key)).toMatchObject({
      status: 'failed',
      errorKind: 'permanent',
      recipients: { 'nobody-late@example.com': 'refused', 'nobody-r@example.com': 'refused' },
    });
    expect(await retry(key)).toMatchObject({ action: 'retried', recipients: [] });
    expect((await jobSettled(queues().notify, id)).state).toBe('failed');
    expect([asked('nobody-late@example.com'), asked('nobody-r@example.com')]).toEqual([2, 1]);
  }, 30_000);

  it('lists for an operator retry the recipients the channel has now that neither accepted nor refused for good', async () => {
    const key = deliveryKey('a-mail-reloaded', 1, 'mail-greylist');
    await stores().alerts.update('a-mail-reloaded', async () => ({ alert: makeAlert({ id: 'a-mail-reloaded' }), result: null }));
    // Sent before a reload: removed-a was deferred then; greylist-a came with the reload.
    const recipients = { 'buyers-a@example.com': 'accepted', 'removed-a@example.com': 'deferred', 'nobody-a@example.com': 'refused' } as const;
    await stores().deliveries.recordAttempt(key, { alertId: 'a-mail-reloaded', version: 1, channelId: 'mail-greylist' }, { status: 'failed', error: 'attempts exhausted', errorKind: 'retryable', recipients, at: new Date() });
    expect(await retry(key)).toMatchObject({ action: 'enqueued', recipients: ['greylist-a@example.com'] });
    expect((await jobSettled(queues().notify, jobId('notify', key))).state).toBe('completed');
    expect(smtp.received.map((mail, i) => ({ mail, to: smtp.envelopes[i] })).filter(({ mail }) => mail.messageId?.includes('a-mail-reloaded')).map((m) => m.to)).toEqual([
      ['greylist-a@example.com'],
    ]);
  }, 30_000);
});

describe('an email digest that one recipient keeps deferring', () => {
  /** Per message an address got (by envelope): its Message-ID and which of `ids` it lists. */
  const digestsTo = (address: string, ids: string[]) =>
    smtp.received.flatMap((mail, i) => (smtp.envelopes[i]!.includes(address) ? [{ messageId: mail.messageId, alerts: ids.filter((id) => mail.text?.includes(`Alert ${id}`)) }] : []));

  it('brings each alert once to the recipient that accepted it, through the retries and a later window, and each window to the other once it accepts', async () => {
    greylisting.set('full-f@example.com', 1_000);
    const ids = ['a-full-one', 'a-full-two'];
    const first = await digest('a-full-one', 'digest-full');
    expect((await jobSettled(queues().digest, first)).state).toBe('failed');
    expect(await stores().deliveries.get(first)).toMatchObject({
      status: 'failed',
      recipients: { 'ok-f@example.com': 'accepted', 'full-f@example.com': 'deferred' },
      lastError: 'given up after 3 attempts; still without it: full-f@example.com (450 Try again later)',
    });
    const second = await digest('a-full-two', 'digest-full');
    expect((await jobSettled(queues().digest, second)).state).toBe('failed');
    expect(digestsTo('ok-f@example.com', ids).map((m) => m.alerts)).toEqual([['a-full-one'], ['a-full-two']]);
    expect(await stores().digests.pending('digest-full', Date.now())).toEqual([]);

    greylisting.delete('full-f@example.com');
    for (const key of [first, second]) {
      expect(await retry(key)).toMatchObject({ action: 'retried', recipients: ['full-f@example.com'] });
      expect((await jobSettled(queues().digest, key)).state).toBe('completed');
      expect(await stores().deliveries.get(key)).toMatchObject({ status: 'delivered', recipients: { 'ok-f@example.com': 'accepted', 'full-f@example.com': 'accepted' } });
    }
    const [toOk, toFull] = [digestsTo('ok-f@example.com', ids), digestsTo('full-f@example.com', ids)];
    expect(toFull.map((m) => m.alerts)).toEqual([['a-full-one'], ['a-full-two']]);
    expect(toFull.map((m) => m.messageId)).toEqual(toOk.map((m) => m.messageId));
    expect(asked('ok-f@example.com')).toBe(2);
  }, 60_000);

  it('sends a window retried after a later window went out with the alerts it carried, not an empty digest', async () => {
    greylisting.set('full-l@example.com', 1_000);
    const ids = ['a-later-one', 'a-later-two'];
    const first = await digest('a-later-one', 'digest-later');
    expect((await jobSettled(queues().digest, first)).state).toBe('failed');
    greylisting.delete('full-l@example.com');
    const second = await digest('a-later-two', 'digest-later');
    expect((await jobSettled(queues().digest, second)).state).toBe('completed');
    expect(await retry(first)).toMatchObject({ recipients: ['full-l@example.com'] });
    expect((await jobSettled(queues().digest, first)).state).toBe('completed');
    expect(digestsTo('ok-l@example.com', ids).map((m) => m.alerts)).toEqual([['a-later-one'], ['a-later-two']]);
    expect(digestsTo('full-l@example.com', ids).map((m) => m.alerts)).toEqual([['a-later-two'], ['a-later-one']]);
    expect(await stores().deliveries.get(first)).toMatchObject({ status: 'delivered', recipients: { 'ok-l@example.com': 'accepted', 'full-l@example.com': 'accepted' } });
  }, 60_000);
});
