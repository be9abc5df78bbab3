import type { Alert, Digest } from '../alerts/types.js';
import type { EmailChannelConfig } from '../config/schema.js';
import {
  alertCountText,
  changeLine,
  digestTotal,
  formatWindow,
  moreItems,
  changeTag,
  formatTime,
  groupByWatchlist,
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

/** A rendered email: everything but the envelope (from/to/List-Id come from the channel at send time). */
export interface EmailPayload {
  subject: string;
  text: string;
  html: string;
  /** With angle brackets, e.g. "<alert-x-v2.ops@example.com>". Stable across retries, so a resend is recognisable. */
  messageId: string;
  /** Threading derived from the alert id alone; send() prefers the refs the delivery ledger recorded. */
  thread?: { root: string; inReplyTo: string; references: string[] };
}

/** Subjects longer than this get folded badly or cut by clients; the body has the full title. */
const SUBJECT_TITLE_MAX = 150;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The domain of the channel's From address: Message-IDs must be globally unique, and the sender owns its domain. */
export function senderDomain(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from.trim());
  return match ? match[1].toLowerCase() : 'chokepoint.invalid';
}

/** Message-ID local parts allow only RFC 5322 atext; any other character is hex-escaped so distinct ids stay distinct. */
function atom(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, (ch) => `=${ch.codePointAt(0)!.toString(16)}`);
}

/** Deterministic Message-ID of one version of an alert in one channel. */
export function alertMessageId(alertId: string, version: number, channel: EmailChannelConfig): string {
  return `<alert-${atom(alertId)}-v${version}.${atom(channel.id)}@${senderDomain(channel.from)}>`;
}

export function digestMessageId(digest: Digest, channel: EmailChannelConfig): string {
  return `<digest-${atom(digest.windowEnd)}.${atom(channel.id)}@${senderDomain(channel.from)}>`;
}

function subjectOf(alert: Alert): string {
  const tag = changeTag(alert);
  return `[${levelLabel(alert.level)}] ${truncate(oneLine(alert.title), SUBJECT_TITLE_MAX)}${tag ? ` (${tag})` : ''}`;
}

function facts(alert: Alert): Array<[string, string]> {
  const sources = sourcesText(alert);
  const rows: Array<[string, string]> = [
    ['Watchlist', watchlistLabel(alert)],
    ['Level', `${levelLabel(alert.level)} (score ${alert.score}, ${alert.direction})`],
    ['Watched entities', alert.entities.join(', ') || '(none)'],
    ...(sources ? [['Sources', `${sources} (${alert.sources.join(', ')})`] as [string, string]] : []),
    ['First seen', formatTime(alert.firstSeenAt)],
    ['Updated', formatTime(alert.updatedAt)],
  ];
  const link = safeLink(alert.url);
  if (link) rows.push(['Link', link]);
  return rows;
}

function footer(channel: EmailChannelConfig): string {
  return `Sent by Chokepoint to ${channel.name ?? channel.id} (channel "${channel.id}"). Alerts are generated automatically from public sources.`;
}

const STYLE = {
  body: 'font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1f2328;max-width:720px',
  badge: (alert: Alert) => `display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:bold;background:${BADGE[alert.level]}`,
  label: 'padding:2px 12px 2px 0;color:#59636e;vertical-align:top;white-space:nowrap',
  muted: 'color:#59636e;font-size:12px',
};
const BADGE: Record<Alert['level'], string> = {
  critical: '#b42318',
  high: '#c4320a',
  medium: '#9a6700',
  low: '#0969da',
  info: '#59636e',
  none: '#59636e',
};

function htmlLink(url: string | undefined, label: string): string {
  const safe = safeLink(url);
  return safe ? `<a href="${escapeHtml(safe)}">${escapeHtml(label)}</a>` : escapeHtml(label);
}

export function renderEmailAlert(alert: Alert, channel: EmailChannelConfig): EmailPayload {
  const change = changeLine(alert);
  const rows = facts(alert);
  const items = alert.items.slice(0, 20);
  const text = [
    `${levelLabel(alert.level)}: ${oneLine(alert.title)}`,
    ...(change ? ['', change] : []),
    '',
    alert.why,
    '',
    ...rows.map(([k, v]) => `${(k + ':').padEnd(18)}${v}`),
    ...(items.length ? ['', 'Coverage:'] : []),
    ...items.flatMap((item) => [`- ${oneLine(item.title)} (${item.sourceId})`, ...(safeLink(item.url) ? [`  ${safeLink(item.url)}`] : [])]),
    ...(moreItems(alert, items.length) > 0 ? [`  … and ${moreItems(alert, items.length)} more`] : []),
    '',
    '-- ',
    footer(channel),
    '',
  ].join('\n');
  const html = [
    `<div style="${STYLE.body}">`,
    `<p><span style="${STYLE.badge(alert)}">${levelLabel(alert.level)}</span></p>`,
    `<h2 style="margin:8px 0">${htmlLink(alert.url, oneLine(alert.title))}</h2>`,
    change ? `<p><strong>${escapeHtml(change)}</strong></p>` : '',
    `<p>${escapeHtml(alert.why)}</p>`,
    '<table style="border-collapse:collapse">',
    ...rows.map(([k, v]) => `<tr><td style="${STYLE.label}">${escapeHtml(k)}</td><td>${k === 'Link' ? htmlLink(v, v) : escapeHtml(v)}</td></tr>`),
    '</table>',
    items.length ? '<h3 style="margin:16px 0 4px">Coverage</h3><ul>' : '',
    ...items.map((item) => `<li>${htmlLink(item.url, oneLine(item.title))} <span style="${STYLE.muted}">(${escapeHtml(item.sourceId)})</span></li>`),
    moreItems(alert, items.length) > 0 ? `<li>… and ${moreItems(alert, items.length)} more</li>` : '',
    items.length ? '</ul>' : '',
    `<p style="${STYLE.muted}">${escapeHtml(footer(channel))}</p>`,
    '</div>',
  ]
    .filter(Boolean)
    .join('\n');
  const messageId = alertMessageId(alert.id, alert.version, channel);
  const root = alertMessageId(alert.id, 1, channel);
  const parent = alertMessageId(alert.id, Math.max(1, alert.version - 1), channel);
  const thread = alert.version > 1 ? { root, inReplyTo: parent, references: [...new Set([root, parent])] } : undefined;
  return { subject: subjectOf(alert), text, html, messageId, thread };
}

