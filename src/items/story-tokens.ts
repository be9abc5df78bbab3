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
  const features: StoryFeatures = {};
  storyWeights(input).forEach((w, token) => {
    features[token] = w;
  });
  return features;
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
export function distinctiveTokens(features: StoryFeatures | FeatureWeights): string[] {
  const tokens = features instanceof Map ? [...(features as FeatureWeights).keys()] : Object.keys(features);
  return tokens.filter((token) => !GENERIC.has(token)).sort();
}

/**
 * Token weights as a Map, in the features' own key order. Every item's features object has a shape of its own, so
 * reading a token's weight from one is a megamorphic keyed load (~0.3 us); a Map lookup is a tenth of that, and
 * similarity runs for every member of every candidate story of every alerting item.
 */
export type FeatureWeights = ReadonlyMap<string, number>;

export function featureWeights(features: StoryFeatures | FeatureWeights): FeatureWeights {
  if (features instanceof Map) return features;
  const keys = Object.keys(features);
  const values = Object.values(features as StoryFeatures);
  const weights = new Map<string, number>();
  // typeof, not a plain read: a plain object answers "constructor" for a story that never said it.
  for (let i = 0; i < keys.length; i++) if (typeof values[i] === 'number') weights.set(keys[i], values[i]);
  return weights;
}

/**
 * Weighted Jaccard similarity, 0..1; 0 when the two share no distinctive token, because overlap in generic words
 * alone ("China restricts exports") is what two different events of the same week have in common. Pass an item's
 * featureWeights when comparing it with many stories.
 */
export function similarity(left: StoryFeatures | FeatureWeights, right: StoryFeatures | FeatureWeights | MemberText): number {
  const a = featureWeights(left);
  if (typeof right === 'string') return similarityToText(a, right);
  if (right instanceof Map) return similarityToPairs(a, [...(right as FeatureWeights).keys()], [...(right as FeatureWeights).values()]);
  return similarityToPairs(a, Object.keys(right), Object.values(right as StoryFeatures));
}

/**
 * The running sums of one comparison, walked over the member's tokens: a token both sides have adds its smaller
 * weight to min and its larger to max; a token of the member's only adds to max; the item's tokens outside the member
 * are added at the end by their total (value). Weights are halves and wholes (title 2, summary 1, generic words
 * half), so every sum is exact and the order of adding does not change the value.
 */
class Overlap {
  min = 0;
  max = 0;
  /** The item's weight of the tokens both have. */
  shared = 0;
  distinctive = false;

  both(wa: number, wb: number, generic: boolean): void {
    this.shared += wa;
    if (!this.distinctive && wb > 0 && !generic) this.distinctive = true;
    if (wa < wb) {
      this.min += wa;
      this.max += wb;
    } else {
      this.min += wb;
      this.max += wa;
    }
  }

  memberOnly(wb: number): void {
    this.max += wb;
  }

  value(itemTotal: number): number {
    if (!this.distinctive) return 0;
    const max = this.max + (itemTotal - this.shared);
    return max === 0 ? 0 : this.min / max;
  }
}

function totalOf(a: FeatureWeights): number {
  let total = 0;
  a.forEach((w) => {
    total += w;
  });
  return total;
}

/** A member's tokens and weights (an object's keys and values, or a Map's) against the item's weights. */
function similarityToPairs(a: FeatureWeights, tokens: readonly string[], weights: readonly unknown[]): number {
  const overlap = new Overlap();
  for (let i = 0; i < tokens.length; i++) {
    const wb = weights[i];
    // typeof, not a plain read: a member's "constructor" is a word like any other only when it holds a weight.
    if (typeof wb !== 'number') continue;
    const token = tokens[i]!;
    const wa = a.get(token);
    if (wa === undefined) overlap.memberOnly(wb);
    else overlap.both(wa, wb, GENERIC.has(token));
  }
  return overlap.value(totalOf(a));
}

/** A story member as its own JSON text, `{"token":weight,...}`, as written by JSON.stringify (see readMembers). */
export type MemberText = string;

// What JSON.stringify writes for StoryFeatures[] whose keys are storyTokens' tokens ([a-z0-9.]) and whose values are
// numbers: no escapes, and no "{", "}", ":" or "," inside a string.
const TOKEN_PAIR = '"[a-z0-9.]*":-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?';
const MEMBER = `\\{(?:${TOKEN_PAIR}(?:,${TOKEN_PAIR})*)?\\}`;
const PLAIN_MEMBERS = new RegExp(`^\\[(?:${MEMBER}(?:,${MEMBER})*)?\\]$`);

/**
 * A story's stored members (JSON of StoryFeatures[]), for similarity: each member as its own JSON text when the
 * text is what the tokenizer writes, compared in place (similarityToText); anything else (another tokenizer's
 * tokens, escapes) parsed as objects. JSON.parse made a string of every token and an object of every member, with
 * keys of its own: ~8 us a member in the worker, and an alerting item reads up to 10 stories of up to 8 members.
 */
