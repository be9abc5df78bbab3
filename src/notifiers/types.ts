import type { Alert, Digest } from '../alerts/types.js';

export type Notification = { type: 'alert'; alert: Alert } | { type: 'digest'; digest: Digest };

/**
 * Where one recipient of an email stands: has the message, refused it for good (5xx), or asked to be sent it later
 * (4xx, greylisting). Accepted outranks refused outranks deferred: what one send learned, a later report cannot undo.
 */
export type RecipientStatus = 'accepted' | 'refused' | 'deferred';

/** What a send reports when it did not fail as a whole; refs are kept in the delivery ledger for follow-ups (Slack ts, Message-ID). */
export interface DeliveryReceipt {
  /** Short human summary, e.g. "HTTP 200" or "250 Accepted". */
  response: string;
  refs?: Record<string, string>;
  /**
   * Email, for a caller that passed SendContext.recipients: every recipient the channel has now and where each stands.
   * Any deferred one means the delivery is not done: send again, to the deferred ones only.
   */
  recipients?: Record<string, RecipientStatus>;
  /** Email with deferred recipients: who they are and what the server said to each, should the retries run out. */
  stillWithout?: string;
}

export interface SendContext {
  /** Stable across retries of one delivery: alertId-version-channelId or digest id. */
  idempotencyKey: string;
  /** Refs recorded by earlier deliveries of the same alert to this channel (for threading). */
  previousRefs?: Record<string, string>;
  /**
   * Email: the recipients of this delivery that earlier sends reached or were refused by, from the ledger (empty before
   * the first send). Given, the notifier sends only to the others and reports each recipient in the receipt; absent
   * (a one-off test send), recipients some of whom refused are only named in the response.
   */
  recipients?: Record<string, RecipientStatus>;
  signal?: AbortSignal;
  /** From settings.yaml http: receivers on loopback/private networks are refused unless allowed. */
  http: { allowPrivateAddresses: boolean; timeoutMs: number };
}

/**
 * A channel kind. render is pure (notification to payload, within the platform's limits); send does the I/O and
 * throws DeliveryError classified as retryable, rate-limited or permanent.
 */
export interface Notifier<Channel, Payload> {
  kind: string;
  render(notification: Notification, channel: Channel): Payload;
  send(payload: Payload, channel: Channel, context: SendContext): Promise<DeliveryReceipt>;
  /**
   * Email: the recipients a send would go to now, given where the ledger has each (SendContext.recipients): the
   * channel's recipients that have neither accepted nor refused for good. Kinds without recipients have none.
   */
  recipientsToSend?(channel: Channel, known: Readonly<Record<string, RecipientStatus>>): string[];
  /** Releases pooled connections (SMTP); optional. */
  close?(): Promise<void>;
}
