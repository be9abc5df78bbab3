import type { NodemailerError, Transporter } from 'nodemailer';
import type { EmailChannelConfig } from '../config/schema.js';
import { DeliveryError } from '../errors.js';
import { type EmailPayload, renderEmailAlert, renderEmailDigest, senderDomain } from './email-render.js';
import { safeCause } from './http.js';
import { oneLine, truncate } from './format.js';
import { channelSecrets, scrub } from './redact.js';
import type { DeliveryReceipt, Notification, Notifier, RecipientStatus, SendContext } from './types.js';
import { lazyRequire } from '../lazy-require.js';

// Loaded with the first email channel's transport, not in every worker.
const nodemailer = lazyRequire<typeof import('nodemailer')>('nodemailer');
const mailComposer = lazyRequire<typeof import('nodemailer/lib/mail-composer')>('nodemailer/lib/mail-composer');

export type { EmailPayload } from './email-render.js';

/** The List-Id a channel's mail carries: filterable per channel, in a namespace under the sender's domain. */
export function listIdOf(channel: EmailChannelConfig): string {
  return channel.listId ?? `${channel.id}.chokepoint.${senderDomain(channel.from)}`;
}

/**
 * Turns a nodemailer failure into a delivery outcome. The SMTP reply class decides where there is one (5xx except
 * 503 permanent; 4xx and 503 retry); a refused login is permanent unless the server said it was temporary (454);
 * a bad envelope or configuration is permanent; connection, TLS, DNS and timeout failures retry. `sentTo`: the
 * recipients a send was for when the others are settled (have the message or refused it for good), named so that a
 * failed delivery shows who is still without it.
 */
export function classifySmtpError(channel: EmailChannelConfig, err: unknown, sentTo?: readonly string[]): DeliveryError {
  const { permanent, message } = smtpVerdict(channel, err);
  const options = { cause: safeCause(err, { secrets: channelSecrets(channel) }) };
  const text = sentTo ? `to ${truncate(sentTo.join(', '), 400)} (still without it): ${message}` : message;
  return permanent ? DeliveryError.permanent(channel.id, text, options) : DeliveryError.retryable(channel.id, text, options);
}

function smtpVerdict(channel: EmailChannelConfig, err: unknown): { permanent: boolean; message: string } {
  const e = (err ?? {}) as NodemailerError;
  const reply = e.responseCode ? ` (${e.responseCode} ${truncate(oneLine(scrub(e.response ?? '', channelSecrets(channel))), 200)})` : '';
  const at = e.command ? ` at ${e.command}` : '';
  const permanentReply = e.permanent ?? (e.responseCode !== undefined ? e.responseCode >= 500 && e.responseCode !== 503 : undefined);
  switch (e.code) {
    case 'EAUTH':
    case 'ENOAUTH':
    case 'EOAUTH2':
      if (permanentReply === false) return { permanent: false, message: `SMTP login temporarily refused${reply}; will retry` };
      return { permanent: true, message: `SMTP server refused the login${reply}; check the user and password in smtpUrl` };
    case 'EABORT':
      return { permanent: false, message: 'SMTP send was cancelled or timed out; will retry' };
    case 'ECONFIG':
    case 'EMAXRECIPIENTS':
    case 'EFILEACCESS':
    case 'EURLACCESS':
      return { permanent: true, message: `SMTP configuration error (${e.code}); check the channel settings` };
  }
  if (permanentReply === true) return { permanent: true, message: `SMTP server rejected the message${reply}${at}; not retrying` };
  if (permanentReply === false) return { permanent: false, message: `SMTP server deferred the message${reply}${at}; will retry` };
  if (e.code === 'EENVELOPE') return { permanent: true, message: 'invalid sender or recipient address; check from/to' };
  return { permanent: false, message: `SMTP connection failed (${e.code ?? 'unknown error'}); will retry` };
}

// Channel configs are never changed in place (a reload builds new ones).
const envelopes = new WeakMap<EmailChannelConfig, { from: string; to: string[] }>();

