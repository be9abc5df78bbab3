import type { EntityHit, ItemAnalysis } from './analyse.js';
import type { CompiledLexicon } from './lexicon.js';
import type { Match, MatchCategory } from './types.js';
import type { CompiledWatchlist, Strength } from './watchlists.js';

export interface Watched {
  hit: EntityHit;
  strength: Strength;
}

// Goods first, then the companies that make them, then country pairs; one name per place in the text.
const THING_ORDER: Record<string, number> = { direct: 0, member: 0, group: 1, keyword: 1, supplier: 2, company: 2, pair: 3 };

/** The names an explanation lists: what shares the sentence of the strongest pair's entity. */
export function thingsAbout(
  topEntity: EntityHit,
  watched: Watched[],
  nameOf: (e: EntityHit) => string,
): { things: string[]; pair: boolean } {
  const sameSentence = watched.filter((x) => x.hit.field === topEntity.field && x.hit.sentence === topEntity.sentence);
  const bySpan = new Map<string, Watched>();
  for (const x of sameSentence) {
    const span = `${x.hit.start}:${x.hit.end}`;
    const current = bySpan.get(span);
    // The lexicon's short name ("Nvidia") reads better than a watchlist's legal name ("NVIDIA Corporation").
    if (!current || (current.hit.kind === 'supplier' && x.hit.kind !== 'supplier')) bySpan.set(span, x);
  }
  const ordered = [...bySpan.values()].sort(
    (a, b) =>
      (a.hit === topEntity ? -1 : 0) - (b.hit === topEntity ? -1 : 0) ||
      THING_ORDER[a.strength.via] - THING_ORDER[b.strength.via] ||
      a.hit.start - b.hit.start,
  );
  const goods = ordered.filter((x) => x.strength.via !== 'pair');
  return { things: (goods.length ? goods : ordered).map((x) => nameOf(x.hit)), pair: goods.length === 0 };
}

/** How an explanation names an entity hit for this watchlist. */
export function entityName(e: EntityHit, w: CompiledWatchlist, lexicon: CompiledLexicon): string {
  if (e.kind === 'supplier') return w.suppliers.find((s) => s.id === e.id)?.name ?? e.text;
  if (e.kind === 'keyword') return e.text;
  return lexicon.entities.get(e.id)?.name ?? e.text;
}

const CATEGORY: Partial<Record<string, MatchCategory>> = {
  material: 'material',
  product: 'product',
  company: 'company',
  country: 'country',
  actor: 'actor',
  keyword: 'keyword',
  supplier: 'supplier',
};

/** The matches an assessment lists: watched entities, actors, watched countries, signals that count, exclusions. */
export function matchesFor(analysis: ItemAnalysis, watched: Watched[], w: CompiledWatchlist): Match[] {
  const out: Match[] = [];
  for (const { hit, strength } of watched) {
    const category = strength.via === 'supplier' ? 'supplier' : CATEGORY[hit.kind] ?? 'keyword';
    out.push({ term: hit.text, entity: hit.id, category, field: hit.field, position: hit.position });
  }
  for (const hit of analysis.entities) {
    if (hit.kind === 'actor' || (hit.kind === 'country' && w.countries.has(hit.id))) {
      out.push({ term: hit.text, entity: hit.id, category: CATEGORY[hit.kind]!, field: hit.field, position: hit.position });
    }
  }
  for (const s of analysis.signals) {
    // Bare trade flows ("exports", "supply") are context for actions, not findings worth listing.
    if (s.signal.weight <= 0 || s.signal.class === 'flow') continue;
    out.push({ term: s.text, entity: s.signal.id, category: s.polarity === 'de-escalation' ? 'de-escalation' : 'signal', field: s.field, position: s.position });
  }
  for (const x of analysis.exclusions) {
    out.push({ term: x.text, entity: x.id, category: 'exclusion', field: x.field, position: x.position });
  }
  return out.sort((a, b) => fieldOrder(a.field) - fieldOrder(b.field) || a.position - b.position);
}

function fieldOrder(field: string): number {
  return field === 'title' ? 0 : field === 'summary' ? 1 : 2;
}
