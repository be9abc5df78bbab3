import type { CueHit, SignalHit } from './analyse.js';
import type { ActionEntry, SignalClass } from './lexicon-schema.js';
import { gap, type Located } from './located.js';

/** The original words between two hits of one field, punctuation included (normalisation turns it into spaces). */
export type Between = (a: Located, b: Located) => string;

const ACTION_BEFORE = 6; // "suspend [its rare earth] export controls", "issues [first batch of rare-earth] export licences"
const ACTION_AFTER = 2; // "export controls [were] suspended", Korean "수출 통제를 [전면] 해제"
// Chinese counts each character as a word and names the buyer between a halting verb and the flow: "停止[向美国军工企业]供应稀土".
// Only for flows: a measure that far on is the flow's object ("停止[向美国军工用户]出口两用物项": the exports stop).
const FLOW_BEFORE_HAN = 12;
// That far only when the words between name the buyer: "停止[向美国]供应", not "停止[发放稀土企业补贴后]供应".
const HAN_BUYER = /^\s*[向对给]/;

// Words and marks that open another clause: a verb before them does not act on a signal after them ("chip stocks drop
// as the US bans exports", "halts talks while ..."). "as well as" and "such as" join objects of one verb instead.
const CONJUNCTION_WORDS = 'as|after|while|when|whereas|because|since|though|although|despite|before|until|but|amid';
export const CLAUSE_BREAK = new RegExp(`[:;|，：；]|\\s[-–—]\\s|\\b(?:${CONJUNCTION_WORDS}|once)\\b`, 'i');
// The words of those that join clauses, and the semicolon: a headline's colon or dash joins its topic to what happened
// to it ("Antimony price: record high"), and "once again" opens no clause.
export const CONJUNCTION = new RegExp(`;|\\b(?:${CONJUNCTION_WORDS})\\b`, 'i');
const JOINED_OBJECTS = /\b(?:as well as|such as)\b/gi;
// A paired aside ("lifts, as of Monday, its ban", "suspends — for now — its ban") interrupts the clause, it does not end it.
const ASIDE = /,[^,;:]*,|\s[-–—]\s[^;:]*?\s[-–—]\s/g;
// After its topic a headline names what happened to it ("Gallium export ban: China lifts it", "export ban – lifted").
const TOPIC_MARK = /[:：]|\s[-–—]\s/g;
// "and imposes": a second verb with objects of its own ("lifts tariffs and imposes export controls") is not governed.
const COORDINATED = /\b(?:and|or|but|then)\s*$/i;
// A lifting verb acts through what would have escalated ("suspends decision to tighten", "scraps plan to expand",
// "pauses rule that would expand").
const PLANNED = /^[\s,]*(?:(?:its|the|a|an|their|new|earlier|previous|recent|latest)\s+)*(?:plans?|decisions?|proposals?|rules?|moves?|measures?|bid|efforts?)\s+(?:to|that would|which would)\s*$/i;
// A participle after the signal may follow the goods and countries it is about ("ban on exports of gallium, germanium
// to US suspended"): up to this many words of them.
const GOODS_AFTER = 8;
const GOODS_SEPARATOR = /[\s,]+/;
const GOODS_LINK = /^(?:on|of|to|for|and|from|in)$/i;
// An aside, then only auxiliaries before the participle: "[, in place since 2023,] suspended", "[, China says, will be] lifted".
const ASIDE_THEN_PREDICATE = /^\s*,[^,;:]*,\s*(?:(?:is|are|was|were|has|have|had|been|be|being|will|would|to)\s+)*$/i;
// A plan as the object of a halting verb ("cancels [plans to] expand", "halts [its decision to] ...").
// A review or probe as its object ("end [review of] Nvidia licences"): the verb ends the review, not the licences.
const PLAN_OBJECT = /^\s*(?:(?:its|the|their|a)\s+)?(?:(?:plans?|decisions?|proposals?|bids?|efforts?)\s+to|(?:reviews?|probes?|audits?|investigations?|inquir(?:y|ies))\s+(?:of|into)|(?:licen[cs]e|export)\s+reviews?\s+(?:of|for))\b/i;
// A verb after the signal with an object of its own has the signal for its subject ("Chinese curbs cut [the flow] of
// antimony", "export ban lifted [the price] of gallium"): it does not act on it, as a participle before a time does
// ("tariffs cut the same day", "ban lifted the morning after").
const OWN_OBJECT =
  /^\s*(?:the|its|their)\s+(?!(?:same|next|following|previous|first|last|whole|rest|remainder|implementation|enforcement|application|day|days|week|weeks|weekend|month|months|year|years|morning|afternoon|evening|night|moment|hour|hours|quarter|spring|summer|autumn|fall|winter)\b)\p{L}/iu;
