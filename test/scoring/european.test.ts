import { describe, expect, it } from 'vitest';
import { LEVELS } from '../../src/scoring/types.js';
import { defaultScorer, item, top } from './helpers.js';

const scorer = defaultScorer();
const atLeast = (level: string, floor: string) => LEVELS.indexOf(level as never) >= LEVELS.indexOf(floor as never);

describe('German, French, Spanish, Italian and Dutch news (config/lexicon-translations-eu.yaml)', () => {
  it.each([
    ['de', 'Peking verhängt Exportverbot für Gallium und Germanium', 'Das chinesische Handelsministerium untersagt ab sofort alle Ausfuhren der beiden Metalle in die USA.'],
    ['de', 'Zulieferer stoppt die Produktion: Neodym-Magnete aus China bleiben aus', 'Wegen fehlender Ausfuhrgenehmigungen stehen zwei Werke still.'],
    ['fr', 'Terres rares : Pékin impose des licences d\'exportation pour sept métaux', 'Le ministère chinois du Commerce soumet désormais à licence les exportations de samarium et de dysprosium.'],
    ['fr', 'Nouvelle-Calédonie : l\'usine de nickel mise en sommeil', 'Faute de repreneur, le site cesse toute production de ferronickel.'],
    ['es', 'Washington añade a su lista negra al mayor refinador chino de galio', 'El Departamento de Comercio incluyó a la empresa en su Lista de Entidades.'],
    ['es', 'El precio del litio se dispara un 30% tras el cierre de minas en Jiangxi', ''],
    ['it', 'Terre rare, i produttori di motori denunciano carenza di magneti al neodimio', 'Le consegne dalla Cina sono ferme in attesa delle licenze di esportazione.'],
    ['nl', 'ASML heeft voortaan een exportvergunning nodig voor onderhoud aan DUV-machines in China', 'Het kabinet breidt de exportcontrole uit.'],
    ['de', 'Bundesregierung untersagt Übernahme eines Chipzulieferers durch chinesischen Investor', ''],
    ['de', 'Zoll hält Wolframlieferungen im Hamburger Hafen fest', 'Mehrere Container mit Wolframkonzentrat stecken seit zwei Wochen fest.'],
    ['nl', 'Prijs van gallium verdubbeld sinds de zomer', ''],
    ['it', 'Terre rare, il prezzo del disprosio balza del 60%', ''],
    ['de', 'Peking stoppt Ausfuhr von Graphit nach Europa', ''],
    ['de', 'Galliumpreis steigt auf Rekordhoch', ''],
    ['de', 'China drosselt Seltenerd-Lieferungen an deutsche Motorenbauer', ''],
  ])('alerts on %s: %s', (_language, title, summary) => {
    const assessment = top(scorer, item(title, summary));
    expect(atLeast(assessment.level, 'low'), `${title}: ${assessment.level}`).toBe(true);
  });

  it('reads a hedged European measure lower than the measure itself', () => {
    const done = top(scorer, item('Peking verhängt Exportverbot für Gallium'));
    const weighed = top(scorer, item('Peking erwägt Exportverbot für Gallium'));
    expect(weighed.score).toBeLessThan(done.score);
  });

  it('keeps English words that look like European ones in their English sense', () => {
    for (const title of [
      'SK Hynix named official sponsor of gaming championship, promoting its SSD brand',
      'AMD launches desktop processors; they go on sale this week at record demand',
      'Ethereum staking rewards fall as GPU miners leave',
    ]) {
      expect(top(scorer, item(title)).level, title).toBe('none');
    }
    // "plant" is no German hedge ("plant" = plans) in English news.
    expect(top(scorer, item('Samsung to build chip plant in Texas')).level).toBe('info');
  });

  it('keeps closures, accidents, shortages of people, pets\' chips, fines and names out of supply risk', () => {
    for (const title of [
      'Kraftwerk stillgelegt: Gelände soll einer Chipfabrik weichen',
      'Restaurant neben der Halbleiterfabrik: Schließung nach 30 Jahren',
      'Mangel an Fachkräften: Chipindustrie sucht 5.000 Ingenieure',
      'Accident de la route : un camion de puces électroniques se renverse',
      'Mikrochip-Pflicht für Katzen: Stadt droht Haltern mit Bußgeldern',
      "L'Antitrust infligge una sanzione a un produttore di chip per pubblicità ingannevole",
      'Kulturstaatsminister Wolfram Weimer: keine Zölle auf Bücher',
    ]) {
      expect(top(scorer, item(title)).level, title).toBe('none');
    }
  });

  it('reads French "puces" at a flea market as fleas, and as chips elsewhere', () => {
    expect(top(scorer, item('Marché aux puces : pénurie de vendeurs ce week-end')).level).toBe('none');
    expect(atLeast(top(scorer, item('Puces : pénurie dans l\'automobile, Pékin bloque les exportations de Nexperia')).level, 'low')).toBe(true);
  });
});
