import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryKey } from '../../src/alerts/ids.js';
import type { AlertEvent } from '../../src/alerts/types.js';
import { jobId } from '../../src/queue/names.js';
import { makeAlert } from '../alerts/fixtures.js';
import { uniquePrefix } from '../helpers/redis.js';
import { startRealTimeWorker, stopDeliveryWorker, type TestWorker } from './support/delivery-worker.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { jobCompleted } from './support/wait.js';

/**
 * An older version's notify job that runs once a newer version exists (a retry, a job delayed for its slot or after a
 * 429): the alert store keeps only the current content, so the job can only send that. The receiver must not then get
 * the newer version's content twice, once from each version's job.
 */
const prefix = uniquePrefix('delivery-versions');
let receiver: Receiver;
let run: TestWorker;

beforeAll(async () => {
  receiver = await startReceiver();
  run = await startRealTimeWorker(
    {
      'channels.yaml': `channels:\n  - { id: hook, kind: webhook, url: "${receiver.urlFor('hook')}" }\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }\nhttp: { allowPrivateAddresses: true }\n`,
    },
  );
}, 30_000);

afterAll(() => stopDeliveryWorker(run, receiver, prefix));

const stores = () => run.worker.context.stores;
const queues = () => run.worker.context.queues;

const event = (version: number, level: AlertEvent['level'], reason: AlertEvent['reason']): AlertEvent => ({
  version,
  level,
  reason,
  direction: 'escalation',
  sources: version,
  itemId: `item-${version}`,
  at: '2025-10-06T08:00:00.000Z',
});

/** Stores the alert at version 2 (escalated to critical, a new title), as the score stage has just written it. */
async function storeVersion2(alertId: string): Promise<void> {
  const alert = makeAlert({ id: alertId, version: 2, level: 'critical', reason: 'escalated', title: `${alertId}: ban takes effect`, history: [event(1, 'medium', 'first'), event(2, 'critical', 'escalated')] });
  await stores().alerts.update(alertId, async () => ({ alert, result: null }));
}

async function runJob(alertId: string, version: number): Promise<Job> {
  const id = jobId('notify', deliveryKey(alertId, version, 'hook'));
  await queues().notify.add('notify', { alertId, version, channelId: 'hook' }, { jobId: id });
  return jobCompleted(queues().notify, id);
}

const decide = (alertId: string, version: number, mode: 'immediate' | 'digest') =>
  stores().dispatch.record(alertId, { channelId: 'hook', version, mode, why: mode === 'digest' ? 'quiet-hours-digest' : 'immediate', decidedAt: Date.now() });

describe("an older version's notify job that runs after a newer version exists", () => {
  it("sends the newer version's content once, as that version, when the newer version's own job comes after it", async () => {
    await decide('a-race', 1, 'immediate');
    // Version 2 is stored, its decision not yet recorded (the score job is between the two), when version 1's retry runs.
    await storeVersion2('a-race');
    const first = await runJob('a-race', 1);
    await decide('a-race', 2, 'immediate');
    const second = await runJob('a-race', 2);

    const got = receiver.requests.filter((r) => r.alertId === 'a-race');
    expect(got.filter((r) => r.title === 'a-race: ban takes effect')).toHaveLength(1);
    expect(got).toHaveLength(1);
    // Said for what it is: version 2's content, under version 2's idempotency key.
    expect(got[0]).toMatchObject({ version: 2, idempotencyKey: deliveryKey('a-race', 2, 'hook') });
    expect(first.returnvalue).toMatchObject({ status: 'delivered' });
    expect(second.returnvalue).toMatchObject({ status: 'already-delivered' });
    for (const version of [1, 2]) expect(await stores().deliveries.get(deliveryKey('a-race', version, 'hook'))).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it('sends nothing when the newer version has already been delivered to the channel', async () => {
    await decide('a-late', 1, 'immediate');
    await storeVersion2('a-late');
    // Version 2 went to this channel's digest, and then (an operator's retry) was delivered on its own as well.
    await decide('a-late', 2, 'digest');
    await stores().deliveries.recordAttempt(deliveryKey('a-late', 2, 'hook'), { alertId: 'a-late', version: 2, channelId: 'hook' }, { status: 'delivered', response: 'HTTP 200', at: new Date() });
    const job = await runJob('a-late', 1);
    expect(job.returnvalue).toMatchObject({ status: 'skipped', reason: 'superseded' });
    expect(receiver.requests.filter((r) => r.alertId === 'a-late')).toEqual([]);
  });

  it('still sends the newer content when the newer version goes to the digest and nothing sent it yet', async () => {
    await decide('a-digest', 1, 'immediate');
    await storeVersion2('a-digest');
    await decide('a-digest', 2, 'digest');
    const job = await runJob('a-digest', 1);
    expect(job.returnvalue).toMatchObject({ status: 'delivered' });
    expect(receiver.requests.filter((r) => r.alertId === 'a-digest').map((r) => r.version)).toEqual([2]);
  });
});
