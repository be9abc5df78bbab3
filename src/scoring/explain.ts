import type { SignalClass } from './lexicon-schema.js';
import type { ItemField } from './types.js';
import type { SignalHit } from './analyse.js';

/** What the explanation of a relevant assessment is built from. */
export interface Explanation {
  signal: SignalHit;
  /** Names of the watched entities the signal is about (first is the strongest). */
  things: string[];
  /** e.g. "China: 98% of refining". */
  concentration?: string;
  entityField: ItemField;
  /** The thing is a country pair: "tariffs in US–China relations". */
  pair?: boolean;
  /** Set when the score stays below this info threshold. */
  below?: number;
  official: boolean;
  credibility: number;
  analysis: boolean;
}

const PREPOSITION: Record<SignalClass, string> = {
  restriction: 'on',
  quota: 'on',
  licence: 'for',
  disruption: 'affecting',
  market: 'for',
  enforcement: 'involving',
  negotiation: 'concerning',
  leverage: 'over',
  investment: 'in',
  flow: 'of',
  term: 'of',
};

const FIELD_NAME: Record<ItemField, string> = { title: 'title', summary: 'summary', content: 'body' };

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "gallium", "gallium and germanium", "gallium, germanium and 2 more". */
export function listNames(names: string[]): string {
  const unique = [...new Set(names)];
  if (unique.length <= 1) return unique[0] ?? '';
  if (unique.length <= 3) return `${unique.slice(0, -1).join(', ')} and ${unique[unique.length - 1]}`;
  return `${unique.slice(0, 2).join(', ')} and ${unique.length - 2} more`;
}

function signalLabel(s: SignalHit): string {
  const label = s.signal.label ?? s.signal.name ?? s.signal.id;
  return s.flow ? `${label} of ${flowInEnglish(s.flow)}` : label;
}

/** The English for a flow named in Chinese or Korean: the reason is an English sentence ("Halt of exports", not "of 出口"). */
const FLOW_IN_ENGLISH: Record<string, string> = {
  出口: 'exports',
  供应: 'supply',
  生产: 'production',
  进口: 'imports',
  수출: 'exports',
  공급: 'supply',
  出口许可: 'export licences',
  出口许可证: 'export licences',
  '수출 허가': 'export licences',
  수출허가: 'export licences',
  '수출 허가증': 'export licences',
  '수출 승인': 'export approvals',
};
const NOT_LATIN = /[^\p{Script=Latin}\p{Script=Common}]/u;

function flowInEnglish(flow: string): string {
  if (!NOT_LATIN.test(flow)) return flow;
  return FLOW_IN_ENGLISH[flow] ?? 'trade';
}

/**
 * One plain sentence: what happened, to what, said by whom, where in the item, and how far to trust it.
 * "Export ban on gallium (China: 98% of refining) announced by MOFCOM — title; official source"
 */
export function explainRelevant(e: Explanation): string {
  const s = e.signal;
  const label = signalLabel(s);
  // A halt that was lifted ("China lifts halt of exports") reads as one: "Halt of exports affecting gallium lifted".
  const liftedHalt = !!s.flow && s.polarity === 'de-escalation' && s.signal.direction !== 'de-escalation';
  const flowPreposition = s.polarity === 'de-escalation' && !liftedHalt ? 'for' : 'affecting';
  const preposition = e.pair ? 'in' : s.flow ? flowPreposition : (s.signal.preposition ?? PREPOSITION[s.signal.class]);
  // "Export controls on rare earths suspended": a lifting verb follows; otherwise a hedge reads "possible ...". A quota
  // says which way it moved either way ("Quota on rare earths cut", "... raised").
  const verb = s.action && (!s.flow || liftedHalt) && (s.polarity === 'de-escalation' || s.signal.class === 'quota') ? s.action.entry.verb : undefined;
  const hedge = s.hedged ? (verb ? 'possibly ' : 'possible ') : '';
  let sentence = `${e.analysis ? 'Analysis: ' : ''}${verb ? '' : hedge}${label} ${preposition} ${listNames(e.things)}`;
  if (e.concentration) sentence += ` (${e.concentration})`;
  if (verb) sentence += ` ${hedge}${verb}`;
  if (s.actor) sentence += ` ${verb ? 'by' : s.hedged ? 'considered by' : 'announced by'} ${s.actor.name}`;
  const where = e.entityField === s.field ? FIELD_NAME[s.field] : `${FIELD_NAME[e.entityField]} and ${FIELD_NAME[s.field]}`;
  const source = e.official ? 'official source' : `source credibility ${e.credibility.toFixed(1)}`;
  const text = `${capitalise(sentence)} — ${where}; ${source}`;
  return e.below === undefined ? text : `Too weak to alert (below ${e.below}): ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

/** Why an item is not relevant to a watchlist, in one sentence. */
export function explainNone(input: {
  excludedBy?: string;
  watched: string[];
  signals: string[];
  exclusions: Array<{ text: string; reason: string }>;
}): string {
  if (input.excludedBy) return `Excluded by this watchlist's term "${input.excludedBy}"`;
  const excluded = input.exclusions.length
    ? `; "${input.exclusions[0].text}" means ${input.exclusions[0].reason} here`
    : '';
  if (input.watched.length && input.signals.length) {
    return `Mentions ${listNames(input.watched)} and ${listNames(input.signals)}, but not about each other${excluded}`;
  }
  if (input.watched.length) return `Mentions ${listNames(input.watched)} but no supply-risk signal${excluded}`;
  if (input.signals.length) return `Supply-risk signal (${listNames(input.signals)}) but about nothing this watchlist watches${excluded}`;
  return `Nothing this watchlist watches${excluded}`;
}
