import type { ConfigIssue } from '../config/errors.js';
import { closest, formatPath } from '../config/errors.js';
import { displayPath } from '../config/read-file.js';
import { AliasSyntaxError, aliasForms, displayAlias } from './alias.js';
import type { ActionEntry, ConcentrationEntry, ExclusionEntry, SignalEntry } from './lexicon-schema.js';
import { CUE_GROUPS } from './lexicon-schema.js';
import { ENTRY_SECTIONS, type EntrySection, type MergedLexicon, type Origin } from './lexicon-load.js';
import { createLocator } from './locate.js';
import type { Term, TermKind } from './matcher.js';
import { companyCoreName, companyFullName, otherCompanyWords } from './suppliers.js';

export type EntityKind = 'material' | 'product' | 'company' | 'country' | 'actor';

/** A lexicon entity with its relations resolved. */
export interface EntityInfo {
  id: string;
  kind: EntityKind;
  name: string;
  /** Groups it counts as, transitively (samarium -> rare-earths -> critical-minerals). */
  ancestors: string[];
  /** Companies: materials and products they make. */
  about: string[];
  /** Companies and actors: the country they belong to. */
  country?: string;
  official: boolean;
  /** Country pairs: the two country ids. */
  pair?: [string, string];
}

/** The lexicon ready for matching and scoring. */
export interface CompiledLexicon {
  terms: Term[];
  aliases: string[][];
  entities: Map<string, EntityInfo>;
  signals: Map<string, SignalEntry>;
  actions: Map<string, ActionEntry>;
  exclusions: Map<string, ExclusionEntry>;
  cueGroups: Set<string>;
  concentration: Map<string, ConcentrationEntry[]>;
  /** Normalised company names (full and core) -> company id, so a watched supplier can inherit a company's aliases. */
  companyNames: Map<string, string>;
  pairs: EntityInfo[];
}

/** Signals that actions create when they halt or resume a flow ("halt exports", "resume production"). */
export const HALT_SIGNAL = 'supply-halt';
export const RESUME_SIGNAL = 'supply-resumption';
/**
 * What a halt of what reaches buyers (exports, shipments, supply) or of the licences it needs creates: a de facto export
 * ban, weighed as one. Without it in the lexicon (a user removed it), such a halt is an ordinary supply halt.
 */
export const EXPORT_HALT_SIGNAL = 'export-halt';
export const EXPORT_FLOW_SIGNAL = 'export-flow';
/** Export licences: halting them is an export halt. Other licences (to operate, import, mine) are not halted at all. */
export const EXPORT_LICENCE_SIGNAL = 'licence';

const KIND_OF: Record<EntrySection, TermKind> = {
  materials: 'material',
  products: 'product',
  companies: 'company',
  countries: 'country',
  actors: 'actor',
  signals: 'signal',
  actions: 'action',
  exclusions: 'exclusion',
};

