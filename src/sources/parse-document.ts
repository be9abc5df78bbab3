import type { HtmlSourceConfig, JsonSourceConfig } from '../config/schema.js';
import { FeedParseError } from '../errors.js';
import type { Item } from '../items/item.js';
import { parseFeed } from './feed/parse.js';
import { decodeHtml, extractHtml } from './kinds/html.js';
import { parseJsonBody, readJsonPage } from './kinds/json.js';
import { readDocument } from './kinds/read.js';
import { readScreeningList, screeningRawItem } from './kinds/screening.js';
import { toItems } from './kinds/to-item.js';
import { detectPreset, type PresetName } from './presets.js';

export type DocumentKind = 'rss' | 'json' | 'html' | 'screening';

export interface ParseDocumentOptions {
  sourceId: string;
  url: string;
  contentType?: string;
  now: Date;
  preset?: PresetName;
  mapping?: JsonSourceConfig['mapping'];
  selectors?: HtmlSourceConfig['selectors'];
  lists?: string[];
}

/** Guesses the kind of a document from its first bytes and, for JSON, its shape (for `chokepoint parse`). */
export function detectKind(body: Buffer): DocumentKind {
  const head = body.subarray(0, 4096).toString('latin1').replace(/^\uFEFF|^\u00ef\u00bb\u00bf/, '').trimStart();
  if (head.startsWith('{') || head.startsWith('[')) {
    try {
      const doc = JSON.parse(body.toString('utf8').replace(/^\uFEFF/, '')) as { results?: Array<Record<string, unknown>> };
      if (detectPreset(doc)) return 'json';
      const first = Array.isArray(doc?.results) ? doc.results[0] : undefined;
      if (first && 'name' in first && 'source' in first && ('alt_names' in first || 'addresses' in first)) return 'screening';
    } catch {
      /* not JSON after all: let the feed parser say what it is */
    }
    return 'json';
  }
  if (/^(<!--[\s\S]*?-->\s*)*<!doctype html|^(<!--[\s\S]*?-->\s*)*<html[\s>]/i.test(head)) return 'html';
  return 'rss';
}

/** Parses one fetched document as the given kind, without touching any state (screening entries all count as added). */
export function parseDocument(kind: DocumentKind, body: Buffer, opts: ParseDocumentOptions): { title?: string; items: Item[] } {
  return readDocument(opts.sourceId, () => parseAs(kind, body, opts));
}

function parseAs(kind: DocumentKind, body: Buffer, opts: ParseDocumentOptions): { title?: string; items: Item[] } {
  switch (kind) {
    case 'rss': {
      const feed = parseFeed(body, { sourceId: opts.sourceId, contentType: opts.contentType, baseUrl: opts.url, fetchedAt: opts.now });
      return { title: feed.title, items: feed.items };
    }
    case 'json': {
      const doc = parseJsonBody(opts.sourceId, body, opts.url, opts.contentType);
      const preset = opts.preset ?? (opts.mapping ? undefined : detectPreset(doc));
      if (!preset && !opts.mapping) {
        throw new FeedParseError(opts.sourceId, 'unknown-json', 'JSON of no known shape: give a preset, or the items path and the title field');
      }
      const page = readJsonPage({ id: opts.sourceId, preset, mapping: opts.mapping }, doc, opts.url);
      return { items: toItems(page.items, opts.sourceId, opts.now) };
    }
    case 'html': {
      if (!opts.selectors) {
        throw new FeedParseError(opts.sourceId, 'no-selectors', 'an HTML page needs selectors for the item and its title (--item, --title)');
      }
      const page = extractHtml(opts.sourceId, decodeHtml(body, opts.contentType), opts.url, opts.selectors);
      return { title: page.title, items: toItems(page.items, opts.sourceId, opts.now) };
    }
    case 'screening': {
      const doc = parseJsonBody(opts.sourceId, body, opts.url, opts.contentType);
      const entries = readScreeningList(opts.sourceId, doc, opts.url, opts.lists);
      return { items: toItems(entries.map((e) => screeningRawItem(e, 'added')), opts.sourceId, opts.now) };
    }
  }
}
