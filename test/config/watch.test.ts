import { mkdirSync, readFileSync, renameSync, rmdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

  it('counts a config file that cannot be read by its error (a reload reports it), and its fix as a change', async () => {
    const { dir, changes } = watched({ 'sources.yaml': 'sources: []\n' });
    mkdirSync(path.join(dir, 'channels.yaml')); // named like the file: its read fails
    await sleep(400);
    expect(changes).toHaveLength(1);
    rmdirSync(path.join(dir, 'channels.yaml'));
    writeFileSync(path.join(dir, 'channels.yaml'), 'channels: []\n');
    await sleep(400);
    expect(changes).toHaveLength(2);
    // Files the loader does not read change nothing, however they are named or broken (an editor's lock file).
    symlinkSync('user@host.4242:1', path.join(dir, '.#watchlists.yaml'));
    mkdirSync(path.join(dir, 'notes.yaml'));
    await sleep(400);
    expect(changes).toHaveLength(2);
  });

  it('is not kept from a change by another file written all the time in the directory (a log)', async () => {
    const { dir, changes } = watched({ 'sources.yaml': 'sources: []\n' });
    const noise = setInterval(() => writeFileSync(path.join(dir, 'worker.log'), `${Date.now()}\n`, { flag: 'a' }), 20);
    cleanups.push(() => clearInterval(noise));
    await sleep(50);
    writeFileSync(path.join(dir, 'sources.yaml'), 'sources: [ ]\n');
    await sleep(600);
    expect(changes).toHaveLength(1);
  });

  it('without file events, sees a change by reading the files, and applies it only once it has settled', async () => {
    const config = writeConfigDir({ 'channels.yaml': 'channels: []\n', 'watchlists.yaml': 'watchlists: []\n' });
    const seen: string[] = [];
    const read = () => ['channels.yaml', 'watchlists.yaml'].map((n) => readFileSync(path.join(config.dir, n), 'utf8').includes('v2')).join();
    const watch = watchConfigDir(config.dir, () => seen.push(read()), { events: false, settleMs: 300, pollMs: 50 });
    cleanups.push(() => watch.close(), config.cleanup);
    // A deploy writes one file, then the other: the half-written set is not applied.
    writeFileSync(path.join(config.dir, 'channels.yaml'), 'channels: [] # v2\n');
    await sleep(120);
    writeFileSync(path.join(config.dir, 'watchlists.yaml'), 'watchlists: [] # v2\n');
    await sleep(800);
    expect(seen).toEqual(['true,true']);
  });
});
