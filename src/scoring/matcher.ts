import { aliasForms, cjkEdges, splitAlias } from './alias.js';
import { Automaton } from './automaton.js';
import { isCjk, type NormalizedText, SPACE } from './normalize.js';
import { type Half, type Joined, joinHalves } from './split.js';

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
  /** Words that, right after a match, make it part of a longer name ("Micron" in "Micron Instruments"). */
  notBefore?: ReadonlySet<string>;
  /** An action that only escalates ("impose", 实施): it does not break a split signal it stands inside. */
  escalates?: boolean;
  /** A signal whose split aliases join only around a company's name ("blocks [Nvidia H20] sales to China"). */
  namesCompany?: boolean;
}

/** A term found in a normalised text (positions are in normalised code units, end exclusive). */
export interface Hit {
  term: number;
  start: number;
  end: number;
  /**
   * A joined split alias: the hits of its family its tail displaced ("orders units to [halt] [exporting]"). When the
   * analysis finds the split signal does not hold (no state leads it), they are read again, the head left out.
   */
  displaced?: Hit[];
}

/**
 * The patterns, one entry per form, as parallel typed arrays rather than an object each: a lexicon compiles to tens of
 * thousands of forms, and a worker keeps them for its life (objects cost ~1.3 MB of heap for the default lexicon).
 */
interface Patterns {
  term: Int32Array;
  length: Int32Array;
  /** CJK_START, CJK_END, HEAD (the head half of a split alias). */
  flags: Uint8Array;
  /** The split alias whose half this is, or -1. */
  split: Int32Array;
  /** The form as written, for the few patterns matched case-sensitively (sparse). */
  cased: Map<number, Uint16Array>;
}
const CJK_START = 1;
const CJK_END = 2;
const HEAD = 4;

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
// A lifting verb right before the tail of a split signal takes the tail as its object ("出口[暂停]管制", "出口[解除]管制",
// "出口[暂停实施]管制"): it stays a hit of its own inside the joined signal, which it then acts on. Normalised code units
// between the verb and the tail: room for one two-character verb it governs (实施).
const LIFT_BEFORE_TAIL = 2;

function toCodes(text: string): Uint16Array {
  const codes = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = text.charCodeAt(i);
  return codes;
}

/** One automaton for every alias of every term of a config; compile once, match many. */
export class Matcher {
  private readonly automaton: Automaton;
  private readonly patterns: Patterns;
  /** Words after a name that make it part of another company's name, by term (see Term.notBefore), if any. */
  private readonly notBefore: Array<ReadonlySet<string> | undefined>;
  /** Term of each split alias. */
  private readonly splitTerm: number[] = [];
  /** Family number of each term; EXCLUSION and EXCLUDE are special. */
  private readonly family: Int32Array;
  private readonly familyCount: number;
  readonly patternCount: number;

