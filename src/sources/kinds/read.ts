import { withUnforeseenAs } from '../feed/unforeseen.js';

/**
 * Runs a kind's reading of a fetched document (decode, parse, map to items). A failure nobody foresaw becomes
 * CP_PARSE_UNREADABLE naming the source (see withUnforeseenAs); typed errors pass through.
 */
export function readDocument<T>(sourceId: string, read: () => T): T {
  return withUnforeseenAs('unreadable', sourceId, read);
}
