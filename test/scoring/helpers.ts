import { afterAll } from 'vitest';
import { type ChokepointConfig, loadConfig } from '../../src/config/load.js';
import type { Item } from '../../src/items/item.js';
import { PACKAGE_CONFIG_DIR } from '../../src/paths.js';
import { createScorer } from '../../src/scoring/index.js';
import type { Assessment, AssessContext } from '../../src/scoring/types.js';
import { writeConfigDir } from '../helpers/config-dir.js';

/** The shipped config (default watchlists, sources and lexicon); channels stay inactive without their variables. */
export function defaultConfig(): ChokepointConfig {
  return loadConfig(PACKAGE_CONFIG_DIR, {});
}

let shared: ReturnType<typeof createScorer> | undefined;
/** One scorer over the default config, built once per test file (compiling is the expensive part). */
export function defaultScorer(): ReturnType<typeof createScorer> {
  shared ??= createScorer(defaultConfig());
  return shared;
}

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.splice(0).forEach((c) => c()));

/** A config directory with the given watchlists.yaml (and extra files, e.g. lexicon.yaml), loaded. */
export function configWith(watchlists: string, files: Record<string, string> = {}): ChokepointConfig {
  const { dir, cleanup } = writeConfigDir({
    'sources.yaml': 'sources:\n  - { id: wire, kind: rss, url: "https://example.org/feed.xml", credibility: 0.5 }\n  - { id: gazette, kind: rss, url: "https://example.org/gazette.xml", credibility: 1.0 }\n',
    'channels.yaml': 'channels: []\n',
    'watchlists.yaml': watchlists,
    ...files,
  });
  cleanups.push(cleanup);
  return loadConfig(dir, {});
}

export function item(title: string, summary = '', extra: Partial<Item> = {}): Item {
  return { id: 'item-1', sourceId: 'wire', title, summary, publishedAt: null, fetchedAt: '2025-10-09T08:00:00Z', ...extra };
}

/** The assessment of one watchlist. */
export function assessFor(scorer: ReturnType<typeof createScorer>, watchlistId: string, it: Item, context?: AssessContext): Assessment {
  const found = scorer.assess(it, context).find((a) => a.watchlistId === watchlistId);
  if (!found) throw new Error(`no assessment for watchlist ${watchlistId}`);
  return found;
}

/** The strongest assessment over all watchlists (what `chokepoint score` reports on top). */
export function top(scorer: ReturnType<typeof createScorer>, it: Item, context?: AssessContext): Assessment {
  return scorer.assess(it, context).reduce((a, b) => (b.score > a.score ? b : a));
}
