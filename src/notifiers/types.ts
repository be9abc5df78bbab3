import type { Alert, Digest } from '../alerts/types.js';

export type Notification = { type: 'alert'; alert: Alert } | { type: 'digest'; digest: Digest };

/** What a successful send reports; refs are kept in the delivery ledger for follow-ups (Slack ts, Message-ID). */
export interface DeliveryReceipt {
  /** Short human summary, e.g. "HTTP 200" or "250 Accepted". */
  response: string;
  refs?: Record<string, string>;
}

export interface SendContext {
  /** Stable across retries of one delivery: alertId-version-channelId or digest id. */
  idempotencyKey: string;
  /** Refs recorded by earlier deliveries of the same alert to this channel (for threading). */
  previousRefs?: Record<string, string>;
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
  /** Releases pooled connections (SMTP); optional. */
  close?(): Promise<void>;
}
