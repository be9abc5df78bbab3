import { normalizeTerm } from './normalize.js';

/**
 * Company names as people write them vary in legal form, punctuation and decoration: "China Northern Rare Earth
 * (Group) High-Tech Co., Ltd." is "China Northern Rare Earth" in a headline. We reduce a name to its core (what a
 * headline would say) and match that core on word boundaries; the full form is matched too.
 */

// Legal forms, longest first; matched as whole trailing words after normalisation ("co ltd", "s a").
const LEGAL_FORMS = [
  'joint stock company', 'public limited company', 'limited liability company', 'company limited', 'co ltd', 'pte ltd',
  'pty ltd', 'sdn bhd', 'co inc', 's p a', 's a s', 's a', 'n v', 'b v', 'a g', 's e', 'k k', 'l l c', 'l p',
  'incorporated', 'corporation', 'company', 'limited', 'holdings', 'holding', 'group', 'corp', 'inc', 'ltd', 'llc',
  'plc', 'gmbh', 'ag', 'sa', 'nv', 'bv', 'se', 'spa', 'srl', 'sarl', 'sas', 'kk', 'oy', 'oyj', 'ab', 'asa', 'as', 'jsc',
  'pjsc', 'ojsc', 'pte', 'pty', 'bhd', 'tbk', 'lp', 'llp', 'co',
];
// Descriptors that headlines drop: "(Group)", "High-Tech", "Technology", "International".
const DESCRIPTORS = ['high tech', 'hi tech', 'new material', 'new materials', 'technology', 'technologies', 'international', 'industries', 'industrial', 'global', 'resources'];
// Words too common to stand for a company on their own.
const GENERIC = new Set(['global', 'general', 'united', 'national', 'international', 'american', 'china', 'chinese', 'asia', 'pacific', 'world', 'universal', 'advanced', 'applied', 'industrial', 'resources', 'technology', 'technologies']);

function stripTrailing(words: string[], phrases: string[]): string[] {
  let changed = true;
  while (changed && words.length > 1) {
    changed = false;
    for (const phrase of phrases) {
      const parts = phrase.split(' ');
      if (parts.length >= words.length) continue;
      if (parts.every((p, i) => words[words.length - parts.length + i] === p)) {
        words = words.slice(0, -parts.length);
        changed = true;
        break;
      }
    }
  }
  return words;
}

// Words that, right after a company's name, make it the name of another company: "Micron Instruments" is not Micron.
// Only words that rarely follow a name as an ordinary noun ("Micron memory", "ASML systems", "Lynas capital raising"
// are the company), and no descriptor that headlines drop from the company's own name ("Huawei Technologies").
const OTHER_BUSINESS = [
  'instruments', 'electronics', 'solutions', 'labs', 'laboratories', 'securities', 'pharmaceuticals', 'pharma', 'medical',
  'healthcare', 'insurance', 'bank', 'foods',
];
// "Group" and "Holdings" tell two legal entities apart when the name carries one of them: "China Rare Earth Holdings"
// is not China Rare Earth Group. A name without either says nothing ("Tsingshan Holding Group" is Tsingshan).
const GROUP = ['group'];
const HOLDING = ['holding', 'holdings'];

/** Words that, next after a match of one of these names of a company, make the match another company's name. */
export function otherCompanyWords(names: readonly string[]): Set<string> {
  const own = new Set(names.flatMap((n) => normalizeTerm(n).split(' ')));
  const words = new Set(OTHER_BUSINESS.filter((w) => !own.has(w)));
  const hasGroup = GROUP.some((w) => own.has(w));
  const hasHolding = HOLDING.some((w) => own.has(w));
  if (hasGroup && !hasHolding) for (const w of HOLDING) words.add(w);
  if (hasHolding && !hasGroup) for (const w of GROUP) words.add(w);
  return words;
}

/** The full normalised name without its legal form: "china northern rare earth group high tech". */
export function companyFullName(name: string): string {
  const words = normalizeTerm(name).split(' ').filter(Boolean);
  return stripTrailing(words, LEGAL_FORMS).join(' ');
}

/**
 * The core a headline would use: no parenthesised parts, no legal form, no trailing descriptors, as long as what
 * remains is still distinctive (two words, or one word of five letters or more). "Nexperia B.V." -> "nexperia".
 */
export function companyCoreName(name: string): string {
  const withoutParens = name.replace(/\([^)]*\)|（[^）]*）/g, ' ');
  let words = normalizeTerm(withoutParens).split(' ').filter(Boolean);
  words = stripTrailing(words, LEGAL_FORMS);
  const trimmed = stripTrailing(stripTrailing(words, DESCRIPTORS), LEGAL_FORMS);
  const distinctive = trimmed.length >= 2 || (trimmed.length === 1 && trimmed[0].length >= 5 && !GENERIC.has(trimmed[0]));
  return (distinctive ? trimmed : words).join(' ');
}

/** Every form of a supplier to match in text: the full name, its core, and its aliases (each reduced the same way). */
export function supplierForms(name: string, aliases: readonly string[] = []): string[] {
  const forms = new Set<string>();
  for (const n of [name, ...aliases]) {
    const full = companyFullName(n);
    const core = companyCoreName(n);
    if (full) forms.add(full);
    if (core) forms.add(core);
  }
  return [...forms];
}

/**
 * True when `text` (a name from a screening list) names the supplier: one of its forms appears in it as whole words,
 * not followed by a word that makes it another company's name ("China Rare Earth Holdings" for "China Rare Earth").
 */
export function namesSupplier(text: string, forms: readonly string[], otherWords: ReadonlySet<string> = new Set()): boolean {
  const plain = ` ${normalizeTerm(text)} `;
  return forms.some((form) => {
    if (!form) return false;
    for (let at = plain.indexOf(` ${form} `); at >= 0; at = plain.indexOf(` ${form} `, at + 1)) {
      const next = plain.slice(at + form.length + 2).split(' ', 1)[0];
      if (!otherWords.has(next)) return true;
    }
    return false;
  });
}
