import { afterEach, describe, expect, it } from 'vitest';
import type { EmailChannelConfig } from '../../src/config/schema.js';
import { createEmailNotifier } from '../../src/notifiers/email.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { caught, sendContext } from './receiver.js';
import { startSmtp } from './smtp.js';

/**
 * An email channel's pool closed (a config reload closes the old notifiers a minute later; shutdown closes them) or
 * replaced (its smtpUrl changed) while sends wait for one of its connections, on a real SMTP server that is slow to
 * answer and a pool of one connection: a waiting send is turned away at once, retryably, saying nothing was sent,
 * instead of being let in on a closed transport; and a closed notifier opens no pool nobody would close.
 */
type Smtp = Awaited<ReturnType<typeof startSmtp>>;
let smtp: Smtp | undefined;
let other: Smtp | undefined;
let notifier: ReturnType<typeof createEmailNotifier> | undefined;

afterEach(async () => {
  await notifier?.close();
  notifier = undefined;
  await smtp?.close();
  await other?.close();
  smtp = other = undefined;
});

function channel(server: Smtp): EmailChannelConfig {
  return { id: 'busy', kind: 'email', optional: false, smtpUrl: server.smtpUrl, from: 'alerts@example.com', to: ['buyers@example.com'] };
}

function sendAlert(ch: EmailChannelConfig, id: string) {
  const payload = notifier!.render({ type: 'alert', alert: { ...sampleAlert(), id } }, ch);
  return notifier!.send(payload, ch, sendContext({ idempotencyKey: id }, 10_000));
}

/** Resolves once the server has the first message's data (so the one connection is busy with it). */
async function busy(server: Smtp): Promise<void> {
  while (server.attempts.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
}

const NOTHING_SENT = /pool was closed .*before this send got a connection; nothing was sent/;

describe('an email send waiting for a connection of a pool that is closed', () => {
  it('is turned away at once, retryably, saying nothing was sent, while the send in flight still completes', async () => {
    smtp = await startSmtp({ dataDelayMs: (index) => (index === 0 ? 1_000 : 0) });
    notifier = createEmailNotifier({ maxConnections: 1 });
    const ch = channel(smtp);
    const first = sendAlert(ch, 'first');
    await busy(smtp);
    const waiting = caught(() => sendAlert(ch, 'second'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const closing = notifier.close();
    const err = await waiting;
    expect(Date.now() - started).toBeLessThan(500);
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toMatch(NOTHING_SENT);
    expect(err.stillWithout).toMatch(/^buyers@example\.com: /);
    await expect(first).resolves.toMatchObject({ refs: { messageId: '<alert-first-v1.busy@example.com>' } });
    await closing;
    expect(smtp.attempts.map((m) => m.messageId)).toEqual(['<alert-first-v1.busy@example.com>']);
  });

  it('is turned away when its channel moves to another SMTP server, and the next send goes to the new one', async () => {
    smtp = await startSmtp({ dataDelayMs: (index) => (index === 0 ? 1_000 : 0) });
    other = await startSmtp();
    notifier = createEmailNotifier({ maxConnections: 1 });
    const old = channel(smtp);
    const first = sendAlert(old, 'first');
    await busy(smtp);
    const waiting = caught(() => sendAlert(old, 'second'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The reloaded config points the channel elsewhere: its pool is replaced.
    await expect(sendAlert(channel(other), 'moved')).resolves.toMatchObject({});
    const err = await waiting;
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toMatch(NOTHING_SENT);
    await first;
    expect(smtp.attempts.map((m) => m.messageId)).toEqual(['<alert-first-v1.busy@example.com>']);
    expect(other.received.map((m) => m.messageId)).toEqual(['<alert-moved-v1.busy@example.com>']);
  });
});

describe('an email notifier that was closed', () => {
  it('sends nothing more and opens no new pool: a send is turned away retryably', async () => {
    smtp = await startSmtp();
    notifier = createEmailNotifier({ maxConnections: 1 });
    const ch = channel(smtp);
    await sendAlert(ch, 'before');
    await notifier.close();
    const err = await caught(() => sendAlert(ch, 'after'));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toMatch(/nothing was sent/);
    expect(smtp.attempts.map((m) => m.messageId)).toEqual(['<alert-before-v1.busy@example.com>']);
  });
});