/** Resolves relations, checks every cross-reference and alias, and lists the terms for the matcher. */
export function compileLexicon(merged: MergedLexicon): { lexicon: CompiledLexicon; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const locate = createLocator();
  const issueAt = (origin: Origin, sub: (string | number)[], message: string) => {
    const p = [...origin.path, ...sub];
    issues.push({ file: displayPath(origin.file), path: formatPath(p), line: locate(origin.file, p), message });
  };
  const { sections } = merged;
  const ids = (...names: EntrySection[]) => names.flatMap((n) => [...sections[n].keys()]);
  const checkRef = (origin: Origin, sub: (string | number)[], id: string, pool: string[], what: string) => {
    if (pool.includes(id)) return true;
    const hint = closest(id, pool);
    issueAt(origin, sub, `unknown ${what} "${id}"${hint ? `; did you mean "${hint}"?` : ''}`);
    return false;
  };
  const goods = ids('materials', 'products');
  const countries = ids('countries');

  const entities = new Map<string, EntityInfo>();
  const terms: Term[] = [];
  const aliases: string[][] = [];
  const addTerm = (kind: TermKind, id: string, list: string[], origin: Origin, notBefore?: Set<string>) => {
    const valid: string[] = [];
    list.forEach((alias, index) => {
      try {
        if (aliasForms(alias).length === 0) issueAt(origin, ['aliases', index], `alias "${alias}" has no letters or digits`);
        else valid.push(alias);
      } catch (err) {
        if (!(err instanceof AliasSyntaxError)) throw err;
        issueAt(origin, ['aliases', index], err.message);
      }
    });
    terms.push({ kind, id, notBefore });
    aliases.push(valid);
  };

  for (const section of ENTRY_SECTIONS) {
    for (const [id, { entry, origin }] of sections[section]) {
      const kind = KIND_OF[section];
      if (entry.aliases.length === 0 && !(section === 'countries' && 'pair' in entry && entry.pair)) {
        issueAt(origin, ['aliases'], 'needs at least one alias');
      }
      const otherWords = section === 'companies' ? otherCompanyWords([...entry.aliases.map(displayAlias), entry.name ?? '']) : undefined;
      addTerm(kind, id, entry.aliases, origin, otherWords);
      // An action that only ever escalates may stand inside a split signal ("出口[实施]管制"); any other may reverse it.
      if (section === 'actions') terms[terms.length - 1].escalates = Object.values((entry as ActionEntry).effects).every((e) => e === 'escalation');
      if (section === 'signals' && (entry as SignalEntry).namesCompany) terms[terms.length - 1].namesCompany = true;
      if (section === 'signals' || section === 'actions' || section === 'exclusions') continue;
      const e = entry as { name?: string; aliases: string[]; partOf?: string[]; about?: string[]; country?: string; official?: boolean; pair?: [string, string] };
      (e.partOf ?? []).forEach((p, i) => checkRef(origin, ['partOf', i], p, goods, 'material or product'));
      (e.about ?? []).forEach((p, i) => checkRef(origin, ['about', i], p, goods, 'material or product'));
      if (e.country) checkRef(origin, ['country'], e.country, countries, 'country');
      e.pair?.forEach((c, i) => checkRef(origin, ['pair', i], c, countries, 'country'));
      entities.set(id, {
        id,
        kind: kind as EntityKind,
        name: e.name ?? (e.aliases[0] ? displayAlias(e.aliases[0]) : id),
        ancestors: [],
        about: e.about ?? [],
        country: e.country,
        official: section === 'actors' ? e.official !== false : false,
        pair: e.pair,
      });
    }
  }

  // Transitive groups, refusing cycles.
  for (const info of entities.values()) {
    if (info.kind !== 'material' && info.kind !== 'product') continue;
    const seen = new Set<string>();
    const stack = [...((sections.materials.get(info.id) ?? sections.products.get(info.id))?.entry.partOf ?? [])];
    while (stack.length) {
      const parent = stack.pop()!;
      if (parent === info.id) {
        const origin = (sections.materials.get(info.id) ?? sections.products.get(info.id))!.origin;
        issueAt(origin, ['partOf'], `"${info.id}" is part of itself through its groups (a cycle)`);
        break;
      }
      if (seen.has(parent) || !entities.has(parent)) continue;
      seen.add(parent);
      stack.push(...((sections.materials.get(parent) ?? sections.products.get(parent))?.entry.partOf ?? []));
    }
    info.ancestors = [...seen];
  }

  const cueGroups = new Set(merged.cues.keys());
  for (const group of CUE_GROUPS) cueGroups.add(group);
  for (const [group, list] of merged.cues) {
    addTerm('cue', group, list, { file: merged.files[0] ?? '', path: ['cues', group] });
  }

  const signals = new Map([...sections.signals].map(([id, l]) => [id, l.entry]));
  for (const [, { entry, origin }] of sections.signals) {
    if (entry.requires && !merged.cues.has(entry.requires)) {
      const hint = closest(entry.requires, [...merged.cues.keys()]);
      issueAt(origin, ['requires'], `unknown cue group "${entry.requires}"${hint ? `; did you mean "${hint}"?` : ''}`);
    }
    if (entry.otherwise && !signals.has(entry.otherwise)) issueAt(origin, ['otherwise'], `unknown signal "${entry.otherwise}"`);
  }
  const actions = new Map([...sections.actions].map(([id, l]) => [id, l.entry]));
  for (const [, { entry, origin }] of sections.actions) {
    for (const effect of Object.values(entry.effects)) {
      const needed = effect === 'halt' ? HALT_SIGNAL : effect === 'resume' ? RESUME_SIGNAL : undefined;
      if (needed && !signals.has(needed)) issueAt(origin, ['effects'], `effect "${effect}" needs a signal with id "${needed}"`);
    }
  }

  const concentration = new Map<string, ConcentrationEntry[]>();
  for (const { entry, origin } of merged.concentration) {
    const ok = checkRef(origin, ['entity'], entry.entity, goods, 'material or product');
    checkRef(origin, ['country'], entry.country, countries, 'country');
    if (ok) concentration.set(entry.entity, [...(concentration.get(entry.entity) ?? []), entry]);
  }

  const companyNames = new Map<string, string>();
  for (const [id, { entry }] of sections.companies) {
    for (const alias of entry.aliases) {
      const plain = displayAlias(alias);
      companyNames.set(companyFullName(plain), id);
      companyNames.set(companyCoreName(plain), id);
    }
  }

  return {
    lexicon: {
      terms,
      aliases,
      entities,
      signals,
      actions,
      exclusions: new Map([...sections.exclusions].map(([id, l]) => [id, l.entry])),
      cueGroups,
      concentration,
      companyNames,
      pairs: [...entities.values()].filter((e) => e.pair),
    },
    issues,
  };
}
