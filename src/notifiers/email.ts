import type { NodemailerError, Transporter } from 'nodemailer';
import type { EmailChannelConfig } from '../config/schema.js';
import { DeliveryError } from '../errors.js';
import { type EmailPayload, renderEmailAlert, renderEmailDigest, senderDomain } from './email-render.js';
import { safeCause } from './http.js';
import { oneLine, truncate } from './format.js';
import { channelSecrets, scrub } from './redact.js';
import type { DeliveryReceipt, Notification, Notifier, SendContext } from './types.js';
import { lazyRequire } from '../lazy-require.js';

// Loaded with the first email channel's transport, not in every worker.
const nodemailer = lazyRequire<typeof import('nodemailer')>('nodemailer');

export type { EmailPayload } from './email-render.js';

/** The List-Id a channel's mail carries: filterable per channel, in a namespace under the sender's domain. */
export function listIdOf(channel: EmailChannelConfig): string {
  return channel.listId ?? `${channel.id}.chokepoint.${senderDomain(channel.from)}`;
}

/**
 * Turns a nodemailer failure into a delivery outcome. The SMTP reply class decides where there is one (5xx except
 * 503 permanent; 4xx and 503 retry); a refused login is permanent unless the server said it was temporary (454);
 * a bad envelope or configuration is permanent; connection, TLS, DNS and timeout failures retry.
 */
export function classifySmtpError(channel: EmailChannelConfig, err: unknown): DeliveryError {
  const e = (err ?? {}) as NodemailerError;
  const secrets = channelSecrets(channel);
  const reply = e.responseCode ? ` (${e.responseCode} ${truncate(oneLine(scrub(e.response ?? '', secrets)), 200)})` : '';
  const options = { cause: safeCause(err, { secrets }) };
  const permanentReply = e.permanent ?? (e.responseCode !== undefined ? e.responseCode >= 500 && e.responseCode !== 503 : undefined);
  switch (e.code) {
    case 'EAUTH':
    case 'ENOAUTH':
    case 'EOAUTH2':
      if (permanentReply === false) return DeliveryError.retryable(channel.id, `SMTP login temporarily refused${reply}; will retry`, options);
      return DeliveryError.permanent(channel.id, `SMTP server refused the login${reply}; check the user and password in smtpUrl`, options);
    case 'EABORT':
      return DeliveryError.retryable(channel.id, 'SMTP send was cancelled or timed out; will retry', options);
    case 'ECONFIG':
    case 'EMAXRECIPIENTS':
    case 'EFILEACCESS':
    case 'EURLACCESS':
      return DeliveryError.permanent(channel.id, `SMTP configuration error (${e.code}); check the channel settings`, options);
  }
  if (permanentReply === true) {
    return DeliveryError.permanent(channel.id, `SMTP server rejected the message${reply}${e.command ? ` at ${e.command}` : ''}; not retrying`, options);
  }
  if (permanentReply === false) {
    return DeliveryError.retryable(channel.id, `SMTP server deferred the message${reply}${e.command ? ` at ${e.command}` : ''}; will retry`, options);
  }
  if (e.code === 'EENVELOPE') return DeliveryError.permanent(channel.id, 'invalid sender or recipient address; check from/to', options);
  return DeliveryError.retryable(channel.id, `SMTP connection failed (${e.code ?? 'unknown error'}); will retry`, options);
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
    async send(payload, channel, context: SendContext): Promise<DeliveryReceipt> {
      const thread = threadHeaders(payload, context.previousRefs);
      const deadline = AbortSignal.timeout(context.http.timeoutMs);
      const signal = context.signal ? AbortSignal.any([context.signal, deadline]) : deadline;
      let info;
      try {
        info = await transportFor(channel).sendMail({
          from: channel.from,
          to: channel.to,
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
      } catch (err) {
        throw classifySmtpError(channel, err);
      }
      const rejected = (info.rejected ?? []).map(String);
      const response = truncate(oneLine(scrub(String(info.response ?? 'accepted'), channelSecrets(channel))), 200);
      return {
        response: rejected.length ? `${response} (rejected: ${rejected.join(', ')})` : response,
        refs: { messageId: payload.messageId, threadRoot: thread.root },
      };
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      for (const { transport } of all) transport.close();
    },
  };
}
