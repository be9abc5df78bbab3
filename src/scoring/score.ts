import type { Item } from '../items/item.js';
import type { EntityHit, ItemAnalysis, SignalHit } from './analyse.js';
import { concentrationOf, recencyOf } from './context.js';
import { explainNone, explainRelevant } from './explain.js';
import type { CompiledLexicon } from './lexicon.js';
import { gap } from './located.js';
import { entityName, matchesFor, thingsAbout, type Watched } from './matches.js';
import { screeningFloor } from './screening.js';
import type { ScoringSettings } from './settings.js';
import type { Assessment, AssessContext, Direction, Factor, Level } from './types.js';
import type { CompiledWatchlist, Strength } from './watchlists.js';

/** One watched entity and one signal taken to be about each other, with what the pair is worth. */
interface Pair {
  signal: SignalHit;
  entity: EntityHit;
  strength: Strength;
  proximity: number;
  /** Points before direction and hedging (used to decide the direction). */
  raw: number;
  value: number;
}

export interface ScoreEnv {
  lexicon: CompiledLexicon;
  settings: ScoringSettings;
}

export interface SourceTrust {
  credibility: number;
  official: boolean;
}

// A company is in the news for many things that do not touch supply (fines, lawsuits, deals, strategy): only what
// restricts, disrupts or prices its goods counts when the company alone stands for them.
const COMPANY_CLASSES = new Set(['restriction', 'quota', 'licence', 'disruption', 'market', 'flow']);

function strengthOf(hit: EntityHit, w: CompiledWatchlist): Strength | undefined {
  if (hit.kind === 'keyword' || hit.kind === 'supplier') {
    return hit.scope === w.id ? { value: 1, via: hit.kind } : undefined;
  }
  return w.strength.get(hit.id);
}

function canPair(hit: EntityHit, strength: Strength, signal: SignalHit): boolean {
  // A country pair is the subject of general trade policy, not of a plant fire or a ban on some other good.
  if (strength.via === 'pair' && (!signal.signal.trade || signal.offTopic)) return false;
  const isCompany = strength.via === 'company' || (strength.via === 'supplier' && hit.kind !== 'keyword');
  return !isCompany || COMPANY_CLASSES.has(signal.signal.class);
}

const FIELD_INDEX = { title: 0, summary: 1, content: 2 } as const;

// Mentions of one entity in one sentence that are paired with signals. Real sentences name an entity a few times;
// a sentence that repeats it hundreds of times (a scraped table, spam) would make pairing quadratic in its length.
const MENTIONS_PER_SENTENCE = 16;

/** The watched mentions worth pairing: all of them, except beyond the first few of an entity in one sentence. */
function boundedMentions(watched: Watched[]): Watched[] {
  if (watched.length <= MENTIONS_PER_SENTENCE) return watched;
  const seen = new Map<string, number>();
  return watched.filter(({ hit }) => {
    const key = `${hit.id}\u0000${hit.scope ?? ''}\u0000${sentenceKey(hit)}`;
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    return count <= MENTIONS_PER_SENTENCE;
  });
}

function sentenceKey(x: { field: keyof typeof FIELD_INDEX; sentence: number }): number {
  return FIELD_INDEX[x.field] * 1_000_000 + x.sentence;
}

function proximity(e: EntityHit, s: SignalHit, settings: ScoringSettings): number {
  const p = settings.proximity;
  if (e.field === s.field) {
    if (e.sentence === s.sentence) {
      const distance = gap(e, s);
      return distance <= p.window ? 1 : p.sameSentence;
    }
    return Math.abs(e.sentence - s.sentence) === 1 ? p.nearbySentence : 0;
  }
  return e.field === 'title' || s.field === 'title' ? p.crossField : 0;
}

export function levelFor(score: number, t: ScoringSettings['thresholds']): Level {
  if (score >= t.critical) return 'critical';
  if (score >= t.high) return 'high';
  if (score >= t.medium) return 'medium';
  if (score >= t.low) return 'low';
  if (score >= t.info) return 'info';
  return 'none';
}

