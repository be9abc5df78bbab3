import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelConfig } from '../../src/config/schema.js';
import { serializeError } from '../../src/log.js';
import { channelSecrets, scrub } from '../../src/notifiers/redact.js';
import { createNotifiers, deliver } from '../../src/notifiers/registry.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import { clearSecretsForTests } from '../../src/secrets.js';
import { caught, type Received, sendContext, startReceiver } from './receiver.js';
import { SMTP_PASSWORD, startSmtp } from './smtp.js';

/**
 * One test per notifier kind: whatever the receiver says back (including an echo of our own request), no configured
 * secret may appear in an error message, its cause, its log form, or a rendered payload. The process-wide secret
 * registry is emptied first, so these prove the first line of defence: messages built without secrets.
 */

const SLACK_PATH = '/services/T0SECRET1/B0SECRET2/xoxSlackWebhookSecret42abc';
const TEAMS_PATH = '/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=TeamsSigValue-Very-Secret-0987654321';
const HOOK_SECRET = 'hook-signing-secret-5f3a9c';
const HOOK_TOKEN = 'Bearer erp-api-token-8d7e6f';

const echo = (request: Received) => `${request.path} ${JSON.stringify(request.headers)} ${request.body.slice(0, 100)}`;

function everythingSaid(err: Error & Record<string, any>): string {
  return [err.message, err.cause instanceof Error ? err.cause.message : '', JSON.stringify(serializeError(err)), JSON.stringify(err.cause ?? {})].join('\n');
}

