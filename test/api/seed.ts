import { Redis } from 'ioredis';
import type { Alert, AlertItemRef } from '../../src/alerts/types.js';
import { deliveryKey } from '../../src/alerts/ids.js';
import { type ChokepointConfig, loadConfig } from '../../src/config/load.js';
import type { ApiTimeouts } from '../../src/api/app.js';
import { type RunningApi, startApiServer } from '../../src/api/server.js';
import { memoryLogger } from '../../src/log.js';
import { createStores, type Stores } from '../../src/pipeline/stores.js';
import { createQueues, type Queues } from '../../src/queue/queues.js';
import type { Level } from '../../src/scoring/types.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { cleanPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

export const TOKEN = 'test-token-0123456789abcdef';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A small but realistic config: three watchlists, five sources, two channels. */
export function configFiles(prefix: string, settings = ''): Record<string, string> {
  return {
    'sources.yaml': `sources:
  - { id: mofcom, name: MOFCOM announcements, kind: rss, url: "https://www.mofcom.example/feed.xml", credibility: 1 }
  - { id: fedreg-bis, name: "Federal Register: BIS", kind: json, preset: federal-register, url: "https://www.federalregister.example/api/v1/documents.json?conditions[agencies][]=industry-and-security-bureau", credibility: 1 }
  - { id: reuters-commodities, name: Reuters commodities, kind: rss, url: "https://feeds.reuters.example/commodities", credibility: 0.8 }
  - { id: gdelt-minerals, name: GDELT minerals, kind: json, preset: gdelt, url: "https://api.gdelt.example/api/v2/doc/doc?query=gallium", credibility: 0.5 }
  - { id: nikkei-asia, name: Nikkei Asia tech, kind: rss, url: "https://asia.nikkei.example/rss/tech", credibility: 0.7 }
`,
    'watchlists.yaml': `watchlists:
  - id: rare-earth-magnets
    name: Rare-earth magnets
    materials: [samarium, dysprosium, neodymium, terbium]
    routes: [{ channel: procurement-slack, minLevel: medium }]
  - id: critical-minerals
    name: Critical minerals
    materials: [gallium, germanium, antimony]
    routes: [{ channel: procurement-slack, minLevel: medium }, { channel: risk-webhook, minLevel: info }]
  - id: ai-chips
    name: AI chips
    products: [hbm, ai-accelerators]
    routes: [{ channel: risk-webhook, minLevel: info }]
`,
    'channels.yaml': `channels:
  - { id: procurement-slack, name: "#procurement", kind: slack, webhookUrl: "\${SLACK_WEBHOOK_URL}" }
  - { id: risk-webhook, name: Risk dashboard, kind: webhook, url: "https://risk.example/hooks/chokepoint" }
`,
    'settings.yaml': `redis: { prefix: ${prefix} }\n${settings}`,
  };
}

export interface SeededApi {
  api: RunningApi;
  url: string;
  config: ChokepointConfig;
  stores: Stores;
  queues: Queues;
  redis: Redis;
  prefix: string;
  logs: () => string[];
  close(): Promise<void>;
}

/** Starts the API on 127.0.0.1:0 over a fresh prefix, with stores and queues of its own for seeding. */
export async function startTestApi(options: { label: string; token?: string; settings?: string; host?: string; redisUrl?: string; timeouts?: Partial<ApiTimeouts> }): Promise<SeededApi> {
  const prefix = uniquePrefix(options.label);
  const { dir, cleanup } = writeConfigDir(configFiles(prefix, options.settings));
  const env: NodeJS.ProcessEnv = {
    SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0TEST/B0TEST/slack-secret-abcdef',
    REDIS_URL: options.redisUrl ?? testRedisUrl(),
    ...(options.token ? { CHOKEPOINT_API_TOKEN: options.token } : {}),
  };
  const config = loadConfig(dir, env);
  const memory = memoryLogger('debug');
  const api = await startApiServer({ config, log: memory.log, env, host: options.host ?? '127.0.0.1', port: 0, timeouts: options.timeouts });
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  const queues = createQueues(redis, config.settings);
  return {
    api,
    url: api.url,
    config,
    stores: createStores(redis, config.settings),
    queues,
    redis,
    prefix,
    logs: memory.lines,
    async close() {
      await api.close();
      await queues.close();
      redis.disconnect();
      cleanup();
      await cleanPrefix(prefix);
    },
  };
}

