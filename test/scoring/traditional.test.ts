import { describe, expect, it } from 'vitest';
import { asSimplifiedChinese } from '../../src/scoring/traditional.js';

describe('Traditional Chinese read as Simplified', () => {
  it("converts Taiwan's and Hong Kong's characters and words", () => {
    expect(asSimplifiedChinese('經濟部將十家晶片業者列入出口管制實體名單')).toBe('经济部将十家芯片业者列入出口管制实体名单');
    expect(asSimplifiedChinese('中國宣布暫停鎵、鍺出口')).toBe('中国宣布暂停镓、锗出口');
  });

  it('leaves Simplified Chinese as it is', () => {
    expect(asSimplifiedChinese('中国宣布暂停镓、锗对美出口')).toBe('中国宣布暂停镓、锗对美出口');
  });

  it('leaves Japanese and Korean alone: their kanji and hanja are the lexicon’s Japanese and Korean terms', () => {
    expect(asSimplifiedChinese('中国、半導体製造装置の輸出規制を強化')).toBe('中国、半導体製造装置の輸出規制を強化');
    expect(asSimplifiedChinese('삼성電子 반도체 수출 규제')).toBe('삼성電子 반도체 수출 규제');
  });

  it('leaves text without Chinese characters as it is, the same string', () => {
    const english = 'China halts gallium exports';
    expect(asSimplifiedChinese(english)).toBe(english);
  });
});
