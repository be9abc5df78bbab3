/**
 * Text normalisation shared by lexicon terms and item text, so that both meet in the same form: lowercase, diacritics
 * folded, full-width forms made ASCII, and every run of punctuation, hyphens or spaces collapsed to one space. That
 * single rule gives hyphen/space equivalence ("rare-earth" = "rare earth") and punctuation-insensitive company names
 * ("Co., Ltd." = "co ltd"). Works on UTF-16 code units so the automaton never builds strings on the hot path.
 */

export const SPACE = 0x20;

/** A normalised field with what the scorer needs to relate a match back to the text and to its neighbours. */
export interface NormalizedText {
  /** Lowercased, folded code units; one space between words. */
  lower: Uint16Array;
  /** Same code units before lowercasing (case-sensitive aliases compare against this). */
  cased: Uint16Array;
  length: number;
  /** Index in the original string of each normalised unit. */
  origin: Int32Array;
  /** Position of the first unit of each word (each CJK character is a word of its own); see tokenAt. */
  tokenStarts: Int32Array;
  /** Position of the first unit of each sentence; see sentenceAt. */
  sentenceStarts: Int32Array;
  tokens: number;
  sentences: number;
}

function indexAt(starts: Int32Array, count: number, position: number): number {
  // The last start at or before the position (binary search: only matched positions are ever looked up).
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= position) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Word number of a normalised position. */
export function tokenAt(text: NormalizedText, position: number): number {
  return indexAt(text.tokenStarts, text.tokens, position);
}

/** Sentence number of a normalised position. */
export function sentenceAt(text: NormalizedText, position: number): number {
  return indexAt(text.sentenceStarts, text.sentences, position);
}

/** CJK scripts have no spaces between words, so terms in them match without word boundaries. */
export function isCjk(code: number): boolean {
  return (
    (code >= 0x3040 && code <= 0x30ff) || // kana
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xac00 && code <= 0xd7af) // Hangul syllables: particles attach to nouns ("희토류의")
  );
}

const WORD = /[\p{L}\p{N}]/u;
const MARKS = /\p{M}/gu;
// Symbols, superscripts and subscripts whose compatibility form is letters or digits ("™" -> "TM", "¹" -> "1", "½" ->
// "1⁄2", "ⁿ" -> "n"): a mark beside a word, not part of it, so they separate words instead of gluing onto them
// ("Nvidia™" is "nvidia", not "nvidiatm"). Modifier letters only in the superscript blocks: half-width "ｰ" is a letter.
const SYMBOL = /[\p{S}\p{No}\u02b0-\u02ff\u1d2c-\u1dbf\u2070-\u209f]/u;
// Folded form of each non-ASCII code unit: a list of (lower, cased) pairs; empty = drop (combining mark); [SPACE] = separator.
const foldCache = new Map<number, { lower: number[]; cased: number[] }>();

function fold(code: number): { lower: number[]; cased: number[] } {
  let folded = foldCache.get(code);
  if (folded) return folded;
  // A Hangul syllable stays whole. NFKD would split it into jamo, which are not CJK units: a particle attached to a term
  // ("갈륨을") would block the match, and a term ending in an open syllable would match the start of a closed one.
  if (code >= 0xac00 && code <= 0xd7a3) {
    folded = { lower: [code], cased: [code] };
    foldCache.set(code, folded);
    return folded;
  }
  const char = String.fromCharCode(code);
  if (SYMBOL.test(char)) {
    folded = { lower: [SPACE], cased: [SPACE] };
    foldCache.set(code, folded);
    return folded;
  }
  const decomposed = char.normalize('NFKD');
  const stripped = decomposed.replace(MARKS, '');
  folded = { lower: [], cased: [] };
  if (stripped.length === 0 && decomposed.length > 0) {
    foldCache.set(code, folded);
    return folded;
  }
  for (const ch of stripped) {
    if (!WORD.test(ch)) {
      folded.lower.push(SPACE);
      folded.cased.push(SPACE);
      continue;
    }
    const lower = ch.toLowerCase();
    for (let i = 0; i < ch.length; i++) {
      folded.cased.push(ch.charCodeAt(i));
      folded.lower.push(lower.length === ch.length ? lower.charCodeAt(i) : ch.charCodeAt(i));
    }
  }
  foldCache.set(code, folded);
  return folded;
}

