import { describe, expect, it } from 'vitest';
import type { ScreeningEntry } from '../../src/items/item.js';
import { createScorer } from '../../src/scoring/index.js';
import { companyCoreName, companyFullName, namesSupplier, supplierForms } from '../../src/scoring/suppliers.js';
import { assessFor, configWith, item } from './helpers.js';

describe('supplier names', () => {
  it('reduce to what a headline says: no legal form, no parentheses, no trailing descriptors', () => {
    expect(companyCoreName('China Northern Rare Earth (Group) High-Tech Co., Ltd.')).toBe('china northern rare earth');
    expect(companyFullName('China Northern Rare Earth (Group) High-Tech Co., Ltd.')).toBe('china northern rare earth group high tech');
    expect(companyCoreName('Nexperia B.V.')).toBe('nexperia');
    expect(companyCoreName('Micron Technology, Inc.')).toBe('micron');
    expect(companyCoreName('Lynas Rare Earths Ltd')).toBe('lynas rare earths');
    expect(companyCoreName('Shenghe Resources Holding Co., Ltd.')).toBe('shenghe');
  });

  it('keep a distinctive core rather than strip a name to a generic word', () => {
    expect(companyCoreName('Global Technologies Inc.')).toBe('global technologies');
    expect(companyCoreName('Apex International Corp')).toBe('apex international');
  });

  it('are recognised in a screening-list name whatever its punctuation and legal form', () => {
    const forms = supplierForms('China Northern Rare Earth (Group) High-Tech Co., Ltd.');
    expect(namesSupplier('CHINA NORTHERN RARE EARTH (GROUP) HIGH-TECH CO LTD', forms)).toBe(true);
    expect(namesSupplier('Inner Mongolia China Northern Rare Earth Group', forms)).toBe(true);
    expect(namesSupplier('China Southern Rare Earth Group', forms)).toBe(false);
  });
});

describe('watched suppliers in news and on screening lists', () => {
  const config = configWith(`watchlists:
  - id: magnets
    materials: [rare-earths]
    suppliers:
      - "China Northern Rare Earth (Group) High-Tech Co., Ltd."
      - { name: "Acme Magnetics GmbH", aliases: [Acme Mag] }
`);
  const scorer = createScorer(config);
  const screening = (name: string, altNames: string[] = []): ScreeningEntry => ({
    name,
    altNames,
    list: 'Entity List (EL) - Bureau of Industry and Security',
    addresses: [],
    countries: ['CN'],
    startDate: '2025-10-08',
    change: 'added',
  });

  it('are matched in text by their core name, with the supplier as the watched entity', () => {
    const a = assessFor(scorer, 'magnets', item('Fire halts production at China Northern Rare Earth smelter'));
    expect(a.level).not.toBe('none');
    expect(a.entities).toContain('china-northern-rare-earth');
    expect(a.matches).toEqual(expect.arrayContaining([expect.objectContaining({ category: 'supplier', term: 'China Northern Rare Earth' })]));
  });

  it('make a screening-list entry naming them critical, with the list named in the explanation', () => {
    const entry = item('Entity List addition: ACME MAGNETICS', '', { screening: screening('ACME MAGNETICS GMBH', ['Acme Mag Co.']) });
    const a = assessFor(scorer, 'magnets', entry);
    expect(a.level).toBe('critical');
    expect(a.direction).toBe('escalation');
    expect(a.why).toBe('Entity List (EL) - Bureau of Industry and Security adds watched supplier Acme Magnetics GmbH ("ACME MAGNETICS GMBH") — official screening list');
  });

  it('recognise a screening entry by one of its alternative names', () => {
    const a = assessFor(scorer, 'magnets', item('Entity List addition', '', { screening: screening('Baotou Steel Rare Earth Holding', ['China Northern Rare Earth High-Tech Co., Ltd.']) }));
    expect(a.level).toBe('critical');
  });

  it('make a screening entry naming a known maker of watched goods high, though not a named supplier', () => {
    const a = assessFor(scorer, 'magnets', item('Entity List addition', '', { screening: screening('Shenghe Resources Holding Co., Ltd.') }));
    expect(a.level).toBe('high');
    expect(a.why).toMatch(/adds Shenghe Resources \("Shenghe Resources Holding Co\., Ltd\."\), a maker of watched goods — official screening list$/);
  });

  it('do not make an unrelated screening entry critical', () => {
    const a = assessFor(scorer, 'magnets', item('Entity List addition: Example Trading LLC', '', { screening: screening('Example Trading LLC') }));
    expect(a.level).toBe('none');
  });
});

describe('a company whose name only begins like a watched supplier', () => {
  const scorer = createScorer(
    configWith(`watchlists:
  - { id: magnets, materials: [rare-earths], suppliers: [China Rare Earth Group] }
  - { id: memory, products: [memory], suppliers: ["Micron Technology, Inc."] }
`),
  );
  const suppliersIn = (a: ReturnType<typeof assessFor>) => a.matches.filter((m) => m.category === 'supplier').map((m) => m.term);

  it('is not the watched supplier: "China Rare Earth Holdings" is not "China Rare Earth Group"', () => {
    const a = assessFor(scorer, 'magnets', item('China Rare Earth Holdings shuts smelter after fire'));
    expect(a.entities).not.toContain('china-rare-earth-group');
    expect(suppliersIn(a)).toEqual([]);
  });

  it('is not the watched supplier: "Micron Instruments" is not Micron', () => {
    const a = assessFor(scorer, 'memory', item('Micron Instruments hit by fire at sensor plant'));
    expect(a.entities).not.toContain('micron');
    expect(a.level).toBe('none');
  });

  it('is not the watched supplier, nor a known maker of watched goods, on a screening list', () => {
    const unwatched = createScorer(configWith('watchlists:\n  - { id: magnets, materials: [rare-earths] }\n'));
    const listed = (s: typeof scorer, name: string) => {
      const screening: ScreeningEntry = { name, altNames: [], list: 'Entity List (EL)', addresses: [], countries: ['CN'], startDate: '2025-10-08', change: 'added' };
      return assessFor(s, 'magnets', item('Entity List addition', '', { screening })).level;
    };
    expect(listed(scorer, 'China Rare Earth Holdings Limited')).toBe('none');
    expect(listed(unwatched, 'China Rare Earth Holdings Limited')).toBe('none');
    expect(listed(scorer, 'China Rare Earth Group Co., Ltd.')).toBe('critical');
    expect(listed(unwatched, 'China Rare Earth Group Co., Ltd.')).toBe('high');
  });

  it('leaves the watched supplier matched with its legal suffix, without it, or followed by ordinary words', () => {
    for (const title of ['China Rare Earth Group shuts smelter after fire', 'China Rare Earth shuts smelter after fire', 'China Rare Earth Group Co., Ltd. shuts smelter after fire']) {
      expect(assessFor(scorer, 'magnets', item(title)).entities, title).toContain('china-rare-earth-group');
    }
    for (const title of ['Micron Technology Inc. hit by fire at plant', 'Micron hit by fire at plant', 'Micron Technologies hit by fire at plant', 'Micron memory plant hit by fire']) {
      const a = assessFor(scorer, 'memory', item(title));
      expect(a.entities, title).toContain('micron');
      expect(a.level, title).not.toBe('none');
    }
  });

  it('is the watched supplier when punctuation separates its name from the next word', () => {
    for (const title of ['China sanctions Micron; Medical device makers spared', 'China bans Micron, Solutions sought by buyers']) {
      expect(assessFor(scorer, 'memory', item(title)).entities, title).toContain('micron');
    }
  });
});