interface AlertSeed {
  id: string;
  watchlistId: string;
  watchlistName: string;
  level: Level;
  score: number;
  title: string;
  why: string;
  entities: string[];
  sources: string[];
  hoursAgo: number;
  direction?: Alert['direction'];
}

const ALERTS: AlertSeed[] = [
  { id: 'a-sm-ban', watchlistId: 'rare-earth-magnets', watchlistName: 'Rare-earth magnets', level: 'critical', score: 92, title: 'China bans exports of samarium and samarium-cobalt magnets to US defence contractors', why: 'An export ban on samarium (China produces about 90% of the world supply) announced by MOFCOM, in force at once, reported by 4 sources.', entities: ['samarium', 'smco magnets', 'China'], sources: ['mofcom', 'reuters-commodities', 'gdelt-minerals', 'nikkei-asia'], hoursAgo: 2 },
  { id: 'a-dy-licence', watchlistId: 'rare-earth-magnets', watchlistName: 'Rare-earth magnets', level: 'high', score: 74, title: 'Beijing adds dysprosium and terbium to export licence list; shipments held at ports', why: 'A licence requirement on dysprosium and terbium exports, announced by MOFCOM; heavy rare earths are almost all refined in China.', entities: ['dysprosium', 'terbium', 'China'], sources: ['mofcom', 'reuters-commodities'], hoursAgo: 7 },
  { id: 'a-ga-quota', watchlistId: 'critical-minerals', watchlistName: 'Critical minerals', level: 'high', score: 70, title: 'Gallium export quota cut by a third for the second half, traders say', why: 'A quota cut on gallium exports from China (98% of primary supply), reported by 2 sources.', entities: ['gallium', 'China'], sources: ['reuters-commodities', 'gdelt-minerals'], hoursAgo: 11 },
  { id: 'a-hbm-rule', watchlistId: 'ai-chips', watchlistName: 'AI chips', level: 'high', score: 68, title: 'BIS interim final rule extends license requirement to HBM2E and newer stacks', why: 'A licence requirement on high-bandwidth memory published in the Federal Register by BIS; takes effect in 30 days.', entities: ['hbm', 'US'], sources: ['fedreg-bis'], hoursAgo: 20 },
  { id: 'a-ge-price', watchlistId: 'critical-minerals', watchlistName: 'Critical minerals', level: 'medium', score: 52, title: 'Germanium prices in Rotterdam hit record as Chinese supply dries up', why: 'A price spike in germanium, reported by one outlet; China dominates refining.', entities: ['germanium'], sources: ['reuters-commodities'], hoursAgo: 26 },
  { id: 'a-nd-plant', watchlistId: 'rare-earth-magnets', watchlistName: 'Rare-earth magnets', level: 'medium', score: 48, title: 'Fire halts NdFeB magnet line at Ningbo plant for two weeks', why: 'A plant shutdown affecting neodymium magnets, reported by one outlet.', entities: ['neodymium', 'ndfeb magnets'], sources: ['nikkei-asia'], hoursAgo: 40 },
  { id: 'a-acc-entity', watchlistId: 'ai-chips', watchlistName: 'AI chips', level: 'medium', score: 45, title: 'Commerce adds 12 entities to Entity List over AI accelerator diversion', why: 'An entity listing about AI accelerators, published by BIS.', entities: ['ai accelerators'], sources: ['fedreg-bis'], hoursAgo: 55 },
  { id: 'a-sb-talks', watchlistId: 'critical-minerals', watchlistName: 'Critical minerals', level: 'low', score: 30, title: 'Antimony exporters expect licences to resume after trade talks', why: 'A possible easing of antimony export controls; hedged ("expect").', entities: ['antimony'], sources: ['gdelt-minerals'], hoursAgo: 70, direction: 'de-escalation' },
  { id: 'a-tb-analysis', watchlistId: 'rare-earth-magnets', watchlistName: 'Rare-earth magnets', level: 'info', score: 18, title: 'Analysis: what a terbium shortage would mean for EV motor makers', why: 'Analysis mentioning terbium supply risk; no new measure.', entities: ['terbium'], sources: ['nikkei-asia'], hoursAgo: 96 },
  { id: 'a-ga-lifted', watchlistId: 'critical-minerals', watchlistName: 'Critical minerals', level: 'low', score: 28, title: 'Gallium shipments to Japan resume under new licences', why: 'Licences granted for gallium exports to Japan: an easing.', entities: ['gallium', 'Japan'], sources: ['reuters-commodities'], hoursAgo: 120, direction: 'de-escalation' },
];