// ... unless those words say who spoke ("export ban lifted, the commerce ministry said" without its comma).
const SAYS_AFTER = /^\s*(?:the|its|their)(?:\s+[\p{L}'’-]+){1,4}?\s+(?:said|says|told|announced|reported|confirmed)\b/iu;
// An English participle ("newly imposed", "controls imposed in 2023"): it modifies the signal, it does not act on it.
const PARTICIPLE = /(?:ed|en)$/i;
// A verb followed by a comma that opens no aside has ended its clause ("Shares drop, US bans exports"): its object
// would follow it directly ("suspends gallium, germanium export controls").
const VERB_THEN_COMMA = /^\s*,/;
// After the signal, a comma and another word before the verb open a clause with its own subject ("US chip export ban,
// stocks drop"); a participle right after the comma still describes the signal ("export ban, lifted in May, ..."). Not
// in Korean, whose headlines name the topic before a comma ("희토류 수출 통제, 1년간 유예").
const NEW_SUBJECT_AFTER = /,\s*[^\s,]/;
// Effects that stop what they act on: lifting a measure, halting a flow or the licences it needs.
const STOPS = new Set(['de-escalation', 'halt']);
const HANGUL = /[\uac00-\ud7a3]/;
// "No longer" lifts only what it negates: the measure right after it ("US no longer bars ...", "no longer a bottleneck"),
// or one before it that it says no longer holds ("export ban no longer applies", "curbs no longer in force"). Otherwise
// it negates another word, and the measure stands: "export ban no longer a threat but a reality", "Beijing no longer
// fears US export controls", "no longer hesitant to wield export controls". Chinese 不再 alike: "中国不再禁止镓出口" lifts
// the ban, "稀土出口禁令不再是威胁" does not.
const NO_LONGER = /^(?:no\s+longer|不再)$/i;
const NO_LONGER_THEN = /^\s*(?:(?:a|an|the|in)\s*)?$/i;
const NO_LONGER_HOLDS =
  /^\s*(?:(?:(?:be|being)\s+)?(?:apply|applies|applied|in force|in effect|in place|enforced|valid|active|required|needed|necessary|expected|restricted|banned|barred|blocked|limited|curbed|prohibited|controlled|an issue|a problem|a concern|a bottleneck|a constraint|an obstacle)\b|适用|有效|生效|实施)/i;
const HAN = /\p{Script=Han}/u;
// Chinese headlines separate clauses with a space ("中国暂停稀土出口 加强走私管制").
const HAN_SPACE = /\p{Script=Han}\s+\p{Script=Han}/u;

/** How to read the words between hits of one field. */
export interface Gaps {
  /** The original words between two hits, punctuation included (normalisation turns it into spaces). */
  between: Between;
  /** The original words after a hit, to the end of its field. */
  after: (a: Located) => string;
  /** How many of the words between two hits are names of entities ("imposed [rare earth] export controls"). */
  entityWords: (a: Located, b: Located) => number;
  /** Whether a signal of the class follows the action closely: its own object ("US lifts [chip tariffs]"). */
  hasObject: (a: Located, cls: SignalClass) => boolean;
  /** Whether a signal other than a bare flow stands between two hits ("suspends [ban] on exports"). */
  signalBetween: (a: Located, b: Located) => boolean;
  /** Whether a flow qualifies the noun after it ("supply talks") or is of other goods ("shipments of cars"): no verb halts it. */
  qualifies: (s: Located) => boolean;
}

interface Choice {
  action: CueHit;
  entry: ActionEntry;
  before: boolean;
  rank: number;
}

/**
 * The action that decides what a signal means: the nearest one in the signal's clause that acts on its class, unless a
 * lifting or halting verb before the signal governs that nearer one (see governs). An action standing between the
 * halves of a split signal ("出口[暂停]管制") acts on it.
 */
export function chooseAction(
  s: SignalHit,
  actions: CueHit[],
  entries: ReadonlyMap<string, ActionEntry>,
  gaps: Gaps,
): { action: CueHit; entry: ActionEntry } | undefined {
  const { between } = gaps;
  const cls = s.signal.class;
  // Korean writes particles onto words and counts each syllable as a word: count its spaced words instead.
  const korean = HANGUL.test(s.text);
  const hanFlow = cls === 'flow' && !korean && HAN.test(s.text);
  // "ends supply talks", "cancels supply chain event": the verb acts on the talks or the event, not on the supply.
  if (cls === 'flow' && gaps.qualifies(s)) return undefined;
  let nearest: Choice | undefined;
  // Verbs before the signal that lift or halt what they act on: the nearest of them whose effect differs from the
  // nearest verb's may govern it (see governs).
  const stopping: Choice[] = [];
  for (const a of actions) {
    if (a.sentence !== s.sentence) continue;
    const entry = entries.get(a.id)!;
    if (!entry.effects[cls]) continue;
    if (within(a, s)) return { action: a, entry };
    const before = a.tokenEnd < s.token;
    if (!before && entry.leads?.includes(cls)) continue;
    let distance = gap(a, s);
    if (distance < 0) continue;
    // Too far to act on it, whatever the words between say: those are not read (a sentence without full stops can run
    // to thousands of words). Korean counts its distance in spaced words, fewer than these, so it reads them first.
    if (!korean && distance > (before ? (hanFlow ? FLOW_BEFORE_HAN : ACTION_BEFORE) : Math.max(ACTION_AFTER, GOODS_AFTER))) continue;
    const words = before ? between(a, s) : between(s, a);
    if (korean) distance = spacedWords(words);
    // "Export ban on gallium, germanium lifted": a participle after the goods it names acts on the signal, and so does a
    // "no longer" that says the measure no longer holds ("export ban on antimony to US no longer applies").
    const endsMeasure = PARTICIPLE.test(a.text) || (NO_LONGER.test(a.text) && NO_LONGER_HOLDS.test(gaps.after(a)));
    const afterGoods = !before && !korean && distance <= GOODS_AFTER && endsMeasure && onlyGoods(words, gaps.entityWords(s, a));
    // "Gallium export ban, imposed in 2023, is lifted": the participle after the aside is the predicate; it wins over
    // a verb inside the aside.
    const predicate = !before && !korean && distance <= GOODS_AFTER && PARTICIPLE.test(a.text) && ASIDE_THEN_PREDICATE.test(words);
    if (distance > (before ? (hanFlow ? FLOW_BEFORE_HAN : ACTION_BEFORE) : ACTION_AFTER) && !afterGoods && !predicate) continue;
    if (hanFlow && before && distance > ACTION_BEFORE && (HAN_SPACE.test(a.text.slice(-1) + words + s.text.slice(0, 1)) || !HAN_BUYER.test(words))) continue;
    if (NO_LONGER.test(a.text) && !(before ? NO_LONGER_THEN.test(words) : NO_LONGER_HOLDS.test(gaps.after(a)))) continue;
    let clause = words.replace(JOINED_OBJECTS, ' ').replace(ASIDE, ' ');
    if (before && VERB_THEN_COMMA.test(clause)) continue;
    // "cancels plans to expand in Japan, chip supply unaffected": the verb stops a plan, not the flow.
    if (before && entry.effects[cls] === 'halt' && PLAN_OBJECT.test(words)) continue;
    // A flow after another signal is that signal's complement, not the verb's object: "suspends ban on exports" lifts
    // the ban and halts nothing.
    if (before && cls === 'flow' && gaps.signalBetween(a, s)) continue;
    if (!before) {
      if (!korean && !afterGoods && !predicate && NEW_SUBJECT_AFTER.test(clause)) continue;
      if (!korean && OWN_OBJECT.test(gaps.after(a)) && !SAYS_AFTER.test(gaps.after(a))) continue;
      const topic = clause.replace(TOPIC_MARK, ' ');
      // "Gallium export ban: US lifts chip tariffs": after the topic, a verb with an object of its own acts on that.
      if (topic !== clause && gaps.hasObject(a, cls)) continue;
      clause = topic;
    }
    if (CLAUSE_BREAK.test(clause)) continue;
    // At equal distance the verb before the object ("lift the ban") wins over a passive one after it.
    const choice = { action: a, entry, before, rank: predicate ? -0.5 : distance + (before ? 0 : 0.5) };
    if (!nearest || choice.rank < nearest.rank) nearest = choice;
    if (before && STOPS.has(entry.effects[cls]!)) stopping.push(choice);
  }
  if (!nearest) return undefined;
  let lifting: Choice | undefined;
  for (const c of stopping) if (c.entry.effects[cls] !== nearest.entry.effects[cls] && (!lifting || c.rank < lifting.rank)) lifting = c;
  return lifting && governs(lifting, nearest, s, cls, gaps) ? lifting : nearest;
}

/** A verb's -ing form ("revoking"), the object of a verb that resumes it. */
export const GERUND = /ing$/i;

/**
 * Whether a lifting or halting verb before the signal wins over the nearer action with another effect: over an
 * escalating participle that modifies the signal ("suspend [newly imposed rare earth] controls", "lift controls
 * [imposed in 2023]"), a noun the signal qualifies ("suspends export licence [approvals]"), a verb it takes as its
 * object ("暂停[实施]出口管制", suspend implementing; "stops [issuing] export licences") or a plan to escalate ("scraps
 * plan to expand"); not over a verb coordinated with it ("lifts tariffs and imposes export controls").
 */
function governs(lifting: Choice, nearest: Choice, s: Located, cls: SignalClass, gaps: Gaps): boolean {
  // After the signal: a participle that modifies it, or a noun it qualifies ("suspends [export licence] approvals").
  if (!nearest.before) return PARTICIPLE.test(nearest.action.text) || gap(s, nearest.action) === 0;
  const link = gaps.between(lifting.action, nearest.action);
  if (COORDINATED.test(link)) return false;
  const participle = PARTICIPLE.test(nearest.action.text) && gap(nearest.action, s) - gaps.entityWords(nearest.action, s) <= 1;
  const verbObject = gap(lifting.action, nearest.action) === 0;
  // A verb that resumes what it takes as its object does it again: "resumes [revoking] export licences" revokes them.
  if (verbObject && lifting.entry.effects.flow === 'resume' && GERUND.test(nearest.action.text)) return false;
  return participle || verbObject || PLANNED.test(link);
}

/** Whether the words hold nothing but the names of entities, their commas and the prepositions that join them. */
function onlyGoods(words: string, entityWords: number): boolean {
  let other = 0;
  for (const w of words.split(GOODS_SEPARATOR)) if (w && !GOODS_LINK.test(w)) other++;
  return other > 0 && other === entityWords;
}

/** Whether the action stands inside the signal's span, between the halves of a split signal. */
function within(a: Located, s: Located): boolean {
  return a.start > s.start && a.end < s.end;
}

/** Space-separated words between two hits, not counting a particle attached to either ("를 [전면] 해제" is one). */
function spacedWords(between: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < between.length; i++) {
    const space = /\s/.test(between[i]);
    if (!space && !inWord) count++;
    inWord = !space;
  }
  if (between.length && !/\s/.test(between[0])) count--;
  if (between.length && !/\s/.test(between[between.length - 1])) count--;
  return Math.max(count, 0);
}
