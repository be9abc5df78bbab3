import { lazyRequire } from '../lazy-require.js';

type Convert = (text: string) => string;

/**
 * OpenCC's Traditional-to-Simplified tables, with Taiwan's words for things (晶片 -> 芯片, 軟體 -> 软件): loaded on the
 * first Traditional Chinese text, so a worker that reads none never holds them (~3 MB of heap, ~14 MB of RSS).
 */
const openCC = lazyRequire<{ Converter(options: { from: 'twp'; to: 'cn' }): Convert }>('opencc-js/t2cn');
let convert: Convert | undefined;

const HAN = /\p{Script=Han}/u;
// Japanese and Korean text has its own kanji and hanja (輸出, 規制): converting them would unmake the lexicon's
// Japanese terms. Kana or Hangul anywhere in the field tells them apart.
const KANA_OR_HANGUL = /[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]/;

/**
 * The field as Simplified Chinese, which the lexicon's Chinese terms are written in: Taiwan's and Hong Kong's news
 * (經濟部將晶片業者列入實體名單) is then read as the mainland's is. Other text comes back as it is. The result may be
 * shorter ("部落格" -> "博客"): positions found in it refer to it, not to the original.
 */
export function asSimplifiedChinese(text: string): string {
  if (!HAN.test(text) || KANA_OR_HANGUL.test(text)) return text;
  convert ??= openCC().Converter({ from: 'twp', to: 'cn' });
  return convert(text);
}
