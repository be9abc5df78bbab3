import type { Item } from '../items/item.js';
import { type Between, type Gaps, CLAUSE_BREAK, CONJUNCTION, GERUND, chooseAction } from './actions.js';
import type { ActionEntry, SignalEntry } from './lexicon-schema.js';
import {
  type CompiledLexicon,
  EXPORT_FLOW_SIGNAL,
  EXPORT_HALT_SIGNAL,
  EXPORT_LICENCE_SIGNAL,
  type EntityInfo,
  HALT_SIGNAL,
  RESUME_SIGNAL,
} from './lexicon.js';
import { gap, type Located } from './located.js';
import { firstStartingFrom, type Hit, type Matcher, type TermKind, withDisplaced } from './matcher.js';
import { createScratch, type NormalizedText, normalizeText, sentenceAt, tokenAt } from './normalize.js';
import type { Direction, ItemField } from './types.js';

export interface EntityHit extends Located {
  id: string;
  kind: TermKind;
  /** Watchlist id of keywords and suppliers. */
  scope?: string;
}

export interface SignalHit extends Located {
  signal: SignalEntry;
  polarity: Direction;
  /** The action that changed the signal's meaning ("suspend" export controls). */
  action?: { entry: ActionEntry; text: string };
  /** For halts and resumptions: the flow halted or resumed ("exports"). */
  flow?: string;
  hedged: boolean;
  /** Named as the cause or context of the news ("since controls were introduced", "in violation of export controls"). */
  background: boolean;
  /** Named after a cause word ("after", "since", "amid"), whether or not other news in its sentence makes it background. */
  cause: boolean;
  /** In a lede or text, in a sentence that reports another event ("Separately, ...", "a second mine has halted output"). */
  apart: boolean;
  inForce: boolean;
  offTopic: boolean;
  actor?: EntityInfo;
  /** Countries named (or acted for) in the signal's sentence. */
  countries: string[];
  /** The joined split alias it was read from, when that displaced other hits (see Hit.displaced). */
  split?: Hit;
}

export interface CueHit extends Located {
  id: string;
  scope?: string;
}

/** Everything about an item that does not depend on a watchlist: computed once, scored against every watchlist. */
export interface ItemAnalysis {
  entities: EntityHit[];
  signals: SignalHit[];
  exclusions: CueHit[];
  /** Watchlist `exclude` terms found (scope = watchlist id). */
  excludes: CueHit[];
  /** An opinion or analysis piece (question title, "explainer", ...). */
  analysis: boolean;
  /** The title calls itself analysis, an explainer or opinion ("Explainer:", "Why ...", "mixed blessing"), not only asks. */
  explainer: boolean;
  /** The title announces an event, a course or an exhibition ("Registration opens for ...", "Webinar:"). */
  promotion?: true;
}

/** What parts a title into clauses that may report stories of their own ("Congo extends cobalt export ban; vitamin B12 makers scramble"). */
const TITLE_CLAUSE_BREAK = /[;:|,，；：。？！…]|[.?!](?=\s)|\s[-–—/]+\s|[–—]/g;

/** A word as sameSense compares it: in any case, width, spacing or hyphenation ("Rare-earth  magnets", "ＳＡＭＳＵＮＧ"). */
function senseWord(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\s-]+/g, ' ');
}

/**
 * What may stand before a registration cue that announces an event: nothing, a label ("Last call: register now for
 * ...") or a clause of its own ("Critical minerals summit returns to Perth; registration opens"). Inside a clause the
 * words report news ("G7 summit calls for proposals as China bans rare earth exports").
 */