/**
 * The SMTP envelope nodemailer would derive from the channel's from and to: bare addresses, normalised (IDN domains
 * punycoded) and deduplicated exactly as nodemailer reports them back as accepted or rejected.
 */
function envelopeOf(channel: EmailChannelConfig): { from: string; to: string[] } {
  let envelope = envelopes.get(channel);
  if (!envelope) {
    const derived = new (mailComposer().default)({ from: channel.from, to: channel.to }).compile().getEnvelope();
    envelope = { from: derived.from || '', to: derived.to };
    envelopes.set(channel, envelope);
  }
  return envelope;
}

/** A recipient the server did not take: deferred (4xx, 503, no reply) or refused for good, and what it said. */
interface Refusal {
  status: Exclude<RecipientStatus, 'accepted'>;
  reply?: string;
}

/** The recipients a send or an all-recipients-rejected error names as rejected (at RCPT TO, or per recipient by LMTP). */
function refusalsOf(rejected: unknown[] | undefined, errors: NodemailerError[] | undefined, secrets: readonly string[]): Map<string, Refusal> {
  const refusals = new Map<string, Refusal>();
  for (const e of errors ?? []) {
    if (!e.recipient) continue;
    const permanent = e.permanent ?? (e.responseCode !== undefined && e.responseCode >= 500 && e.responseCode !== 503);
    const said = truncate(oneLine(scrub(e.response ?? e.message, secrets)), 100);
    refusals.set(String(e.recipient), { status: permanent ? 'refused' : 'deferred', reply: e.responseCode && !said.startsWith(String(e.responseCode)) ? `${e.responseCode} ${said}` : said });
  }
  // Rejected without an error to say why: nothing says it is final.
  for (const address of rejected ?? []) if (!refusals.has(String(address))) refusals.set(String(address), { status: 'deferred' });
  return refusals;
}

/**
 * Where every recipient of the channel stands after a send: as the ledger has it if it was not sent to, else as the
 * server answered; `unnamed` for one sent to that the answer does not name as rejected. Also the notes for the
 * response, naming the deferred and refused recipients with what the server said (if this send asked it).
 */
function recipientStandings(
  to: readonly string[],
  known: Readonly<Record<string, RecipientStatus>>,
  refusals: ReadonlyMap<string, Refusal>,
  unnamed: RecipientStatus,
): { recipients: Record<string, RecipientStatus>; notes: string[] } {
  const recipients: Record<string, RecipientStatus> = {};
  for (const address of to) recipients[address] = known[address] === 'accepted' || known[address] === 'refused' ? known[address] : (refusals.get(address)?.status ?? unnamed);
  const named = (status: RecipientStatus) =>
    to.filter((address) => recipients[address] === status).map((address) => (refusals.get(address)?.reply ? `${address} (${refusals.get(address)!.reply})` : address));
  const deferred = named('deferred');
  const refused = named('refused');
  return { recipients, notes: [deferred.length ? `deferred: ${deferred.join(', ')}` : '', refused.length ? `refused: ${refused.join(', ')}` : ''].filter(Boolean) };
}

/** Threading: the ledger's refs win (they name the messages actually sent); otherwise the ids derived from the alert. */
function threadHeaders(payload: EmailPayload, previous: Record<string, string> | undefined) {
  const parent = previous?.messageId && previous.messageId !== payload.messageId ? previous.messageId : undefined;
  const root = previous?.threadRoot ?? parent;
  if (!payload.thread) return { root: payload.messageId };
  if (!parent) return { root: payload.thread.root, inReplyTo: payload.thread.inReplyTo, references: payload.thread.references };
  return { root: root ?? parent, inReplyTo: parent, references: [...new Set([root ?? parent, parent])] };
}

/**
 * Email over a pooled SMTP transport, one pool per channel, opened on first send and released by close(). Message
 * content comes from the internet, so nodemailer may neither read files nor fetch URLs while building it.
 */
