import type { ItemField } from './types.js';

/** Where a term was found. Tokens and sentences are numbered within the field. */
export interface Located {
  field: ItemField;
  start: number;
  end: number;
  token: number;
  tokenEnd: number;
  sentence: number;
  /** The words as they appear in the item. */
  text: string;
  /** Offset in the original field. */
  position: number;
}

/** Tokens between two located terms (0 when adjacent), or -1 when they overlap. */
export function gap(a: Located, b: Located): number {
  if (a.tokenEnd < b.token) return b.token - a.tokenEnd - 1;
  if (b.tokenEnd < a.token) return a.token - b.tokenEnd - 1;
  return -1;
}
