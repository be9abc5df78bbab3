import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { CONCENTRATION_FILE, LEXICON_FILE } from '../scoring/lexicon-load.js';
import { CONFIG_FILES } from './schema.js';

/** The files the loader reads from a config directory: config/load.ts's and the lexicon's. */
const isConfigFile = (name: string) => Object.hasOwn(CONFIG_FILES, name) || name === CONCENTRATION_FILE || LEXICON_FILE.test(name);
/** An event about these may change what is read: the config files, and the links a Kubernetes ConfigMap swaps (`..data`). */
const mayChangeConfig = (name: string | null) => name === null || isConfigFile(name) || name.startsWith('..');
/** However often events come, a change waits at most this many settle periods. */
const MAX_SETTLES = 10;

export interface ConfigWatchOptions {
  /** How long the files must stay unchanged before a change counts (editors and `git pull` write in steps). */
  settleMs?: number;
  /** How often the files are read again whatever the events say (file systems that send none, missed events). */
  pollMs?: number;
  /** Whether to listen for file-system events at all (false: the reads every `pollMs` alone). */
  events?: boolean;
  /** Told when the directory cannot be watched for events (then only read every `pollMs`) or cannot be listed now. */
  onError?: (err: unknown, during: 'watch' | 'read') => void;
}

export interface ConfigWatch {
  close(): void;
}

/**
 * Calls `onChange` when what the config files say has changed, once it has settled: a save, a `git pull`, or Kubernetes
 * swapping a ConfigMap's `..data` link (files are read through links). The files' names and contents are compared by
 * digest, so a touch or a rewrite of the same text reloads nothing; a file that cannot be read counts by its error (a
 * reload then reports it, as the loader reads it). Events about config files wake it at once; a read every `pollMs`
 * catches what no event told. Either way a change is applied only after `settleMs` without another.
 */
export function watchConfigDir(dir: string, onChange: () => void, options: ConfigWatchOptions = {}): ConfigWatch {
  const settleMs = options.settleMs ?? 500;
  const pollMs = options.pollMs ?? 5_000;
  const onError = options.onError ?? (() => undefined);
  let last = digestOf(dir, onError);
  let settle: NodeJS.Timeout | undefined;
  let pendingSince = 0;
  let closed = false;
  const check = () => {
    settle = undefined;
    if (closed) return;
    const now = digestOf(dir, onError);
    if (now === undefined || now === last) return;
    last = now;
    onChange();
  };
  const soon = () => {
    if (closed) return;
    const now = Date.now();
    if (settle) {
      // Files that keep changing still get read: a change waits for quiet, but not for ever.
      if (now - pendingSince >= settleMs * MAX_SETTLES) return;
      clearTimeout(settle);
    } else pendingSince = now;
    settle = setTimeout(check, settleMs);
    settle.unref();
  };
  let watcher: FSWatcher | undefined;
  if (options.events !== false) {
    try {
      watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (mayChangeConfig(name === null ? null : String(name))) soon();
      });
      watcher.on('error', (err) => onError(err, 'watch'));
    } catch (err) {
      // No inotify watch left (ENOSPC), or a file system without events: the reads every pollMs still see changes.
      onError(err, 'watch');
    }
  }
  const poll = setInterval(() => {
    if (settle || closed) return;
    const now = digestOf(dir, onError);
    if (now !== undefined && now !== last) soon();
  }, pollMs);
  poll.unref();
  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      if (settle) clearTimeout(settle);
    },
  };
}

/** A digest of the config files, names and contents (or the error reading each); undefined when the directory cannot be listed. */
function digestOf(dir: string, onError: (err: unknown, during: 'read') => void): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter(isConfigFile).sort();
  } catch (err) {
    onError(err, 'read');
    return undefined;
  }
  const hash = createHash('sha256');
  for (const name of names) {
    hash.update(name).update('\0');
    try {
      hash.update(readFileSync(path.join(dir, name)));
    } catch (err) {
      // Removed between the listing and its read (an editor's swap), or unreadable: its error stands for it.
      hash.update(`\0error:${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}