/** Scores one analysed item against one watchlist. Pure: same inputs, same assessment. */
export function assessWatchlist(
  item: Item,
  analysis: ItemAnalysis,
  w: CompiledWatchlist,
  env: ScoreEnv,
  trust: SourceTrust,
  context: AssessContext,
): Assessment {
  const { settings, lexicon } = env;
  const m = settings.multipliers;
  const watched: Watched[] = analysis.entities.flatMap((e) => {
    const strength = strengthOf(e, w);
    return strength ? [{ hit: e, strength }] : [];
  });
  const itemId = item.id;
  const watchlistId = w.id;
  const nameOf = (e: EntityHit) => entityName(e, w, lexicon);
  const entities = [...new Set(watched.map((x) => x.hit.id))];
  const matches = matchesFor(analysis, watched, w);

  const excludedBy = analysis.excludes.find((x) => x.scope === w.id);
  if (excludedBy) {
    return { itemId, watchlistId, score: 0, level: 'none', direction: 'neutral', matches, entities, factors: [{ name: 'excluded', value: 0, detail: `watchlist term "${excludedBy.text}"` }], why: explainNone({ excludedBy: excludedBy.text, watched: [], signals: [], exclusions: [] }) };
  }

  // Sentences that name goods this watchlist does not watch: there a country pair is about those goods, not ours.
  const otherGoods = new Set<number>();
  for (const e of analysis.entities) {
    if ((e.kind === 'material' || e.kind === 'product') && !w.strength.has(e.id)) otherGoods.add(sentenceKey(e));
  }

  // For each signal, the watched entity it is most about (the first of equals), with its points before context and
  // softening. Keeping one pair a signal, not every pair, bounds memory: a long sentence naming an entity and a signal
  // hundreds of times would otherwise store the product of the two. Only the best pair of a signal can win below.
  const candidates: Array<{ signal: SignalHit; hit: EntityHit; strength: Strength; prox: number; points: number }> = [];
  const pairable = boundedMentions(watched);
  let hasNews = false;
  for (const signal of analysis.signals) {
    if (signal.signal.weight <= 0) continue;
    const base = signal.signal.weight * settings.fields[signal.field];
    let chosen: (typeof candidates)[number] | undefined;
    for (const { hit, strength } of pairable) {
      if (!canPair(hit, strength, signal)) continue;
      if (strength.via === 'pair' && (otherGoods.has(sentenceKey(signal)) || otherGoods.has(sentenceKey(hit)))) continue;
      const prox = proximity(hit, signal, settings);
      if (prox === 0) continue;
      const points = base * prox * strength.value;
      if (!chosen || points > chosen.points) chosen = { signal, hit, strength, prox, points };
    }
    if (!chosen) continue;
    candidates.push(chosen);
    if (!signal.background) hasNews = true;
  }

  // Best pair per distinct signal. A signal named as the cause of another ("bans exports in response to sanctions")
  // is context only when there is other news; a title whose only signal follows "after" is still news.
  const best = new Map<string, Pair>();
  for (const { signal, hit, strength, prox, points } of candidates) {
    const raw = points * (signal.background && hasNews ? m.background : 1);
    // De-escalation and hedging both say "less severe than it sounds": the stronger of the two applies, not both.
    const softening = Math.min(signal.polarity === 'de-escalation' ? m.deescalation : 1, signal.hedged ? m.hedged : 1);
    const value = raw * softening;
    // Bare trade flows are one piece of context however many kinds the item names ("production", "exports"); so are
    // licences, export or other ("licences ... export licences").
    const cls = signal.signal.class;
    const key = `${cls === 'flow' || cls === 'licence' ? cls : signal.signal.id}:${signal.polarity}`;
    const current = best.get(key);
    if (!current || value > current.value) best.set(key, { signal, entity: hit, strength, proximity: prox, raw, value });
  }
  // The news leads: the strongest signal that is not mere background, then everything else by value.
  const pairs = [...best.values()].sort(
    (a, b) => Number(a.signal.background && hasNews) - Number(b.signal.background && hasNews) || b.value - a.value,
  );
  const factors: Factor[] = [];
  let score = 0;
  let direction: Direction = 'neutral';
  let why: string;
  const top = pairs[0];

  if (top) {
    factors.push({
      name: 'signal',
      value: round(top.value),
      detail: `${top.signal.signal.id} (${[top.signal.field, top.signal.polarity === 'de-escalation' && 'de-escalation', top.signal.hedged && 'hedged', top.signal.background && 'background'].filter(Boolean).join(', ')}) about ${nameOf(top.entity)} (${top.strength.via}): weight ${top.signal.signal.weight} x field ${settings.fields[top.signal.field]} x proximity ${top.proximity} x strength ${top.strength.value}`,
    });
    let points = top.value;
    const others = pairs.slice(1, 4);
    if (others.length) {
      const extra = others.reduce((sum, p) => sum + p.value, 0) * m.additionalSignals;
      points += extra;
      factors.push({ name: 'additional-signals', value: round(extra), detail: others.map((p) => p.signal.signal.id).join(', ') });
    }
    let multiplier = 1;
    const apply = (name: string, value: number, detail: string) => {
      if (value === 1) return;
      multiplier *= value;
      factors.push({ name, value: round(value), detail });
    };
    const concentration = concentrationOf(top.entity, lexicon);
    if (concentration) {
      const value = clamp(1 + settings.concentration.influence * (concentration.share - 0.5), 0.85, 1.3);
      apply('concentration', value, `${concentration.text} (${concentration.source})`);
    }
    apply('credibility', settings.credibility.floor + settings.credibility.span * trust.credibility, `source credibility ${trust.credibility}`);
    if (top.signal.actor?.official) apply('official', m.official, `announced by ${top.signal.actor.name}`);
    if (top.signal.inForce && top.signal.polarity === 'escalation') apply('in-force', m.inForce, 'the measure takes effect');
    const country = top.signal.countries.find((c) => w.countries.has(c));
    if (country) apply('watched-country', m.watchedCountry, `${lexicon.entities.get(country)?.name ?? country} acts`);
    if (analysis.analysis) apply('analysis', m.analysis, 'analysis or opinion');
    if (analysis.promotion) apply('promotion', m.promotion, 'an announcement of an event, a course or an exhibition');
    if (context.corroboration && context.corroboration >= 2) {
      const c = settings.corroboration;
      apply('corroboration', Math.min(c.max, 1 + c.perDoubling * Math.log2(context.corroboration)), `${context.corroboration} sources`);
    }
    const recency = recencyOf(item, context, settings);
    if (recency) apply('recency', recency.value, recency.detail);
    if (w.config.weight !== 1) apply('watchlist-weight', w.config.weight, `watchlist ${w.id}`);
    score = clamp(Math.round(points * multiplier), 0, 100);
    // An explainer or an opinion weighs a measure; it is no step up or down itself. A title that only asks ("Will
    // China ban gallium exports?", "China bans gallium exports: will prices soar?") keeps the direction of its measure.
    direction = analysis.explainer ? 'neutral' : directionOf(pairs);
    why = explainRelevant({
      signal: top.signal,
      ...thingsAbout(top.entity, watched, nameOf),
      below: score < settings.thresholds.info ? settings.thresholds.info : undefined,
      concentration: concentration?.text,
      entityField: top.entity.field,
      official: trust.official,
      credibility: trust.credibility,
      analysis: analysis.analysis,
    });
  } else {
    why = explainNone({
      watched: watched.map((x) => nameOf(x.hit)),
      // Guard terms (weight 0: "supply chain", "end of") are no supply-risk signal to name.
      signals: analysis.signals.filter((s) => s.signal.weight > 0).map((s) => s.signal.label ?? s.signal.id),
      exclusions: analysis.exclusions.map((x) => ({ text: x.text, reason: lexicon.exclusions.get(x.id)?.reason ?? 'something else' })),
    });
  }

  const screening = screeningFloor(item, w, env);
  if (screening && screening.score > score) {
    score = screening.score;
    direction = 'escalation';
    why = screening.why;
    factors.push({ name: 'screening', value: screening.score, detail: screening.why });
  }

  return { itemId, watchlistId, score, level: levelFor(score, settings.thresholds), direction, matches, factors, why, entities };
}

