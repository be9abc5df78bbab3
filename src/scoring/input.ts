import { z } from 'zod';
import type { Item } from '../items/item.js';

/**
 * One line of `chokepoint score` / `backtest` input: an item as JSON. Only these fields are read; others are ignored.
 * `source` is the source id (or the publisher's domain) and selects its credibility.
 */
const inputSchema = z.object({
  id: z.union([z.string(), z.number()]).optional(),
  title: z.string(),
  summary: z.string().nullish(),
  content: z.string().nullish(),
  url: z.string().nullish(),
  source: z.string().nullish(),
  publishedAt: z.string().nullish(),
  labels: z
    .object({
      relevant: z.boolean(),
      severity: z.number().int().min(0).max(3).optional(),
      direction: z.string().optional(),
    })
    .optional(),
});

export interface Labels {
  relevant: boolean;
  severity?: number;
  direction?: string;
}

export interface InputItem {
  item: Item;
  labels?: Labels;
}

/** Parses one JSONL line; returns an error message instead of throwing, so a bad line can be reported and skipped. */
export function parseInputLine(line: string, lineNumber: number, fetchedAt: string): InputItem | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    return { error: `line ${lineNumber}: not JSON (${(err as Error).message})` };
  }
  const parsed = inputSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : 'item';
    return { error: `line ${lineNumber}: ${where}: ${issue.message}` };
  }
  const d = parsed.data;
  const item: Item = {
    id: d.id !== undefined ? String(d.id) : `line-${lineNumber}`,
    sourceId: d.source ?? 'input',
    title: d.title,
    summary: d.summary ?? '',
    content: d.content ?? undefined,
    url: d.url ?? undefined,
    publishedAt: d.publishedAt ?? null,
    fetchedAt,
  };
  return { item, labels: d.labels };
}

/** Splits input text into non-empty lines with their 1-based numbers. */
export function jsonLines(text: string): Array<{ line: string; number: number }> {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter((l) => l.line.length > 0);
}
