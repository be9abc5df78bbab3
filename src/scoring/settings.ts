import { z } from 'zod';

/**
 * settings.yaml `scoring:` block. Owned by the scoring module; the config loader embeds it.
 * Thresholds are the minimum score (0-100) for each level. Every other key tunes how a score is built; the defaults
 * are what `chokepoint backtest` was tuned with, so change them with a backtest at hand.
 */

const unit = (fallback: number, text: string) => z.number().min(0).max(1).default(fallback).describe(text);
const factor = (fallback: number, text: string) => z.number().min(0).max(3).default(fallback).describe(text);

export const scoringSettingsSchema = z
  .strictObject({
    thresholds: z
      .strictObject({
        info: z.number().min(0).max(100).default(15),
        low: z.number().min(0).max(100).default(30),
        medium: z.number().min(0).max(100).default(45),
        high: z.number().min(0).max(100).default(65),
        critical: z.number().min(0).max(100).default(85),
      })
      .prefault({})
      .describe('Minimum score for each level; must rise from info to critical.'),
    fields: z
      .strictObject({
        title: unit(1, 'Weight of a signal found in the title.'),
        summary: unit(0.8, 'Weight of a signal found in the summary (lede).'),
        content: unit(0.6, 'Weight of a signal found in the body.'),
      })
      .prefault({})
      .describe('How much a signal counts by where it was found: the title says what a story is about.'),
    proximity: z
      .strictObject({
        window: z.number().int().min(1).max(100).default(12).describe('Tokens apart within which an entity and a signal are "about each other".'),
        sameSentence: unit(0.8, 'Entity and signal in one sentence but further apart than the window.'),
        nearbySentence: unit(0.3, 'Entity and signal in adjacent sentences of the same field.'),
        crossField: unit(0.5, 'Entity in the title and signal in the summary or body (or the reverse).'),
      })
      .prefault({})
      .describe('How strongly an entity and a signal are taken to be about each other.'),
    strength: z
      .strictObject({
        group: unit(0.8, 'A group named instead of the watched member ("rare earths" for a samarium watchlist).'),
        company: unit(0.8, 'A company whose business is a watched material or product (not a watched supplier).'),
        countryPair: unit(0.9, 'A watched country pair (e.g. us-china) as the subject of a trade-policy signal.'),
      })
      .prefault({})
      .describe('How much an indirect mention of a watched entity counts, relative to naming it.'),
    multipliers: z
      .strictObject({
        deescalation: factor(0.5, 'Applied to a signal that is lifted, suspended, eased or exempted (severity 1 news).'),
        hedged: factor(0.6, 'Applied to a signal that is only proposed, threatened, feared or expected (not on top of de-escalation).'),
        background: factor(0.4, 'Applied to a signal named as cause or context ("since controls were introduced", "in response to sanctions").'),
        analysis: factor(0.6, 'Applied to analysis and opinion pieces (question titles, explainers).'),
        promotion: factor(0.15, 'Applied to an item whose title announces an event, a course or an exhibition ("register now", "webinar", "museum exhibit"): it reports no measure.'),
        official: factor(1.1, 'An official actor (MOFCOM, BIS, METI, ...) in the sentence of the signal.'),
        inForce: factor(1.1, 'The measure takes effect ("effective", "with immediate effect").'),
        watchedCountry: factor(1.05, 'A watched country in the sentence of the signal.'),
        additionalSignals: unit(0.2, 'Share of each further distinct signal added to the strongest one.'),
      })
      .prefault({})
      .describe('Multipliers applied to the strongest entity-signal pair.'),
    concentration: z
      .strictObject({
        influence: z.number().min(0).max(2).default(0.4).describe('Score multiplier = 1 + influence x (top-country share - 0.5).'),
      })
      .prefault({})
      .describe('How much the supply concentration of the material (supply-concentration.yaml) weighs.'),
    credibility: z
      .strictObject({
        default: unit(0.6, 'Credibility of a source that is not in sources.yaml (e.g. `chokepoint score` input).'),
        officialDomains: unit(0.95, 'Credibility of an unknown source whose id is a government domain (.gov, .gov.cn, europa.eu, ...).'),
        floor: unit(0.7, 'Score multiplier at credibility 0; it rises linearly to floor + span at credibility 1.'),
        span: unit(0.4, 'See floor.'),
      })
      .prefault({})
      .describe('How the source credibility (sources.yaml) weighs.'),
    corroboration: z
      .strictObject({
        perDoubling: unit(0.08, 'Added to the multiplier for each doubling of the number of distinct sources.'),
        max: z.number().min(1).max(2).default(1.25),
      })
      .prefault({})
      .describe('More distinct sources carrying a story raise its score.'),
    recency: z
      .strictObject({
        halfLifeDays: z.number().positive().default(30).describe('An item this many days old (at scoring time) counts half.'),
        floor: unit(0.5, 'Old items never count less than this.'),
      })
      .prefault({})
      .describe('Old items found late (archives, aggregators) count less. Applies only when the pipeline passes the time.'),
  })
  .prefault({});

export type ScoringSettings = z.infer<typeof scoringSettingsSchema>;
