import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aliasForms, expandAlternatives, keywordAlias, plurals, splitAlias } from '../../src/scoring/alias.js';
import { Automaton } from '../../src/scoring/automaton.js';
import { type Hit, Matcher, type Term, withDisplaced } from '../../src/scoring/matcher.js';
import { normalizeText } from '../../src/scoring/normalize.js';

/** A matcher over a few terms; returns what it finds in `text` as "id=words as written". */
function finder(entries: Array<[Term['kind'], string, string[]]>, notBefore: Record<string, string[]> = {}) {
  const terms: Term[] = entries.map(([kind, id]) => ({ kind, id, scope: kind === 'keyword' ? 'w' : undefined, notBefore: notBefore[id] && new Set(notBefore[id]) }));
  const matcher = new Matcher(terms, (i) => entries[i][2]);
  return (text: string) => {
    const norm = normalizeText(text);
    return matcher.find(norm, text).map((hit) => {
      const from = norm.origin[hit.start];
      const to = norm.origin[hit.end - 1] + 1;
      return `${terms[hit.term].id}=${text.slice(from, to)}`;
    });
  };
}

describe('the automaton', () => {
  it('reports every occurrence, overlapping and nested, exactly as a naive search does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[abc]{1,4}$/), { minLength: 1, maxLength: 12 }),
        fc.stringMatching(/^[abcd]{0,60}$/),
        (patterns, text) => {
          const codes = (s: string) => Uint16Array.from(s, (c) => c.charCodeAt(0));
          const found: string[] = [];
          new Automaton(patterns.map(codes)).scan(codes(text), text.length, (id, end) => found.push(`${id}@${end}`));
          const expected: string[] = [];
          patterns.forEach((p, id) => {
            for (let i = text.indexOf(p); i >= 0; i = text.indexOf(p, i + 1)) expected.push(`${id}@${i + p.length}`);
          });
          expect(found.sort()).toEqual(expected.sort());
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the matcher', () => {
  const find = finder([
    ['material', 'tin', ['tin']],
    ['signal', 'ban', ['{ban|banned}']],
    ['material', 'rare-earths', ['rare earth']],
    ['material', 'rare-earth-magnets', ['rare earth magnet']],
    ['product', 'chips', ['chip', 'chip maker']],
    ['material', 'battery', ['battery']],
    ['signal', 'embargo', ['embargo']],
    ['country', 'US', ['US', 'U.S.']],
    ['company', 'micron', ['^Micron']],
    ['material', 'rare-earths-zh', ['稀土']],
    ['signal', 'export-control-zh', ['出口管制']],
    ['material', 'ndfeb', ['NdFeB']],
    ['signal', 'truce', ['détente']],
    ['exclusion', 'snack', ['potato chip', 'blue chip']],
    ['keyword', 'rare earth', ['rare earth']],
  ]);

  it('matches whole words only', () => {
    expect(find('Continuing talks on the urban banner')).toEqual([]);
    expect(find('Tin prices; a ban.')).toEqual(['tin=Tin', 'ban=ban']);
  });

  it('matches plurals of the last word and listed verb forms', () => {
    expect(find('Chips, batteries and embargoes')).toEqual(['chips=Chips', 'battery=batteries', 'embargo=embargoes']);
    expect(find('They banned it')).toEqual(['ban=banned']);
  });

  it('treats hyphens, dashes and runs of spaces as one space, and finds the joined form of two-word terms', () => {
    expect(find('rare-earth magnets')).toEqual(['rare earth=rare-earth', 'rare-earth-magnets=rare-earth magnets']);
    expect(find('rare–earth and rare   earth')).toEqual(['rare-earths=rare–earth', 'rare earth=rare–earth', 'rare-earths=rare   earth', 'rare earth=rare   earth']);
    expect(find('a chip-maker and chipmakers')).toEqual(['chips=chip-maker', 'chips=chipmakers']);
  });

  it('prefers the longest term among overlapping ones, but keeps a watchlist keyword on the same words', () => {
    expect(find('rare earth magnet exports')).toEqual(['rare earth=rare earth', 'rare-earth-magnets=rare earth magnet']);
  });

  it('finds Chinese terms without word boundaries, and Latin terms next to Chinese characters', () => {
    expect(find('商务部对稀土实施出口管制')).toEqual(['rare-earths-zh=稀土', 'export-control-zh=出口管制']);
    expect(find('钕铁硼NdFeB磁体')).toEqual(['ndfeb=NdFeB']);
  });

  it('matches acronyms and "^" terms only in the case written', () => {
    expect(find('Join us in the U.S. and the US')).toEqual(['US=U.S', 'US=US']);
    expect(find('a 5 micron filter from Micron')).toEqual(['micron=Micron']);
  });

  it('folds accents and full-width forms', () => {
    expect(find('a detente, then a DÉTENTE')).toEqual(['truce=detente', 'truce=DÉTENTE']);
    expect(find('ＣＨＩＰＳ')).toEqual(['chips=ＣＨＩＰＳ']);
  });

  it('silences every term an exclusion overlaps', () => {
    expect(find('potato chips and blue-chip stocks, not chips')).toEqual(['snack=potato chips', 'snack=blue-chip', 'chips=chips']);
  });
});

describe('the matcher on split aliases', () => {
  const find = finder([
    ['signal', 'export-ban', ['禁止出口', '{禁止|严禁}…出口', '수출…금지']],
    ['signal', 'flow', ['出口', '수출']],
    ['material', 'gallium', ['镓', '갈륨']],
  ]);

  it('joins head and tail with a few words between them into one hit that outranks the words inside', () => {
    expect(find('禁止镓、锗出口')).toEqual(['export-ban=禁止镓、锗出口', 'gallium=镓']);
    expect(find('严禁向美国出口镓')).toEqual(['export-ban=严禁向美国出口', 'gallium=镓']);
    expect(find('갈륨 수출을 전면 금지')).toEqual(['gallium=갈륨', 'export-ban=수출을 전면 금지']);
  });

  it('does not join across a comma, a colon or a sentence, nor over more than a short clause', () => {
    expect(find('禁止外资进入，扩大镓出口')).toEqual(['gallium=镓', 'flow=出口']);
    expect(find('禁止。镓出口')).toEqual(['gallium=镓', 'flow=出口']);
    expect(find('禁止一二三四五六七八九十一二三四五六七八九十出口')).toEqual(['flow=出口']);
  });

  it('joins a tail to the nearest head before it, once', () => {
    expect(find('禁止禁止镓出口')).toEqual(['export-ban=禁止镓出口', 'gallium=镓']);
  });
});

describe('the matcher on split aliases ending on the same words', () => {
  const find = finder([
    ['signal', 'export-block', ['{bar|barring}…sales to']],
    ['signal', 'sales-block', ['{block|blocks}…sales to']],
  ]);

  it('lets the nearer head take the words it governs', () => {
    expect(find('Court blocks US from barring chip sales to China')).toEqual(['export-block=barring chip sales to']);
    expect(find('US blocks chip sales to China')).toEqual(['sales-block=blocks chip sales to']);
  });
});

describe('the matcher on a verb between the halves of a split alias', () => {
  const terms: Array<[Term['kind'], string, string[]]> = [
    ['signal', 'export-control', ['出口…管制']],
    ['signal', 'flow', ['出口']],
    ['action', 'suspend', ['暂停']],
    ['action', 'impose', ['实施']],
    ['signal', 'smuggling', ['走私']],
  ];
  const find = (() => {
    const list: Term[] = terms.map(([kind, id]) => ({ kind, id, escalates: id === 'impose' }));
    const matcher = new Matcher(list, (i) => terms[i][2]);
    return (text: string) => matcher.find(normalizeText(text), text).map((hit) => `${list[hit.term].id}=${text.slice(hit.start, hit.end)}`);
  })();

  it('keeps the join and the lifting verb inside it when the verb stands right before the tail', () => {
    expect(find('镓出口暂停管制')).toEqual(['export-control=出口暂停管制', 'suspend=暂停']);
    expect(find('镓出口暂停实施管制')).toEqual(['export-control=出口暂停实施管制', 'suspend=暂停']);
  });

  it('drops the join when the lifting verb stands further from the tail, or another signal stands between', () => {
    expect(find('出口暂停后加强走私管制')).not.toContain('export-control=出口暂停后加强走私管制');
    expect(find('出口暂停三个月后管制')).toEqual(['flow=出口', 'suspend=暂停']);
  });
});

describe('the matcher on what a split alias displaces', () => {
  const terms: Term[] = [
    { kind: 'signal', id: 'stop-order' },
    { kind: 'action', id: 'halt' },
    { kind: 'signal', id: 'flow' },
    { kind: 'action', id: 'order' },
  ];
  const aliases = [['orders…to halt exporting'], ['halt'], ['exporting'], ['orders']];
  const matcher = new Matcher(terms, (i) => aliases[i]);
  const words = (text: string, hits: readonly Hit[]) => hits.map((h) => `${terms[h.term].id}=${text.slice(h.start, h.end)}`);

  it('keeps the hits its tail displaced, not its head, and gives them back in their place', () => {
    const text = 'shenghe orders its units to halt exporting rare earths';
    const hits = matcher.find(normalizeText(text), text);
    expect(words(text, hits)).toEqual(['stop-order=orders its units to halt exporting']);
    expect(words(text, hits[0].displaced!)).toEqual(['halt=halt', 'flow=exporting']);
    expect(words(text, withDisplaced(hits, new Set(hits)))).toEqual(['halt=halt', 'flow=exporting']);
  });
});

describe('the matcher on company names', () => {
  const find = finder([['company', 'micron', ['^Micron', 'Micron Technology']]], { micron: ['instruments'] });

  it('drops a name followed by a word that makes it another company\'s name', () => {
    expect(find('Micron Instruments and Micron memory')).toEqual(['micron=Micron']);
    expect(find('Micron Technology Instruments')).toEqual([]);
  });
});

describe('alias syntax', () => {
  it('expands alternatives, including an empty one', () => {
    expect(expandAlternatives('{ban|bans} {the |}export')).toEqual(['ban the export', 'ban export', 'bans the export', 'bans export']);
  });

  it('rejects unbalanced braces', () => {
    expect(() => expandAlternatives('{ban|bans export')).toThrow(/without "}"/);
    expect(() => expandAlternatives('ban|bans')).toThrow(/unbalanced/);
  });

  it('makes English plurals of the last word', () => {
    expect(plurals('chip')).toEqual(['chips']);
    expect(plurals('supply')).toEqual(['supplies']);
    expect(plurals('tax')).toEqual(['taxes']);
    expect(plurals('analysis')).toEqual(['analyses']);
    expect(plurals('controls')).toEqual([]);
  });

  it('matches "=" terms exactly as written, with no generated forms', () => {
    expect(aliasForms('=CHIP')).toEqual([{ lower: 'chip', cased: 'CHIP' }]);
  });

  it('splits an alias at "…" into two halves with the alias\'s marks, and rejects a split without two halves', () => {
    expect(splitAlias('^禁止…出口')).toEqual(['^禁止', '^出口']);
    expect(splitAlias('禁止出口')).toBeUndefined();
    expect(() => splitAlias('禁止…')).toThrow(/both sides/);
    expect(() => splitAlias('禁止…出口…')).toThrow(/more than one/);
    expect(() => splitAlias('{禁止…出口|严禁}')).toThrow(/inside braces/);
  });

  it('makes a watchlist keyword match in any case unless it is marked "^" or "~" or is capitals of up to four letters', () => {
    expect(keywordAlias('GALLIUM')).toBe('~GALLIUM');
    expect(keywordAlias('=REE')).toBe('=^REE');
    expect(keywordAlias('TEL')).toBe('=^TEL');
    expect(keywordAlias('Tel')).toBe('~Tel');
    expect(keywordAlias('^GaN')).toBe('^GaN');
  });
});
