import { describe, expect, it } from 'vitest';
import { normalizeTerm, normalizeText, sentenceAt, tokenAt } from '../../src/scoring/normalize.js';

/** The sentences of a text, as normalised words. */
function sentences(text: string): string[] {
  const n = normalizeText(text);
  const out: string[] = [];
  for (let i = 0; i < n.length; i++) out[sentenceAt(n, i)] = (out[sentenceAt(n, i)] ?? '') + String.fromCharCode(n.lower[i]);
  return out.filter(Boolean).map((s) => s.trim());
}

describe('text normalisation', () => {
  it('lowercases, folds accents and collapses punctuation and hyphens to single spaces', () => {
    expect(normalizeTerm('  China Northern Rare-Earth (Group) Co., Ltd. ')).toBe('china northern rare earth group co ltd');
    expect(normalizeTerm('Détente — “Sino-US” ties')).toBe('detente sino us ties');
  });

  it('separates trademark signs, superscripts and fractions from the word they follow instead of folding them into it', () => {
    expect(normalizeTerm('Nvidia™ H20® gallium¹ x² H₂O 1½ tonnes ℠')).toBe('nvidia h20 gallium x h o 1 tonnes');
  });

  it('maps every normalised character back to the original text', () => {
    const text = 'Ｇallium — ﬁne';
    const n = normalizeText(text);
    const back = Array.from({ length: n.length }, (_, i) => text[n.origin[i]]);
    // "Ｇ" folds to "g", the dash to one space, and the ligature "ﬁ" to two letters that both point at it.
    expect(back.join('')).toBe('Ｇallium ﬁﬁne');
  });

  it('splits sentences at full stops, but not after abbreviations, initials or inside numbers', () => {
    expect(sentences('The U.S. Commerce Dept. acted on Dec. 21. China Northern Co. Ltd. said 5.5 tonnes. Prices rose! Why? 中国宣布。管制生效')).toEqual([
      'the u s commerce dept acted on dec 21',
      'china northern co ltd said 5 5 tonnes',
      'prices rose',
      'why',
      '中国宣布',
      '管制生效',
    ]);
  });

  it('keeps Hangul syllables whole, each a word, so that a particle after a term is a word of its own', () => {
    expect(normalizeTerm('희토류의 수출')).toBe('희토류의 수출');
    const n = normalizeText('희토류의');
    expect(n.tokens).toBe(4);
  });

  it('numbers words, each Chinese character counting as one', () => {
    const n = normalizeText('rare earth 稀土');
    expect(n.tokens).toBe(4);
    expect([0, 5, 11, 12].map((p) => tokenAt(n, p))).toEqual([0, 1, 2, 3]);
  });
});
