import type { Alert, Digest } from '../alerts/types.js';
import type { RateLimit, SlackChannelConfig } from '../config/schema.js';
import {
  alertCountText,
  changeLine,
  digestTotal,
  formatWindow,
  moreItems,
  changeTag,
  formatTime,
  groupByWatchlist,
  LEVEL_MARKERS,
  levelLabel,
  oneLine,
  safeLink,
  fitCount,
  rankAlerts,
  sourcesText,
  topLevel,
  truncate,
  watchlistLabel,
  watchlistSizes,
} from './format.js';
import { classifyReply, postOnce } from './http.js';
import { channelSecrets, scrub } from './redact.js';
import type { DeliveryReceipt, Notification, Notifier, SendContext } from './types.js';

/** Block Kit limits (docs.slack.dev, Block Kit reference). */
export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  /** Any text object, a context element's included. */
  text: 3000,
  /** Slack answers msg_blocks_too_long above roughly 13k characters of block text (bolt-js#2509); stay below. */
  totalText: 12_000,
  /** Notification/fallback text: shown in push notifications and by clients that cannot draw blocks. */
  fallbackText: 3000,
} as const;

/**
 * Pace of a Slack channel without a rateLimit of its own. Slack documents posting messages (incoming webhooks included)
 * at 1 per second per channel, "short bursts >1 allowed" with no guarantee that a burst gets through
 * (api.slack.com/docs/rate-limits; changelog 2018-03 "great rate limits"), and answers 429 beyond: a burst of three
 * lets a short run of alerts out at once without leaning on that tolerance.
 */
export const SLACK_RATE_LIMIT: RateLimit = { perMinute: 60, burst: 3 };

// mrkdwn texts are verbatim: Slack otherwise parses bare "@channel"-like mentions, channel names and URLs in a feed's
// words; our own links and formatting (<url|label>, *bold*) are still read.
type Text = { type: 'plain_text'; text: string; emoji?: boolean } | { type: 'mrkdwn'; text: string; verbatim: true };
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: boolean } }
  | { type: 'section'; text?: Text; fields?: Text[] }
  | { type: 'context'; elements: Text[] }
  | { type: 'divider' };

export interface SlackPayload {
  text: string;
  blocks: SlackBlock[];
}

/** Slack mrkdwn treats &, < and > as control characters (links, mentions like <!channel>); untrusted text is escaped. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes, then truncates without cutting an entity such as "&amp;" in half. */
export function mrkdwn(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  // The longest cut whose escaped form fits, by bisection: text dense in &, < and > grows up to five-fold, and a cut
  // estimated from the overflow could go below zero and leave nothing (a digest line without its title).
  let low = 1;
  let high = max;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (escapeMrkdwn(truncate(text, mid)).length <= max) low = mid;
    else high = mid - 1;
  }
  const cut = escapeMrkdwn(truncate(text, low));
  // Not even one character fits once escaped ("&" in a limit of 1-4): the ellipsis alone says something was there.
  return cut.length <= max ? cut : max >= 1 ? '…' : '';
}

/**
 * Longest link target we write, measured after escaping ("&" grows to "&amp;"): an item line then stays within the
 * 2000-character items section, and a digest line or a context element well within Slack's 3000 characters.
 */
const MAX_LINK_TARGET = 1_500;

/**
 * A mrkdwn link; the URL must be http(s) and may not contain the characters that end a Slack link. A URL too long to
 * link is left out and the label shown alone.
 */
function link(url: string | undefined, label: string, max = 500): string {
  const safe = safeLink(url);
  const text = mrkdwn(oneLine(label), max);
  const target = safe ? escapeMrkdwn(safe).replace(/\|/g, '%7C') : undefined;
  if (!target || target.length > MAX_LINK_TARGET) return text;
  return `<${target}|${text.replace(/\|/g, '¦')}>`;
}

