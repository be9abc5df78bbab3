import type { ChannelConfig, WatchlistConfig } from '../config/schema.js';
import { levelRank } from '../scoring/types.js';
import type { Alert } from './types.js';

/** Channels an alert goes to: each route whose minLevel the alert reaches, if its channel is active. */
export function routeAlert(alert: Alert, watchlist: WatchlistConfig, activeChannels: ReadonlyMap<string, ChannelConfig>): string[] {
  const out = new Set<string>();
  for (const route of watchlist.routes) {
    if (levelRank(alert.level) >= levelRank(route.minLevel) && activeChannels.has(route.channel)) out.add(route.channel);
  }
  return [...out];
}
