import { createHash } from 'node:crypto';
import type { Item } from './item.js';
import { featureWeights, similarity, type FeatureWeights, type MemberText } from './story-similarity.js';
import type { StoryFeatures } from './story-tokens.js';

/**
 * Stories: items that report the same event, from any outlet, within a time window. An item joins the most similar
 * story whose latest item is within the window when its similarity to one of the story's kept members reaches the
 * threshold; otherwise it starts a story. Pure: the store supplies candidates and applies the decision.
 */

/** Weighted Jaccard at or above which an item joins a story. Tuned on reworded wire headlines; see the README, "Alerts: stories". */
export const STORY_THRESHOLD = 0.24;
/** Members kept per story to compare against: the first ones define the event; more would let the story drift. */
export const MAX_STORY_MEMBERS = 8;
/** Candidates looked at per item: those sharing the most distinctive tokens (a true match shares many). */
export const MAX_CANDIDATES = 10;
/**
 * Stories consulted per token: the most recently active ones. A token as common as a material's name can be shared
 * by every story of the window, and reading all of them made each item cost in proportion to the stories of the
 * window; a story the item truly belongs to also shares its rarer tokens, whose lists are short.
 */
export const STORIES_PER_TOKEN = 50;
/** Tokens an item is indexed and looked up by (see indexTokens in the story store). */
export const INDEX_TOKENS = 12;
/** A story's own token list: its kept members' index tokens, refreshed on every join. */
export const MAX_STORY_TOKENS = MAX_STORY_MEMBERS * INDEX_TOKENS;

export interface StoryCandidate {
  id: string;
  /** As features, or each as its JSON text (readMembers). */
  members: Array<StoryFeatures | MemberText>;
}

export type StoryChoice = { kind: 'join'; storyId: string; similarity: number } | { kind: 'new'; storyId: string };

/** Deterministic: a story is named after the item that started it, so a retried job names it the same. */
export function storyIdFor(itemId: string): string {
  return `s${createHash('sha256').update(itemId).digest('hex').slice(0, 20)}`;
}

/** Similarity of an item to a story: its best match among the story's members. */
export function storySimilarity(features: StoryFeatures | FeatureWeights, story: StoryCandidate): number {
  const weights = featureWeights(features);
  let best = 0;
  for (const member of story.members) best = Math.max(best, similarity(weights, member));
  return best;
}

/** Picks the story an item belongs to; ties go to the lexically smallest id so every worker picks the same one. */
export function chooseStory(itemId: string, features: StoryFeatures | FeatureWeights, candidates: StoryCandidate[], threshold = STORY_THRESHOLD): StoryChoice {
  let best: { id: string; score: number } | undefined;
  const weights = featureWeights(features);
  for (const candidate of candidates) {
    const score = storySimilarity(weights, candidate);
    if (score < threshold) continue;
    if (!best || score > best.score || (score === best.score && candidate.id < best.id)) best = { id: candidate.id, score };
  }
  return best ? { kind: 'join', storyId: best.id, similarity: best.score } : { kind: 'new', storyId: storyIdFor(itemId) };
}

/**
 * The time an item counts at for the story window: its publication time, clamped to [now - window, now], so a
 * backfilled old item does not open a window in the past and a future-dated one does not extend it.
 */
export function storyTime(item: Pick<Item, 'publishedAt'>, now: Date, windowMs: number): number {
  const nowMs = now.getTime();
  const published = item.publishedAt ? Date.parse(item.publishedAt) : Number.NaN;
  if (!Number.isFinite(published)) return nowMs;
  return Math.min(nowMs, Math.max(nowMs - windowMs, published));
}
