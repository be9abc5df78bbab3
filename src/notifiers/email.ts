import type { NodemailerError, Transporter } from 'nodemailer';
import type { EmailChannelConfig } from '../config/schema.js';
import { DeliveryError } from '../errors.js';
import { type EmailPayload, renderEmailAlert, renderEmailDigest, senderDomain } from './email-render.js';
import { safeCause } from './http.js';
import { oneLine, truncate } from './format.js';
import { channelSecrets, scrub } from './redact.js';
import { createSendGate, POOL_BUSY, POOL_CLOSED, poolClosed, type SendGate } from './send-gate.js';
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

/** A send that failed as a whole, as the notifier knows it for a caller that records each recipient. */
export interface FailedSend {
  /** The recipients the send was for. */
  to: readonly string[];
  /** Others are settled (have the message or refused it for good): the message names these as still without it. */
  partial: boolean;
  /** Where each recipient of the channel stands after the send, for the ledger. */
  recipients?: Record<string, RecipientStatus>;
  /** What the server said to each recipient it rejected. */
  replies?: ReadonlyMap<string, string>;
}

/**
 * Turns a nodemailer failure into a delivery outcome. The SMTP reply class decides where there is one (5xx except
 * 503 permanent; 4xx and 503 retry); a refused login is permanent unless the server said it was temporary (454);
 * a bad envelope or configuration is permanent; connection, TLS, DNS and timeout failures retry. `failed`: who the
 * send was for, so that a failed delivery shows who is still without it and what the server said.
 */
export function classifySmtpError(channel: EmailChannelConfig, err: unknown, failed?: FailedSend): DeliveryError {
  const { permanent, message } = smtpVerdict(channel, err);
  const options = { cause: safeCause(err, { secrets: channelSecrets(channel) }), recipients: failed?.recipients, stillWithout: failed && stillWithout(failed, message) };
  const text = failed?.partial ? `to ${truncate(failed.to.join(', '), 400)} (still without it): ${message}` : message;
  // No "will retry": whether there is another attempt is the caller's to say (a job's last attempt, a one-off CLI send).
  return permanent ? DeliveryError.permanent(channel.id, text, options) : DeliveryError.retryable(channel.id, text, options);
}

/** Who a failed send leaves without the message: each with the server's reply where it gave one, else all with what went wrong. */
function stillWithout(failed: FailedSend, what: string): string | undefined {
  if (failed.to.length === 0) return undefined;
  if (!failed.replies?.size) return `${truncate(failed.to.join(', '), 400)}: ${what}`;
  return truncate(failed.to.map((address) => (failed.replies!.get(address) ? `${address} (${failed.replies!.get(address)})` : address)).join(', '), 600);
}

/** What an SMTP failure was, and whether it is final. */
function smtpVerdict(channel: EmailChannelConfig, err: unknown): { permanent: boolean; message: string } {
  const e = (err ?? {}) as NodemailerError;
  const reply = e.responseCode ? ` (${replyText(e.responseCode, truncate(oneLine(scrub(e.response ?? '', channelSecrets(channel))), 200))})` : '';
  const at = e.command ? ` at ${e.command}` : '';
  const permanentReply = e.permanent ?? (e.responseCode !== undefined ? e.responseCode >= 500 && e.responseCode !== 503 : undefined);
  switch (e.code) {
    case 'EAUTH':
    case 'ENOAUTH':
    case 'EOAUTH2':
      if (permanentReply === false) return { permanent: false, message: `SMTP login temporarily refused${reply}` };
      return { permanent: true, message: `SMTP server refused the login${reply}; check the user and password in smtpUrl` };
    case 'EABORT':
      return { permanent: false, message: 'SMTP send was cancelled or timed out' };
    case POOL_BUSY:
    case POOL_CLOSED:
    case EXCHANGE_TIMEOUT:
      return { permanent: false, message: e.message };
    case 'ECONFIG':
    case 'EMAXRECIPIENTS':
    case 'EFILEACCESS':
    case 'EURLACCESS':
      return { permanent: true, message: `SMTP configuration error (${e.code}); check the channel settings` };
  }
  if (permanentReply === true) return { permanent: true, message: `SMTP server rejected the message${reply}${at}; not retrying` };
  if (permanentReply === false) return { permanent: false, message: `SMTP server deferred the message${reply}${at}` };
  if (e.code === 'EENVELOPE') return { permanent: true, message: 'invalid sender or recipient address; check from/to' };
  return { permanent: false, message: `SMTP connection failed (${e.code ?? 'unknown error'})` };
}

