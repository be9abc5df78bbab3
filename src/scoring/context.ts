import type { Item } from '../items/item.js';
import type { EntityHit } from './analyse.js';
import type { CompiledLexicon } from './lexicon.js';
import type { ScoringSettings } from './settings.js';
import type { AssessContext } from './types.js';

/** How concentrated the supply of what an entity stands for is, from supply-concentration.yaml. */
export function concentrationOf(hit: EntityHit, lexicon: CompiledLexicon): { share: number; text: string; source: string } | undefined {
  const info = lexicon.entities.get(hit.id);
  // A company speaks for what it makes; an entity without a row of its own uses its groups' (gpus -> ai-accelerators).
  const own = info?.kind === 'company' ? info.about : [hit.id];
  const candidates = [...own, ...own.flatMap((id) => lexicon.entities.get(id)?.ancestors ?? [])];
  for (const id of candidates) {
    const rows = lexicon.concentration.get(id);
    if (!rows?.length) continue;
    const top = rows.reduce((a, b) => (b.share > a.share ? b : a));
    const country = lexicon.entities.get(top.country)?.name ?? top.country;
    // Name the good when the figure is about something other than what the item names (a company, a member).
    const good = id === hit.id ? '' : `${lexicon.entities.get(id)?.name ?? id}: `;
    return { share: top.share, text: `${good}${country} ${Math.round(top.share * 100)}% of ${top.stage}`, source: top.source };
  }
  return undefined;
}

/** Old items found late (archives, aggregators) count less; only when the caller says what time it is. */
export function recencyOf(item: Item, context: AssessContext, settings: ScoringSettings): { value: number; detail: string } | undefined {
  if (!context.now || !item.publishedAt) return undefined;
  const published = Date.parse(item.publishedAt);
  if (Number.isNaN(published)) return undefined;
  const days = (context.now.getTime() - published) / 86_400_000;
  if (days <= 1) return undefined;
  const value = Math.max(settings.recency.floor, 0.5 ** (days / settings.recency.halfLifeDays));
  return { value, detail: `published ${Math.round(days)} days ago` };
}
