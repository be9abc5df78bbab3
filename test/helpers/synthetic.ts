import type { RssEntry } from './http.js';

/**
 * Synthetic news for load tests and benchmarks, written for this project: alerting items are export-control stories
 * about watched materials, each made unique by invented names so story clustering keeps them apart; the others are
 * ordinary business news that should not alert.
 */
const MATERIALS = ['gallium', 'germanium', 'samarium', 'dysprosium', 'terbium', 'antimony', 'graphite', 'tungsten', 'neodymium', 'rare earth magnets'];
const ACTIONS = [
  (m: string, who: string) => `China bans exports of ${m} to ${who}`,
  (m: string, who: string) => `Beijing imposes export licence requirement on ${m} shipments to ${who}`,
  (m: string, who: string) => `Commerce ministry halts ${m} exports bound for ${who}`,
  (m: string, who: string) => `Export controls on ${m} tightened, ${who} cut off`,
];
const SYLLABLES = ['ka', 'zo', 'mi', 'tre', 'lun', 'var', 'pex', 'dol', 'qui', 'sen', 'bra', 'tor', 'fel', 'gim', 'hus', 'jor', 'nix', 'ple', 'ros', 'wen'];

function rng(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

function word(random: () => number): string {
  const n = 2 + Math.floor(random() * 2);
  let out = '';
  for (let i = 0; i < n; i++) out += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
  return out;
}

export interface SyntheticEntry extends RssEntry {
  alerting: boolean;
}

export function syntheticEntries(count: number, options: { alertEvery?: number; seed?: number; prefix?: string } = {}): SyntheticEntry[] {
  const random = rng(options.seed ?? 42);
  const every = options.alertEvery ?? 10;
  const tag = options.prefix ?? 'syn';
  const entries: SyntheticEntry[] = [];
  for (let i = 0; i < count; i++) {
    const company = `${cap(word(random))} ${cap(word(random))} Industries`;
    const noise = Array.from({ length: 6 }, () => word(random)).join(' ');
    const alerting = i % every === 0;
    if (alerting) {
      const material = MATERIALS[i % MATERIALS.length];
      const action = ACTIONS[Math.floor(i / MATERIALS.length) % ACTIONS.length];
      entries.push({
        guid: `${tag}-${i}`,
        title: `${action(material, company)} (${noise.split(' ').slice(0, 2).join(' ')})`,
        link: `https://news.example.org/${tag}/${i}`,
        description: `Officials said the measure on ${material} takes effect immediately; ${company} and ${noise} are affected.`,
        alerting,
      });
    } else {
      entries.push({
        guid: `${tag}-${i}`,
        title: `${company} opens a ${word(random)} store in ${cap(word(random))}`,
        link: `https://news.example.org/${tag}/${i}`,
        description: `The retailer ${company} said ${noise} customers would be welcome.`,
        alerting,
      });
    }
  }
  return entries;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
