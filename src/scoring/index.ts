import { ConfigError } from '../config/errors.js';
import type { ChokepointConfig } from '../config/load.js';
import { PACKAGE_CONFIG_DIR } from '../paths.js';
import { Analyser } from './analyse.js';
import { compileLexicon } from './lexicon.js';
import { loadLexicon } from './lexicon-load.js';
import { Matcher } from './matcher.js';
import { assessWatchlist, type SourceTrust } from './score.js';
import type { AssessContext, Scorer } from './types.js';
import { compileWatchlists } from './watchlists.js';

export type { Scorer } from './types.js';

/** Government domains: an item whose source id is one of these is an official record even if sources.yaml does not say so. */
const OFFICIAL_DOMAIN = /(^|\.)(gov|mil)(\.[a-z]{2})?$|\.(gov|gob|go|gc|gouv)\.[a-z]{2}$|(^|\.)europa\.eu$|(^|\.)gc\.ca$/i;

export interface ScorerInfo {
  /** Distinct patterns compiled into the automaton (aliases with their plural and joined forms). */
  patterns: number;
  terms: number;
  watchlists: number;
}

/**
 * Builds the scorer of a config: loads the built-in lexicon and the user's lexicon.yaml (extending and overriding it),
 * checks it and the watchlists against each other, and compiles one automaton for every term. Throws ConfigError
 * listing every problem. The returned scorer is pure and keeps no state between items.
 */
export function createScorer(config: Pick<ChokepointConfig, 'dir' | 'watchlists' | 'sources' | 'settings'>): Scorer & { info: ScorerInfo } {
  const settings = config.settings.scoring;
  const loaded = loadLexicon(PACKAGE_CONFIG_DIR, config.dir, process.env);
  const compiled = compileLexicon(loaded.lexicon);
  const watch = compileWatchlists(config.watchlists, compiled.lexicon, settings, config.dir);
  const issues = [...loaded.issues, ...compiled.issues, ...watch.issues];
  if (issues.length > 0) throw new ConfigError(issues);

  const lexicon = compiled.lexicon;
  const aliases = [...lexicon.aliases, ...watch.aliases];
  const matcher = new Matcher([...lexicon.terms, ...watch.terms], (i) => aliases[i]);
  const analyser = new Analyser(lexicon, matcher);
  const credibilityOf = new Map(config.sources.map((s) => [s.id, s.credibility]));
  const env = { lexicon, settings };

  const trustFor = (sourceId: string, context: AssessContext): SourceTrust => {
    const known = context.credibility ?? credibilityOf.get(sourceId);
    const credibility = known ?? (OFFICIAL_DOMAIN.test(sourceId) ? settings.credibility.officialDomains : settings.credibility.default);
    return { credibility, official: credibility >= 0.9 };
  };

  return {
    info: { patterns: matcher.patternCount, terms: matcher.terms.length, watchlists: watch.watchlists.length },
    assess(item, context = {}) {
      const analysis = analyser.analyse(item);
      const trust = trustFor(item.sourceId, context);
      return watch.watchlists.map((w) => assessWatchlist(item, analysis, w, env, trust, context));
    },
  };
}
