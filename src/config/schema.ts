import { isIP } from 'node:net';
import { z } from 'zod';
import { validate as validateCron } from 'node-cron';
import { ROUTE_LEVELS } from '../scoring/types.js';
import { scoringSettingsSchema } from '../scoring/settings.js';

/**
 * The config files' schemas: the single source of truth for types, validation, JSON Schema and the README reference.
 * Every object is strict, so a misspelt key is an error rather than a silently ignored setting.
 */

const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-_]{0,62}$/, 'must be a slug: lowercase letters, digits, "-" or "_", at most 63 characters');

const cronExpression = z
  .string()
  .refine((expr) => validateCron(expr), { message: 'is not a valid cron expression (5 fields, or 6 with seconds)' })
  .describe('node-cron expression: "m h dom mon dow", with an optional leading seconds field.');

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'is not an IANA time zone (e.g. "Europe/Berlin", "UTC")' },
);

const httpUrl = z
  .string()
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'file:';
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute http(s) URL (or file: when http.allowFileUrls is true)' },
  );

/**
 * Extra request headers, checked as Node checks them before sending: a name must be an HTTP token, a value may hold
 * no line break or control character and nothing beyond Latin-1. Refused at send time, every retry of a send would
 * fail the same way. Messages never repeat the value (it is often a credential).
 */
const httpHeaders = z.record(
  z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: "is not a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~- only, no spaces)" }),
  z.string().refine((value) => !/[^\t\x20-\x7e\x80-\xff]/.test(value), {
    message: 'holds a line break, a control character or a character beyond Latin-1, which HTTP headers cannot carry',
  }),
);

