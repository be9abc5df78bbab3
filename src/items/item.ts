/** A normalised story or record read from a source. Every source kind produces these. */
export interface Item {
  /** Stable fingerprint: hash of the guid, else the canonical URL, else the title (see items/fingerprint.ts). */
  id: string;
  sourceId: string;
  title: string;
  /** Plain text (HTML stripped), may be empty. */
  summary: string;
  /** Plain text of the full body when the source carries one (content:encoded, Atom content). */
  content?: string;
  /** Canonical URL (tracking parameters dropped, and the fragment unless it names the item on a page of many: itemAnchor). */
  url?: string;
  /** ISO-8601 UTC, or null when the source gave no parseable date. */
  publishedAt: string | null;
  /** ISO-8601 UTC time the item was fetched. */
  fetchedAt: string;
  author?: string;
  language?: string;
  categories?: string[];
  /** The publisher's own id for the item (RSS guid, Atom id, document number), before hashing. */
  guid?: string;
  /** Set by the screening source kind: the list entry this item reports. */
  screening?: ScreeningEntry;
}

/** One entry of the US Consolidated Screening List. */
export interface ScreeningEntry {
  name: string;
  altNames: string[];
  /** The list it is on, e.g. "Entity List (EL) - Bureau of Industry and Security". */
  list: string;
  addresses: string[];
  countries: string[];
  startDate: string | null;
  federalRegisterNotice?: string;
  /** "added" for a new entry, "changed" for an entry whose fields changed since the last poll. */
  change: 'added' | 'changed';
}