function expectNoSecret(text: string, secrets: string[]) {
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
beforeEach(() => clearSecretsForTests());
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

async function failuresOf(channel: ChannelConfig, answers: Array<{ status: number; delayMs?: number }>) {
  const notifiers = createNotifiers([channel]);
  const entry = notifiers.get(channel.id)!;
  const errors = [];
  for (let i = 0; i < answers.length; i++) {
    errors.push(await caught(() => deliver(entry, { type: 'alert', alert: sampleAlert() }, sendContext({}, 300))));
  }
  // The SSRF refusal path, and a connection that is refused outright.
  errors.push(await caught(() => deliver(entry, { type: 'alert', alert: sampleAlert() }, { idempotencyKey: 'k', http: { allowPrivateAddresses: false, timeoutMs: 300 } })));
  const payload = JSON.stringify(entry.notifier.render({ type: 'alert', alert: sampleAlert() }, channel));
  await notifiers.close();
  return { errors, payload };
}

const ANSWERS = [{ status: 400 }, { status: 500 }, { status: 429 }, { status: 200, delayMs: 1000 }];

describe('no configured secret leaks', () => {
  it('from a Slack channel', async () => {
    receiver = await startReceiver((i, r) => ({ ...ANSWERS[i], body: echo(r) }));
    const channel: ChannelConfig = { id: 'slack-ops', kind: 'slack', optional: false, webhookUrl: receiver.url + SLACK_PATH };
    const { errors, payload } = await failuresOf(channel, ANSWERS);
    expect(errors.map((e) => e.kind)).toEqual(['permanent', 'retryable', 'rate-limited', 'retryable', 'permanent']);
    for (const err of errors) expectNoSecret(everythingSaid(err), [channel.webhookUrl, SLACK_PATH, 'xoxSlackWebhookSecret42abc']);
    expectNoSecret(payload, [SLACK_PATH]);
  });

  it('from a Teams channel', async () => {
    receiver = await startReceiver((i, r) => ({ ...ANSWERS[i], body: echo(r) }));
    const channel: ChannelConfig = { id: 'teams-ops', kind: 'teams', optional: false, webhookUrl: receiver.url + TEAMS_PATH };
    const { errors, payload } = await failuresOf(channel, ANSWERS);
    for (const err of errors) expectNoSecret(everythingSaid(err), [channel.webhookUrl, 'TeamsSigValue-Very-Secret-0987654321']);
    expectNoSecret(payload, ['TeamsSigValue-Very-Secret-0987654321']);
  });

  it('from a webhook channel (URL, signing secret and custom header)', async () => {
    receiver = await startReceiver((i, r) => ({ ...ANSWERS[i], body: echo(r) }));
    const channel: ChannelConfig = {
      id: 'erp',
      kind: 'webhook',
      optional: false,
      url: `${receiver.url}/hooks/erp-inbound-0c4f2b7e9a1d`,
      secret: HOOK_SECRET,
      headers: { Authorization: HOOK_TOKEN },
    };
    const { errors, payload } = await failuresOf(channel, ANSWERS);
    expect(receiver.requests[0].headers.authorization).toBe(HOOK_TOKEN);
    for (const err of errors) expectNoSecret(everythingSaid(err), [HOOK_SECRET, HOOK_TOKEN, 'erp-inbound-0c4f2b7e9a1d']);
    expectNoSecret(payload, [HOOK_SECRET, HOOK_TOKEN]);
  });

  it('from a webhook channel whose receiver quotes a short key of its path or the bare token', async () => {
    receiver = await startReceiver((_i, r) => ({ status: 401, body: `unknown hook ${r.path.split('/').pop()}; bad credentials ${String(r.headers.authorization).slice(7)}` }));
    const channel: ChannelConfig = { id: 'erp', kind: 'webhook', optional: false, url: `${receiver.url}/hooks/catch/4711/k9Zq2xT7pL`, headers: { Authorization: HOOK_TOKEN } };
    const notifiers = createNotifiers([channel]);
    const err = await caught(() => deliver(notifiers.get('erp')!, { type: 'alert', alert: sampleAlert() }, sendContext()));
    await notifiers.close();
    expect(err.message).toContain('unknown hook [redacted]; bad credentials [redacted]');
    expectNoSecret(everythingSaid(err), ['k9Zq2xT7pL', 'erp-api-token-8d7e6f']);
  });

  it('knows the base64 forms an SMTP server may quote of the login', () => {
    const channel: ChannelConfig = { id: 'mail', kind: 'email', optional: false, smtpUrl: 'smtp://alerts:Sup3r%2Fsecret@mail.example.com:587', from: 'a@example.com', to: 'b@example.com' };
    const secrets = channelSecrets(channel);
    expect(secrets).toContain(Buffer.from('\0alerts\0Sup3r/secret').toString('base64'));
    expect(secrets).toContain(Buffer.from('Sup3r/secret').toString('base64'));
    expect(scrub(`535 bad creds ${Buffer.from('\0alerts\0Sup3r/secret').toString('base64')}`, secrets)).toBe('535 bad creds [redacted]');
    // A user name that is not valid percent-encoding does not keep the password out of the list.
    expect(channelSecrets({ ...channel, smtpUrl: 'smtp://al%zzerts:Hunter2Secret@mail.example.com:587' } as ChannelConfig)).toContain('Hunter2Secret');
  });

  it('from an email channel, even when the SMTP server echoes the password', async () => {
    const smtp = await startSmtp({ rcpt: () => 550 });
    try {
      const good: ChannelConfig = { id: 'mail', kind: 'email', optional: false, smtpUrl: smtp.smtpUrl, from: 'a@example.com', to: 'b@example.com' };
      const bad: ChannelConfig = { ...good, smtpUrl: smtp.smtpUrl.replace(encodeURIComponent(SMTP_PASSWORD), 'Wrong-Pass-123456') };
      const notifiers = createNotifiers([good]);
      const other = createNotifiers([bad]);
      const errors = [
        await caught(() => deliver(notifiers.get('mail')!, { type: 'alert', alert: sampleAlert() }, sendContext())),
        await caught(() => deliver(other.get('mail')!, { type: 'alert', alert: sampleAlert() }, sendContext())),
      ];
      const payload = JSON.stringify(notifiers.get('mail')!.notifier.render({ type: 'alert', alert: sampleAlert() }, good));
      await notifiers.close();
      await other.close();
      expect(errors.map((e) => e.kind)).toEqual(['permanent', 'permanent']);
      for (const err of errors) expectNoSecret(everythingSaid(err), [SMTP_PASSWORD, 'Wrong-Pass-123456', smtp.smtpUrl]);
      expectNoSecret(payload, [SMTP_PASSWORD]);
    } finally {
      await smtp.close();
    }
  });
});