export function createEmailNotifier(): Notifier<EmailChannelConfig, EmailPayload> & { close(): Promise<void> } {
  const pools = new Map<string, { smtpUrl: string; transport: Transporter }>();

  const transportFor = (channel: EmailChannelConfig): Transporter => {
    const existing = pools.get(channel.id);
    if (existing && existing.smtpUrl === channel.smtpUrl) return existing.transport;
    existing?.transport.close();
    const transport = nodemailer().createTransport({
      url: channel.smtpUrl,
      pool: true,
      maxConnections: 2,
      maxMessages: 100,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
      requireTLS: channel.tls?.requireTLS ?? false,
      tls: { rejectUnauthorized: channel.tls?.rejectUnauthorized ?? true, servername: channel.tls?.servername },
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    });
    pools.set(channel.id, { smtpUrl: channel.smtpUrl, transport });
    return transport;
  };

  return {
    kind: 'email',
    render(notification: Notification, channel: EmailChannelConfig): EmailPayload {
      return notification.type === 'alert' ? renderEmailAlert(notification.alert, channel) : renderEmailDigest(notification.digest, channel);
    },
    /**
     * Sends to the recipients the ledger (context.recipients) does not have as accepted or refused for good, under the
     * same Message-ID and To list each time, and reports where every recipient stands.
     */
    async send(payload, channel, context: SendContext): Promise<DeliveryReceipt> {
      const thread = threadHeaders(payload, context.previousRefs);
      const secrets = channelSecrets(channel);
      const known = context.recipients;
      const envelope = envelopeOf(channel);
      const settled = (address: string) => known?.[address] === 'accepted' || known?.[address] === 'refused';
      const pending = envelope.to.filter((address) => !settled(address));
      let server = 'not sent: every recipient already has the message';
      let refusals = new Map<string, Refusal>();
      // What a recipient sent to and not named as rejected is: accepted after a send, deferred when all were refused.
      let unnamed: RecipientStatus = 'accepted';
      if (pending.length > 0 || envelope.to.length === 0) {
        const deadline = AbortSignal.timeout(context.http.timeoutMs);
        const signal = context.signal ? AbortSignal.any([context.signal, deadline]) : deadline;
        try {
          const info = await transportFor(channel).sendMail({
            from: channel.from,
            // Every recipient stays in To; the envelope alone says who this send is for.
            to: channel.to,
            envelope: { from: envelope.from, to: pending },
            subject: payload.subject,
            text: payload.text,
            html: payload.html,
            messageId: payload.messageId,
            inReplyTo: thread.inReplyTo,
            references: thread.references,
            list: { id: { url: listIdOf(channel), comment: channel.name ?? `Chokepoint alerts (${channel.id})` } },
            headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All', 'X-Chokepoint-Delivery': context.idempotencyKey },
            signal,
          });
          server = truncate(oneLine(scrub(String(info.response ?? 'accepted'), secrets)), 200);
          refusals = refusalsOf(info.rejected, info.rejectedErrors as NodemailerError[] | undefined, secrets);
        } catch (err) {
          // Every recipient sent to was rejected. Only a caller that records recipients can use a refusal for good
          // next to deferrals (it is not asked again); otherwise the whole send failed.
          const e = (err ?? {}) as NodemailerError;
          refusals = known && e.code === 'EENVELOPE' ? refusalsOf(e.rejected, e.rejectedErrors, secrets) : new Map();
          if (![...refusals.values()].some((r) => r.status === 'refused')) {
            throw classifySmtpError(channel, err, pending.length < envelope.to.length ? pending : undefined);
          }
          server = 'no recipient accepted the message';
          unnamed = 'deferred';
        }
      }
      const { recipients, notes } = recipientStandings(envelope.to, known ?? {}, refusals, unnamed);
      if (Object.values(recipients).every((status) => status === 'refused')) {
        throw DeliveryError.permanent(channel.id, `every recipient refused the message for good (${truncate(notes.join('; '), 400)}); not retrying`);
      }
      return {
        response: truncate([server, ...notes].join('; '), 1000),
        refs: { messageId: payload.messageId, threadRoot: thread.root },
        ...(known && { recipients }),
      };
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      for (const { transport } of all) transport.close();
    },
  };
}
