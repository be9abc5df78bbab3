import type { Alert, Digest } from '../alerts/types.js';
import type { TeamsChannelConfig } from '../config/schema.js';
import {
  alertCountText,
  changeLine,
  digestTotal,
  formatWindow,
  moreItems,
  fitCount,
  formatTime,
  groupByWatchlist,
  LEVEL_MARKERS,
  levelLabel,
  oneLine,
  safeLink,
  rankAlerts,
  sourcesText,
  topLevel,
  truncate,
  watchlistLabel,
} from './format.js';
import { classifyReply, postOnce } from './http.js';
import { channelSecrets } from './redact.js';
import type { DeliveryReceipt, Notification, Notifier, SendContext } from './types.js';

/**
 * Microsoft Teams through a Workflows ("When a Teams webhook request is received") URL, as an Adaptive Card 1.4
 * message. Teams refuses messages over 28 KB; we stay under TEAMS_MAX_BYTES with a margin for the envelope.
 */
export const TEAMS_MAX_BYTES = 27_000;

type CardElement = Record<string, unknown>;
export interface TeamsPayload {
  type: 'message';
  attachments: Array<{ contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: AdaptiveCard }>;
}
export interface AdaptiveCard {
  $schema: string;
  type: 'AdaptiveCard';
  version: '1.4';
  msteams: { width: 'Full' };
  body: CardElement[];
  actions?: CardElement[];
}

/**
 * TextBlocks are markdown, and Teams clients disagree on backslash escapes (AdaptiveCards#5590, msteams-docs#5793),
 * so untrusted text is neutralised instead of escaped: "](" can no longer form a link, and nothing else in feed
 * text can do more than change emphasis.
 */
export function neutraliseMarkdown(text: string): string {
  return text.replace(/\]\s*\(/g, '] (');
}

/**
 * A markdown link. Brackets in the label become parentheses, and a backslash becomes "∖" (U+2216): escaped or not, a
 * backslash before the closing "]" or ")" swallows it in some clients (AdaptiveCards#4677, #5590), which then show
 * the raw markup. In the target, characters that could end or escape it are percent-encoded.
 */
function mdLink(url: string | undefined, label: string): string {
  const text = neutraliseMarkdown(oneLine(label)).replace(/\[/g, '(').replace(/\]/g, ')').replace(/\\/g, '∖');
  const safe = safeLink(url);
  if (!safe) return text;
  return `[${text}](${safe.replace(/\(/g, '%28').replace(/\)/g, '%29').replace(/ /g, '%20').replace(/\\/g, '%5C')})`;
}

const COLOURS: Record<Alert['level'], string> = {
  critical: 'Attention',
  high: 'Attention',
  medium: 'Warning',
  low: 'Accent',
  info: 'Default',
  none: 'Default',
};

function textBlock(text: string, extra: CardElement = {}): CardElement {
  return { type: 'TextBlock', text, wrap: true, ...extra };
}

function envelope(body: CardElement[], actions: CardElement[] = []): TeamsPayload {
  const content: AdaptiveCard = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    msteams: { width: 'Full' },
    body,
    ...(actions.length ? { actions } : {}),
  };
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }] };
}

export function payloadBytes(payload: TeamsPayload): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

function alertCard(alert: Alert, whyMax: number, itemMax: number): TeamsPayload {
  const change = changeLine(alert);
  const sources = sourcesText(alert);
  const body: CardElement[] = [
    textBlock(`${LEVEL_MARKERS[alert.level]} ${levelLabel(alert.level)}`, { weight: 'Bolder', color: COLOURS[alert.level], size: 'Small' }),
    textBlock(neutraliseMarkdown(truncate(oneLine(alert.title), 300)), { weight: 'Bolder', size: 'Large' }),
  ];
  if (change) body.push(textBlock(neutraliseMarkdown(change), { weight: 'Bolder' }));
  body.push(textBlock(neutraliseMarkdown(truncate(alert.why, whyMax))));
  body.push({
    type: 'FactSet',
    facts: [
      { title: 'Watchlist', value: neutraliseMarkdown(truncate(oneLine(watchlistLabel(alert)), 200)) },
      { title: 'Level', value: `${levelLabel(alert.level)} (score ${alert.score}, ${alert.direction})` },
      { title: 'Watched entities', value: neutraliseMarkdown(truncate(alert.entities.join(', ') || '(none)', 500)) },
      ...(sources ? [{ title: 'Sources', value: neutraliseMarkdown(truncate(`${sources}: ${alert.sources.join(', ')}`, 500)) }] : []),
      { title: 'First seen', value: formatTime(alert.firstSeenAt) },
      { title: 'Updated', value: formatTime(alert.updatedAt) },
    ],
  });
  const items = alert.items.slice(0, itemMax);
  if (items.length) {
    const lines = items.map((item) => `- ${mdLink(item.url, truncate(item.title, 200))} (${neutraliseMarkdown(item.sourceId)})`);
    if (moreItems(alert, items.length) > 0) lines.push(`- … and ${moreItems(alert, items.length)} more`);
    body.push(textBlock(lines.join('\n'), { spacing: 'Medium' }));
  }
  const link = safeLink(alert.url);
  return envelope(body, link ? [{ type: 'Action.OpenUrl', title: 'Open the story', url: link }] : []);
}

