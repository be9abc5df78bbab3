import { type NormalizedText, sentenceAt, tokenAt } from './normalize.js';

/** A half of a split alias ("禁止…出口") found in a text: which split alias, which half, and where. */
export interface Half {
  split: number;
  head: boolean;
  start: number;
  end: number;
}

// Words a split alias may have between its halves ("禁止[镓、锗]出口", "禁止[向美国]出口", "수출[을 전면] 금지"): each CJK
// character is a word, and Chinese puts a whole list of goods and a destination there
// ("禁止[稀土、镓、锗等关键矿产向美国军工企业]出口", 16 characters). The matcher drops a joined match with another signal or
// verb between its halves, which keeps a long gap from reaching across to another statement.
const SPLIT_GAP = 18;
// English names what is barred right after the verb ("bars [AI chip] exports", "bars [Nvidia] from selling"): a few
// words, none of them opening another clause ("blocks deal as exports rise", "bars a trader after years of selling").
const LATIN_SPLIT_GAP = 4;
const LATIN_LETTER = /[a-z]/i;
const LATIN_CLAUSE = /\b(?:as|after|while|when|whereas|because|since|though|although|despite|before|until|once|but|amid|if)\b/i;
// Heads looked at for one tail: bounds the joining when a text repeats a head many times.
const SPLIT_LOOKBACK = 32;
// A comma, colon or semicolon between the halves starts another clause ("禁止外资进入，扩大镓出口"); the enumeration
// comma "、" does not ("禁止镓、锗出口").
const CLAUSE_MARK = /[,，:：;；]/;
// Chinese headlines separate clauses with a space ("中国扩大稀土出口 加强走私管制"); Korean spaces words, so only a space
// between two Han characters counts.
const HAN_SPACE = /\p{Script=Han}\s+\p{Script=Han}/u;
const SPACE = /\s/;
// Commas of a list of names between English halves join objects of one verb ("bars [Nvidia, AMD, Intel] from selling"):
// capitalised names only, so "bars sales, exports rise" stays two clauses.
const NAME = "[A-Z][\\w.&'-]*(?:\\s+[A-Z][\\w.&'-]*)*";
const NAME_LIST = new RegExp(`^\\s*${NAME}(?:\\s*,\\s*${NAME})+(?:,?\\s+and\\s+${NAME})?\\s*$`);

/** A joined split alias: its span, and where its head ends and its tail starts. */
export interface Joined {
  split: number;
  start: number;
  end: number;
  headEnd: number;
  tailStart: number;
}

/**
 * Joins each tail to the nearest head of the same split alias before it, within a few words of one clause, as one
 * match from the head's start to the tail's end. Halves must come in order of end, as the automaton reports them.
 * Without the field's original text (source), commas are not seen and do not separate.
 */
export function joinHalves(halves: readonly Half[], text: NormalizedText, source?: string): Joined[] {
  const joined: Joined[] = [];
  // In order of end, every head that ends before a tail starts has been seen when the tail comes.
  const heads: Half[] = [];
  for (const half of halves) {
    if (half.head) {
      heads.push(half);
      continue;
    }
    const tailToken = tokenAt(text, half.start);
    for (let k = heads.length - 1, looked = 0; k >= 0 && looked < SPLIT_LOOKBACK; k--, looked++) {
      const head = heads[k];
      if (head.end > half.start) continue;
      if (tailToken - tokenAt(text, head.end - 1) - 1 > SPLIT_GAP) break;
      if (head.split !== half.split) continue;
      if (sentenceAt(text, head.start) !== sentenceAt(text, half.start)) break;
      let names = false;
      if (source && LATIN_LETTER.test(source[text.origin[head.end - 1]])) {
        if (tailToken - tokenAt(text, head.end - 1) - 1 > LATIN_SPLIT_GAP) continue;
        const middle = source.slice(text.origin[head.end - 1] + 1, text.origin[half.start]);
        if (LATIN_CLAUSE.test(middle)) continue;
        names = NAME_LIST.test(middle);
      }
      if (source && !names) {
        // From the head's last character to the tail's first: both are letters, never a mark.
        const between = source.slice(text.origin[head.end - 1], text.origin[half.start] + 1);
        if (CLAUSE_MARK.test(between) || (SPACE.test(between) && HAN_SPACE.test(between))) break;
      }
      joined.push({ split: half.split, start: head.start, end: half.end, headEnd: head.end, tailStart: half.start });
      break;
    }
  }
  return joined;
}
