import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { traditionalForms, ZH_HANT_FILE, zhHantLexiconYaml } from '../../scripts/zh-hant-lexicon-source.js';

describe('the Traditional Chinese forms of the lexicon', () => {
  it(`are committed in config/${ZH_HANT_FILE} as the other lexicon files make them (regenerate: npx tsx scripts/zh-hant-lexicon.ts)`, () => {
    expect(readFileSync(new URL(`../../config/${ZH_HANT_FILE}`, import.meta.url), 'utf8')).toBe(zhHantLexiconYaml());
  });

  it("are Taiwan's words and characters, and none for terms with kana or Hangul, or English ones", () => {
    expect(traditionalForms('芯片')).toEqual(['晶片']);
    expect(traditionalForms('实体清单')).toEqual(['實體清單']);
    expect(traditionalForms('輸出を規制')).toEqual([]);
    expect(traditionalForms('반도체')).toEqual([]);
    expect(traditionalForms('gallium')).toEqual([]);
  });
});
