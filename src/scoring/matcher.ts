import { aliasForms, cjkEdges } from './alias.js';
import { Automaton } from './automaton.js';
import { isCjk, type NormalizedText, SPACE } from './normalize.js';

/**
 * What a term is. Lexicon kinds come from lexicon files; `keyword`, `supplier` and `watch-exclude` come from one
 * watchlist (their `scope` is the watchlist id).
 */
export type TermKind =
  | 'material'
  | 'product'
  | 'company'
  | 'country'
  | 'actor'
  | 'signal'
  | 'action'
  | 'cue'
  | 'exclusion'
  | 'keyword'
  | 'supplier'
  | 'watch-exclude';

export interface Term {
  kind: TermKind;
  /** Entry id (for cues: the cue group name). */
  id: string;
  /** Watchlist id for watchlist terms. */
  scope?: string;
}

/** A term found in a normalised text (positions are in normalised code units, end exclusive). */
export interface Hit {
  term: number;
  start: number;
  end: number;
}

interface Pattern {
  term: number;
  length: number;
  cased?: Uint16Array;
  cjkStart: boolean;
  cjkEnd: boolean;
}

/** Families compete for overlapping text only among themselves; exclusions silence everything they overlap. */
function familyOf(term: Term): string {
  switch (term.kind) {
    case 'material':
    case 'product':
    case 'company':
    case 'country':
    case 'actor':
      return 'entity';
    case 'signal':
    case 'action':
      return 'signal';
    case 'cue':
      return `cue:${term.id}`;
    case 'keyword':
    case 'supplier':
      return `watch:${term.scope}`;
    case 'watch-exclude':
      return 'exclude';
    case 'exclusion':
      return 'exclusion';
  }
}

const EXCLUSION = 0;
const EXCLUDE = 1;

function toCodes(text: string): Uint16Array {
  const codes = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
  return codes;
}

/** One automaton for every alias of every term of a config; compile once, match many. */
export class Matcher {
  private readonly automaton: Automaton;
  private readonly patterns: Pattern[] = [];
  /** Family number of each term; EXCLUSION and EXCLUDE are special. */
  private readonly family: Int32Array;
  private readonly familyCount: number;
  readonly patternCount: number;

  constructor(readonly terms: readonly Term[], aliasesOf: (termIndex: number) => readonly string[]) {
    const keys: Uint16Array[] = [];
    const seen = new Set<string>();
    terms.forEach((_, termIndex) => {
      for (const alias of aliasesOf(termIndex)) {
        for (const form of aliasForms(alias)) {
          const key = `${termIndex}\u0000${form.lower}\u0000${form.cased ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const edges = cjkEdges(form.lower);
          keys.push(toCodes(form.lower));
          this.patterns.push({
            term: termIndex,
            length: form.lower.length,
            cased: form.cased ? toCodes(form.cased) : undefined,
            cjkStart: edges.start,
            cjkEnd: edges.end,
          });
        }
      }
    });
    this.patternCount = keys.length;
    this.automaton = new Automaton(keys);
    const ids = new Map<string, number>([
      ['exclusion', EXCLUSION],
      ['exclude', EXCLUDE],
    ]);
    this.family = Int32Array.from(terms, (t) => {
      const name = familyOf(t);
      let id = ids.get(name);
      if (id === undefined) ids.set(name, (id = ids.size));
      return id;
    });
    this.familyCount = ids.size;
  }

  /** Every valid occurrence (word boundaries, case) after exclusions and longest-match resolution within families. */
  find(text: NormalizedText): Hit[] {
    const raw: Hit[] = [];
    const { lower, cased, length } = text;
    const patterns = this.patterns;
    this.automaton.scan(lower, length, (id, end) => {
      const p = patterns[id];
      const start = end - p.length;
      if (!p.cjkStart && start > 0 && lower[start - 1] !== SPACE && !isCjk(lower[start - 1])) return;
      if (!p.cjkEnd && end < length && lower[end] !== SPACE && !isCjk(lower[end])) return;
      if (p.cased) {
        for (let k = 0; k < p.length; k++) if (cased[start + k] !== p.cased[k]) return;
      }
      raw.push({ term: p.term, start, end });
    });
    return raw.length <= 1 ? raw : this.resolve(raw);
  }

  private resolve(raw: Hit[]): Hit[] {
    const { family } = this;
    // Identical hits (one term reached through two aliases) collapse to one.
    raw.sort((a, b) => a.start - b.start || a.end - b.end || a.term - b.term);
    const hits: Hit[] = [];
    const exclusions: Hit[] = [];
    for (const hit of raw) {
      const last = hits[hits.length - 1];
      if (last && last.start === hit.start && last.end === hit.end && last.term === hit.term) continue;
      hits.push(hit);
      if (family[hit.term] === EXCLUSION) exclusions.push(hit);
    }

    // Longest first; within a family a hit that overlaps a longer one is dropped. Families hold a few hits each, so
    // comparing with the ones kept beats marking every covered position.
    const byLength = hits.slice().sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
    const keptBy: Hit[][] = new Array(this.familyCount);
    const kept: Hit[] = [];
    for (const hit of byLength) {
      const f = family[hit.term];
      if (f === EXCLUSION || f === EXCLUDE) {
        kept.push(hit);
        continue;
      }
      if (exclusions.length && overlapsAny(exclusions, hit, false)) continue;
      const mine = (keptBy[f] ??= []);
      // Two terms on exactly the same words (a keyword that is also a material) both stand.
      if (overlapsAny(mine, hit, true)) continue;
      mine.push(hit);
      kept.push(hit);
    }
    return kept.sort((a, b) => a.start - b.start || a.end - b.end || a.term - b.term);
  }
}

/** Whether hit overlaps one of list (optionally not counting a hit on exactly the same span). */
function overlapsAny(list: Hit[], hit: Hit, allowSameSpan: boolean): boolean {
  for (let i = 0; i < list.length; i++) {
    const k = list[i];
    if (k.start < hit.end && hit.start < k.end && !(allowSameSpan && k.start === hit.start && k.end === hit.end)) return true;
  }
  return false;
}
