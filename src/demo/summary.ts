import type { Alert } from '../alerts/types.js';
import { ROUTE_LEVELS } from '../scoring/types.js';

export interface DemoTally {
  alerts: Alert[];
  slack: number;
  emails: number;
  webhooks: number;
  /** "source fedreg-bis: ..." and "delivery notify-...: ..." */
  failures: string[];
}

/** Counts alerts by level, highest first: "1 critical, 3 high, 2 medium". */
export function levelCounts(alerts: Alert[]): string {
  const parts = [...ROUTE_LEVELS]
    .reverse()
    .map((level) => [level, alerts.filter((a) => a.level === level).length] as const)
    .filter(([, n]) => n > 0)
    .map(([level, n]) => `${n} ${level}`);
  return parts.length ? parts.join(', ') : 'none';
}

/**
 * Why a one-cycle run counts as failed, or null when it worked: something reached Slack or email and nothing broke.
 * The reason says which stage to look at.
 */
export function failureReason(tally: DemoTally): string | null {
  if (tally.failures.length > 0) return `${tally.failures.length} job${tally.failures.length === 1 ? '' : 's'} failed (listed above)`;
  if (tally.alerts.length === 0) {
    return 'the sources were polled but no alert was raised; check config/watchlists.yaml and the lexicon (chokepoint validate)';
  }
  if (tally.slack + tally.emails === 0) {
    return `${tally.alerts.length} alerts were raised but none reached Slack or email; check the routes in config/watchlists.yaml`;
  }
  return null;
}

export function formatSummary(tally: DemoTally): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [
    `alerts     ${tally.alerts.length}: ${levelCounts(tally.alerts)}`,
    `received   Slack ${plural(tally.slack, 'message')}, email ${plural(tally.emails, 'message')}, webhook ${tally.webhooks} deliver${tally.webhooks === 1 ? 'y' : 'ies'}`,
  ];
  for (const failure of tally.failures) lines.push(`failed     ${failure}`);
  return `${lines.join('\n')}\n`;
}
