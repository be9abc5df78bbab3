import type { ScreeningEntry } from '../../items/item.js';

/**
 * What a json, html or screening source reads from one record, before normalisation turns it into an Item
 * (text cleaned, date to ISO UTC, URL canonical, fingerprint). Kept separate so mappings stay pure and testable.
 */
export interface RawItem {
  /** The publisher's own id (document number, list entry id), if any. */
  guid?: string;
  title: string;
  url?: string;
  /** HTML or plain text; normalisation strips tags. */
  summary?: string;
  /** The date as the source wrote it; normalisation parses it (unparseable becomes null). */
  date?: string;
  author?: string;
  categories?: string[];
  language?: string;
  screening?: ScreeningEntry;
}

/** Reads a dot path ("data.items", "results.0.title") from parsed JSON. */
export function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.').filter(Boolean)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * How deep asText looks into lists and objects, and how many list members it joins. Real fields are a list of names at
 * most ("agencies": [{ "name": ... }]); JSON.parse reads 200,000 nested lists without trouble, and a recursion
 * without a bound overflows the stack on them.
 */
const TEXT_DEPTH = 8;
const TEXT_PARTS = 200;

/** A JSON value as display text: strings and numbers as they are, lists joined, objects by their name or title. */
export function asText(value: unknown): string | undefined {
  return textOf(value, 0);
}

function textOf(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (depth >= TEXT_DEPTH) return undefined;
  if (Array.isArray(value)) {
    const parts: string[] = [];
    for (const member of value) {
      const text = textOf(member, depth + 1);
      if (text !== undefined && parts.push(text) >= TEXT_PARTS) break;
    }
    return parts.length ? parts.join(', ') : undefined;
  }
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return textOf(o.name ?? o.title ?? o.raw_name, depth + 1);
  }
  return undefined;
}
