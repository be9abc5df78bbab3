import type { Alert, Digest } from '../alerts/types.js';
import type { WebhookChannelConfig } from '../config/schema.js';
import { compareAlerts, fitCount } from './format.js';
import { classifyReply, postOnce } from './http.js';
import { channelSecrets } from './redact.js';
import type { DeliveryReceipt, Notification, Notifier, SendContext } from './types.js';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.js';

export { verifyWebhookSignature, signWebhook } from './webhook-signature.js';

/**
 * Generic signed webhooks. The body is a public, versioned contract (docs/webhooks.md): fields are only ever added
 * within version 1; a rename or removal means version 2. It is built from the Alert explicitly, field by field, so
 * an internal change to Alert cannot silently change what receivers get.
 */

export const WEBHOOK_BODY_VERSION = 1;

export interface WebhookAlertV1 {
  id: string;
  /** "story" (one event from one or more outlets) or "risk-index" (a watchlist x material index crossed its threshold). */
  kind: 'story' | 'risk-index';
  version: number;
  reason: Alert['reason'];
  watchlist: { id: string; name: string };
  level: Alert['level'];
  score: number;
  direction: Alert['direction'];
  title: string;
  url: string | null;
  why: string;
  entities: string[];
  sources: string[];
  sourceCount: number;
  items: Array<{ title: string; url: string | null; sourceId: string; publishedAt: string | null }>;
  /** Items in the story; may exceed items.length (the alert keeps the first 50). */
  itemCount: number;
  factors: Array<{ name: string; value: number; detail: string }>;
  firstSeenAt: string;
  updatedAt: string;
}

export interface WebhookDigestV1 {
  channelId: string;
  windowStart: string;
  windowEnd: string;
  /** IANA time zone of the digest schedule. */
  timezone: string;
  /** Alerts in the window: alerts.length plus `omitted`. */
  count: number;
  /** Alerts left out of `alerts` to bound the message size. */
  omitted: number;
  alerts: WebhookAlertV1[];
}

/** What render() produces; send() adds `sentAt` and serialises in the documented key order. */
export type WebhookPayload =
  | { type: 'alert'; id: string; alert: WebhookAlertV1 }
  | { type: 'digest'; id: string; digest: WebhookDigestV1 };

export type WebhookBodyV1 = { version: 1; type: WebhookPayload['type']; id: string; sentAt: string } & (
  | { alert: WebhookAlertV1 }
  | { digest: WebhookDigestV1 }
);

export function webhookAlert(alert: Alert): WebhookAlertV1 {
  return {
    id: alert.id,
    kind: alert.kind ?? 'story',
    version: alert.version,
    reason: alert.reason,
    watchlist: { id: alert.watchlistId, name: alert.watchlistName ?? alert.watchlistId },
    level: alert.level,
    score: alert.score,
    direction: alert.direction,
    title: alert.title,
    url: alert.url ?? null,
    why: alert.why,
    entities: [...alert.entities],
    sources: [...alert.sources],
    sourceCount: alert.sources.length,
    items: alert.items.map((item) => ({ title: item.title, url: item.url ?? null, sourceId: item.sourceId, publishedAt: item.publishedAt })),
    itemCount: Math.max(alert.items.length, alert.itemCount ?? 0),
    factors: alert.factors.map((f) => ({ name: f.name, value: f.value, detail: f.detail })),
    firstSeenAt: alert.firstSeenAt,
    updatedAt: alert.updatedAt,
  };
}

export function renderWebhook(notification: Notification): WebhookPayload {
  if (notification.type === 'alert') {
    const alert = notification.alert;
    return { type: 'alert', id: `alert-${alert.id}-v${alert.version}`, alert: webhookAlert(alert) };
  }
  const digest: Digest = notification.digest;
  const id = `digest-${digest.channelId}-${digest.windowEnd}`;
  return { type: 'digest', id, digest: boundedDigest(digest, id) };
}

/**
 * Largest digest body we send, in UTF-8 bytes. Receivers commonly refuse bodies over 1 MB (nginx's default
 * client_max_body_size is 1m) with 413, which is permanent: the digest would fail every window while its alerts stay
 * held. So a digest body stays within half that: first every alert's `items` list is shortened to the longest length
 * that fits (`itemCount` still counts all items), then, if that is not enough, the least severe alerts move into
 * `omitted`. A single alert's body is bounded by its 50 item refs and is not cut.
 */
export const WEBHOOK_DIGEST_MAX_BYTES = 512 * 1024;

