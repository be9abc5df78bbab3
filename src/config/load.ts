import path from 'node:path';
import { createScorer } from '../scoring/index.js';
import { registerSecret, registerUrlCredentials } from '../secrets.js';
import { ConfigError, type ConfigIssue, closest, formatPath } from './errors.js';
import { displayPath, INACTIVE_PLACEHOLDER, readConfigFile } from './read-file.js';
import {
  type ChannelConfig,
  channelsFileSchema,
  redisSeedUrls,
  redisUrlProblem,
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

/**
 * Loads and validates the config directory. Throws ConfigError carrying every issue in every file.
 * Registers every secret it sees, valid or not, so the logger can scrub them.
 */
export function loadConfig(dir: string, env: NodeJS.ProcessEnv = process.env): ChokepointConfig {
  const file = (name: string) => path.join(dir, name);
  const issues: ConfigIssue[] = [];

  const sources = readConfigFile(file('sources.yaml'), sourcesFileSchema, env);
  const watchlists = readConfigFile(file('watchlists.yaml'), watchlistsFileSchema, env);
  const channels = readConfigFile(file('channels.yaml'), channelsFileSchema, env, {
    // A missing variable in an optional channel makes that channel inactive.
    leaveOutOnMissingEnv: (p, root) => {
      const channel = (root as { channels?: Array<{ optional?: unknown }> })?.channels?.[p[1] as number];
      return p[0] === 'channels' && typeof p[1] === 'number' && channel?.optional === true ? p.slice(0, 2) : undefined;
    },
  });
  const settings = readConfigFile(file('settings.yaml'), settingsFileSchema, env, { optional: true });
  for (const result of [sources, watchlists, channels, settings]) {
    issues.push(...result.issues);
    result.secrets.forEach(registerSecret);
  }

  const redisUrl = env.REDIS_URL || settings.data?.redis.url || DEFAULT_REDIS_URL;
  if (env.REDIS_URL) {
    const problem = redisUrlProblem(env.REDIS_URL, settings.data ? settings.data.redis.cluster : undefined);
    if (problem) issues.push({ file: '$REDIS_URL', path: '', message: problem });
  }
  for (const url of redisSeedUrls(redisUrl, settings.data?.redis.cluster === true)) registerUrlCredentials(url);

  const inactive = channels.leftOut.map(({ path: [, index], entry, missing }) => {
    const id = (entry as { id?: unknown } | undefined)?.id;
    return {
      index: index as number,
      id: typeof id === 'string' && id !== INACTIVE_PLACEHOLDER ? id : `channels[${index}]`,
      reason: `environment variable ${missing[0]} is not set`,
    };
  });

  if (sources.data && watchlists.data && channels.data) {
    issues.push(...crossCheck(dir, sources.data.sources, watchlists.data.watchlists, inFileOrder(channels.data.channels, inactive)));
  }
  if (settings.data) issues.push(...checkSettings(file('settings.yaml'), settings.data));
  if (issues.length > 0 || !sources.data || !watchlists.data || !channels.data || !settings.data) {
    throw new ConfigError(issues);
  }

  return {
    dir,
    sources: sources.data.sources,
    watchlists: watchlists.data.watchlists,
    channels: channels.data.channels,
    inactiveChannels: inactive.map(({ id, reason }) => ({ id, reason })),
    settings: settings.data,
    redisUrl,
  };
}

/**
 * loadConfig, then the checks that building the scorer makes (the lexicon files; the materials, products, countries
 * and terms of each watchlist). What a command that runs the config calls, so that these are config errors like any
 * other: reported by validate, exit 1 at start, and a refused reload.
 */
export function loadRunnableConfig(dir: string, env: NodeJS.ProcessEnv = process.env): ChokepointConfig {
  const config = loadConfig(dir, env);
  validatedScorers.set(config, createScorer(config));
  return config;
}

type BuiltScorer = ReturnType<typeof createScorer>;

// The check is the build (lexicon files read, automaton compiled): the runtime takes the scorer it produced rather
// than building it again at start and on every reload, and so runs the very lexicon that was validated.
const validatedScorers = new WeakMap<ChokepointConfig, BuiltScorer>();

/** The scorer of a config: the one loadRunnableConfig built for it, else built now (throws ConfigError). */
export function scorerOf(config: ChokepointConfig): BuiltScorer {
  return validatedScorers.get(config) ?? createScorer(config);
}

/** The ids of the active and inactive channels, in the order of channels.yaml (for duplicate checks). */
function inFileOrder(active: ChannelConfig[], inactive: Array<{ index: number; id: string }>): Array<{ id: string }> {
  const ids = active.map((c) => ({ id: c.id }));
  for (const channel of [...inactive].sort((a, b) => a.index - b.index)) ids.splice(channel.index, 0, { id: channel.id });
  return ids;
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

function crossCheck(dir: string, sources: SourceConfig[], watchlists: WatchlistConfig[], channels: Array<{ id: string }>): ConfigIssue[] {
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
  return issues;
}