export function readMembers(json: string): Array<StoryFeatures | MemberText> {
  if (!PLAIN_MEMBERS.test(json)) return JSON.parse(json) as StoryFeatures[];
  const members: MemberText[] = [];
  for (let start = json.indexOf('{'); start !== -1; start = json.indexOf('{', start + 1)) members.push(json.slice(start, json.indexOf('}', start) + 1));
  return members;
}

/**
 * An item's weights as an open-addressing table keyed by a hash of the token's characters, so a member's JSON text
 * can be compared in one pass without making a string of each of its tokens. One table, rebuilt when another item's
 * weights come: an item is compared with all its candidates' members in one synchronous loop (chooseStory), and typed
 * arrays made per item would each take a buffer outside the heap.
 */
interface TokenTable {
  /** The weights the table holds (compared by identity). */
  owner: FeatureWeights | undefined;
  tokens: string[];
  weights: Float64Array;
  generic: Uint8Array;
  hashes: Int32Array;
  /** Slot -> token index + 1 (0 = empty); its length is a power of two, at least four times the tokens. */
  slots: Int32Array;
  total: number;
}

const table: TokenTable = {
  owner: undefined,
  tokens: [],
  weights: new Float64Array(64),
  generic: new Uint8Array(64),
  hashes: new Int32Array(64),
  slots: new Int32Array(256),
  total: 0,
};

function hashStep(hash: number, code: number): number {
  return Math.imul(hash ^ code, 16777619);
}

function tokenTable(a: FeatureWeights): TokenTable {
  if (table.owner === a) return table;
  const tokens = [...a.keys()];
  if (tokens.length > table.weights.length) {
    const capacity = 2 ** Math.ceil(Math.log2(tokens.length));
    table.weights = new Float64Array(capacity);
    table.generic = new Uint8Array(capacity);
    table.hashes = new Int32Array(capacity);
    table.slots = new Int32Array(capacity * 4);
  }
  const mask = table.slots.length - 1;
  table.slots.fill(0);
  table.tokens = tokens;
  table.total = 0;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t]!;
    let hash = 0x811c9dc5 | 0;
    for (let c = 0; c < token.length; c++) hash = hashStep(hash, token.charCodeAt(c));
    table.weights[t] = a.get(token)!;
    table.generic[t] = GENERIC.has(token) ? 1 : 0;
    table.hashes[t] = hash;
    table.total += table.weights[t]!;
    let slot = hash & mask;
    while (table.slots[slot] !== 0) slot = (slot + 1) & mask;
    table.slots[slot] = t + 1;
  }
  table.owner = a;
  return table;
}

/** Index of the item's token spelled by text[start, end), or -1. */
function lookUp(table: TokenTable, text: string, start: number, end: number, hash: number): number {
  const mask = table.slots.length - 1;
  for (let slot = hash & mask; table.slots[slot] !== 0; slot = (slot + 1) & mask) {
    const t = table.slots[slot]! - 1;
    if (table.hashes[t] !== hash) continue;
    const token = table.tokens[t]!;
    if (token.length !== end - start) continue;
    let same = true;
    for (let c = 0; c < token.length && same; c++) same = token.charCodeAt(c) === text.charCodeAt(start + c);
    if (same) return t;
  }
  return -1;
}

/** The number text[from, to): the weights the tokenizer writes (2, 1, 0.5) without making a string of them. */
function weightIn(text: string, from: number, to: number): number {
  if (to === from + 1) return text.charCodeAt(from) - 48;
  if (to === from + 3 && text.charCodeAt(from) === 48 && text.charCodeAt(from + 1) === 46 && text.charCodeAt(from + 2) === 53) return 0.5;
  return Number(text.slice(from, to));
}

/**
 * The same value for a member as its JSON text (readMembers), read in one pass: each key is hashed as it is read
 * and looked up among the item's tokens, its weight read in place. The item's weights outside the member count by
 * their total. Sums of halves and wholes are exact, so the order of adding does not change the value.
 */
function similarityToText(a: FeatureWeights, member: MemberText): number {
  const table = tokenTable(a);
  const overlap = new Overlap();
  // readMembers checked the shape: {"token":number,...}, tokens of [a-z0-9.], no escapes.
  let at = member.indexOf('"');
  while (at !== -1) {
    const start = at + 1;
    let hash = 0x811c9dc5 | 0;
    let end = start;
    // Bounded by the text's length too: a string that is not what readMembers passes must not loop for ever.
    for (let code = member.charCodeAt(end); code !== 34 && end < member.length; code = member.charCodeAt(++end)) hash = hashStep(hash, code);
    // end is the closing quote; the weight starts after the colon and ends before "," or "}".
    const from = end + 2;
    let to = from;
    for (let code = member.charCodeAt(to); code !== 44 && code !== 125 && to < member.length; code = member.charCodeAt(++to));
    const wb = weightIn(member, from, to);
    const t = lookUp(table, member, start, end, hash);
    if (t === -1) overlap.memberOnly(wb);
    else overlap.both(table.weights[t]!, wb, table.generic[t] === 1);
    at = member.charCodeAt(to) === 44 ? to + 1 : -1;
  }
  return overlap.value(table.total);
}
