import { isCjk, normalizeTerm, normalizeTermCased } from './normalize.js';

/** One concrete form of an alias, ready for the automaton. */
export interface AliasForm {
  /** Normalised lowercase form. */
  lower: string;
  /** Normalised form with case, when the alias only matches as written (acronyms such as US, BIS, CHIP). */
  cased?: string;
}

export class AliasSyntaxError extends Error {}

/**
 * Joins the two halves of a split alias ("禁止…出口"): a few words may stand between them in one clause, as when
 * Chinese puts the goods between the verb and its noun ("禁止镓、锗出口") or Korean a particle ("수출을 금지").
 */
export const SPLIT = '…';

const MARKS = /^=?[~^]?/;

/** The two halves of a split alias, each with the alias's marks ("=", "~", "^"); undefined for an ordinary alias. */
export function splitAlias(alias: string): [string, string] | undefined {
  const text = alias.trim();
  const at = text.indexOf(SPLIT);
  if (at < 0) return undefined;
  const marks = MARKS.exec(text)![0];
  const head = text.slice(marks.length, at).trim();
  const tail = text.slice(at + SPLIT.length).trim();
  if (tail.includes(SPLIT)) throw new AliasSyntaxError(`more than one "${SPLIT}" in "${alias}"`);
  if (!head || !tail) throw new AliasSyntaxError(`"${SPLIT}" needs words on both sides in "${alias}"`);
  const open = head.lastIndexOf('{');
  if (open > head.lastIndexOf('}')) throw new AliasSyntaxError(`"${SPLIT}" inside braces in "${alias}"`);
  return [marks + head, marks + tail];
}

/** How an alias reads in an explanation or an entity list: no marks, the first of its alternatives. */
export function displayAlias(alias: string): string {
  return alias.trim().replace(MARKS, '').replace(/\{([^|}]*)[^}]*\}/g, '$1').replace(SPLIT, ' … ').replace(/\s+/g, ' ').trim();
}

/**
 * A watchlist keyword as an alias: any letter case unless marked "^" (or "~"), or written in capitals with at most
 * four letters ("TEL", "ARM", "TI"), which match as written and take no plural. A lexicon alias in capitals is taken
 * for an acronym and matched only in capitals; a longer keyword typed in capitals ("GALLIUM", "SAMARIUM") must not
 * silently stop matching the same word in ordinary text, so it opts in to letter case explicitly ("^GaN").
 */
export function keywordAlias(keyword: string): string {
  const text = keyword.trim();
  const exact = text.startsWith('=') ? '=' : '';
  const rest = text.slice(exact.length);
  if (rest.startsWith('^') || rest.startsWith('~')) return text;
  // A short acronym is a common word in any other case ("TEL" and Tel Aviv, "ARM" and arms, "TI" and Ti): as written,
  // and without a plural.
  if (isShortAcronym(rest)) return `=^${rest}`;
  return `${exact}~${rest}`;
}

const SHORT_ACRONYM = 4;

function isShortAcronym(text: string): boolean {
  const letters = text.match(/\p{L}/gu) ?? [];
  return letters.length <= SHORT_ACRONYM && isAcronym(text) && !/[{}|…]/.test(text);
}

/** Expands `{a|b}` alternatives: "{ban|bans} export" -> ["ban export", "bans export"]. */
export function expandAlternatives(alias: string): string[] {
  const open = alias.indexOf('{');
  if (open < 0) {
    if (alias.includes('}') || alias.includes('|')) throw new AliasSyntaxError(`unbalanced "}" or "|" outside braces in "${alias}"`);
    return [alias];
  }
  const close = alias.indexOf('}', open);
  if (close < 0) throw new AliasSyntaxError(`"{" without "}" in "${alias}"`);
  const inner = alias.slice(open + 1, close);
  if (inner.includes('{')) throw new AliasSyntaxError(`nested braces in "${alias}"`);
  const head = alias.slice(0, open);
  const rest = expandAlternatives(alias.slice(close + 1));
  const out: string[] = [];
  for (const option of inner.split('|')) for (const tail of rest) out.push(`${head}${option}${tail}`);
  return out;
}

const LATIN_WORD = /^[a-z]+$/;