/** An alert card; if it would exceed the size limit, coverage lines and then the explanation are shortened. */
export function renderTeamsAlert(alert: Alert): TeamsPayload {
  for (const [whyMax, itemMax] of [[2000, 10], [2000, 3], [1000, 0], [300, 0]] as const) {
    const card = alertCard(alert, whyMax, itemMax);
    if (payloadBytes(card) <= TEAMS_MAX_BYTES) return card;
  }
  return alertCard({ ...alert, title: truncate(alert.title, 100), entities: alert.entities.slice(0, 10), sources: alert.sources.slice(0, 10) }, 200, 0);
}

function digestCard(digest: Digest, ranked: Alert[], shown: number): TeamsPayload {
  const top = topLevel(digest.alerts);
  const total = digestTotal(digest);
  const body: CardElement[] = [
    textBlock(`${digest.alerts.length ? LEVEL_MARKERS[top] + ' ' : ''}Chokepoint digest: ${alertCountText(total)}`, {
      weight: 'Bolder',
      size: 'Large',
    }),
    textBlock(formatWindow(digest.windowStart, digest.windowEnd, digest.timezone), { isSubtle: true, spacing: 'None' }),
  ];
  if (total === 0) body.push(textBlock('No alerts in this window.'));
  for (const group of groupByWatchlist(ranked.slice(0, shown))) {
    body.push(textBlock(neutraliseMarkdown(truncate(oneLine(group.name), 200)), { weight: 'Bolder', separator: true, spacing: 'Medium' }));
    const lines = group.alerts.map((alert) => {
      const sources = sourcesText(alert);
      return `- ${LEVEL_MARKERS[alert.level]} **${levelLabel(alert.level)}** ${mdLink(alert.url, truncate(alert.title, 200))}${sources ? ` · ${sources}` : ''}`;
    });
    body.push(textBlock(lines.join('\n')));
  }
  const rest = total - shown;
  if (rest > 0) body.push(textBlock(`… and ${rest} more (see the dashboard or the alerts API)`, { isSubtle: true }));
  return envelope(body);
}

/**
 * A digest card with as many alerts as fit under the size limit: the least important alerts of any watchlist are left
 * out first, and those kept are shown grouped by watchlist.
 */
export function renderTeamsDigest(digest: Digest): TeamsPayload {
  const ranked = rankAlerts(digest.alerts);
  return digestCard(digest, ranked, fitCount(ranked.length, (n) => payloadBytes(digestCard(digest, ranked, n)) <= TEAMS_MAX_BYTES));
}

function teamsHint(status: number): string | undefined {
  if (status === 401 || status === 403 || status === 404) return 'the workflow URL is invalid or the flow was turned off; update webhookUrl';
  if (status === 400 || status === 413) return 'Teams rejected the card (a bug: please report it)';
  return undefined;
}

export const teamsNotifier: Notifier<TeamsChannelConfig, TeamsPayload> = {
  kind: 'teams',
  render(notification: Notification): TeamsPayload {
    return notification.type === 'alert' ? renderTeamsAlert(notification.alert) : renderTeamsDigest(notification.digest);
  },
  async send(payload, channel, context: SendContext): Promise<DeliveryReceipt> {
    const target = { channelId: channel.id, label: 'Teams workflow', url: channel.webhookUrl, secrets: channelSecrets(channel) };
    const reply = await postOnce(target, JSON.stringify(payload), {}, context);
    classifyReply(target, reply, (r) => teamsHint(r.status));
    return { response: `HTTP ${reply.status}` };
  },
};
