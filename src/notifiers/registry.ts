import type { ChannelConfig, RateLimit } from '../config/schema.js';
import { createEmailNotifier } from './email.js';
import { SLACK_RATE_LIMIT, slackNotifier } from './slack.js';
import { teamsNotifier } from './teams.js';
import type { DeliveryReceipt, Notification, Notifier, SendContext } from './types.js';
import { createWebhookNotifier } from './webhook.js';

/** One configured channel and the notifier of its kind. */
export interface NotifierEntry {
  channel: ChannelConfig;
  notifier: Notifier<any, any>;
  /** The channel's pace of sends (its rateLimit, else its kind's); undefined: sent as soon as due. */
  rateLimit?: RateLimit;
}

/**
 * Pace of each kind when a channel sets no rateLimit. Teams is unpaced: we found no rate Microsoft documents for
 * workflow ("When a Teams webhook request is received") URLs, only that Teams answers 429 when throttled and that its
 * limits are subject to change; the channel block honours that 429, and a channel can set its own rateLimit. Email
 * (SMTP servers differ) and generic webhooks (the receiver is the operator's) are unpaced unless configured.
 */
const DEFAULT_RATE_LIMITS: Record<ChannelConfig['kind'], RateLimit | undefined> = {
  slack: SLACK_RATE_LIMIT,
  teams: undefined,
  email: undefined,
  webhook: undefined,
};

/** The pace a channel is sent at: its own rateLimit (false: none), else its kind's default. */
export function rateLimitOf(channel: ChannelConfig): RateLimit | undefined {
  if (channel.rateLimit === false) return undefined;
  return channel.rateLimit ?? DEFAULT_RATE_LIMITS[channel.kind];
}

/** The notifiers of one configuration: looked up by channel id; close() releases SMTP pools. */
export interface NotifierSet {
  get(channelId: string): NotifierEntry | undefined;
  close(): Promise<void>;
}

/**
 * The only module that knows every channel kind. Notifiers hold no per-channel state except the email kind's SMTP
 * pools, which are opened on first send, so building a set for a config that is never used costs nothing.
 */
export function createNotifiers(channels: ChannelConfig[]): NotifierSet {
  const email = createEmailNotifier();
  const webhook = createWebhookNotifier();
  const byKind: Record<ChannelConfig['kind'], Notifier<any, any>> = {
    slack: slackNotifier,
    email,
    webhook,
    teams: teamsNotifier,
  };
  const entries = new Map<string, NotifierEntry>(channels.map((channel) => [channel.id, { channel, notifier: byKind[channel.kind], rateLimit: rateLimitOf(channel) }]));
  return {
    get: (channelId) => entries.get(channelId),
    close: () => email.close(),
  };
}

/** Render and send in one call (the notify job, `chokepoint notify-test`). Throws DeliveryError. */
export async function deliver(entry: NotifierEntry, notification: Notification, context: SendContext): Promise<DeliveryReceipt> {
  const payload = entry.notifier.render(notification, entry.channel);
  return entry.notifier.send(payload, entry.channel, context);
}