// Words after which a full stop does not end a sentence ("U.S. Commerce", "Co. Ltd", "Dec. 21").
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'st', 'co', 'corp', 'inc', 'ltd', 'no', 'nos', 'vs', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul',
  'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'gov', 'govt', 'dept', 'gen', 'sen', 'rep', 'est', 'approx', 'fig', 'jr', 'sr',
  'bros', 'etc', 'al', 'op', 'art', 'sec', 'para', 'ft', 'mt', 'pt', 'pp', 'ed', 'intl',
]);
const SENTENCE_END = new Set([0x2e, 0x21, 0x3f, 0x3b, 0x3002, 0xff01, 0xff1f, 0xff1b, 0x0a]);

function isUpperAscii(code: number): boolean {
  return code >= 0x41 && code <= 0x5a;
}
// ASCII fast path: 0 = separator, otherwise the lowercase code.
const ASCII_LOWER = new Uint16Array(128);
for (let c = 0x30; c <= 0x39; c++) ASCII_LOWER[c] = c;
for (let c = 0x61; c <= 0x7a; c++) ASCII_LOWER[c] = c;
for (let c = 0x41; c <= 0x5a; c++) ASCII_LOWER[c] = c + 32;

// Spare room beyond the units still to write; sentence starts (one per unit read, plus the first) fit in it as well.
const SLACK = 16;

/** Buffers normalizeText may reuse between calls (the previous result is overwritten). */
export interface Scratch {
  lower: Uint16Array;
  cased: Uint16Array;
  origin: Int32Array;
  tokenStarts: Int32Array;
  sentenceStarts: Int32Array;
}

export function createScratch(capacity = 4096): Scratch {
  return {
    lower: new Uint16Array(capacity),
    cased: new Uint16Array(capacity),
    origin: new Int32Array(capacity),
    tokenStarts: new Int32Array(capacity),
    sentenceStarts: new Int32Array(capacity),
  };
}

/**
 * Normalises one field of text, keeping the mapping back to the original and the word and sentence numbering.
 * With a scratch, the result lives in the scratch's buffers (grown when needed) until the next call.
 */
