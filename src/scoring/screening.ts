import type { Item } from '../items/item.js';
import type { ScoreEnv } from './score.js';
import { namesSupplier, otherCompanyWords } from './suppliers.js';
import type { CompiledWatchlist } from './watchlists.js';

/**
 * The floor a Consolidated Screening List entry sets: naming a watched supplier is critical (the supplier may be
 * unable to deliver tomorrow); naming a company the lexicon knows to make a watched good is high.
 */
export function screeningFloor(item: Item, w: CompiledWatchlist, env: ScoreEnv): { score: number; why: string } | undefined {
  const entry = item.screening;
  if (!entry) return undefined;
  const names = [entry.name, ...entry.altNames];
  const t = env.settings.thresholds;
  const supplier = w.suppliers.find((s) => names.some((n) => namesSupplier(n, s.forms, s.otherWords)));
  if (supplier) {
    return { score: Math.max(95, t.critical), why: `${entry.list} ${entry.change === 'added' ? 'adds' : 'changes'} watched supplier ${supplier.name} ("${entry.name}") — official screening list` };
  }
  // A company the lexicon knows to make a watched material or product: serious, but not a supplier the user named.
  for (const [id, strength] of w.strength) {
    if (strength.via !== 'company') continue;
    const company = env.lexicon.entities.get(id)!;
    const forms = [...env.lexicon.companyNames].filter(([, cid]) => cid === id).map(([name]) => name);
    const otherWords = otherCompanyWords([company.name, ...forms]);
    if (names.some((n) => namesSupplier(n, forms, otherWords))) {
      return { score: t.high, why: `${entry.list} ${entry.change === 'added' ? 'adds' : 'changes'} ${company.name} ("${entry.name}"), a maker of watched goods — official screening list` };
    }
  }
  return undefined;
}