function header(text: string): SlackBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(oneLine(text), SLACK_LIMITS.headerText), emoji: true } };
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text, verbatim: true } };
}

function context(...texts: string[]): SlackBlock {
  return { type: 'context', elements: texts.slice(0, SLACK_LIMITS.contextElements).map((text) => ({ type: 'mrkdwn' as const, text, verbatim: true as const })) };
}

function alertHeadline(alert: Alert): string {
  return `${LEVEL_MARKERS[alert.level]} ${levelLabel(alert.level)}: ${oneLine(alert.title)}`;
}

export function renderSlackAlert(alert: Alert): SlackPayload {
  const blocks: SlackBlock[] = [header(alertHeadline(alert))];
  const change = changeLine(alert);
  if (change) blocks.push(context(`*${mrkdwn(change, 2900)}*`));
  blocks.push(section(mrkdwn(alert.why, SLACK_LIMITS.sectionText)));
  const field = (name: string, value: string) => ({ type: 'mrkdwn' as const, text: `*${name}*\n${value}`, verbatim: true as const });
  // Well under the 2000-character field limit: the whole message must stay below Slack's ~13k aggregate.
  const sources = sourcesText(alert);
  blocks.push({
    type: 'section',
    fields: [
      field('Watchlist', mrkdwn(oneLine(watchlistLabel(alert)), 200)),
      field('Level', `${levelLabel(alert.level)} (score ${alert.score}, ${alert.direction})`),
      field('Watched entities', mrkdwn(alert.entities.join(', ') || '(none)', 500)),
      ...(sources ? [field('Sources', mrkdwn(`${sources}: ${alert.sources.join(', ')}`, 500))] : []),
    ],
  });
  const itemsText = coverageText(alert, 5, 2000);
  if (itemsText) blocks.push(section(itemsText));
  const open = safeLink(alert.url) ? `${link(alert.url, 'Open the story')} · ` : '';
  blocks.push(context(`${open}first seen ${formatTime(alert.firstSeenAt)} · updated ${formatTime(alert.updatedAt)}`));
  const tag = changeTag(alert);
  const fallback = `${LEVEL_MARKERS[alert.level]} ${levelLabel(alert.level)}${tag ? ` (${tag})` : ''}: ${oneLine(alert.title)}${sources ? ` (${sources})` : ''}. ${alert.why}`;
  return { text: mrkdwn(fallback, SLACK_LIMITS.fallbackText), blocks };
}

/**
 * The coverage section: up to `limit` item lines and "… and N more" for every item not listed, within max characters.
 * Whole lines only, so a link is never cut; room for the "more" line is kept, so items left out are always counted.
 * An item line is bounded well below max (link target, title and source each capped), so one always fits.
 */
function coverageText(alert: Alert, limit: number, max: number): string {
  const lines = alert.items.slice(0, limit).map((item) => `• ${link(item.url, item.title, 300)} (${mrkdwn(item.sourceId, 80)})`);
  const text = (shown: number) => {
    const more = moreItems(alert, shown);
    return [...lines.slice(0, shown), ...(more > 0 ? [`… and ${more} more`] : [])].join('\n');
  };
  let shown = lines.length;
  while (shown > 0 && text(shown).length > max) shown--;
  return text(shown);
}

function digestLine(alert: Alert): string {
  const tag = changeTag(alert);
  const sources = sourcesText(alert);
  return (
    `${LEVEL_MARKERS[alert.level]} *${levelLabel(alert.level)}* ${link(alert.url, alert.title, 300)}` +
    `${tag ? ` _(${tag})_` : ''}${sources ? ` · ${sources}` : ''}`
  );
}

/**
 * A digest: one header, then per watchlist a divider and its alerts as lines packed into sections of up to 3000
 * characters. When the blocks or the total text budget run out, the least important alerts (of any watchlist) are
 * left out and counted in a closing "… and N more".
 */