export function normalizeText(text: string, scratch?: Scratch): NormalizedText {
  const n = text.length;
  // Invariant at the top of each step i: capacity >= len + (n - i) + SLACK. An ASCII unit writes at most one unit, so
  // it keeps the invariant without a check; a non-ASCII unit can fold into many ("™" -> "TM", "㎏" -> "kg",
  // "ﷺ" -> 18) and re-establishes it before writing. Overrunning would silently drop writes (typed arrays).
  const needed = n + SLACK;
  if (scratch && scratch.lower.length < needed) Object.assign(scratch, createScratch(needed * 2));
  const buffers = scratch ?? createScratch(needed);
  let capacity = buffers.lower.length;
  let { lower, cased, origin, tokenStarts, sentenceStarts } = buffers;
  let len = 0;
  let tokens = 0;
  let sentences = 1;
  sentenceStarts[0] = 0;
  let lastTokenStart = -1;
  // Whether the last emitted unit is a space (or nothing was emitted yet), and whether it is CJK.
  let afterSpace = true;
  let afterCjk = false;

  for (let i = 0; i < n; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      const low = ASCII_LOWER[code];
      if (low !== 0) {
        if (afterSpace || afterCjk) {
          tokenStarts[tokens++] = len;
          lastTokenStart = len;
        }
        lower[len] = low;
        cased[len] = code;
        origin[len] = i;
        len++;
        afterSpace = false;
        afterCjk = false;
        continue;
      }
      if (!afterSpace) {
        lower[len] = SPACE;
        cased[len] = SPACE;
        origin[len] = i;
        len++;
        afterSpace = true;
        afterCjk = false;
      }
      if ((code === 0x2e || code === 0x21 || code === 0x3f || code === 0x3b || code === 0x0a) && endsSentence(text, i, lower, lastTokenStart, len)) {
        sentenceStarts[sentences++] = len;
      }
      continue;
    }

    // Non-ASCII: fold (NFKD, no marks, lowercase); CJK characters are words of one character each.
    let lowers: number[];
    let caseds: number[];
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < n) {
      // A surrogate pair: keep letters (rare CJK extensions), drop symbols such as emoji.
      const pair = text.slice(i, i + 2);
      lowers = caseds = WORD.test(pair) ? [pair.charCodeAt(0), pair.charCodeAt(1)] : [SPACE];
      i++;
    } else {
      const folded = fold(code);
      lowers = folded.lower;
      caseds = folded.cased;
    }
    const at = code >= 0xdc00 && code <= 0xdfff ? i - 1 : i;
    // Room for this unit's folded form and, at one unit each, every unit still to come (see the invariant above).
    const required = len + lowers.length + (n - i - 1) + SLACK;
    if (required > capacity) {
      capacity = Math.max(capacity * 2, required);
      lower = grow(lower, capacity);
      cased = grow(cased, capacity);
      origin = grow(origin, capacity);
      tokenStarts = grow(tokenStarts, capacity);
      sentenceStarts = grow(sentenceStarts, capacity);
      if (scratch) Object.assign(scratch, { lower, cased, origin, tokenStarts, sentenceStarts });
    }
    for (let k = 0; k < lowers.length; k++) {
      const low = lowers[k];
      if (low === SPACE) {
        if (afterSpace) continue;
        lower[len] = SPACE;
        cased[len] = SPACE;
        afterSpace = true;
        afterCjk = false;
      } else {
        const cjk = isCjk(low);
        if (afterSpace || afterCjk || cjk) {
          tokenStarts[tokens++] = len;
          lastTokenStart = len;
        }
        lower[len] = low;
        cased[len] = caseds[k];
        afterSpace = false;
        afterCjk = cjk;
      }
      origin[len] = at;
      len++;
    }
    if (SENTENCE_END.has(code)) sentenceStarts[sentences++] = len;
  }
  // Drop a trailing space so matches never end on one.
  if (len > 0 && lower[len - 1] === SPACE) len--;
  if (tokens === 0) tokenStarts[tokens++] = 0;
  return { lower, cased, length: len, origin, tokenStarts, sentenceStarts, tokens, sentences };
}

function grow<T extends Uint16Array | Int32Array>(a: T, capacity: number): T {
  const b = new (a.constructor as new (size: number) => T)(capacity);
  b.set(a);
  return b;
}

function endsSentence(text: string, i: number, lower: Uint16Array, lastTokenStart: number, len: number): boolean {
  const code = text.charCodeAt(i);
  if (code === 0x0a || code === 0x21 || code === 0x3f || code === 0x3b) return true;
  // A full stop ends a sentence only before whitespace (or the end) followed by something that is not lowercase.
  let j = i + 1;
  if (j < text.length && !/[\s"'’”)\]]/.test(text[j])) return false;
  while (j < text.length && /[\s"'’”)\]]/.test(text[j])) j++;
  if (j < text.length) {
    const next = text.charCodeAt(j);
    if (next >= 0x61 && next <= 0x7a) return false;
  }
  if (lastTokenStart < 0) return true;
  // The word before the stop: single letters (U.S., J. Smith) and known abbreviations do not end a sentence.
  let end = len;
  while (end > lastTokenStart && lower[end - 1] === SPACE) end--;
  const wordLength = end - lastTokenStart;
  if (wordLength === 1 && isUpperAscii(text.charCodeAt(i - 1))) return false;
  if (wordLength <= 5) {
    let word = '';
    for (let k = lastTokenStart; k < end; k++) word += String.fromCharCode(lower[k]);
    if (ABBREVIATIONS.has(word)) return false;
  }
  return true;
}

/** Normalises a short string (a lexicon term, a company name) to its lowercase normal form. */
export function normalizeTerm(term: string): string {
  const n = normalizeText(term);
  let out = '';
  for (let i = 0; i < n.length; i++) out += String.fromCharCode(n.lower[i]);
  return out;
}

/** Like normalizeTerm but keeps letter case (for case-sensitive aliases). */
export function normalizeTermCased(term: string): string {
  const n = normalizeText(term);
  let out = '';
  for (let i = 0; i < n.length; i++) out += String.fromCharCode(n.cased[i]);
  return out;
}
