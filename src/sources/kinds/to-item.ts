import type { Item } from '../../items/item.js';
import { makeItem } from '../../items/normalise.js';
import type { RawItem } from './raw-item.js';

/** Normalises raw records into Items (text cleaned, canonical URL, ISO UTC date, stable id). */
export function toItems(raw: RawItem[], sourceId: string, fetchedAt: Date): Item[] {
  return raw.map((r) => makeItem({ ...r, sourceId, fetchedAt }));
}
