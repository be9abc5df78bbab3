import type { ParsedMail } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/alerts/types.js';
import type { EmailChannelConfig } from '../../src/config/schema.js';
import { classifySmtpError, createEmailNotifier } from '../../src/notifiers/email.js';
import { sampleAlert } from '../../src/notifiers/sample.js';
import type { Notification, SendContext } from '../../src/notifiers/types.js';
import { caught, sendContext } from './receiver.js';
import { SMTP_PASSWORD, startSmtp } from './smtp.js';

type Smtp = Awaited<ReturnType<typeof startSmtp>>;
let smtp: Smtp | undefined;
let notifier = createEmailNotifier();

afterEach(async () => {
  await notifier.close();
  notifier = createEmailNotifier();
  await smtp?.close();
  smtp = undefined;
});

function channel(server: Smtp, overrides: Partial<EmailChannelConfig> = {}): EmailChannelConfig {
  return {
    id: 'procurement',
    kind: 'email',
    optional: false,
    name: 'Procurement team',
    smtpUrl: server.smtpUrl,
    from: 'Chokepoint <alerts@example.com>',
    to: ['buyers@example.com'],
    ...overrides,
  };
}

function send(ch: EmailChannelConfig, notification: Notification, context: SendContext = sendContext()) {
  return notifier.send(notifier.render(notification, ch), ch, context);
}

/** mailparser parses List-* headers into one "list" object. */
const listId = (mail: ParsedMail) => (mail.headers.get('list') as { id?: { id?: string } } | undefined)?.id?.id;

const alert = (overrides: Partial<Alert> = {}): Notification => ({ type: 'alert', alert: { ...sampleAlert(), ...overrides } });

