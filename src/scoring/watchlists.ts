import path from 'node:path';
import type { ConfigIssue } from '../config/errors.js';
import { closest, formatPath } from '../config/errors.js';
import { displayPath } from '../config/read-file.js';
import type { WatchlistConfig } from '../config/schema.js';
import { AliasSyntaxError, aliasForms, displayAlias, keywordAlias } from './alias.js';
import type { CompiledLexicon } from './lexicon.js';
import { createLocator } from './locate.js';
import type { Term } from './matcher.js';
import type { ScoringSettings } from './settings.js';
import { companyCoreName, companyFullName, otherCompanyWords, supplierForms } from './suppliers.js';

export type Via = 'direct' | 'member' | 'group' | 'company' | 'supplier' | 'keyword' | 'pair';

/** How much a mention of an entity counts for one watchlist, and why. */
export interface Strength {
  value: number;
  via: Via;
}

export interface WatchedSupplier {
  id: string;
  name: string;
  forms: string[];
  /** Words that, after one of its forms, name another company (see otherCompanyWords). */
  otherWords: Set<string>;
}

/** A watchlist resolved against the lexicon. */
export interface CompiledWatchlist {
  id: string;
  config: WatchlistConfig;
  /** Lexicon entity id -> strength (materials, products, their groups and members, companies, country pairs). */
  strength: Map<string, Strength>;
  /** Single countries: they never make an item relevant alone, but raise it when they act in the signal's sentence. */
  countries: Set<string>;
  suppliers: WatchedSupplier[];
}

function slugOf(text: string): string {
  return companyCoreName(text).replace(/ /g, '-') || text.toLowerCase();
}

/** Resolves watchlists; returns their terms (keywords, suppliers, excludes) to add to the matcher, and every issue. */
export function compileWatchlists(
  watchlists: readonly WatchlistConfig[],
  lexicon: CompiledLexicon,
  settings: ScoringSettings,
  configDir: string,
): { watchlists: CompiledWatchlist[]; terms: Term[]; aliases: string[][]; issues: ConfigIssue[] } {
  const file = path.join(configDir, 'watchlists.yaml');
  const locate = createLocator();
  const issues: ConfigIssue[] = [];
  const issueAt = (p: (string | number)[], message: string) =>
    issues.push({ file: displayPath(file), path: formatPath(p), line: locate(file, p), message });
  const byKind = (kind: string) => [...lexicon.entities.values()].filter((e) => e.kind === kind).map((e) => e.id);
  const materials = byKind('material');
  const products = byKind('product');
  const countryIds = byKind('country');
  const terms: Term[] = [];
  const aliases: string[][] = [];
  const compiled: CompiledWatchlist[] = [];

  watchlists.forEach((config, w) => {
    if (!config.enabled) return;
    const strength = new Map<string, Strength>();
    const set = (id: string, value: number, via: Via) => {
      const current = strength.get(id);
      if (!current || current.value < value) strength.set(id, { value, via });
    };
    const watchGoods = (list: string[], key: 'materials' | 'products', own: string[], other: string[]) => {
      list.forEach((id, i) => {
        if (!own.includes(id)) {
          const otherKind = key === 'materials' ? 'product' : 'material';
          if (other.includes(id)) issueAt(['watchlists', w, key, i], `"${id}" is a ${otherKind}: list it under ${otherKind}s`);
          else {
            const hint = closest(id, own);
            issueAt(['watchlists', w, key, i], `unknown ${key.slice(0, -1)} "${id}"${hint ? `; did you mean "${hint}"?` : ` (see config/lexicon.yaml)`}`);
          }
          return;
        }
        set(id, 1, 'direct');
        for (const entity of lexicon.entities.values()) if (entity.ancestors.includes(id)) set(entity.id, 1, 'member');
        for (const ancestor of lexicon.entities.get(id)!.ancestors) set(ancestor, settings.strength.group, 'group');
      });
    };
    watchGoods(config.materials, 'materials', materials, products);
    watchGoods(config.products, 'products', products, materials);

    // Companies whose business is a watched material or product speak for it, a little less than naming it.
    for (const entity of lexicon.entities.values()) {
      if (entity.kind !== 'company') continue;
      const makes = entity.about.some((a) => {
        const s = strength.get(a);
        return s && (s.via === 'direct' || s.via === 'member');
      });
      if (makes) set(entity.id, settings.strength.company, 'company');
    }

    const countries = new Set<string>();
    config.countries.forEach((code, i) => {
      const id = countryIds.find((c) => c.toLowerCase() === code.toLowerCase());
      if (!id) {
        const hint = closest(code, countryIds);
        issueAt(['watchlists', w, 'countries', i], `unknown country "${code}"${hint ? `; did you mean "${hint}"?` : ' (ISO 3166 alpha-2 codes of config/lexicon*.yaml countries)'}`);
        return;
      }
      if (lexicon.entities.get(id)!.pair) set(id, settings.strength.countryPair, 'pair');
      else countries.add(id);
    });

    const suppliers: WatchedSupplier[] = [];
    config.suppliers.forEach((supplier) => {
      const name = typeof supplier === 'string' ? supplier : supplier.name;
      const extra = typeof supplier === 'string' ? [] : supplier.aliases;
      const forms = supplierForms(name, extra);
      // A supplier the lexicon knows as a company keeps the company's aliases (and its strength becomes full).
      const companyId = [name, ...extra]
        .flatMap((n) => [companyFullName(n), companyCoreName(n)])
        .map((n) => lexicon.companyNames.get(n))
        .find(Boolean);
      if (companyId) set(companyId, 1, 'supplier');
      const id = companyId ?? slugOf(name);
      const known = companyId ? [...lexicon.companyNames].filter(([, c]) => c === companyId).map(([n]) => n) : [];
      const otherWords = otherCompanyWords([name, ...extra, ...known]);
      suppliers.push({ id, name, forms, otherWords });
      terms.push({ kind: 'supplier', id, scope: config.id, notBefore: otherWords });
      aliases.push(forms);
    });

    // Keywords and excludes use the lexicon's alias syntax; a malformed one is reported, not compiled.
    const checked = (term: string, key: 'keywords' | 'exclude', i: number): boolean => {
      try {
        if (aliasForms(term).length > 0) return true;
        issueAt(['watchlists', w, key, i], `"${term}" has no letters or digits to match`);
      } catch (err) {
        if (!(err instanceof AliasSyntaxError)) throw err;
        issueAt(['watchlists', w, key, i], err.message);
      }
      return false;
    };
    config.keywords.forEach((keyword, i) => {
      if (!checked(keyword, 'keywords', i)) return;
      terms.push({ kind: 'keyword', id: displayAlias(keyword).toLowerCase(), scope: config.id });
      aliases.push([keywordAlias(keyword)]);
    });
    config.exclude.forEach((term, i) => {
      if (!checked(term, 'exclude', i)) return;
      terms.push({ kind: 'watch-exclude', id: term, scope: config.id });
      aliases.push([term]);
    });

    compiled.push({ id: config.id, config, strength, countries, suppliers });
  });
  return { watchlists: compiled, terms, aliases, issues };
}
