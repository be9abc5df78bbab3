import { z } from 'zod';

/**
 * Schema of lexicon files (config/lexicon*.yaml) and of the supply-concentration table. A user's lexicon.yaml uses
 * the same schema: an entry whose id exists replaces the built-in one, `remove: [id]` drops built-in entries, and
 * `addAliases: {id: [...]}` adds aliases to an entry without restating it. Ids are unique across all sections.
 *
 * Alias syntax: matched case-insensitively on word boundaries, hyphen = space, plural of the last word and the
 * joined form of two-word terms ("chip maker" also matches "chipmaker") are generated. `{a|b}` expands alternatives
 * ("{ban|bans|banned} exports", "{a |}licence" with an empty option). A term written in capitals (US, BIS, CHIP)
 * matches only in capitals; prefix "~" to match it in any case, "^" to match any term only in the case written
 * ("^Micron", not the unit). Prefix "=" (before ~ or ^) for no generated forms (no plural, no joined form).
 * Chinese and Korean terms need no word boundary. "…" splits a term into two halves that match up to 18 words apart
 * within one clause ("禁止…出口" finds 禁止镓、锗出口; a CJK character counts as a word), or up to 4 English words with no
 * clause word ("as", "after", ...) between ("bars…exports" finds "bars AI chip exports").
 */

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'must be an id: letters, digits, "-" or "_"');
const aliases = z.array(z.string().min(1)).default([]).describe('Terms that name this entry (see the alias syntax).');

const entryCommon = {
  id: id.describe('Canonical id, referenced by watchlists and shown in alerts.'),
  name: z.string().optional().describe('Display name (defaults to the first alias, then the id).'),
  aliases,
};

export const entitySchema = z.strictObject({
  ...entryCommon,
  partOf: z
    .array(id)
    .default([])
    .describe('Groups this entry counts as: samarium is part of rare-earths; a watchlist of the group hears about it.'),
});

export const companySchema = z.strictObject({
  ...entryCommon,
  country: z.string().optional().describe('Home country id (ISO 3166 alpha-2).'),
  about: z.array(id).default([]).describe('Materials or products this company makes: news about it is news about them.'),
});

export const countrySchema = z.strictObject({
  ...entryCommon,
  pair: z
    .tuple([z.string(), z.string()])
    .optional()
    .describe('Makes this a country pair (e.g. [US, CN]): also found when both countries appear in one sentence.'),
});

export const actorSchema = z.strictObject({
  ...entryCommon,
  country: z.string().describe('Country id the actor acts for.'),
  official: z.boolean().default(true).describe('A government body: its announcements are policy, not speculation.'),
});

export const SIGNAL_CLASSES = ['restriction', 'quota', 'licence', 'disruption', 'market', 'enforcement', 'negotiation', 'leverage', 'investment', 'flow', 'term'] as const;
export type SignalClass = (typeof SIGNAL_CLASSES)[number];
export const DIRECTIONS = ['escalation', 'de-escalation', 'neutral'] as const;

export const signalSchema = z.strictObject({
  ...entryCommon,
  label: z.string().optional().describe('How the explanation names it ("export ban"); defaults to the name.'),
  preposition: z
    .string()
    .optional()
    .describe('Joins the label to what it is about in explanations ("shortage of", "ban on"); defaults by class.'),
  class: z.enum(SIGNAL_CLASSES).describe('Kind of signal; actions (lift, suspend, resume...) act on classes.'),
  weight: z.number().min(0).max(100).describe('Points the signal gives when it is about a watched entity (before multipliers).'),
  direction: z.enum(DIRECTIONS).default('escalation'),
  trade: z
    .boolean()
    .default(false)
    .describe('A general trade-policy signal (tariffs, talks, truces, export controls): counts when its subject is only a watched country pair.'),
  requires: z
    .string()
    .optional()
    .describe('Name of a cue group that must occur within `within` tokens for this signal to count (e.g. "talks" needs trade context).'),
  within: z.number().int().min(1).max(50).default(6),
  watchedObject: z
    .number()
    .int()
    .min(0)
    .max(10)
    .optional()
    .describe('With `requires`: a watched material or product at most this many words after the signal counts as the cue ("bars Nvidia from selling [H20] chips").'),
  state: z
    .enum(['subject', 'sentence', 'head'])
    .optional()
    .describe(
      'Counts only when a state acts: a country or official actor named before it in its sentence (subject), leading its verb with only its ministry or auxiliaries and no company between (head: "US orders Nvidia to stop ...", not "Korean union orders ..."), or anywhere in it (sentence). "Bars ... from selling" is an export ban from a government, a court order or a share lock-up from others.',
    ),
  otherwise: id.optional().describe('The signal this one counts as when `state` finds no state actor; without it, none.'),
  namesCompany: z
    .boolean()
    .default(false)
    .describe('Its split aliases join only around a company\'s name ("blocks [Nvidia H20] sales to China"); elsewhere their halves stay words of their own.'),
});