/** An SMTP reply as "code text" with the code once: most servers' text starts with it, and nodemailer keeps it apart. */
function replyText(code: number | undefined, text: string): string {
  return code && !text.startsWith(String(code)) ? `${code} ${text}`.trim() : text;
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
    refusals.set(String(e.recipient), { status: permanent ? 'refused' : 'deferred', reply: replyText(e.responseCode, truncate(oneLine(scrub(e.response ?? e.message, secrets)), 100)) });
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
): { recipients: Record<string, RecipientStatus>; notes: string[]; deferred: string[] } {
  const recipients: Record<string, RecipientStatus> = {};
  for (const address of to) recipients[address] = settled(known, address) ? known[address]! : (refusals.get(address)?.status ?? unnamed);
  const named = (status: RecipientStatus) =>
    to.filter((address) => recipients[address] === status).map((address) => (refusals.get(address)?.reply ? `${address} (${refusals.get(address)!.reply})` : address));
  const deferred = named('deferred');
  const refused = named('refused');
  return { recipients, deferred, notes: [deferred.length ? `deferred: ${deferred.join(', ')}` : '', refused.length ? `refused: ${refused.join(', ')}` : ''].filter(Boolean) };
}

/** Has the message or refused it for good: no send goes to it again. */
function settled(known: Readonly<Record<string, RecipientStatus>> | undefined, address: string): boolean {
  return known?.[address] === 'accepted' || known?.[address] === 'refused';
}

/** The channel's recipients that a send goes to, given where the ledger has each: the ones not settled. */
function recipientsToSend(channel: EmailChannelConfig, known: Readonly<Record<string, RecipientStatus>> | undefined): string[] {
  return envelopeOf(channel).to.filter((address) => !settled(known, address));
}

/** Threading: the ledger's refs win (they name the messages actually sent); otherwise the ids derived from the alert. */
function threadHeaders(payload: EmailPayload, previous: Record<string, string> | undefined) {
  const parent = previous?.messageId && previous.messageId !== payload.messageId ? previous.messageId : undefined;
  const root = previous?.threadRoot ?? parent;
  if (!payload.thread) return { root: payload.messageId };
  if (!parent) return { root: payload.thread.root, inReplyTo: payload.thread.inReplyTo, references: payload.thread.references };
  return { root: root ?? parent, inReplyTo: parent, references: [...new Set([root ?? parent, parent])] };
}

/** The code of the failure of a send whose SMTP exchange outlasted the send timeout. */
const EXCHANGE_TIMEOUT = 'EEXCHANGETIMEOUT';

/** The exchange took longer than the timeout (nodemailer reports only that it was aborted). */
function exchangeTimedOut(timeoutMs: number): Error {
  return Object.assign(new Error(`SMTP exchange timed out after ${Number((timeoutMs / 1000).toFixed(1))} s`), { code: EXCHANGE_TIMEOUT });
}

export interface EmailNotifierOptions {
  /** SMTP connections per channel, and so sends in flight per channel (default 2). */
  maxConnections?: number;
  /** Longest wait for a free connection; default 5 minutes, or ten times the send timeout when that is longer. */
  maxPoolWaitMs?: number;
}

/** Ten slow sends ahead on a channel are a busy day; a pool that does not move for minutes is not. */
function poolWaitMs(timeoutMs: number, configured?: number): number {
  return configured ?? Math.max(5 * 60_000, 10 * timeoutMs);
}

/**
 * Email over a pooled SMTP transport, one pool per channel, opened on first send and released by close(). Message
 * content comes from the internet, so nodemailer may neither read files nor fetch URLs while building it.
 */
