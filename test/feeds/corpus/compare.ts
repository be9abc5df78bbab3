import { readFileSync } from 'node:fs';
import { FeedParseError } from '../../../src/errors.js';
import { decodeEntities, foldText, htmlToText } from '../../../src/items/text.js';
import { canonicalUrl } from '../../../src/items/urls.js';
import { parseFeed, type ParsedFeed } from '../../../src/sources/feed/parse.js';

/** The corpus, read in place (see /work/shared/feeds-corpus/README.md); CI has shared/ beside the clone. */
export const CORPUS = new URL('../../../../shared/feeds-corpus/', import.meta.url);

export type Field = 'feedTitle' | 'feedLink' | 'title' | 'link' | 'id' | 'published' | 'parses' | 'rejects' | 'summary' | 'encoding';

/** One expectation checked against our result. */
export interface Check {
  set: string;
  file: string;
  field: Field;
  ok: boolean;
  expected: unknown;
  actual: unknown;
  /** True when the expected value was empty (missing key): we must not invent a value. */
  empty?: boolean;
}

export interface ManifestEntry {
  set: string;
  input: string;
  expected?: string;
  expectedKey?: string;
  format: string;
  schema?: string;
  checks?: Array<{ path: string; equals: string }>;
  encoding?: string;
}

export function manifest(): ManifestEntry[] {
  return JSON.parse(readFileSync(new URL('manifest.json', CORPUS), 'utf8')) as ManifestEntry[];
}

export function readJson<T>(path: string, encoding: BufferEncoding = 'utf8'): T {
  return JSON.parse(readFileSync(new URL(path, CORPUS), encoding)) as T;
}

/** Parses one corpus input: the feed, or the FeedParseError it raised (anything else is a bug and propagates). */
export function parseInput(input: string, http: { contentType?: string; baseUrl?: string } = {}): ParsedFeed | FeedParseError {
  const body = readFileSync(new URL(input, CORPUS));
  try {
    return parseFeed(body, { sourceId: input, ...http, fetchedAt: new Date(0) });
  } catch (err) {
    if (err instanceof FeedParseError) return err;
    throw err;
  }
}

/** Plain-text forms of an expected text, as the upstream parsers may hold it (raw, HTML, escaped HTML). */
function textForms(value: string): string[] {
  return [foldText(value), htmlToText(value), foldText(decodeEntities(value)), htmlToText(decodeEntities(value))];
}

export function sameText(expected: unknown, actual: string | undefined): boolean {
  const exp = typeof expected === 'string' ? expected : '';
  if (!foldText(exp)) return !actual;
  if (actual === undefined) return false;
  // rss-parser read UOL's ISO-8859-1 feed as UTF-8; its golden file holds U+FFFD where we decode the right letter.
  if (exp.includes('\uFFFD')) return asciiOnly(htmlToText(exp)) === asciiOnly(actual);
  return textForms(exp).includes(foldText(actual));
}

function asciiOnly(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, '');
}

/** Links compare in canonical form; a relative expected link matches an absolute one ending with it. */
export function sameLink(expected: unknown, actual: string | undefined, base?: string): boolean {
  const exp = typeof expected === 'string' ? expected.trim() : '';
  if (!exp) return !actual;
  if (actual === undefined) return false;
  const canonical = canonicalUrl(decodeEntities(exp), base) ?? canonicalUrl(exp, base);
  if (canonical) return canonical === actual || safeDecode(canonical) === safeDecode(actual);
  // rss-parser keeps relative links as written; we resolve them (against the feed's own link when there is no URL).
  if (/^\//.test(exp)) return new URL(actual).pathname + new URL(actual).search === exp;
  // Not an http(s) URL (mailto:, urn:): we keep no such links.
  return false;
}

function safeDecode(url: string): string {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
}

export function sameId(expected: unknown, actual: string | undefined): boolean {
  const exp = typeof expected === 'string' ? foldText(expected) : '';
  if (!exp) return !actual;
  return actual === exp || actual === foldText(decodeEntities(exp));
}

/** Instants compare to the second (the corpora drop fractions). */
export function sameInstant(expected: string | null | undefined, actual: string | null): boolean {
  if (!expected) return actual === null;
  if (actual === null) return false;
  return Math.floor(Date.parse(expected) / 1000) === Math.floor(Date.parse(actual) / 1000);
}

/** The rate of passed checks per field (and over checks whose expected value was non-empty). */
export function rates(checks: Check[]): Map<Field, { total: number; ok: number; nonEmpty: number; nonEmptyOk: number }> {
  const out = new Map<Field, { total: number; ok: number; nonEmpty: number; nonEmptyOk: number }>();
  for (const c of checks) {
    const r = out.get(c.field) ?? { total: 0, ok: 0, nonEmpty: 0, nonEmptyOk: 0 };
    r.total++;
    if (c.ok) r.ok++;
    if (!c.empty) {
      r.nonEmpty++;
      if (c.ok) r.nonEmptyOk++;
    }
    out.set(c.field, r);
  }
  return out;
}