describe('email delivery over real SMTP', () => {
  it('sends HTML and plain-text alternatives with the level in the subject and list headers', async () => {
    smtp = await startSmtp();
    const receipt = await send(channel(smtp), alert());
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.subject).toBe('[CRITICAL] China bans exports of gallium, germanium and antimony to the United States');
    expect(mail.text).toContain('An export ban (strongest trade action) on gallium');
    expect(mail.text).toContain('reported by 3 sources');
    expect(mail.html).toContain('<a href="https://www.example.com/news/china-bans-gallium-germanium-exports">');
    expect(mail.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(mail.messageId).toBe('<alert-sample-semis-gallium-export-ban-v1.procurement@example.com>');
    expect(mail.headers.get('auto-submitted')).toBe('auto-generated');
    expect(listId(mail)).toBe('procurement.chokepoint.example.com');
    expect(mail.headerLines.find((h) => h.key === 'list-id')?.line).toMatch(/^List-ID: "Procurement team"\s+<procurement\.chokepoint\.example\.com>$/);
    expect(receipt.refs).toEqual({ messageId: mail.messageId, threadRoot: mail.messageId });
    expect(receipt.response).toMatch(/^250 /);
  });

  it('uses the configured List-Id', async () => {
    smtp = await startSmtp();
    await send(channel(smtp, { listId: 'buyers.alerts.example.org' }), alert());
    expect(listId(smtp.received[0])).toBe('buyers.alerts.example.org');
  });

  it('threads a follow-up under the first message with In-Reply-To and References', async () => {
    smtp = await startSmtp();
    const ch = channel(smtp);
    const first = await send(ch, alert());
    await send(ch, alert({ version: 2, reason: 'escalated' }), sendContext({ previousRefs: first.refs }));
    const [v1, v2] = smtp.received;
    expect(v2.messageId).toBe('<alert-sample-semis-gallium-export-ban-v2.procurement@example.com>');
    expect(v2.messageId).not.toBe(v1.messageId);
    expect(v2.inReplyTo).toBe(v1.messageId);
    expect([v2.references].flat()).toEqual([v1.messageId]);
    expect(v2.subject).toBe('[CRITICAL] China bans exports of gallium, germanium and antimony to the United States (escalated)');
  });

  it('threads a third version under the first and the latest, from the ledger refs', async () => {
    smtp = await startSmtp();
    const ch = channel(smtp);
    const first = await send(ch, alert());
    const second = await send(ch, alert({ version: 2, reason: 'escalated' }), sendContext({ previousRefs: first.refs }));
    await send(ch, alert({ version: 3, reason: 'corroborated' }), sendContext({ previousRefs: second.refs }));
    const [v1, v2, v3] = smtp.received;
    expect(second.refs?.threadRoot).toBe(v1.messageId);
    expect(v3.inReplyTo).toBe(v2.messageId);
    expect([v3.references].flat()).toEqual([v1.messageId, v2.messageId]);
  });

  it('threads a follow-up even when the ledger has no refs, from the alert id alone', async () => {
    smtp = await startSmtp();
    await send(channel(smtp), alert({ version: 2, reason: 'corroborated' }));
    const [mail] = smtp.received;
    expect(mail.inReplyTo).toBe('<alert-sample-semis-gallium-export-ban-v1.procurement@example.com>');
  });

  it('keeps the Message-ID of a retried message, so the retry is recognisable', async () => {
    smtp = await startSmtp({ data: (i) => (i === 0 ? 451 : undefined) });
    const ch = channel(smtp);
    const err = await caught(() => send(ch, alert()));
    expect(err).toMatchObject({ kind: 'retryable' });
    await send(ch, alert());
    expect(smtp.attempts).toHaveLength(2);
    expect(smtp.attempts[1].messageId).toBe(smtp.attempts[0].messageId);
    expect(smtp.received).toHaveLength(1);
  });

  it('retries a 4xx at RCPT and gives up on a 5xx', async () => {
    smtp = await startSmtp({ rcpt: (address) => (address.startsWith('greylist@') ? 450 : address.startsWith('nobody@') ? 550 : undefined) });
    const deferred = await caught(() => send(channel(smtp!, { to: 'greylist@example.com' }), alert()));
    expect(deferred).toMatchObject({ kind: 'retryable' });
    expect(deferred.message).toContain('(450 Try again later) at RCPT TO');
    const refused = await caught(() => send(channel(smtp!, { to: 'nobody@example.com' }), alert()));
    expect(refused).toMatchObject({ kind: 'permanent' });
    expect(refused.message).toContain('550');
    expect(smtp.attempts).toHaveLength(0);
  });

  it('gives up on a 5xx after DATA', async () => {
    smtp = await startSmtp({ data: () => 554 });
    const err = await caught(() => send(channel(smtp!), alert()));
    expect(err).toMatchObject({ kind: 'permanent' });
    expect(err.message).toMatch(/554/);
  });

  it('reports recipients refused while others accepted, without failing the delivery', async () => {
    smtp = await startSmtp({ rcpt: (address) => (address.startsWith('nobody@') ? 550 : undefined) });
    const receipt = await send(channel(smtp, { to: ['buyers@example.com', 'nobody@example.com'] }), alert());
    expect(receipt.response).toContain('refused: nobody@example.com');
    expect(smtp.received).toHaveLength(1);
  });

  it('gives up on a wrong password without printing it', async () => {
    smtp = await startSmtp();
    const ch = channel(smtp, { smtpUrl: smtp.smtpUrl.replace(encodeURIComponent(SMTP_PASSWORD), 'wrong-password-123') });
    const err = await caught(() => send(ch, alert()));
    expect(err).toMatchObject({ kind: 'permanent', channelId: 'procurement' });
    expect(err.message).toContain('refused the login');
    expect(err.message).not.toContain('wrong-password-123');
  });

  it('retries when the server cannot be reached', async () => {
    smtp = await startSmtp();
    const ch = channel(smtp);
    await smtp.close();
    smtp = undefined;
    const err = await caught(() => send(ch, alert()));
    expect(err).toMatchObject({ kind: 'retryable' });
  });

  it('escapes feed text in the HTML part', async () => {
    smtp = await startSmtp();
    await send(channel(smtp), alert({ title: 'Ban <script>alert(1)</script> & more', why: '<img src=x onerror=alert(1)>' }));
    const [mail] = smtp.received;
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).toContain('Ban &lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
  });

  it('sends a digest grouped by watchlist', async () => {
    smtp = await startSmtp();
    const base = sampleAlert();
    await send(channel(smtp), {
      type: 'digest',
      digest: {
        channelId: 'procurement',
        windowStart: '2024-12-02T08:00:00.000Z',
        windowEnd: '2024-12-03T08:00:00.000Z',
        alerts: [
          { ...base, id: 'd1', level: 'medium', title: 'Germanium licence delays', watchlistId: 'semis', watchlistName: 'Semis' },
          { ...base, id: 'd2', level: 'low', title: 'NdFeB magnet prices rise', watchlistId: 'magnets', watchlistName: 'Magnets' },
        ],
      },
    });
    const [mail] = smtp.received;
    expect(mail.subject).toBe('[DIGEST] 2 alerts, highest MEDIUM (2024-12-03 08:00 UTC)');
    expect(mail.messageId).toBe('<digest-2024-12-03T08=3a00=3a00=2e000Z.procurement@example.com>');
    expect(mail.text!.indexOf('Semis (1 alert)')).toBeLessThan(mail.text!.indexOf('Magnets (1 alert)'));
    expect(mail.html).toContain('Germanium licence delays');
  });
});