export const ACTION_EFFECTS = ['escalation', 'de-escalation', 'halt', 'resume'] as const;

export const actionSchema = z.strictObject({
  ...entryCommon,
  verb: z.string().describe('Past participle used in explanations ("suspended", "lifted").'),
  effects: z
    .partialRecord(z.enum(SIGNAL_CLASSES), z.enum(ACTION_EFFECTS))
    .describe('What the action does to a nearby signal of each class: de-escalation (lift controls), escalation (impose controls), halt (halt exports), resume (resume production).'),
  leads: z
    .array(z.enum(SIGNAL_CLASSES))
    .default([])
    .describe('Classes the action acts on only from before them: "ends exports" halts them, "exports end 2024 down 40%" is a figure.'),
  extendsRelief: z
    .boolean()
    .default(false)
    .describe('Gives more of a relief as it is ("extends exclusions from tariffs"): a waiver or an exemption it acts on stays an easing; "tightens" or "imposes" restricts it.'),
});

export const CUE_GROUPS = ['hedge', 'background', 'evasion', 'analysis', 'promotion', 'registration', 'event', 'in-force', 'off-topic'] as const;

export const exclusionSchema = z.strictObject({
  ...entryCommon,
  reason: z.string().describe('What the words mean here instead ("snack food"), shown when an item is excluded.'),
  sameSense: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Bare words that take this exclusion\'s sense where it is found (a story keeps one sense of a word): in the title, its clause and the lede and body (unless another clause of the title names the word in our sense); in a lede or body, its sentence. "chip" in "Chip shortage hits Britain\'s chippies". Matched as the whole of a term found, in any case, width or spacing (list plural forms too).',
    ),
});

export const lexiconFileSchema = z.strictObject({
  materials: z.array(entitySchema).default([]).describe('Raw materials and their groups (rare-earths, samarium, gallium, ...).'),
  products: z.array(entitySchema).default([]).describe('Semiconductor products and chipmaking tools.'),
  companies: z.array(companySchema).default([]),
  countries: z.array(countrySchema).default([]),
  actors: z.array(actorSchema).default([]).describe('Bodies that act for a country: MOFCOM, customs, BIS, METI, ...'),
  signals: z.array(signalSchema).default([]).describe('Supply-risk signals with weights, and de-escalation signals.'),
  actions: z.array(actionSchema).default([]).describe('Verbs that change what a nearby signal means (suspend, lift, resume, impose).'),
  cues: z
    .record(z.string(), z.array(z.string().min(1)))
    .default({})
    .describe(
      'Named word lists. Built in: hedge (signal only threatened), negation (signal denied or ruled out: it does not count), ' +
        'negation-after (the same, written a few words after the signal as Korean does: 않겠다), ' +
        'analysis (opinion pieces), in-force (measure takes effect), ' +
        'off-topic (other goods: a country pair next to "steel" is not about our materials), plus groups named by signals\' `requires`.',
    ),
  exclusions: z.array(exclusionSchema).default([]).describe('Phrases that change a word\'s meaning (potato chips, magnet school, Earth Day).'),
  addAliases: z
    .record(id, z.array(z.string().min(1)))
    .default({})
    .describe('Aliases added to existing entries, by id (extends the built-in lexicon without restating entries).'),
  remove: z.array(id).default([]).describe('Ids of built-in entries to drop.'),
});

export const concentrationSchema = z.strictObject({
  entity: id.describe('Material or product id.'),
  country: z.string().describe('Country id holding the largest share.'),
  stage: z.enum(['mining', 'refining', 'processing', 'manufacturing', 'production', 'assembly']),
  share: z.number().min(0).max(1),
  year: z.number().int().optional(),
  source: z.string().min(1).describe('Where the figure comes from.'),
});

export const concentrationFileSchema = z.strictObject({
  concentration: z.array(concentrationSchema).default([]),
});

export type LexiconFile = z.infer<typeof lexiconFileSchema>;
export type EntityEntry = z.infer<typeof entitySchema>;
export type CompanyEntry = z.infer<typeof companySchema>;
export type CountryEntry = z.infer<typeof countrySchema>;
export type ActorEntry = z.infer<typeof actorSchema>;
export type SignalEntry = z.infer<typeof signalSchema>;
export type ActionEntry = z.infer<typeof actionSchema>;
export type ExclusionEntry = z.infer<typeof exclusionSchema>;
export type ConcentrationEntry = z.infer<typeof concentrationSchema>;
