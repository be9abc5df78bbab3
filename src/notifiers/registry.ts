import type { ChannelConfig } from '../config/schema.js';
import { createEmailNotifier } from './email.js';
import { slackNotifier } from './slack.js';
import { teamsNotifier } from './teams.js';
import type { DeliveryReceipt, Notification, Notifier, SendContext } from './types.js';
import { createWebhookNotifier } from './webhook.js';

/** One configured channel and the notifier of its kind. */
export interface NotifierEntry {
  channel: ChannelConfig;
  notifier: Notifier<any, any>;
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
  const entries = new Map<string, NotifierEntry>(channels.map((channel) => [channel.id, { channel, notifier: byKind[channel.kind] }]));
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
