import type { Item } from '../items/item.js';

export const LEVELS = ['none', 'info', 'low', 'medium', 'high', 'critical'] as const;
export type Level = (typeof LEVELS)[number];
/** Levels a route or a watchlist can ask for (none is never a useful minimum). */
export const ROUTE_LEVELS = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type RouteLevel = (typeof ROUTE_LEVELS)[number];

export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

export type Direction = 'escalation' | 'de-escalation' | 'neutral';

export type MatchCategory =
  | 'material'
  | 'product'
  | 'company'
  | 'supplier'
  | 'country'
  | 'actor'
  | 'signal'
  | 'de-escalation'
  | 'exclusion'
  | 'keyword';

export type ItemField = 'title' | 'summary' | 'content';

export interface Match {
  /** The text as it appeared. */
  term: string;
  /** Canonical entity or signal id, e.g. "samarium", "export-ban". */
  entity: string;
  category: MatchCategory;
  field: ItemField;
  /** Character offset in the field. */
  position: number;
}

/** One contribution to a score, so an alert can say why it has the score it has. */
export interface Factor {
  name: string;
  /** Points added (or multiplier applied, see detail). */
  value: number;
  detail: string;
}

/** One item assessed against one watchlist. */
export interface Assessment {
  itemId: string;
  watchlistId: string;
  score: number;
  level: Level;
  direction: Direction;
  matches: Match[];
  factors: Factor[];
  /** One plain sentence: what happened, to what, said by whom, and why it matters. */
  why: string;
  /** Canonical ids of the watched entities (materials, products, suppliers, countries) the item is about. */
  entities: string[];
}

/** What the pipeline knows about an item besides its text. */
export interface AssessContext {
  /** Credibility of the source, 0..1 (sources.yaml `credibility`). */
  credibility?: number;
  /** Number of distinct sources that carry the story so far. */
  corroboration?: number;
  now?: Date;
}

export interface Scorer {
  /** Assesses the item against every watchlist; returns one Assessment per watchlist, level "none" included. */
  assess(item: Item, context?: AssessContext): Assessment[];
}