export function createEmailNotifier(options: EmailNotifierOptions = {}): Notifier<EmailChannelConfig, EmailPayload> & { close(): Promise<void> } {
  const maxConnections = options.maxConnections ?? 2;
  const pools = new Map<string, { smtpUrl: string; transport: Transporter; gate: SendGate }>();
  // After close() a pool opened would never be closed: sends are turned away (retryably) instead.
  let closed = false;
  const shut = (pool: { transport: Transporter; gate: SendGate }) => {
    // The gate first: a send it let in after the transport closed would fail, its attempt lost for nothing.
    pool.gate.close();
    pool.transport.close();
  };

  const poolFor = (channel: EmailChannelConfig) => {
    if (closed) throw poolClosed();
    const existing = pools.get(channel.id);
    if (existing && existing.smtpUrl === channel.smtpUrl) return existing;
    if (existing) shut(existing);
    const transport = nodemailer().createTransport({
      url: channel.smtpUrl,
      pool: true,
      maxConnections,
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
    // One gate a transport: sends still in flight on a replaced one release its gate, not the new one's.
    const pool = { smtpUrl: channel.smtpUrl, transport, gate: createSendGate(maxConnections) };
    pools.set(channel.id, pool);
    return pool;
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
      const pending = recipientsToSend(channel, known);
      let server = 'not sent: every recipient already has the message';
      let refusals = new Map<string, Refusal>();
      // What a recipient sent to and not named as rejected is: accepted after a send, deferred when all were refused.
      let unnamed: RecipientStatus = 'accepted';
      if (pending.length > 0 || envelope.to.length === 0) {
        let leave: (() => void) | undefined;
        let deadline: AbortSignal | undefined;
        try {
          const pool = poolFor(channel);
          leave = await pool.gate.enter(poolWaitMs(context.http.timeoutMs, options.maxPoolWaitMs), context.signal);
          // From here on the send has a connection (or opens one): the timeout bounds its SMTP exchange only.
          deadline = AbortSignal.timeout(context.http.timeoutMs);
          const signal = context.signal ? AbortSignal.any([context.signal, deadline]) : deadline;
          const info = await pool.transport.sendMail({
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
        } catch (caught) {
          const timedOut = (caught as NodemailerError | undefined)?.code === 'EABORT' && deadline?.aborted && !context.signal?.aborted;
          const err = timedOut ? exchangeTimedOut(context.http.timeoutMs) : caught;
          // Every recipient sent to was rejected. Only a caller that records recipients can use a refusal for good
          // next to deferrals (it is not asked again); otherwise the whole send failed.
          const e = (err ?? {}) as NodemailerError;
          refusals = known && e.code === 'EENVELOPE' ? refusalsOf(e.rejected, e.rejectedErrors, secrets) : new Map();
          if (![...refusals.values()].some((r) => r.status === 'refused')) {
            const replies = new Map([...refusals].flatMap(([address, r]) => (r.reply ? [[address, r.reply] as const] : [])));
            const standing = refusals.size > 0 ? recipientStandings(envelope.to, known ?? {}, refusals, 'deferred').recipients : undefined;
            throw classifySmtpError(channel, err, { to: pending, partial: pending.length < envelope.to.length, recipients: standing, replies });
          }
          server = 'no recipient accepted the message';
          unnamed = 'deferred';
        } finally {
          leave?.();
        }
      }
      const { recipients, notes, deferred } = recipientStandings(envelope.to, known ?? {}, refusals, unnamed);
      if (Object.values(recipients).every((status) => status === 'refused')) {
        // With where each stands: the ledger may still have some as deferred, and a retry must not ask them again.
        throw DeliveryError.permanent(channel.id, `every recipient refused the message for good (${truncate(notes.join('; '), 400)}); not retrying`, {
          ...(known && { recipients }),
        });
      }
      return {
        response: truncate([server, ...notes].join('; '), 1000),
        refs: { messageId: payload.messageId, threadRoot: thread.root },
        ...(known && { recipients }),
        ...(deferred.length > 0 && { stillWithout: truncate(deferred.join(', '), 600) }),
      };
    },
    recipientsToSend,
    async close() {
      closed = true;
      const all = [...pools.values()];
      pools.clear();
      for (const pool of all) shut(pool);
    },
  };
}
