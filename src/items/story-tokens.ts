import type { FeatureWeights } from './story-similarity.js';

/**
 * Text features for story clustering: normalised, lightly stemmed content words with synonyms folded, so that
 * "Beijing halts shipments of gallium" and "China bans gallium exports" share most of their tokens.
 * Pure and deterministic: every worker computes the same features for the same item.
 */

/** English function words plus newsroom filler ("says", "report") that say nothing about which event it is. */
const STOPWORDS = new Set(
  `a about above after again against all also am amid among an and any are as at be because been before being below
  between both but by can could did do does doing down during each few for from further had has have having he her here
  hers him his how i if in into is it its itself just may me might more most must my new no nor not now of off on once
  only or other our ours out over own per same she should so some such than that the their theirs them then there these
  they this those through to too under until up upon very via was we were what when where which while who whom why
  will with would you your according amid says said say told report reports reported reportedly week today tuesday
  monday wednesday thursday friday saturday sunday yesterday latest update breaking exclusive analysis news first
  one's writethru ld use used uses using need needs needed high higher low lower key major big top set sets make makes
  made take takes taken get gets give gives go goes going come comes coming part like just still even`
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * Words nearly every item that reaches clustering contains (they are all about supply risk to materials and chips), so
 * they are weak evidence that two items report the same event: they count half.
 */
const GENERIC = new Set(
  `china us export import restrict ban license tariff sanction rare earth mineral material metal chip supply
  government ministry commerce department announce rule trade control measure item product industry company market
  global world country national security year month day escalat tension war retaliat dispute response move plan
  amid concern impact effect`
    .split(/\s+/)
    .filter(Boolean),
);

/** Whether a token is one of the words nearly every item has (GENERIC): weak evidence of the same event. */
export function isGeneric(token: string): boolean {
  return GENERIC.has(token);
}

/** Reworded headlines use these interchangeably; each maps to one canonical token. */
// A Map: looked up with arbitrary words ("constructor" must not find Object's constructor), for every word of every
// alerting item.
const SYNONYMS = new Map<string, string>(Object.entries({
  beijing: 'china', chinese: 'china', prc: 'china', mofcom: 'china',
  washington: 'us', america: 'us', american: 'us', americans: 'us', usa: 'us',
  dutch: 'netherlands', holland: 'netherlands', hague: 'netherlands',
  japanese: 'japan', tokyo: 'japan', korean: 'korea', seoul: 'korea', taiwanese: 'taiwan', taipei: 'taiwan',
  eu: 'europe', european: 'europe', brussels: 'europe',
  halt: 'ban', block: 'ban', bar: 'ban', prohibit: 'ban', prohibition: 'ban', embargo: 'ban', forbid: 'ban', stop: 'ban',
  curb: 'restrict', limit: 'restrict', restriction: 'restrict', control: 'restrict', curtail: 'restrict', tighten: 'restrict',
  clampdown: 'restrict', crackdown: 'restrict',
  shipment: 'export', ship: 'export', sale: 'export', outflow: 'export', exporter: 'export', importer: 'import',
  licence: 'license', permit: 'license', approval: 'license', approve: 'license',
  pause: 'suspend', lift: 'suspend', ease: 'suspend', relax: 'suspend', delay: 'suspend', postpone: 'suspend', suspension: 'suspend',
  duty: 'tariff', levy: 'tariff', tariffs: 'tariff',
  semiconductor: 'chip', chipmaker: 'chip', microchip: 'chip', processor: 'chip', gpu: 'chip', accelerator: 'chip',
  metal: 'mineral', element: 'mineral', commodity: 'mineral',
  firm: 'company', business: 'company', manufacturer: 'company', maker: 'company', producer: 'company',
  announcement: 'announce', unveil: 'announce', declare: 'announce', issue: 'announce', publish: 'announce', release: 'announce',
  plant: 'factory', fab: 'factory', facility: 'factory', smelter: 'factory', refinery: 'factory',
  shutdown: 'close', closure: 'close', shut: 'close', idle: 'close',
  one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
}));

// [a word every match contains, pattern, replacement].
const PHRASES: Array<[string, RegExp, string]> = [
  ['u.', /\bu\.\s?s\.(?:\s?a\.)?/g, ' us '],
  ['united', /\bunited states\b/g, ' us '],
  ['u.', /\bu\.\s?k\.(?=\W|$)/g, ' uk '],
  ['united', /\bunited kingdom\b/g, ' uk '],
  ['european', /\beuropean union\b/g, ' europe '],
  ['republic', /\bpeople'?s republic of china\b/g, ' china '],
  ['rare', /\brare[-\s]earths?\b/g, ' rare earth '],
];

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Strips accents and case; keeps letters, digits and decimal numbers. Each phrase pattern runs only when its first
 * word is in the text (none of the replacements brings in another's), and ASCII text skips the Unicode folding: this
 * runs for every alerting item, and ran every pattern over every text.
 */
function normaliseText(text: string): string {
  let out = NON_ASCII.test(text)
    ? text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[\u2018\u2019]/g, "'")
    : text.toLowerCase();
  for (const [trigger, pattern, replacement] of PHRASES) if (out.includes(trigger)) out = out.replace(pattern, replacement);
  return out.includes("'s") ? out.replace(/'s\b/g, '') : out;
}

/** A light suffix stripper: enough to meet "restricts / restricted / restricting / restrictions" in one token. */
export function stem(word: string): string {
  if (word.length <= 3 || isDigit(word.charCodeAt(0))) return word;
  let w = word;
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = undouble(w.slice(0, -3));
  else if (w.endsWith('ed') && w.length > 4) w = undouble(w.slice(0, -2));
  if (w.endsWith('ions')) w = w.slice(0, -4);
  else if (w.endsWith('ion')) w = w.slice(0, -3);
  return w;
}

const isDigit = (code: number) => code >= 0x30 && code <= 0x39;
const DOUBLED_CONSONANT = /([b-df-hj-np-tv-z])\1$/;

function undouble(w: string): string {
  return DOUBLED_CONSONANT.test(w) && !w.endsWith('ll') && !w.endsWith('ss') && !w.endsWith('zz') ? w.slice(0, -1) : w;
}

/** The canonical tokens of a text, in order, duplicates kept. */
export function storyTokens(text: string): string[] {
  const words = normaliseText(text).match(/\d+(?:[.,]\d+)*|[a-z]+/g) ?? [];
  const out: string[] = [];
  for (const raw of words) {
    if (STOPWORDS.has(raw) || (raw.length < 2 && !isDigit(raw.charCodeAt(0)))) continue;
    const word = raw.includes(',') ? raw.replace(/,/g, '') : raw;
    let canonical = SYNONYMS.get(word);
    if (canonical === undefined) {
      const stemmed = stem(word);
      canonical = SYNONYMS.get(stemmed) ?? stemmed;
    }
    if (!STOPWORDS.has(canonical)) out.push(canonical);
  }
  return out;
}

/** Token -> weight. Title words count double; generic words half. */
export type StoryFeatures = Record<string, number>;

export const TITLE_WEIGHT = 2;
export const SUMMARY_WEIGHT = 1;
export const GENERIC_FACTOR = 0.5;
/** Enough of a summary to carry the lede; long bodies add noise that dilutes the overlap. */
const SUMMARY_CHARS = 400;

// "China bans gallium exports - Reuters": aggregators (Google News) append the outlet, and repeat it in the summary.
// Outlet names say who reported, not what happened; left in, they pull unrelated stories of one outlet together.
const OUTLET_SUFFIX = /\s+[-–—|]\s+([^-–—|]{2,60})$/;

/** Splits an aggregator's " - Outlet" suffix off a title (only when it is short and the headline is not). */
export function withoutOutlet(text: { title: string; summary?: string }): { title: string; summary?: string } {
  const match = OUTLET_SUFFIX.exec(text.title);
  if (!match) return text;
  const outlet = match[1].trim();
  const headline = text.title.slice(0, match.index);
  if (outlet.split(/\s+/).length > 6 || headline.split(/\s+/).length < 4) return text;
  const summary = text.summary?.split(outlet).join(' ');
  return { title: headline, summary };
}

export function storyFeatures(input: { title: string; summary?: string }): StoryFeatures {
  return Object.fromEntries(storyWeights(input));
}

/**
 * An item's story features as weights, in the order its tokens came: what the story store works with (a fresh
 * object's keys, read and written one by one, were a megamorphic load and store per token).
 */
export function storyWeights(input: { title: string; summary?: string }): Map<string, number> {
  const text = withoutOutlet(input);
  const weights = new Map<string, number>();
  const add = (tokens: string[], weight: number) => {
    for (const token of tokens) {
      const w = weight * (GENERIC.has(token) ? GENERIC_FACTOR : 1);
      const current = weights.get(token);
      if (current === undefined || current < w) weights.set(token, w);
    }
  };
  add(storyTokens(text.title), TITLE_WEIGHT);
  add(storyTokens((text.summary ?? '').slice(0, SUMMARY_CHARS)), SUMMARY_WEIGHT);
  return weights;
}

/** The JSON of features held as weights: the object's JSON, keys in the weights' order. */
export function featuresJson(weights: FeatureWeights): string {
  let json = '';
  weights.forEach((w, token) => {
    json += `${json ? ',' : ''}${JSON.stringify(token)}:${JSON.stringify(w)}`;
  });
  return `{${json}}`;
}

/** Tokens worth indexing for candidate lookup: the non-generic ones (generic ones would match every story). */
export function distinctiveTokens(weights: FeatureWeights): string[] {
  return [...weights.keys()].filter((token) => !GENERIC.has(token)).sort();
}
