import { canonicalUrl } from '../../../src/items/urls.js';
import { writeConfigDir } from '../../helpers/config-dir.js';
import { type LocalServer, rssDocument, startServer } from '../../helpers/http.js';
import { type SyntheticEntry, syntheticEntries } from '../../helpers/synthetic.js';

/**
 * Local news sources for load and crash tests: synthetic entries spread over `sources` RSS feeds and released over
 * time, as a wire would publish them. Each feed shows its newest `window` entries (like real feeds) and answers
 * conditional GETs with 304 while nothing new was released.
 */
export interface FeedFarm extends LocalServer {
  entries: SyntheticEntry[];
  /** Canonical links of the entries that must alert: one alert each. */
  alertingLinks: Set<string>;
  feedUrl(source: number): string;
  /** Releases entries at `perSecond` until all are out; resolves then. */
  releaseAll(perSecond: number): Promise<void>;
  released(): number;
  /** Feed requests served so far (304s included). */
  requests(): number;
}

export async function startFeedFarm(options: { items: number; sources: number; alertEvery: number; window?: number; tag: string }): Promise<FeedFarm> {
  const entries = syntheticEntries(options.items, { alertEvery: options.alertEvery, prefix: options.tag });
  const window = options.window ?? 500;
  let released = 0;
  let requests = 0;
  // Entry j belongs to source j % sources; a source's feed is its released entries, newest first.
  const visible = (source: number) => {
    const mine: SyntheticEntry[] = [];
    for (let j = released - 1; j >= 0 && mine.length < window; j--) if (j % options.sources === source) mine.push(entries[j]);
    return mine;
  };
  const server = await startServer((req, res) => {
    requests++;
    const source = Number(/\/feed-(\d+)\.xml/.exec(req.url ?? '')?.[1]);
    const etag = `"r${released}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag }).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/rss+xml; charset=utf-8', ETag: etag });
    res.end(rssDocument(`wire ${source}`, visible(source)));
  });
  return {
    ...server,
    entries,
    alertingLinks: new Set(entries.filter((e) => e.alerting).map((e) => canonicalUrl(e.link)!)),
    feedUrl: (source) => `${server.url}/feed-${source}.xml`,
    released: () => released,
    requests: () => requests,
    async releaseAll(perSecond) {
      const step = Math.max(1, Math.round(perSecond / 10));
      while (released < entries.length) {
        released = Math.min(entries.length, released + step);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

export interface ScenarioConfig {
  prefix: string;
  farm: FeedFarm;
  sources: number;
  /** Webhook channel id -> receiver URL. */
  channels: Record<string, string>;
  /** Cron with seconds, e.g. every 2 s. */
  schedule?: string;
  /** Extra settings.yaml lines (YAML flow mappings), e.g. `delivery: { backoffMs: 200 }`. */
  settings?: string[];
}

/**
 * A config directory for a scenario: every feed, one watchlist of the synthetic materials routed at level info to
 * every channel. The risk index is off so that every alert is one synthetic entry and counts are exact.
 */
export function writeScenarioConfig(config: ScenarioConfig): { dir: string; cleanup: () => void } {
  const schedule = config.schedule ?? '*/2 * * * * *';
  const channelIds = Object.keys(config.channels);
  return writeConfigDir({
    'sources.yaml': `sources:\n${Array.from({ length: config.sources }, (_, i) => `  - { id: feed-${i}, kind: rss, url: "${config.farm.feedUrl(i)}", schedule: "${schedule}" }`).join('\n')}\n`,
    'watchlists.yaml': `watchlists:
  - id: minerals
    keywords: [gallium, germanium, samarium, dysprosium, terbium, antimony, graphite, tungsten, neodymium, "rare earth"]
    routes: [${channelIds.map((id) => `{ channel: ${id}, minLevel: info }`).join(', ')}]
`,
    'channels.yaml': `channels:\n${channelIds.map((id) => `  - { id: ${id}, kind: webhook, url: "${config.channels[id]}" }`).join('\n')}\n`,
    'settings.yaml': [
      `redis: { prefix: ${config.prefix} }`,
      'http: { allowPrivateAddresses: true, perHostIntervalMs: 0, perHostConcurrency: 8 }',
      'api: { enabled: false }',
      'riskIndex: { threshold: 1000000000 }',
      ...(config.settings ?? []),
      '',
    ].join('\n'),
  });
}