  constructor(readonly terms: readonly Term[], aliasesOf: (termIndex: number) => readonly string[]) {
    const keys: Uint16Array[] = [];
    const seen = new Set<string>();
    const term: number[] = [];
    const length: number[] = [];
    const flags: number[] = [];
    const splitOf: number[] = [];
    const cased = new Map<number, Uint16Array>();
    const add = (termIndex: number, alias: string, split?: number, head?: boolean) => {
      for (const form of aliasForms(alias)) {
        const key = `${termIndex}\u0000${form.lower}\u0000${form.cased ?? ''}\u0000${split ?? ''}\u0000${head ?? ''}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const edges = cjkEdges(form.lower);
        if (form.cased) cased.set(keys.length, toCodes(form.cased));
        keys.push(toCodes(form.lower));
        term.push(termIndex);
        length.push(form.lower.length);
        flags.push((edges.start ? CJK_START : 0) | (edges.end ? CJK_END : 0) | (head ? HEAD : 0));
        splitOf.push(split ?? -1);
      }
    };
    terms.forEach((_, termIndex) => {
      for (const alias of aliasesOf(termIndex)) {
        const halves = splitAlias(alias);
        if (!halves) {
          add(termIndex, alias);
          continue;
        }
        const split = this.splitTerm.push(termIndex) - 1;
        add(termIndex, halves[0], split, true);
        add(termIndex, halves[1], split, false);
      }
    });
    this.patternCount = keys.length;
    this.automaton = new Automaton(keys);
    this.patterns = { term: Int32Array.from(term), length: Int32Array.from(length), flags: Uint8Array.from(flags), split: Int32Array.from(splitOf), cased };
    this.notBefore = terms.map((t) => (t.notBefore?.size ? t.notBefore : undefined));
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

  /**
   * Every valid occurrence (word boundaries, case) after exclusions and longest-match resolution within families.
   * With the original text of the field, split aliases are not joined across a comma, colon or semicolon.
   */
  find(text: NormalizedText, source?: string): Hit[] {
    let raw: Hit[] = [];
    const { lower, cased, length } = text;
    const { term: termOf, length: lengthOf, flags: flagsOf, split: splitOf, cased: casedOf } = this.patterns;
    const notBeforeOf = this.notBefore;
    const family = this.family;
    // Decided on the first case-sensitive exclusion only: most fields have none, and the check reads the whole field.
    let caseless: boolean | undefined;
    let halves: Half[] | undefined;
    let otherNames: Set<number> | undefined;
    const termCount = this.terms.length;
    this.automaton.scan(lower, length, (id, end) => {
      const patternLength = lengthOf[id];
      const f = flagsOf[id];
      const t = termOf[id];
      const start = end - patternLength;
      if (!(f & CJK_START) && start > 0 && lower[start - 1] !== SPACE && !isCjk(lower[start - 1])) return;
      if (!(f & CJK_END) && end < length && lower[end] !== SPACE && !isCjk(lower[end])) return;
      const asWritten = casedOf.size ? casedOf.get(id) : undefined;
      if (asWritten) {
        for (let k = 0; k < patternLength; k++) if (cased[start + k] !== asWritten[k]) return;
        // An exclusion silences other words, so it must be sure of itself: in a field without letter case "CHIP" may
        // be the programme or a chip, and it stands down. Acronyms of entities ("US", "TSMC", "BIS") still match there:
        // in capitals they are nearly always what they name, and dropping them loses more than it saves.
        if (family[t] === EXCLUSION || family[t] === EXCLUDE) {
          caseless ??= isShouting(cased, length);
          if (caseless) return;
        }
      }
      const notBefore = notBeforeOf[t];
      if (notBefore && end < length && notBefore.has(wordAfter(lower, end, length)) && joinsNext(text, source, end)) {
        (otherNames ??= new Set()).add(start * termCount + t);
        return;
      }
      const split = splitOf[id];
      if (split < 0) raw.push({ term: t, start, end });
      else (halves ??= []).push({ split, head: (f & HEAD) !== 0, start, end });
    });
    // A shorter form of the same name inside another company's name goes too ("Micron" in "Micron Technology Instruments").
    if (otherNames) raw = raw.filter((h) => !otherNames!.has(h.start * termCount + h.term));
    const joined = halves ? joinHalves(halves, text, source) : [];
    if (joined.length === 0) return raw.length <= 1 ? raw : this.resolve(raw).kept;
    return this.addJoined(this.resolve(raw), joined);
  }

  /**
   * Adds the joined split aliases to hits already resolved. A joined match spans the words between its halves, which
   * may hold a stronger signal or a lifting verb ("出口禁令并加强管制", "出口解除管制"): so it is dropped when any hit of its
   * family stands between its halves, it competes by the length of its halves rather than of its span, and only an
   * exclusion on one of its halves silences it ("禁止[模拟]芯片出口"). A lifting verb right before the tail is the
   * exception: the join stands and so does the verb inside it, which the analysis reads as acting on it.
   */
  private addJoined(resolved: { kept: Hit[]; keptBy: Hit[][]; excluded: (hit: Hit) => boolean }, joined: readonly Joined[]): Hit[] {
    const { kept, keptBy, excluded } = resolved;
    const family = this.family;
    const dropped = new Set<Hit>();
    const added: Hit[] = [];
    // Joined matches come in order of end: one overlaps an earlier one of its family only if it overlaps the last.
    const lastEnd = new Map<number, number>();
    // Of two joins ending on the same words, the nearer head governs them ("blocks US from [barring chip sales to]"):
    // it goes first, and the outer join then overlaps it.
    if (joined.length > 1) joined = joined.slice().sort((a, b) => a.end - b.end || b.start - a.start);
    for (const j of joined) {
      const term = this.splitTerm[j.split];
      const f = family[term];
      if ((lastEnd.get(f) ?? -1) > j.start) continue;
      if (excluded({ term, start: j.start, end: j.headEnd }) || excluded({ term, start: j.tailStart, end: j.end })) continue;
      if (this.terms[term].namesCompany && !this.companyWithin(kept, j.headEnd, j.tailStart)) continue;
      const rivals = overlapping(keptBy[f] ?? NO_HITS, j.start, j.end);
      const length = j.headEnd - j.start + (j.end - j.tailStart);
      const liftsTail = (h: Hit) =>
        h.start >= j.headEnd &&
        h.end <= j.tailStart &&
        j.tailStart - h.end <= LIFT_BEFORE_TAIL &&
        this.terms[h.term].kind === 'action' &&
        !this.terms[h.term].escalates;
      // Within the gap: another signal, or a verb that may lift it. On a half: a rival as long or longer ("出口禁令"
      // over "出口…管制").
      const beaten = rivals.some(
        (h) =>
          !dropped.has(h) &&
          ((h.start < j.tailStart && h.end > j.headEnd && !this.terms[h.term].escalates && !liftsTail(h)) || h.end - h.start >= length),
      );
      if (beaten) continue;
      let displaced: Hit[] | undefined;
      for (const h of rivals) {
        if (liftsTail(h)) continue;
        dropped.add(h);
        // Only what its tail displaced is read again: the head is the verb whose reading failed ("bans [sellers] from
        // selling" must not become a bare "bans"), the tail a clause of its own ("to [halt] [exporting]").
        if (h.start >= j.tailStart) (displaced ??= []).unshift(h);
      }
      lastEnd.set(f, j.end);
      added.push({ term, start: j.start, end: j.end, displaced });
    }
    if (added.length === 0) return kept;
    // Both lists are in order of position: merge rather than sort again (a long text has thousands of hits).
    added.sort(byPosition);
    const out: Hit[] = [];
    let k = 0;
    for (const h of kept) {
      if (dropped.has(h)) continue;
      while (k < added.length && byPosition(added[k], h) < 0) out.push(added[k++]);
      out.push(h);
    }
    while (k < added.length) out.push(added[k++]);
    return out;
  }

  /** Whether a company or a watched supplier is named within [start, end) of a field's kept hits (sorted by start). */
  private companyWithin(kept: readonly Hit[], start: number, end: number): boolean {
    // From the first hit at or after start: a long text may repeat the split alias many times.
    for (let i = firstStartingFrom(kept, start); i < kept.length && kept[i].start < end; i++) {
      const kind = this.terms[kept[i].term].kind;
      if (kept[i].end <= end && (kind === 'company' || kind === 'supplier')) return true;
    }
    return false;
  }

  private resolve(raw: Hit[]): { kept: Hit[]; keptBy: Hit[][]; excluded: (hit: Hit) => boolean } {
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

    // Longest first; within a family a hit that overlaps a longer one is dropped. The hits kept in a family never
    // overlap one another (bar identical spans), so kept in order of position they are checked by a binary search: a
    // text repeating one term thousands of times stays linear.
    const byLength = hits.slice().sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
    const keptBy: Hit[][] = new Array(this.familyCount);
    const kept: Hit[] = [];
    const excluded = exclusionCover(exclusions);
    for (const hit of byLength) {
      const f = family[hit.term];
      if (f === EXCLUSION || f === EXCLUDE) {
        kept.push(hit);
        continue;
      }
      if (excluded(hit)) continue;
      const mine = (keptBy[f] ??= []);
      // Two terms on exactly the same words (a keyword that is also a material) both stand.
      const at = overlapsKept(mine, hit);
      if (at < 0) continue;
      mine.splice(at, 0, hit);
      kept.push(hit);
    }
    kept.sort((a, b) => a.start - b.start || a.end - b.end || a.term - b.term);
    return { kept, keptBy, excluded };
  }
}

/** The hits with each of the given joined split aliases replaced by the hits it displaced, in order of position. */
export function withDisplaced(hits: readonly Hit[], joined: ReadonlySet<Hit>): Hit[] {
  const out: Hit[] = [];
  for (const h of hits) {
    if (joined.has(h)) out.push(...h.displaced!);
    else out.push(h);
  }
  // The displaced hits follow the words inside the joined span ("orders [Nvidia] to halt exporting"): sort again.
  return out.sort(byPosition);
}

function byPosition(a: Hit, b: Hit): number {
  return a.start - b.start || a.end - b.end || a.term - b.term;
}

const NO_HITS: Hit[] = [];

/** The hits of a family's kept list (sorted by start, pairwise disjoint or identical) that overlap [start, end). */
function overlapping(list: Hit[], start: number, end: number): Hit[] {
  const out: Hit[] = [];
  for (let j = firstStartingFrom(list, end) - 1; j >= 0 && list[j].end > start; j--) out.push(list[j]);
  return out;
}

/** The index of the first span (of a list sorted by start) that starts at or after `at`; the list's length if none. */
export function firstStartingFrom(list: readonly { start: number }[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].start < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether the word after a name continues it in the original text: only spaces or a hyphen between them ("Micron
 * Instruments"), not punctuation, which normalisation also turns into a space ("Micron; Medical device makers").
 */
function joinsNext(text: NormalizedText, source: string | undefined, end: number): boolean {
  if (source === undefined || end + 1 >= text.length) return true;
  return /^[\s-]*$/.test(source.slice(text.origin[end - 1] + 1, text.origin[end + 1]));
}

/** The word that follows a space at position (empty when none); only long enough to compare with a short word. */
function wordAfter(lower: Uint16Array, position: number, length: number): string {
  if (lower[position] !== SPACE) return '';
  let word = '';
  for (let i = position + 1; i < length && lower[i] !== SPACE && word.length < 24; i++) word += String.fromCharCode(lower[i]);
  return word;
}

/**
 * Whether a field is written in capitals throughout (a shouting headline): there letter case says nothing, so a term
 * that is told apart from a common word by its case ("CHIP" the programme, not "chip") cannot be recognised by it.
 */
function isShouting(cased: Uint16Array, length: number): boolean {
  let upper = 0;
  let lower = 0;
  for (let i = 0; i < length; i++) {
    const c = cased[i];
    if (c >= 0x41 && c <= 0x5a) upper++;
    else if (c >= 0x61 && c <= 0x7a) lower++;
    else if (c >= 0x80) {
      const ch = String.fromCharCode(c);
      const up = ch.toUpperCase();
      const low = ch.toLowerCase();
      if (up === low) continue;
      if (ch === up) upper++;
      else lower++;
    }
  }
  // A stray lowercase letter ("McDONALD'S", "iPHONE") does not make a headline ordinary text.
  return upper >= 8 && lower * 10 <= upper;
}

/**
 * Where hit goes in a family's kept hits (sorted by start, pairwise disjoint or identical), or -1 when it overlaps one
 * of them other than on exactly the same span.
 */
function overlapsKept(list: Hit[], hit: Hit): number {
  // The first kept hit that starts at or after hit.end: only those before it can overlap.
  const lo = firstStartingFrom(list, hit.end);
  // Disjoint hits sorted by start are sorted by end too: walk back until one ends before hit starts.
  for (let j = lo - 1; j >= 0 && list[j].end > hit.start; j--) {
    if (list[j].start !== hit.start || list[j].end !== hit.end) return -1;
  }
  return lo;
}

/** A test of whether a hit overlaps one of the exclusions (which may overlap one another). */
function exclusionCover(exclusions: Hit[]): (hit: Hit) => boolean {
  if (exclusions.length === 0) return () => false;
  if (exclusions.length <= 8) {
    return (hit) => exclusions.some((k) => k.start < hit.end && hit.start < k.end);
  }
  // Many exclusions: mark the covered positions once, so each test costs the hit's length.
  let end = 0;
  for (const k of exclusions) end = Math.max(end, k.end);
  const covered = new Uint8Array(end);
  for (const k of exclusions) covered.fill(1, k.start, k.end);
  return (hit) => {
    for (let i = hit.start; i < Math.min(hit.end, end); i++) if (covered[i]) return true;
    return false;
  };
}