function itemsOf(seed: AlertSeed, now: number): AlertItemRef[] {
  return seed.sources.map((sourceId, i) => ({
    itemId: `${seed.id}-item-${i}`,
    sourceId,
    title: i === 0 ? seed.title : `${seed.title} (${sourceId})`,
    url: `https://news.example/${seed.id}/${sourceId}`,
    publishedAt: new Date(now - seed.hoursAgo * HOUR - 30 * 60_000 + i * 20 * 60_000).toISOString(),
    fetchedAt: new Date(now - seed.hoursAgo * HOUR - 25 * 60_000 + i * 20 * 60_000).toISOString(),
  }));
}

export function seedAlert(seed: AlertSeed, now: number): Alert {
  const updatedAt = new Date(now - seed.hoursAgo * HOUR).toISOString();
  const items = itemsOf(seed, now);
  return {
    id: seed.id,
    kind: 'story',
    watchlistId: seed.watchlistId,
    watchlistName: seed.watchlistName,
    storyId: `story-${seed.id}`,
    version: seed.sources.length > 2 ? 2 : 1,
    reason: seed.sources.length > 2 ? 'corroborated' : 'first',
    level: seed.level,
    score: seed.score,
    direction: seed.direction ?? 'escalation',
    title: seed.title,
    url: items[0].url,
    why: seed.why,
    entities: seed.entities,
    factors: [
      { name: 'signal', value: Math.round(seed.score * 0.8), detail: 'export-ban (title) about the material: weight 60 x field 1 x proximity 1' },
      { name: 'concentration', value: 1.2, detail: 'China ~90% of refining (USGS 2024)' },
      { name: 'credibility', value: 1.05, detail: 'source credibility 1' },
    ],
    sources: seed.sources,
    items,
    itemCount: items.length,
    history: [
      { version: 1, reason: 'first', level: seed.level, direction: seed.direction ?? 'escalation', sources: Math.min(2, seed.sources.length), itemId: items[0].itemId, at: items[0].fetchedAt },
      ...(seed.sources.length > 2 ? [{ version: 2, reason: 'corroborated' as const, level: seed.level, direction: seed.direction ?? ('escalation' as const), sources: seed.sources.length, itemId: items[2].itemId, at: updatedAt }] : []),
    ],
    firstSeenAt: items[0].fetchedAt,
    updatedAt,
  };
}

