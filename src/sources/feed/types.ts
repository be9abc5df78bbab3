import type { Item } from '../../items/item.js';

/** A parsed feed: its format, title and link, and its entries as normalised Items. */
export interface ParsedFeed {
  format: 'rss' | 'atom' | 'rdf';
  title?: string;
  /** The site the feed belongs to (canonical URL). */
  link?: string;
  items: Item[];
  /** The document's character encoding as decoded ("utf-8", "gb18030", ...). */
  encoding?: string;
  /** True when the feed had more than maxItems entries and only the newest maxItems were kept (see newestEntries). */
  truncated?: boolean;
}

export interface ParseFeedOptions {
  sourceId: string;
  /** The HTTP Content-Type, for its charset. */
  contentType?: string;
  /** The document's URL: the base for relative links. */
  baseUrl?: string;
  fetchedAt?: Date;
  /** Entries kept at most, the newest: the first ones, or the last of a feed that runs oldest first. Default 2,000. */
  maxItems?: number;
}

/** What the format mappers need besides the document. */
export interface FeedContext {
  sourceId: string;
  fetchedAt: Date;
  base?: string;
  maxItems: number;
  /** The document's tag-name rewriting (namespaces.ts), applied to entries as they are scanned. */
  rename: (name: string) => string;
}