export function renderSlackDigest(digest: Digest): SlackPayload {
  const alerts = digest.alerts;
  const top = topLevel(alerts);
  const total = digestTotal(digest);
  const title = `${alerts.length ? LEVEL_MARKERS[top] + ' ' : ''}Digest: ${alertCountText(total)}`;
  const head: SlackBlock[] = [header(title), context(formatWindow(digest.windowStart, digest.windowEnd, digest.timezone))];
  if (total === 0) head.push(section('No alerts in this window.'));

  const ranked = rankAlerts(alerts);
  const lines = new Map(ranked.map((alert) => [alert, digestLine(alert)]));
  const groupSizes = watchlistSizes(alerts);
  const moreLine = (shown: number) => (total - shown > 0 ? [context(`… and ${total - shown} more (see the dashboard or the alerts API)`)] : []);
  // Header, window and "more" line stay well within the 400 characters kept back from the total.
  const fits = (shown: number) => {
    const body = digestBody(ranked.slice(0, shown), lines, groupSizes);
    return head.length + body.blocks.length + moreLine(shown).length <= SLACK_LIMITS.blocks && body.textLength <= SLACK_LIMITS.totalText - 400;
  };
  const shown = fitCount(ranked.length, fits);
  const blocks = [...head, ...digestBody(ranked.slice(0, shown), lines, groupSizes).blocks, ...moreLine(shown)];
  const fallback = `Chokepoint digest: ${alertCountText(total)}${alerts.length ? `, highest ${levelLabel(top)}` : ''}`;
  return { text: mrkdwn(fallback, SLACK_LIMITS.fallbackText), blocks };
}

/** The watchlist groups of the alerts shown: a divider, then the title and lines packed into sections. */
function digestBody(shown: Alert[], lines: Map<Alert, string>, groupSizes: Map<string, number>): { blocks: SlackBlock[]; textLength: number } {
  const blocks: SlackBlock[] = [];
  let textLength = 0;
  for (const group of groupByWatchlist(shown)) {
    blocks.push({ type: 'divider' });
    // A title (at most ~230 characters) and one line (link target, label and tag capped) fit one section together.
    let open = `*${mrkdwn(oneLine(group.name), 200)}* (${alertCountText(groupSizes.get(group.watchlistId) ?? group.alerts.length)})`;
    for (const alert of group.alerts) {
      const line = lines.get(alert)!;
      if (open.length + 1 + line.length > SLACK_LIMITS.sectionText) {
        blocks.push(section(open));
        textLength += open.length;
        open = line;
      } else open = `${open}\n${line}`;
    }
    blocks.push(section(open));
    textLength += open.length;
  }
  return { blocks, textLength };
}

/** Slack's documented error bodies that mean the webhook itself is gone or was disabled. */
function slackHint(body: string): string | undefined {
  const word = body.trim();
  if (word === 'invalid_payload') return 'Slack rejected the message format (a bug: please report it)';
  if (['channel_not_found', 'channel_is_archived', 'no_service', 'no_active_hooks', 'action_prohibited', 'user_not_found'].includes(word)) {
    return 'the webhook no longer works; create a new one and update webhookUrl';
  }
  return undefined;
}

export const slackNotifier: Notifier<SlackChannelConfig, SlackPayload> = {
  kind: 'slack',
  render(notification: Notification): SlackPayload {
    return notification.type === 'alert' ? renderSlackAlert(notification.alert) : renderSlackDigest(notification.digest);
  },
  async send(payload, channel, context: SendContext): Promise<DeliveryReceipt> {
    const target = { channelId: channel.id, label: 'Slack webhook', url: channel.webhookUrl, secrets: channelSecrets(channel) };
    const reply = await postOnce(target, JSON.stringify(payload), {}, context);
    classifyReply(target, reply, (r) => slackHint(r.body));
    return { response: `HTTP ${reply.status} ${truncate(oneLine(scrub(reply.body, target.secrets)), 40)}`.trim() };
  },
};
