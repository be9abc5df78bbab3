import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import { jobId } from '../../src/queue/names.js';
import { makeAlert } from '../alerts/fixtures.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startRealTimeWorker, stopDeliveryWorker, type TestWorker } from './support/delivery-worker.js';
import { type Receiver, type Reply, startReceiver } from './support/receiver.js';
import { jobSettled } from './support/wait.js';

/**
 * What a Slack, webhook or Teams delivery that was finally given up says, in its ledger entry (what the API lists as
 * failed), its log line and its failed job: what failed and that it was given up, never the "will retry" of the
 * last failure. Real BullMQ, Redis and a local receiver that keeps failing.
 */
const prefix = uniquePrefix('delivery-verdict');
const ATTEMPTS = 3;
const MAX_RATE_LIMIT_WAITS = 1;
let receiver: Receiver;
let run: TestWorker;
const scripts = new Map<string, (n: number) => Reply>();
const on = (channel: string) => receiver.requests.filter((r) => r.channel === channel);

beforeAll(async () => {
  receiver = await startReceiver();
  receiver.respond = (req) => scripts.get(req.channel)?.(on(req.channel).length) ?? { status: 200 };
  const hook = (id: string) => `  - { id: ${id}, kind: webhook, url: "${receiver.urlFor(id)}" }`;
  run = await startRealTimeWorker(
    {
      'channels.yaml': `channels:
  - { id: down-slack, kind: slack, webhookUrl: "${receiver.urlFor('down-slack')}", rateLimit: false }
  - { id: down-teams, kind: teams, webhookUrl: "${receiver.urlFor('down-teams')}" }
${hook('down-webhook')}
${hook('maintenance')}
${hook('limited')}
`,
      'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
delivery: { attempts: ${ATTEMPTS}, backoffMs: 100, maxBackoffMs: 200, maxRateLimitWaits: ${MAX_RATE_LIMIT_WAITS} }
`,
    },
  );
}, 30_000);

afterAll(() => stopDeliveryWorker(run, receiver, prefix));

const stores = () => run.worker.context.stores;
const queues = () => run.worker.context.queues;

async function notify(alertId: string, channelId: string): Promise<string> {
  await stores().alerts.update(alertId, async () => ({ alert: makeAlert({ id: alertId }), result: null }));
  const id = jobId('notify', deliveryKey(alertId, 1, channelId));
  await queues().notify.add('notify', { alertId, version: 1, channelId }, { jobId: id });
  return id;
}

/** The error-level "given up" log lines of one channel, parsed. */
function givenUpLines(channelId: string): Array<{ msg: string; attempts: number; err: { message: string; code?: string } }> {
  return run
    .logs()
    .map((line) => JSON.parse(line) as { msg: string; channelId?: string; level: number; attempts: number; err: { message: string; code?: string } })
    .filter((line) => line.channelId === channelId && line.level >= 50 && line.msg.includes('given up'));
}

/** Runs one notification to the channel until BullMQ fails it, and returns everything that tells of the verdict. */
async function giveUp(channelId: string) {
  const id = await notify(`a-${channelId}`, channelId);
  const { job, state } = await jobSettled(queues().notify, id);
  expect(state).toBe('failed');
  const key = deliveryKey(`a-${channelId}`, 1, channelId);
  const entry = await stores().deliveries.get(key);
  const listed = (await stores().deliveries.listFailed()).find((d) => d.key === key);
  return { job, entry, listed, logs: givenUpLines(channelId) };
}

describe('a delivery given up after its attempts ran out', () => {
  for (const [channelId, label] of [
    ['down-slack', 'Slack webhook'],
    ['down-webhook', 'webhook receiver'],
    ['down-teams', 'Teams'],
  ] as const) {
    it(`says what failed and that it was given up after ${ATTEMPTS} attempts, not that it will retry (${channelId})`, async () => {
      scripts.set(channelId, () => ({ status: 500 }));
      const { job, entry, listed, logs } = await giveUp(channelId);
      expect(on(channelId)).toHaveLength(ATTEMPTS);
      expect(entry).toMatchObject({ status: 'failed', attempts: ATTEMPTS, errorKind: 'retryable' });
      expect(entry!.lastError).toMatch(new RegExp(`^channel "${channelId}": ${label}.* answered HTTP 500: .*; given up after ${ATTEMPTS} attempts$`));
      expect(entry!.lastError).not.toMatch(/will retry/);
      expect(listed?.lastError).toBe(entry!.lastError);
      expect(job.failedReason).toBe(entry!.lastError);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ msg: 'delivery given up: attempts exhausted', attempts: ATTEMPTS, err: { message: entry!.lastError, code: 'CP_DELIVERY_RETRYABLE' } });
    });
  }

  it('keeps what a 503 asked for (Retry-After) but promises no retry', async () => {
    scripts.set('maintenance', () => ({ status: 503, headers: { 'Retry-After': '1' } }));
    const { entry, logs } = await giveUp('maintenance');
    expect(entry!.lastError).toMatch(/answered HTTP 503, Retry-After 1 s: .*; given up after 3 attempts$/);
    expect(entry!.lastError).not.toMatch(/will retry/);
    expect(logs[0]!.err.message).toBe(entry!.lastError);
  });
});

describe('a delivery given up after too many 429s', () => {
  it('says it was rate-limited and given up, not when it would retry', async () => {
    scripts.set('limited', () => ({ status: 429, headers: { 'Retry-After': '1' } }));
    const { entry, logs, job } = await giveUp('limited');
    expect(entry).toMatchObject({ status: 'failed', errorKind: 'rate-limited', rateLimited: MAX_RATE_LIMIT_WAITS + 1 });
    expect(entry!.lastError).toBe(`channel "limited": webhook receiver rate-limited us (HTTP 429, Retry-After 1 s); given up after ${MAX_RATE_LIMIT_WAITS + 1} rate-limited answers`);
    expect(job.failedReason).toBe(entry!.lastError);
    expect(logs[0]).toMatchObject({ msg: 'delivery given up: rate limited too many times', err: { message: entry!.lastError } });
  }, 30_000);
});