/** English plural(s) of one lowercase word; empty when the word already looks plural or is not a Latin word. */
export function plurals(word: string): string[] {
  if (!LATIN_WORD.test(word) || word.length < 3) return [];
  if (/(ss|sh|ch|x|z)$/.test(word)) return [`${word}es`];
  if (/is$/.test(word)) return [`${word.slice(0, -2)}es`];
  if (/s$/.test(word)) return []; // already plural ("controls") or a mass noun ("gas")
  if (/[^aeiou]y$/.test(word)) return [`${word.slice(0, -1)}ies`];
  if (/[^aeiou]o$/.test(word)) return [`${word}s`, `${word}es`];
  return [`${word}s`];
}

function isAcronym(text: string): boolean {
  const letters = text.match(/\p{L}/gu) ?? [];
  return letters.length >= 2 && letters.every((l) => /\p{Lu}/u.test(l));
}

/**
 * Every form an alias matches: its alternatives, the plural of the last word, and the joined form of a two-word term
 * ("chip maker" -> "chipmaker"). Hyphens and punctuation are already equivalent to spaces after normalisation.
 */
export function aliasForms(alias: string): AliasForm[] {
  let forms = formsCache.get(alias);
  if (!forms) {
    forms = computeForms(alias);
    // Lexicons are compiled again on every config reload; the same aliases expand the same way.
    if (formsCache.size > 50_000) formsCache.clear();
    formsCache.set(alias, forms);
  }
  return forms;
}

const formsCache = new Map<string, AliasForm[]>();

function computeForms(alias: string): AliasForm[] {
  // A split alias matches the forms of its halves (the matcher joins them).
  const halves = splitAlias(alias);
  if (halves) {
    const head = aliasForms(halves[0]);
    const tail = aliasForms(halves[1]);
    return head.length && tail.length ? [...head, ...tail] : [];
  }
  let text = alias.trim();
  let exact = false;
  let anyCase = false;
  let asWritten = false;
  if (text.startsWith('=')) {
    exact = true;
    text = text.slice(1);
  }
  if (text.startsWith('~')) {
    anyCase = true;
    text = text.slice(1);
  } else if (text.startsWith('^')) {
    asWritten = true;
    text = text.slice(1);
  }
  const forms = new Map<string, AliasForm>();
  for (const option of expandAlternatives(text)) {
    const caseSensitive = asWritten || (!anyCase && isAcronym(option));
    const lower = normalizeTerm(option);
    if (!lower) continue;
    const cased = caseSensitive ? normalizeTermCased(option) : undefined;
    const add = (l: string, c?: string) => forms.set(`${l}\u0000${c ?? ''}`, { lower: l, cased: c });
    add(lower, cased);
    if (exact) continue;
    const words = lower.split(' ');
    const last = words[words.length - 1];
    const lastCased = cased?.split(' ').pop();
    if (caseSensitive) {
      // Acronyms take a lowercase "s" (GPUs, HBMs); two-letter ones (US, EU) would only produce noise.
      if (asWritten && lastCased) for (const p of plurals(last)) add(`${stemOf(lower)}${p}`, `${stemOf(cased!)}${casedPlural(lastCased, p)}`);
      else if (last.length >= 3 && lastCased) add(`${lower}s`, `${cased}s`);
      continue;
    }
    const stem = words.slice(0, -1).join(' ');
    const variants = [lower, ...plurals(last).map((p) => (stem ? `${stem} ${p}` : p))];
    if (words.length === 2 && words.every((w) => LATIN_WORD.test(w) && w.length >= 3)) {
      const joined = words.join('');
      variants.push(joined, ...plurals(words[1]).map((p) => `${words[0]}${p}`));
    }
    for (const v of variants) add(v);
  }
  return [...forms.values()];
}

function stemOf(text: string): string {
  const i = text.lastIndexOf(' ');
  return i < 0 ? '' : text.slice(0, i + 1);
}

/** Applies a lowercase plural to a cased word: ("Micron", "microns") -> "Microns". */
function casedPlural(word: string, plural: string): string {
  return word + plural.slice(word.length);
}

/** True when a term's first (or last) character is CJK: such terms need no word boundary on that side. */
export function cjkEdges(lower: string): { start: boolean; end: boolean } {
  return { start: isCjk(lower.charCodeAt(0)), end: isCjk(lower.charCodeAt(lower.length - 1)) };
}
