import { createHash } from 'node:crypto';
import { type FSWatcher, readdirSync, readFileSync, watch } from 'node:fs';
import path from 'node:path';

/** What a config directory is made of: the files the loader reads (YAML; JSON schemas are not config). */
const CONFIG_FILE = /\.ya?ml$/i;

export interface ConfigWatchOptions {
  /** How long the directory must stay unchanged after an event before it counts (editors write in steps). */
  settleMs?: number;
  /** How often the directory is read again whatever the events say (file systems that send none, missed events). */
  pollMs?: number;
  /** Told when the directory cannot be read or watched; the watch goes on (the next read may succeed). */
  onError?: (err: unknown) => void;
}

export interface ConfigWatch {
  close(): void;
}

/**
 * Calls `onChange` when what the config directory's YAML files say has changed, once it has settled: a save, a `git
 * pull`, or Kubernetes swapping a ConfigMap's `..data` link (files read through links). The files' names and contents
 * are compared by digest, so a touch or a rewrite of the same text reloads nothing. Events wake it at once; a read
 * every `pollMs` catches what no event told.
 */
export function watchConfigDir(dir: string, onChange: () => void, options: ConfigWatchOptions = {}): ConfigWatch {
  const settleMs = options.settleMs ?? 500;
  const pollMs = options.pollMs ?? 5_000;
  const onError = options.onError ?? (() => undefined);
  let last = digestOf(dir, onError);
  let settle: NodeJS.Timeout | undefined;
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
    if (settle) clearTimeout(settle);
    settle = setTimeout(check, settleMs);
    settle.unref();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, soon);
    watcher.on('error', onError);
  } catch (err) {
    onError(err);
  }
  const poll = setInterval(() => settle ?? check(), pollMs);
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

/** A digest of the directory's YAML files, names and contents; undefined when it cannot be read now. */
function digestOf(dir: string, onError: (err: unknown) => void): string | undefined {
  try {
    const hash = createHash('sha256');
    for (const name of readdirSync(dir).filter((n) => CONFIG_FILE.test(n)).sort()) {
      hash.update(name).update('\0').update(readFileSync(path.join(dir, name))).update('\0');
    }
    return hash.digest('hex');
  } catch (err) {
    // A file removed between the listing and its read (an editor's swap) is read again on the next event or poll.
    onError(err);
    return undefined;
  }
}