describe('email to several recipients, some refused at RCPT TO, for a caller that records each recipient', () => {
  const to = ['buyers@example.com', 'greylist@example.com', 'nobody@example.com'];
  /** greylist@ gets 450 while `greylisting` says so; nobody@ always gets 550. */
  const refusing = (greylisting: () => boolean) => (address: string) =>
    address.startsWith('greylist@') && greylisting() ? 450 : address.startsWith('nobody@') ? 550 : undefined;
  const tracked = (recipients: SendContext['recipients'] = {}) => sendContext({ recipients });

  it('reports each recipient as accepted, deferred (4xx) or refused for good (5xx)', async () => {
    smtp = await startSmtp({ rcpt: refusing(() => true) });
    const receipt = await send(channel(smtp, { to }), alert(), tracked());
    expect(receipt.recipients).toEqual({ 'buyers@example.com': 'accepted', 'greylist@example.com': 'deferred', 'nobody@example.com': 'refused' });
    expect(receipt.response).toMatch(/deferred: greylist@example\.com \(450 /);
    expect(receipt.response).toMatch(/refused: nobody@example\.com \(550 /);
    expect(receipt.stillWithout).toBe('greylist@example.com (450 Try again later)');
    expect(smtp.envelopes).toEqual([['buyers@example.com']]);
  });

  it('sends again only to the recipients still to accept, as the same message to the same To list', async () => {
    let greylisting = true;
    smtp = await startSmtp({ rcpt: refusing(() => greylisting) });
    const ch = channel(smtp, { to });
    const first = await send(ch, alert(), tracked());
    greylisting = false;
    const second = await send(ch, alert(), tracked(first.recipients));
    expect(smtp.envelopes).toEqual([['buyers@example.com'], ['greylist@example.com']]);
    // Neither the one that accepted nor the one refused for good is asked again.
    expect(smtp.rcpts).toEqual(['buyers@example.com', 'greylist@example.com', 'nobody@example.com', 'greylist@example.com']);
    const [once, again] = smtp.received;
    expect(again.messageId).toBe(once.messageId);
    expect(again.subject).toBe(once.subject);
    expect((again.to as { text: string }).text).toBe((once.to as { text: string }).text);
    expect(second.refs).toEqual(first.refs);
    expect(second.recipients).toEqual({ 'buyers@example.com': 'accepted', 'greylist@example.com': 'accepted', 'nobody@example.com': 'refused' });
    expect(second.response).toContain('refused: nobody@example.com');
    expect(second.response).not.toContain('deferred');
  });

  it('sends nothing when every recipient has already accepted or refused for good', async () => {
    smtp = await startSmtp();
    const receipt = await send(channel(smtp, { to }), alert(), tracked({ 'buyers@example.com': 'accepted', 'greylist@example.com': 'accepted', 'nobody@example.com': 'refused' }));
    expect(smtp.rcpts).toEqual([]);
    expect(receipt.recipients).toEqual({ 'buyers@example.com': 'accepted', 'greylist@example.com': 'accepted', 'nobody@example.com': 'refused' });
    expect(receipt.response).toContain('refused: nobody@example.com');
  });

  it('retries when every recipient sent to defers, and gives up when every recipient refused for good', async () => {
    smtp = await startSmtp({ rcpt: refusing(() => true) });
    const deferred = await caught(() => send(channel(smtp!, { to: ['greylist@example.com'] }), alert(), tracked()));
    expect(deferred).toMatchObject({ kind: 'retryable' });
    expect(deferred.message).toContain('450');
    const refused = await caught(() => send(channel(smtp!, { to: ['nobody@example.com'] }), alert(), tracked()));
    expect(refused).toMatchObject({ kind: 'permanent' });
    expect(refused.message).toContain('550');
    // Refused by one send, the other deferred by the first and refused by the second: nobody ever accepted.
    const ch = channel(smtp, { to: ['greylist@example.com', 'nobody@example.com', 'other@example.com'] });
    const later = await caught(() => send(ch, alert(), tracked({ 'greylist@example.com': 'refused', 'nobody@example.com': 'deferred', 'other@example.com': 'refused' })));
    expect(later).toMatchObject({ kind: 'permanent' });
    expect(later.message).toContain('nobody@example.com');
    // Where each stands, for the ledger: the one the ledger had as deferred is refused now.
    expect(later.recipients).toEqual({ 'greylist@example.com': 'refused', 'nobody@example.com': 'refused', 'other@example.com': 'refused' });
    expect(smtp.attempts).toHaveLength(0);
  });

  it('names each recipient still without the message with what the server said, when every one sent to defers', async () => {
    smtp = await startSmtp({ rcpt: refusing(() => true) });
    const ch = channel(smtp, { to });
    const err = await caught(() => send(ch, alert(), tracked({ 'buyers@example.com': 'accepted', 'nobody@example.com': 'refused' })));
    expect(err).toMatchObject({ kind: 'retryable', stillWithout: 'greylist@example.com (450 Try again later)' });
    expect(err.recipients).toEqual({ 'buyers@example.com': 'accepted', 'greylist@example.com': 'deferred', 'nobody@example.com': 'refused' });
  });

  it('records the recipients refused for good even when all the others deferred', async () => {
    smtp = await startSmtp({ rcpt: refusing(() => true) });
    const receipt = await send(channel(smtp, { to: ['greylist@example.com', 'nobody@example.com'] }), alert(), tracked());
    expect(receipt.recipients).toEqual({ 'greylist@example.com': 'deferred', 'nobody@example.com': 'refused' });
    expect(smtp.attempts).toHaveLength(0);
  });

  it('counts a recipient accepted earlier as delivered when the rest are now refused for good', async () => {
    smtp = await startSmtp({ rcpt: refusing(() => true) });
    const ch = channel(smtp, { to: ['buyers@example.com', 'nobody@example.com'] });
    const receipt = await send(ch, alert(), tracked({ 'buyers@example.com': 'accepted', 'nobody@example.com': 'deferred' }));
    expect(receipt.recipients).toEqual({ 'buyers@example.com': 'accepted', 'nobody@example.com': 'refused' });
    expect(smtp.rcpts).toEqual(['nobody@example.com']);
  });

  it('sends to a recipient added to the channel since, and drops one removed from it', async () => {
    smtp = await startSmtp();
    const receipt = await send(channel(smtp, { to: ['buyers@example.com', 'new@example.com'] }), alert(), tracked({ 'buyers@example.com': 'accepted', 'gone@example.com': 'deferred' }));
    expect(smtp.envelopes).toEqual([['new@example.com']]);
    expect(receipt.recipients).toEqual({ 'buyers@example.com': 'accepted', 'new@example.com': 'accepted' });
  });

  it('names the recipients still without the message when the send to them fails', async () => {
    smtp = await startSmtp();
    const ch = channel(smtp, { to });
    await smtp.close();
    smtp = undefined;
    const err = await caught(() => send(ch, alert(), tracked({ 'buyers@example.com': 'accepted', 'nobody@example.com': 'refused' })));
    expect(err).toMatchObject({ kind: 'retryable' });
    expect(err.message).toMatch(/to greylist@example\.com \(still without it\): SMTP connection failed/);
    expect(err.stillWithout).toMatch(/^greylist@example\.com: SMTP connection failed \([A-Z]+\)$/);
    expect(err.message).not.toContain(SMTP_PASSWORD);
  });

  it('does not repeat the SMTP password that a server echoes when it refuses a recipient', async () => {
    smtp = await startSmtp({
      rcpt: (address) => (address.startsWith('greylist@') ? { code: 451, message: `Greylisted (login ${SMTP_PASSWORD})` } : undefined),
    });
    const receipt = await send(channel(smtp, { to: ['buyers@example.com', 'greylist@example.com'] }), alert(), tracked());
    expect(receipt.recipients).toMatchObject({ 'greylist@example.com': 'deferred' });
    expect(receipt.response).toContain('451 Greylisted');
    expect(JSON.stringify(receipt)).not.toContain(SMTP_PASSWORD);
  });
});

describe('SMTP failure classification', () => {
  const ch = { id: 'procurement', kind: 'email', optional: false, smtpUrl: 'smtp://u:p@h', from: 'a@example.com', to: 'b@example.com' } as EmailChannelConfig;
  const err = (fields: Record<string, unknown>) => Object.assign(new Error('x'), fields);

  it.each([
    [{ code: 'EENVELOPE', responseCode: 550, permanent: true }, 'permanent'],
    [{ code: 'EMESSAGE', responseCode: 552, permanent: true }, 'permanent'],
    [{ code: 'EMESSAGE', responseCode: 503, permanent: false }, 'retryable'],
    [{ code: 'EENVELOPE', responseCode: 451, permanent: false }, 'retryable'],
    [{ code: 'EPROTOCOL', responseCode: 421 }, 'retryable'],
    [{ code: 'EAUTH', responseCode: 535, permanent: true }, 'permanent'],
    [{ code: 'EAUTH', responseCode: 454, permanent: false }, 'retryable'],
    [{ code: 'ENOAUTH' }, 'permanent'],
    [{ code: 'ECONNECTION' }, 'retryable'],
    [{ code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT' }, 'retryable'],
    [{ code: 'ETLS' }, 'retryable'],
    [{ code: 'EABORT' }, 'retryable'],
  ])('classifies %o as %s', (fields, kind) => {
    expect(classifySmtpError(ch, err(fields)).kind).toBe(kind);
  });

  it('quotes the reply code once, whether or not the text the server said starts with it', () => {
    const said = (response: string) => classifySmtpError(ch, err({ code: 'EENVELOPE', responseCode: 452, response, command: 'RCPT TO' })).message;
    expect(said('452 4.2.2 Mailbox full')).toContain('(452 4.2.2 Mailbox full) at RCPT TO');
    expect(said('Mailbox full')).toContain('(452 Mailbox full) at RCPT TO');
  });
});