const smtpUrl = z.string().refine(
  (value) => {
    try {
      return ['smtp:', 'smtps:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  },
  { message: 'must be an smtp:// or smtps:// URL, e.g. smtp://user:password@mail.example.org:587' },
);

/**
 * What is wrong with a Redis URL (settings.yaml redis.url or $REDIS_URL), or undefined. Never repeats the URL. With
 * `redis.cluster` the value may list several seed nodes of the cluster, comma-separated; `cluster` says whether it is.
 */
export function redisUrlProblem(value: string, cluster?: boolean): string | undefined {
  // A comma may be part of a password, so a single node's URL is never split.
  if (!cluster && /,\s*rediss?:\/\//i.test(value)) return 'lists several URLs, which only a Redis Cluster takes (settings.yaml redis.cluster: true)';
  const urls = redisSeedUrls(value, cluster === true);
  if (urls.length === 0) return 'names no node';
  // In a seed list, a comma of a password splits it: "must start with redis://" would not say why.
  const encodeCommas = cluster && urls.length > 1 ? ' (in a list of seeds, percent-encode a comma of a password as %2C)' : '';
  const parsedSeeds: URL[] = [];
  for (const [i, url] of urls.entries()) {
    const which = urls.length > 1 ? `(URL ${i + 1} of ${urls.length}) ` : '';
    if (!/^rediss?:\/\//i.test(url)) return `${which}must start with redis:// or rediss://${encodeCommas}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return `${which}is not a valid URL (redis://[user:password@]host[:port][/db]; percent-encode special characters in the password)${encodeCommas}`;
    }
    if (cluster) {
      const db = parsed.searchParams.get('db');
      if (!['', '/', '/0'].includes(parsed.pathname) || (db !== null && db !== '0')) return `${which}names database ${db ?? parsed.pathname.slice(1)}, but a Redis Cluster has only database 0`;
    }
    parsedSeeds.push(parsed);
  }
  // The cluster client connects to every node it discovers with one user, password and TLS setting: the first seed's.
  const credentials = (url: URL) => [url.protocol.toLowerCase(), url.username, url.password, url.searchParams.get('username'), url.searchParams.get('password')].join('\n');
  if (parsedSeeds.some((url) => credentials(url) !== credentials(parsedSeeds[0]!))) {
    return 'lists seeds with different schemes or credentials; a cluster client uses one user, password and TLS setting for every node: give every seed the same';
  }
  return undefined;
}

/** The URLs of a Redis URL setting: a cluster's comma-separated seed nodes, or the one node's URL as it is. */
export function redisSeedUrls(value: string, cluster: boolean): string[] {
  return cluster ? value.split(',').map((url) => url.trim()).filter(Boolean) : [value];
}

/** Range names fastify's trustProxy (proxy-addr) expands: 127/8 and ::1; 169.254/16 and fe80::/10; the private ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * Checked here rather than left to fastify, which throws on a bad entry only when the API starts: for a setting that
 * a reload does not apply, that is the next restart, long after `chokepoint validate` and the reload passed the file.
 */
function isProxyAddress(value: string): boolean {
  if (PROXY_RANGE_NAMES.includes(value)) return true;
  const [address, bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || address.includes('%') || rest.length > 0) return false;
  // proxy-addr refuses a /0 (it would throw when the API starts); `true` says "any peer" instead.
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) >= 1 && Number(bits) <= (family === 4 ? 32 : 128));
}

const proxyAddress = z.string().refine(isProxyAddress, {
  message: `must be an IP address, a CIDR ("10.0.0.0/8", "fd00::/8") or one of ${PROXY_RANGE_NAMES.join(', ')}`,
});

const trustProxy = z.union([z.boolean(), z.array(proxyAddress).min(1, 'needs at least one address (or false to trust no proxy)')], {
  // fastify 5 ignores a hop count (it cannot check who sent the headers), so accepting one would silently do nothing.
  error: (issue) =>
    typeof issue.input === 'number'
      ? "a hop count is not accepted: it cannot tell a proxy from a client that connects directly and forges the headers; list the proxy's addresses (e.g. [127.0.0.1]) instead"
      : 'must be false, true or a list of proxy addresses and CIDRs, e.g. [127.0.0.1, 10.0.0.0/8]',
});

const level = z.enum(ROUTE_LEVELS);

// ---------------------------------------------------------------------------------------------- sources.yaml

const sourceCommon = {
  id: slug.describe('Unique id; appears in logs, metrics, alerts and job ids.'),
  name: z.string().optional().describe('Display name (defaults to the id).'),
  url: httpUrl.describe('Where to fetch. ${NAME} takes an environment variable.'),
  schedule: cronExpression.default('*/15 * * * *'),
  enabled: z.boolean().default(true),
  credibility: z
    .number()
    .min(0)
    .max(1)
    .default(0.6)
    .describe('How far to trust this source, 0-1: official record ~1.0, major outlet ~0.7, aggregator ~0.5.'),
  timeoutMs: z.number().int().positive().optional().describe('Total time allowed for one fetch, counted from when it gets a connection to its host; defaults to http.timeoutMs.'),
  maxBytes: z.number().int().positive().optional().describe('Body size cap after decompression; defaults to http.maxBytes (for html sources at most 2 MB: a parsed page takes ~50x its size in memory).'),
  headers: httpHeaders.optional().describe('Extra request headers (values may use ${NAME}).'),
};

const jsonMapping = z.strictObject({
  items: z.string().describe('Dot path to the array of records, e.g. "results" or "data.items".'),
  id: z.string().optional(),
  title: z.string(),
  url: z.string().optional(),
  summary: z.string().optional(),
  date: z.string().optional(),
  author: z.string().optional(),
});

export const rssSourceSchema = z.strictObject({ ...sourceCommon, kind: z.literal('rss') });

export const jsonSourceSchema = z
  .strictObject({
    ...sourceCommon,
    kind: z.literal('json'),
    preset: z.enum(['federal-register', 'gdelt']).optional().describe('A built-in mapping for a known API.'),
    mapping: jsonMapping.optional().describe('How to turn a response into items (not needed with a preset).'),
    maxPages: z.number().int().min(1).max(50).default(3).describe('Federal Register: follow next_page_url up to this many pages.'),
  })
  .refine((source) => source.preset || source.mapping, { message: 'needs either a preset or a mapping', path: ['mapping'] });

export const htmlSourceSchema = z.strictObject({
  ...sourceCommon,
  kind: z.literal('html'),
  selectors: z.strictObject({
    item: z.string().describe('CSS selector of one entry in the list.'),
    title: z.string(),
    link: z.string().optional().describe('Selector of the <a>; defaults to the title element or its first link.'),
    date: z.string().optional(),
    summary: z.string().optional(),
  }),
});

export const screeningSourceSchema = z.strictObject({
  ...sourceCommon,
  kind: z.literal('screening'),
  lists: z.array(z.string()).optional().describe('Only entries whose list name contains one of these (e.g. "Entity List").'),
});

export const sourceSchema = z.discriminatedUnion('kind', [rssSourceSchema, jsonSourceSchema, htmlSourceSchema, screeningSourceSchema]);

export const sourcesFileSchema = z.strictObject({
  sources: z.array(sourceSchema).default([]),
});

// ------------------------------------------------------------------------------------------- watchlists.yaml

const supplier = z.union([
  z.string(),
  z.strictObject({ name: z.string(), aliases: z.array(z.string()).default([]) }),
]);

export const routeSchema = z.strictObject({
  channel: slug.describe('Id of a channel in channels.yaml.'),
  minLevel: level.default('medium').describe('Alerts at or above this level go to the channel.'),
});

export const watchlistSchema = z.strictObject({
  id: slug,
  name: z.string().optional(),
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  materials: z.array(z.string()).default([]).describe('Lexicon material ids (samarium, gallium, rare-earths, ...).'),
  products: z.array(z.string()).default([]).describe('Lexicon product ids (ai-accelerators, hbm, lithography, ...).'),
  suppliers: z.array(supplier).default([]).describe('Company names; legal suffixes and punctuation are normalised.'),
  countries: z.array(z.string()).default([]).describe('ISO 3166 alpha-2 codes or lexicon country ids.'),
  keywords: z
    .array(z.string())
    .default([])
    .describe('Extra terms that count as watched entities, in any letter case, except capitals of up to four letters ("TEL", "ARM", "TI"), which match only as written and take no plural, so that Tel Aviv, arms and Ti do not count; write "^" before any other to match it only as written ("^GaN"). Lexicon alias syntax applies ({a|b}, "=", "…").'),
  exclude: z.array(z.string()).default([]).describe('Items containing any of these are never alerted for this watchlist.'),
  minLevel: level.default('info').describe('Assessments below this level are not alerts for this watchlist.'),
  weight: z.number().min(0).max(5).default(1).describe('Multiplies the score of this watchlist.'),
  routes: z.array(routeSchema).default([]),
});

export const watchlistsFileSchema = z.strictObject({
  watchlists: z.array(watchlistSchema).default([]),
});

// --------------------------------------------------------------------------------------------- channels.yaml

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day like "22:00"');

/** A channel's digest settings (exported for the closing digest: see DigestJob.closing). */
export const digestSchema = z.strictObject({
  schedule: cronExpression.describe('When to send the digest, e.g. "0 8 * * 1-5".'),
  timezone: timeZone.default('UTC'),
  immediateLevel: level.default('high').describe('Alerts at or above this level are sent at once; the rest wait for the digest.'),
  sendEmpty: z.boolean().default(false).describe('Send a digest saying "nothing new" when the window is empty.'),
  maxAlerts: z.number().int().min(1).max(500).default(100).describe('Alerts listed in one digest; the rest are counted.'),
});

const channelCommon = {
  id: slug,
  name: z.string().optional(),
  optional: z
    .boolean()
    .default(false)
    .describe('When true, a missing ${NAME} makes the channel inactive instead of a config error.'),
  throttle: z
    .strictObject({ maxPerHour: z.number().int().positive() })
    .optional()
    .describe('At most this many immediate messages in any hour; the overflow goes to the next digest (without a digest: to the next free slot). Critical alerts are never held back but count.'),
  quietHours: z
    .strictObject({
      start: clock,
      end: clock,
      timezone: timeZone.default('UTC'),
      defer: z
        .enum(['end', 'digest'])
        .default('end')
        .describe('Send at the end of quiet hours, or in the next digest (without a digest: at the end).'),
    })
    .refine((q) => q.start !== q.end, { message: 'start and end must differ', path: ['end'] })
    .optional()
    .describe('No immediate messages in this window except critical ones.'),
  digest: digestSchema.optional(),
  rateLimit: z
    .union(
      [
        z.literal(false),
        z.strictObject({
          perMinute: z.number().min(1 / 1440, 'must be at least 1/1440 (one a day)').max(60_000).describe('Messages a minute on average (fractions allowed: 0.5 is one every two minutes).'),
          burst: z.number().int().min(1).max(100).default(1).describe('Messages that may go at once after a quiet spell; the rest are spaced 60/perMinute seconds apart. A critical alert takes the earliest slot held by a waiting lower-level one (which gets its slot instead): the pace is never exceeded.'),
        }),
      ],
      { error: () => 'must be false (no pacing) or a pace such as { perMinute: 60, burst: 3 }' },
    )
    .optional()
    .describe(
      'Pace of sends to this channel, shared by every worker: { perMinute, burst } sends up to `burst` (default 1) at once, then one every 60/perMinute seconds; ' +
        'the others wait for their turn without using an attempt. Left out: the kind\'s documented limit (slack: { perMinute: 60, burst: 3 }; other kinds unpaced). ' +
        'false: no pacing. A 429 from the receiver still holds the channel until its Retry-After.',
    ),
};

export const slackChannelSchema = z.strictObject({
  ...channelCommon,
  kind: z.literal('slack'),
  webhookUrl: httpUrl.describe('Slack incoming-webhook URL (a secret: use ${NAME}).'),
});

export const emailChannelSchema = z.strictObject({
  ...channelCommon,
  kind: z.literal('email'),
  smtpUrl: smtpUrl.describe('smtp://user:pass@host:587 or smtps://...:465 (a secret: use ${NAME}).'),
  from: z.string(),
  to: z.union([z.string(), z.array(z.string()).min(1)]),
  tls: z
    .strictObject({
      rejectUnauthorized: z.boolean().default(true),
      requireTLS: z.boolean().default(false),
      servername: z.string().optional(),
    })
    .optional(),
  listId: z.string().optional().describe('List-Id header, e.g. "procurement.chokepoint.example.com".'),
});

export const webhookChannelSchema = z.strictObject({
  ...channelCommon,
  kind: z.literal('webhook'),
  url: httpUrl,
  secret: z.string().min(1, { message: 'is empty: leave it out to send unsigned' }).optional().describe('HMAC-SHA256 signing secret (use ${NAME}).'),
  headers: httpHeaders.optional(),
});

export const teamsChannelSchema = z.strictObject({
  ...channelCommon,
  kind: z.literal('teams'),
  webhookUrl: httpUrl.describe('Teams workflow ("When a Teams webhook request is received") URL; a secret.'),
});

export const channelSchema = z.discriminatedUnion('kind', [slackChannelSchema, emailChannelSchema, webhookChannelSchema, teamsChannelSchema]);

export const channelsFileSchema = z.strictObject({
  channels: z.array(channelSchema).default([]),
});

// --------------------------------------------------------------------------------------------- settings.yaml

export const settingsFileSchema = z.strictObject({
  redis: z
    .strictObject({
      url: z
        .string()
        .optional()
        .describe('Defaults to $REDIS_URL, then redis://127.0.0.1:6379. $REDIS_URL wins when set. With `cluster`, one or more seed nodes, comma-separated.'),
      cluster: z
        .boolean()
        .default(false)
        .describe('Connect as a Redis Cluster client: the URL names any node (or several, comma-separated) and the worker finds the others, follows the slot of "{prefix}" through failovers and resharding (MOVED/ASK), and spreads nothing: a deployment lives in one slot.'),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/)
        .default('chokepoint')
        .describe('Key prefix; keys are "{prefix}:..." with the prefix as Redis Cluster hash tag.'),
    })
    .superRefine((redis, ctx) => {
      const problem = redis.url === undefined ? undefined : redisUrlProblem(redis.url, redis.cluster);
      if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
    })
    .prefault({}),
  http: z
    .strictObject({
      allowPrivateAddresses: z.boolean().default(false).describe('Let sources and channels use loopback and private networks.'),
      allowFileUrls: z.boolean().default(false).describe('Let sources read file: URLs.'),
      userAgentContact: z.string().optional().describe('Contact (URL or e-mail) appended to the User-Agent.'),
      timeoutMs: z.number().int().positive().default(30_000).describe('Total time for one request, body included (a trickling server is cut here), counted from when it gets a free connection to its host; waiting for one is bounded separately (5 min, or 10 times this if longer) and fails as CP_SOURCE_HOST_BUSY. For email it bounds one send\'s SMTP exchange, counted from when the send gets a connection of the channel\'s pool (2 per channel); the wait for one is bounded the same way and fails as retryable ("no free SMTP connection ...; nothing was sent").'),
      connectTimeoutMs: z.number().int().positive().default(10_000).describe('Time to establish the connection.'),
      maxBytes: z.number().int().positive().default(10 * 1024 * 1024).describe('Body size cap, applied to the decompressed size (a gzip bomb stops early).'),
      maxRedirects: z.number().int().min(0).max(5).default(5).describe('Redirects followed; each hop is re-checked by the private-address guard.'),
      perHostConcurrency: z.number().int().positive().default(2).describe('Requests in flight to one host at a time (per worker process).'),
      perHostIntervalMs: z.number().int().min(0).default(1000).describe('Minimum time between two requests to one host (per worker process).'),
      retries: z.number().int().min(0).max(5).default(2).describe('Retries of a fetch on network errors and 5xx (never on other 4xx); the Retry-After of a 429 or 503 of up to 10 s is waited out in place; a longer one fails the poll without a retry and holds the source\'s polls, and for a 429 every request of any source to the host that answered, back until then (24 h at most).'),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level; $LOG_LEVEL wins when set.'),
    })
    .prefault({}),
  api: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Start the HTTP API, metrics and dashboard with the worker.'),
      host: z.string().default('127.0.0.1').describe('Address the API binds to; anything but loopback requires the API token.'),
      port: z.number().int().min(0).max(65535).default(8787).describe('API port (0 picks a free one).'),
      tokenEnv: z.string().default('CHOKEPOINT_API_TOKEN').describe('Environment variable holding the API bearer token.'),
      trustProxy: trustProxy
        .default(false)
        .describe(
          'Reverse proxies (nginx, Caddy, a load balancer terminating TLS) whose X-Forwarded-For and X-Forwarded-Proto are believed: ' +
            'a list of their addresses or CIDRs (or loopback, linklocal, uniquelocal), or true for any peer (only when nothing but the proxy can reach the port). ' +
            'A request they forwarded over HTTPS gets a Secure session cookie, and the log shows the client address instead of theirs. ' +
            'Off by default because any client could otherwise forge those headers; a hop count is refused for the same reason.',
        ),
    })
    .prefault({}),
  worker: z
    .strictObject({
      pollConcurrency: z.number().int().positive().default(4).describe('Poll jobs run at once per worker process (their fetches overlap; parsing and queueing a fetched feed go one feed at a time).'),
      scoreConcurrency: z.number().int().positive().default(2).describe('Score jobs (batches of up to 100 items) run at once per worker process.'),
      notifyConcurrency: z.number().int().positive().default(8).describe('Notifications sent at once per worker process.'),
      shutdownTimeoutMs: z.number().int().positive().default(7_000).describe('On SIGTERM, how long in-flight jobs may run before they are abandoned (to be retried elsewhere).'),
      pollOnStart: z.boolean().default(true).describe('Poll every source once at start instead of waiting for its first tick.'),
    })
    .prefault({}),
  retention: z
    .strictObject({
      seenDays: z.number().positive().default(30).describe('How long an item fingerprint is remembered after the last poll that listed the item.'),
      completedJobs: z.number().int().min(0).default(1000).describe('Completed jobs kept per queue.'),
      completedJobsAgeSeconds: z.number().int().positive().default(24 * 3600).describe('Completed jobs older than this are removed.'),
      failedJobs: z.number().int().min(0).default(5000).describe('Failed jobs kept per queue.'),
      failedJobsAgeSeconds: z.number().int().positive().default(14 * 24 * 3600).describe('Failed jobs older than this are removed.'),
      alertDays: z.number().positive().default(90).describe('Alerts and their deliveries are kept this long.'),
      alertCount: z.number().int().positive().default(10_000).describe('At most this many alerts are kept in the history index.'),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      attempts: z.number().int().min(1).max(100).default(20).describe('Tries per notification before it is recorded as failed.'),
      backoffMs: z.number().int().positive().default(5_000).describe('First retry delay; doubles each attempt.'),
      maxBackoffMs: z.number().int().positive().default(15 * 60_000).describe('Longest delay between two retries.'),
      maxRateLimitWaits: z.number().int().min(1).default(50).describe('429 answers tolerated per notification before giving up.'),
    })
    .prefault({})
    .describe('Retries of notifications: the defaults ride out a receiver that is down for about four hours.'),
  sources: z
    .strictObject({
      degradedAfter: z.number().int().positive().default(3).describe('Consecutive failures before a source is marked degraded.'),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      storyWindowHours: z
        .number()
        .positive()
        .default(72)
        .describe("An item may join a story whose latest item is at most this many hours older (or newer)."),
      storySimilarity: z
        .number()
        .gt(0)
        .max(1)
        .default(0.24)
        .describe('Weighted word overlap (0-1) of title and lede at which an item joins a story; higher splits more.'),
      corroborationMilestones: z
        .array(z.number().int().min(2))
        .default([3, 10])
        .describe('Distinct source counts at which an alert gets a follow-up ("now reported by 3 sources").'),
    })
    .prefault({}),
  riskIndex: z
    .strictObject({
      halfLifeHours: z.number().positive().default(72).describe('A story adds its score to the index; the addition halves every this many hours.'),
      threshold: z.number().positive().default(150).describe('An alert is raised when a watchlist x material index rises to this value.'),
      hysteresis: z
        .number()
        .min(0)
        .max(1)
        .default(0.2)
        .describe('Re-arms only after staying this fraction below the threshold for half a half-life: no flapping.'),
      alertLevel: level.default('high').describe('Level of the alert raised when the index crosses the threshold.'),
      seriesDays: z.number().positive().max(365).default(30).describe('How long the hourly series of each index is kept.'),
    })
    .prefault({}),
  scoring: scoringSettingsSchema,
});

