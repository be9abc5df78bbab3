import { afterEach, describe, expect, it } from 'vitest';
import type { EmailChannelConfig } from '../../src/config/schema.js';
import { createEmailNotifier } from '../../src/notifiers/email.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { caught, sendContext } from './receiver.js';
import { startSmtp } from './smtp.js';

/**
 * The send timeout of an email bounds its SMTP exchange, measured against a real server that is slow to answer and a
 * pool of one connection: a send queued behind a slow one has not started, so it must not time out for that wait;
 * the wait itself has a bound of its own.
 */
type Smtp = Awaited<ReturnType<typeof startSmtp>>;
let smtp: Smtp | undefined;
let notifier: ReturnType<typeof createEmailNotifier> | undefined;

afterEach(async () => {
  await notifier?.close();
  notifier = undefined;
  await smtp?.close();
  smtp = undefined;
});

function channel(server: Smtp): EmailChannelConfig {
  return { id: 'slow', kind: 'email', optional: false, smtpUrl: server.smtpUrl, from: 'alerts@example.com', to: ['buyers@example.com'] };
}

/** One alert email per id (its own Message-ID), sent with the given timeout. */
function sendAlert(ch: EmailChannelConfig, id: string, timeoutMs: number) {
  const payload = notifier!.render({ type: 'alert', alert: { ...sampleAlert(), id } }, ch);
  return notifier!.send(payload, ch, sendContext({ idempotencyKey: id }, timeoutMs));
}

describe('an email send on a busy connection pool', () => {
  it('does not time out while it waits behind slow sends: its timeout starts with its own SMTP exchange', async () => {
    // Each message takes the server 400 ms to answer; the last of eight sends waits 2.8 s for the one connection,
    // almost twice the 1.5 s each send is allowed.
    smtp = await startSmtp({ dataDelayMs: () => 400 });
    notifier = createEmailNotifier({ maxConnections: 1 });
    const ch = channel(smtp);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const started = Date.now();
    const results = await Promise.allSettled(ids.map((id) => sendAlert(ch, id, 1_500)));
    const elapsed = Date.now() - started;
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'sent'))).toEqual(ids.map(() => 'sent'));
    expect(smtp.received).toHaveLength(ids.length);
    // One after another on one connection: the last finished well past the timeout of each.
    expect(elapsed).toBeGreaterThanOrEqual(3_000);
  });

  it('still times out an SMTP exchange that takes longer than the timeout', async () => {
    smtp = await startSmtp({ dataDelayMs: () => 3_000 });
    notifier = createEmailNotifier({ maxConnections: 1 });
    const started = Date.now();
    const err = await caught(() => sendAlert(channel(smtp!), 'slow', 500));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toBe('channel "slow": SMTP exchange timed out after 0.5 s');
  });

  it('gives up waiting for a connection after its own bound, without sending, and says the pool was busy', async () => {
    smtp = await startSmtp({ dataDelayMs: (index) => (index === 0 ? 1_500 : 0) });
    notifier = createEmailNotifier({ maxConnections: 1, maxPoolWaitMs: 300 });
    const ch = channel(smtp);
    const first = sendAlert(ch, 'first', 5_000);
    const started = Date.now();
    const err = await caught(() => sendAlert(ch, 'second', 5_000));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toMatch(/no free SMTP connection within 0\.3 s/);
    expect(err.message).not.toMatch(/will retry/);
    expect(err.stillWithout).toMatch(/^buyers@example\.com: /);
    await first;
    expect(smtp.attempts.map((m) => m.messageId)).toEqual(['<alert-first-v1.slow@example.com>']);
  });
});