/** sentAt is set at send time; any ISO 8601 instant has this length, so sizes measured with it are exact. */
const SENT_AT_FOR_SIZE = new Date(0);
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

function boundedDigest(digest: Digest, id: string): WebhookDigestV1 {
  const alerts = digest.alerts.map(webhookAlert);
  const omitted = digest.omitted ?? 0;
  const head = {
    channelId: digest.channelId,
    windowStart: digest.windowStart,
    windowEnd: digest.windowEnd,
    timezone: digest.timezone ?? 'UTC',
    count: digest.alerts.length + omitted,
  };
  const body = (list: WebhookAlertV1[], left: number): WebhookDigestV1 => ({ ...head, omitted: left, alerts: list });
  // The serialised body is the envelope with an empty list plus each alert and the commas between them.
  const envelope = (left: number) => Buffer.byteLength(serializeWebhookBody({ type: 'digest', id, digest: body([], left) }, SENT_AT_FOR_SIZE), 'utf8');
  const size = (list: WebhookAlertV1[], left: number) => envelope(left) + list.reduce((sum, a) => sum + jsonBytes(a), 0) + Math.max(0, list.length - 1);
  if (size(alerts, omitted) <= WEBHOOK_DIGEST_MAX_BYTES) return body(alerts, omitted);

  const withItems = (max: number) => alerts.map((a) => (a.items.length > max ? { ...a, items: a.items.slice(0, max) } : a));
  const longest = Math.max(0, ...alerts.map((a) => a.items.length));
  const fitsWith = (max: number) => size(withItems(max), omitted) <= WEBHOOK_DIGEST_MAX_BYTES;
  if (fitsWith(0)) return body(withItems(fitCount(longest, fitsWith)), omitted);

  // Without items it still does not fit: keep the most severe alerts that do, in digest order, and count the rest.
  const bare = withItems(0);
  const budget = WEBHOOK_DIGEST_MAX_BYTES - envelope(omitted + alerts.length);
  const kept = new Set<number>();
  let used = 0;
  const ranked = [...digest.alerts.keys()].sort((i, j) => compareAlerts(digest.alerts[i], digest.alerts[j]));
  for (const index of ranked) {
    const cost = jsonBytes(bare[index]) + (kept.size ? 1 : 0);
    if (used + cost > budget) continue;
    kept.add(index);
    used += cost;
  }
  return body(
    bare.filter((_, i) => kept.has(i)),
    omitted + alerts.length - kept.size,
  );
}

/** The exact bytes sent (and signed). */
export function serializeWebhookBody(payload: WebhookPayload, sentAt: Date): string {
  const head = { version: WEBHOOK_BODY_VERSION as 1, type: payload.type, id: payload.id, sentAt: sentAt.toISOString() };
  const body: WebhookBodyV1 = payload.type === 'alert' ? { ...head, alert: payload.alert } : { ...head, digest: payload.digest };
  return JSON.stringify(body);
}

const RESERVED = ['content-type', 'user-agent', 'idempotency-key', TIMESTAMP_HEADER.toLowerCase(), SIGNATURE_HEADER.toLowerCase()];

/** Headers of one send: the channel's custom headers, then ours, which a custom header cannot override. */
export function webhookHeaders(channel: WebhookChannelConfig, body: string, timestamp: number, idempotencyKey: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(channel.headers ?? {})) {
    if (!RESERVED.includes(name.toLowerCase())) headers[name] = value;
  }
  headers['Idempotency-Key'] = idempotencyKey;
  headers[TIMESTAMP_HEADER] = String(timestamp);
  if (channel.secret) headers[SIGNATURE_HEADER] = signWebhook(channel.secret, timestamp, body);
  return headers;
}

export function createWebhookNotifier(clock: () => Date = () => new Date()): Notifier<WebhookChannelConfig, WebhookPayload> {
  return {
    kind: 'webhook',
    render: (notification) => renderWebhook(notification),
    async send(payload, channel, context: SendContext): Promise<DeliveryReceipt> {
      const now = clock();
      const body = serializeWebhookBody(payload, now);
      const headers = webhookHeaders(channel, body, Math.floor(now.getTime() / 1000), context.idempotencyKey);
      const target = { channelId: channel.id, label: 'webhook receiver', url: channel.url, secrets: channelSecrets(channel) };
      const reply = await postOnce(target, body, headers, context);
      classifyReply(target, reply);
      return { response: `HTTP ${reply.status}` };
    },
  };
}

export const webhookNotifier = createWebhookNotifier();
