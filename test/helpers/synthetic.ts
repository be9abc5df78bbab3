import type { RssEntry } from './http.js';

/**
 * Synthetic news for load tests and benchmarks, written for this project: alerting items are export-control stories
 * about watched materials; the others are ordinary business news that should not alert.
 *
 * Every alerting item must be its own story (one alert each), so the counts of a load test are exact. Story
 * clustering joins items whose weighted word overlap reaches ~0.24; the shared template words ("Beijing imposes export
 * licence requirement on rare earth magnets") weigh up to 13, so each item carries about 30 of weight in words no
 * other item has: an invented company derived from its index (unique by construction), an invented code name and a
 * sentence of invented noise. Their overlap then stays below 0.2.
 */
const MATERIALS = ['gallium', 'germanium', 'samarium', 'dysprosium', 'terbium', 'antimony', 'graphite', 'tungsten', 'neodymium', 'rare earth magnets'];
const ACTIONS = [
  (m: string, who: string) => `China bans exports of ${m} to ${who}`,
  (m: string, who: string) => `Beijing imposes export licence requirement on ${m} shipments to ${who}`,
  (m: string, who: string) => `Commerce ministry halts ${m} exports bound for ${who}`,
  (m: string, who: string) => `Export controls on ${m} tightened, ${who} cut off`,
];
// No syllable ends in s, ed, ing or ion, so the story stemmer never folds two invented words into one token.
const SYLLABLES = ['ka', 'zo', 'mi', 'tre', 'lun', 'var', 'pex', 'dol', 'qui', 'sen', 'bra', 'tor', 'fel', 'gim', 'hu', 'jor', 'nix', 'ple', 'rok', 'wen'];

function rng(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

/** A random invented word of 3-4 syllables (8,000+ of them: collisions between two items are rare and harmless). */
function word(random: () => number): string {
  const n = 3 + Math.floor(random() * 2);
  let out = '';
  for (let i = 0; i < n; i++) out += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
  return out;
}

/** A word that only index n produces: n in base 20, one syllable a digit, at least four syllables, "x"-terminated. */
function uniqueWord(n: number): string {
  let out = '';
  let rest = n;
  for (let i = 0; i < 4 || rest > 0; i++) {
    out += SYLLABLES[rest % SYLLABLES.length];
    rest = Math.floor(rest / SYLLABLES.length);
  }
  return `${out}x`;
}

export interface SyntheticEntry extends RssEntry {
  alerting: boolean;
}

/**
 * `count` entries; every `alertEvery`-th one (index 0 included) alerts. Deterministic for a seed; `prefix` makes the
 * guids and links of one run distinct from another's.
 */
export function syntheticEntries(count: number, options: { alertEvery?: number; seed?: number; prefix?: string } = {}): SyntheticEntry[] {
  const random = rng(options.seed ?? 42);
  const every = options.alertEvery ?? 10;
  const tag = options.prefix ?? 'syn';
  const entries: SyntheticEntry[] = [];
  for (let i = 0; i < count; i++) {
    const company = `${cap(uniqueWord(2 * i))} ${cap(uniqueWord(2 * i + 1))} Industries`;
    const noise = Array.from({ length: 20 }, () => word(random)).join(' ');
    const alerting = i % every === 0;
    if (alerting) {
      const material = MATERIALS[(i / every) % MATERIALS.length];
      const action = ACTIONS[Math.floor(i / every / MATERIALS.length) % ACTIONS.length];
      entries.push({
        guid: `${tag}-${i}`,
        title: `${action(material, company)} (${cap(word(random))} ${cap(word(random))} ${cap(word(random))})`,
        link: `https://news.example.org/${tag}/${i}`,
        description: `${cap(noise)}: ${company} and the ${material} trade.`,
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