/**
 * Gmail clips a message whose HTML exceeds about 102 KB, hiding the rest behind "[Message clipped]". The digest HTML
 * stays under this many UTF-8 bytes, which leaves room for the transfer encoding (base64 adds a third) and headers.
 */
export const EMAIL_DIGEST_MAX_HTML_BYTES = 75_000;

/** Digest lines cut long feed titles, and leave unlinked URLs too long to be useful as links, so one alert stays small. */
const DIGEST_TITLE_MAX = 300;
const DIGEST_URL_MAX = 2_000;

function digestLink(url: string | undefined): string | undefined {
  const safe = safeLink(url);
  return safe && safe.length <= DIGEST_URL_MAX ? safe : undefined;
}

/**
 * A digest grouped by watchlist. If the HTML would be clipped, the least important alerts of any watchlist are left
 * out (of both parts) and counted in "… and N more".
 */
export function renderEmailDigest(digest: Digest, channel: EmailChannelConfig): EmailPayload {
  const alerts = digest.alerts;
  const top = topLevel(alerts);
  const total = digestTotal(digest);
  const subject = `[DIGEST] ${alertCountText(total)}${alerts.length ? `, highest ${levelLabel(top)}` : ''} (${formatTime(digest.windowEnd, digest.timezone)})`;
  const ranked = rankAlerts(alerts);
  const groupSizes = watchlistSizes(alerts);
  const lines = new Map(ranked.map((alert) => [alert, digestHtmlLine(alert)]));
  const html = (shown: number) => digestHtml(digest, channel, groupByWatchlist(ranked.slice(0, shown)), groupSizes, lines, total - shown);
  const shown = fitCount(ranked.length, (n) => Buffer.byteLength(html(n), 'utf8') <= EMAIL_DIGEST_MAX_HTML_BYTES);
  const groups = groupByWatchlist(ranked.slice(0, shown));
  return { subject, text: digestText(digest, channel, groups, groupSizes, total - shown), html: html(shown), messageId: digestMessageId(digest, channel) };
}

type Groups = ReturnType<typeof groupByWatchlist>;

function groupTitle(group: Groups[number], groupSizes: Map<string, number>): string {
  return `${oneLine(group.name)} (${alertCountText(groupSizes.get(group.watchlistId) ?? group.alerts.length)})`;
}

function digestText(digest: Digest, channel: EmailChannelConfig, groups: Groups, groupSizes: Map<string, number>, more: number): string {
  const total = digestTotal(digest);
  return [
    `Chokepoint digest: ${alertCountText(total)}`,
    formatWindow(digest.windowStart, digest.windowEnd, digest.timezone),
    ...(total === 0 ? ['', 'No alerts in this window.'] : []),
    ...groups.flatMap((group) => [
      '',
      groupTitle(group, groupSizes),
      ...group.alerts.flatMap((alert) => {
        const sources = sourcesText(alert);
        const url = digestLink(alert.url);
        return [`- [${levelLabel(alert.level)}] ${truncate(oneLine(alert.title), DIGEST_TITLE_MAX)}${sources ? ` (${sources})` : ''}`, ...(url ? [`  ${url}`] : [])];
      }),
    ]),
    ...(more > 0 ? ['', `… and ${more} more (see the dashboard or the alerts API)`] : []),
    '',
    '-- ',
    footer(channel),
    '',
  ].join('\n');
}

function digestHtmlLine(alert: Alert): string {
  const sources = sourcesText(alert);
  return (
    `<li><span style="${STYLE.badge(alert)}">${levelLabel(alert.level)}</span> ${htmlLink(digestLink(alert.url), truncate(oneLine(alert.title), DIGEST_TITLE_MAX))}` +
    `${sources ? ` <span style="${STYLE.muted}">(${sources})</span>` : ''}</li>`
  );
}

function digestHtml(digest: Digest, channel: EmailChannelConfig, groups: Groups, groupSizes: Map<string, number>, lines: Map<Alert, string>, more: number): string {
  const total = digestTotal(digest);
  return [
    `<div style="${STYLE.body}">`,
    `<h2 style="margin:8px 0">Chokepoint digest: ${alertCountText(total)}</h2>`,
    `<p style="${STYLE.muted}">${escapeHtml(formatWindow(digest.windowStart, digest.windowEnd, digest.timezone))}</p>`,
    total === 0 ? '<p>No alerts in this window.</p>' : '',
    ...groups.flatMap((group) => [
      `<h3 style="margin:16px 0 4px">${escapeHtml(groupTitle(group, groupSizes))}</h3>`,
      '<ul>',
      ...group.alerts.map((alert) => lines.get(alert)!),
      '</ul>',
    ]),
    more > 0 ? `<p>… and ${more} more (see the dashboard or the alerts API)</p>` : '',
    `<p style="${STYLE.muted}">${escapeHtml(footer(channel))}</p>`,
    '</div>',
  ]
    .filter(Boolean)
    .join('\n');
}
