import { createHash } from 'node:crypto';

export function shortHash(text: string, length = 24): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** An alert is one watchlist x one story; its id is derived from both so replicas and retries converge. */
export function alertIdFor(watchlistId: string, storyId: string): string {
  return `a${shortHash(`${watchlistId}\u0000${storyId}`, 20)}`;
}

/** Key of one delivery in the ledger and suffix of its notify job id. */
export function deliveryKey(alertId: string, version: number, channelId: string): string {
  return `${alertId}-v${version}-${channelId}`;
}
