import { isGeneric, type StoryFeatures } from './story-tokens.js';

// Similarity of an item's story features to a story's members: weighted Jaccard over their tokens, with the members
// as stored (objects, or their JSON text read in place). Pure and deterministic, like the features themselves.

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
    else overlap.both(wa, wb, isGeneric(token));
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

/** FNV-1a over a token's characters: the table's keys, and each key of a member's text as it is read. */
const HASH_SEED = 0x811c9dc5 | 0;

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
    let hash = HASH_SEED;
    for (let c = 0; c < token.length; c++) hash = hashStep(hash, token.charCodeAt(c));
    table.weights[t] = a.get(token)!;
    table.generic[t] = isGeneric(token) ? 1 : 0;
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
    let hash = HASH_SEED;
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
