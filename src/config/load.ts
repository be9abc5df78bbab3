import path from 'node:path';
import { registerSecret } from '../secrets.js';
import { ConfigError, type ConfigIssue, closest, formatPath } from './errors.js';
import { displayPath, readConfigFile } from './read-file.js';
import {
  type ChannelConfig,
  channelsFileSchema,
  type Settings,
  settingsFileSchema,
  type SourceConfig,
  sourcesFileSchema,
  type WatchlistConfig,
  watchlistsFileSchema,
} from './schema.js';

export interface InactiveChannel {
  id: string;
  reason: string;
}

/** A validated configuration, ready to run. */
export interface ChokepointConfig {
  dir: string;
  sources: SourceConfig[];
  watchlists: WatchlistConfig[];
  /** Active channels only. */
  channels: ChannelConfig[];
  /** Channels declared optional whose environment variables are missing. */
  inactiveChannels: InactiveChannel[];
  settings: Settings;
  /** Resolved Redis URL ($REDIS_URL, then settings.redis.url, then the default). */
  redisUrl: string;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function resolveConfigDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.CHOKEPOINT_CONFIG ?? 'config');
}

// Keys whose literal values are credentials even when not written as ${NAME}.
const SECRET_KEYS = new Set(['webhookUrl', 'smtpUrl', 'secret', 'token', 'password', 'apiKey']);

/**
 * Loads and validates the config directory. Throws ConfigError carrying every issue in every file.
 * Registers every secret it sees, so the logger can scrub them.
 */
export function loadConfig(dir: string, env: NodeJS.ProcessEnv = process.env): ChokepointConfig {
  const file = (name: string) => path.join(dir, name);
  const issues: ConfigIssue[] = [];

  const sources = readConfigFile(file('sources.yaml'), sourcesFileSchema, env);
  const watchlists = readConfigFile(file('watchlists.yaml'), watchlistsFileSchema, env);
  const channels = readConfigFile(file('channels.yaml'), channelsFileSchema, env, {
    tolerateMissingEnv: (p, root) => {
      const channel = (root as { channels?: Array<{ optional?: unknown }> })?.channels?.[p[1] as number];
      return p[0] === 'channels' && typeof p[1] === 'number' && channel?.optional === true;
    },
  });
  const settings = readConfigFile(file('settings.yaml'), settingsFileSchema, env, { optional: true });
  for (const result of [sources, watchlists, channels, settings]) {
    issues.push(...result.issues);
    result.envValues.forEach(registerSecret);
  }

  const inactive = new Map<string, string>();
  for (const missing of channels.missingEnv) {
    const id = channels.data?.channels[missing.path[1] as number]?.id;
    if (id && !inactive.has(id)) inactive.set(id, `environment variable ${missing.name} is not set`);
  }

  if (sources.data && watchlists.data && channels.data) {
    issues.push(...crossCheck(dir, sources.data.sources, watchlists.data.watchlists, channels.data.channels));
  }
  if (settings.data) issues.push(...checkSettings(file('settings.yaml'), settings.data));
  if (issues.length > 0 || !sources.data || !watchlists.data || !channels.data || !settings.data) {
    throw new ConfigError(issues);
  }

  for (const channel of channels.data.channels) registerSecretsIn(channel);
  for (const source of sources.data.sources) registerSecretsIn(source);

  const redisUrl = env.REDIS_URL || settings.data.redis.url || DEFAULT_REDIS_URL;
  registerSecret(new URL(redisUrl).password || undefined);
  return {
    dir,
    sources: sources.data.sources,
    watchlists: watchlists.data.watchlists,
    channels: channels.data.channels.filter((c) => !inactive.has(c.id)),
    inactiveChannels: [...inactive].map(([id, reason]) => ({ id, reason })),
    settings: settings.data,
    redisUrl,
  };
}

function registerSecretsIn(entry: object): void {
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value === 'string' && SECRET_KEYS.has(key)) registerSecret(value);
    if (key === 'headers' && value && typeof value === 'object') Object.values(value).forEach((v) => registerSecret(String(v)));
  }
  if ('kind' in entry && entry.kind === 'webhook' && 'url' in entry) registerSecret(String(entry.url));
}

function duplicates(file: string, list: Array<{ id: string }>, key: string): ConfigIssue[] {
  const seen = new Map<string, number>();
  const issues: ConfigIssue[] = [];
  list.forEach((entry, index) => {
    const first = seen.get(entry.id);
    if (first !== undefined) {
      issues.push({ file, path: `${key}[${index}].id`, message: `duplicate id "${entry.id}" (first used at ${key}[${first}])` });
    } else seen.set(entry.id, index);
  });
  return issues;
}

function crossCheck(dir: string, sources: SourceConfig[], watchlists: WatchlistConfig[], channels: ChannelConfig[]): ConfigIssue[] {
  const sourcesFile = displayPath(path.join(dir, 'sources.yaml'));
  const watchlistsFile = displayPath(path.join(dir, 'watchlists.yaml'));
  const channelsFile = displayPath(path.join(dir, 'channels.yaml'));
  const issues = [
    ...duplicates(sourcesFile, sources, 'sources'),
    ...duplicates(watchlistsFile, watchlists, 'watchlists'),
    ...duplicates(channelsFile, channels, 'channels'),
  ];
  const known = channels.map((c) => c.id);
  watchlists.forEach((watchlist, w) => {
    watchlist.routes.forEach((route, r) => {
      if (known.includes(route.channel)) return;
      const hint = closest(route.channel, known);
      const list = known.length ? `known: ${known.join(', ')}` : 'channels.yaml defines none';
      issues.push({
        file: watchlistsFile,
        path: formatPath(['watchlists', w, 'routes', r, 'channel']),
        message: `unknown channel "${route.channel}" (${list})${hint ? `; did you mean "${hint}"?` : ''}`,
      });
    });
  });
  return issues;
}

function checkSettings(file: string, settings: Settings): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const t = settings.scoring.thresholds;
  const order = [t.info, t.low, t.medium, t.high, t.critical];
  if (order.some((value, i) => i > 0 && value <= order[i - 1])) {
    issues.push({ file: displayPath(file), path: 'scoring.thresholds', message: 'must rise strictly from info to low, medium, high and critical' });
  }
  const redisUrl = settings.redis.url;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    issues.push({ file: displayPath(file), path: 'redis.url', message: 'must start with redis:// or rediss://' });
  }
  return issues;
}
