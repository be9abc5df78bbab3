import { mkdirSync, renameSync, rmdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConfigWatch, watchConfigDir } from '../../src/config/watch.js';
import { writeConfigDir } from '../helpers/config-dir.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function watched(files: Record<string, string>, options = { settleMs: 100, pollMs: 60_000 }) {
  const config = writeConfigDir(files);
  const changes: number[] = [];
  const watch: ConfigWatch = watchConfigDir(config.dir, () => changes.push(Date.now()), options);
  cleanups.push(() => watch.close(), config.cleanup);
  return { dir: config.dir, changes };
}

describe('watching a config directory', () => {
  it('tells once per settled change of what its YAML files say, not for touches or rewrites of the same text', async () => {
    const { dir, changes } = watched({ 'sources.yaml': 'sources: []\n', 'channels.yaml': 'channels: []\n' });
    // An editor's save in steps: two writes close together count once, after they settle.
    writeFileSync(path.join(dir, 'sources.yaml'), 'sources: [\n');
    writeFileSync(path.join(dir, 'sources.yaml'), 'sources: [ ]\n');
    await sleep(400);
    expect(changes).toHaveLength(1);
    // The same text again, and a touch: nothing to reload.
    writeFileSync(path.join(dir, 'sources.yaml'), 'sources: [ ]\n');
    utimesSync(path.join(dir, 'channels.yaml'), new Date(), new Date());
    await sleep(400);
    expect(changes).toHaveLength(1);
    // A new file is config too; a file the loader does not read is not.
    writeFileSync(path.join(dir, 'lexicon.yaml'), 'materials: []\n');
    await sleep(400);
    expect(changes).toHaveLength(2);
    writeFileSync(path.join(dir, 'notes.txt'), 'not config\n');
    await sleep(400);
    expect(changes).toHaveLength(2);
  });

  it("sees a ConfigMap's update: its files are links into a directory whose link is swapped", async () => {
    const { dir, changes } = watched({});
    // The layout Kubernetes mounts: name -> ..data/name, ..data -> ..<timestamp>, swapped by a rename.
    const version = (name: string, text: string) => {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'sources.yaml'), text);
    };
    version('..v1', 'sources: []\n');
    symlinkSync('..v1', path.join(dir, '..data'));
    symlinkSync(path.join('..data', 'sources.yaml'), path.join(dir, 'sources.yaml'));
    await sleep(400);
    expect(changes).toHaveLength(1);
    version('..v2', 'sources:\n  - { id: wire, kind: rss, url: "https://example.org/f.xml" }\n');
    symlinkSync('..v2', path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await sleep(400);
    expect(changes).toHaveLength(2);
  });

  it('goes on after a read that fails (a file that cannot be read for a moment), and sees the change after it', async () => {
    const errors: unknown[] = [];
    const config = writeConfigDir({ 'sources.yaml': 'sources: []\n' });
    const changes: number[] = [];
    const watch = watchConfigDir(config.dir, () => changes.push(1), { settleMs: 100, pollMs: 150, onError: (e) => errors.push(e) });
    cleanups.push(() => watch.close(), config.cleanup);
    mkdirSync(path.join(config.dir, 'broken.yaml')); // named like a file: its read fails
    await sleep(400);
    expect(errors.length).toBeGreaterThan(0);
    expect(changes).toHaveLength(0);
    rmdirSync(path.join(config.dir, 'broken.yaml'));
    writeFileSync(path.join(config.dir, 'sources.yaml'), 'sources: [ ]\n');
    await sleep(400);
    expect(changes).toHaveLength(1);
  });
});