export type SourceConfig = z.infer<typeof sourceSchema>;
export type RssSourceConfig = z.infer<typeof rssSourceSchema>;
export type JsonSourceConfig = z.infer<typeof jsonSourceSchema>;
export type HtmlSourceConfig = z.infer<typeof htmlSourceSchema>;
export type ScreeningSourceConfig = z.infer<typeof screeningSourceSchema>;
export type WatchlistConfig = z.infer<typeof watchlistSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type ChannelConfig = z.infer<typeof channelSchema>;
export type SlackChannelConfig = z.infer<typeof slackChannelSchema>;
export type EmailChannelConfig = z.infer<typeof emailChannelSchema>;
export type WebhookChannelConfig = z.infer<typeof webhookChannelSchema>;
export type TeamsChannelConfig = z.infer<typeof teamsChannelSchema>;
/** A channel's pace of sends, once resolved (false and the kind defaults are settled by the notifier registry). */
export type RateLimit = Exclude<NonNullable<ChannelConfig['rateLimit']>, false>;
export type Settings = z.infer<typeof settingsFileSchema>;

export const CONFIG_FILES = {
  'sources.yaml': sourcesFileSchema,
  'watchlists.yaml': watchlistsFileSchema,
  'channels.yaml': channelsFileSchema,
  'settings.yaml': settingsFileSchema,
} as const;
