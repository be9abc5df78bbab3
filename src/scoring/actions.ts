import type { CueHit, SignalHit } from './analyse.js';
import type { ActionEntry, SignalClass } from './lexicon-schema.js';
import { gap, type Located } from './located.js';

/** The original words between two hits of one field, punctuation included (normalisation turns it into spaces). */
export type Between = (a: Located, b: Located) => string;

const ACTION_BEFORE = 6; // "suspend [its rare earth] export controls", "issues [first batch of rare-earth] export licences"
const ACTION_AFTER = 2; // "export controls [were] suspended"

// Words and marks that open another clause: a verb before them does not act on a signal after them ("chip stocks drop
// as the US bans exports", "halts talks while ..."). "as well as" and "such as" join objects of one verb instead.
const CLAUSE_BREAK = /[:;|，：；]|\s[-–—]\s|\b(?:as|after|while|when|whereas|because|since|though|although|despite|before|until|once|but|amid)\b/i;
const JOINED_OBJECTS = /\b(?:as well as|such as)\b/gi;
// Two verbs with objects of their own ("lifts tariffs and imposes export controls"): neither governs the other's.
const COORDINATION = /\b(?:and|or|but|then)\b/i;
// An English participle ("newly imposed", "controls imposed in 2023"): it modifies the signal, it does not act on it.
const PARTICIPLE = /(?:ed|en)$/i;

interface Choice {
  action: CueHit;
  entry: ActionEntry;
  before: boolean;
  rank: number;
}

/**
 * The action that decides what a signal means: the nearest one in the signal's clause that acts on its class, unless a
 * lifting verb before the signal governs that nearer one (see governs).
 */
export function chooseAction(
  s: SignalHit,
  actions: CueHit[],
  entries: ReadonlyMap<string, ActionEntry>,
  between: Between,
): { action: CueHit; entry: ActionEntry } | undefined {
  const cls = s.signal.class;
  let nearest: Choice | undefined;
  let lifting: Choice | undefined;
  for (const a of actions) {
    if (a.sentence !== s.sentence) continue;
    const entry = entries.get(a.id)!;
    if (!entry.effects[cls]) continue;
    const before = a.tokenEnd < s.token;
    const distance = gap(a, s);
    if (distance < 0 || distance > (before ? ACTION_BEFORE : ACTION_AFTER)) continue;
    if (CLAUSE_BREAK.test((before ? between(a, s) : between(s, a)).replace(JOINED_OBJECTS, ' '))) continue;
    // At equal distance the verb before the object ("lift the ban") wins over a passive one after it.
    const choice = { action: a, entry, before, rank: distance + (before ? 0 : 0.5) };
    if (!nearest || choice.rank < nearest.rank) nearest = choice;
    if (before && entry.effects[cls] === 'de-escalation' && (!lifting || choice.rank < lifting.rank)) lifting = choice;
  }
  return lifting && nearest && governs(lifting, nearest, s, cls, between) ? lifting : nearest;
}

/**
 * Whether a lifting verb before the signal wins over the nearer action: only over an escalating participle that
 * modifies the signal ("suspend [newly imposed] controls", "lift controls [imposed in 2023]") or a verb it takes as its
 * object ("暂停[实施]出口管制", suspend implementing), and not when the two verbs are coordinated ("lifts tariffs and
 * imposes export controls").
 */
function governs(lifting: Choice, nearest: Choice, s: Located, cls: SignalClass, between: Between): boolean {
  if (lifting === nearest || nearest.entry.effects[cls] === 'de-escalation') return false;
  const participle = PARTICIPLE.test(nearest.action.text) && (!nearest.before || gap(nearest.action, s) <= 1);
  const verbObject = nearest.before && gap(lifting.action, nearest.action) === 0;
  return (participle || verbObject) && !COORDINATION.test(between(lifting.action, s));
}