const OPENS_TITLE = /^(?:\s*["'“‘]?|.*[:：|–—;；,，]\s*)$/;

/** Decomposed Hangul (conjoining jamo) composed: the lexicon's syllables match only that. */
function composed(text: string): string {
  return HANGUL_JAMO.test(text) ? text.normalize('NFC') : text;
}

/** The clause of a title around an offset in it, as offsets [from, to). */
function clauseAround(title: string, at: number): { from: number; to: number } {
  let from = 0;
  for (const m of title.matchAll(TITLE_CLAUSE_BREAK)) {
    if (m.index >= at) return { from, to: m.index };
    from = m.index + m[0].length;
  }
  return { from, to: title.length };
}

/** A control signal that names the goods under control, not the control. */
const GOODS_UNDER_CONTROL = /^(?:dual[- ]use (?:items?|goods)|两用物项)$/i;
// What may stand between a verb and the goods it halts or resumes ("halts [exports of] dual-use items", "恢复[对美]两用物项"):
// anything else is the verb's own object ("resumes [checks on]", "suspends [penalties on firms shipping]", "halt [on]").
const GOODS_LEAD = /^[\s,]*(?:(?:all|some|most|its|their|the|further|more|new|exports?|shipments?|sales?|supplies|supply|of|to|对美|对日|向美国|向日本)\s*)*$/iu;
// A verb this close before the halting one lifts or negates it ("ends [halt on]", "no longer halt", "suspends its halt").
const LIFTED_WITHIN = 3;
const HEDGE_BEFORE = 5; // "could [face] shortages", "plans to impose [new] tariffs"
const HEDGE_AFTER = 1; // "tariffs loom"
// Names between a verb or modal that hedges and its measure may be a list ("weighs adding CXMT, other Chinese
// chipmakers to ...", "may add SMIC, Hua Hong and CXMT to ..."); a hedge that is a noun, an adjective or a preposition
// hedges what it names, not a measure past them ("Ahead of the summit, China's Ministry of Commerce bans ...", "Amid
// threat of tariffs, China's commerce ministry bans ..."). Nor across a clause (actions.ts's CLAUSE_BREAK; a comma may
// part the names).
const NOT_A_HEDGING_VERB = /^(?:ahead of|upcoming|if|potential|possible|risk of|threat(?!en)|fears? of|pressure on|likely|draft|proposal|alleged|allege|brace|braces|braced|no plans|den(?:y|ies|ied)|avoid)/i;
const HEDGE_AFTER_KOREAN = 4; // Korean puts the hedge after the verb: "수출 통제 [강화] 추진", "수출 금지[할] 수도"
/**
 * Words before a measure that make it given, not asked about: a clause of its own ("Should the US worry as China halts
 * exports?", "... now that China has banned exports?", "... after US imposes controls?") or a possessive naming it
 * ("Will China's rare earth export halt last?"); not "such as" or "as expected".
 */
const PRESUPPOSED =
  /(?<!\bsuch\s)\bas\b(?!\s+(?:expected|usual|planned|feared|anticipated|well)\b)|\b(?:after|now that|since|when|because|while|once|following|amid|despite|given)\b|['’]s\s+(?:[\w-]+\s+){0,4}$/i;
/**
 * A title labelled as an event's announcement, a review of a book or a film, or paid content ("Workshop: complying with
 * the new BIS chip export rules", "Review: a new history revisits the 2010 rare earth standoff", "書評："): no news.
 */
const EVENT_LABEL =
  /^\s*(?:webinar|web seminar|online seminar|workshop|seminar|symposium|training course|panel discussion|live event|virtual event|roundtable|virtual roundtable|expo|expo preview|trade fair|masterclass|bootcamp|sponsored|advertorial|partner content|book now|register now|review|book review|film review|documentary|podcast|书评|書評|서평|影评)\s*[:：]/i;
/** A title that ends in a question mark, inside quotes or brackets or not. */
const QUESTION_END = /[?？][!！?？\s"'”’»)\]」』]*$/;
/**
 * A title that is one question, asking whether a measure will come ("Will US block more chip sales to China?"), only
 * wonders about it, as "could" does. Other questions ask about one that came ("Why did China ban gallium exports?") and
 * hedge nothing; so does a measure the question takes as given (PRESUPPOSED), and a title that also states something
 * ("Will the Dutch block ASML sales? Government bans exports").
 */
const ASKS_WHETHER = /^[\s"'“‘«([]*(?:[A-Z][\w-]*:\s*)?(?:will|would|could|might|may|shall|should)\s+(?!\d)[^?？]*[?？][!！?？\s"'”’»)\]]*$/i;
/**
 * The same in Chinese: a question whose measure follows a modal, a few characters before it at most, in the clause the
 * question ends ("中国会禁止镓出口吗？", "中国将全面禁止镓出口吗？"; not "中国将禁止镓出口，美国会报复吗？").
 */
const HAN_MODAL_BEFORE = /(?:会|将|要|是否|可能)[^，,、；;\s　]{0,4}$/;
/**
 * The same in Korean, which asks after the verb: a question ending the clause of its measure, in Hangul to the end,
 * not in the past and not asking why or how ("중국, 갈륨 수출 금지할까?"; not "중국은 왜 갈륨 수출을 금지했나?" or
 * "중국 갈륨 수출 금지, 한국은 괜찮을까?").
 */
const KOREAN_ASKS_FROM_SIGNAL = /^[\uac00-\ud7a3\s]{1,24}(?:까|나|는가|인가|는지)\s*[?？][\s"”'’」』]*$/;
const KOREAN_PAST = /[했었았됐였]/;
const KOREAN_ASKS_WHY = /왜|어떻게|얼마나|무엇|누가|어디/;
const HAN_IN_LAST_CLAUSE = /^[^，,、；;\s　]*[？?][\s"”」』]*$/;
const NEGATION_BEFORE = 4; // "will not [impose new] export controls", "denies reports of [new gallium] export ban"
const NEGATION_LATER = 3; // "export halt [is] denied by Beijing", "暂停稀土出口[消息]不实"
const NEGATION_LATER_HAN = 8; // each character a word, the goods after the flow: "停止供应[稀土的消息]不实"
const OBJECT_AFTER = 3; // "lifts [chip] tariffs", "eases [AI chip] export curbs"
const NEGATION_AFTER = 4; // Korean negates after the verb: "수출 금지[하지] 않겠다" (each syllable a word)
const BACKGROUND_BEFORE = 10; // "since [export controls were] introduced", "after [U.S. President Donald Trump imposed reciprocal] tariffs"
// A cause clause ends at a comma or a dash: what follows is the news ("retaliates against US chip curbs, bans gallium
// exports", "After US curbs, China bans ...").
const CAUSE_END = /[,;:，：；]|\s[-–—]\s/;
// A comma between figures is part of a date or a number ("After Beijing's Oct. 9, 2025 export ban, ..."): it ends nothing.
const FIGURE_COMMA = /(\d),(?=\s*\d)/g;
const PARTICIPLE_END = /(?:ed|en)$/i;
// Before a halt: "the", "its" or nothing between a lifting verb and the halt it ends ("lifts [its] halt of exports").
// After a halt: nothing, or Korean 조치 (the measure) and its particle ("수출 중단 [조치] 철회", withdraws the halt).
const LIFTED_AFTER_GAP = /^\s*(?:조치(?:를|가|는|도)?\s*)?$/;
const LIFTED_HALT_GAP = /^\s*(?:(?:the|its|their|a)\s+)?$/i;

export class Analyser {
  // Reused for every field: analysis is synchronous and keeps only numbers and slices of the original text.
  private readonly scratch = createScratch();

  /** Each exclusion's sameSense words as senseWord compares them, worked out once per lexicon. */
  private readonly sameSense: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(
    private readonly lexicon: CompiledLexicon,
    private readonly matcher: Matcher,
  ) {
    this.sameSense = new Map([...lexicon.exclusions].flatMap(([id, x]) => (x.sameSense ? [[id, new Set(x.sameSense.map(senseWord))] as const] : [])));
  }

  analyse(item: Item): ItemAnalysis {
    const out: ItemAnalysis = { entities: [], signals: [], exclusions: [], excludes: [], analysis: false, explainer: false };
    const fields: Array<[ItemField, string | undefined]> = [
      ['title', item.title],
      ['summary', item.summary],
      ['content', item.content],
    ];
    for (const [field, text] of fields) {
      if (text) this.analyseField(field, text, out);
    }
    // Positions in a title of decomposed Hangul refer to its composed form (see analyseField).
    if (out.exclusions.length) out.entities = this.inOneSense(out.entities, out.exclusions, composed(item.title ?? ''));
    // Who acted is often named once for the whole story ("..., the commerce ministry said"): lend it to the rest.
    const official = out.entities.find((e) => e.kind === 'actor' && this.lexicon.entities.get(e.id)?.official);
    const lent = official && this.lexicon.entities.get(official.id);
    if (lent) for (const s of out.signals) if (!s.actor && actsFor(lent, s)) s.actor = lent;
    // A title that reports supply coming back ("Crossing reopens") is the news; a disruption its lede names as a cause
    // is what supply comes back from ("resumed processing after a three-week closure"). One the lede reports without a
    // cause word may be a new one ("A second quake on Thursday shut two other plants") and stays news.
    if (out.signals.some(resumesInTitle) && !out.signals.some(disruptsInTitle)) {
      for (const s of out.signals) if (s.field !== 'title' && s.cause && s.signal.class === 'disruption' && s.polarity === 'escalation') s.background = true;
    }
    // A question for a title is the mark of analysis or opinion ("Strategic leverage or disruption?").
    if (QUESTION_END.test(item.title ?? '')) out.analysis = true;
    if (EVENT_LABEL.test(item.title ?? '')) out.promotion = true;
    return out;
  }

  /**
   * A story keeps one sense of a word: where an exclusion with `sameSense` words is found ("chippies", "chocolate
   * chip"), those words mean it bare too ("Chip shortage hits Britain's chippies"), and are no entity of ours. In the
   * title it sets the sense of its clause and of the lede and body, unless another clause of the title names the word
   * in our sense ("China halts chip exports; potato shortage hits Europe": two stories); in a lede or body, of its own
   * sentence only, which may name food chips aside ("China halts chip exports. Potato chip makers were unaffected."). A
   * more specific term ("memory chip") is another word and stays.
   */
  private inOneSense(entities: EntityHit[], exclusions: readonly CueHit[], title: string): EntityHit[] {
    const titleClauses: Array<{ from: number; to: number; words: ReadonlySet<string> }> = [];
    const sentences = new Map<string, Set<string>>();
    for (const x of exclusions) {
      const words = this.sameSense.get(x.id);
      if (!words) continue;
      if (x.field === 'title') titleClauses.push({ ...clauseAround(title, x.position), words });
      else {
        const at = `${x.field}:${x.sentence}`;
        for (const word of words) sentences.set(at, (sentences.get(at) ?? new Set()).add(word));
      }
    }
    if (titleClauses.length === 0 && sentences.size === 0) return entities;
    const silencedInTitle = (e: EntityHit, word: string) => titleClauses.some((c) => c.words.has(word) && e.position >= c.from && e.position < c.to);
    const lede = new Set(titleClauses.flatMap((c) => [...c.words]));
    for (const e of entities) {
      const word = senseWord(e.text);
      if (e.field === 'title' && lede.has(word) && !silencedInTitle(e, word)) lede.delete(word);
    }
    return entities.filter((e) => {
      const word = senseWord(e.text);
      if (e.field === 'title') return !silencedInTitle(e, word);
      return !lede.has(word) && !sentences.get(`${e.field}:${e.sentence}`)?.has(word);
    });
  }

  private analyseField(field: ItemField, original: string, out: ItemAnalysis): void {
    // Decomposed Hangul (conjoining jamo, as some Mac and web sources send it) would never match a syllable of the
    // lexicon. Composing it changes offsets, so positions then refer to the composed text, which reads the same.
    const text = composed(original);
    const norm = normalizeText(text, this.scratch);
    const hits = this.matcher.find(norm, text);
    // Most fields of most items name no term at all: nothing below would add anything.
    if (hits.length === 0) return;
    const byFirm = new Set<Hit>();
    const failed = this.readField(field, text, norm, hits, out, true, byFirm);
    // A split signal that does not hold may still hold words that do ("Shenghe orders its units to halt exporting" is no
    // state's ban, but a halt): read on their own. Rare, so the field is read again.
    if (failed.size) this.readField(field, text, norm, withDisplaced(hits, failed), out, false, byFirm);
  }

  /**
   * Reads one field's hits into the analysis. With `splitsMayFail`, the joined split signals whose words are to be read
   * on their own are returned instead, and nothing is added: the caller reads the field again without them. Those are
   * the ones that miss their required cue, and those that no state gives but a firm does.
   */
  private readField(
    field: ItemField,
    text: string,
    norm: NormalizedText,
    hits: Hit[],
    out: ItemAnalysis,
    splitsMayFail: boolean,
    byFirm: Set<Hit>,
  ): Set<Hit> {
    const failed = new Set<Hit>();
    const unheld: SignalHit[] = [];
    const exclusions: CueHit[] = [];
    const excludes: CueHit[] = [];
    const entities: EntityHit[] = [];
    let signals: Array<SignalHit> = [];
    const actions: CueHit[] = [];
    const cues: CueHit[] = [];
    for (const hit of hits) {
      const term = this.matcher.terms[hit.term];
      // Hits are built field by field rather than spread from one object: spreads are the slowest part of this loop.
      const from = norm.origin[hit.start];
      const to = norm.origin[hit.end - 1] + 1;
      const token = tokenAt(norm, hit.start);
      const tokenEnd = tokenAt(norm, hit.end - 1);
      const sentence = sentenceAt(norm, hit.start);
      const words = text.slice(from, to);
      const { start, end } = hit;
      switch (term.kind) {
        case 'signal': {
          const signal = this.lexicon.signals.get(term.id)!;
          signals.push({ field, start, end, token, tokenEnd, sentence, text: words, position: from, signal, polarity: signal.direction, action: undefined, flow: undefined, hedged: false, background: false, cause: false, apart: false, inForce: false, offTopic: false, actor: undefined, countries: [], split: splitsMayFail && hit.displaced ? hit : undefined });
          break;
        }
        case 'action':
          actions.push({ field, start, end, token, tokenEnd, sentence, text: words, position: from, id: term.id, scope: undefined });
          break;
        case 'cue':
          // "会不会" (will or will not), "是不是": a Chinese question asking either way, with or without a question mark,
          // is a hedge, not a negation.
          const id = term.id === 'negation' && asksEitherWay(text, from, words) ? 'hedge' : term.id;
          cues.push({ field, start, end, token, tokenEnd, sentence, text: words, position: from, id, scope: undefined });
          break;
        case 'exclusion':
          exclusions.push({ field, start, end, token, tokenEnd, sentence, text: words, position: from, id: term.id, scope: undefined });
          break;
        case 'watch-exclude':
          excludes.push({ field, start, end, token, tokenEnd, sentence, text: words, position: from, id: term.id, scope: term.scope });
          break;
        default:
          entities.push({ field, start, end, token, tokenEnd, sentence, text: words, position: from, id: term.id, kind: term.kind, scope: term.scope });
      }
    }

    // Everything below relates a signal to what shares its sentence: group once, look up per signal.
    const cuesBySentence = groupBySentence(cues);
    const near = (group: string, s: Located, before: number, after: number) =>
      (cuesBySentence.get(s.sentence) ?? NONE).some((c) => c.id === group && nearBy(c, s, before, after));
    const inSentence = (group: string, s: Located) => (cuesBySentence.get(s.sentence) ?? NONE).some((c) => c.id === group);
    const between = (a: Located, b: Located) => text.slice(norm.origin[a.end - 1] + 1, norm.origin[b.start]);
    const causeOf = (group: string, s: Located) =>
      (cuesBySentence.get(s.sentence) ?? NONE).some(
        (c) => c.id === group && nearBy(c, s, BACKGROUND_BEFORE, -1) && !(c.tokenEnd < s.token && CAUSE_END.test(between(c, s).replace(FIGURE_COMMA, '$1'))),
      );
    // A cue a signal needs a few words away belongs to its clause: in "Cobalt falls as Congo supply floods the market"
    // the fall is cobalt's price, not the supply's.
    const required = (s: SignalHit, group: string, within: number) =>
      (cuesBySentence.get(s.sentence) ?? NONE).some(
        (c) => c.id === group && nearBy(c, s, within, within) && (within > CLAUSE_BOUND_WITHIN || c.start > s.start || !CONJUNCTION.test(between(c, s))),
      );
    signals = signals.filter((s) => {
      const holds = !s.signal.requires || required(s, s.signal.requires, s.signal.within) || watchedAfter(s, entities, s.signal.watchedObject);
      // Not an order to stop selling abroad or selling what we watch ("US orders Nvidia to halt exports"): its words
      // still say what they say on their own, whoever gave the order.
      if (!holds && s.split) failed.add(s.split);
      return holds;
    });
    // A denial after a signal denies it. Chinese reaches further (each character a word) but only within the clause:
    // in "中国暂停稀土对美出口，恢复供应传言不实" the rumour denied is the resumption, not the halt.
    const deniedAfter = (s: Located) =>
      HAN.test(s.text)
        ? (cuesBySentence.get(s.sentence) ?? NONE).some(
            (c) => c.id === 'negation-later' && nearBy(c, s, -1, NEGATION_LATER_HAN) && (c.start <= s.end || !HAN_CLAUSE_BREAK.test(s.text.slice(-1) + between(s, c) + c.text.slice(0, 1))),
          )
        : near('negation-later', s, -1, NEGATION_LATER);
    // A denied or ruled-out measure is no signal: not news, and not a lifting either ("China will not ban gallium").
    // Korean negations are few: grouped apart, checking every verb against them costs nothing in a long text.
    const negations = groupBySentence(cues.filter((c) => c.id === 'negation-after' || c.id === 'negation-void'));
    const negatedLater = (s: Located) => negatedAfter(s, negations.get(s.sentence), between);
    signals = signals.filter(
      (s) =>
        !near('negation', s, NEGATION_BEFORE, -1) &&
        !negatedLater(s) &&
        !(s.signal.class !== 'licence' && deniedAfter(s)),
    );
    // A negated verb does nothing to the signal ("수출 금지 해제하지 않는다", does not lift the export ban).
    const acting = negations.size ? actions.filter((a) => !negatedLater(a)) : actions;
    if (acting.length) {
      const gaps: Gaps = {
        between,
        after: (a) => text.slice(norm.origin[a.end - 1] + 1),
        entityWords: entityWordsOf(entities),
        hasObject: (a, cls) => signals.some((o) => o.sentence === a.sentence && o.signal.class === cls && o.token > a.tokenEnd && o.token - a.tokenEnd - 1 <= OBJECT_AFTER),
        signalBetween: (a, b) => signalBetween(signals, a, b),
        qualifies: (s) => (cuesBySentence.get(s.sentence) ?? NONE).some((c) => qualifies(s, c, between)),
      };
      const read = signals;
      signals = oneReading(read, read.map((s) => this.applyAction(s, acting, gaps)));
    }
    // The words before a hit in its sentence, at most LEAD_CHARS of them: enough to see what the hit follows.
    const lead = (a: Located) => text.slice(Math.max(norm.origin[norm.sentenceStarts[a.sentence]], a.position - LEAD_CHARS), a.position);
    if (signals.some((s) => s.signal.state)) {
      const fieldCase: FieldCase = {
        // A field in capitals hides which words are acronyms (see namesNationality).
        caseless: !LOWER.test(text),
        // Only where most words are in lower case does a capital mark a name ("Chinese EV maker [BYD] halts exports").
        capitalsMarkNames: LOWER_WORD.test(text),
        byFirm,
      };
      const subjects = this.subjectsOf(entities, cuesBySentence, between, fieldCase);
      signals = this.byState(signals, cuesBySentence, { between, lead }, unheld, subjects);
      // No state gave the order: a firm's own order still halts what it names; a senator's, a union's or a court's
      // demand is no halt at all.
      for (const s of unheld) {
        if (!subjects.firmSubject(s)) continue;
        failed.add(s.split!);
        byFirm.add(s.split!);
      }
    }
    if (failed.size) return failed;
    if (field === 'title' && cues.some((c) => c.id === 'analysis')) out.analysis = out.explainer = true;
    if (field === 'title' && cues.some((c) => c.id === 'promotion' || (c.id === 'registration' && OPENS_TITLE.test(text.slice(0, c.position)) && cues.some((e) => e.id === 'event')))) {
      out.promotion = true;
    }
    this.addPairs(field, entities);
    // Names between a hedging verb and its measure do not take the hedge away (see NOT_A_HEDGING_VERB).
    const entityWords = entityWordsOf(entities);
    const hedgedPastNames = (s: Located) =>
      (cuesBySentence.get(s.sentence) ?? NONE).some(
        (c) =>
          (c.id === 'hedge' || c.id === 'hedge-before') &&
          !NOT_A_HEDGING_VERB.test(c.text) &&
          c.tokenEnd < s.token &&
          gap(c, s) - entityWords(c, s) <= HEDGE_BEFORE &&
          !CLAUSE_BREAK.test(between(c, s)),
      );
    // A signal that opens with a hedge's word is that verb's own measure ("denies gallium export licences" refuses
    // them); one inside it still hedges it ("rare earth stocks could run out").
    const opensWith = (c: Located, s: Located) => c.start === s.start;
    const hedgeNear = (group: string, s: Located, before: number, after: number) =>
      (cuesBySentence.get(s.sentence) ?? NONE).some((c) => c.id === group && !opensWith(c, s) && nearBy(c, s, before, after));
    if (signals.length) this.placeSignals(signals, entities, hedgeNear, inSentence, causeOf, hedgedPastNames);
    if (field === 'title' && oneSentence(norm)) {
      if (ASKS_WHETHER.test(text)) for (const s of signals) if (!PRESUPPOSED.test(text.slice(0, s.position))) s.hedged = true;
      for (const s of signals) if (HAN.test(s.text) && HAN_MODAL_BEFORE.test(text.slice(0, s.position)) && HAN_IN_LAST_CLAUSE.test(text.slice(s.position))) s.hedged = true;
      if (!KOREAN_ASKS_WHY.test(text)) {
        for (const s of signals) {
          const rest = text.slice(s.position);
          if (HANGUL.test(s.text) && KOREAN_ASKS_FROM_SIGNAL.test(rest) && !KOREAN_PAST.test(rest)) s.hedged = true;
        }
      }
    }
    if (field !== 'title') {
      const sentenceEnd = (k: number) => (k + 1 < norm.sentences && norm.sentenceStarts[k + 1] < norm.length ? norm.origin[norm.sentenceStarts[k + 1]] : text.length);
      const apart = new Map<number, boolean>();
      for (const s of signals) {
        let is = apart.get(s.sentence);
        if (is === undefined) apart.set(s.sentence, (is = ANOTHER_EVENT.test(text.slice(norm.origin[norm.sentenceStarts[s.sentence]], sentenceEnd(s.sentence)))));
        s.apart = is;
      }
    }
    out.entities.push(...entities);
    out.signals.push(...signals);
    out.exclusions.push(...exclusions);
    out.excludes.push(...excludes);
    return failed;
  }

  /** What each signal's sentence says about it: hedged, background, in force, off topic, its actor and countries. */
  private placeSignals(
    signals: SignalHit[],
    entities: EntityHit[],
    hedgeNear: (group: 'hedge' | 'hedge-before', s: Located, before: number, after: number) => boolean,
    inSentence: (group: string, s: Located) => boolean,
    causeOf: (group: 'background' | 'evasion', s: Located) => boolean,
    hedgedPastNames: (s: Located) => boolean,
  ): void {
    const entitiesBySentence = groupBySentence(entities);
    // The actor is usually named in the signal's sentence, else elsewhere in the same field ("..., the ministry said").
    const actorsOf = (list: EntityHit[]) => list.filter((e) => e.kind === 'actor').map((e) => this.lexicon.entities.get(e.id)!);
    const fieldActor = pickActor(actorsOf(entities));
    const sentenceInfo = new Map<number, { actor?: EntityInfo; countries: string[] }>();
    for (const [sentence, list] of entitiesBySentence) {
      const countries = new Set<string>();
      for (const e of list) {
        const info = this.lexicon.entities.get(e.id);
        if (e.kind === 'country' && info && !info.pair) countries.add(e.id);
        else if (info?.country) countries.add(info.country);
      }
      sentenceInfo.set(sentence, { actor: pickActor(actorsOf(list)), countries: [...countries] });
    }

    for (const s of signals) {
      // Hedged already where the state heads it through a verb of intent (see byState).
      s.hedged ||= hedgeNear('hedge', s, HEDGE_BEFORE, HANGUL.test(s.text) ? HEDGE_AFTER_KOREAN : HEDGE_AFTER) || hedgeNear('hedge-before', s, HEDGE_BEFORE, -1) || hedgedPastNames(s);
      s.background = s.cause = causeOf('evasion', s) || causeOf('background', s);
      s.inForce = inSentence('in-force', s);
      s.offTopic = inSentence('off-topic', s);
      const info = sentenceInfo.get(s.sentence);
      s.countries = info?.countries ?? [];
      s.actor = info?.actor ?? (actsFor(fieldActor, s) ? fieldActor : undefined);
    }
    // A cause clause is background only beside the news it explains ("bans exports in response to sanctions").
    for (const s of signals) {
      if (!s.background || causeOf('evasion', s)) continue;
      // Investment or policy in reply to a measure is not the news it explains ("Japan to build gallium refinery after
      // China bans exports": the ban is), nor is a bare trade flow ("smelters forced to import ore after Indonesia trims
      // nickel mining quota": the quota cut is); a flow that moves is ("nickel ore imports climb since the 2020 ban").
      const news = (o: SignalHit) =>
        o.signal.class !== 'investment' && (o.signal.class !== 'flow' || inSentence('up-move', o) || inSentence('down-move', o));
      s.background = signals.some((o) => o !== s && o.sentence === s.sentence && !o.background && o.signal.weight > 0 && news(o));
    }
  }

  /** What the action that acts on the signal (see chooseAction) makes of it. */
  private applyAction(s: SignalHit, actions: CueHit[], gaps: Gaps): SignalHit {
    // Dual-use items are the goods under control: a verb that halts or resumes a flow halts or resumes them ("puts US firms
    // on its control list, halting dual-use items", "恢复两用物项出口"), where it would lift the controls themselves ("halts
    // export controls"). The control stays the signal (a trade measure), tightened or eased. As for any flow, a verb before
    // another signal acts on that one ("suspends export controls on dual-use items").
    if (GOODS_UNDER_CONTROL.test(s.text)) {
      const asFlow = chooseAction({ ...s, signal: { ...s.signal, class: 'flow' } }, actions, this.lexicon.actions, gaps);
      const flowEffect = asFlow?.entry.effects.flow;
      if (asFlow && (flowEffect === 'halt' || flowEffect === 'resume') && actsOnGoods(asFlow.action, s, actions, gaps)) {
        return { ...s, polarity: flowEffect === 'halt' ? 'escalation' : 'de-escalation', action: { entry: asFlow.entry, text: asFlow.action.text } };
      }
    }
    const best = chooseAction(s, actions, this.lexicon.actions, gaps);
    if (!best) return s;
    const effect = best.entry.effects[s.signal.class]!;
    // Only export licences are halted into an export halt; revoking a licence to operate or to import halts no supply.
    if (effect === 'halt' && s.signal.class === 'licence' && s.signal.id !== EXPORT_LICENCE_SIGNAL) return s;
    // Resuming or approving licences grants them, but not the rule that requires them ("恢复出口许可[管理]", "resumes
    // export licence [checks]"): that is reinstated, and another verb may still act ("resumes licence [suspensions]").
    if (effect === 'de-escalation' && s.signal.class === 'licence' && LICENCE_RULE_AFTER.test(gaps.after(s))) {
      return this.applyAction(s, actions.filter((a) => a !== best.action), gaps);
    }
    const action = { entry: best.entry, text: best.action.text };
    // Resuming export licences resumes the exports they allow ("China resumes rare earth export licences"), as
    // suspending them halts those exports; granting them is the licence's own easing.
    const resumesExports = effect === 'de-escalation' && s.signal.id === EXPORT_LICENCE_SIGNAL && best.entry.effects.flow === 'resume';
    if (effect === 'halt' || effect === 'resume' || resumesExports) {
      const lifting = effect === 'halt' ? liftingOf(best.action, s, actions, this.lexicon.actions, gaps) : undefined;
      const derived = effect === 'halt' ? this.haltOf(s, best.entry) : this.lexicon.signals.get(RESUME_SIGNAL)!;
      const from = best.action.start < s.start ? best.action : s;
      const to = best.action.end > s.end ? best.action : s;
      return {
        ...s,
        start: from.start,
        end: to.end,
        token: from.token,
        tokenEnd: to.tokenEnd,
        position: from.position,
        signal: derived,
        // Ending a halt eases it as lifting a ban does: the halt, de-escalated.
        polarity: lifting ? 'de-escalation' : derived.direction,
        action: lifting ? { entry: lifting.entry, text: lifting.action.text } : action,
        flow: s.text.toLowerCase(),
      };
    }
    if (s.signal.direction === 'de-escalation' && effect === 'de-escalation') return { ...s, action };
    // A relief extended is more relief ("USTR extends exclusions from Section 301 duties"); a truce or a deal suspended
    // is not (negotiation: the verb's own escalation), nor a waiver tightened or given new conditions.
    if (s.signal.direction === 'de-escalation' && effect === 'escalation' && RELIEF_CLASSES.has(s.signal.class) && best.entry.extendsRelief) return { ...s, action };
    return { ...s, polarity: effect === 'de-escalation' ? 'de-escalation' : 'escalation', action };
  }

  /**
   * Signals that only a state can send (see the lexicon's `state`): without a country or official actor in the sentence
   * (before the signal, for `subject`) they count as their `otherwise` signal or not at all. Outside the title the
   * subject may be named earlier in the field ("The ministry said. It will halt exports").
   */
  private byState(signals: SignalHit[], cues: Map<number, CueHit[]>, words: Words, unheld: SignalHit[], subjects: Subjects): SignalHit[] {
    const { between } = words;
    const { states, companies, nationality, firmSubject } = subjects;
    // Words that name a state without its country count as one where they lead the verb ("Government bans", "Kremlin
    // bans", "Decree bans"), not as a noun's modifier ("Government contractor bans", "Law firm bans").
    const stateWords = groupBySentence([...cues.values()].flat().filter((c) => c.id === 'state-word'));
    let first = Infinity;
    for (const sentence of states.keys()) first = Math.min(first, sentence);
    const out: SignalHit[] = [];
    for (const s of signals) {
      const mode = s.signal.state;
      // "Beijing tells Japan to stop shipping chip tools to Taiwan": an order to another state is a diplomatic demand.
      const demand = mode === 'head' && addressesCountry(s, states.get(s.sentence));
      const holds = (rule: SignalEntry['state']) =>
        !rule ||
        (s.field !== 'title' && first < s.sentence && (rule !== 'head' || pointsBack(s, companies.get(s.sentence), words))) ||
        (!!states.get(s.sentence)?.some(
          (e) =>
            rule === 'sentence' ||
            (e.end <= s.start &&
              !nonStateBetween(e, s, cues.get(s.sentence)) &&
              !nationality(e, s) &&
              (rule !== 'head' || headsSignal(e, s, companies.get(s.sentence), words))),
        ) &&
          !(rule === 'sentence' && firmSubject(s))) ||
        !!stateWords.get(s.sentence)?.some((e) => e.end <= s.start && headsSignal(e, s, companies.get(s.sentence), words)) ||
        // "Rare earth firms barred by Beijing from exporting": the state is the passive's agent, inside the signal.
        (rule !== 'sentence' && [...(states.get(s.sentence) ?? NONE), ...(stateWords.get(s.sentence) ?? NONE)].some((e) => passiveAgent(s, e)));
      const found = !demand && holds(mode);
      // "Judge blocks US from barring Nvidia from selling": the state is stopped from acting; its ban is eased.
      const overruled =
        mode === 'subject' &&
        !!states.get(s.sentence)?.some((e) => e.end <= s.start && OVERRULED_GAP.test(between(e, s)) && (cues.get(s.sentence) ?? NONE).some((c) => c.id === 'overrule' && c.tokenEnd === e.token - 1));
      if (found && overruled) out.push({ ...s, polarity: 'de-escalation' });
      else if (found && mode === 'head' && headedByIntent(s, [...(states.get(s.sentence) ?? NONE), ...(stateWords.get(s.sentence) ?? NONE)], companies.get(s.sentence), words)) out.push({ ...s, hedged: true });
      else if (found) out.push(s);
      else if (s.signal.otherwise && (mode !== 'head' || this.fallsBack(s, holds, companies.get(s.sentence)))) {
        const signal = this.lexicon.signals.get(s.signal.otherwise)!;
        out.push({ ...s, signal, polarity: s.polarity === s.signal.direction ? signal.direction : s.polarity });
      } else if (s.split) unheld.push(s);
    }
    return out;
  }

  /**
   * Whether a signal only a state leading it gives, and none does, counts as its `otherwise`: only where that holds by its
   * own state rule ("China on Thursday blocked rare earth sales to the US" is a blocking, "Court blocks memory chip sales
   * to China" none) and names no company inside ("Judge blocks [Nvidia] sales", "US board blocks [Micron] sales": that
   * company's matter, not a blocking of the goods).
   */
  private fallsBack(s: SignalHit, holds: (mode: SignalEntry['state']) => boolean, companies: readonly Located[] | undefined): boolean {
    return holds(this.lexicon.signals.get(s.signal.otherwise!)!.state) && !companies?.some((c) => c.start > s.start && c.end < s.end);
  }

  /**
   * Who may be a signal's subject in a field: states (countries, official actors) and firms (companies, and nouns that
   * name one: "Chinese [miner] halts exports"). A country right before a firm that leads the signal is its nationality,
   * not a state acting ("Chinese firm Shenghe halts exports", "China's Shenghe"; but "Chinese firms banned from
   * exporting" is a state's ban); a firm before the signal with no state before it is the subject (see firmSubject).
   */
  private subjectsOf(entities: EntityHit[], cues: Map<number, CueHit[]>, between: Between, field: FieldCase): Subjects {
    const { caseless, capitalsMarkNames, byFirm } = field;
    const isState = (e: EntityHit) => e.kind === 'country' || (e.kind === 'actor' && !!this.lexicon.entities.get(e.id)?.official);
    const states = groupBySentence(entities.filter(isState));
    const named = entities.filter((e) => e.kind === 'company' || e.kind === 'supplier');
    const companies = groupBySentence(named);
    const firms = groupBySentence<Located>([...named, ...[...cues.values()].flat().filter((c) => c.id === 'company-noun')]);
    for (const list of firms.values()) list.sort((a, b) => a.start - b.start);
    const modified = nationalities(states, firms, between, entityWordsOf(entities), caseless);
    // A firm leads a signal when it, or the name right after it ("firm [Shenghe]"), stands right before the verb and the
    // verb is not done to it: "Chinese miner halts exports" is the miner's halt, but in "Chinese firms [banned from]
    // exporting", "Chinese firms [ordered to] halt exports" or "Exporters [say] shipments halted" a state acts.
    const leads = (f: Located, s: Located) => {
      const list = firms.get(f.sentence)!;
      let end = f;
      for (let i = list.indexOf(f) + 1; i < list.length && list[i].start >= end.end && /^\s*$/.test(between(end, list[i])); i++) end = list[i];
      return end.end <= s.start && (capitalsMarkNames ? NAMED_FIRM_LEADS : FIRM_LEADS).test(between(end, s)) && !PASSIVE.test(s.text);
    };
    const nationality = (e: Located, s: Located) => {
      const firm = modified.get(e);
      return !!firm && firm.end <= s.start && leads(firm, s);
    };
    // A firm is the subject with no state before the signal: a company named before it ("Lynas halts shipments to Japan":
    // a country named after the signal is where the goods were going, not who stopped them), or a firm noun leading it
    // ("Exporters say shipments halted" is a report, not the exporters' halt).
    const isNamed = new Set<Located>(named);
    // The words of a firm's order read again are the firm's ("Investment firm tells portfolio companies to [stop exporting]").
    const firmSubject = (s: Located) =>
      within(s, byFirm) ||
      (!!firms.get(s.sentence)?.some((f) => f.end <= s.start && (isNamed.has(f) || leads(f, s))) &&
        !states.get(s.sentence)?.some((e) => e.end <= s.start && !nationality(e, s)));
    return { states, companies, nationality, firmSubject };
  }

  /**
   * The signal a halt of the signal's flow creates. Stopping exports or export licences outright cuts buyers off; a verb
   * stops outright when it can halt licences too ("suspends", "ends"), not when it only cuts or delays ("cuts exports").
   */
  private haltOf(s: SignalHit, action: ActionEntry): SignalEntry {
    const cutsBuyersOff = (s.signal.id === EXPORT_FLOW_SIGNAL || s.signal.id === EXPORT_LICENCE_SIGNAL) && action.effects.licence === 'halt';
    return (cutsBuyersOff && this.lexicon.signals.get(EXPORT_HALT_SIGNAL)) || this.lexicon.signals.get(HALT_SIGNAL)!;
  }

  /** Two countries of a pair in one sentence ("Washington and Beijing agree...") stand for the pair. */
  private addPairs(field: ItemField, entities: EntityHit[]): void {
    if (this.lexicon.pairs.length === 0) return;
    const bySentence = new Map<number, EntityHit[]>();
    for (const e of entities) {
      if (e.kind !== 'country' && e.kind !== 'actor') continue;
      bySentence.set(e.sentence, [...(bySentence.get(e.sentence) ?? []), e]);
    }
    for (const [sentence, hits] of bySentence) {
      for (const pair of this.lexicon.pairs) {
        if (hits.some((h) => h.id === pair.id)) continue;
        const countryOf = (h: EntityHit) => (h.kind === 'country' ? h.id : this.lexicon.entities.get(h.id)?.country);
        const first = hits.find((h) => countryOf(h) === pair.pair![0]);
        const second = hits.find((h) => countryOf(h) === pair.pair![1]);
        if (!first || !second) continue;
        const a = first.start < second.start ? first : second;
        const b = a === first ? second : first;
        entities.push({ ...a, end: b.end, tokenEnd: b.tokenEnd, sentence, text: `${a.text} … ${b.text}`, id: pair.id, kind: 'country', field });
      }
    }
  }
}

const NONE: CueHit[] = [];

/** How to read the original text around the hits of one field. */
interface Words {
  /** The words between two hits, punctuation included. */
  between: (a: Located, b: Located) => string;
  /** The words before a hit in its sentence, at most LEAD_CHARS of them. */
  lead: (a: Located) => string;
}

const OVERRULED_GAP = /^\s*from\s*$/i;
// What may stand between a state and the verb it heads: its government or ministry, "says it will", auxiliaries,
// adverbs and verbs of intent or of a step taken ("US orders", "Korea's trade ministry orders", "China says it will no
// longer allow", "US could block", "US is set to block", "US moves to block"), not a noun of its own ("Korean union
// orders", "US senator tells").
// Verbs of intent a state leads a verb through, present only: "US had planned to block", "US was set to block ... until
// Trump intervened" tell of a plan that is over.
const HEAD_INTENT_WORDS =
  'could|may|might|shall|set|poised|about|expected|likely|plans?|planning|prepares?|preparing|seeks?|seeking|threatens?|threatening|' +
  'vows?|pledges?|promises?|wants?|aims?|tries|trying|looks?|looking|intends?';
// Verbs of a step taken: the state leads the verb after them as a fact ("US moves to block").
const HEAD_STEP_WORDS = 'moves?|moved|moving|decides?|decided|agrees?|agreed|votes?|voted';
// Verbs that weigh doing the gerund after them (see ASPECT_THEN), present only like the verbs of intent.
const WEIGHING_WORDS = 'considers?|considering|weighs?|weighing|mulls?|mulling|eyes|eyeing';
const HEAD_AUXILIARY =
  'will|would|to|has|have|had|is|are|was|were|be|been|now|also|no longer|formally|officially|reportedly|quietly|again|effectively|soon|further|' +
  `finally|${HEAD_STEP_WORDS}|${HEAD_INTENT_WORDS}`;
const HEAD_GAP = new RegExp(
  `^\\s*(?:(?:'s|’s)?\\s*(?:[\\w-]+\\s+){0,2}(?:government|ministry|department|authorities|officials|administration|cabinet|president|prime minister)\\s*|(?:'s|’s)\\s*)?(?:(?:says?|said)\\s+(?:it|they)\\s+)?(?:(?:${HEAD_AUXILIARY})\\b\\s*)*$`,
  'i',
);
// Of those, the ones that make the verb a plan, a threat or a wish rather than a step taken ("US [could] block", "US [is
// set to] block", "US [wants to] block", "US [weighs] blocking"): the measure is hedged, as the lexicon's hedge cues do.
const HEAD_INTENT = new RegExp(`\\b(?:${HEAD_INTENT_WORDS}|${WEIGHING_WORDS})\\b`, 'i');
// A gap that leads no verb although its words may: a plan or step given up ("US [no longer plans to] block") or over
// ("US [had planned to] block", "US [was set to] block"), and a passive ("China [was] blocked from chip sales").
const GIVEN_UP_OR_OVER = new RegExp(`\\b(?:no longer|had|was|were)\\b.*\\b(?:${HEAD_INTENT_WORDS}|${HEAD_STEP_WORDS})\\b`, 'i');
const BE_LAST = /\b(?:is|are|was|were|be|been)\s*$/i;
const MAX_HEAD_GAP = 120;
// The subject that points back to a state named in an earlier sentence: "It ordered", "They have told", "The commerce
// ministry ordered", "..., it said it told". Any other subject is a noun of its own ("The union ordered", "A Delaware
// judge ordered") and the earlier state is not the one giving the order.
const ANAPHORIC_HEAD = /(?:^|[:;,"“(]\s*|\b(?:says?|said|added|announced)\s+)(?:it|they|(?:the|its|their)\s+(?:[\w.-]+\s+){0,2}(?:ministry|department|government|administration|authorities|officials|cabinet))\s+(?:(?:has|have|had|also|now|then|later|will|would|reportedly|formally|on\s+\w+)\s+)*$/i;
// What may stand before a state that heads a verb: it opens its clause ("US orders", "Exclusive: US orders", "UPDATE
// 2-US orders", "Lutnick says US will order", "why the US told"). After another word it is that verb's object or a
// noun's modifier: "Lawmakers want [White House] to order", "Senators press [US] to order", "Former [US] officials tell".
const HEAD_LEAD = /(?:^|[:|\-–—"“”‘’(;,]|'s|’s|\b(?:says?|said|reports?|reported|that|the|and|will|would|could|should|can|did|does|do|why|how|when|if|as|after|before|while)\b|^[\w]+\s+[\d.]+-)\s*$/i;
// The verb, then the country it addresses, then "to": "tells [Japan] to", "no longer allows [the Netherlands] to".
const ADDRESSEE_BEFORE = /^(?:no\s+longer\s+)?\S+\s+(?:the\s+)?$/i;
const ADDRESSEE_AFTER = /^\s+to\s/i;
// How far back the lead is read: its last words decide, and the regex costs as much as the text it is given.
const LEAD_CHARS = 40;
const HANGUL = /[\uac00-\ud7a3]/;
const HAN = /\p{Script=Han}/u;
// A comma, a semicolon or a space between Chinese characters ends a Chinese clause.
const HAN_CLAUSE_BREAK = /[，,；;]|\p{Script=Han}\s+\p{Script=Han}/u;
const HANGUL_JAMO = /[\u1100-\u11ff]/;

/**
 * Whether a Korean negation after the signal or verb denies it ("수출 금지하지 않겠다", will not ban; "수출 금지 안 한다").
 * Only its own verb ending may stand between them: another verb is what is negated ("수출 통제 굽히지 않고 강화", does
 * not bend and tightens; "금지 파장 적지 않았다", the fallout was not small). A double negative or a reported claim the
 * news contradicts voids it ("안 할 이유 없다", no reason not to; "안 한다더니 결국 중단", said it would not, then did).
 */
function negatedAfter(s: Located, cues: CueHit[] | undefined, between: (a: Located, b: Located) => string): boolean {
  if (!cues) return false;
  return cues.some(
    (c) =>
      c.id === 'negation-after' &&
      c.token > s.tokenEnd &&
      c.token - s.tokenEnd - 1 <= NEGATION_AFTER &&
      OWN_VERB_ENDING.test(between(s, c)) &&
      !cues.some((v) => v.id === 'negation-void' && v.end > c.end && gap(c, v) <= 1),
  );
}

// What may stand between a Korean signal or verb and its negation: a particle, then 하다/되다/시키다 with a -지 ending.
// A closing quote may come first: a headline quotes the report it denies ('"수출 중단" 보도 사실 아냐').
const OWN_VERB_ENDING = /^\s*["'”’」』]?\s*(?:[을를은는도이가]\s*)?(?:하|되|시키)?(?:지|지는|지도|지를|지가)?\s*$/;

/**
 * The verb that ends a halt, read as a resumption ("lifts [its] halt of rare earth exports", "ends suspension of
 * exports", "halt of gallium exports lifted", "수출 중단 해제"): right before the halting verb, or right after the halt.
 */
function liftingOf(
  halting: CueHit,
  s: Located,
  actions: readonly CueHit[],
  entries: ReadonlyMap<string, ActionEntry>,
  gaps: Gaps,
): { action: CueHit; entry: ActionEntry } | undefined {
  for (const a of actions) {
    if (a === halting || a.sentence !== s.sentence) continue;
    const entry = entries.get(a.id)!;
    if (entry.effects.disruption !== 'de-escalation') continue;
    // A verb that resumes what it takes as its object does it again: "resumes [revoking] licences" ends no halt.
    if (entry.effects.flow === 'resume' && a.tokenEnd < halting.token && gap(a, halting) === 0 && GERUND.test(halting.text)) continue;
    const before = a.tokenEnd < halting.token && halting.tokenEnd < s.token && LIFTED_HALT_GAP.test(gaps.between(a, halting));
    const last = halting.tokenEnd < s.token ? s : halting;
    // After it, an English participle ("halt of exports lifted", not "halts exports lifting prices") or Korean.
    const after = a.token > last.tokenEnd && LIFTED_AFTER_GAP.test(gaps.between(last, a)) && (HANGUL.test(a.text) || PARTICIPLE_END.test(a.text));
    if (before || after) return { action: a, entry };
  }
  return undefined;
}

/**
 * Whether the flow qualifies a noun right after it, the verb's real object ("ends supply [talks]"), or is of other
 * goods ("cancels shipments of [cars]"): then no verb halts it.
 */
function qualifies(s: Located, c: CueHit, between: (a: Located, b: Located) => string): boolean {
  if (c.id === 'flow-object') return c.token === s.tokenEnd + 1;
  return c.id === 'off-topic' && c.token === s.tokenEnd + 2 && /^\s+of\s+$/i.test(between(s, c));
}

/**
 * Whether a signal other than a bare flow lies between two hits. Signals come in order of position: a binary search
 * finds the first after a, so a long text with thousands of signals costs only the few words between the two.
 */
function signalBetween(signals: readonly SignalHit[], a: Located, b: Located): boolean {
  let lo = 0;
  let hi = signals.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (signals[mid].token <= a.tokenEnd) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < signals.length && signals[i].token < b.token; i++) {
    const o = signals[i];
    if (o.tokenEnd < b.token && o.signal.class !== 'flow' && o.signal.weight > 0) return true;
  }
  return false;
}

/** Counts the words covered by entities between two hits; the coverage is built on first use (few signals need it). */
function entityWordsOf(entities: readonly Located[]): (a: Located, b: Located) => number {
  let prefix: Int32Array | undefined;
  return (a, b) => {
    if (!prefix) {
      let last = 0;
      for (const e of entities) last = Math.max(last, e.tokenEnd + 1);
      const covered = new Uint8Array(last);
      for (const e of entities) covered.fill(1, e.token, e.tokenEnd + 1);
      prefix = new Int32Array(last + 1);
      for (let i = 0; i < last; i++) prefix[i + 1] = prefix[i] + covered[i];
    }
    const from = Math.min(a.tokenEnd + 1, prefix.length - 1);
    const to = Math.min(Math.max(b.token, from), prefix.length - 1);
    return prefix[to] - prefix[from];
  };
}

/** Who may act in a field's sentences (see Analyser.subjectsOf). */
interface Subjects {
  /** Countries and official actors, by sentence. */
  states: Map<number, EntityHit[]>;
  /** Named companies and suppliers, by sentence. */
  companies: Map<number, EntityHit[]>;
  /** Whether a state is, for the signal, only the nationality of the firm that leads it. */
  nationality: (e: Located, s: Located) => boolean;
  /** Whether a firm, not a state, is the signal's subject. */
  firmSubject: (s: Located) => boolean;
}

/** What the field's words say of who acts in it (see subjectsOf). */
interface FieldCase {
  caseless: boolean;
  capitalsMarkNames: boolean;
  /** Split signals no state gave but a firm did: their words, read again, are that firm's. */
  byFirm: ReadonlySet<Hit>;
}

/**
 * Signals on the same words are one word read two ways (出口许可: a licence requirement, or licences). A verb that eases
 * one reading ("恢复", "批准" licences: resumed, approved) says which is meant, and a reading no verb acts on goes. `acted`
 * holds each signal of `read` (in order of position) as its action left it.
 */
function oneReading(read: readonly SignalHit[], acted: SignalHit[]): SignalHit[] {
  let out: SignalHit[] | undefined;
  for (let i = 0; i < read.length; i++) {
    let j = i;
    while (j + 1 < read.length && read[j + 1].start === read[i].start && read[j + 1].end === read[i].end) j++;
    if (j === i) {
      out?.push(acted[i]);
      continue;
    }
    let eased = false;
    for (let k = i; k <= j; k++) if (acted[k].action && acted[k].polarity === 'de-escalation') eased = true;
    if (eased) out ??= acted.slice(0, i);
    for (let k = i; k <= j; k++) if (!eased || acted[k].action) out?.push(acted[k]);
    i = j;
  }
  return out ?? acted;
}

/** Whether a hit lies within any of the given spans. */
function within(s: Located, spans: ReadonlySet<Hit>): boolean {
  for (const o of spans) if (o.start <= s.start && s.end <= o.end) return true;
  return false;
}

function groupBySentence<T extends Located>(list: T[]): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const x of list) {
    const group = out.get(x.sentence);
    if (group) group.push(x);
    else out.set(x.sentence, [x]);
  }
  return out;
}

/**
 * Whether an actor named elsewhere in the story can be credited with a signal: only when it acts for the country
 * that leads the signal's sentence ("China halts ... to US": not the White House), or when that sentence names none.
 */
function actsFor(actor: EntityInfo | undefined, s: SignalHit): boolean {
  return !!actor && (s.countries.length === 0 || s.countries[0] === actor.country);
}

/** An official actor if there is one, else any. */
function pickActor(actors: EntityInfo[]): EntityInfo | undefined {
  return actors.find((a) => a.official) ?? actors[0];
}

// What may stand between a country and the firm it is the nationality of: a possessive, then acronyms, compounds and
// the names of goods ("Chinese [EV] maker BYD", "Chinese [state-owned] miner", "Chinese [rare earth] miner", "US[-based]
// Micron"). Any other word is a verb with the country as its subject ("China [orders] firms to halt exports").
const POSSESSIVE = /^\s*(?:'s|’s)/;
const NATIONALITY_WORD = /^(?:[A-Z]{2,}s?|[\w-]*-[\w-]*)$/;
// A state that backs or owns a firm acts through it ("Beijing[-backed] firms").
const STATE_BACKED = /^-(?:backed|owned|controlled|run|funded|directed|sponsored)\b/i;
const LOWER = /\p{Ll}/u;
// In capitals, acronyms are short ("US", "EV", "HBM"); longer words are anything ("ORDERS").
const SHOUTED_NATIONALITY_WORD = /^(?:[A-Z]{2,3}s?|[\w-]*-[\w-]*)$/;
const NATIONALITY_WORDS = 4;
// What may stand between a firm and the verb it leads ("Chinese miner [has] halted exports").
const FIRM_LEADS = /^\s*(?:(?:has|have|had|will|would|could|may|might|is|are|was|were|now|also|again|then)\s+)*$/i;
// The same, after the firm's name where the lexicon does not know it ("Chinese EV maker [BYD] halts exports").
const NAMED_FIRM_LEADS = /^\s*(?:[A-Z][\w.&-]*\s+){0,2}(?:(?:has|have|had|will|would|could|may|might|is|are|was|were|now|also|again|then)\s+)*$/;
const LOWER_WORD = /(?:^|\s)\p{Ll}{5,}/u;
// Words right after licences that make them the rule requiring licences, not the licences themselves.
const LICENCE_RULE_AFTER =
  /^(?:证)?(?:管理|要求|制度|审查|核查|管制|限制|规定)|^(?:s|es|ing)?\s+(?:requirements?|rules?|regimes?|systems?|suspensions?|checks?|reviews?|controls?|curbs?|restrictions?|revocations?|bans?|regulations?|scrutiny)\b/i;
// A passive verb and "by", with the agent right after them ("barred by [Beijing] from exporting").
const PASSIVE_AGENT = /^(?:banned|barred|blocked|forbidden|prohibited|ordered|told|directed|instructed|required)\s+by\s+(?:the\s+)?$/i;

/** Whether `e`, inside the signal's words, is the agent of its passive verb ("barred by [Beijing] from exporting"). */
function passiveAgent(s: SignalHit, e: Located): boolean {
  return e.start > s.start && e.end <= s.end && PASSIVE_AGENT.test(s.text.slice(0, e.position - s.position));
}

// A verb done to its subject: a ban or an order on firms is a state's ("Chinese firms [banned from] exporting",
// "[barred by Beijing from] selling").
const PASSIVE = /^(?:banned|barred|blocked|forbidden|prohibited|ordered|told|directed|instructed|asked|forced|required)\s+(?:by\s+(?:\S+\s+){1,5}?)?(?:from|to)\b/i;

/**
 * The firm each state is the nationality of ("[Chinese] firm", "[China]'s Shenghe"): the nearest firm after it, within a
 * few words, with only the words of a nationality between. Found once per field: a long text names hundreds of each.
 */
function nationalities(
  states: ReadonlyMap<number, readonly Located[]>,
  firms: ReadonlyMap<number, readonly Located[]>,
  between: Between,
  entityWords: (a: Located, b: Located) => number,
  caseless: boolean,
): Map<Located, Located> {
  const out = new Map<Located, Located>();
  for (const [sentence, list] of states) {
    const sorted = firms.get(sentence);
    if (!sorted) continue;
    for (const e of list) {
      for (let i = firstStartingFrom(sorted, e.end); i < sorted.length && sorted[i].token - e.tokenEnd - 1 <= NATIONALITY_WORDS; i++) {
        // Only the country nearest the firm is its nationality: in "China tells [US] firms to halt" China acts.
        if (list.some((o) => o.start >= e.end && o.end <= sorted[i].start)) break;
        if (!namesNationality(between(e, sorted[i]), entityWords(e, sorted[i]), caseless)) continue;
        out.set(e, sorted[i]);
        break;
      }
    }
  }
  return out;
}

/** Whether the words between a country and a firm (`entityWords` of them names of goods) leave the country its nationality. */
function namesNationality(words: string, entityWords: number, caseless: boolean): boolean {
  // A firm the state backs or owns acts for it ("[Beijing-backed] firms halt exports"): the state's halt.
  if (STATE_BACKED.test(words)) return false;
  const list = words.replace(POSSESSIVE, ' ').split(/\s+/).filter(Boolean);
  if (list.length > NATIONALITY_WORDS) return false;
  // In a headline in capitals every word looks like an acronym ("CHINA [ORDERS] FIRMS"): only short ones are taken.
  const word = caseless ? SHOUTED_NATIONALITY_WORD : NATIONALITY_WORD;
  let other = 0;
  for (const w of list) if (!word.test(w)) other++;
  return other <= entityWords;
}

/**
 * The words between a state and the verb it heads: its ministry, auxiliaries, and a verb that resumes or keeps doing
 * what follows it ("US resumes blocking chip sales to China"), before a gerund only.
 */
function headGap(between: string, signalText: string): boolean {
  if (HEAD_GAP.test(between)) return !GIVEN_UP_OR_OVER.test(between) && !(BE_LAST.test(between) && !GERUND_START.test(signalText));
  const aspect = ASPECT_THEN.exec(between);
  if (aspect === null || !GERUND_START.test(signalText)) return false;
  const before = between.slice(0, aspect.index);
  // "US no longer keeps blocking ...": the measure stops; the negation's own rules read that, not this one.
  return !NEGATED_ASPECT.test(before) && HEAD_GAP.test(before + ' ') && !GIVEN_UP_OR_OVER.test(before);
}
// A verb that resumes, keeps doing or weighs doing the gerund after it ("US keeps on blocking", "US weighs blocking");
// weighing it in the past is over ("US considered blocking ... but decided against it").
const ASPECT_THEN = new RegExp(`\\b(?:resumes?|resumed|restarts?|restarted|continues?|continued|(?:keeps?|kept)(?:\\s+on)?|${WEIGHING_WORDS})\\s*$`, 'i');
const GERUND_START = /^\S*ing\b/i;
const NEGATED_ASPECT = /\b(?:no longer|not|never|won['’]t|didn['’]t|doesn['’]t)\b/i;

/**
 * Whether the state heads the signal's verb (`state: head`): only its ministry or auxiliaries between them and no
 * company ("US orders Nvidia to stop", not "Chinese EV maker BYD tells suppliers to stop" or "Korean union orders").
 */
function headsSignal(state: Located, s: Located, companies: readonly Located[] | undefined, words: Words): boolean {
  // A state that heads a verb stands within a few words of it: a longer gap is not tried (nor timed) against HEAD_GAP.
  if (s.start - state.end > MAX_HEAD_GAP) return false;
  return (
    HEAD_LEAD.test(words.lead(state)) &&
    headGap(words.between(state, s), s.text) &&
    !companies?.some((c) => c.start >= state.end && c.end <= s.start)
  );
}

/**
 * Whether every state that heads the signal's verb does so through a verb of intent ("US [could] block", "US [is set
 * to] block"): a plan or a threat, not a step taken. False where none heads it (an earlier sentence's state, a passive).
 */
function headedByIntent(s: Located, states: readonly Located[], companies: readonly Located[] | undefined, words: Words): boolean {
  const heads = states.filter((e) => e.end <= s.start && headsSignal(e, s, companies, words));
  return heads.length > 0 && heads.every((e) => HEAD_INTENT.test(words.between(e, s)));
}

/**
 * Whether the signal's verb is headed by a state named in an earlier sentence of the summary (`state: head`): its subject
 * points back to it ("US curbs stay. It told Nvidia to stop") and no company comes first ("US curbs stay. Nvidia told
 * distributors to stop" is the company's own order).
 */
function pointsBack(s: Located, companies: readonly Located[] | undefined, words: Words): boolean {
  return ANAPHORIC_HEAD.test(words.lead(s)) && !companies?.some((c) => c.end <= s.start);
}

/** Whether the verb of a split signal addresses only a country: "tells [Japan] to stop", "orders [the Netherlands] to halt". */
function addressesCountry(s: Located, states: readonly EntityHit[] | undefined): boolean {
  return !!states?.some(
    (e) =>
      e.kind === 'country' &&
      e.start > s.start &&
      e.end < s.end &&
      ADDRESSEE_BEFORE.test(s.text.slice(0, e.position - s.position)) &&
      ADDRESSEE_AFTER.test(s.text.slice(e.position - s.position + e.text.length)),
  );
}

/** Whether a court, judge or market regulator stands between the state and the signal: "US judge bars", "Korea's FTC bans". */
function nonStateBetween(state: Located, s: Located, cues: CueHit[] | undefined): boolean {
  return !!cues?.some((c) => c.id === 'non-state' && c.token > state.tokenEnd && c.tokenEnd < s.token);
}

/** Whether a watched material or product follows the signal within `words` words ("bars Nvidia from selling [H20] chips"). */
function watchedAfter(s: Located, entities: readonly EntityHit[], words: number | undefined): boolean {
  if (words === undefined) return false;
  return entities.some((e) => (e.kind === 'material' || e.kind === 'product' || e.kind === 'keyword') && e.sentence === s.sentence && e.token > s.tokenEnd && e.token - s.tokenEnd - 1 <= words);
}

function nearBy(cue: Located, s: Located, before: number, after: number): boolean {
  const distance = gap(cue, s);
  if (distance < 0) return true;
  return cue.tokenEnd < s.token ? distance <= before : distance <= after;
}

/** Whether a Chinese negation at `position` is the middle of an A-not-A question: "会[不会]", "是[不是]", "要[不要]". */
function asksEitherWay(text: string, position: number, words: string): boolean {
  return words.length >= 2 && words.startsWith('不') && HAN.test(words[1]!) && text[position - 1] === words[1];
}

/** Whether the text is one sentence ("Will the U.S. ban chip sales?" is; "May 1: China bans exports. Will it hold?" is not). */
function oneSentence(norm: NormalizedText): boolean {
  let sentences = 0;
  for (let i = 0; i < norm.sentences; i++) if (norm.sentenceStarts[i] < norm.length) sentences++;
  return sentences === 1;
}

// Words of a lede's sentence that report another event than the title's ("However, a separate refinery was ordered
// to shut", "a second quake", "remains shut"): its signals count for the direction beside the title's.
const ANOTHER_EVENT =
  /\b(?:separately|separate|however|but|meanwhile|elsewhere|another|second|other|others|nearby|rival|fresh|still|remains?|remained|also|additionally|in addition|at the same time|same day|new|responded|retaliated|on (?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|this week)\b|同日|同时|此外|另外|还|같은 날|한편|또한|동시에/i;
// Requirements this close that come before their signal are read within one clause (see `required`): no conjunction
// between ("Cobalt falls as Congo supply floods the market"). After it they may follow what qualifies it ("exports
// since the ban plunge 75%").
const CLAUSE_BOUND_WITHIN = 4;
const resumesInTitle = (s: SignalHit) => s.field === 'title' && s.signal.class === 'disruption' && s.polarity === 'de-escalation';
const disruptsInTitle = (s: SignalHit) => s.field === 'title' && s.signal.class === 'disruption' && s.polarity === 'escalation' && !s.background && s.signal.weight > 0;
const RELIEF_CLASSES: ReadonlySet<string> = new Set(['restriction', 'licence', 'quota']);

/**
 * Whether a halting or resuming verb acts on the goods under control itself: it stands right before them, and no other
 * verb just before it lifts or negates it (else the verb reads as it would on the control: "lifts halt on dual-use items").
 */
function actsOnGoods(verb: CueHit, goods: SignalHit, actions: readonly CueHit[], gaps: Gaps): boolean {
  if (verb.tokenEnd > goods.token || !GOODS_LEAD.test(gaps.between(verb, goods))) return false;
  return !actions.some((a) => a !== verb && a.sentence === verb.sentence && a.tokenEnd <= verb.token && verb.token - a.tokenEnd <= LIFTED_WITHIN);
}
