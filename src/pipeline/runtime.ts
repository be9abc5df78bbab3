import type { Redis } from 'ioredis';
import { type ChokepointConfig, scorerOf } from '../config/load.js';
import type { ChannelConfig, SourceConfig, WatchlistConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Scorer } from '../scoring/types.js';
import { createNotifiers, type NotifierSet } from '../notifiers/registry.js';
import { createHttpClient, type HttpClient } from '../sources/http.js';

/**
 * Everything derived from one validated config: built once per (re)load and swapped whole, so a job always sees a
 * consistent set of sources, watchlists, channels, scorer and notifiers.
 */
export interface ConfigState {
  config: ChokepointConfig;
  scorer: Scorer;
  notifiers: NotifierSet;
  http: HttpClient;
  sources: ReadonlyMap<string, SourceConfig>;
  watchlists: ReadonlyMap<string, WatchlistConfig>;
  channels: ReadonlyMap<string, ChannelConfig>;
}

export function buildConfigState(config: ChokepointConfig): ConfigState {
  return {
    config,
    // Built when the config was validated (loadRunnableConfig), else now.
    scorer: scorerOf(config),
    notifiers: createNotifiers(config.channels),
    http: createHttpClient(config.settings.http),
    sources: new Map(config.sources.map((s) => [s.id, s])),
    watchlists: new Map(config.watchlists.filter((w) => w.enabled).map((w) => [w.id, w])),
    channels: new Map(config.channels.map((c) => [c.id, c])),
  };
}

/** Live state a job reads through; `state` is replaced atomically on config reload. */
export interface Runtime {
  state: ConfigState;
  log: Logger;
  redis: Redis;
  prefix: string;
  now(): Date;
}
