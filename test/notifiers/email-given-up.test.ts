import type { Job, Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestKey } from '../../src/alerts/digest.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { enqueueDigest } from '../../src/queue/digest-schedule.js';
import { jobId } from '../../src/queue/names.js';
import { makeAlert } from '../alerts/fixtures.js';
import { startTestWorker } from '../alerts/harness.js';
import { cleanPrefix, uniquePrefix } from '../helpers/redis.js';
import { createEmailNotifier } from '../../src/notifiers/email.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { caught, sendContext } from './receiver.js';
import { startSmtp } from './smtp.js';
import { jobSettled } from '../reliability/support/wait.js';

/**
 * An email whose attempts ran out, on real BullMQ, Redis and a real SMTP server that keeps deferring it: nothing a
 * user or operator reads about it afterwards (the ledger, the failed job, the log) may say it will be retried.
 */
const prefix = uniquePrefix('email-given-up');
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let run: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  smtp = await startSmtp({ data: () => 451 });
  const mail = (id: string, extra = '') => `  - { id: ${id}, kind: email, smtpUrl: "\${SMTP_URL}", from: "alerts@example.com", to: [ops@example.com]${extra} }`;
  run = await startTestWorker(
    {
      'sources.yaml': 'sources: []\n',
      'watchlists.yaml': 'watchlists: []\n',
      'channels.yaml': `channels:\n${mail('mail')}\n${mail('mail-digest', ', digest: { schedule: "0 8 * * *" }')}\n`,
      'settings.yaml': `redis: { prefix: ${prefix} }
http: { allowPrivateAddresses: true }
delivery: { attempts: 2, backoffMs: 50, maxBackoffMs: 100 }
`,
    },
    { SMTP_URL: smtp.smtpUrl },
    [],
    { now: Date.now() },
  );
}, 30_000);

afterAll(async () => {
  await run?.stop();
  await smtp?.close();
  await cleanPrefix(prefix);
});

const stores = () => run.worker.context.stores;
const queues = () => run.worker.context.queues;

async function failedJob(queue: Queue, id: string): Promise<Job> {
  return (await jobSettled(queue, id, 15_000, ['failed'])).job;
}

describe('an email given up after its attempts', () => {
  it('is recorded and reported without "will retry" for an alert', async () => {
    const alert = makeAlert({ id: 'given-up' });
    await stores().alerts.update(alert.id, async () => ({ alert, result: null }));
    const id = jobId('notify', deliveryKey(alert.id, 1, 'mail'));
    await queues().notify.add('notify', { alertId: alert.id, version: 1, channelId: 'mail' }, { jobId: id });
    const job = await failedJob(queues().notify, id);

    const entry = await stores().deliveries.get(deliveryKey(alert.id, 1, 'mail'));
    expect(entry).toMatchObject({ status: 'failed', attempts: 2 });
    expect(entry!.lastError).toBe('given up after 2 attempts; still without it: ops@example.com: SMTP server deferred the message (451 Try again later) at DATA');
    expect(job.failedReason).toMatch(/451 Try again later/);
    expect(job.failedReason).not.toMatch(/will retry/);
    expect(run.logs().filter((line) => line.includes('given up')).join('\n')).not.toMatch(/will retry/);
  });

  it('is recorded and reported without "will retry" for a digest', async () => {
    const alert = makeAlert({ id: 'given-up-digest' });
    await stores().alerts.update(alert.id, async () => ({ alert, result: null }));
    const windowEnd = Date.now();
    await stores().dispatch.record(alert.id, { channelId: 'mail-digest', version: 1, mode: 'digest', why: 'below-immediate-level', decidedAt: windowEnd - 1000 });
    await enqueueDigest(queues().digest, 'mail-digest', windowEnd);
    const job = await failedJob(queues().digest, digestKey('mail-digest', windowEnd));

    const entry = await stores().deliveries.get(digestKey('mail-digest', windowEnd));
    expect(entry).toMatchObject({ status: 'failed' });
    expect(entry!.lastError).not.toMatch(/will retry/);
    expect(job.failedReason).not.toMatch(/will retry/);
  });
});

describe('an email send that fails for now', () => {
  it('says what failed and not that it will retry: only its caller knows (a one-off send from the CLI never does)', async () => {
    const notifier = createEmailNotifier();
    try {
      const channel = { id: 'once', kind: 'email' as const, optional: false, smtpUrl: smtp.smtpUrl, from: 'alerts@example.com', to: ['ops@example.com'] };
      const err = await caught(() => notifier.send(notifier.render({ type: 'alert', alert: sampleAlert() }, channel), channel, sendContext()));
      expect(err).toMatchObject({ kind: 'retryable' });
      expect(err.message).toBe('channel "once": SMTP server deferred the message (451 Try again later) at DATA');
    } finally {
      await notifier.close();
    }
  });
});