/** Risk contributions per material: [days ago, story score]. Samarium climbs over the threshold ten days ago. */
const RISK: Record<string, Array<[string, Array<[number, number]>]>> = {
  'rare-earth-magnets': [
    ['samarium', [[28, 40], [24, 35], [19, 55], [16, 60], [13, 70], [11, 80], [10, 65], [6, 45], [2, 92], [0.1, 60]]],
    ['dysprosium', [[26, 30], [21, 45], [15, 38], [9, 52], [5, 40], [0.3, 74]]],
    ['neodymium', [[22, 25], [12, 30], [1.7, 48]]],
  ],
  'critical-minerals': [
    ['gallium', [[27, 50], [23, 60], [18, 45], [8, 70], [4, 35], [0.5, 70]]],
    ['germanium', [[20, 35], [14, 40], [7, 30], [1.1, 52]]],
  ],
  'ai-chips': [['hbm', [[25, 45], [17, 55], [6, 50], [0.8, 68]]]],
};

/** Alerts, deliveries (one failed), source health (ok, unchanged, failing, degraded, never polled) and risk series. */
export async function seedAll(stores: Stores, now = Date.now()): Promise<{ alerts: Alert[]; failedKey: string }> {
  const alerts = ALERTS.map((seed) => seedAlert(seed, now));
  for (const alert of alerts) await stores.alerts.update(alert.id, async () => ({ alert, result: undefined }));

  const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR);
  for (const alert of alerts.filter((a) => a.level === 'critical' || a.level === 'high' || a.level === 'medium')) {
    const key = deliveryKey(alert.id, alert.version, 'procurement-slack');
    await stores.deliveries.recordAttempt(key, { alertId: alert.id, version: alert.version, channelId: 'procurement-slack' }, { status: 'delivered', response: 'ok', at: at(0.1) });
  }
  const failedKey = deliveryKey('a-ga-quota', 1, 'risk-webhook');
  // As the notify job records it: the send (counted as an attempt), then the verdict.
  const failedBase = { alertId: 'a-ga-quota', version: 1, channelId: 'risk-webhook' };
  const gone = { error: 'HTTP 410 Gone from risk.example: the hook was removed', errorKind: 'permanent', at: at(10) };
  await stores.deliveries.recordAttempt(failedKey, failedBase, { status: 'pending', ...gone });
  await stores.deliveries.recordAttempt(failedKey, failedBase, { status: 'failed', ...gone });

  const { sourceState } = stores;
  await sourceState.recordSuccess('mofcom', { items: 14, notModified: false, bytes: 48_000, at: at(0.2) });
  await sourceState.recordSuccess('fedreg-bis', { items: 0, notModified: true, bytes: 0, at: at(0.15), origins: ['https://www.federalregister.example'] });
  // Another source on its host drew a 429 with an hour's Retry-After: its polls are paused (the dashboard says so).
  await sourceState.holdHost?.('https://www.federalregister.example', 3_600_000);
  await sourceState.recordSuccess('reuters-commodities', { items: 32, notModified: false, bytes: 120_000, at: at(1.5) });
  await sourceState.recordFailure('reuters-commodities', Object.assign(new Error('HTTP 503 from feeds.reuters.example'), { code: 'CP_SOURCE_HTTP_STATUS' }), at(0.3));
  await sourceState.recordSuccess('gdelt-minerals', { items: 75, notModified: false, bytes: 300_000, at: at(30) });
  for (const hoursAgo of [3, 2, 1, 0.5, 0.25]) {
    await sourceState.recordFailure('gdelt-minerals', Object.assign(new Error('timed out after 30000 ms fetching api.gdelt.example'), { code: 'CP_SOURCE_TIMEOUT' }), at(hoursAgo));
  }

  for (const [watchlistId, materials] of Object.entries(RISK)) {
    for (const [material, events] of materials) {
      for (const [i, [daysAgo, score]] of events.entries()) {
        const t = now - daysAgo * DAY;
        await stores.risk.record({ watchlistId, material, storyId: `${material}-story-${i}`, score, direction: 'escalation', atMs: t, nowMs: t });
      }
    }
  }
  return { alerts, failedKey };
}

export async function getJson(url: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: response.status, body, headers: response.headers };
}