function directionOf(pairs: Pair[]): Direction {
  // The title says which way the news goes, by what it reports as done (a hedged "may ease" decides nothing). A lede or
  // text adds what it reports beside it: news of another kind, or of the same kind reported as another event
  // ("However, a separate refinery was ordered to shut", "Beijing on Monday halted exports"); not the measure or the
  // disruption the title eases or brings back, named as context ("Lynas restarts Kuantan plant" over "six weeks after a
  // fire forced a complete shutdown"). Without a direction in the title, all count.
  const title = pairs.filter((p) => p.signal.field === 'title' && !p.signal.hedged);
  const way = directionAmong(title);
  if (way === undefined) return directionAmong(pairs) ?? 'neutral';
  const against = way === 'escalation' ? 'de-escalation' : 'escalation';
  const countered = new Set(title.map((p) => p.signal.signal.class));
  // A state's measure in the lede is news of its own beside a site's restart ("Lynas resumes production" over "China
  // suspended exports of seven rare earths").
  const titleByState = title.some((t) => t.signal.signal.state !== undefined);
  const stateMeasure = (p: Pair) => p.signal.signal.state !== undefined && !titleByState;
  const beside = (p: Pair) =>
    p.signal.field !== 'title' &&
    !p.signal.background &&
    (p.signal.apart || p.signal.polarity !== against || !countered.has(p.signal.signal.class) || stateMeasure(p));
  return directionAmong([...title, ...pairs.filter(beside)]) ?? 'neutral';
}

function directionAmong(pairs: Pair[]): Direction | undefined {
  let up = 0;
  let down = 0;
  for (const p of pairs) {
    if (p.signal.polarity === 'escalation') up += p.raw;
    else if (p.signal.polarity === 'de-escalation') down += p.raw;
  }
  if (up === 0 && down === 0) return undefined;
  return down > up ? 'de-escalation' : 'escalation';
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
