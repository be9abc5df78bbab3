import { asText, type RawItem } from './kinds/raw-item.js';

/**
 * Built-in mappings for the JSON APIs the default config polls. Each reads one parsed page into raw items and says
 * where the next page is (if the API paginates).
 */
export interface JsonPreset {
  /** Key the response must have, so a wrong URL gives a clear error instead of zero items. */
  expects: string;
  read(doc: Record<string, unknown>): RawItem[];
  nextPage?(doc: Record<string, unknown>): string | undefined;
}

const records = (value: unknown): Array<Record<string, unknown>> =>
  Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object') : [];

/** Federal Register v1 documents search: results[] with document_number, type and agencies[]. */
export const federalRegister: JsonPreset = {
  expects: 'results',
  read(doc) {
    return records(doc.results).flatMap((r) => {
      const title = asText(r.title);
      if (!title) return [];
      const agencies = records(r.agencies)
        .map((a) => asText(a.name ?? a.raw_name))
        .filter((a): a is string => a !== undefined);
      const type = asText(r.type);
      return [
        {
          guid: asText(r.document_number),
          title,
          url: asText(r.html_url),
          summary: asText(r.abstract),
          date: asText(r.publication_date),
          author: agencies.length ? agencies.join('; ') : undefined,
          categories: [...(type ? [type] : []), ...agencies],
          language: 'en',
        },
      ];
    });
  },
  nextPage: (doc) => asText(doc.next_page_url),
};

/** GDELT writes seendate as "20250404T123000Z"; made ISO 8601 so any date parser reads it. */
export function gdeltDate(value: string | undefined): string | undefined {
  const m = value && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : value;
}

/** GDELT DOC 2.0 `mode=artlist&format=json`: articles[] (an empty result is `{}`). */
export const gdelt: JsonPreset = {
  expects: '',
  read(doc) {
    return records(doc.articles).flatMap((a) => {
      const title = asText(a.title);
      const url = asText(a.url);
      if (!title || !url) return [];
      const country = asText(a.sourcecountry);
      return [
        {
          guid: url,
          title,
          url,
          date: gdeltDate(asText(a.seendate)),
          author: asText(a.domain),
          language: asText(a.language),
          categories: country ? [country] : [],
        },
      ];
    });
  },
};

export const PRESETS = { 'federal-register': federalRegister, gdelt } as const;
export type PresetName = keyof typeof PRESETS;

/** Recognises a known API's response (for `chokepoint parse` without --preset). */
export function detectPreset(doc: unknown): PresetName | undefined {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  const first = (list: unknown) => records(list)[0];
  if (first(d.results) && 'html_url' in first(d.results)! && 'document_number' in first(d.results)!) return 'federal-register';
  if (first(d.articles) && 'seendate' in first(d.articles)!) return 'gdelt';
  return undefined;
}
